// Reference element-wise arithmetic on same-shaped tensors: the residual add.

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
