// Gradient-check helpers for the backward tests: float64 central differences, and naive float64 forwards
// of each op written straight from its definition (independent of src/ops), to differentiate numerically.

import assert from 'node:assert/strict';
import type { Padding4 } from '../../src/ops/geometry.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** A float32 tensor and the same values in float64, for our kernels and the references alike. */
export interface Operand {
  t: Tensor;
  d: Float64Array;
}

export function operand(shape: readonly number[], seed: number, lo = -1, hi = 1): Operand {
  const t = new Tensor(shape, new Random(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), lo, hi));
  return { t, d: Float64Array.from(t.data) };
}

/**
 * dF/d(values) by central differences: values are nudged in place and restored. All of them, or only
 * `indices` (the other entries of the result stay 0).
 */
export function numericGradient(f: () => number, values: Float64Array | Float32Array, eps = 1e-6, indices?: readonly number[]): Float64Array {
  const grad = new Float64Array(values.length);
  for (const i of indices ?? values.keys()) {
    const v = values[i];
    values[i] = v + eps;
    const up = f();
    values[i] = v - eps;
    const down = f();
    values[i] = v;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** Σ weights·values: a scalar loss whose gradient with respect to `values` is `weights`. */
export function dot(values: Float64Array, weights: Float64Array): number {
  assert.equal(values.length, weights.length, 'dot: lengths differ');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * weights[i];
  return s;
}

/** |actual − expected| ≤ tol·max|expected| + floor, element by element. */
export function assertGradient(actual: Tensor | Float32Array, expected: Float64Array, what: string, tol = 2e-5, floor = 1e-7): void {
  const a = actual instanceof Tensor ? actual.data : actual;
  assert.equal(a.length, expected.length, `${what}: ${a.length} values, expected ${expected.length}`);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(scale > 0 || worst <= floor, `${what}: expected gradient is all zero and ours is not`);
  assert.ok(worst <= tol * scale + floor, `${what}: max |a − b| = ${worst.toExponential(3)} at ${at} (ours ${a[at]}, numeric ${expected[at]}) > ${tol}·${scale.toExponential(3)} + ${floor}`);
}

export interface ConvGeometry {
  strides: readonly [number, number];
  dilations: readonly [number, number];
  padding: Padding4;
  groups: number;
}

/** y[b, oy, ox, o] = bias[o] + Σ x[b, oy·s − pad + ky·d, …, group(o)·Cin/g + i]·w[ky, kx, i, o]. */
export function conv64(x: Float64Array, xShape: readonly number[], w: Float64Array, wShape: readonly number[], bias: Float64Array | null, g: ConvGeometry): { y: Float64Array; shape: number[] } {
  const [n, h, wd, c] = xShape;
  const [kh, kw, cpg, cout] = wShape;
  const [t, b, l, r] = g.padding;
  const oh = Math.floor((h + t + b - (kh - 1) * g.dilations[0] - 1) / g.strides[0]) + 1;
  const ow = Math.floor((wd + l + r - (kw - 1) * g.dilations[1] - 1) / g.strides[1]) + 1;
  const opg = cout / g.groups;
  const y = new Float64Array(n * oh * ow * cout);
  for (let bi = 0; bi < n; bi++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let o = 0; o < cout; o++) {
          const group = Math.floor(o / opg);
          let s = bias ? bias[o] : 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++)
              for (let i = 0; i < cpg; i++) {
                const iy = oy * g.strides[0] - t + ky * g.dilations[0];
                const ix = ox * g.strides[1] - l + kx * g.dilations[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += x[((bi * h + iy) * wd + ix) * c + group * cpg + i] * w[((ky * kw + kx) * cpg + i) * cout + o];
              }
          y[((bi * oh + oy) * ow + ox) * cout + o] = s;
        }
  return { y, shape: [n, oh, ow, cout] };
}

/** Training BatchNorm: per channel, mean and biased variance over every other axis. */
export function batchNormTrain64(x: Float64Array, c: number, gamma: Float64Array, beta: Float64Array, eps: number): { y: Float64Array; mean: Float64Array; variance: Float64Array } {
  const m = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i] / m;
  for (let i = 0; i < x.length; i++) variance[i % c] += (x[i] - mean[i % c]) ** 2 / m;
  const y = x.map((v, i) => ((v - mean[i % c]) / Math.sqrt(variance[i % c] + eps)) * gamma[i % c] + beta[i % c]);
  return { y, mean, variance };
}

export function batchNormInference64(x: Float64Array, c: number, gamma: Float64Array, beta: Float64Array, mean: Float64Array, variance: Float64Array, eps: number): Float64Array {
  return x.map((v, i) => ((v - mean[i % c]) / Math.sqrt(variance[i % c] + eps)) * gamma[i % c] + beta[i % c]);
}

/** Window pooling in float64; `mode` avg divides by the pixels inside (or the padded window with countIncludePad). */
export function pool64(x: Float64Array, xShape: readonly number[], k: readonly [number, number], s: readonly [number, number], pad: Padding4, mode: 'avg' | 'max', countIncludePad = false): Float64Array {
  const [n, h, w, c] = xShape;
  const oh = Math.floor((h + pad[0] + pad[1] - k[0]) / s[0]) + 1;
  const ow = Math.floor((w + pad[2] + pad[3] - k[1]) / s[1]) + 1;
  const y = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let acc = mode === 'avg' ? 0 : -Infinity;
          let inside = 0;
          let padded = 0;
          for (let ky = 0; ky < k[0]; ky++)
            for (let kx = 0; kx < k[1]; kx++) {
              const iy = oy * s[0] - pad[0] + ky;
              const ix = ox * s[1] - pad[2] + kx;
              if (iy < h + pad[1] && ix < w + pad[3]) padded++;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              inside++;
              const v = x[((b * h + iy) * w + ix) * c + ch];
              acc = mode === 'avg' ? acc + v : Math.max(acc, v);
            }
          y[((b * oh + oy) * ow + ox) * c + ch] = mode === 'max' ? acc : acc / (countIncludePad ? padded : inside);
        }
  return y;
}

/** torch's CrossEntropyLoss(label_smoothing=ε), mean reduction: (1 − ε)·NLL + ε·mean over classes of −log p. */
export function crossEntropy64(logits: Float64Array, k: number, labels: readonly number[], smoothing: number): number {
  const n = labels.length;
  let total = 0;
  for (let b = 0; b < n; b++) {
    const row = logits.subarray(b * k, (b + 1) * k);
    const z = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    const logp = row.map((v) => v - z);
    const nll = -logp[labels[b]];
    const smooth = -logp.reduce((s, v) => s + v, 0) / k;
    total += (1 - smoothing) * nll + smoothing * smooth;
  }
  return total / n;
}
