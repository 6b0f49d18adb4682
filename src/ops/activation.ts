// Reference element-wise activations: ReLU, ReLU6 (the papers' min(max(0, x), 6)), clip, softmax.
// Each returns a new tensor; NaN stays NaN. Backward of each from its output, with torch's boundary rules.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

export type Activation = 'linear' | 'relu' | 'relu6';

/** min(max(x, lo), hi); NaN passes through. */
export function clip(x: Tensor, lo: number, hi: number): Tensor {
  const out = new Float32Array(x.size);
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return new Tensor(x.shape, out);
}

export function relu(x: Tensor): Tensor {
  return clip(x, 0, Infinity);
}

export function relu6(x: Tensor): Tensor {
  return clip(x, 0, 6);
}

export function activate(x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return relu(x);
    case 'relu6':
      return relu6(x);
  }
}

/** Softmax over the last axis, shifted by the row maximum for stability. */
export function softmax(x: Tensor): Tensor {
  if (x.rank < 1) throw new ShapeError('softmax: input must have at least one axis');
  const k = x.shape[x.rank - 1];
  const out = new Float32Array(x.size);
  const d = x.data;
  for (let o = 0; o < d.length; o += k) {
    let max = -Infinity;
    for (let i = 0; i < k; i++) max = Math.max(max, d[o + i]);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Math.exp(d[o + i] - max);
    for (let i = 0; i < k; i++) out[o + i] = Math.exp(d[o + i] - max) / sum;
  }
  return new Tensor(x.shape, out);
}

/**
 * dL/dx of y = activate(x) from the output y, as torch: ReLU passes the gradient where y > 0;
 * ReLU6 (hardtanh(0, 6)) where 0 < y < 6, so nothing flows at or beyond either clip point.
 * For `linear` the gradient itself is returned.
 */
export function activationBackward(dy: Tensor, y: Tensor, activation: Activation): Tensor {
  if (!sameShape(dy.shape, y.shape)) throw new ShapeError(`activationBackward: gradient ${formatShape(dy.shape)} and output ${formatShape(y.shape)} differ`);
  if (activation === 'linear') return dy;
  const hi = activation === 'relu6' ? 6 : Infinity;
  const g = dy.data;
  const yd = y.data;
  const dx = new Float32Array(dy.size);
  for (let i = 0; i < dx.length; i++) {
    const v = yd[i];
    dx[i] = v > 0 && v < hi ? g[i] : 0;
  }
  return new Tensor(dy.shape, dx);
}

/** dL/dx of y = softmax(x) over the last axis: y ⊙ (dy − Σ dy·y). */
export function softmaxBackward(dy: Tensor, y: Tensor): Tensor {
  if (!sameShape(dy.shape, y.shape)) throw new ShapeError(`softmaxBackward: gradient ${formatShape(dy.shape)} and output ${formatShape(y.shape)} differ`);
  const k = y.shape[y.rank - 1];
  const g = dy.data;
  const yd = y.data;
  const dx = new Float32Array(dy.size);
  for (let o = 0; o < dx.length; o += k) {
    let dot = 0;
    for (let i = 0; i < k; i++) dot += g[o + i] * yd[o + i];
    for (let i = 0; i < k; i++) dx[o + i] = yd[o + i] * (g[o + i] - dot);
  }
  return new Tensor(dy.shape, dx);
}
