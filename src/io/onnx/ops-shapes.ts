// ONNX operators that move or reshape data (Flatten, Reshape, Squeeze, Transpose, Concat) and the shape
// arithmetic exporters write on constants (Shape, Gather, Slice, Cast, Constant; Slice also of activations), as converters of the current node.

import { Concatenate } from '../../nn/extra.js';
import { Flatten, Reshape } from '../../nn/core.js';
import { Slice } from '../../nn/slice.js';
import { formatShape, sameShape, sizeOf } from '../../tensor/tensor.js';
import { sliceIndices } from '../graph-import/slice.js';
import { concatHost, permuteHost } from './host.js';
import { floats, identity, inverse, permuted, samePerm } from './importer.js';
import type { Activation, Constant, OnnxImporter, Value } from './importer.js';
import { AttributeType, DataType } from './schema.js';
import { int64 } from './tensors.js';
import type { HostTensor } from './tensors.js';

/** Whether a permutation only moves size-1 axes, so that element order is unchanged. */
const keepsOrder = (shape: readonly number[], perm: readonly number[]): boolean => {
  const moved = perm.filter((i) => shape[i] !== 1);
  return moved.every((v, i) => i === 0 || moved[i - 1] < v);
};

export function flattenNode(im: OnnxImporter): Value {
  const v = im.required(0);
  const rank = v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1;
  let axis = im.attrInt('axis', 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) throw im.invalid(`axis ${axis} is outside rank ${rank}`);
  if (v.kind === 'constant') {
    const shape = v.tensor.shape;
    return { kind: 'constant', tensor: { ...v.tensor, shape: [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))] } };
  }
  if (axis === 0) throw im.unsupported('axis 0 folds the batch axis into the features');
  if (sizeOf(v.shape.slice(0, axis - 1)) !== 1) throw im.unsupported(`axis ${axis} folds per-sample axes [${v.shape.slice(0, axis - 1).join(', ')}] into the batch axis`);
  return flatten(im, v);
}

/** [N, …] → [N, F]. Where our layout orders elements differently, the value stays permuted (`flat`) for a Gemm to absorb. */
function flatten(im: OnnxImporter, v: Activation): Activation {
  if (v.shape.length === 1) return v;
  const size = sizeOf(v.shape);
  const y = im.apply(new Flatten(im.layerName()), [v.symbol]);
  return keepsOrder(v.shape, v.perm) ? im.activation(y, [size], [0]) : im.activation(y, [size], [0], { shape: v.shape, perm: v.perm });
}

export function reshape(im: OnnxImporter): Value {
  const v = im.required(0);
  const target = im.opset >= 5 ? im.intsInput(1, 'shape') : im.attrInts('shape', null);
  if (!target) throw im.invalid('no target shape');
  const allowZero = im.attrInt('allowzero', 0) === 1;
  // 0 copies the input's axis (unless allowzero), one −1 takes what is left
  const resolve = (dims: number[], input: readonly number[], size: number): number[] | null => {
    const copied = dims.map((d, i) => (d === 0 && !allowZero ? (i < input.length ? input[i] : NaN) : d));
    if (copied.some((d) => Number.isNaN(d) || d < -1) || copied.filter((d) => d === -1).length > 1) return null;
    const known = sizeOf(copied.filter((d) => d !== -1));
    const resolved = copied.map((d) => (d === -1 ? size / known : d));
    return sizeOf(resolved) === size && resolved.every((d) => Number.isInteger(d)) ? resolved : null;
  };
  if (v.kind === 'constant') {
    const shape = resolve(target, v.tensor.shape, sizeOf(v.tensor.shape));
    if (!shape) throw im.invalid(`cannot reshape [${v.tensor.shape.join(', ')}] to [${target.join(', ')}]`);
    return { kind: 'constant', tensor: { ...v.tensor, shape } };
  }
  if (target.length === 0) throw im.unsupported('a target shape without the batch axis');
  // the batch axis must stay first and whole: 0 (copy), −1 with every other axis given, or the file's fixed batch size
  const size = sizeOf(v.shape);
  const rest = target.slice(1);
  if (rest.some((d) => Number.isNaN(d))) throw im.unsupported(`target shape [${target.join(', ')}] puts the batch size on a per-sample axis`);
  const batchKept = Number.isNaN(target[0]) || (target[0] === 0 && !allowZero) || (target[0] === -1 && !rest.includes(-1) && sizeOf(rest.map((d, i) => (d === 0 && !allowZero ? v.shape[i] ?? NaN : d))) === size) || (target[0] > 0 && target[0] === im.staticBatch);
  if (!batchKept) throw im.unsupported(`target shape [${target.join(', ')}] would change the batch axis`);
  // per sample, axis i of the target's rest copies axis i of the input's rest
  const shape = resolve(rest, v.shape, size);
  if (!shape || shape.some((d) => d < 1)) throw im.invalid(`cannot reshape [N, ${v.shape.join(', ')}] to [${target.join(', ')}]`);
  return reshapeTo(im, v, shape);
}

/** The activation with per-sample shape `shape` (same size), elements in ONNX order. */
function reshapeTo(im: OnnxImporter, v: Activation, shape: number[]): Activation {
  if (shape.length === 1) return flatten(im, v);
  if (sameShape(shape, v.shape)) return v;
  const name = im.layerName();
  const y = im.apply(new Reshape(name, shape), [im.inLayout(v, identity(v.shape.length), name)]);
  return im.activation(y, shape, identity(shape.length));
}

/** Axes from the `axes` attribute (before opset 13) or input 1, made non-negative for `rank`. */
export function axesOf(im: OnnxImporter, rank: number, inputSince: number): number[] | null {
  const axes = im.opset >= inputSince ? (im.input(1) ? im.intsInput(1, 'axes') : null) : im.attrInts('axes', null);
  if (axes?.some((a) => !(a >= -rank && a < rank))) throw im.invalid(`axes [${axes.join(', ')}] are outside rank ${rank}`);
  return axes && axes.map((a) => (a < 0 ? a + rank : a));
}

/** Squeeze and Unsqueeze: reshapes that must leave the batch axis alone. */
export function squeeze(im: OnnxImporter, unsqueeze: boolean): Value {
  const v = im.required(0);
  const shape = v.kind === 'constant' ? v.tensor.shape : [-1, ...v.shape];
  const rank = unsqueeze ? shape.length + (im.opset >= 13 ? im.constantInput(1, 'axes').data.length : (im.attrInts('axes', []) ?? []).length) : shape.length;
  const axes = axesOf(im, rank, 13);
  let result: number[];
  if (unsqueeze) {
    if (!axes) throw im.invalid('no axes');
    result = [];
    for (let i = 0, from = 0; i < rank; i++) result.push(axes.includes(i) ? 1 : shape[from++]);
  } else {
    const dropped = axes ?? shape.map((d, i) => (d === 1 && (v.kind === 'constant' || i > 0) ? i : -1)).filter((i) => i >= 0);
    if (dropped.some((a) => shape[a] !== 1 && !(a === 0 && v.kind === 'activation'))) throw im.invalid(`cannot squeeze axes [${dropped.join(', ')}] of [${shape.join(', ')}]`);
    result = shape.filter((_, i) => !dropped.includes(i));
  }
  if (v.kind === 'constant') return { kind: 'constant', tensor: { ...v.tensor, shape: result } };
  if ((axes ?? []).includes(0)) throw im.unsupported('the batch axis must stay first');
  return reshapeTo(im, v, result.slice(1));
}

/** The shape as an int64 constant; the batch size, unknown until run time, is NaN there (Reshape reads it as "keep the batch axis"). */
export function shapeOf(im: OnnxImporter): Value {
  const v = im.required(0);
  const shape = v.kind === 'constant' ? v.tensor.shape : [NaN, ...v.shape];
  let start = im.attrInt('start', 0);
  let end = im.attrInt('end', shape.length);
  if (start < 0) start += shape.length;
  if (end < 0) end += shape.length;
  const dims = shape.slice(Math.max(0, start), Math.min(shape.length, end));
  return { kind: 'constant', tensor: { shape: [dims.length], dtype: 'int', data: Float64Array.from(dims) } };
}

/** Gather on constants (shape arithmetic): data indexed along `axis`. */
export function gather(im: OnnxImporter): Value {
  const data = im.constantInput(0, 'data');
  const indices = im.constantInput(1, 'indices');
  let axis = im.attrInt('axis', 0);
  if (axis < 0) axis += data.shape.length;
  if (axis < 0 || axis >= data.shape.length) throw im.invalid(`axis ${axis} is outside rank ${data.shape.length}`);
  const size = data.shape[axis];
  const inner = sizeOf(data.shape.slice(axis + 1));
  const outer = sizeOf(data.shape.slice(0, axis));
  const picks = [...indices.data].map((i) => (i < 0 ? i + size : i));
  if (picks.some((i) => !Number.isInteger(i) || i < 0 || i >= size)) throw im.invalid(`indices [${[...indices.data].join(', ')}] are outside axis ${axis} of size ${size}`);
  const out = data.dtype === 'int' ? new Float64Array(outer * picks.length * inner) : new Float32Array(outer * picks.length * inner);
  for (let o = 0; o < outer; o++) picks.forEach((p, k) => out.set(data.data.subarray((o * size + p) * inner, (o * size + p + 1) * inner), (o * picks.length + k) * inner));
  return { kind: 'constant', tensor: { shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)], dtype: data.dtype, data: out } };
}

/** Cast: float activations stay as they are; constants change kind (shape arithmetic casts between int types). */
export function cast(im: OnnxImporter): Value {
  const v = im.required(0);
  const to = im.attrInt('to', DataType.FLOAT);
  const integer = [DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL].includes(to as never);
  const float = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16].includes(to as never);
  if (v.kind === 'activation') {
    if (to !== DataType.FLOAT) throw im.unsupported(`casting an activation to type ${to}; activations are float32`);
    return v;
  }
  if (integer) return { kind: 'constant', tensor: { ...v.tensor, dtype: 'int', data: Float64Array.from(v.tensor.data, (x) => (to === DataType.BOOL ? Number(x !== 0) : Math.trunc(x))) } };
  if (float) return { kind: 'constant', tensor: { ...v.tensor, dtype: 'float', data: floats(v.tensor) } };
  throw im.unsupported(`cast to type ${to}`);
}

/** A transpose of per-sample axes only changes how our layout maps onto ONNX's: no layer, no copy. */
export function transposeNode(im: OnnxImporter): Value {
  const v = im.required(0);
  const rank = v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1;
  const perm = im.attrInts('perm', null) ?? identity(rank).reverse();
  if (perm.length !== rank || !samePerm([...perm].sort((x, y) => x - y), identity(rank))) throw im.invalid(`perm [${perm.join(', ')}] does not fit rank ${rank}`);
  if (v.kind === 'constant') return { kind: 'constant', tensor: permuteHost(v.tensor, perm) };
  if (perm[0] !== 0) throw im.unsupported(`perm [${perm.join(', ')}] moves the batch axis`);
  if (v.flat) return v;
  const onSample = perm.slice(1).map((p) => p - 1);
  const back = inverse(onSample);
  return im.activation(v.symbol, permuted(v.shape, onSample), v.perm.map((i) => back[i]));
}

export function concat(im: OnnxImporter): Value {
  const inputs = im.node.input.map((_, k) => im.required(k));
  if (inputs.length === 0) throw im.invalid('no inputs');
  const axisAttribute = im.attribute('axis', AttributeType.INT);
  if (!axisAttribute) throw im.invalid('no axis');
  const ranks = inputs.map((v) => (v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1));
  if (ranks.some((r) => r !== ranks[0])) throw im.invalid(`inputs of ranks ${ranks.join(', ')}`);
  let axis = int64(axisAttribute.i, im.source);
  if (axis < 0) axis += ranks[0];
  if (axis < 0 || axis >= ranks[0]) throw im.invalid(`axis ${axis} is outside rank ${ranks[0]}`);
  if (inputs.every((v) => v.kind === 'constant')) return { kind: 'constant', tensor: concatHost(inputs.map((v) => (v as Constant).tensor), axis, (m) => im.invalid(m)) };
  if (inputs.some((v) => v.kind === 'constant')) throw im.unsupported('concatenating constants with activations');
  const values = inputs as Activation[];
  if (axis === 0) throw im.unsupported('concatenation along the batch axis');
  if (values.length === 1) return values[0];
  const a = axis - 1;
  const shape = [...values[0].shape];
  for (const v of values.slice(1)) {
    if (v.shape.some((d, i) => i !== a && d !== shape[i])) throw im.invalid(`shapes ${values.map((x) => formatShape(x.shape)).join(', ')} differ outside axis ${axis}`);
    shape[a] += v.shape[a];
  }
  const perm = values.some((v) => v.flat) ? [0] : values[0].perm;
  const name = im.layerName();
  const y = im.apply(new Concatenate(name, perm.indexOf(a), values.length), values.map((v) => im.inLayout(v, perm, name)));
  return im.activation(y, shape, perm);
}

export function constantNode(im: OnnxImporter): Value {
  const node = im.node;
  const a = node.attribute[0];
  if (!a || node.attribute.length !== 1) throw im.invalid('a Constant node needs exactly one value attribute');
  const what = `${im.source}: Constant ${JSON.stringify(node.name || node.output[0])}`;
  const tensor = (): HostTensor => {
    switch (a.name) {
      case 'value':
        if (!a.t) throw im.invalid('value has no tensor');
        return im.readTensor(a.t, what);
      case 'value_float':
        return { shape: [], dtype: 'float', data: new Float32Array([a.f]) };
      case 'value_floats':
        return { shape: [a.floats.length], dtype: 'float', data: Float32Array.from(a.floats) };
      case 'value_int':
        return { shape: [], dtype: 'int', data: new Float64Array([int64(a.i, what)]) };
      case 'value_ints':
        return { shape: [a.ints.length], dtype: 'int', data: Float64Array.from(a.ints, (v) => int64(v, what)) };
      default:
        throw im.unsupported(`Constant attribute ${a.name}`);
    }
  };
  return { kind: 'constant', tensor: tensor() };
}

/**
 * Slice: on constants (shape arithmetic: `shape[0:2]`), any axes and steps; on activations, per-sample axes with
 * step 1 (a Slice layer each), the batch axis whole.
 */
export function slice(im: OnnxImporter): Value {
  const v = im.required(0);
  const rank = v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1;
  const fromInputs = im.opset >= 10;
  const starts = fromInputs ? im.intsInput(1, 'starts') : im.attrInts('starts', null);
  const ends = fromInputs ? im.intsInput(2, 'ends') : im.attrInts('ends', null);
  if (!starts || !ends || starts.length !== ends.length) throw im.invalid(`starts [${starts?.join(', ') ?? ''}] and ends [${ends?.join(', ') ?? ''}] must be given with one value per axis`);
  const axes = (fromInputs ? (im.input(3) ? im.intsInput(3, 'axes') : null) : im.attrInts('axes', null)) ?? identity(starts.length);
  const steps = fromInputs && im.input(4) ? im.intsInput(4, 'steps') : starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) throw im.invalid(`axes [${axes.join(', ')}] and steps [${steps.join(', ')}] must have one value per start`);
  const cuts = axes.map((given, k) => {
    const axis = given < 0 ? given + rank : given;
    if (axis < 0 || axis >= rank) throw im.invalid(`axis ${given} is outside rank ${rank}`);
    if (steps[k] === 0 || !Number.isInteger(steps[k])) throw im.invalid(`step ${steps[k]} on axis ${axis}`);
    return { axis, start: starts[k], end: ends[k], step: steps[k] };
  });
  return v.kind === 'constant' ? sliceConstant(v.tensor, cuts) : sliceActivation(im, v, cuts);
}

interface SliceCut {
  axis: number;
  start: number;
  end: number;
  step: number;
}

function sliceActivation(im: OnnxImporter, v: Activation, cuts: SliceCut[]): Value {
  let x = im.materialize(v, im.layerName('_onnx_order'));
  const shape = [...x.shape];
  for (const { axis, start, end, step } of cuts) {
    if (axis === 0) {
      // exporters write "all of it" as 0 to INT64_MAX, read as +Infinity
      if (start !== 0 || end !== Infinity || step !== 1) throw im.unsupported(`starts ${start}, ends ${end} on the batch axis: only the whole batch axis is supported`);
      continue;
    }
    if (step !== 1) throw im.unsupported(`step ${step} on axis ${axis}: slices of activations take step 1`);
    const kept = sliceIndices(shape[axis - 1], start, end, 1);
    if (kept.length === 0) throw im.invalid(`the slice keeps no element of axis ${axis} (size ${shape[axis - 1]})`);
    if (kept.length === shape[axis - 1]) continue;
    shape[axis - 1] = kept.length;
    const y = im.apply(new Slice(im.layerName(`_axis${axis}`), x.perm.indexOf(axis - 1), kept[0], kept.length), [x.symbol]);
    x = im.activation(y, [...shape], x.perm);
  }
  return x;
}

function sliceConstant(data: HostTensor, cuts: SliceCut[]): Value {
  const rank = data.shape.length;
  // per axis, the indices kept
  const picks = data.shape.map((size) => Array.from({ length: size }, (_, i) => i));
  for (const { axis, start, end, step } of cuts) picks[axis] = sliceIndices(data.shape[axis], start, end, step);
  const shape = picks.map((p) => p.length);
  const strides = data.shape.map((_, i) => sizeOf(data.shape.slice(i + 1)));
  const out = data.dtype === 'int' ? new Float64Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  const index = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    out[i] = data.data[index.reduce((offset, j, axis) => offset + picks[axis][j] * strides[axis], 0)];
    for (let axis = rank - 1; axis >= 0 && ++index[axis] === shape[axis]; axis--) index[axis] = 0;
  }
  return { kind: 'constant', tensor: { shape, dtype: data.dtype, data: out } };
}
