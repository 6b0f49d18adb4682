// A TF.js graph model laid out as tfjs-models' DeepLab graphs are (dilated depthwise, image pooling by Mean, ResizeBilinear,
// ConcatV2, an in-graph ArgMax), written by hand, against tfjs-converter executing the same files; and its refusals.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { UnsupportedGraphOpError, decodeTfjsGraphModel } from '../../src/io/tfjs/graph-model.js';
import { ArgMax } from '../../src/nn/argmax.js';
import { Resize } from '../../src/nn/resize.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { FormatError } from '../../src/errors.js';
import { assertClose } from '../support/helpers.js';
import { randomInput } from '../support/tfjs-reference.js';
import { FLOAT, GraphWriter, NHWC, ints, runTfjs, str, strs } from '../support/tfjs-graphs.js';
import type { GraphFiles } from '../support/tfjs-graphs.js';

enableWasmFeatures();

type Convention = { align_corners?: { b: boolean }; half_pixel_centers?: { b: boolean } };
const CONVENTIONS: [string, Convention, string][] = [
  ['align_corners', { align_corners: { b: true } }, 'align-corners'],
  ['half_pixel_centers', { half_pixel_centers: { b: true } }, 'half-pixel'],
  ['neither (TF1 legacy)', {}, 'asymmetric'],
];

/** Input [N, 17, 15, 3] → stride-2 conv → rate-2 depthwise → (Mean → 1×1 conv → resize) ‖ 1×1 conv → ConcatV2 → logits → resize to Shape(input)[1:3] → ArgMax (when `labels`). */
function deeplabGraph(convention: Convention, labels: boolean, tweak: Record<string, Record<string, unknown>> = {}): GraphFiles {
  const g = new GraphWriter(17);
  const conv = (strides: number, dilation = 1) => ({ strides: ints(1, strides, strides, 1), padding: str('SAME'), data_format: NHWC, dilations: ints(1, dilation, dilation, 1) });
  const fused = (activation: string) => ({ ...conv(1), fused_ops: strs('BiasAdd', activation), num_args: { i: '1' } });
  const x0 = g.node('ImageTensor', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [{ size: '-1' }, { size: '17' }, { size: '15' }, { size: '3' }] } } });
  let x = g.node('stem', '_FusedConv2D', [x0, g.random('stem/w', [3, 3, 3, 8]), g.random('stem/b', [8])], { ...conv(2), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } });
  x = g.node('atrous', 'FusedDepthwiseConv2dNative', [x, g.random('atrous/w', [3, 3, 8, 1]), g.random('atrous/b', [8])], { ...conv(1, 2), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } });
  const pooled = g.node('image_pool', 'Mean', [x, g.ints('image_pool/axes', [1, 2])], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } });
  const projected = g.node('image_pool/conv', '_FusedConv2D', [pooled, g.random('image_pool/w', [1, 1, 8, 6]), g.random('image_pool/b', [6])], fused('Relu'));
  const resize = (name: string, value: string, size: number[]): string => g.node(name, 'ResizeBilinear', [value, g.ints(`${name}/size`, size)], { ...convention, ...(tweak[name] ?? {}) });
  const pool = resize('image_pool/resize', projected, [9, 8]);
  const branch = g.node('aspp0', '_FusedConv2D', [x, g.random('aspp0/w', [1, 1, 8, 6]), g.random('aspp0/b', [6])], fused('Relu'));
  const joined = g.node('concat', 'ConcatV2', [pool, branch, g.ints('concat/axis', [3])], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  const logits = g.node('logits', 'BiasAdd', [g.node('logits/conv', 'Conv2D', [joined, g.random('logits/w', [1, 1, 12, 5])], conv(1)), g.random('logits/b', [5])], { data_format: NHWC });
  // the logits go back to the input's size as DeepLab graphs compute it: Shape(input)[1:3], cast
  const inputSize = g.node('input_size', 'StridedSlice', [g.node('input_shape', 'Shape', [x0], { out_type: { type: 'DT_INT32' } }), g.ints('begin', [1]), g.ints('end', [3]), g.ints('strides', [1])], { Index: { type: 'DT_INT32' }, T: { type: 'DT_INT32' } });
  const full = g.node('ResizeBilinear_2', 'ResizeBilinear', [logits, g.node('input_size/cast', 'Cast', [inputSize], { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_INT32' } })], { ...convention, ...(tweak.ResizeBilinear_2 ?? {}) });
  if (!labels) return g.files(full);
  return g.files(g.node('ArgMax', 'ArgMax', [full, g.ints('ArgMax/dimension', [tweak.ArgMax ? -2 : 3])], { Tidx: { type: 'DT_INT32' }, output_type: { type: 'DT_INT64' } }));
}

describe('TF.js graph model: a DeepLab-like graph vs tfjs-converter', () => {
  const x = randomInput([2, 17, 15, 3], 31);

  for (const [what, convention, ours] of CONVENTIONS) {
    test(`ResizeBilinear with ${what}: our ${ours} Resize gives tfjs-converter's logits within 1e-5`, async () => {
      const files = deeplabGraph(convention, false);
      const { model, unusedWeights } = decodeTfjsGraphModel(files.modelJson, files.shards, { source: 'deeplab-like' });
      assert.deepEqual(unusedWeights, []);
      assert.deepEqual(model.layers.filter((l): l is Resize => l instanceof Resize).map((l) => [l.coordinates, ...l.size]), [[ours, 9, 8], [ours, 17, 15]]);
      assertClose(model.predict(x), await runTfjs(files, x), 1e-5, 'ours vs tfjs-converter');
    });
  }

  test("the in-graph ArgMax: tfjs-converter's label map exactly, by predict and the Wasm engine", async () => {
    const files = deeplabGraph(CONVENTIONS[0][1], true);
    const { model } = decodeTfjsGraphModel(files.modelJson, files.shards);
    assert.ok(model.layers.at(-1) instanceof ArgMax);
    const expected = await runTfjs(files, x);
    assert.deepEqual([...expected.shape], [2, 17, 15]);
    assert.deepEqual([...model.predict(x).data], [...expected.data]);
    if (!WasmEngine.supported()) return;
    const engine = await WasmEngine.create(model);
    try {
      assert.deepEqual([...engine.predict(x).data], [...expected.data]);
    } finally {
      await engine.dispose();
    }
  });

  test('shape arithmetic: Reshape to Pack(Shape(x)[0], −1) keeps the batch open; a size from the batch is refused by name', async () => {
    const g = new GraphWriter(5);
    const input = g.node('input', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }, { size: '2' }, { size: '4' }] } } });
    const shape = g.node('shape', 'Shape', [input], { out_type: { type: 'DT_INT32' } });
    const batch = g.node('batch', 'StridedSlice', [shape, g.ints('b0', [0]), g.ints('e0', [1]), g.ints('s0', [1])], { shrink_axis_mask: { i: '1' }, Index: { type: 'DT_INT32' }, T: { type: 'DT_INT32' } });
    const target = g.node('target', 'Pack', [batch, g.constant('rest', [], Int32Array.of(-1))], { N: { i: '2' }, axis: { i: '0' }, T: { type: 'DT_INT32' } });
    const flat = g.node('flat', 'Reshape', [input, target], { Tshape: { type: 'DT_INT32' } });
    const files = g.files(flat);
    const { model } = decodeTfjsGraphModel(files.modelJson, files.shards);
    assert.deepEqual([...model.outputShape], [24]);
    const x2 = randomInput([2, 3, 2, 4], 3);
    assertClose(model.predict(x2), await runTfjs(files, x2), 0, 'ours vs tfjs-converter');
    // the batch size as a resize height
    g.node('bad', 'ResizeBilinear', [input, g.node('hw', 'Pack', [batch, batch], { N: { i: '2' }, axis: { i: '0' } })]);
    const bad = g.files('bad');
    assert.throws(() => decodeTfjsGraphModel(bad.modelJson, bad.shards), (e: unknown) => e instanceof UnsupportedGraphOpError && /ResizeBilinear in node "bad": size \[NaN, NaN\] depends on the batch size, known only at run time/.test((e as Error).message));
  });

  test('refusals name the node: both resize attributes at once, an ArgMax over another axis', () => {
    const both = deeplabGraph({ align_corners: { b: true }, half_pixel_centers: { b: true } }, false);
    assert.throws(() => decodeTfjsGraphModel(both.modelJson, both.shards, { source: 'bad' }), (e: unknown) => e instanceof FormatError && /node "image_pool\/resize" \(ResizeBilinear\): align_corners and half_pixel_centers cannot both be true/.test((e as Error).message));
    const other = deeplabGraph({}, true, { ArgMax: {} });
    assert.throws(() => decodeTfjsGraphModel(other.modelJson, other.shards, { source: 'bad' }), (e: unknown) => e instanceof UnsupportedGraphOpError && /ArgMax in node "ArgMax": dimension -2/.test((e as Error).message));
  });
});
