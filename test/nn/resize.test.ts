// The bilinear resize op against hand-worked values in each coordinate convention and against tfjs-core, its
// backward against finite differences, and the Resize layer in a Model: predict, the plan runner, the engine, training.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { lowerModel } from '../../src/graph/lower.js';
import { Model } from '../../src/graph/model.js';
import { Conv2D } from '../../src/nn/conv.js';
import { Dense, Flatten, input } from '../../src/nn/core.js';
import { Resize } from '../../src/nn/resize.js';
import type { ResizeCoordinates } from '../../src/ops/resize.js';
import { RESIZE_COORDINATES, resizeBilinear2d, resizeBilinear2dBackward } from '../../src/ops/resize.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertGradient, dot, numericGradient, operand } from '../support/gradient-check.js';
import { assertClose, randomBatch } from '../support/helpers.js';
import { ready, tf } from '../support/tfjs-reference.js';

const rows = (t: Tensor, width: number): number[][] => Array.from({ length: t.size / width }, (_, r) => Array.from(t.data.subarray(r * width, (r + 1) * width)));

function assertRows(actual: Tensor, expected: number[][], what: string): void {
  const got = rows(actual, expected[0].length);
  got.forEach((row, r) => row.forEach((v, c) => assert.ok(Math.abs(v - expected[r][c]) <= 1e-4, `${what}: row ${r} column ${c} is ${v}, expected ${expected[r][c]}`)));
  assert.equal(got.length, expected.length, `${what}: rows`);
}

describe('resizeBilinear2d', () => {
  before(ready);

  // The 2×2 input [[0, 100], [200, 300]] is the plane v(y, x) = 200·y + 100·x, which bilinear interpolation
  // reproduces exactly: an output pixel is 200·py + 100·px at its source position (py, px), clamped to [0, 1].
  const plane = new Tensor([1, 2, 2, 1], Float32Array.of(0, 100, 200, 300));
  const onPlane = (positions: number[]): number[][] => positions.map((py) => positions.map((px) => 200 * py + 100 * px));

  test('2×2 → 4×4, half-pixel: positions (i + ½)·2/4 − ½ = −¼ → 0, ¼, ¾, 5/4 → 1', () => {
    assertRows(resizeBilinear2d(plane, [4, 4], 'half-pixel'), onPlane([0, 0.25, 0.75, 1]), 'half-pixel');
    // the same numbers written out: first row 0, 25, 75, 100; second row ¾·first + ¼·(200, 225, 275, 300)
    assertRows(resizeBilinear2d(plane, [4, 4]), [[0, 25, 75, 100], [50, 75, 125, 150], [150, 175, 225, 250], [200, 225, 275, 300]], 'default');
  });

  test('2×2 → 4×4, align-corners: positions i·(2 − 1)/(4 − 1) = 0, ⅓, ⅔, 1', () => {
    assertRows(resizeBilinear2d(plane, [4, 4], 'align-corners'), onPlane([0, 1 / 3, 2 / 3, 1]), 'align-corners');
  });

  test('2×2 → 4×4, asymmetric: positions i·2/4 = 0, ½, 1, 3/2 → 1 (past the edge reads the edge)', () => {
    assertRows(resizeBilinear2d(plane, [4, 4], 'asymmetric'), [[0, 50, 100, 100], [100, 150, 200, 200], [200, 250, 300, 300], [200, 250, 300, 300]], 'asymmetric');
  });

  test('3×3 → 2×2 on v(y, x) = 3y + x (0..8): half-pixel ¼, 7/4; align-corners 0, 2; asymmetric 0, 3/2', () => {
    const ramp = new Tensor([1, 3, 3, 1], Float32Array.from({ length: 9 }, (_, i) => i));
    // half-pixel (i + ½)·3/2 − ½: v(¼, ¼) = 1, v(¼, 7/4) = 2.5, v(7/4, ¼) = 5.5, v(7/4, 7/4) = 7
    assertRows(resizeBilinear2d(ramp, [2, 2], 'half-pixel'), [[1, 2.5], [5.5, 7]], 'half-pixel');
    // align-corners: the four corners
    assertRows(resizeBilinear2d(ramp, [2, 2], 'align-corners'), [[0, 2], [6, 8]], 'align-corners');
    // asymmetric i·3/2: v(0, 0) = 0, v(0, 1.5) = 1.5, v(1.5, 0) = 4.5, v(1.5, 1.5) = 6
    assertRows(resizeBilinear2d(ramp, [2, 2], 'asymmetric'), [[0, 1.5], [4.5, 6]], 'asymmetric');
  });

  test('a corner impulse spreads by the weights (1 − wy)(1 − wx): 2×2 → 4×4 half-pixel is the outer product of 1, ¾, ¼, 0', () => {
    const impulse = new Tensor([1, 2, 2, 1], Float32Array.of(1, 0, 0, 0));
    const falloff = [1, 0.75, 0.25, 0];
    assertRows(resizeBilinear2d(impulse, [4, 4]), falloff.map((a) => falloff.map((b) => a * b)), 'impulse');
  });

  test('batches and channels match tfjs-core in each convention, up and down', () => {
    const flags: Record<ResizeCoordinates, [alignCorners: boolean, halfPixelCenters: boolean]> = { 'half-pixel': [false, true], 'align-corners': [true, false], asymmetric: [false, false] };
    for (const [shape, size] of [[[2, 5, 7, 3], [9, 12]], [[3, 11, 6, 5], [4, 5]], [[1, 1, 4, 2], [3, 1]]] as [number[], [number, number]][]) {
      const x = randomBatch(shape, shape[1]);
      for (const coordinates of RESIZE_COORDINATES) {
        const theirs = tf.image.resizeBilinear(tf.tensor4d(x.data, shape as [number, number, number, number]), size, ...flags[coordinates]);
        assertClose(resizeBilinear2d(x, size, coordinates), new Tensor([shape[0], ...size, shape[3]], theirs.dataSync() as Float32Array), 1e-6, `${coordinates} [${shape.join(', ')}] → ${size.join('×')}`);
        theirs.dispose();
      }
    }
  });

  test('backward matches finite differences of the forward in each convention, up and down', () => {
    for (const [shape, size] of [[[2, 3, 4, 2], [7, 5]], [[1, 6, 5, 3], [4, 2]]] as [number[], [number, number]][]) {
      for (const coordinates of RESIZE_COORDINATES) {
        const x = operand(shape, 11);
        const weights = operand([shape[0], ...size, shape[3]], 12).d;
        // the op is linear in x, so central differences with a large step are exact up to float32 rounding
        const loss = (): number => dot(Float64Array.from(resizeBilinear2d(new Tensor(shape, Float32Array.from(x.d)), size, coordinates).data), weights);
        const expected = numericGradient(loss, x.d, 0.5);
        const dy = new Tensor([shape[0], ...size, shape[3]], Float32Array.from(weights));
        assertGradient(resizeBilinear2dBackward(dy, [shape[1], shape[2]], coordinates), expected, `${coordinates} [${shape.join(', ')}] → ${size.join('×')}`, 1e-5);
      }
    }
  });

  test('typed errors name the shape, the size or the convention', () => {
    assert.throws(() => resizeBilinear2d(new Tensor([2, 2, 1]), [4, 4]), (e) => e instanceof ShapeError && /\[2, 2, 1\]/.test(e.message));
    assert.throws(() => resizeBilinear2d(new Tensor([1, 0, 2, 1]), [4, 4]), (e) => e instanceof ShapeError && /empty/.test(e.message));
    assert.throws(() => resizeBilinear2d(plane, [0, 4]), (e) => e instanceof ConfigError && /\[0, 4\]/.test(e.message));
    assert.throws(() => resizeBilinear2d(plane, [4, 4], 'nearest' as ResizeCoordinates), (e) => e instanceof ConfigError && /nearest/.test(e.message));
    assert.throws(() => new Resize('up', { scale: [0, 2] }), (e) => e instanceof ConfigError && /up \(Resize\)/.test(e.message));
    assert.throws(() => new Resize('up', { size: [2.5, 2] }), ConfigError);
    assert.throws(() => new Resize('up', { size: [4, 4] }, 'linear' as ResizeCoordinates), (e) => e instanceof ConfigError && /up \(Resize\): coordinates/.test(e.message));
    assert.throws(() => new Resize('up', { size: [4, 4] }).apply(input([8])), (e) => e instanceof ShapeError && /up \(Resize\).*\[8\]/.test(e.message));
    assert.throws(() => new Resize('down', { scale: [0.25, 1] }).apply(input([3, 3, 2])), (e) => e instanceof ShapeError && /down \(Resize\)/.test(e.message));
  });
});

describe('Resize layer in a model', () => {
  // input [5, 6, 3] → ×2 half-pixel [10, 12, 3] → 1×1 conv [10, 12, 4] → align-corners to [3, 4] → ×(1.5, 0.5) asymmetric [4, 2]
  function segmentationLike(): Model {
    const x = input([5, 6, 3]);
    let y = new Resize('up', { scale: [2, 2] }).apply(x);
    y = new Conv2D('conv', { filters: 4, kernelSize: 1, activation: 'relu' }).apply(y);
    y = new Resize('to_size', { size: [3, 4] }, 'align-corners').apply(y);
    return new Model(x, new Resize('odd_scale', { scale: [1.5, 0.5] }, 'asymmetric').apply(y), { seed: 4 });
  }

  test('shapes are inferred symbolically; the config says what the layer does', () => {
    const model = segmentationLike();
    assert.deepEqual(['up', 'conv', 'to_size', 'odd_scale'].map((name) => model.getLayer(name).outputShape), [[10, 12, 3], [10, 12, 4], [3, 4, 4], [4, 2, 4]]);
    assert.deepEqual(model.getLayer('to_size').config(), { size: [3, 4], coordinates: 'align-corners' });
    assert.deepEqual(model.getLayer('up').config(), { scale: [2, 2], coordinates: 'half-pixel' });
  });

  test("training: the loss's gradient reaches the input through Resize (finite differences of the model's own loss)", () => {
    const x = input([3, 4, 2]);
    const resized = new Resize('to_size', { size: [5, 7] }, 'align-corners').apply(x);
    const model = new Model(x, new Dense('dense', { units: 3 }).apply(new Flatten('flat').apply(new Conv2D('conv', { filters: 3, kernelSize: 3 }).apply(resized))), { seed: 6 });
    for (const t of model.weights().values()) new Random(t.size).fillUniform(t.data, -1, 1);
    const batch = randomBatch([2, 3, 4, 2], 13);
    const labels = [1, 2];
    const step = model.forwardBackward(batch, labels, { inputGradient: true });
    // float32 forward, eps 3e-3: the loss is smooth, so the central difference is good to about 1e-3 relative
    const numeric = numericGradient(() => model.forwardBackward(batch, labels).loss, batch.data, 3e-3);
    assertGradient(step.input!, numeric, 'dLoss/d(input)', 1e-2, 1e-4);
  });

  test('model.predict applies the op to each layer input; the plan runner and the wasm engine give the same output', async () => {
    const model = segmentationLike();
    const x = randomBatch([2, 5, 6, 3], 9);
    const values = model.run(x, ['up', 'conv', 'to_size', 'odd_scale']);
    assert.deepEqual([...values.get('up')!.data], [...resizeBilinear2d(x, [10, 12], 'half-pixel').data]);
    assert.deepEqual([...values.get('to_size')!.data], [...resizeBilinear2d(values.get('conv')!, [3, 4], 'align-corners').data]);
    assert.deepEqual([...values.get('odd_scale')!.data], [...resizeBilinear2d(values.get('to_size')!, [4, 2], 'asymmetric').data]);
    const predicted = model.predict(x);
    assert.deepEqual(predicted.data, values.get('odd_scale')!.data);

    // each Resize lowers to a 'resize' step, which the engine runs natively
    const plan = lowerModel(model);
    assert.deepEqual(plan.steps.map((s) => [s.op, s.layers]), [['resize', ['up']], ['conv', ['conv']], ['resize', ['to_size']], ['resize', ['odd_scale']]]);
    assertClose(runPlanReference(plan, x, model.outputShape), predicted, 1e-6, 'plan runner vs predict');

    const engine = await WasmEngine.create(model, { threads: 1 });
    try {
      assertClose(engine.predict(x), predicted, 1e-5, 'wasm engine vs predict');
    } finally {
      await engine.dispose();
    }
  });
});
