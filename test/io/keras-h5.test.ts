// Keras H5 import: weights-only files in the Keras applications layout (MobileNetV2 α 0.35, MobileNetV1) onto
// our Keras-convention builders, and whole-model files (Keras 2 and Keras 3 configs) against tfjs-layers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { FormatError, WeightsError } from '../../src/errors.js';
import { decodeKerasH5Model, loadKerasH5Weights, readKerasH5 } from '../../src/io/keras-h5/keras-h5.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, assertClose } from '../support/helpers.js';
import { toKeras3, writeKerasH5 } from '../support/keras-h5-writer.js';
import type { KerasH5LayerSpec } from '../support/keras-h5-writer.js';
import { predictTfjs, randomInput, randomizeWeights, ready, tfl } from '../support/tfjs-reference.js';

/** Keras's `_make_divisible`, written out again here so the file's shapes do not come from the code under test. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** The weighted layers of keras-applications' `MobileNetV2(alpha)` in file order, with Keras shapes. */
function kerasMobileNetV2Layers(alpha: number, classes: number): { name: string; weights: [string, number[]][] }[] {
  const out: { name: string; weights: [string, number[]][] }[] = [];
  const bn = (name: string, c: number): void => {
    out.push({ name, weights: ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((p) => [p, [c]]) });
  };
  let channels = makeDivisible(32 * alpha);
  out.push({ name: 'Conv1', weights: [['kernel', [3, 3, 3, channels]]] });
  bn('bn_Conv1', channels);
  // (filters, stride, expansion, block_id) as mobilenet_v2.py calls _inverted_res_block
  const blocks: [number, number][] = [[16, 1], [24, 2], [24, 2], [32, 3], [32, 3], [32, 3], [64, 4], [64, 4], [64, 4], [64, 4], [96, 3], [96, 3], [96, 3], [160, 3], [160, 3], [160, 3], [320, 1]];
  blocks.forEach(([filters], id) => {
    const prefix = id === 0 ? 'expanded_conv_' : `block_${id}_`;
    const expansion = id === 0 ? 1 : 6;
    const pointwise = makeDivisible(Math.trunc(filters * alpha));
    let hidden = channels;
    if (expansion !== 1) {
      hidden = expansion * channels;
      out.push({ name: `${prefix}expand`, weights: [['kernel', [1, 1, channels, hidden]]] });
      bn(`${prefix}expand_BN`, hidden);
    }
    out.push({ name: `${prefix}depthwise`, weights: [['depthwise_kernel', [3, 3, hidden, 1]]] });
    bn(`${prefix}depthwise_BN`, hidden);
    out.push({ name: `${prefix}project`, weights: [['kernel', [1, 1, hidden, pointwise]]] });
    bn(`${prefix}project_BN`, pointwise);
    channels = pointwise;
  });
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  out.push({ name: 'Conv_1', weights: [['kernel', [1, 1, channels, last]]] });
  bn('Conv_1_bn', last);
  out.push({ name: 'Logits', weights: [['kernel', [last, classes]], ['bias', [classes]]] });
  return out;
}

/** Random values for each weight (variances positive), named as Keras 2 names them. */
function randomKerasWeights(layers: { name: string; weights: [string, number[]][] }[], seed: number): KerasH5LayerSpec[] {
  const rng = new Random(seed);
  return layers.map(({ name, weights }) => ({
    name,
    weights: weights.map(([param, shape]) => {
      const t = new Tensor(shape);
      if (param === 'moving_variance') rng.fillUniform(t.data, 0.5, 1.5);
      else if (param === 'gamma') rng.fillUniform(t.data, 0.5, 1.5);
      else rng.fillUniform(t.data, -0.3, 0.3);
      return { name: `${name}/${param}:0`, tensor: t };
    }),
  }));
}

describe('Keras H5', () => {
  before(ready);

  test('a MobileNetV2 α 0.35 weights-only file (applications layout, Dense `Logits`) loads by name into mobilenetV2 Keras', async () => {
    const layers = randomKerasWeights(kerasMobileNetV2Layers(0.35, 1000), 1);
    // weightless layers are in the file too, with empty weight_names
    const withWeightless: KerasH5LayerSpec[] = [{ name: 'input_1', weights: [] }, ...layers.slice(0, 2), { name: 'Conv1_relu', weights: [] }, ...layers.slice(2)];
    const bytes = await writeKerasH5({ layers: withWeightless, kerasVersion: '2.1.3' });
    const model = mobilenetV2({ convention: 'keras', alpha: 0.35, resolution: 64, seed: 5 });
    const loaded = await loadKerasH5Weights(model, bytes, { source: 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5' });
    assert.equal(loaded.length, model.weights().size);
    // the same weights set directly, Keras names and shapes mapped by hand
    const reference = mobilenetV2({ convention: 'keras', alpha: 0.35, resolution: 64, seed: 6 });
    const own = reference.weights();
    const direct = new Map<string, Tensor>();
    for (const layer of layers) {
      for (const w of layer.weights) {
        const param = w.name.slice(w.name.indexOf('/') + 1, -2);
        const key = `${layer.name === 'Logits' ? 'predictions' : layer.name}.${param}`;
        direct.set(key, w.tensor.reshape(own.get(key)!.shape));
      }
    }
    reference.setWeights(direct);
    const x = randomInput([1, 64, 64, 3], 2);
    assert.deepEqual(model.predict(x).data, reference.predict(x).data);
  });

  test('a MobileNetV1 weights-only file: 1×1 conv `conv_preds` fills the Dense classifier', async () => {
    const source = mobilenetV1({ convention: 'keras', alpha: 0.25, resolution: 32, classes: 10, seed: 3 });
    const rng = new Random(4);
    const layers: KerasH5LayerSpec[] = source.layers.map((layer) => ({
      name: layer.name === 'predictions' ? 'conv_preds' : layer.name,
      weights: layer.paramSpecs.map((spec) => {
        const t = layer.param(spec.name);
        rng.fillUniform(t.data, spec.name === 'moving_variance' ? 0.5 : -0.3, spec.name === 'moving_variance' ? 1.5 : 0.3);
        let shape = [...t.shape];
        if (spec.name === 'depthwise_kernel') shape = [t.shape[0], t.shape[1], t.shape[3], 1];
        if (layer.name === 'predictions' && spec.name === 'kernel') shape = [1, 1, ...t.shape];
        return { name: `${layer.name === 'predictions' ? 'conv_preds' : layer.name}/${spec.name}:0`, tensor: t.reshape(shape) };
      }),
    }));
    const bytes = await writeKerasH5({ layers });
    const model = mobilenetV1({ convention: 'keras', alpha: 0.25, resolution: 32, classes: 10, seed: 9 });
    await loadKerasH5Weights(model, bytes);
    const x = randomInput([2, 32, 32, 3], 3);
    assert.deepEqual(model.predict(x).data, source.predict(x).data);
    // a top-less model refuses the classifier unless strict is off
    const features = mobilenetV1({ convention: 'keras', alpha: 0.25, resolution: 32, includeTop: false });
    await assert.rejects(loadKerasH5Weights(features, bytes), (e: Error) => e instanceof WeightsError && /not in the model 2: conv_preds\/kernel, conv_preds\/bias/.test(e.message));
    await loadKerasH5Weights(features, bytes, { strict: false });
  });

  test('a whole-model file (Keras 2 model_config + model_weights) matches tfjs-layers built from the same config', async () => {
    const { reference, bytes } = await wholeModelFile((config) => config);
    const { model, kerasVersion } = await decodeKerasH5Model(bytes, { source: 'model.h5' });
    assert.equal(kerasVersion, '2.13.1');
    const x = randomInput([2, 12, 13, 3], 4);
    assertClose(model.predict(x), predictTfjs(reference, x), 1e-5, 'H5 model vs tfjs');
  });

  test('a whole-model file with a Keras 3 config (keras tensors in inbound nodes, batch_shape, activation objects) loads', async () => {
    const { reference, bytes } = await wholeModelFile(toKeras3, '3.3.3');
    const { model } = await decodeKerasH5Model(bytes);
    const x = randomInput([1, 12, 13, 3], 5);
    assertClose(model.predict(x), predictTfjs(reference, x), 1e-5, 'Keras 3 config vs tfjs');
  });

  test('a Sequential with a nested functional base model (weights grouped under the base model) loads', async () => {
    const { reference, bytes } = await wholeModelFile((c) => c, '2.13.1', nestedModel);
    const { model } = await decodeKerasH5Model(bytes);
    assert.ok(model.hasLayer('base_conv') && model.hasLayer('head'));
    const x = randomInput([2, 12, 13, 3], 6);
    assertClose(model.predict(x), predictTfjs(reference, x), 1e-5, 'nested model vs tfjs');
  });

  test('files h5py writes as Keras does (plain, gzip + shuffle chunks, behind a user block) read as h5py reads them', async () => {
    const dir = join(FIXTURES, 'keras-h5');
    const reference = JSON.parse(readFileSync(join(dir, 'h5py-reference.json'), 'utf8')) as {
      files: string[];
      datasets: Record<string, { shape: number[]; sum: number; first: number[] }>;
    };
    for (const file of reference.files) {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      const contents = await readKerasH5(bytes, file);
      assert.equal(contents.kerasVersion, '2.13.1', file);
      let seen = 0;
      for (const layer of contents.layers) {
        for (const { name, tensor } of layer.weights) {
          const expected = reference.datasets[`model_weights/${layer.name}/${name}`];
          assert.ok(expected, `${file}: ${layer.name}/${name} is not in h5py's listing`);
          assert.deepEqual(tensor.shape, expected.shape, `${file}: ${name}`);
          assert.deepEqual([...tensor.data.subarray(0, 4)], expected.first.map(Math.fround), `${file}: ${name}`);
          const sum = tensor.data.reduce((a, v) => a + v, 0);
          assert.ok(Math.abs(sum - expected.sum) <= 1e-6 * Math.max(1, Math.abs(expected.sum)), `${file}: ${name} sums to ${sum}, h5py ${expected.sum}`);
          seen++;
        }
      }
      assert.equal(seen, Object.keys(reference.datasets).length, file);
      const { model } = await decodeKerasH5Model(bytes, { source: file });
      assert.ok(model.hasLayer('Conv1'), file);
    }
  });

  test('malformed files give typed errors', async () => {
    await assert.rejects(readKerasH5(new Uint8Array(1000)), (e: Error) => e instanceof FormatError && /not an HDF5 file/.test(e.message));
    const { bytes } = await wholeModelFile((c) => c);
    await assert.rejects(readKerasH5(bytes.subarray(0, 800)), FormatError);
    const broken = await writeKerasH5({ layers: [], modelConfig: 'not json' });
    await assert.rejects(decodeKerasH5Model(broken), (e: Error) => e instanceof FormatError);
    const model = mobilenetV1({ convention: 'keras', alpha: 0.25, resolution: 32, classes: 10 });
    const wrong = await writeKerasH5({ layers: [{ name: 'conv1', weights: [{ name: 'conv1/kernel:0', tensor: new Tensor([3, 3, 3, 9]) }] }] });
    await assert.rejects(loadKerasH5Weights(model, wrong), (e: Error) => e instanceof WeightsError && /conv1\/kernel → conv1.kernel: expected \[3, 3, 3, 8\] got \[3, 3, 3, 9\]/.test(e.message));
  });
});

/** A small functional model in tfjs-layers, saved as Keras saves a whole model to H5 (config rewritten by `edit`). */
async function wholeModelFile(edit: (config: Record<string, unknown>) => unknown, kerasVersion = '2.13.1', build = smallModel): Promise<{ reference: tfl.LayersModel; bytes: Uint8Array }> {
  const reference = build();
  randomizeWeights(reference, 12);
  const config = reference.toJSON(null, false) as unknown as Record<string, unknown>;
  const layers: KerasH5LayerSpec[] = reference.layers.map((layer) => ({
    name: layer.name,
    weights: layer.weights.map((w) => {
      const value = w.read();
      return { name: `${w.originalName}:0`, tensor: new Tensor(value.shape, value.dataSync() as Float32Array) };
    }),
  }));
  return { reference, bytes: await writeKerasH5({ layers, modelConfig: edit(config), kerasVersion }) };
}

function smallModel(): tfl.LayersModel {
  const L = tfl.layers;
  const x = tfl.input({ shape: [12, 13, 3], name: 'input_1' });
  let y = L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'conv' }).apply(x) as tfl.SymbolicTensor;
  y = L.batchNormalization({ name: 'conv_bn' }).apply(y) as tfl.SymbolicTensor;
  y = L.reLU({ maxValue: 6, name: 'conv_relu' }).apply(y) as tfl.SymbolicTensor;
  const dw = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' }).apply(y) as tfl.SymbolicTensor;
  y = L.add({ name: 'add' }).apply([y, dw]) as tfl.SymbolicTensor;
  y = L.separableConv2d({ filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', name: 'sep' }).apply(y) as tfl.SymbolicTensor;
  y = L.globalAveragePooling2d({ name: 'pool' }).apply(y) as tfl.SymbolicTensor;
  y = L.dense({ units: 4, activation: 'softmax', name: 'predictions' }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'small' });
}

/** Transfer learning as people do it: a Sequential whose first layer is a whole functional base model. */
function nestedModel(): tfl.LayersModel {
  const L = tfl.layers;
  const x = tfl.input({ shape: [12, 13, 3], name: 'base_input' });
  let y = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'base_conv' }).apply(x) as tfl.SymbolicTensor;
  y = L.batchNormalization({ name: 'base_bn' }).apply(y) as tfl.SymbolicTensor;
  const base = tfl.model({ inputs: x, outputs: y, name: 'base_model' });
  return tfl.sequential({ layers: [base, L.globalMaxPooling2d({ name: 'pool' }), L.dense({ units: 3, name: 'head' })], name: 'transfer' });
}
