// Reference argmax over the last axis (the channels of an NHWC map): each position's label index, the first on
// ties as numpy and TF do, held as float32 so that a label map travels as any other tensor.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

/** [..., C] → [...]: the index of the largest of the C values at each position. */
export function argmaxLastAxis(x: Tensor): Tensor {
  if (x.rank < 2) throw new ShapeError(`argmax: input ${formatShape(x.shape)} needs a batch axis and a class axis`);
  const classes = x.shape[x.rank - 1];
  if (classes < 1) throw new ShapeError(`argmax: input ${formatShape(x.shape)} has no classes`);
  const out = new Tensor(x.shape.slice(0, -1));
  for (let p = 0; p < out.data.length; p++) {
    const base = p * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (x.data[base + c] > x.data[base + best]) best = c;
    out.data[p] = best;
  }
  return out;
}
