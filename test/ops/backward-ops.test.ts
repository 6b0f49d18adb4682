// Backward of every reference op against float64 central differences of a naive float64 forward, on
// awkward small shapes: stride 2 on odd and even sizes, torch vs same padding, groups, depth multiplier 2, dilation, batch 3.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Activation } from '../../src/ops/activation.js';
import { activate, activationBackward, softmax, softmaxBackward } from '../../src/ops/activation.js';
import type { Conv2DParams } from '../../src/ops/conv2d.js';
import { conv2d, conv2dBackwardInput, conv2dBackwardKernel } from '../../src/ops/conv2d.js';
import { dense, denseBackwardInput, denseBackwardKernel } from '../../src/ops/dense.js';
import { applyMask, dropoutMask } from '../../src/ops/dropout.js';
import { sumToChannels } from '../../src/ops/elementwise.js';
import type { PaddingMode } from '../../src/ops/geometry.js';
import { resolvePadding } from '../../src/ops/geometry.js';
import { batchNorm, batchNormBackward, batchNormTrain, updateMovingStatistics } from '../../src/ops/normalization.js';
import { zeroPad2d, zeroPad2dBackward } from '../../src/ops/pad.js';
import type { Pool2DParams } from '../../src/ops/pool.js';
import { avgPool2d, avgPool2dBackward, globalAvgPool, globalAvgPoolBackward, globalMaxPool, globalMaxPoolBackward, maxPool2d, maxPool2dBackward } from '../../src/ops/pool.js';
import { softmaxCrossEntropy } from '../../src/train/loss.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { ConvGeometry } from '../support/gradient-check.js';
import { assertGradient, batchNormInference64, batchNormTrain64, conv64, crossEntropy64, dot, numericGradient, operand, pool64 } from '../support/gradient-check.js';

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  kernel: [number, number];
  cout: number;
  groups: number;
  strides: [number, number];
  dilations?: [number, number];
  padding: PaddingMode;
  bias: boolean;
}

const CONV_CASES: ConvCase[] = [
  { name: '3×3 stride 2, odd 7×7, torch padding, bias, batch 3', x: [3, 7, 7, 3], kernel: [3, 3], cout: 5, groups: 1, strides: [2, 2], padding: 'torch', bias: true },
  { name: '3×3 stride 2, even 6×8, same padding (0 before, 1 after)', x: [2, 6, 8, 3], kernel: [3, 3], cout: 4, groups: 1, strides: [2, 2], padding: 'same', bias: false },
  { name: 'groups 2, 3×2 kernel, strides [1, 2], explicit padding', x: [2, 5, 6, 4], kernel: [3, 2], cout: 6, groups: 2, strides: [1, 2], padding: [1, 0, 2, 1], bias: true },
  { name: 'depthwise, depth multiplier 2, stride 2, same padding on odd 7×6', x: [3, 7, 6, 3], kernel: [3, 3], cout: 6, groups: 3, strides: [2, 2], padding: 'same', bias: true },
  { name: 'depthwise 3×3 stride 2 torch padding on even 6×6', x: [2, 6, 6, 5], kernel: [3, 3], cout: 5, groups: 5, strides: [2, 2], padding: 'torch', bias: false },
  { name: 'dilation 2, torch padding, 5×5', x: [2, 5, 5, 2], kernel: [3, 3], cout: 3, groups: 1, strides: [1, 1], dilations: [2, 2], padding: 'torch', bias: true },
  { name: 'pointwise 1×1, batch 3', x: [3, 3, 4, 5], kernel: [1, 1], cout: 7, groups: 1, strides: [1, 1], padding: 'valid', bias: true },
];

describe('conv2d backward vs central differences', () => {
  for (const c of CONV_CASES) {
    it(c.name, () => {
      const dilations = c.dilations ?? [1, 1];
      const padding = resolvePadding(c.padding, c.x[1], c.x[2], { kernel: c.kernel, strides: c.strides, dilations });
      const p: Conv2DParams = { strides: c.strides, dilations, padding, groups: c.groups };
      const geometry: ConvGeometry = p;
      const wShape = [c.kernel[0], c.kernel[1], c.x[3] / c.groups, c.cout];
      const x = operand(c.x, 1);
      const w = operand(wShape, 2);
      const b = operand([c.cout], 3);
      const bias = c.bias ? b : null;
      const y = conv2d(x.t, w.t, bias ? bias.t.data : null, p);
      const ref = conv64(x.d, c.x, w.d, wShape, bias?.d ?? null, geometry);
      assert.deepEqual([...y.shape], ref.shape);
      assertGradient(y, ref.y, 'forward', 1e-6);
      const r = operand(y.shape, 4);
      const loss = (): number => dot(conv64(x.d, c.x, w.d, wShape, bias?.d ?? null, geometry).y, r.d);
      assertGradient(conv2dBackwardInput(r.t, w.t, x.t.shape, p), numericGradient(loss, x.d), 'dX');
      assertGradient(conv2dBackwardKernel(x.t, r.t, w.t.shape, p), numericGradient(loss, w.d), 'dW');
      if (bias) assertGradient(sumToChannels(r.t), numericGradient(loss, bias.d), 'dBias');
    });
  }
});

describe('BatchNorm backward vs central differences', () => {
  for (const [name, shape] of [
    ['training mode, batch 3, 4×5 pixels', [3, 4, 5, 6]],
    ['training mode, 1×1 feature maps and batch 4 (4 values per channel)', [4, 1, 1, 5]],
  ] as const) {
    it(name, () => {
      const c = shape[3];
      const x = operand(shape, 11, -2, 3);
      const gamma = operand([c], 12, 0.5, 1.5);
      const beta = operand([c], 13);
      const { y, stats } = batchNormTrain(x.t, gamma.t.data, beta.t.data, 1e-5);
      const ref = batchNormTrain64(x.d, c, gamma.d, beta.d, 1e-5);
      assertGradient(y, ref.y, 'forward', 1e-6);
      assertGradient(stats.mean, ref.mean, 'batch mean', 1e-6);
      assertGradient(stats.variance, ref.variance, 'biased batch variance', 1e-6);
      const r = operand(shape, 14);
      const loss = (): number => dot(batchNormTrain64(x.d, c, gamma.d, beta.d, 1e-5).y, r.d);
      const g = batchNormBackward(r.t, x.t, gamma.t.data, stats.mean, stats.invStd, true);
      assertGradient(g.dx, numericGradient(loss, x.d), 'dX (through the batch statistics)', 1e-4);
      assertGradient(g.dGamma, numericGradient(loss, gamma.d), 'dγ');
      assertGradient(g.dBeta, numericGradient(loss, beta.d), 'dβ');
    });
  }

  it('inference mode (moving statistics fixed)', () => {
    const shape = [3, 3, 2, 4];
    const x = operand(shape, 21, -2, 2);
    const gamma = operand([4], 22, 0.5, 1.5);
    const beta = operand([4], 23);
    const mean = operand([4], 24);
    const variance = operand([4], 25, 0.2, 2);
    const eps = 1e-3;
    const y = batchNorm(x.t, { gamma: gamma.t.data, beta: beta.t.data, mean: mean.t.data, variance: variance.t.data, epsilon: eps });
    assertGradient(y, batchNormInference64(x.d, 4, gamma.d, beta.d, mean.d, variance.d, eps), 'forward', 1e-6);
    const r = operand(shape, 26);
    const loss = (): number => dot(batchNormInference64(x.d, 4, gamma.d, beta.d, mean.d, variance.d, eps), r.d);
    const invStd = variance.t.data.map((v) => 1 / Math.sqrt(v + eps));
    const g = batchNormBackward(r.t, x.t, gamma.t.data, mean.t.data, invStd, false);
    assertGradient(g.dx, numericGradient(loss, x.d), 'dX');
    assertGradient(g.dGamma, numericGradient(loss, gamma.d), 'dγ');
    assertGradient(g.dBeta, numericGradient(loss, beta.d), 'dβ');
  });

  it('running statistics: unbiased variance, Keras momentum (weight of the old value)', () => {
    const x = operand([2, 3, 1, 2], 31, -1, 3);
    const { stats } = batchNormTrain(x.t, new Float32Array([1, 1]), new Float32Array(2), 1e-5);
    const movingMean = new Float32Array([0.5, -0.25]);
    const movingVariance = new Float32Array([2, 0.5]);
    updateMovingStatistics(movingMean, movingVariance, stats, 0.9); // torch's momentum 0.1
    for (let ch = 0; ch < 2; ch++) {
      const v = [...x.d].filter((_, i) => i % 2 === ch);
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      const unbiased = v.reduce((s, a) => s + (a - mean) ** 2, 0) / (v.length - 1);
      assert.ok(Math.abs(movingMean[ch] - (0.9 * [0.5, -0.25][ch] + 0.1 * mean)) < 1e-6, `moving mean ${ch}`);
      assert.ok(Math.abs(movingVariance[ch] - (0.9 * [2, 0.5][ch] + 0.1 * unbiased)) < 1e-6, `moving variance ${ch}`);
    }
  });

  it('refuses batch statistics of a single value per channel', () => {
    assert.throws(() => batchNormTrain(new Tensor([1, 1, 1, 3]), new Float32Array(3), new Float32Array(3), 1e-5), /more than one value/);
  });
});

describe('activation backward', () => {
  for (const activation of ['relu', 'relu6'] as Activation[]) {
    it(`${activation} vs central differences, batch 3`, () => {
      const x = operand([3, 2, 3, 4], 41, -3, 9);
      const cap = activation === 'relu6' ? 6 : Infinity;
      const f = (): Float64Array => x.d.map((v) => Math.min(Math.max(v, 0), cap));
      const y = activate(x.t, activation);
      assertGradient(y, f(), 'forward', 0);
      const r = operand(y.shape, 42);
      assertGradient(activationBackward(r.t, y, activation), numericGradient(() => dot(f(), r.d), x.d), 'dX');
    });
  }

  it('passes nothing at or beyond the clip points (torch: ReLU where y > 0, hardtanh where 0 < x < 6)', () => {
    const x = new Tensor([7], new Float32Array([-1, 0, 1e-7, 3, 6 - 1e-6, 6, 7]));
    const ones = new Tensor([7], new Float32Array(7).fill(1));
    assert.deepEqual([...activationBackward(ones, activate(x, 'relu6'), 'relu6').data], [0, 0, 1, 1, 1, 0, 0]);
    assert.deepEqual([...activationBackward(ones, activate(x, 'relu'), 'relu').data], [0, 0, 1, 1, 1, 1, 1]);
    assert.equal(activationBackward(ones, x, 'linear'), ones);
  });

  it('softmax vs central differences', () => {
    const x = operand([3, 5], 43, -2, 2);
    const f = (): Float64Array => {
      const out = new Float64Array(x.d.length);
      for (let b = 0; b < 3; b++) {
        const row = x.d.subarray(b * 5, b * 5 + 5);
        const z = row.reduce((s, v) => s + Math.exp(v), 0);
        row.forEach((v, i) => (out[b * 5 + i] = Math.exp(v) / z));
      }
      return out;
    };
    const r = operand([3, 5], 44);
    assertGradient(softmaxBackward(r.t, softmax(x.t)), numericGradient(() => dot(f(), r.d), x.d), 'dX');
  });
});

describe('padding, pooling and dense backward vs central differences', () => {
  it('zero padding [1, 2, 0, 3], batch 3', () => {
    const pad = [1, 2, 0, 3] as const;
    const x = operand([3, 3, 2, 2], 51);
    const y = zeroPad2d(x.t, pad);
    const r = operand(y.shape, 52);
    // the padded copy: y[b, i + top, j + left] = x[b, i, j]
    const f = (): Float64Array => {
      const out = new Float64Array(y.size);
      for (let b = 0; b < 3; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let ch = 0; ch < 2; ch++) out[((b * 6 + i + 1) * 5 + j) * 2 + ch] = x.d[((b * 3 + i) * 2 + j) * 2 + ch];
      return out;
    };
    assertGradient(y, f(), 'forward', 0);
    assertGradient(zeroPad2dBackward(r.t, pad), numericGradient(() => dot(f(), r.d), x.d), 'dX');
  });

  it('global average and max pooling, batch 3', () => {
    const shape = [3, 3, 5, 4];
    const x = operand(shape, 53);
    const r = operand([3, 4], 54);
    const gap = (): Float64Array => pool64(x.d, shape, [3, 5], [1, 1], [0, 0, 0, 0], 'avg');
    const gmp = (): Float64Array => pool64(x.d, shape, [3, 5], [1, 1], [0, 0, 0, 0], 'max');
    assertGradient(globalAvgPool(x.t), gap(), 'avg forward', 1e-6);
    assertGradient(globalMaxPool(x.t), gmp(), 'max forward', 0);
    assertGradient(globalAvgPoolBackward(r.t, shape), numericGradient(() => dot(gap(), r.d), x.d), 'avg dX');
    assertGradient(globalMaxPoolBackward(r.t, x.t), numericGradient(() => dot(gmp(), r.d), x.d), 'max dX');
  });

  it('global max pooling shares the gradient among tied maxima (torch.amax)', () => {
    const x = new Tensor([1, 2, 2, 1], new Float32Array([3, 1, 3, 3]));
    assert.deepEqual([...globalMaxPoolBackward(new Tensor([1, 1], new Float32Array([0.75])), x).data], [0.25, 0, 0.25, 0.25]);
  });

  for (const [name, size, k, s, pad, countIncludePad] of [
    ['3×3 stride 2 on odd 7×7, padding 1, Keras divisor', [3, 7, 7, 2], [3, 3], [2, 2], [1, 1, 1, 1], false],
    ['3×3 stride 2 on even 6×8, padding 1, torch divisor (count_include_pad)', [2, 6, 8, 3], [3, 3], [2, 2], [1, 1, 1, 1], true],
    ['2×3 stride [2, 1] same padding on 5×4, Keras divisor', [2, 5, 4, 2], [2, 3], [2, 1], [0, 1, 1, 1], false],
  ] as const) {
    it(`average and max pooling: ${name}`, () => {
      const x = operand(size, 55);
      const p: Pool2DParams = { kernel: k, strides: s, dilations: [1, 1], padding: pad, countIncludePad };
      const avg = (): Float64Array => pool64(x.d, size, k, s, pad, 'avg', countIncludePad);
      const max = (): Float64Array => pool64(x.d, size, k, s, pad, 'max');
      const ya = avgPool2d(x.t, p);
      const ym = maxPool2d(x.t, p);
      assertGradient(ya, avg(), 'avg forward', 1e-6);
      assertGradient(ym, max(), 'max forward', 0);
      const r = operand(ya.shape, 56);
      assertGradient(avgPool2dBackward(r.t, size, p), numericGradient(() => dot(avg(), r.d), x.d), 'avg dX');
      assertGradient(maxPool2dBackward(r.t, x.t, p), numericGradient(() => dot(max(), r.d), x.d), 'max dX');
    });
  }

  it('max pooling sends a tie to the first maximum, as torch', () => {
    const x = new Tensor([1, 2, 2, 1], new Float32Array([1, 5, 5, 2]));
    const p: Pool2DParams = { kernel: [2, 2], strides: [2, 2], dilations: [1, 1], padding: [0, 0, 0, 0], countIncludePad: false };
    assert.deepEqual([...maxPool2dBackward(new Tensor([1, 1, 1, 1], new Float32Array([1])), x, p).data], [0, 1, 0, 0]);
  });

  it('dense, batch 3', () => {
    const x = operand([3, 7], 57);
    const w = operand([7, 4], 58);
    const b = operand([4], 59);
    const f = (): Float64Array => {
      const out = new Float64Array(12);
      for (let n = 0; n < 3; n++) for (let j = 0; j < 4; j++) {
        let s = b.d[j];
        for (let i = 0; i < 7; i++) s += x.d[n * 7 + i] * w.d[i * 4 + j];
        out[n * 4 + j] = s;
      }
      return out;
    };
    assertGradient(dense(x.t, w.t, b.t.data), f(), 'forward', 1e-6);
    const r = operand([3, 4], 60);
    const loss = (): number => dot(f(), r.d);
    assertGradient(denseBackwardInput(r.t, w.t), numericGradient(loss, x.d), 'dX');
    assertGradient(denseBackwardKernel(x.t, r.t), numericGradient(loss, w.d), 'dW');
    assertGradient(sumToChannels(r.t), numericGradient(loss, b.d), 'dBias');
  });
});

describe('dropout (training mode)', () => {
  it('a seeded mask of zeros and 1/(1 − p), the same product backward', () => {
    const rate = 0.3;
    const mask = dropoutMask(20000, rate, new Random(5));
    assert.deepEqual(mask, dropoutMask(20000, rate, new Random(5)), 'same seed, same mask');
    const dropped = mask.filter((v) => v === 0).length / mask.length;
    assert.ok(Math.abs(dropped - rate) < 0.015, `dropped fraction ${dropped}`);
    assert.ok(mask.every((v) => v === 0 || Math.abs(v - 1 / (1 - rate)) < 1e-6), 'kept values scaled by 1/(1 − p)');
    const x = operand([4, 5], 61);
    const small = dropoutMask(20, 0.5, new Random(6));
    const r = operand([4, 5], 62);
    const f = (): Float64Array => x.d.map((v, i) => v * small[i]);
    assertGradient(applyMask(x.t, small), f(), 'forward', 0);
    assertGradient(applyMask(r.t, small), numericGradient(() => dot(f(), r.d), x.d), 'dX');
  });
});

describe('softmax cross-entropy', () => {
  for (const smoothing of [0, 0.1, 0.35]) {
    it(`label smoothing ${smoothing}: torch's formula and its gradient, batch 3`, () => {
      const logits = operand([3, 6], 71, -3, 3);
      const labels = [4, 0, 5];
      const r = softmaxCrossEntropy(logits.t, Int32Array.from(labels), { labelSmoothing: smoothing });
      const f = (): number => crossEntropy64(logits.d, 6, labels, smoothing);
      assert.ok(Math.abs(r.loss - f()) < 1e-12, `loss ${r.loss} vs ${f()}`);
      assertGradient(r.gradient, numericGradient(f, logits.d), 'dLogits');
    });
  }

  it('rejects labels outside the classes and a wrong count', () => {
    const logits = new Tensor([2, 3]);
    assert.throws(() => softmaxCrossEntropy(logits, [0, 3]), /label 3 of sample 1/);
    assert.throws(() => softmaxCrossEntropy(logits, [0]), /1 labels for a batch of 2/);
    assert.throws(() => softmaxCrossEntropy(logits, [0, 1], { labelSmoothing: 1 }), /labelSmoothing/);
  });
});
