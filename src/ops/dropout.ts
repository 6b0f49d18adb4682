// Reference dropout in training mode: a seeded keep-mask with the inverted scaling 1/(1 − rate) baked
// in, so the forward and the backward are the same element-wise product.

import { ConfigError, ShapeError } from '../errors.js';
import type { Random } from '../tensor/random.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

/** Per-element factors: 0 with probability `rate`, else 1/(1 − rate) (torch's and Keras's inverted dropout). */
export function dropoutMask(size: number, rate: number, rng: Random): Float32Array {
  if (!(rate >= 0 && rate < 1)) throw new ConfigError(`dropout rate must be in [0, 1), got ${rate}`);
  const mask = new Float32Array(size);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < size; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  return mask;
}

/** x ⊙ mask: the dropout forward, and its backward on the gradient. */
export function applyMask(x: Tensor, mask: Float32Array): Tensor {
  if (mask.length !== x.size) throw new ShapeError(`applyMask: mask has ${mask.length} values, tensor ${formatShape(x.shape)} has ${x.size}`);
  const out = new Float32Array(x.size);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] * mask[i];
  return new Tensor(x.shape, out);
}
