// Reference element-wise arithmetic on same-shaped tensors: the residual add, gradient accumulation,
// and the per-channel sum that is every bias's gradient.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

export function add(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) throw new ShapeError(`add: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
  const out = new Float32Array(a.size);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < out.length; i++) out[i] = ad[i] + bd[i];
  return new Tensor(a.shape, out);
}

/** Sum over every axis but the last: the gradient of a per-channel bias (conv, dense, BN β). */
export function sumToChannels(x: Tensor): Tensor {
  if (x.rank < 1) throw new ShapeError(`sumToChannels: input needs a channel axis, got ${formatShape(x.shape)}`);
  const c = x.shape[x.rank - 1];
  const acc = new Float64Array(c);
  const d = x.data;
  for (let o = 0; o < d.length; o += c) for (let i = 0; i < c; i++) acc[i] += d[o + i];
  return new Tensor([c], Float32Array.from(acc));
}

/** acc += x in place: gradients of a tensor read by several layers add up. */
export function addInPlace(acc: Tensor, x: Tensor): void {
  if (!sameShape(acc.shape, x.shape)) throw new ShapeError(`addInPlace: shapes ${formatShape(acc.shape)} and ${formatShape(x.shape)} differ`);
  const a = acc.data;
  const b = x.data;
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}
