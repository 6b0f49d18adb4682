// TF.js graph ops that cut, stack and reshape values, as detector graphs use them on their outputs (Slice,
// StridedSlice, Split, SplitV, Unpack, Pack, ExpandDims): folded on constants, Slice/Reshape/Concatenate layers on activations.

import { Reshape } from '../../nn/core.js';
import { Concatenate } from '../../nn/extra.js';
import { Slice } from '../../nn/slice.js';
import { split } from '../../ops/concat.js';
import { sameShape } from '../../tensor/tensor.js';
import { sliceIndices } from '../graph-import/slice.js';
import type { Activation, TfjsImporter, Value } from './graph-importer.js';
import { pack as packConstants, stridedSlice as stridedSliceConstant } from './graph-shapes.js';

/** A kept range of one axis. */
interface Range {
  begin: number;
  size: number;
}

/** The value's shape with the batch axis first (NaN: unknown until run time, for activations). */
const fullShape = (v: Value): number[] => (v.kind === 'constant' ? [...v.tensor.shape] : [NaN, ...v.symbol.shape]);

/** The activation reshaped to per-sample `shape` (same size): no layer where the shape is already that. */
export function reshapeActivation(im: TfjsImporter, x: Activation, shape: readonly number[], suffix = ''): Activation {
  if (sameShape(shape, x.symbol.shape)) return x;
  return im.apply(new Reshape(im.layerName(suffix), [...shape]), [x.symbol]);
}

/** `v` cut to `ranges` (one per axis of the full shape, the batch axis first, which must stay whole), then reshaped to `keep`'s axes. */
function cut(im: TfjsImporter, v: Value, ranges: Range[], keep: boolean[], suffix = ''): Value {
  const shape = fullShape(v);
  const outShape = ranges.map((r) => r.size).filter((_, i) => keep[i]);
  if (v.kind === 'constant') {
    let t = v.tensor;
    ranges.forEach((r, axis) => {
      if (r.size !== t.shape[axis]) t = split(t, axis, [r.begin, r.size, t.shape[axis] - r.begin - r.size])[1];
    });
    return { kind: 'constant', tensor: t.reshape(outShape) };
  }
  if (!keep[0] || ranges[0].begin !== 0 || !Number.isNaN(ranges[0].size)) throw im.unsupported('the slice would cut or drop the batch axis');
  let x: Activation = v;
  ranges.forEach((r, axis) => {
    if (axis > 0 && r.size !== shape[axis]) x = im.apply(new Slice(im.layerName(`${suffix}_axis${axis}`), axis - 1, r.begin, r.size), [x.symbol]);
  });
  return reshapeActivation(im, x, outShape.slice(1), `${suffix}_reshape`);
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
  const shape = fullShape(v);
  const begin = im.intsInput(1, 'begin');
  const size = im.intsInput(2, 'size', -1);
  if (begin.length !== shape.length || size.length !== shape.length) throw im.invalid(`begin [${begin.join(', ')}] and size [${size.join(', ')}] must give one value per axis of a rank-${shape.length} value`);
  const ranges = shape.map((d, i) => ({ begin: begin[i], size: size[i] === -1 ? d - begin[i] : size[i] }));
  if (ranges.some((r, i) => r.begin < 0 || (!Number.isNaN(shape[i]) && (r.size < 0 || r.begin + r.size > shape[i])))) throw im.invalid(`begin [${begin.join(', ')}] and size [${size.join(', ')}] are outside the value's shape`);
  return cut(im, v, ranges, shape.map(() => true));
}

/** TF StridedSlice with stride 1 on activations (any stride on 1-D constants): begin, end and shrink-axis masks; no ellipsis or new axes. */
export function stridedSliceOp(im: TfjsImporter): Value {
  const v = im.required(0);
  if (v.kind === 'constant' && v.tensor.rank === 1) return stridedSliceConstant(im);
  const shape = fullShape(v);
  const [begin, end, strides] = [1, 2, 3].map((k, i) => im.intsInput(k, ['begin', 'end', 'strides'][i]));
  for (const mask of ['ellipsis_mask', 'new_axis_mask']) if (im.attrInt(mask, 0) !== 0) throw im.unsupported(`${mask}: only plain slices are supported`);
  if (begin.length > shape.length || end.length !== begin.length || strides.length !== begin.length) throw im.invalid(`begin, end and strides of lengths ${begin.length}, ${end.length}, ${strides.length} do not fit a rank-${shape.length} value`);
  const [beginMask, endMask, shrinkMask] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((m) => im.attrInt(m, 0));
  const bit = (mask: number, i: number): boolean => (mask & (1 << i)) !== 0;
  // an activation's batch axis stays whole: from 0 (or the begin mask) to the end mask, not shrunk
  const wholeBatch = v.kind === 'constant' || begin.length === 0 || ((bit(beginMask, 0) || begin[0] === 0) && bit(endMask, 0) && !bit(shrinkMask, 0) && strides[0] === 1);
  if (!wholeBatch) throw im.unsupported('the slice would cut or drop the batch axis');
  const ranges = shape.map((d, i): Range => {
    if (i >= begin.length || Number.isNaN(d)) return { begin: 0, size: d };
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

/** The pieces of `v` cut along `axis` into `sizes`, output k of the node as `name:k` (`drop`: Unpack's pieces lose the axis). */
function pieces(im: TfjsImporter, v: Value, axis: number, sizes: number[], drop: boolean): Value {
  const shape = fullShape(v);
  if (axis === 0) throw im.unsupported('splitting along the batch axis');
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
  const shape = fullShape(v);
  const axis = axisOf(im, im.intsInput(0, 'axis')[0], shape.length);
  const count = im.attrInt('num_split', 1);
  if (!(count >= 1) || shape[axis] % count !== 0) throw im.invalid(`axis ${axis} of size ${shape[axis]} does not split into ${count} equal pieces`);
  return pieces(im, v, axis, new Array<number>(count).fill(shape[axis] / count), false);
}

/** SplitV: value (input 0), size_splits (input 1, one −1 taking what is left), axis (input 2). */
export function splitVOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = fullShape(v);
  const axis = axisOf(im, im.intsInput(2, 'axis')[0], shape.length);
  const sizes = im.intsInput(1, 'size_splits');
  const given = sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
  return pieces(im, v, axis, sizes.map((s) => (s === -1 ? shape[axis] - given : s)), false);
}

/** Unpack (tf.unstack): `num` pieces of one element along `axis`, each without that axis. */
export function unpackOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = fullShape(v);
  const axis = axisOf(im, im.attrInt('axis', 0), shape.length);
  return pieces(im, v, axis, new Array<number>(shape[axis]).fill(1), true);
}

/** ExpandDims: a new axis of size 1 at `dim` (input 1). */
export function expandDimsOp(im: TfjsImporter): Value {
  const v = im.required(0);
  const shape = fullShape(v);
  const axis = axisOf(im, im.intsInput(1, 'dim')[0], shape.length + 1);
  const expanded = [...shape.slice(0, axis), 1, ...shape.slice(axis)];
  if (v.kind === 'constant') return { kind: 'constant', tensor: v.tensor.reshape(expanded) };
  if (axis === 0) throw im.unsupported('a new axis before the batch axis');
  return reshapeActivation(im, v, expanded.slice(1));
}

/** Pack (tf.stack) of constants, or of activations of one shape along a per-sample axis: each gains the axis, then all are concatenated. */
export function packOp(im: TfjsImporter): Value {
  const values = im.node.inputs.map((_, k) => im.required(k));
  if (values.every((v) => v.kind === 'constant')) return packConstants(im);
  if (values.some((v) => v.kind === 'constant')) throw im.unsupported('stacking constants with values computed from the input');
  const parts = values as Activation[];
  const shape = parts[0].symbol.shape;
  if (parts.some((p) => !sameShape(p.symbol.shape, shape))) throw im.invalid('values of different shapes');
  const axis = axisOf(im, im.attrInt('axis', 0), shape.length + 2);
  if (axis === 0) throw im.unsupported('stacking along the batch axis');
  const expanded = [...shape.slice(0, axis - 1), 1, ...shape.slice(axis - 1)];
  const inputs = parts.map((p, k) => reshapeActivation(im, p, expanded, `_expand${k}`).symbol);
  return im.apply(new Concatenate(im.layerName(), axis - 1, inputs.length), inputs);
}
