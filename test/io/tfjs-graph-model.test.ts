// TF.js graph models against @tensorflow/tfjs-converter executing the same model.json: a hand-written GraphDef with
// every supported op, NSFWJS's converted TF-Hub MobileNetV2 (third-party, trained) on real images, and malformed graphs.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { decodeImageTensor } from '../../src/data/image.js';
import { ConfigError, FormatError } from '../../src/errors.js';
import { lowerModel } from '../../src/graph/lower.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { UnsupportedGraphOpError, decodeTfjsGraphModel } from '../../src/io/tfjs/graph-model.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import { readTfjsModelFiles } from '../../src/node/tfjs-files.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, assertClose, runCli } from '../support/helpers.js';
import { randomInput } from '../support/tfjs-reference.js';
import { FLOAT, GraphWriter, NHWC, ints, runTfjs, str, strs } from '../support/tfjs-graphs.js';
import type { GraphFiles } from '../support/tfjs-graphs.js';

enableWasmFeatures();

/** Every supported op: preprocessing, convs in every form (fused, with separate BiasAdd/BN/Relu, explicit padding, dilation), pools, heads. */
function everyOpGraph(): GraphFiles {
  const g = new GraphWriter(3);
  const bn = (prefix: string, c: number): string[] => [g.random(`${prefix}/gamma`, [c], 0.5, 1.5), g.random(`${prefix}/beta`, [c]), g.random(`${prefix}/mean`, [c], -0.3, 0.3), g.random(`${prefix}/variance`, [c], 0.5, 2)];
  let x = g.node('input', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [{ size: '-1' }, { size: '13' }, { size: '14' }, { size: '3' }] } } });
  x = g.node('pre/Mul', 'Mul', [x, g.constant('pre/scale', [], Float32Array.of(2))]);
  x = g.node('pre/Sub', 'Sub', [x, g.constant('pre/one', [], Float32Array.of(1))]);
  x = g.node('stem/pad', 'Pad', [x, g.constant('stem/paddings', [4, 2], Int32Array.from([0, 0, 1, 0, 0, 1, 0, 0]))]);
  x = g.node('stem/conv', 'Conv2D', [x, g.random('stem/filter', [3, 3, 3, 8])], { strides: ints(1, 2, 2, 1), padding: str('VALID'), data_format: NHWC, dilations: ints(1, 1, 1, 1) });
  x = g.node('stem/bias', 'BiasAdd', [x, g.random('stem/b', [8])], { data_format: NHWC });
  x = g.node('stem/relu6', 'Relu6', [x]);
  const block = x;
  let y = g.node('dw/conv', 'DepthwiseConv2dNative', [x, g.random('dw/filter', [3, 3, 8, 2])], { strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: NHWC, dilations: ints(1, 1, 1, 1) });
  y = g.node('dw/bn', 'FusedBatchNormV3', [y, ...bn('dw/bn', 16)], { epsilon: { f: 0.001 }, data_format: NHWC, is_training: { b: false }, U: FLOAT });
  y = g.node('dw/relu', 'Relu', [y]);
  y = g.node('pw/conv', '_FusedConv2D', [y, g.random('pw/filter', [1, 1, 16, 8]), g.random('pw/b', [8])], { strides: ints(1, 1, 1, 1), padding: str('VALID'), data_format: NHWC, dilations: ints(1, 1, 1, 1), fused_ops: strs('BiasAdd', 'Relu'), num_args: { i: '1' }, epsilon: { f: 0 } });
  y = g.node('dw2/conv', 'FusedDepthwiseConv2dNative', [y, g.random('dw2/filter', [3, 3, 8, 1]), g.random('dw2/b', [8])], { strides: ints(1, 1, 1, 1), padding: str('SAME'), data_format: NHWC, dilations: ints(1, 2, 2, 1), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } });
  y = g.node('res/add', 'AddV2', [y, block]);
  const explicit = g.node('explicit/conv', 'Conv2D', [y, g.random('explicit/filter', [2, 3, 8, 6])], { strides: ints(1, 2, 1, 1), padding: str('EXPLICIT'), explicit_paddings: ints(0, 0, 1, 0, 2, 1, 0, 0), data_format: NHWC, dilations: ints(1, 1, 1, 1) });
  const sig = g.node('gate/sigmoid', 'Sigmoid', [g.node('gate/add', 'Add', [explicit, g.random('gate/b', [6])])]);
  const pooledMax = g.node('pool/max', 'MaxPool', [sig], { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: str('SAME'), data_format: NHWC });
  const pooledAvg = g.node('pool/avg', 'AvgPool', [explicit], { ksize: ints(1, 3, 3, 1), strides: ints(1, 2, 2, 1), padding: str('SAME'), data_format: NHWC });
  let z = g.node('cat', 'ConcatV2', [pooledMax, pooledAvg, g.ints('cat/axis', [-1])], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  const se = g.node('se/mean', 'Mean', [z, g.ints('se/axes', [1, 2])], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } });
  z = g.node('se/scale', 'Mul', [z, g.node('se/sigmoid', 'Sigmoid', [se])]);
  z = g.node('bn2', 'FusedBatchNorm', [z, ...bn('bn2', 12)], { epsilon: { f: 1e-5 }, data_format: NHWC });
  const t = g.node('swap', 'Transpose', [z, g.ints('swap/perm', [0, 2, 1, 3])], { Tperm: { type: 'DT_INT32' } });
  const flat = g.node('flat', 'Reshape', [t, g.ints('flat/shape', [-1, 4 * 2 * 12])], { Tshape: { type: 'DT_INT32' } });
  const gap = g.node('gap', 'Mean', [z, g.ints('gap/axes', [2, 1])], { keep_dims: { b: true } });
  const squeezed = g.node('gap/squeeze', 'Squeeze', [gap], { squeeze_dims: ints(1, 2) });
  let h = g.node('fc1/matmul', 'MatMul', [flat, g.random('fc1/w', [96, 10])], { transpose_a: { b: false }, transpose_b: { b: false } });
  h = g.node('fc1/bias', 'BiasAdd', [h, g.random('fc1/b', [10])]);
  h = g.node('fc1/relu', 'Relu', [h]);
  const h2 = g.node('fc2', '_FusedMatMul', [squeezed, g.random('fc2/w', [10, 12]), g.random('fc2/b', [10])], { transpose_a: { b: false }, transpose_b: { b: true }, fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } });
  const both = g.node('heads', 'AddV2', [h, h2]);
  const probs = g.node('softmax', 'Softmax', [both]);
  g.node('Identity', 'Identity', [probs]);
  return g.files('Identity');
}

describe('TF.js graph model: a hand-written GraphDef of every supported op vs tfjs-converter', () => {
  const files = everyOpGraph();
  test('outputs match within 1e-5 on the reference backend, the lowered plan folds and fuses', async () => {
    const { model, unusedWeights, info } = decodeTfjsGraphModel(JSON.stringify(files.modelJson), files.shards, { source: 'every-op' });
    assert.deepEqual(unusedWeights, []);
    assert.equal(info.inputName, 'input');
    assert.equal(info.outputName, 'Identity');
    assert.deepEqual(info.inputShape, [-1, 13, 14, 3]);
    // the separate BiasAdd and Relu6 after stem/conv, and fc1's BiasAdd and Relu, became part of the conv and dense
    assert.equal(model.getLayer('stem/conv').config().activation, 'relu6');
    assert.equal(model.getLayer('fc1/matmul').config().activation, 'relu');
    assert.ok(!model.hasLayer('stem/bias') && !model.hasLayer('fc1/relu'));
    const x = randomInput([3, 13, 14, 3], 5);
    const expected = await runTfjs(files, x);
    assertClose(model.predict(x), expected, 1e-5, 'ours vs tfjs-converter');
    // padding merged, BN and ReLU fused; no chain: dw/conv has depth multiplier 2, which the row kernels do not stream
    const convs = lowerModel(model).steps.filter((s) => s.op === 'conv' || s.op === 'chain');
    assert.deepEqual(convs.slice(0, 2).map((s) => [s.op, ...s.layers]), [['conv', 'stem/pad', 'stem/conv'], ['conv', 'dw/conv', 'dw/bn', 'dw/relu']]);
  });

  test('the fast backend gives the same outputs within 1e-5', { skip: WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime' }, async () => {
    const { model } = decodeTfjsGraphModel(files.modelJson, files.shards);
    const x = randomInput([2, 13, 14, 3], 6);
    const engine = await WasmEngine.create(model);
    try {
      assertClose(engine.predict(x), await runTfjs(files, x), 1e-5, 'WasmEngine vs tfjs-converter');
    } finally {
      await engine.dispose();
    }
  });
});

describe('TF.js graph model: _FusedConv2D with a fused FusedBatchNorm (which tfjs-converter refuses)', () => {
  /** The same conv, BN and ReLU6 as one fused node (ours) or three nodes (tfjs runs those). */
  function convBn(fused: boolean): GraphFiles {
    const g = new GraphWriter(8);
    const x = g.node('input', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [{ size: '-1' }, { size: '9' }, { size: '7' }, { size: '5' }] } } });
    const filter = g.random('filter', [3, 3, 5, 6]);
    const stats = [g.random('gamma', [6], 0.5, 1.5), g.random('beta', [6]), g.random('mean', [6], -0.3, 0.3), g.random('variance', [6], 0.5, 2)];
    const conv = { strides: ints(1, 2, 2, 1), padding: str('SAME'), data_format: NHWC, dilations: ints(1, 1, 1, 1) };
    if (fused) g.node('out', '_FusedConv2D', [x, filter, ...stats], { ...conv, fused_ops: strs('FusedBatchNorm', 'Relu6'), num_args: { i: '4' }, epsilon: { f: 0.001 } });
    else g.node('out', 'Relu6', [g.node('bn', 'FusedBatchNormV3', [g.node('conv', 'Conv2D', [x, filter], conv), ...stats], { epsilon: { f: 0.001 }, data_format: NHWC })]);
    return g.files('out');
  }

  test('imports as conv, BN and ReLU6 (folded by the lowering) and matches tfjs on the unfused graph within 1e-5', async () => {
    const { model } = decodeTfjsGraphModel(convBn(true).modelJson, convBn(true).shards);
    assert.deepEqual(model.layers.map((l) => l.kind), ['InputLayer', 'Conv2D', 'BatchNormalization', 'ReLU6']);
    const x = randomInput([2, 9, 7, 5], 9);
    const expected = await runTfjs(convBn(false), x);
    assertClose(model.predict(x), expected, 1e-5, 'fused import vs tfjs unfused');
    assertClose(runPlanReference(lowerModel(model), x, model.outputShape), expected, 1e-5, 'lowered plan');
  });
});

describe('third-party TF.js graph model: NSFWJS MobileNetV2 "mid" (TF-Hub MobileNetV2, converter 1.7.4, uint8 weights)', () => {
  const dir = join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2-mid');
  let files: GraphFiles;
  let x: Tensor;
  let expected: Tensor;
  before(async () => {
    files = await readTfjsModelFiles(join(dir, 'model.json'));
    const samples = join(FIXTURES, '..', '..', 'data', 'fashion-mnist', 'samples');
    const images = readdirSync(samples).sort().slice(1, 3).map((f) => decodeImageTensor(readFileSync(join(samples, f)), { channels: 3, size: [224, 224], pixels: 'unit' }));
    x = new Tensor([images.length, 224, 224, 3]);
    images.forEach((image, i) => x.data.set(image.data, i * image.size));
    expected = await runTfjs(files, x);
  });

  test('runs on real images and reproduces tfjs-converter within 1e-4 (reference backend and Wasm)', async () => {
    const loaded = await loadAnyModel(dir);
    assert.equal(loaded.format, 'tfjs-graph');
    assert.deepEqual(loaded.metadata.unusedWeights, []);
    assertClose(loaded.model.predict(x), expected, 1e-4, 'reference backend');
    if (!WasmEngine.supported()) return;
    const engine = await WasmEngine.create(loaded.model);
    try {
      // every conv (fused BiasAdd + Relu6), residual add, the 7×7 AvgPool (a global pool) and the softmax run in Wasm; the input scaling does not
      assert.deepEqual(engine.coverage.fallback.map((s) => s.split(' ')[0]).sort(), ['layer', 'layer'], engine.coverage.fallback.join(', '));
      assertClose(engine.predict(x), expected, 1e-4, 'WasmEngine');
    } finally {
      await engine.dispose();
    }
  });

  test('mobilenet classify and inspect take the folder; classify keeps the model’s own softmax', async () => {
    // the first image of the batch, preprocessed as classify does (RGB, bilinear to 224, /255): tfjs's row 0
    const image = join(FIXTURES, '..', '..', 'data', 'fashion-mnist', 'samples', '0001-pullover.png');
    const reference = new Tensor([1, 5], expected.data.subarray(0, 5));
    const { code, out } = await runCli('classify', '--json', '--model', dir, image);
    assert.equal(code, 0);
    const top = (JSON.parse(out) as { results: { top: { index: number; probability: number }[] }[] }).results[0].top[0];
    const best = reference.data.indexOf(Math.max(...reference.data));
    assert.equal(top.index, best);
    assert.ok(Math.abs(top.probability - reference.data[best]) < 1e-4, `${top.probability} vs ${reference.data[best]}`);
    const inspected = await runCli('inspect', dir);
    assert.equal(inspected.code, 0);
    assert.match(inspected.out, /format: tfjs-graph/);
    assert.match(inspected.out, /_FusedConv2D":35/);
  });
});

describe('TF.js graph model: malformed and unsupported graphs are typed errors', () => {
  const base = (): GraphFiles => everyOpGraph();
  const edit = (change: (nodes: Record<string, unknown>[]) => void): GraphFiles => {
    const f = base();
    change((f.modelJson.modelTopology as { node: Record<string, unknown>[] }).node);
    return f;
  };
  const decode = (f: GraphFiles): unknown => decodeTfjsGraphModel(f.modelJson, f.shards, { source: 'bad.json' });
  const find = (nodes: Record<string, unknown>[], name: string): Record<string, unknown> => nodes.find((n) => n.name === name)!;

  test('an unsupported op names the op and the node', () => {
    const f = edit((nodes) => (find(nodes, 'gate/sigmoid').op = 'Erf'));
    assert.throws(() => decode(f), (e: unknown) => e instanceof UnsupportedGraphOpError && e.op === 'Erf' && e.nodeName === 'gate/sigmoid' && /unsupported TensorFlow op Erf in node "gate\/sigmoid"/.test(e.message));
  });

  test('unsupported uses of supported ops: NCHW, a fused LeakyRelu, training-mode BN, reading a second output', () => {
    const cases: [string, (nodes: Record<string, unknown>[]) => void, RegExp][] = [
      ['NCHW', (n) => ((find(n, 'stem/conv').attr as Record<string, unknown>).data_format = str('NCHW')), /data_format NCHW/],
      ['NCHW BiasAdd', (n) => ((find(n, 'stem/bias').attr as Record<string, unknown>).data_format = str('NCHW')), /BiasAdd in node "stem\/bias": data_format NCHW/],
      ['LeakyRelu', (n) => ((find(n, 'pw/conv').attr as Record<string, unknown>).fused_ops = strs('BiasAdd', 'LeakyRelu')), /fused activation LeakyRelu/],
      ['training', (n) => ((find(n, 'dw/bn').attr as Record<string, unknown>).is_training = { b: true }), /is_training/],
      ['output 1', (n) => ((find(n, 'dw/relu').input as string[])[0] = 'dw/bn:1'), /output 1 of node "dw\/bn"/],
    ];
    for (const [what, change, message] of cases) assert.throws(() => decode(edit(change)), (e: unknown) => e instanceof UnsupportedGraphOpError && message.test(e.message), what);
  });

  test('broken graphs: a missing input node, a cycle, a Const without its weight, duplicate names, no nodes', () => {
    assert.throws(() => decode(edit((n) => ((find(n, 'dw/relu').input as string[])[0] = 'nowhere'))), (e: unknown) => e instanceof FormatError && /reads node "nowhere"/.test(e.message));
    assert.throws(() => decode(edit((n) => ((find(n, 'stem/pad').input as string[])[0] = 'stem/relu6'))), (e: unknown) => e instanceof FormatError && /cycle/.test(e.message));
    const f = base();
    assert.equal(f.modelJson.weightsManifest[0].weights.pop()!.name, 'fc2/b');
    assert.throws(() => decode(f), (e: unknown) => e instanceof FormatError && /fc2\/b.*no weight of this name/.test(e.message));
    assert.throws(() => decode(edit((n) => n.push({ ...find(n, 'cat') }))), (e: unknown) => e instanceof FormatError && /appears twice/.test(e.message));
    const empty = base();
    empty.modelJson.modelTopology = { versions: {} };
    assert.throws(() => decode(empty), (e: unknown) => e instanceof FormatError && /no node list/.test(e.message));
  });

  test('truncated shards, lying weight shapes, bad JSON and a wrong format are FormatErrors', () => {
    const truncated = base();
    truncated.shards.set('group1-shard1of1.bin', truncated.shards.get('group1-shard1of1.bin')!.subarray(0, 100));
    assert.throws(() => decode(truncated), (e: unknown) => e instanceof FormatError && /needs \d+ bytes/.test(e.message));
    const lying = base();
    lying.modelJson.weightsManifest[0].weights.find((w) => w.name === 'pw/filter')!.shape = [1, 1, 16, 9];
    assert.throws(() => decode(lying), FormatError);
    assert.throws(() => decodeTfjsGraphModel('{"format": "graph-model", "modelTopology": ', new Map()), (e: unknown) => e instanceof FormatError && /not valid JSON/.test(e.message));
    const text = JSON.stringify(base().modelJson);
    for (let cut = 1; cut < text.length; cut += Math.ceil(text.length / 40)) assert.throws(() => decodeTfjsGraphModel(text.slice(0, cut), base().shards), FormatError, `model.json cut at ${cut}`);
    const huge = base();
    huge.modelJson.weightsManifest[0].weights[0].shape = [100000, 100000];
    assert.throws(() => decode(huge), (e: unknown) => e instanceof FormatError && /needs \d+ bytes/.test(e.message));
    assert.throws(() => decodeTfjsGraphModel({ format: 'layers-model', modelTopology: {}, weightsManifest: [] }, new Map()), FormatError);
  });

  test('an input of unknown size needs inputShape; two nodes nothing reads are two outputs (as tfjs-converter takes them) unless outputNode or the signature names one', () => {
    const open = edit((n) => ((find(n, 'input').attr as Record<string, unknown>).shape = { shape: { dim: [{ size: '-1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } }));
    assert.throws(() => decode(open), (e: unknown) => e instanceof ConfigError && /pass inputShape/.test(e.message));
    const { model } = decodeTfjsGraphModel(open.modelJson, open.shards, { inputShape: [13, 14, 3] });
    assert.deepEqual([...model.inputShape], [13, 14, 3]);
    const twoOutputs = base();
    twoOutputs.modelJson.userDefinedMetadata = {};
    (twoOutputs.modelJson.modelTopology as { node: unknown[] }).node.push({ name: 'extra', op: 'Relu', input: ['heads'] });
    const both = decodeTfjsGraphModel(twoOutputs.modelJson, twoOutputs.shards);
    assert.deepEqual(both.model.outputNames, ['Identity', 'extra']);
    assert.throws(() => both.model.predict(randomInput([1, 13, 14, 3], 1)), (e: unknown) => e instanceof ConfigError && /predictOutputs/.test(e.message));
    assert.equal(decodeTfjsGraphModel(twoOutputs.modelJson, twoOutputs.shards, { outputNode: 'extra' }).info.outputName, 'extra');
    // newer converters write the signature at the top of model.json
    twoOutputs.modelJson.signature = { outputs: { 'extra:0': { name: 'extra:0' } } };
    assert.equal(decodeTfjsGraphModel(twoOutputs.modelJson, twoOutputs.shards).info.outputName, 'extra');
  });
});
