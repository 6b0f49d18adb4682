// The golden Mobile DeepLabv3 ONNX file (PyTorch: Resize with align_corners, GlobalAveragePool, Concat and the shape
// arithmetic that computes Resize's sizes) against PyTorch's logits and mask; the Resize and Slice mappings by hand.

import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { deeplabLike } from '../support/deeplab-like.js';
import { deeplabV3 } from '../../src/models/deeplab-v3.js';
import { ort, runOrt } from '../support/onnxruntime.js';
import { buildOnnx } from '../support/onnx-graphs.js';
import type { GraphSpec } from '../support/onnx-graphs.js';
import { UnsupportedOperatorError } from '../../src/io/onnx/errors.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { decodeNpy } from '../../src/io/npy.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { Resize } from '../../src/nn/resize.js';
import type { ResizeCoordinates } from '../../src/ops/resize.js';
import { Tensor } from '../../src/tensor/tensor.js';

enableWasmFeatures();
const DIR = join(GOLDEN, 'apps', 'deeplab_mnv2_a050_r129_k5_os16_b2');
const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DIR, file)), file);

/** Argmax over axis 1 of NCHW logits, first index on ties (numpy's rule). */
function argmaxChannels(logits: Tensor): number[] {
  const [n, k, h, w] = logits.shape;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < h * w; p++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits.data[(b * k + c) * h * w + p] > logits.data[(b * k + best) * h * w + p]) best = c;
      out.push(best);
    }
  }
  return out;
}

describe('golden Mobile DeepLabv3 (α 0.5, 129×129, OS 16, 5 classes) from PyTorch ONNX', () => {
  const { model, info } = decodeOnnx(readFileSync(join(DIR, 'model.onnx')), { source: 'deeplab model.onnx' });
  const x = npy('input.npy');
  const logits = npy('logits.npy');
  const mask = npy('mask.npy');
  const tol = 5e-5;

  it('imports: the shape arithmetic folds, both Resizes become align-corners layers to 9×9 and 129×129', () => {
    assert.deepEqual(info.outputShape, ['N', 5, 129, 129]);
    for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Slice', 'Cast', 'Concat', 'Resize', 'GlobalAveragePool']) assert.ok(info.operators[op] > 0, op);
    const resizes = model.layers.filter((l): l is Resize => l instanceof Resize);
    assert.deepEqual(resizes.map((l) => [l.coordinates, ...l.size]), [['align-corners', 9, 9], ['align-corners', 129, 129]]);
  });

  it('model.predict: the logits within 5e-5·max(1, max|ref|) of PyTorch, the same argmax mask', () => {
    const y = model.predict(x, { layout: 'NCHW' });
    assertClose(y, logits, tol, 'logits');
    assert.deepEqual(argmaxChannels(y), [...mask.data]);
  });

  it('WasmEngine: the same logits and mask', { skip: WasmEngine.supported() ? false : 'WebAssembly SIMD is not available' }, async () => {
    const engine = await WasmEngine.create(model);
    try {
      const y = engine.predict(x, { layout: 'NCHW' });
      assertClose(y, logits, tol, 'WasmEngine logits');
      assert.deepEqual(argmaxChannels(y), [...mask.data]);
    } finally {
      await engine.dispose();
    }
  });
});

describe('ONNX Resize and Slice by hand', () => {
  /** x [1, 1, 2, 2] = [[0, 1], [2, 3]] resized by one node; `sizes` or `scales` as initializers. */
  const resized = (attrs: Record<string, Record<string, unknown>>, by: { sizes?: number[]; scales?: number[] }, opset = 13): Tensor => {
    const initializers: NonNullable<GraphSpec['initializers']> = [];
    if (by.scales) initializers.push({ name: 'scales', dims: [4], dataType: 'float', values: by.scales });
    if (by.sizes) initializers.push({ name: 'sizes', dims: [by.sizes.length], dataType: 'int64', values: by.sizes });
    const inputs = ['x', '', by.scales ? 'scales' : '', ...(by.sizes ? ['sizes'] : [])];
    const { model } = decodeOnnx(buildOnnx({ opset, input: { name: 'x', shape: [1, 1, 2, 2] }, nodes: [{ op: 'Resize', name: 'up', inputs, outputs: ['y'], attrs: { mode: { s: 'linear' }, ...attrs } }], output: 'y', initializers }));
    return model.predict(new Tensor([1, 1, 2, 2], Float32Array.from([0, 1, 2, 3])), { layout: 'NCHW' });
  };
  const mode = (m: string): Record<string, Record<string, unknown>> => ({ coordinate_transformation_mode: { s: m } });

  // a batch size of 1 in `sizes` would be refused (the batch axis is open), so these give sizes for H and W only (opset 18's axes)
  const spatial = { axes: { ints: [2, 3] } };

  it('align_corners to 3×3 by sizes: corners kept, midpoints averaged (hand-worked)', () => {
    assert.deepEqual([...resized({ ...mode('align_corners'), ...spatial }, { sizes: [3, 3] }, 18).data], [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
  });

  it('asymmetric ×2 by scales: x/2, the last pixels clamped (hand-worked)', () => {
    assert.deepEqual([...resized(mode('asymmetric'), { scales: [1, 1, 2, 2] }).data.subarray(0, 4)], [0, 0.5, 1, 1]);
  });

  it('half_pixel (the default) and pytorch_half_pixel ×2: (x + ½)/2 − ½ clamped at 0 (hand-worked)', () => {
    for (const attrs of [spatial, { ...mode('pytorch_half_pixel'), ...spatial }]) assert.deepEqual([...resized(attrs, { sizes: [4, 4] }, 18).data.subarray(0, 4)], [0, 0.25, 0.75, 1]);
  });

  it('refusals name the node: nearest mode, tf_crop_and_resize, a scale that does not divide, the batch and channel axes', () => {
    const refused = (attrs: Record<string, Record<string, unknown>>, by: { sizes?: number[]; scales?: number[] }, pattern: RegExp): void =>
      assert.throws(() => resized(attrs, by), (e: unknown) => e instanceof UnsupportedOperatorError && /node "up"/.test(e.message) && pattern.test(e.message));
    refused({ mode: { s: 'nearest' } }, { scales: [1, 1, 2, 2] }, /mode "nearest"/);
    refused(mode('tf_crop_and_resize'), { scales: [1, 1, 2, 2] }, /coordinate_transformation_mode "tf_crop_and_resize"/);
    refused(mode('tf_half_pixel_for_nearest'), { scales: [1, 1, 2, 2] }, /coordinate_transformation_mode/);
    refused({}, { scales: [1, 1, 1.7, 1.7] }, /scale 1\.7 on axis 2/);
    refused({}, { scales: [1, 2, 2, 2] }, /channel axis/);
    refused({}, { sizes: [1, 1, 4, 4] }, /would resize the batch axis/);
  });

  it('sizes computed from the batch size are refused: they depend on run time', () => {
    // Shape(x)[0] (the batch) as the output height
    const bytes = buildOnnx({
      opset: 13,
      input: { name: 'x', shape: [1, 1, 2, 2] },
      initializers: [{ name: 'first', dims: [1], dataType: 'int64', values: [0] }, { name: 'zero', dims: [1], dataType: 'int64', values: [0] }, { name: 'two', dims: [1], dataType: 'int64', values: [2] }, { name: 'width', dims: [1], dataType: 'int64', values: [4] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
        { op: 'Slice', inputs: ['shape', 'zero', 'two'], outputs: ['nc'] },
        { op: 'Gather', inputs: ['shape', 'first'], outputs: ['n'] },
        { op: 'Concat', inputs: ['nc', 'n', 'width'], outputs: ['sizes'], attrs: { axis: { i: 0 } } },
        { op: 'Resize', name: 'up', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { mode: { s: 'linear' } } },
      ],
      output: 'y',
    });
    assert.throws(() => decodeOnnx(bytes), (e: unknown) => e instanceof UnsupportedOperatorError && /node "up".*axis 2 depends on the batch size, known only at run time/.test(e.message));
  });

  it('arithmetic on the batch size is refused, naming the node: it depends on run time', () => {
    const bytes = buildOnnx({
      opset: 13,
      input: { name: 'x', shape: [1, 2, 3, 4] },
      initializers: [{ name: 'first', dims: [1], dataType: 'int64', values: [0] }, { name: 'two', dims: [1], dataType: 'int64', values: [2] }, { name: 'rest', dims: [1], dataType: 'int64', values: [-1] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
        { op: 'Gather', inputs: ['shape', 'first'], outputs: ['n'] },
        { op: 'Mul', name: 'twice_batch', inputs: ['n', 'two'], outputs: ['n2'] },
        { op: 'Concat', inputs: ['n2', 'rest'], outputs: ['target'], attrs: { axis: { i: 0 } } },
        { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
      ],
      output: 'y',
    });
    assert.throws(() => decodeOnnx(bytes), (e: unknown) => e instanceof UnsupportedOperatorError && /Mul in node "twice_batch": an operand depends on the batch size, known only at run time/.test(e.message));
  });

  it('the batch size passes arithmetic that leaves it unchanged: Shape(x) × [1, 1, 2, 2] as Resize sizes', () => {
    const { model } = decodeOnnx(buildOnnx({
      opset: 13,
      input: { name: 'x', shape: [1, 1, 2, 2] },
      initializers: [{ name: 'factors', dims: [4], dataType: 'int64', values: [1, 1, 2, 2] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
        { op: 'Mul', inputs: ['shape', 'factors'], outputs: ['sizes'] },
        { op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'asymmetric' } } },
      ],
      output: 'y',
    }));
    assert.deepEqual([...model.outputShape], [4, 4, 1]);
  });

  it('Upsample (opset 9, linear): TF1-style asymmetric ×2 (hand-worked)', () => {
    const { model } = decodeOnnx(buildOnnx({ opset: 9, input: { name: 'x', shape: [1, 1, 2, 2] }, initializers: [{ name: 'scales', dims: [4], dataType: 'float', values: [1, 1, 2, 2] }], nodes: [{ op: 'Upsample', inputs: ['x', 'scales'], outputs: ['y'], attrs: { mode: { s: 'linear' } } }], output: 'y' }));
    const y = model.predict(new Tensor([1, 1, 2, 2], Float32Array.from([0, 1, 2, 3])), { layout: 'NCHW' });
    assert.deepEqual([...y.data.subarray(0, 8)], [0, 0.5, 1, 1, 1, 1.5, 2, 2]);
  });

  it('Slice folds shape arithmetic with negative starts and steps: Shape(x)[-1:0:-1] reshapes [2, 3, 4] to [4, 3, 2]', () => {
    const { info } = decodeOnnx(buildOnnx({
      opset: 13,
      input: { name: 'x', shape: [1, 2, 3, 4] },
      initializers: [{ name: 'keep', dims: [1], dataType: 'int64', values: [0] }, { name: 'start', dims: [1], dataType: 'int64', values: [-1] }, { name: 'end', dims: [1], dataType: 'int64', values: [0] }, { name: 'axis', dims: [1], dataType: 'int64', values: [0] }, { name: 'step', dims: [1], dataType: 'int64', values: [-1] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
        { op: 'Slice', inputs: ['shape', 'start', 'end', 'axis', 'step'], outputs: ['reversed'] },
        { op: 'Concat', inputs: ['keep', 'reversed'], outputs: ['target'], attrs: { axis: { i: 0 } } },
        { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
      ],
      output: 'y',
    }));
    assert.deepEqual(info.outputShape, ['N', 4, 3, 2]);
  });
});

describe('ONNX export of segmentation layers: Resize (each convention), Concatenate, GlobalAveragePool kept 1×1, ArgMax', () => {
  const x = randomBatch([2, 3, 17, 15], 21);
  const conventions: ResizeCoordinates[] = ['align-corners', 'half-pixel', 'asymmetric'];

  for (const coordinates of conventions) {
    it(`${coordinates}: our import of the export gives the original model's logits`, () => {
      const model = deeplabLike(coordinates, false);
      const back = decodeOnnx(encodeOnnx(model)).model;
      assert.deepEqual(back.layers.filter((l): l is Resize => l instanceof Resize).map((l) => l.coordinates), [coordinates, coordinates]);
      assertClose(back.predict(x, { layout: 'NCHW' }), model.predict(x, { layout: 'NCHW' }), 1e-5, 'round trip');
    });
  }

  it('the label map (ArgMax + Cast) round-trips as our ArgMax', () => {
    const model = deeplabLike('align-corners', true);
    const back = decodeOnnx(encodeOnnx(model)).model;
    assert.deepEqual([...back.outputShape], [17, 15]);
    assert.deepEqual([...back.predict(x, { layout: 'NCHW' }).data], [...model.predict(x, { layout: 'NCHW' }).data]);
  });

  describe('onnxruntime-node runs the exports', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed (cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm ci)' }, () => {
    for (const coordinates of conventions) {
      for (const foldBatchNorm of [false, true]) {
        it(`${coordinates}${foldBatchNorm ? ', BN folded' : ''}: the same logits as ours within 1e-5`, async () => {
          const model = deeplabLike(coordinates, false);
          assertClose(await runOrt(encodeOnnx(model, { foldBatchNorm }), x), model.predict(x, { layout: 'NCHW' }), 1e-5, 'onnxruntime vs ours');
        });
      }
    }

    it('deeplabV3 (α 0.5, 65×65, OS 16, mobile and ASPP heads, BN kept and folded): the same logits as ours within 1e-5', async () => {
      const image = randomBatch([2, 3, 65, 65], 23);
      for (const head of ['mobile', 'aspp'] as const) {
        const model = deeplabV3({ alpha: 0.5, resolution: 65, classes: 5, outputStride: 16, head, seed: 5 });
        randomiseBatchNorm(model, 9);
        const ours = model.predict(image, { layout: 'NCHW' });
        for (const foldBatchNorm of [false, true]) assertClose(await runOrt(encodeOnnx(model, { foldBatchNorm }), image), ours, 1e-5, `onnxruntime vs ours (${head}${foldBatchNorm ? ', BN folded' : ''})`);
        assertClose(decodeOnnx(encodeOnnx(model)).model.predict(image, { layout: 'NCHW' }), ours, 1e-5, `our import of the export (${head})`);
      }
    });

    it('the label map: the same labels as ours', async () => {
      const model = deeplabLike('half-pixel', true);
      const labels = await runOrt(encodeOnnx(model), x);
      assert.deepEqual([...labels.shape], [2, 17, 15]);
      assert.deepEqual([...labels.data], [...model.predict(x, { layout: 'NCHW' }).data]);
    });
  });
});
