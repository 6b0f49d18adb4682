// Reference element-wise arithmetic with NumPy/ONNX broadcasting (shapes aligned at the right, size-1 axes
// stretched), and the reduction that turns a broadcast output's gradient back into an operand's.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape, sizeOf, stridesOf } from '../tensor/tensor.js';

export type ArithmeticOp = 'add' | 'sub' | 'mul' | 'div';

/** The shape both operands broadcast to; throws ShapeError naming `what` when an axis pair is neither equal nor 1. */
export function broadcastShape(a: readonly number[], b: readonly number[], what = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${i}: ${da} vs ${db})`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` read as `outShape` (right-aligned): 0 along stretched or missing axes. */
function stretchedStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

/** Visits every index of `shape` in row-major order, passing the matching offsets into each strided operand. */
function forEachOffset(shape: readonly number[], strides: readonly (readonly number[])[], visit: (i: number, offsets: readonly number[]) => void): void {
  const total = sizeOf(shape);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const offsets = strides.map(() => 0);
  for (let i = 0; i < total; i++) {
    visit(i, offsets);
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      for (let k = 0; k < strides.length; k++) offsets[k] += strides[k][axis];
      if (index[axis] < shape[axis]) break;
      for (let k = 0; k < strides.length; k++) offsets[k] -= strides[k][axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

const APPLY: Record<ArithmeticOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/** f over the broadcast of two arrays with shapes, into a fresh array from `make` (float32 or float64). */
export function broadcastMap<T extends Float32Array | Float64Array>(
  aShape: readonly number[],
  a: ArrayLike<number>,
  bShape: readonly number[],
  b: ArrayLike<number>,
  f: (x: number, y: number) => number,
  make: (length: number) => T,
): { shape: number[]; data: T } {
  if (sameShape(aShape, bShape)) {
    const out = make(a.length);
    for (let i = 0; i < out.length; i++) out[i] = f(a[i], b[i]);
    return { shape: [...aShape], data: out };
  }
  const shape = broadcastShape(aShape, bShape);
  const out = make(sizeOf(shape));
  forEachOffset(shape, [stretchedStrides(aShape, shape), stretchedStrides(bShape, shape)], (i, [oa, ob]) => {
    out[i] = f(a[oa], b[ob]);
  });
  return { shape, data: out };
}

/** a ∘ b element-wise with broadcasting, in float32: each result rounded once, which for + − × ÷ is float32 arithmetic exactly. */
export function broadcastArithmetic(a: Tensor, b: Tensor, op: ArithmeticOp): Tensor {
  broadcastShape(a.shape, b.shape, op);
  const { shape, data } = broadcastMap(a.shape, a.data, b.shape, b.data, APPLY[op], (n) => new Float32Array(n));
  return new Tensor(shape, data);
}

/** The scalar function of each arithmetic op. */
export function arithmeticFunction(op: ArithmeticOp): (x: number, y: number) => number {
  return APPLY[op];
}

/** Sums `x` over the axes along which an operand of shape `shape` was stretched to x's shape: that operand's gradient. */
export function reduceToShape(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  if (!sameShape(broadcastShape(shape, x.shape, 'reduceToShape'), x.shape)) throw new ShapeError(`reduceToShape: ${formatShape(shape)} does not broadcast to ${formatShape(x.shape)}`);
  const acc = new Float64Array(sizeOf(shape));
  const xd = x.data;
  forEachOffset(x.shape, [stretchedStrides(shape, x.shape)], (i, [o]) => {
    acc[o] += xd[i];
  });
  return new Tensor(shape, Float32Array.from(acc));
}
