// ONNX operators that become layers (convolution, normalization, activations, arithmetic, pooling, Gemm and
// MatMul, Pad, Softmax, ArgMax), each a converter of the importer's current node into its output value.

import { MobileNetError } from '../../errors.js';
import { ReLU, ReLU6, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, Reshape, ZeroPadding2D } from '../../nn/core.js';
import { Arithmetic, Clip } from '../../nn/extra.js';
import type { Layer } from '../../nn/layer.js';
import { ArgMax } from '../../nn/argmax.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import { referenceBackend } from '../../backend/reference.js';
import type { ArithmeticOp } from '../../ops/broadcast.js';
import { arithmeticFunction, broadcastMap, broadcastShape } from '../../ops/broadcast.js';
import type { Padding4 } from '../../ops/geometry.js';
import { Tensor, sameShape, sizeOf, transpose } from '../../tensor/tensor.js';
import { UnsupportedOperatorError } from './errors.js';
import { permuteHost, matmulHost, sourceIndex } from './host.js';
import { IMAGE, floats, identity } from './importer.js';
import type { Activation, Constant, OnnxImporter, Value } from './importer.js';
import { axesOf } from './ops-shapes.js';

const FLOAT32_MAX = 3.4028234663852886e38;

export function conv(im: OnnxImporter): Value {
  const x = im.imageInput(0);
  const w = im.constantInput(1, 'the weights');
  if (w.shape.length !== 4) throw im.unsupported(`weights of shape [${w.shape.join(', ')}]: only 2-D convolution is supported`);
  const [filters, perGroup, kh, kw] = w.shape;
  const group = im.attrInt('group', 1);
  const [c, h, width] = x.shape;
  if (group < 1 || perGroup * group !== c || filters % group !== 0) throw im.invalid(`weights [${w.shape.join(', ')}] with group ${group} do not fit ${c} input channels`);
  const kernelShape = im.attrInts('kernel_shape', null);
  if (kernelShape && (kernelShape.length !== 2 || kernelShape[0] !== kh || kernelShape[1] !== kw)) throw im.invalid(`kernel_shape [${kernelShape.join(', ')}] differs from the weights' [${kh}, ${kw}]`);
  const strides = im.pair('strides', 1);
  const dilations = im.pair('dilations', 1);
  const padding = windowPadding(im, [h, width], [kh, kw], strides, dilations);
  const given = im.input(2);
  let bias: Float32Array | null = null;
  if (given) {
    if (given.kind !== 'constant') throw im.unsupported('the bias (input 2) must be a constant');
    if (given.tensor.data.length !== filters) throw im.invalid(`bias has ${given.tensor.data.length} values for ${filters} filters`);
    bias = floats(given.tensor).slice();
  }
  const added = im.absorbBias(filters, 4);
  if (added) bias = bias ? bias.map((b, i) => b + added[i]) : added;
  const name = im.layerName();
  const depthwise = group === c && group > 1;
  const options = { kernelSize: [kh, kw] as const, strides, dilations, padding, useBias: bias !== null };
  const layer = depthwise ? new DepthwiseConv2D(name, { ...options, depthMultiplier: filters / c }) : new Conv2D(name, { ...options, filters, groups: group });
  const y = im.apply(layer, [im.inLayout(x, IMAGE, name)]);
  im.setWeight(layer, depthwise ? 'depthwise_kernel' : 'kernel', transpose(new Tensor(w.shape, floats(w)), [2, 3, 1, 0]));
  if (bias) im.setWeight(layer, 'bias', new Tensor([filters], bias));
  im.torchNameFrom(layer, 1);
  const [oh, ow] = y.shape;
  return im.activation(y, [filters, oh, ow], IMAGE);
}

/** Explicit [top, bottom, left, right] from `pads` ([top, left, bottom, right]) or `auto_pad`. */
function windowPadding(im: OnnxImporter, size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): Padding4 {
  const autoPad = im.attrString('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = im.attrInts('pads', [0, 0, 0, 0])!;
    if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw im.unsupported(`pads [${pads.join(', ')}]: expected four non-negative values for a 2-D window`);
    return [pads[0], pads[2], pads[1], pads[3]];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw im.invalid(`unknown auto_pad ${JSON.stringify(autoPad)}`);
  // output = ceil(input / stride); the odd pixel goes after (SAME_UPPER) or before (SAME_LOWER)
  const amounts = size.map((n, i) => {
    const total = Math.max((Math.ceil(n / strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n, 0);
    const small = Math.floor(total / 2);
    return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  });
  return [amounts[0][0], amounts[0][1], amounts[1][0], amounts[1][1]];
}

export function batchNorm(im: OnnxImporter): Value {
  const x = im.activationInput(0);
  if (x.shape.length < 1) throw im.invalid('input has no channel axis');
  const channels = x.shape[0];
  const [gamma, beta, mean, variance] = ['scale', 'B', 'input_mean', 'input_var'].map((what, i) => {
    const t = im.constantInput(i + 1, what);
    if (t.data.length !== channels) throw im.invalid(`${what} has ${t.data.length} values for ${channels} channels`);
    return new Tensor([channels], floats(t).slice());
  });
  if (im.attrInt('training_mode', 0) !== 0 || im.node.output.slice(1).some((o) => o && im.readers.has(o))) throw im.unsupported('training mode (batch statistics outputs)');
  if (im.attrInt('spatial', 1) !== 1) throw im.unsupported('spatial=0');
  const momentum = im.attrFloat('momentum', 0.9);
  const name = im.layerName();
  const layer = new BatchNormalization(name, { epsilon: im.attrFloat('epsilon', 1e-5), momentum: momentum >= 0 && momentum <= 1 ? momentum : 0.9 });
  // the channel (ONNX axis 1) must be our last axis
  const perm = x.flat ? [0] : x.perm.at(-1) === 0 ? x.perm : [...x.perm.filter((p) => p !== 0), 0];
  const y = im.apply(layer, [im.inLayout(x, perm, name)]);
  (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => im.setWeight(layer, p, [gamma, beta, mean, variance][i]));
  im.torchNameFrom(layer, 1);
  return im.activation(y, x.shape, perm);
}

/** An element-wise layer: any layout (a permuted flat value included) passes through; constants are folded. */
export function elementwise(im: OnnxImporter, make: (name: string) => Layer): Value {
  const v = im.required(0);
  if (v.kind === 'constant') {
    const t = new Tensor(v.tensor.shape, floats(v.tensor));
    return { kind: 'constant', tensor: { shape: v.tensor.shape, dtype: 'float', data: make('constant_fold').call([t], { backend: referenceBackend }).data } };
  }
  const y = im.apply(make(im.layerName()), [v.symbol]);
  return im.activation(y, v.shape, v.perm, v.flat);
}

export function clip(im: OnnxImporter): Value {
  let lo = -Infinity;
  let hi = Infinity;
  if (im.opset < 11) {
    lo = im.attrFloat('min', -Infinity);
    hi = im.attrFloat('max', Infinity);
  } else {
    if (im.input(1)) lo = im.scalarInput(1, 'min');
    if (im.input(2)) hi = im.scalarInput(2, 'max');
  }
  if (lo <= -FLOAT32_MAX) lo = -Infinity;
  if (hi >= FLOAT32_MAX) hi = Infinity;
  if (!(lo <= hi)) throw im.unsupported(`min ${lo} > max ${hi}`);
  // ReLU and ReLU6 as such, so that lowering fuses them into the conv before them
  return elementwise(im, (name) => (lo === 0 && hi === 6 ? new ReLU6(name) : lo === 0 && hi === Infinity ? new ReLU(name) : new Clip(name, lo, hi)));
}

export function arithmetic(im: OnnxImporter, op: ArithmeticOp): Value {
  const a = im.required(0);
  const b = im.required(1);
  if (a.kind === 'constant' && b.kind === 'constant') {
    const integer = a.tensor.dtype === 'int' && b.tensor.dtype === 'int';
    const f = arithmeticFunction(op);
    // integer division truncates, as ONNX Div on integers does
    const g = integer && op === 'div' ? (x: number, y: number) => Math.trunc(x / y) : f;
    // the batch size is NaN in folded shapes (see shapeOf): it may pass unchanged (× 1, + 0), anything else needs it known
    const onBatch = (x: number, y: number): number => {
      if (!Number.isNaN(x) && !Number.isNaN(y)) return g(x, y);
      const [other, left] = Number.isNaN(x) ? [y, true] : [x, false];
      const unchanged = op === 'mul' ? other === 1 : op === 'add' ? other === 0 : left && other === (op === 'div' ? 1 : 0);
      if (!unchanged) throw im.unsupported('an operand depends on the batch size, known only at run time');
      return NaN;
    };
    try {
      const { shape, data } = integer ? broadcastMap(a.tensor.shape, a.tensor.data, b.tensor.shape, b.tensor.data, onBatch, (n) => new Float64Array(n)) : broadcastMap(a.tensor.shape, floats(a.tensor), b.tensor.shape, floats(b.tensor), onBatch, (n) => new Float32Array(n));
      return { kind: 'constant', tensor: { shape, dtype: integer ? 'int' : 'float', data } };
    } catch (e) {
      throw e instanceof MobileNetError && !(e instanceof UnsupportedOperatorError) ? im.invalid(e.message) : e;
    }
  }
  const name = im.layerName();
  if (a.kind === 'activation' && b.kind === 'activation') {
    if (a.shape.length !== b.shape.length) throw im.unsupported(`operands of ranks ${a.shape.length + 1} and ${b.shape.length + 1} would broadcast across the batch axis`);
    let shape: number[];
    try {
      shape = broadcastShape(a.shape, b.shape);
    } catch (e) {
      throw im.invalid((e as Error).message);
    }
    const perm = a.flat || b.flat ? [0] : a.perm;
    const inputs = [im.inLayout(a, perm, name), im.inLayout(b, perm, name)];
    const layer = op === 'add' && sameShape(a.shape, b.shape) ? new Add(name) : new Arithmetic(name, op);
    return im.activation(im.apply(layer, inputs), shape, perm);
  }
  const [v, c, side] = a.kind === 'activation' ? [a, b as Constant, 'right' as const] : [b as Activation, a, 'left' as const];
  const rank = v.shape.length + 1;
  if (c.tensor.shape.length > rank) throw im.unsupported(`a constant of rank ${c.tensor.shape.length} would add axes to a rank-${rank} activation`);
  const padded = [...new Array<number>(rank - c.tensor.shape.length).fill(1), ...c.tensor.shape];
  if (padded[0] !== 1) throw im.unsupported(`a constant of shape [${c.tensor.shape.join(', ')}] would broadcast along the batch axis`);
  const perSample = padded.slice(1);
  let shape: number[];
  try {
    shape = broadcastShape(v.shape, perSample);
  } catch (e) {
    throw im.invalid((e as Error).message);
  }
  // a scalar keeps any layout, a permuted flat value included
  const scalar = sizeOf(perSample) === 1;
  const keepFlat = scalar && v.flat !== null;
  const perm = keepFlat ? [0] : v.flat ? [0] : v.perm;
  const value = permuteHost({ shape: perSample, dtype: 'float', data: floats(c.tensor) }, perm);
  const layer = new Arithmetic(name, op, { value: new Tensor(value.shape, value.data as Float32Array), side });
  const y = im.apply(layer, [keepFlat ? v.symbol : im.inLayout(v, perm, name)]);
  return im.activation(y, shape, perm, keepFlat ? v.flat : null);
}

export function globalPool(im: OnnxImporter, average: boolean): Value {
  const x = im.imageInput(0);
  const name = im.layerName();
  const layer = average ? new GlobalAveragePooling2D(name, true) : new GlobalMaxPooling2D(name, true);
  return im.activation(im.apply(layer, [im.inLayout(x, IMAGE, name)]), [x.shape[0], 1, 1], IMAGE);
}

export function pool(im: OnnxImporter, average: boolean): Value {
  const x = im.imageInput(0);
  const kernel = im.attrInts('kernel_shape', null);
  if (!kernel || kernel.length !== 2) throw im.unsupported(`kernel_shape [${kernel?.join(', ') ?? ''}]: only 2-D pooling is supported`);
  const poolSize: [number, number] = [kernel[0], kernel[1]];
  const strides = im.pair('strides', 1);
  if (im.attrInts('dilations', [1, 1])!.some((d) => d !== 1)) throw im.unsupported('dilated pooling');
  if (!average && im.node.output[1] && im.readers.has(im.node.output[1])) throw im.unsupported('the Indices output');
  const [c, h, w] = x.shape;
  const padding = windowPadding(im, [h, w], poolSize, strides, [1, 1]);
  if (im.attrInt('ceil_mode', 0) === 1) {
    // ceil mode only matters where the last window would start past the floor's
    const sizes = [h + padding[0] + padding[1], w + padding[2] + padding[3]];
    if (sizes.some((n, i) => (n - poolSize[i]) % strides[i] !== 0)) throw im.unsupported('ceil_mode=1 where it adds an output row or column');
  }
  const name = im.layerName();
  const options = { poolSize, strides, padding, countIncludePad: average && im.attrInt('count_include_pad', 0) === 1 };
  const layer = average ? new AveragePooling2D(name, options) : new MaxPooling2D(name, options);
  const y = im.apply(layer, [im.inLayout(x, IMAGE, name)]);
  return im.activation(y, [c, y.shape[0], y.shape[1]], IMAGE);
}

/** ReduceMean and ReduceMax over the spatial axes of an image: global pooling. */
export function spatialReduce(im: OnnxImporter, mean: boolean): Value {
  const x = im.imageInput(0);
  const axes = axesOf(im, 4, 18);
  const keepDims = im.attrInt('keepdims', 1) === 1;
  if (!axes || [...axes].sort().join() !== '2,3') throw im.unsupported(`axes [${axes?.join(', ') ?? 'all'}]: only the spatial axes [2, 3] (global pooling) are supported`);
  const name = im.layerName();
  const layer = mean ? new GlobalAveragePooling2D(name, keepDims) : new GlobalMaxPooling2D(name, keepDims);
  const y = im.apply(layer, [im.inLayout(x, IMAGE, name)]);
  return keepDims ? im.activation(y, [x.shape[0], 1, 1], IMAGE) : im.activation(y, [x.shape[0]], [0]);
}

export function softmax(im: OnnxImporter): Value {
  const v = im.activationInput(0);
  const rank = v.shape.length + 1;
  let axis = im.attrInt('axis', im.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw im.invalid(`axis ${axis} is outside rank ${rank}`);
  if (axis === 0) throw im.unsupported('softmax over the batch axis');
  const a = axis - 1;
  const name = im.layerName();
  if (im.opset >= 13 || a === v.shape.length - 1) {
    // over one axis: make it our last
    const perm = v.flat ? [0] : v.perm.at(-1) === a ? v.perm : [...v.perm.filter((p) => p !== a), a];
    return im.activation(im.apply(new Softmax(name), [im.inLayout(v, perm, name)]), v.shape, perm);
  }
  // before opset 13: over everything from `axis` on, as one vector (the input coerced to 2-D)
  const lead = sizeOf(v.shape.slice(0, a));
  const rows = im.apply(new Reshape(im.unique(`${name}_2d`), lead === 1 ? [sizeOf(v.shape)] : [lead, sizeOf(v.shape.slice(a))]), [im.inLayout(v, identity(v.shape.length), name)]);
  const y = im.apply(new Reshape(im.unique(`${name}_nd`), v.shape), [im.apply(new Softmax(name), [rows])]);
  return im.activation(y, v.shape, identity(v.shape.length));
}

/** ArgMax over one axis without keepdims (a label map), first index on ties: our ArgMax with that axis last. */
export function argmax(im: OnnxImporter): Value {
  const v = im.activationInput(0);
  const rank = v.shape.length + 1;
  let axis = im.attrInt('axis', 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw im.invalid(`axis ${axis} is outside rank ${rank}`);
  if (axis === 0) throw im.unsupported('argmax over the batch axis');
  if (im.attrInt('keepdims', 1) !== 0) throw im.unsupported('keepdims=1: only keepdims=0 (a label map without the class axis) is supported');
  if (im.attrInt('select_last_index', 0) !== 0) throw im.unsupported('select_last_index=1: ties resolve to the first index here');
  const a = axis - 1;
  const perm = v.flat ? [0] : v.perm.at(-1) === a ? v.perm : [...v.perm.filter((p) => p !== a), a];
  const name = im.layerName();
  const y = im.apply(new ArgMax(name), [im.inLayout(v, perm, name)]);
  return im.activation(y, v.shape.filter((_, i) => i !== a), perm.slice(0, -1).map((p) => (p > a ? p - 1 : p)));
}

export function gemm(im: OnnxImporter): Value {
  const transA = im.attrInt('transA', 0) === 1;
  const transB = im.attrInt('transB', 0) === 1;
  const alpha = im.attrFloat('alpha', 1);
  const beta = im.attrFloat('beta', 1);
  const a = im.required(0);
  const b = im.required(1);
  const c = im.input(2);
  if (a.kind === 'constant' && b.kind === 'constant' && (!c || c.kind === 'constant')) {
    const product = matmulHost(transA ? permuteHost(a.tensor, [1, 0]) : a.tensor, transB ? permuteHost(b.tensor, [1, 0]) : b.tensor, (m) => im.invalid(m));
    const scaled = { ...product, data: product.data.map((x) => alpha * x) };
    if (!c) return { kind: 'constant', tensor: scaled };
    const sum = broadcastMap(scaled.shape, scaled.data, c.tensor.shape, floats(c.tensor), (x, y) => x + beta * y, (n) => new Float32Array(n));
    return { kind: 'constant', tensor: { shape: sum.shape, dtype: 'float', data: sum.data } };
  }
  if (a.kind !== 'activation') throw im.unsupported('A (input 0) must be the activation and B a constant');
  if (transA) throw im.unsupported('transA=1 on an activation would contract over the batch axis');
  if (b.kind !== 'constant') throw im.unsupported('B (input 1) must be a constant');
  if (b.tensor.shape.length !== 2 || a.shape.length !== 1) throw im.invalid(`A [N, ${a.shape.join(', ')}] and B [${b.tensor.shape.join(', ')}] must be 2-D`);
  const k = a.shape[0];
  const units = transB ? b.tensor.shape[0] : b.tensor.shape[1];
  if ((transB ? b.tensor.shape[1] : b.tensor.shape[0]) !== k) throw im.invalid(`B [${b.tensor.shape.join(', ')}]${transB ? ' (transposed)' : ''} does not fit A [N, ${k}]`);
  const weights = floats(b.tensor);
  const kernel = new Float32Array(k * units);
  for (let i = 0; i < k; i++) for (let j = 0; j < units; j++) kernel[i * units + j] = alpha * weights[transB ? j * k + i : i * units + j];
  let bias: Float32Array | null = null;
  if (c) {
    if (c.kind !== 'constant') throw im.unsupported('C (input 2) must be a constant');
    const shape = c.tensor.shape;
    if (shape.length > 2 || (shape.length === 2 && shape[0] !== 1) || (shape.length > 0 && shape.at(-1) !== units && shape.at(-1) !== 1)) {
      throw im.unsupported(`C of shape [${shape.join(', ')}]: only a bias broadcast over the batch ([${units}], [1, ${units}] or a scalar) is supported`);
    }
    const values = floats(c.tensor);
    bias = Float32Array.from({ length: units }, (_, j) => beta * values[values.length === 1 ? 0 : j]);
  }
  return dense(im, a, kernel, units, bias);
}

export function matmul(im: OnnxImporter): Value {
  const a = im.required(0);
  const b = im.required(1);
  if (a.kind === 'constant' && b.kind === 'constant') return { kind: 'constant', tensor: matmulHost(a.tensor, b.tensor, (m) => im.invalid(m)) };
  if (a.kind !== 'activation' || b.kind !== 'constant') throw im.unsupported('only an activation times a constant matrix is supported');
  if (a.shape.length !== 1) throw im.unsupported(`MatMul of a rank-${a.shape.length + 1} activation: only [N, K] × [K, M] is supported`);
  if (b.tensor.shape.length !== 2 || b.tensor.shape[0] !== a.shape[0]) throw im.invalid(`B [${b.tensor.shape.join(', ')}] does not fit A [N, ${a.shape[0]}]`);
  return dense(im, a, floats(b.tensor), b.tensor.shape[1], null);
}

/** A Dense layer from an ONNX [K, M] kernel; rows are permuted to the order our flattened input holds. */
function dense(im: OnnxImporter, a: Activation, kernel: Float32Array, units: number, bias: Float32Array | null): Activation {
  const added = im.absorbBias(units, 2);
  if (added) bias = bias ? bias.map((b, j) => b + added[j]) : added;
  let rows = kernel;
  if (a.flat) {
    const order = sourceIndex(a.flat.shape, a.flat.perm);
    rows = new Float32Array(kernel.length);
    order.forEach((from, to) => rows.set(kernel.subarray(from * units, (from + 1) * units), to * units));
  }
  const name = im.layerName();
  const layer = new Dense(name, { units, useBias: bias !== null });
  const y = im.apply(layer, [a.symbol]);
  im.setWeight(layer, 'kernel', new Tensor([a.shape[0], units], rows));
  if (bias) im.setWeight(layer, 'bias', new Tensor([units], bias));
  im.torchNameFrom(layer, 1);
  return im.activation(y, [units], [0]);
}

export function pad(im: OnnxImporter): Value {
  const v = im.activationInput(0);
  const mode = im.attrString('mode', 'constant');
  if (mode !== 'constant') throw im.unsupported(`mode ${JSON.stringify(mode)}: only constant (zero) padding is supported`);
  const rank = v.shape.length + 1;
  let pads: number[];
  let value = 0;
  if (im.opset < 11) {
    pads = im.attrInts('pads', null) ?? [];
    value = im.attrFloat('value', 0);
  } else {
    pads = im.intsInput(1, 'pads');
    if (im.input(2)) value = im.scalarInput(2, 'constant_value');
  }
  const axes = im.input(3) ? im.intsInput(3, 'axes').map((x) => (x < 0 ? x + rank : x)) : identity(rank);
  if (pads.length !== 2 * axes.length) throw im.invalid(`pads [${pads.join(', ')}] do not fit ${axes.length} axes`);
  const before = new Array<number>(rank).fill(0);
  const after = new Array<number>(rank).fill(0);
  axes.forEach((axis, i) => {
    before[axis] = pads[i];
    after[axis] = pads[i + axes.length];
  });
  if ([...before, ...after].some((p) => p < 0)) throw im.unsupported('negative pads (cropping)');
  if ([...before, ...after].every((p) => p === 0)) return v;
  if (value !== 0) throw im.unsupported(`constant_value ${value}: only zero padding is supported`);
  if (rank !== 4 || before[0] || after[0] || before[1] || after[1]) throw im.unsupported(`pads [${pads.join(', ')}]: only padding of the spatial axes of NCHW activations is supported`);
  const name = im.layerName();
  const layer = new ZeroPadding2D(name, [before[2], after[2], before[3], after[3]]);
  const y = im.apply(layer, [im.inLayout(v, IMAGE, name)]);
  return im.activation(y, [v.shape[0], y.shape[0], y.shape[1]], IMAGE);
}
