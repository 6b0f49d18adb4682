// Constant folding on host tensors for ONNX import: transposes (also as an index map, for permuting weight rows),
// matrix products and concatenation of initializers, integers kept exact.

import { formatShape, sizeOf } from '../../tensor/tensor.js';
import type { HostTensor } from './tensors.js';

const permuted = (shape: readonly number[], perm: readonly number[]): number[] => perm.map((i) => shape[i]);

/** For each element of transpose(x of `shape`, perm), flattened, the flat index in x it comes from. */
export function sourceIndex(shape: readonly number[], perm: readonly number[]): Int32Array {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const outShape = permuted(shape, perm);
  const step = perm.map((p) => strides[p]);
  const out = new Int32Array(s);
  const index = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = src;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis]++;
      src += step[axis];
      if (index[axis] < outShape[axis]) break;
      src -= step[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

export function permuteHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const order = sourceIndex(t.shape, perm);
  const data = t.dtype === 'float' ? new Float32Array(order.length) : new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) data[i] = t.data[order[i]];
  return { shape: permuted(t.shape, perm), dtype: t.dtype, data };
}

/** Matrix product of two 2-D constants (constant folding). */
export function matmulHost(a: HostTensor, b: HostTensor, fail: (message: string) => Error): HostTensor {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) throw fail(`cannot multiply [${a.shape.join(', ')}] by [${b.shape.join(', ')}]`);
  const [n, k] = a.shape;
  const m = b.shape[1];
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a.data[i * k + p] * b.data[p * m + j];
      out[i * m + j] = sum;
    }
  }
  return { shape: [n, m], dtype: 'float', data: out };
}

/** Concatenation of constants (constant folding). */
export function concatHost(tensors: HostTensor[], axis: number, fail: (message: string) => Error): HostTensor {
  const first = tensors[0].shape;
  if (tensors.some((t) => t.shape.length !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i]))) throw fail(`shapes ${tensors.map((t) => formatShape(t.shape)).join(', ')} differ outside axis ${axis}`);
  const outer = sizeOf(first.slice(0, axis));
  const inner = sizeOf(first.slice(axis + 1));
  const total = tensors.reduce((s, t) => s + t.shape[axis], 0);
  const integer = tensors.every((t) => t.dtype === 'int');
  const data = integer ? new Float64Array(outer * total * inner) : new Float32Array(outer * total * inner);
  let at = 0;
  for (const t of tensors) {
    const block = t.shape[axis] * inner;
    for (let o = 0; o < outer; o++) for (let i = 0; i < block; i++) data[o * total * inner + at + i] = t.data[o * block + i];
    at += block;
  }
  const shape = [...first];
  shape[axis] = total;
  return { shape, dtype: integer ? 'int' : 'float', data };
}
