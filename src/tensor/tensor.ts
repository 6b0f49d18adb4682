// The Tensor type: a shape and float32 data in row-major order, plus shape helpers.
// The engine keeps activations NHWC; the layout is a property of where a tensor is used, named in APIs.

import { ShapeError } from '../errors.js';

export type Shape = readonly number[];
/** Activation layouts the library accepts at its edges. The engine itself is NHWC. */
export type Layout = 'NHWC' | 'NCHW';

export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;

  constructor(shape: Shape, data?: Float32Array) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    }
    const size = sizeOf(shape);
    if (data !== undefined && data.length !== size) {
      throw new ShapeError(`shape [${shape.join(', ')}] needs ${size} values, got ${data.length}`);
    }
    this.shape = Object.freeze([...shape]);
    this.data = data ?? new Float32Array(size);
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** Same data, new shape with the same number of elements. */
  reshape(shape: Shape): Tensor {
    return new Tensor(shape, this.data);
  }

  clone(): Tensor {
    return new Tensor(this.shape, this.data.slice());
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throws a ShapeError naming `what` unless `t` has rank `rank`. */
export function expectRank(t: { shape: Shape }, rank: number, what: string): void {
  if (t.shape.length !== rank) {
    throw new ShapeError(`${what}: expected a rank-${rank} tensor, got shape ${formatShape(t.shape)}`);
  }
}

/** Permutes the axes of `t`: output axis i is input axis perm[i]. */
export function transpose(t: Tensor, perm: readonly number[]): Tensor {
  const rank = t.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(`transpose: permutation [${perm.join(', ')}] does not fit shape ${formatShape(t.shape)}`);
  }
  const outShape = perm.map((p) => t.shape[p]);
  const inStrides = stridesOf(t.shape);
  const stepOut = perm.map((p) => inStrides[p]);
  const out = new Float32Array(t.size);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = t.data[src];
    // advance the output multi-index, moving src by the matching input strides
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      src += stepOut[axis];
      if (index[axis] < outShape[axis]) break;
      src -= stepOut[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return new Tensor(outShape, out);
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Converts a rank-4 activation between NCHW and NHWC. */
export function toLayout(t: Tensor, from: Layout, to: Layout): Tensor {
  expectRank(t, 4, `${from} activation`);
  if (from === to) return t;
  return from === 'NCHW' ? transpose(t, [0, 2, 3, 1]) : transpose(t, [0, 3, 1, 2]);
}
