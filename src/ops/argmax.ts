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
  out.data.set(argmaxLabels(x.data, out.data.length, classes));
  return out;
}

/** The label of each of `positions` rows of `classes` scores (channels last): its largest score's index, the first on ties. */
export function argmaxLabels(scores: ArrayLike<number>, positions: number, classes: number): Uint8Array | Uint16Array {
  const labels = classes <= 256 ? new Uint8Array(positions) : new Uint16Array(positions);
  for (let p = 0; p < positions; p++) {
    const base = p * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[base + c] > scores[base + best]) best = c;
    labels[p] = best;
  }
  return labels;
}
