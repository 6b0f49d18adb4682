// A TF value in our terms: where its batch is (graph-importer's BatchAxis: a first axis of its own, folded into another
// axis, or none for a plain constant), TF's axes as ours, and the moves done on a constant's data or by a layer.

import { Reshape } from '../../nn/core.js';
import { Concatenate, Transpose } from '../../nn/extra.js';
import { Slice } from '../../nn/slice.js';
import { concat, split } from '../../ops/concat.js';
import { Tensor, sameShape, transpose } from '../../tensor/tensor.js';
import type { Activation, BatchAxis, TfjsImporter, Value } from './graph-importer.js';

/** Where the value's batch is; null for a plain constant. */
export type Frame = BatchAxis | null;

export function frameOf(v: Value): Frame {
  return v.kind === 'activation' ? (v.batch ?? 'lead') : (v.batch ?? null);
}

/** Our shape: the symbol's per-sample shape, or the constant's. */
export function oursShape(v: Value): readonly number[] {
  return v.kind === 'activation' ? v.symbol.shape : v.tensor.shape;
}

/** TF's shape, NaN where the batch is (its own first axis, or the axis it is folded into). */
export function tfShape(v: Value): number[] {
  const frame = frameOf(v);
  const ours = [...oursShape(v)];
  if (frame === null) return ours;
  if (frame === 'lead') return [NaN, ...ours];
  ours[frame.fold] = NaN;
  return ours;
}

/** Our axis for TF axis `axis`, or −1 for the axis that carries the batch. */
export function ourAxis(frame: Frame, axis: number): number {
  if (frame === null) return axis;
  if (frame === 'lead') return axis - 1;
  return axis === frame.fold ? -1 : axis;
}

/** Our data (a layer's output or a constant's values) as a value in `frame`. */
export function inFrame(data: Activation | Tensor, frame: Frame): Value {
  if (data instanceof Tensor) return frame === null ? { kind: 'constant', tensor: data } : { kind: 'constant', tensor: data, batch: frame };
  return frame === null || frame === 'lead' ? { kind: 'activation', symbol: data.symbol } : { kind: 'activation', symbol: data.symbol, batch: frame };
}

/** The frame with the batch's fold axis moved by `move` (a TF axis index before → after); `lead` and none stay. */
export function movedFold(frame: Frame, move: (axis: number) => number): Frame {
  return frame === null || frame === 'lead' ? frame : { fold: move(frame.fold) };
}

/** The activation reshaped to per-sample `shape` (same size): no layer where the shape is already that. */
function reshapeActivation(im: TfjsImporter, x: Activation, shape: readonly number[], suffix = ''): Activation {
  if (sameShape(shape, x.symbol.shape)) return x;
  return im.apply(new Reshape(im.layerName(suffix), [...shape]), [x.symbol]);
}

/** Our data reshaped to `shape`. */
export function reshapeOurs(im: TfjsImporter, v: Value, shape: readonly number[], suffix = ''): Activation | Tensor {
  return v.kind === 'constant' ? v.tensor.reshape([...shape]) : reshapeActivation(im, v, shape, suffix);
}

/** Elements `begin` to `begin + size − 1` of our axis `axis`. */
export function sliceOurs(im: TfjsImporter, v: Activation | Tensor, axis: number, begin: number, size: number, suffix = ''): Activation | Tensor {
  if (v instanceof Tensor) return split(v, axis, [begin, size, v.shape[axis] - begin - size])[1];
  return im.apply(new Slice(im.layerName(suffix), axis, begin, size), [v.symbol]);
}

/** Our axes permuted: axis i of the result is axis perm[i]. */
export function transposeOurs(im: TfjsImporter, v: Value, perm: readonly number[]): Activation | Tensor {
  if (v.kind === 'constant') return transpose(v.tensor, perm);
  if (perm.every((p, i) => p === i)) return v;
  return im.apply(new Transpose(im.layerName(), [...perm]), [v.symbol]);
}

/** Values of one kind joined along our axis `axis`. */
export function concatOurs(im: TfjsImporter, parts: (Activation | Tensor)[], axis: number): Activation | Tensor {
  if (parts.length === 1) return parts[0];
  if (parts.every((p) => p instanceof Tensor)) return concat(parts as Tensor[], axis);
  return im.apply(new Concatenate(im.layerName(), axis, parts.length), (parts as Activation[]).map((p) => p.symbol));
}
