// Keras 3 `.keras` archives: a model built in tfjs-layers (the independent reference), written in the layout of Keras 3's
// saving_lib (config.json, metadata.json, model.weights.h5 with `layers/<snake_case class>[_k]/vars/<i>`), read back.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { FormatError, WeightsError } from '../../src/errors.js';
import { decodeKerasArchive, kerasSnakeCase } from '../../src/io/keras-h5/keras-archive.js';
import { writeStoredZip } from '../../src/io/pth/zip.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, runCli } from '../support/helpers.js';
import { toKeras3, writeKerasArchive } from '../support/keras-h5-writer.js';
import { predictTfjs, randomInput, randomizeWeights, ready, tfl } from '../support/tfjs-reference.js';

/** Two convs, two BNs and a separable conv, so Keras's per-class numbering (`conv2d_1`, …) matters. */
function archiveModel(): tfl.LayersModel {
  const L = tfl.layers;
  const x = tfl.input({ shape: [10, 11, 3], name: 'image' });
  let y = L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }).apply(x) as tfl.SymbolicTensor;
  y = L.batchNormalization({ epsilon: 1e-3, name: 'stem_bn' }).apply(y) as tfl.SymbolicTensor;
  y = L.reLU({ maxValue: 6, name: 'stem_relu' }).apply(y) as tfl.SymbolicTensor;
  let b = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' }).apply(y) as tfl.SymbolicTensor;
  b = L.batchNormalization({ epsilon: 1e-3, center: false, name: 'dw_bn' }).apply(b) as tfl.SymbolicTensor;
  y = L.add({ name: 'add' }).apply([y, b]) as tfl.SymbolicTensor;
  y = L.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', name: 'project' }).apply(y) as tfl.SymbolicTensor;
  y = L.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'sep' }).apply(y) as tfl.SymbolicTensor;
  y = L.globalAveragePooling2d({ name: 'pool' }).apply(y) as tfl.SymbolicTensor;
  y = L.dense({ units: 5, activation: 'softmax', name: 'predictions' }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'archive_model' });
}

/** Where Keras 3 puts each layer's variables, written out by hand (saving_lib's container naming). */
const PATHS: Record<string, string> = {
  stem: 'layers/conv2d',
  stem_bn: 'layers/batch_normalization',
  dw: 'layers/depthwise_conv2d',
  dw_bn: 'layers/batch_normalization_1',
  project: 'layers/conv2d_1',
  sep: 'layers/separable_conv2d',
  predictions: 'layers/dense',
};
/** Weightless layers get an empty vars group too. */
const EMPTY = ['layers/input_layer', 'layers/re_lu', 'layers/add', 'layers/global_average_pooling2d'];

async function archiveOf(reference: tfl.LayersModel, edit: (saveables: { path: string; vars: Tensor[] }[]) => void = () => {}): Promise<Uint8Array> {
  const saveables = [
    ...EMPTY.map((path) => ({ path, vars: [] as Tensor[] })),
    ...Object.entries(PATHS).map(([name, path]) => ({
      path,
      vars: reference.getLayer(name).weights.map((w) => {
        const v = w.read();
        return new Tensor(v.shape, v.dataSync() as Float32Array);
      }),
    })),
  ];
  edit(saveables);
  return writeKerasArchive({ config: toKeras3(reference.toJSON(null, false) as unknown as Record<string, unknown>), saveables });
}

describe('Keras 3 .keras archives', () => {
  let reference: tfl.LayersModel;
  let bytes: Uint8Array;
  before(async () => {
    await ready();
    reference = archiveModel();
    randomizeWeights(reference, 21);
    bytes = await archiveOf(reference);
  });

  test("Keras's to_snake_case", () => {
    assert.deepEqual(['Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'ZeroPadding2D', 'GlobalAveragePooling2D', 'InputLayer', 'SeparableConv2D', 'Dense'].map(kerasSnakeCase), ['conv2d', 'depthwise_conv2d', 'batch_normalization', 're_lu', 'zero_padding2d', 'global_average_pooling2d', 'input_layer', 'separable_conv2d', 'dense']);
  });

  test('an archive in Keras 3 layout loads and matches tfjs-layers within 1e-5', async () => {
    const { model, kerasVersion } = await decodeKerasArchive(bytes, { source: 'model.keras' });
    assert.equal(kerasVersion, '3.6.0');
    const x = randomInput([2, 10, 11, 3], 3);
    assertClose(model.predict(x), predictTfjs(reference, x), 1e-5, '.keras vs tfjs');
  });

  test('loadAnyModel and the CLI detect a .keras file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keras-archive-'));
    try {
      const path = join(dir, 'model.keras');
      writeFileSync(path, bytes);
      const loaded = await loadAnyModel(path);
      assert.equal(loaded.format, 'keras');
      const x = randomInput([1, 10, 11, 3], 4);
      assertClose(loaded.model.predict(x), predictTfjs(reference, x), 1e-5, 'loadAnyModel');
      const { code, out } = await runCli('inspect', path);
      assert.equal(code, 0);
      assert.match(out, /format: keras/);
      const input = join(dir, 'x.npy');
      const output = join(dir, 'y.npy');
      writeFileSync(input, encodeNpy(x));
      const inferred = await runCli('infer', '--model', path, '--input', input, '--output', output, '--layout', 'nhwc');
      assert.equal(inferred.code, 0, inferred.err);
      assertClose(decodeNpy(readFileSync(output)), predictTfjs(reference, x), 1e-5, 'mobilenet infer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('mobilenet convert .keras → our model file (the graph kept as its topology) still matches tfjs-layers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keras-archive-'));
    try {
      const path = join(dir, 'model.keras');
      writeFileSync(path, bytes);
      const modelFile = join(dir, 'model.safetensors');
      const converted = await runCli('convert', path, modelFile);
      assert.equal(converted.code, 0, converted.err);
      const loaded = await loadAnyModel(modelFile);
      assert.equal(loaded.format, 'model-file');
      const x = randomInput([2, 10, 11, 3], 5);
      assertClose(loaded.model.predict(x), predictTfjs(reference, x), 1e-5, '.keras → model file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('malformed archives: truncated, not a zip, entries missing, variables miscounted or misshapen', async () => {
    for (let cut = 0; cut < bytes.length; cut += Math.ceil(bytes.length / 25)) await assert.rejects(decodeKerasArchive(bytes.subarray(0, cut)), FormatError, `cut at ${cut}`);
    await assert.rejects(decodeKerasArchive(new TextEncoder().encode('not a zip at all, just text')), FormatError);
    const noWeights = writeStoredZip([{ name: 'config.json', data: new TextEncoder().encode('{}') }]);
    await assert.rejects(decodeKerasArchive(noWeights), (e: Error) => e instanceof FormatError && /no model\.weights\.h5/.test(e.message));
    const badJson = writeStoredZip([{ name: 'config.json', data: new TextEncoder().encode('{"class_name": ') }, { name: 'model.weights.h5', data: new Uint8Array(10) }]);
    await assert.rejects(decodeKerasArchive(badJson), (e: Error) => e instanceof FormatError && /config\.json is not valid JSON/.test(e.message));
    const config = new TextEncoder().encode(JSON.stringify(toKeras3(reference.toJSON(null, false) as unknown as Record<string, unknown>)));
    const garbageH5 = writeStoredZip([{ name: 'config.json', data: config }, { name: 'model.weights.h5', data: new Uint8Array(4096).fill(7) }]);
    await assert.rejects(decodeKerasArchive(garbageH5), (e: Error) => e instanceof FormatError && /model\.weights\.h5: not an HDF5 file/.test(e.message));
    const extraVar = await archiveOf(reference, (s) => s.find((x) => x.path === 'layers/conv2d')!.vars.push(new Tensor([6])));
    await assert.rejects(decodeKerasArchive(extraVar), (e: Error) => e instanceof FormatError && /layers\/conv2d\/vars holds 2 variables, layer stem has 1/.test(e.message));
    const misshapen = await archiveOf(reference, (s) => (s.find((x) => x.path === 'layers/dense')!.vars[0] = new Tensor([8, 4])));
    await assert.rejects(decodeKerasArchive(misshapen), (e: Error) => e instanceof WeightsError && /predictions\/kernel expected \[8, 5\] got \[8, 4\]/.test(e.message));
    const missing = await archiveOf(reference, (s) => s.splice(s.findIndex((x) => x.path === 'layers/separable_conv2d'), 1));
    await assert.rejects(decodeKerasArchive(missing), (e: Error) => e instanceof WeightsError && /missing 3: sep\/depthwise_kernel/.test(e.message));
  });
});
