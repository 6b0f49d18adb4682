// A really trained third-party MobileNetV2 in TF.js layers format — NSFWJS's bundled model (MIT; see
// test/fixtures/tfjs/nsfwjs-mobilenet-v2/README.md) — through our importer vs @tensorflow/tfjs-layers on real images.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { lowerModel } from '../../src/graph/lower.js';
import { decodeImageTensor } from '../../src/data/image.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { readTfjsModel, readTfjsModelFiles } from '../../src/node/tfjs-files.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import type { TfjsImport } from '../../src/io/tfjs/layers-model.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, assertClose } from '../support/helpers.js';
import { loadTfjs, ready, tf, tfl } from '../support/tfjs-reference.js';

enableWasmFeatures();
const MODEL = join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2', 'model.json');
const SAMPLES = join(FIXTURES, '..', '..', 'data', 'fashion-mnist', 'samples');
const PHOTOS = join(FIXTURES, 'data', 'images', 'good');
const SIZE = 224;

/** Real images as NSFWJS feeds them: RGB, bilinear to 224×224, pixels / 255. */
function realImages(): Tensor {
  const files = [
    ...readdirSync(SAMPLES).sort().slice(1, 2).map((f) => join(SAMPLES, f)),
    join(PHOTOS, 'bag', 'rgb.png'),
  ];
  const images = files.map((f) => decodeImageTensor(readFileSync(f), { channels: 3, size: [SIZE, SIZE], pixels: 'unit', source: f }));
  const batch = new Tensor([images.length, SIZE, SIZE, 3]);
  images.forEach((image, i) => batch.data.set(image.data, i * image.size));
  return batch;
}

/** Runs tfjs on `x` and returns the named layers' outputs. */
function tfjsOutputs(model: tfl.LayersModel, x: Tensor, names: string[]): Map<string, Tensor> {
  const probe = tfl.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
  const outs = tf.tidy(() => probe.predict(tf.tensor(x.data, [...x.shape])) as tf.Tensor[]);
  const result = new Map(names.map((n, i) => [n, new Tensor(outs[i].shape, outs[i].dataSync() as Float32Array)]));
  tf.dispose(outs);
  return result;
}

describe('third-party TF.js layers model: NSFWJS MobileNetV2 (uint8-quantized, Keras 2.2.4)', () => {
  let ours: TfjsImport;
  let reference: tfl.LayersModel;
  let x: Tensor;
  let expected: Map<string, Tensor>;
  // tfjs's pooled features, the logits of the 5-way classifier (before its softmax) and the probabilities
  before(async () => {
    await ready();
    ours = await readTfjsModel(MODEL);
    reference = await loadTfjs(await readTfjsModelFiles(MODEL));
    x = realImages();
    // tfjs has no layer for dense_3's pre-softmax values: its logits are features · kernel + bias, taken in tfjs
    const ref = tfjsOutputs(reference, x, ['flatten_1', 'dense_2', 'dense_3']);
    const [kernel, bias] = reference.getLayer('dense_3').getWeights();
    const logits = tf.tidy(() => tf.add(tf.matMul(tf.tensor(ref.get('dense_2')!.data, [...ref.get('dense_2')!.shape]), kernel), bias));
    expected = new Map([
      ['features', ref.get('flatten_1')!],
      ['logits', new Tensor(logits.shape, logits.dataSync() as Float32Array)],
      ['probabilities', ref.get('dense_3')!],
    ]);
    logits.dispose();
  });

  test('every weight of the manifest is used; the architecture is Keras MobileNetV2 plus a 3-layer head', () => {
    assert.deepEqual(ours.unusedWeights, []);
    assert.deepEqual([...ours.model.inputShape], [SIZE, SIZE, 3]);
    for (const name of ['Conv1', 'bn_Conv1', 'block_16_project_BN', 'out_relu', 'dense_1', 'dense_3']) assert.ok(ours.model.hasLayer(name), name);
    assert.equal(ours.model.layers.filter((l) => l.kind === 'DepthwiseConv2D').length, 17);
  });

  test('reference backend: features, logits and probabilities match tfjs within 1e-4 on real images', () => {
    // the importer splits dense_3's softmax into its own layer, dense_3_softmax, the model's output
    const got = ours.model.run(x, ['flatten_1', 'dense_3', 'dense_3_softmax']);
    assertClose(got.get('flatten_1')!, expected.get('features')!, 1e-4, 'pooled features');
    assertClose(got.get('dense_3')!, expected.get('logits')!, 1e-4, 'logits');
    assertClose(got.get('dense_3_softmax')!, expected.get('probabilities')!, 1e-4, 'probabilities');
    const top = (t: Tensor, i: number): number => {
      const row = [...t.data.subarray(i * 5, i * 5 + 5)];
      return row.indexOf(Math.max(...row));
    };
    for (let i = 0; i < x.shape[0]; i++) assert.equal(top(got.get('dense_3_softmax')!, i), top(expected.get('probabilities')!, i), `image ${i}: top class`);
  });

  test('the lowered plan: BN folded into the convs, the 7×7 AveragePooling2D on 7×7 a global pool; same outputs', () => {
    const plan = lowerModel(ours.model);
    assert.ok(plan.steps.every((s) => s.op !== 'affine' && s.op !== 'layer'), plan.steps.map((s) => s.op).join(' '));
    assert.equal(plan.steps.find((s) => s.layers.includes('average_pooling2d_1'))?.op, 'globalAvgPool');
    const first = new Tensor([1, SIZE, SIZE, 3], x.data.subarray(0, SIZE * SIZE * 3));
    assertClose(runPlanReference(plan, first, ours.model.outputShape), new Tensor([1, 5], expected.get('probabilities')!.data.subarray(0, 5)), 1e-4, 'lowered plan (reference kernels)');
  });

  test('fast backend (WasmEngine): same outputs within 1e-4, every step in Wasm (the 5-way softmax too)', { skip: WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime' }, async () => {
    const engine = await WasmEngine.create(ours.model);
    try {
      assert.deepEqual(engine.coverage.fallback, []);
      assertClose(engine.predict(x), expected.get('probabilities')!, 1e-4, 'WasmEngine probabilities');
    } finally {
      await engine.dispose();
    }
  });

  test('loadAnyModel reads the folder as tfjs: the same model, weight for weight', async () => {
    const loaded = await loadAnyModel(join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2'));
    assert.equal(loaded.format, 'tfjs');
    const mine = ours.model.weights();
    for (const [name, t] of loaded.model.weights()) assert.ok(t.data.every((v, i) => Object.is(v, mine.get(name)!.data[i])), name);
  });
});

