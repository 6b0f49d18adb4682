// TF.js layers-model import and export against @tensorflow/tfjs-layers: a MobileNet-like functional model with
// every supported layer type, our MobileNets through tfjs and back, and quantized weights decoded as tfjs does.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ConfigError, FormatError } from '../../src/errors.js';
import { decodeTfjsLayersModel, encodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import type { TfjsModelJson } from '../../src/io/tfjs/layers-model.js';
import { decodeWeights } from '../../src/io/tfjs/weights-manifest.js';
import type { TfjsWeightEntry } from '../../src/io/tfjs/weights-manifest.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Random } from '../../src/tensor/random.js';
import { assertClose } from '../support/helpers.js';
import { concatBytes, loadTfjs, predictTfjs, randomInput, randomizeWeights, ready, saveTfjs, tf, tfl } from '../support/tfjs-reference.js';
import type { SavedTfjs } from '../support/tfjs-reference.js';

/** Every layer type the importer handles, with 'same' and 'valid' padding, stride 2, odd sizes and two branches. */
function tfjsMobileNetLike(): tfl.LayersModel {
  const L = tfl.layers;
  const x = tfl.input({ shape: [15, 16, 3], name: 'image' });
  let y = L.zeroPadding2d({ padding: [[1, 0], [0, 1]], name: 'stem_pad' }).apply(x) as tfl.SymbolicTensor;
  y = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'stem' }).apply(y) as tfl.SymbolicTensor;
  y = L.batchNormalization({ epsilon: 1e-3, name: 'stem_bn' }).apply(y) as tfl.SymbolicTensor;
  y = L.reLU({ maxValue: 6, name: 'stem_relu' }).apply(y) as tfl.SymbolicTensor;
  const dw = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', name: 'dw' }).apply(y) as tfl.SymbolicTensor;
  y = L.conv2d({ filters: 16, kernelSize: 1, activation: 'relu6', name: 'pw' }).apply(dw) as tfl.SymbolicTensor;
  y = L.separableConv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', name: 'sep' }).apply(y) as tfl.SymbolicTensor;
  const shortcut = L.conv2d({ filters: 16, kernelSize: 1, strides: 2, padding: 'same', name: 'shortcut' }).apply(dw) as tfl.SymbolicTensor;
  y = L.add({ name: 'residual' }).apply([y, shortcut]) as tfl.SymbolicTensor;
  y = L.batchNormalization({ scale: false, epsilon: 1e-5, name: 'bn_noscale' }).apply(y) as tfl.SymbolicTensor;
  y = L.activation({ activation: 'relu', name: 'act' }).apply(y) as tfl.SymbolicTensor;
  y = L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'maxpool' }).apply(y) as tfl.SymbolicTensor;
  y = L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avgpool' }).apply(y) as tfl.SymbolicTensor;
  const flat = L.flatten({ name: 'flat' }).apply(y) as tfl.SymbolicTensor;
  const local = L.dense({ units: 12, activation: 'relu', name: 'local' }).apply(flat) as tfl.SymbolicTensor;
  const gap = L.globalAveragePooling2d({ name: 'gap' }).apply(y) as tfl.SymbolicTensor;
  const gmp = L.globalMaxPooling2d({ name: 'gmp' }).apply(y) as tfl.SymbolicTensor;
  let pooled = L.add({ name: 'pooled' }).apply([gap, gmp]) as tfl.SymbolicTensor;
  pooled = L.dense({ units: 12, name: 'global' }).apply(pooled) as tfl.SymbolicTensor;
  y = L.add({ name: 'merge' }).apply([local, pooled]) as tfl.SymbolicTensor;
  y = L.activation({ activation: 'linear', name: 'identity' }).apply(y) as tfl.SymbolicTensor;
  y = L.reshape({ targetShape: [3, 4], name: 'groups' }).apply(y) as tfl.SymbolicTensor;
  y = L.softmax({ axis: -1, name: 'group_softmax' }).apply(y) as tfl.SymbolicTensor;
  y = L.flatten({ name: 'flat2' }).apply(y) as tfl.SymbolicTensor;
  y = L.dropout({ rate: 0.25, name: 'drop' }).apply(y) as tfl.SymbolicTensor;
  y = L.dense({ units: 5, activation: 'softmax', name: 'predictions' }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'mobilenet_like' });
}

describe('TF.js layers model', () => {
  let reference: tfl.LayersModel;
  let saved: SavedTfjs;
  before(async () => {
    await ready();
    reference = tfjsMobileNetLike();
    randomizeWeights(reference, 7);
    saved = await saveTfjs(reference);
  });

  test('a functional model of every supported layer type gives tfjs outputs within 1e-5, layer names kept', () => {
    const { model, unusedWeights } = decodeTfjsLayersModel(JSON.stringify(saved.modelJson), saved.shards);
    assert.deepEqual(unusedWeights, []);
    for (const name of ['stem_pad', 'stem', 'stem_bn', 'dw', 'sep', 'sep_depthwise', 'residual', 'bn_noscale', 'maxpool', 'avgpool', 'gap', 'predictions', 'predictions_softmax']) {
      assert.ok(model.hasLayer(name), `layer ${name}`);
    }
    assert.equal(model.getLayer('stem_relu').kind, 'ReLU6');
    assert.equal(model.getLayer('stem_bn').config().epsilon, 1e-3);
    const x = randomInput([2, 15, 16, 3], 1);
    assertClose(model.predict(x), predictTfjs(reference, x), 1e-5, 'imported vs tfjs');
  });

  test('a Sequential model without an InputLayer (tfjs style) imports; ReLU(max_value 4) and sigmoid too, both ways', async () => {
    const seq = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'c' }),
        tfl.layers.reLU({ maxValue: 4, name: 'r4' }),
        tfl.layers.globalAveragePooling2d({ name: 'g' }),
        tfl.layers.dense({ units: 3, activation: 'sigmoid', name: 'd' }),
      ],
    });
    randomizeWeights(seq, 3);
    const s = await saveTfjs(seq);
    const { model } = decodeTfjsLayersModel(s.modelJson, s.shards);
    assert.equal(model.layers[0].name, 'c_input');
    assert.equal(model.getLayer('r4').kind, 'Clip');
    assert.equal(model.getLayer('d_sigmoid').kind, 'Sigmoid');
    const x = randomInput([3, 9, 9, 2], 2);
    assertClose(model.predict(x), predictTfjs(seq, x), 1e-5, 'sequential');
    const again = await loadTfjs(encodeTfjsLayersModel(model));
    assertClose(predictTfjs(again, x), model.predict(x), 1e-5, 'exported Clip and Sigmoid');
  });

  test('Concatenate and Permute import and export as tfjs-layers runs them', async () => {
    const L = tfl.layers;
    const x = tfl.input({ shape: [5, 6, 3], name: 'image' });
    const a = L.conv2d({ filters: 2, kernelSize: 1, name: 'a' }).apply(x) as tfl.SymbolicTensor;
    const joined = L.concatenate({ axis: -1, name: 'joined' }).apply([x, a]) as tfl.SymbolicTensor;
    const turned = L.permute({ dims: [3, 1, 2], name: 'turned' }).apply(joined) as tfl.SymbolicTensor;
    const rows = L.concatenate({ axis: 2, name: 'rows' }).apply([turned, turned]) as tfl.SymbolicTensor;
    const y = L.conv2d({ filters: 3, kernelSize: 2, name: 'b' }).apply(rows) as tfl.SymbolicTensor;
    const reference = tfl.model({ inputs: x, outputs: y, name: 'concat_permute' });
    randomizeWeights(reference, 4);
    const s = await saveTfjs(reference);
    const { model } = decodeTfjsLayersModel(s.modelJson, s.shards);
    assert.deepEqual([model.getLayer('joined').kind, model.getLayer('turned').kind], ['Concatenate', 'Transpose']);
    const input = randomInput([2, 5, 6, 3], 6);
    assertClose(model.predict(input), predictTfjs(reference, input), 1e-5, 'imported');
    const again = await loadTfjs(encodeTfjsLayersModel(model));
    assertClose(predictTfjs(again, input), predictTfjs(reference, input), 1e-5, 'exported');
  });

  test('a model nested as a layer (transfer learning) is inlined under its own layer names', async () => {
    const L = tfl.layers;
    const x = tfl.input({ shape: [10, 10, 3], name: 'base_input' });
    const y = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', name: 'base_dw' }).apply(x) as tfl.SymbolicTensor;
    const base = tfl.model({ inputs: x, outputs: y, name: 'base' });
    const outer = tfl.sequential({ layers: [base, L.flatten({ name: 'flat' }), L.dense({ units: 2, activation: 'softmax', name: 'head' })] });
    randomizeWeights(outer, 5);
    const s = await saveTfjs(outer);
    const { model } = decodeTfjsLayersModel(s.modelJson, s.shards);
    assert.deepEqual(model.layers.map((l) => l.name), ['base_input', 'base_dw', 'flat', 'head', 'head_softmax']);
    const input = randomInput([2, 10, 10, 3], 9);
    assertClose(model.predict(input), predictTfjs(outer, input), 1e-5, 'nested');
  });

  test('ours → TF.js → tfjs-layers → TF.js → ours is bit-exact (MobileNetV2 torchvision padding, MobileNetV1 Keras)', async () => {
    const models = [
      mobilenetV2({ alpha: 0.35, resolution: 32, classes: 7, seed: 3 }),
      mobilenetV1({ alpha: 0.25, resolution: 32, classes: 5, convention: 'keras', seed: 4, classifierActivation: 'softmax' }),
    ];
    for (const ours of models) {
      randomizeBatchNorm(ours.weights(), 11);
      const exported = encodeTfjsLayersModel(ours, { shardBytes: 40_000 });
      assert.ok(exported.shards.size > 1, 'several shards');
      const inTfjs = await loadTfjs(exported);
      const x = randomInput([2, 32, 32, 3], 5);
      const expected = ours.predict(x);
      assertClose(predictTfjs(inTfjs, x), expected, 1e-5, `${ours.name} in tfjs`);
      const resaved = await saveTfjs(inTfjs);
      const back = decodeTfjsLayersModel(JSON.parse(JSON.stringify(resaved.modelJson)), resaved.shards);
      for (const [name, t] of ours.weights()) assert.deepEqual(back.model.weights().get(name)!.data, t.data, name);
      assert.deepEqual(back.model.predict(x).data, expected.data, 'outputs bit-identical');
      assert.deepEqual(back.model.metadata, ours.metadata, 'metadata rides in userDefinedMetadata');
      inTfjs.dispose();
    }
  });

  test('ours → TF.js → ours keeps every name, weight and output bit for bit', () => {
    const ours = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 4, convention: 'keras', seed: 9 });
    const { modelJson, shards } = encodeTfjsLayersModel(ours);
    const back = decodeTfjsLayersModel(JSON.stringify(modelJson), shards).model;
    assert.deepEqual(back.layers.map((l) => l.name), ours.layers.map((l) => l.name));
    for (const [name, t] of ours.weights()) assert.deepEqual(back.weights().get(name)!.data, t.data, name);
    const x = randomInput([1, 32, 32, 3], 6);
    assert.deepEqual(back.predict(x).data, ours.predict(x).data);
  });

  test('uint8, uint16 and float16 quantized weights decode exactly as tfjs-core does, and the model matches tfjs', async () => {
    const quantized = quantize(saved);
    const ours = decodeWeights(quantized.modelJson.weightsManifest, (p) => quantized.shards.get(p)!, 'q');
    const buffer = quantized.shards.get('group1-shard1of1.bin')!;
    const specs = quantized.modelJson.weightsManifest[0].weights;
    const theirs = tf.io.decodeWeights(buffer.slice().buffer, specs as tf.io.WeightsManifestEntry[]);
    assert.deepEqual([...ours.keys()], Object.keys(theirs));
    for (const [name, t] of ours) assert.deepEqual(t.data, theirs[name].dataSync(), name);
    const kinds = new Set(specs.map((s) => s.quantization?.dtype));
    assert.deepEqual([...kinds].sort(), ['float16', 'uint16', 'uint8']);
    const { model } = decodeTfjsLayersModel(quantized.modelJson, quantized.shards);
    const inTfjs = await loadTfjs(quantized);
    const x = randomInput([2, 15, 16, 3], 8);
    assertClose(model.predict(x), predictTfjs(inTfjs, x), 1e-5, 'quantized model');
    inTfjs.dispose();
  });

  test('malformed model.json and shards give typed errors naming the problem', () => {
    const bad = (json: unknown, shards = saved.shards): (() => unknown) => () => decodeTfjsLayersModel(json, shards);
    assert.throws(bad('{"format": "layers-model"'), FormatError);
    assert.throws(bad({ ...saved.modelJson, format: 'graph-model' }), (e: Error) => e instanceof ConfigError && /a TF.js graph model, not a layers model/.test(e.message));
    const truncated = new Map([['group1-shard1of1.bin', saved.shards.get('group1-shard1of1.bin')!.subarray(0, 100)]]);
    assert.throws(bad(saved.modelJson, truncated), (e: Error) => e instanceof FormatError && /needs \d+ bytes/.test(e.message));
    const lying = structuredClone(saved.modelJson);
    lying.weightsManifest[0].weights[0].shape = [1e6, 1e6, 1e6];
    assert.throws(bad(lying), (e: Error) => e instanceof FormatError && /needs \d+ bytes/.test(e.message));
    const unknownLayer = structuredClone(saved.modelJson) as TfjsModelJson;
    const layers = (unknownLayer.modelTopology.config as { layers: { class_name: string }[] }).layers;
    layers.find((l) => l.class_name === 'Flatten')!.class_name = 'LSTM';
    assert.throws(bad(unknownLayer), (e: Error) => e instanceof ConfigError && /flat.*LSTM.*not supported/.test(e.message));
    const sigmoid = structuredClone(saved.modelJson) as TfjsModelJson;
    const act = (sigmoid.modelTopology.config as { layers: { name: string; config: Record<string, unknown> }[] }).layers.find((l) => l.name === 'act')!;
    act.config.activation = 'tanh';
    assert.throws(bad(sigmoid), (e: Error) => e instanceof ConfigError && /"act".*activation "tanh" is not supported/.test(e.message));
    // names that are Object.prototype's keys are unknown names like any other (they once reached its functions)
    for (const name of ['constructor', 'toString', '__proto__']) {
      const proto = structuredClone(saved.modelJson) as TfjsModelJson;
      const protoLayers = (proto.modelTopology.config as { layers: { name: string; class_name: string; config: Record<string, unknown> }[] }).layers;
      protoLayers.find((l) => l.class_name === 'Flatten')!.class_name = name;
      assert.throws(bad(proto), (e: Error) => e instanceof ConfigError && new RegExp(`layer class ${name} is not supported`).test(e.message), name);
      const protoAct = structuredClone(saved.modelJson) as TfjsModelJson;
      (protoAct.modelTopology.config as { layers: { name: string; config: Record<string, unknown> }[] }).layers.find((l) => l.name === 'act')!.config.activation = name;
      assert.throws(bad(protoAct), (e: Error) => e instanceof ConfigError && /activation .* is not supported/.test(e.message), name);
    }
    const missing = structuredClone(saved.modelJson);
    missing.weightsManifest[0].weights[0].name = 'renamed/kernel';
    assert.throws(bad(missing), /missing 1: stem\/kernel/);
  });
});

/** Random BatchNorm statistics, so exports carry non-default values for every parameter. */
function randomizeBatchNorm(weights: Map<string, { data: Float32Array }>, seed: number): void {
  const rng = new Random(seed);
  for (const [name, t] of weights) {
    if (name.endsWith('moving_variance')) rng.fillUniform(t.data, 0.5, 1.5);
    else if (name.endsWith('moving_mean') || name.endsWith('beta')) rng.fillUniform(t.data, -0.2, 0.2);
    else if (name.endsWith('gamma')) rng.fillUniform(t.data, 0.8, 1.2);
  }
}

/** Quantizes a saved model's float32 weights in turn to uint8, uint16 and float16, as tfjs-converter lays them out. */
function quantize(saved: SavedTfjs): SavedTfjs {
  const source = saved.shards.get('group1-shard1of1.bin')!;
  const floats = new Float32Array(source.slice().buffer);
  const chunks: Uint8Array[] = [];
  const weights: TfjsWeightEntry[] = [];
  let at = 0;
  saved.modelJson.weightsManifest[0].weights.forEach((w, i) => {
    const count = w.shape.reduce((n, d) => n * d, 1);
    const values = floats.subarray(at, at + count);
    at += count;
    const kind = (['uint8', 'uint16', 'float16'] as const)[i % 3];
    if (kind === 'float16') {
      chunks.push(new Uint8Array(Uint16Array.from(values, toHalfBits).buffer));
      weights.push({ ...w, quantization: { dtype: 'float16' } });
      return;
    }
    const levels = kind === 'uint8' ? 255 : 65535;
    const min = Math.min(...values);
    const max = Math.max(...values);
    const scale = max > min ? (max - min) / levels : 1;
    const q = Array.from(values, (v) => Math.round((v - min) / scale));
    chunks.push(kind === 'uint8' ? Uint8Array.from(q) : new Uint8Array(Uint16Array.from(q).buffer));
    weights.push({ ...w, quantization: { dtype: kind, scale, min } });
  });
  const data = concatBytes(chunks);
  return {
    modelJson: { ...saved.modelJson, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }] },
    shards: new Map([['group1-shard1of1.bin', data]]),
  };
}

/** float32 → IEEE half bits, rounding to nearest (values here are far from overflow). */
function toHalfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let mantissa = Math.round((a / 2 ** e - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | mantissa;
}
