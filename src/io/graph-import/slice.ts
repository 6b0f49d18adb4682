// The indices a strided slice keeps along one axis, as ONNX Slice and TF StridedSlice both define them: negative
// bounds count from the end, then clamp to the axis ([0, size] going forwards, [−1, size − 1] going backwards).

/** Indices from `start` towards `end` (exclusive) by `step` (non-zero) along an axis of `size`. */
export function sliceIndices(size: number, start: number, end: number, step: number): number[] {
  const resolve = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + size : v, lo), hi);
  const from = resolve(start, 0, step > 0 ? size : size - 1);
  const to = step > 0 ? resolve(end, 0, size) : resolve(end, -1, size - 1);
  const kept: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) kept.push(i);
  return kept;
}
