// Models from bytes, as a page gets them: decodeAnyModel with companions (TF.js shards, ONNX external data) asked
// for by path, and decodeModelFiles telling the model file among dropped files; values checked against the
// original model or worked by hand.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { decodeModelFiles, mainModelFile } from '../../src/browser/files.js';
import { FormatError } from '../../src/errors.js';
import { UnknownFormatError, decodeAnyModel, detectModelFormat, extensionOf } from '../../src/io/any-model.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { ExternalDataError } from '../../src/io/onnx/errors.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { onnxWithExternalWeights } from '../support/onnx-external.js';
import { encodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomBatch, randomiseBatchNorm, relativeError } from '../support/helpers.js';

const small = (): ReturnType<typeof mobilenetV2> => {
  const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 7, seed: 3 });
  randomiseBatchNorm(model);
  return model;
};

describe('models from bytes', () => {
  it('tells formats by magic bytes and extension, in any path style', () => {
    const model = small();
    assert.equal(detectModelFormat(encodeModelFile(model), 'm.safetensors'), 'safetensors');
    assert.equal(detectModelFormat(encodeOnnx(model), 'C:\\models\\m.onnx'), 'onnx');
    assert.equal(detectModelFormat(new TextEncoder().encode(JSON.stringify(encodeTfjsLayersModel(model).modelJson)), 'dir/model.json'), 'tfjs');
    assert.equal(detectModelFormat(readFileSync(new URL('../../models/fashion-mnist.safetensors', import.meta.url)), 'x'), 'safetensors');
    assert.throws(() => detectModelFormat(new TextEncoder().encode('GIF89a....'), 'a.bin'), (e: unknown) => e instanceof UnknownFormatError && /a\.bin: unknown model format: first bytes 47 49 46 38/.test((e as Error).message));
    assert.deepEqual(['a/b.ONNX', 'a.b/c', 'C:\\x\\m.h5', '.hidden', 'model.json'].map(extensionOf), ['.onnx', '', '.h5', '', '.json']);
  });

  it('our model file keeps its class names and preprocessing', async () => {
    const model = small();
    const bytes = encodeModelFile(model, { classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], preprocessing: { pixels: 'symmetric' } });
    const any = await decodeAnyModel({ bytes, source: 'small.safetensors' });
    assert.equal(any.format, 'model-file');
    assert.deepEqual(any.classNames, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    assert.deepEqual(any.preprocessing, { pixels: 'symmetric' });
    const x = randomBatch([2, 32, 32, 3], 4);
    assert.equal(relativeError(any.model.predict(x), model.predict(x)), 0);
  });

  it('dropped TF.js files: model.json told from its shards, shards matched by path or by name', async () => {
    const model = small();
    const { modelJson, shards } = encodeTfjsLayersModel(model, { userDefinedMetadata: { classNames: ['0', '1', '2', '3', '4', '5', '6'] } });
    const json = new TextEncoder().encode(JSON.stringify(modelJson));
    const x = randomBatch([1, 32, 32, 3], 5);
    for (const folder of ['', 'my-model/']) {
      const files = [...[...shards].map(([name, bytes]) => ({ name: folder + name, bytes })), { name: `${folder}model.json`, bytes: json }];
      const any = await decodeModelFiles(files);
      assert.equal(any.format, 'tfjs');
      assert.equal(any.classNames?.length, 7);
      assert.ok(relativeError(any.model.predict(x), model.predict(x)) <= 1e-6, `files in ${JSON.stringify(folder)}`);
    }
    const [first] = shards.keys();
    await assert.rejects(decodeModelFiles([{ name: 'model.json', bytes: json }]), (e: unknown) => e instanceof FormatError && new RegExp(`names "${first}", which was not given`).test((e as Error).message));
    await assert.rejects(decodeAnyModel({ bytes: json, source: 'model.json' }), (e: unknown) => e instanceof FormatError && /weight shard .* was not given/.test((e as Error).message));
  });

  it('ONNX external data comes through the companion reader (values by hand)', async () => {
    const weights = new Uint8Array(new Float32Array([9, 3, -2, 9]).buffer);
    const asked: string[] = [];
    const any = await decodeAnyModel({ bytes: onnxWithExternalWeights('weights/w.bin', 4, 8), source: 'mul.onnx', companion: async (path) => (asked.push(path), weights) });
    assert.deepEqual(asked, ['weights/w.bin']);
    assert.deepEqual([...any.model.predict(new Tensor([1, 2], Float32Array.from([2, 5]))).data], [6, -10]);
    await assert.rejects(decodeAnyModel({ bytes: onnxWithExternalWeights('w.bin', 0, 8), source: 'mul.onnx' }), (e: unknown) => e instanceof ExternalDataError && /external data "w\.bin" was not given/.test((e as Error).message));
    // dropped together, the data file is matched by the location's file name
    const dropped = await decodeModelFiles([{ name: 'w.bin', bytes: weights }, { name: 'mul.onnx', bytes: onnxWithExternalWeights('data/w.bin', 0, 8) }]);
    assert.deepEqual([...dropped.model.predict(new Tensor([1, 2], Float32Array.from([1, 1]))).data], [9, 3]);
  });

  it('which dropped file is the model', () => {
    const f = (name: string): { name: string; bytes: Uint8Array } => ({ name, bytes: new Uint8Array(1) });
    assert.equal(mainModelFile([f('anything')]).name, 'anything');
    assert.equal(mainModelFile([f('group1-shard1of2.bin'), f('model.json'), f('group1-shard2of2.bin')]).name, 'model.json');
    assert.equal(mainModelFile([f('w.bin'), f('m.onnx')]).name, 'm.onnx');
    assert.throws(() => mainModelFile([]), FormatError);
    assert.throws(() => mainModelFile([f('a.onnx'), f('b.onnx')]), /several \.onnx files given \(a\.onnx, b\.onnx\)/);
    assert.throws(() => mainModelFile([f('a.txt'), f('b.txt')]), /cannot tell which of a\.txt, b\.txt is the model/);
  });
});
