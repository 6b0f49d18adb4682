// TF.js graph ops that cut, stack and reshape values, as detector graphs use them on their outputs (Slice,
// StridedSlice, Split, SplitV, Unpack, Pack, ExpandDims): on our data in each value's frame (graph-batch.ts).

import { sameShape } from '../../tensor/tensor.js';
import type { Tensor } from '../../tensor/tensor.js';
import { sliceIndices } from '../graph-import/slice.js';
import { concatOurs, frameOf, inFrame, movedFold, ourAxis, oursShape, reshapeOurs, sliceOurs, tfShape } from './graph-batch.js';
import type { Frame } from './graph-batch.js';
import type { Activation, TfjsImporter, Value } from './graph-importer.js';
import { pack as packConstants, stridedSlice as stridedSliceConstant } from './graph-shapes.js';

/** A kept range of one TF axis (the batch's axis: begin 0, size NaN). */
interface Range {
  begin: number;
  size: number;
}

const BATCH_CUT = 'the slice would cut or drop the axis that carries the batch';

/** `v` cut to `ranges` (one per TF axis; the batch's axis whole), without the TF axes `keep` leaves out. */
function cut(im: TfjsImporter, v: Value, ranges: Range[], keep: boolean[], suffix = ''): Value {
  const frame = frameOf(v);
  const shape = tfShape(v);
  let data: Activation | Tensor = v.kind === 'constant' ? v.tensor : v;
  const sliced = [...oursShape(v)];
  ranges.forEach((r, axis) => {
    const our = ourAxis(frame, axis);
    if (our < 0) {
      if (r.begin !== 0 || !Number.isNaN(r.size) || !keep[axis]) throw im.unsupported(BATCH_CUT);
    } else if (r.size !== shape[axis]) {
      data = sliceOurs(im, data, our, r.begin, r.size, `${suffix}_axis${axis}`);
      sliced[our] = r.size;
    }
  });
  const dropped = keep.flatMap((k, axis) => (k ? [] : [axis]));
  const dropAxes = new Set(dropped.map((axis) => ourAxis(frame, axis)));
  const kept = sliced.filter((_, i) => !dropAxes.has(i));
  const moved = movedFold(frame, (fold) => fold - dropped.filter((axis) => axis < fold).length);
  return inFrame(reshapeOurs(im, inFrame(data, frame), kept, `${suffix}_reshape`), moved);
}

/** An axis given as input `k` or attribute (negative counts from the end of `rank`). */
function axisOf(im: TfjsImporter, given: number, rank: number): number {
  const axis = given < 0 ? given + rank : given;
  if (!(axis >= 0 && axis < rank)) throw im.invalid(`axis ${given} is outside rank ${rank}`);
  return axis;
}

/** TF Slice: `begin` and `size` per axis, size −1 meaning to the end. */
export function sliceOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = tfShape(v);
  const begin = im.intsInput(1, 'begin');
  const size = im.intsInput(2, 'size', -1);
  if (begin.length !== shape.length || size.length !== shape.length) throw im.invalid(`begin [${begin.join(', ')}] and size [${size.join(', ')}] must give one value per axis of a rank-${shape.length} value`);
  const ranges = shape.map((d, i) => ({ begin: begin[i], size: size[i] === -1 ? d - begin[i] : size[i] }));
  if (ranges.some((r, i) => r.begin < 0 || (!Number.isNaN(shape[i]) && (r.size < 0 || r.begin + r.size > shape[i])))) throw im.invalid(`begin [${begin.join(', ')}] and size [${size.join(', ')}] are outside the value's shape`);
  return cut(im, v, ranges, shape.map(() => true));
}

/** TF StridedSlice with stride 1 (any stride on 1-D plain constants, shapes): begin, end and shrink-axis masks; no ellipsis or new axes. */
export function stridedSliceOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const frame = frameOf(v);
  if (frame === null && v.kind === 'constant' && v.tensor.rank === 1) return stridedSliceConstant(im);
  const shape = tfShape(v);
  const [begin, end, strides] = [1, 2, 3].map((k, i) => im.intsInput(k, ['begin', 'end', 'strides'][i]));
  for (const mask of ['ellipsis_mask', 'new_axis_mask']) if (im.attrInt(mask, 0) !== 0) throw im.unsupported(`${mask}: only plain slices are supported`);
  if (begin.length > shape.length || end.length !== begin.length || strides.length !== begin.length) throw im.invalid(`begin, end and strides of lengths ${begin.length}, ${end.length}, ${strides.length} do not fit a rank-${shape.length} value`);
  const [beginMask, endMask, shrinkMask] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((m) => im.attrInt(m, 0));
  const bit = (mask: number, i: number): boolean => (mask & (1 << i)) !== 0;
  const ranges = shape.map((d, i): Range => {
    if (i >= begin.length) return { begin: 0, size: d };
    // the batch's axis stays whole: from 0 (or the begin mask) to the end mask, stride 1, not shrunk
    if (ourAxis(frame, i) < 0) {
      if (!((bit(beginMask, i) || begin[i] === 0) && bit(endMask, i) && !bit(shrinkMask, i) && strides[i] === 1)) throw im.unsupported(BATCH_CUT);
      return { begin: 0, size: d };
    }
    if (strides[i] !== 1) throw im.unsupported(`stride ${strides[i]} on axis ${i}: only stride 1 is supported`);
    if (bit(shrinkMask, i)) {
      const index = begin[i] < 0 ? begin[i] + d : begin[i];
      if (index < 0 || index >= d) throw im.invalid(`index ${begin[i]} is outside axis ${i} of size ${d}`);
      return { begin: index, size: 1 };
    }
    const kept = sliceIndices(d, bit(beginMask, i) ? 0 : begin[i], bit(endMask, i) ? d : end[i], 1);
    if (kept.length === 0) throw im.invalid(`the slice keeps no element of axis ${i}`);
    return { begin: kept[0], size: kept.length };
  });
  return cut(im, v, ranges, shape.map((_, i) => !bit(shrinkMask, i)));
}

/** The pieces of `v` cut along TF axis `axis` into `sizes`, output k of the node as `name:k` (`drop`: Unpack's pieces lose the axis). */
function pieces(im: TfjsImporter, v: Value, axis: number, sizes: number[], drop: boolean): Value {
  const shape = tfShape(v);
  if (ourAxis(frameOf(v), axis) < 0) throw im.unsupported('splitting along the axis that carries the batch');
  if (sizes.reduce((a, b) => a + b, 0) !== shape[axis] || sizes.some((s) => s < 1)) throw im.invalid(`pieces of sizes [${sizes.join(', ')}] do not fit axis ${axis} of size ${shape[axis]}`);
  let begin = 0;
  const values = sizes.map((size, k) => {
    const ranges = shape.map((d, i) => (i === axis ? { begin, size } : { begin: 0, size: d }));
    begin += size;
    return cut(im, v, ranges, shape.map((_, i) => !(drop && i === axis)), `_${k}`);
  });
  values.slice(1).forEach((value, k) => im.values.set(`${im.node.name}:${k + 1}`, value));
  return values[0];
}

/** Split: axis (input 0), value (input 1), num_split equal pieces. */
export function splitOp(im: TfjsImporter): Value {
  const v = im.required(1);
  const shape = tfShape(v);
  const axis = axisOf(im, im.intsInput(0, 'axis')[0], shape.length);
  const count = im.attrInt('num_split', 1);
  if (!(count >= 1) || shape[axis] % count !== 0) throw im.invalid(`axis ${axis} of size ${shape[axis]} does not split into ${count} equal pieces`);
  return pieces(im, v, axis, new Array<number>(count).fill(shape[axis] / count), false);
}

/** SplitV: value (input 0), size_splits (input 1, one −1 taking what is left), axis (input 2). */
export function splitVOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = tfShape(v);
  const axis = axisOf(im, im.intsInput(2, 'axis')[0], shape.length);
  const sizes = im.intsInput(1, 'size_splits');
  const given = sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
  return pieces(im, v, axis, sizes.map((s) => (s === -1 ? shape[axis] - given : s)), false);
}

/** Unpack (tf.unstack): `num` pieces of one element along `axis`, each without that axis. */
export function unpackOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = tfShape(v);
  const axis = axisOf(im, im.attrInt('axis', 0), shape.length);
  return pieces(im, v, axis, new Array<number>(shape[axis]).fill(1), true);
}

/** Our data with a new axis of size 1 where TF axis `axis` is inserted, in the frame that follows (the lead batch axis stays first). */
function withAxis(im: TfjsImporter, v: Value, axis: number, suffix = ''): { data: Activation | Tensor; frame: Frame } {
  const frame = frameOf(v);
  if (frame === 'lead' && axis === 0) throw im.unsupported('a new axis before the batch axis');
  const at = frame === 'lead' ? axis - 1 : axis;
  const ours = oursShape(v);
  const data = reshapeOurs(im, v, [...ours.slice(0, at), 1, ...ours.slice(at)], suffix);
  return { data, frame: movedFold(frame, (fold) => (fold >= axis ? fold + 1 : fold)) };
}

/** ExpandDims: a new axis of size 1 at `dim` (input 1). */
export function expandDimsOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const { data, frame } = withAxis(im, v, axisOf(im, im.intsInput(1, 'dim')[0], tfShape(v).length + 1));
  return inFrame(data, frame);
}

/** Pack (tf.stack) of plain constants, or of values in one frame and shape along an axis: each gains the axis, then all are joined. */
export function packOp(im: TfjsImporter): Value {
  const values = im.node.inputs.map((_, k) => im.required(k));
  if (values.every((v) => frameOf(v) === null)) return packConstants(im);
  const frame = JSON.stringify(frameOf(values[0]));
  const shape = oursShape(values[0]);
  if (values.some((v) => JSON.stringify(frameOf(v)) !== frame || v.kind !== values[0].kind || !sameShape(oursShape(v), shape))) {
    throw im.unsupported('stacking values of different kinds, shapes or batch axes');
  }
  const axis = axisOf(im, im.attrInt('axis', 0), tfShape(values[0]).length + 1);
  const parts = values.map((v, k) => withAxis(im, v, axis, `_expand${k}`));
  const at = frameOf(values[0]) === 'lead' ? axis - 1 : axis;
  return inFrame(concatOurs(im, parts.map((p) => p.data), at), parts[0].frame);
}
