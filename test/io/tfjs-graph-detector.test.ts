// TF Object Detection API SSD exports with post-processing cut off (raw concat/concat_1, coco-ssd's decoded outputs,
// TF's own batch decoding) against tfjs-converter running the same model.json; their ONNX export in onnxruntime-node.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { FormatError } from '../../src/errors.js';
import { UnsupportedGraphOpError, decodeTfjsGraphModel } from '../../src/io/tfjs/graph-model.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import type { Model } from '../../src/graph/model.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { ort } from '../support/onnxruntime.js';
import { assertClose } from '../support/helpers.js';
import { randomInput } from '../support/tfjs-reference.js';
import { FLOAT, GraphWriter, NHWC, ints, runTfjsOutputs, str, strs } from '../support/tfjs-graphs.js';
import type { GraphFiles } from '../support/tfjs-graphs.js';

enableWasmFeatures();

const CLASSES = 5;
/** Two feature maps (8×8 with 2 boxes per cell, 4×4 with 3): 128 + 48 anchors. */
const MAPS = [{ size: 8, boxes: 2 }, { size: 4, boxes: 3 }];
const ANCHORS = MAPS.reduce((n, m) => n + m.size * m.size * m.boxes, 0);

const conv = (stride: number): Record<string, unknown> => ({ strides: ints(1, stride, stride, 1), padding: str('SAME'), data_format: NHWC, dilations: ints(1, 1, 1, 1) });
const scalar = (g: GraphWriter, name: string, value: number): string => g.constant(name, [], Int32Array.of(value));

/**
 * The box predictor part of an SSD export: a backbone of two stride-2 convs, per map a box and a class conv, each
 * reshaped as TF writes it (to a shape packed from the batch size that Shape and StridedSlice read at run time),
 * then concatenated over maps: `concat` [N, A, 1, 4] (box codes) and `concat_1` [N, A, K + 1] (class logits).
 */
function predictor(g: GraphWriter): { boxes: string; classes: string } {
  const input = g.node('image_tensor', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [{ size: '-1' }, { size: '16' }, { size: '16' }, { size: '3' }] } } });
  const batch = g.node('Preprocessor/batch', 'StridedSlice', [g.node('Preprocessor/Shape', 'Shape', [input]), g.ints('b/begin', [0]), g.ints('b/end', [1]), g.ints('b/strides', [1])], { Index: { type: 'DT_INT32' }, shrink_axis_mask: { i: '1' } });
  const features: string[] = [];
  let x = input;
  MAPS.forEach((_, k) => {
    x = g.node(`FeatureExtractor/conv${k}`, '_FusedConv2D', [x, g.random(`fe${k}/w`, [3, 3, k === 0 ? 3 : 8, 8]), g.random(`fe${k}/b`, [8])], { ...conv(2), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } });
    features.push(x);
  });
  const boxes: string[] = [];
  const classes: string[] = [];
  MAPS.forEach(({ size, boxes: a }, k) => {
    const head = (kind: 'Box' | 'Class', depth: number): string => {
      const prefix = `BoxPredictor_${k}/${kind === 'Box' ? 'BoxEncodingPredictor' : 'ClassPredictor'}`;
      const y = g.node(`${prefix}/BiasAdd`, 'BiasAdd', [g.node(`${prefix}/Conv2D`, 'Conv2D', [features[k], g.random(`${prefix}/weights`, [1, 1, 8, a * depth])], conv(1)), g.random(`${prefix}/biases`, [a * depth])], { data_format: NHWC });
      const dims = kind === 'Box' ? [size * size * a, 1, 4] : [size * size * a, CLASSES + 1];
      const shape = g.node(`BoxPredictor_${k}/${kind}/stack`, 'Pack', [batch, ...dims.map((d, i) => scalar(g, `BoxPredictor_${k}/${kind}/stack/${i}`, d))], { N: { i: String(dims.length + 1) }, axis: { i: '0' } });
      return g.node(`BoxPredictor_${k}/${kind === 'Box' ? 'Reshape' : 'Reshape_1'}`, 'Reshape', [y, shape]);
    };
    boxes.push(head('Box', 4));
    classes.push(head('Class', CLASSES + 1));
  });
  return {
    boxes: g.node('concat', 'ConcatV2', [...boxes, scalar(g, 'concat/axis', 1)], { N: { i: '2' } }),
    classes: g.node('concat_1', 'ConcatV2', [...classes, scalar(g, 'concat_1/axis', 1)], { N: { i: '2' } }),
  };
}

/** TF's faster-RCNN box decoding against anchors ((ycenter, xcenter, h, w), as a Const) and the background slot cut from sigmoid scores. */
function postprocessor(g: GraphWriter, { boxes, classes }: { boxes: string; classes: string }): { decoded: string; scores: string } {
  const codes = g.node('Squeeze', 'Squeeze', [boxes], { squeeze_dims: ints(2) });
  const anchors = g.random('Postprocessor/anchors', [ANCHORS, 4], 0.1, 0.9);
  const [ya, xa, ha, wa] = [0, 1, 2, 3].map((i) => (i === 0 ? 'Postprocessor/Decode/unstack' : `Postprocessor/Decode/unstack:${i}`));
  g.node('Postprocessor/Decode/unstack', 'Unpack', [anchors], { num: { i: '4' }, axis: { i: '1' } });
  const f = (name: string, value: number): string => g.constant(`Postprocessor/Decode/${name}`, [], Float32Array.of(value));
  // ty, tx by StridedSlice (shrinking the last axis); th, tw by Slice and Split
  const strided = (i: number): string => g.node(`Postprocessor/Decode/strided_slice_${i}`, 'StridedSlice', [codes, g.ints(`ss${i}/begin`, [0, 0, i]), g.ints(`ss${i}/end`, [0, 0, i + 1]), g.ints(`ss${i}/strides`, [1, 1, 1])], { begin_mask: { i: '3' }, end_mask: { i: '3' }, shrink_axis_mask: { i: '4' }, Index: { type: 'DT_INT32' } });
  const sizes = g.node('Postprocessor/Decode/Slice', 'Slice', [codes, g.ints('sizes/begin', [0, 0, 2]), g.ints('sizes/size', [-1, -1, 2])], { Index: { type: 'DT_INT32' } });
  g.node('Postprocessor/Decode/split', 'Split', [scalar(g, 'split/axis', 2), sizes], { num_split: { i: '2' } });
  const [th, tw] = ['Postprocessor/Decode/split', 'Postprocessor/Decode/split:1'].map((s, i) => g.node(`Postprocessor/Decode/Squeeze_${i}`, 'Squeeze', [s], { squeeze_dims: ints(-1) }));
  const ty = g.node('Postprocessor/Decode/truediv', 'RealDiv', [strided(0), f('y_scale', 10)]);
  const tx = g.node('Postprocessor/Decode/truediv_1', 'RealDiv', [strided(1), f('x_scale', 10)]);
  const h = g.node('Postprocessor/Decode/mul', 'Mul', [g.node('Postprocessor/Decode/Exp', 'Exp', [g.node('Postprocessor/Decode/truediv_2', 'RealDiv', [th, f('h_scale', 5)])]), ha]);
  const w = g.node('Postprocessor/Decode/mul_1', 'Mul', [g.node('Postprocessor/Decode/Exp_1', 'Exp', [g.node('Postprocessor/Decode/truediv_3', 'RealDiv', [tw, f('w_scale', 5)])]), wa]);
  const yc = g.node('Postprocessor/Decode/add', 'AddV2', [g.node('Postprocessor/Decode/mul_2', 'Mul', [ty, ha]), ya]);
  const xc = g.node('Postprocessor/Decode/add_1', 'AddV2', [g.node('Postprocessor/Decode/mul_3', 'Mul', [tx, wa]), xa]);
  const halfH = g.node('Postprocessor/Decode/truediv_4', 'RealDiv', [h, f('two', 2)]);
  const halfW = g.node('Postprocessor/Decode/mul_4', 'Mul', [w, f('half', 0.5)]);
  const corners = [
    g.node('Postprocessor/Decode/sub', 'Sub', [yc, halfH]),
    g.node('Postprocessor/Decode/sub_1', 'Sub', [xc, halfW]),
    g.node('Postprocessor/Decode/add_2', 'AddV2', [yc, halfH]),
    g.node('Postprocessor/Decode/add_3', 'AddV2', [xc, halfW]),
  ];
  const stacked = g.node('Postprocessor/Decode/stack', 'Pack', corners, { N: { i: '4' }, axis: { i: '-1' } });
  const decoded = g.node('Postprocessor/ExpandDims_1', 'ExpandDims', [stacked, scalar(g, 'expand/dim', 2)], { Tdim: { type: 'DT_INT32' } });
  const converted = g.node('Postprocessor/convert_scores', 'Sigmoid', [classes]);
  const scores = g.node('Postprocessor/Slice', 'Slice', [converted, g.ints('slice/begin', [0, 0, 1]), g.ints('slice/size', [-1, -1, -1])], { Index: { type: 'DT_INT32' } });
  return { decoded, scores };
}

/**
 * TF's own post-processor (ssd_meta_arch's `_batch_decode`): anchors as corners tiled over the batch, codes and
 * anchors reshaped to [N·A, 4] (the batch folded into the rows), transposed and unstacked, decoded, stacked,
 * transposed back and reshaped to [N, A, 4].
 */
function tfPostprocessor(g: GraphWriter, { boxes, classes }: { boxes: string; classes: string }): { decoded: string; scores: string } {
  const p = (name: string): string => `Postprocessor/${name}`;
  const f = (name: string, value: number): string => g.constant(p(`Decode/${name}`), [], Float32Array.of(value));
  const codes = g.node('Squeeze', 'Squeeze', [boxes], { squeeze_dims: ints(2) });
  const batch = g.node(p('strided_slice'), 'StridedSlice', [g.node(p('Shape'), 'Shape', [codes]), g.ints('pb/begin', [0]), g.ints('pb/end', [1]), g.ints('pb/strides', [1])], { shrink_axis_mask: { i: '1' } });
  const multiples = g.node(p('Tile/multiples'), 'Pack', [batch, scalar(g, p('one_a'), 1), scalar(g, p('one_b'), 1)], { N: { i: '3' }, axis: { i: '0' } });
  const corners = g.random(p('anchors'), [ANCHORS, 4], 0.05, 0.95);
  const tiled = g.node(p('Tile'), 'Tile', [g.node(p('ExpandDims'), 'ExpandDims', [corners, scalar(g, p('ExpandDims/dim'), 0)]), multiples]);
  const rows = (name: string, x: string): string => g.node(p(name), 'Reshape', [x, g.ints(p(`${name}/shape`), [-1, 4])]);
  const unstack = (name: string, x: string): string[] => {
    g.node(p(`Decode/${name}`), 'Unpack', [g.node(p(`Decode/${name}/transpose`), 'Transpose', [x, g.ints(p(`Decode/${name}/perm`), [1, 0])])], { num: { i: '4' }, axis: { i: '0' } });
    return [0, 1, 2, 3].map((i) => p(`Decode/${name}${i ? `:${i}` : ''}`));
  };
  const [ymin, xmin, ymax, xmax] = unstack('get_center_coordinates_and_sizes/unstack', rows('Reshape', tiled));
  const op = (name: string, type: string, a: string, b: string): string => g.node(p(`Decode/${name}`), type, [a, b]);
  const ha = op('sub', 'Sub', ymax, ymin);
  const wa = op('sub_1', 'Sub', xmax, xmin);
  const ya = op('add', 'AddV2', ymin, op('truediv', 'RealDiv', ha, f('two', 2)));
  const xa = op('add_1', 'AddV2', xmin, op('truediv_1', 'RealDiv', wa, f('two_1', 2)));
  const [ty, tx, th, tw] = unstack('unstack', rows('Reshape_1', codes)).map((t, i) => op(`truediv_${i + 2}`, 'RealDiv', t, f(`scale_${i}`, i < 2 ? 10 : 5)));
  const w = op('mul', 'Mul', g.node(p('Decode/Exp'), 'Exp', [tw]), wa);
  const h = op('mul_1', 'Mul', g.node(p('Decode/Exp_1'), 'Exp', [th]), ha);
  const yc = op('add_2', 'AddV2', op('mul_2', 'Mul', ty, ha), ya);
  const xc = op('add_3', 'AddV2', op('mul_3', 'Mul', tx, wa), xa);
  const halfH = op('truediv_6', 'RealDiv', h, f('two_2', 2));
  const halfW = op('truediv_7', 'RealDiv', w, f('two_3', 2));
  const stacked = g.node(p('Decode/stack'), 'Pack', [op('sub_2', 'Sub', yc, halfH), op('sub_3', 'Sub', xc, halfW), op('add_4', 'AddV2', yc, halfH), op('add_5', 'AddV2', xc, halfW)], { N: { i: '4' }, axis: { i: '0' } });
  const decodedRows = g.node(p('Decode/transpose'), 'Transpose', [stacked, g.ints(p('Decode/perm'), [1, 0])]);
  const shape = g.node(p('stack'), 'Pack', [batch, scalar(g, p('stack/1'), ANCHORS), scalar(g, p('stack/2'), 4)], { N: { i: '3' }, axis: { i: '0' } });
  const decoded = g.node(p('ExpandDims_1'), 'ExpandDims', [g.node(p('Reshape_2'), 'Reshape', [decodedRows, shape]), scalar(g, p('ExpandDims_1/dim'), 2)]);
  const scores = g.node(p('Slice'), 'Slice', [g.node(p('convert_scores'), 'Sigmoid', [classes]), g.ints('tf/slice/begin', [0, 0, 1]), g.ints('tf/slice/size', [-1, -1, -1])]);
  return { decoded, scores };
}

function rawGraph(): GraphFiles {
  const g = new GraphWriter(21);
  const { boxes, classes } = predictor(g);
  return g.files(boxes, classes);
}

function cocoSsdGraph(): GraphFiles {
  const g = new GraphWriter(22);
  const { decoded, scores } = postprocessor(g, predictor(g));
  return g.files(decoded, scores);
}

/** Every output of ours (reference backend, and WasmEngine where it runs) within 1e-5 of tfjs-converter's. */
async function assertMatchesTfjs(files: GraphFiles, model: Model, x: Tensor): Promise<void> {
  const expected = await runTfjsOutputs(files, x, model.outputNames.slice());
  const ours = model.predictOutputs(x);
  for (const name of model.outputNames) assertClose(ours[name], expected[name], 1e-5, name);
  if (!WasmEngine.supported()) return;
  const engine = await WasmEngine.create(model);
  try {
    const fast = engine.predictOutputs(x);
    for (const name of model.outputNames) assertClose(fast[name], expected[name], 1e-5, `WasmEngine ${name}`);
  } finally {
    await engine.dispose();
  }
}

describe('TF.js graph model: a TF Object Detection API SSD export with post-processing cut off', () => {
  test('raw outputs concat [N, A, 1, 4] and concat_1 [N, A, K+1] match tfjs-converter, here and in Wasm; the model says it needs anchors', async () => {
    const files = rawGraph();
    const { model, info, notes } = decodeTfjsGraphModel(files.modelJson, files.shards, { source: 'ssd-raw' });
    assert.deepEqual(model.outputNames, ['concat', 'concat_1']);
    assert.deepEqual(info.outputNames, ['concat', 'concat_1']);
    assert.deepEqual(model.outputShapes, { concat: [ANCHORS, 1, 4], concat_1: [ANCHORS, CLASSES + 1] });
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^outputs concat_1 \[176, 6\] and concat \[176, 1, 4\] .* no anchors: give them .*--anchors/);
    const x = randomInput([2, 16, 16, 3], 7);
    await assertMatchesTfjs(files, model, x);
  });

  test("coco-ssd's outputs (decoded boxes Postprocessor/ExpandDims_1, scores without background Postprocessor/Slice) match tfjs-converter, here and in Wasm", async () => {
    const files = cocoSsdGraph();
    const { model, notes, unusedWeights } = decodeTfjsGraphModel(files.modelJson, files.shards, { source: 'coco-ssd-like' });
    assert.deepEqual(unusedWeights, []);
    assert.deepEqual(notes, [], 'decoded boxes need no anchors');
    assert.deepEqual(model.outputShapes, { 'Postprocessor/ExpandDims_1': [ANCHORS, 1, 4], 'Postprocessor/Slice': [ANCHORS, CLASSES] });
    const x = randomInput([3, 16, 16, 3], 8);
    await assertMatchesTfjs(files, model, x);
  });

  test("TF's own batch decoding (the batch folded into [N·A, 4] rows, anchors tiled over it) matches tfjs-converter, here and in Wasm", async () => {
    const g = new GraphWriter(23);
    const { decoded, scores } = tfPostprocessor(g, predictor(g));
    const files = g.files(decoded, scores);
    const { model, notes, unusedWeights } = decodeTfjsGraphModel(files.modelJson, files.shards, { source: 'tf-postprocessor' });
    assert.deepEqual([unusedWeights, notes], [[], []]);
    assert.deepEqual(model.outputShapes, { 'Postprocessor/ExpandDims_1': [ANCHORS, 1, 4], 'Postprocessor/Slice': [ANCHORS, CLASSES] });
    const x = randomInput([3, 16, 16, 3], 10);
    await assertMatchesTfjs(files, model, x);
  });

  test("TF's decoding exported to ONNX: onnxruntime-node gives tfjs-converter's boxes and scores, and our ONNX import reads it back", { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    const g = new GraphWriter(24);
    const { scores } = tfPostprocessor(g, predictor(g));
    const outputs = ['Postprocessor/Reshape_2', scores];
    const files = g.files(...outputs);
    const { model } = decodeTfjsGraphModel(files.modelJson, files.shards);
    const bytes = encodeOnnx(model);
    const x = randomInput([2, 16, 16, 3], 11);
    const expected = await runTfjsOutputs(files, x, outputs);
    const session = await ort!.InferenceSession.create(bytes);
    try {
      const results = await session.run({ input: new ort!.Tensor('float32', toLayout(x, 'NHWC', 'NCHW').data, [2, 3, 16, 16]) });
      for (const name of outputs) assertClose(new Tensor(results[name].dims, results[name].data as Float32Array), expected[name], 1e-5, `onnxruntime ${name}`);
    } finally {
      await session.release();
    }
    const back = decodeOnnx(bytes).model.predictOutputs(x);
    for (const name of outputs) assertClose(back[name], expected[name], 1e-5, `ONNX import ${name}`);
  });

  test('a folded batch is refused where it cannot be followed: an op outside box decoding, an output left folded', () => {
    const g = new GraphWriter(23);
    tfPostprocessor(g, predictor(g));
    const files = g.files('Postprocessor/ExpandDims_1');
    const nodes = (files.modelJson.modelTopology as { node: Record<string, unknown>[] }).node;
    nodes.find((n) => n.name === 'Postprocessor/Decode/Exp')!.op = 'Relu';
    assert.throws(() => decodeTfjsGraphModel(files.modelJson, files.shards), (e: unknown) => e instanceof UnsupportedGraphOpError && e.nodeName === 'Postprocessor/Decode/Exp' && /input 0 has the batch folded into another axis/.test(e.message));
    nodes.find((n) => n.name === 'Postprocessor/Decode/Exp')!.op = 'Exp';
    assert.throws(() => decodeTfjsGraphModel(files.modelJson, files.shards, { outputNode: 'Postprocessor/Decode/transpose' }), (e: unknown) => e instanceof UnsupportedGraphOpError && /an output whose batch is folded/.test(e.message));
  });

  test('the decoded boxes alone (outputNode) survive our model file: its Slice and Exp layers come back, the same boxes as tfjs', async () => {
    const files = cocoSsdGraph();
    const { model } = decodeTfjsGraphModel(files.modelJson, files.shards, { outputNode: 'Postprocessor/ExpandDims_1' });
    assert.ok(['Slice', 'Exp'].every((kind) => model.layers.some((l) => l.kind === kind)));
    const loaded = decodeModelFile(encodeModelFile(model), 'boxes.safetensors').model;
    const x = randomInput([2, 16, 16, 3], 9);
    const expected = await runTfjsOutputs(files, x, ['Postprocessor/ExpandDims_1']);
    assertClose(loaded.predict(x), expected['Postprocessor/ExpandDims_1'], 1e-5, 'model file boxes');
  });

  test('slices that would cut the batch axis, and reading an output a node does not have, are typed errors naming the node', () => {
    const edit = (change: (nodes: Record<string, unknown>[]) => void): GraphFiles => {
      const f = cocoSsdGraph();
      change((f.modelJson.modelTopology as { node: Record<string, unknown>[] }).node);
      return f;
    };
    const find = (nodes: Record<string, unknown>[], name: string): Record<string, unknown> => nodes.find((n) => n.name === name)!;
    const batchCut = edit((n) => ((find(n, 'Postprocessor/Decode/strided_slice_0').attr as Record<string, unknown>).end_mask = { i: '2' }));
    assert.throws(() => decodeTfjsGraphModel(batchCut.modelJson, batchCut.shards, { source: 'bad' }), (e: unknown) => e instanceof UnsupportedGraphOpError && e.nodeName === 'Postprocessor/Decode/strided_slice_0' && /carries the batch/.test(e.message));
    const third = edit((n) => ((find(n, 'Postprocessor/Decode/Squeeze_1').input as string[])[0] = 'Postprocessor/Decode/split:2'));
    assert.throws(() => decodeTfjsGraphModel(third.modelJson, third.shards, { source: 'bad' }), (e: unknown) => e instanceof UnsupportedGraphOpError && /output 2 of node "Postprocessor\/Decode\/split"/.test(e.message));
    const uneven = edit((n) => ((find(n, 'Postprocessor/Decode/split').attr as Record<string, unknown>).num_split = { i: '3' }));
    assert.throws(() => decodeTfjsGraphModel(uneven.modelJson, uneven.shards, { source: 'bad' }), (e: unknown) => e instanceof FormatError && /does not split into 3 equal pieces/.test(e.message));
  });
});
