// Reference element-wise activations: ReLU, ReLU6 (the papers' min(max(0, x), 6)), clip, softmax.
// Each returns a new tensor; NaN stays NaN.

import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

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
