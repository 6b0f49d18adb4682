// Reference concatenation of tensors along one axis and its inverse, the split that routes a concatenation's
// gradient back to each input.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sizeOf } from '../tensor/tensor.js';

/** Joins tensors equal in every axis but `axis`. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: no tensors');
  const first = tensors[0].shape;
  if (!(axis >= 0 && axis < first.length)) throw new ShapeError(`concat: axis ${axis} is outside rank ${first.length}`);
  for (const t of tensors) {
    if (t.rank !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeError(`concat: shapes ${tensors.map((x) => formatShape(x.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  const outer = sizeOf(first.slice(0, axis));
  const inner = sizeOf(first.slice(axis + 1));
  const total = tensors.reduce((sum, t) => sum + t.shape[axis], 0);
  const out = new Float32Array(outer * total * inner);
  let at = 0;
  for (const t of tensors) {
    const block = t.shape[axis] * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * block, (o + 1) * block), o * total * inner + at);
    at += block;
  }
  const shape = [...first];
  shape[axis] = total;
  return new Tensor(shape, out);
}

/** Cuts `x` along `axis` into pieces of the given sizes (the backward of concat). */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!(axis >= 0 && axis < x.rank) || x.shape[axis] !== total) throw new ShapeError(`split: sizes [${sizes.join(', ')}] do not fit axis ${axis} of ${formatShape(x.shape)}`);
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  let at = 0;
  return sizes.map((size) => {
    const block = size * inner;
    const out = new Float32Array(outer * block);
    for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * total * inner + at, o * total * inner + at + block), o * block);
    at += block;
    const shape = [...x.shape];
    shape[axis] = size;
    return new Tensor(shape, out);
  });
}
