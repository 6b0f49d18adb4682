// The TF.js graph ops we map, each a converter of the importer's current node: convolutions and MatMul take the
// BiasAdd and Relu after them into one layer; the rest one layer each, or none (a no-op reshape, shape arithmetic).

import { ReLU, ReLU6, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, ZeroPadding2D } from '../../nn/core.js';
import { Arithmetic, Concatenate, Exp, Sigmoid } from '../../nn/extra.js';
import { ArgMax } from '../../nn/argmax.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { Resize } from '../../nn/resize.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import type { Activation as ActivationKind } from '../../ops/activation.js';
import type { ArithmeticOp } from '../../ops/broadcast.js';
import { arithmeticFunction, broadcastMap } from '../../ops/broadcast.js';
import { Tensor, formatShape, sameShape, sizeOf } from '../../tensor/tensor.js';
import { lookupTable } from '../../lookup-table.js';
import { formatDims } from '../graph-import/importer.js';
import type { OpConverter, OpTable } from '../graph-import/importer.js';
import type { Activation, Constant, NodeDef, TfjsImporter, Value } from './graph-importer.js';
import { cast, shapeOf } from './graph-shapes.js';
import { expandDimsOp, packOp, sliceOp, splitOp, splitVOp, stridedSliceOp, unpackOp } from './graph-slices.js';
import { frameOf, inFrame, movedFold, ourAxis, oursShape, reshapeOurs, tfShape, transposeOurs } from './graph-batch.js';
import { isObject } from './keras-config.js';

/** TF's default `epsilon` of FusedBatchNorm and of _FusedConv2D's fused batch norm, when the attribute is absent. */
const TF_BN_EPSILON = 1e-4;

function constNode(im: TfjsImporter): Value {
  const name = im.node.name;
  const tensor = im.weights.get(name);
  if (!tensor) throw im.invalid('the weights manifest has no weight of this name (inline constants are not supported)');
  im.usedWeights.add(name);
  return { kind: 'constant', tensor };
}

/** Conv2D / DepthwiseConv2dNative and their fused forms (BiasAdd or FusedBatchNorm, then Relu or Relu6). */
function conv(im: TfjsImporter, depthwise: boolean): Value {
  im.checkNhwc();
  const x = im.activationInput(0);
  const filter = im.constantInput(1, 'filter');
  if (filter.rank !== 4) throw im.invalid(`filter has shape ${formatShape(filter.shape)}; expected [h, w, in, out]`);
  const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
  const channels = x.symbol.shape[2];
  if (x.symbol.shape.length !== 3 || cin !== channels) throw im.invalid(`filter ${formatShape(filter.shape)} does not fit input [N, ${x.symbol.shape.join(', ')}]`);
  const out = depthwise ? channels * cout : cout;
  const fused = fusedOps(im);
  const tail = fused.batchNorm ? { bias: null, activation: 'linear' as const, aliases: [] } : followers(im, out, fused.bias ? im.vectorInput(2, 'bias', out) : null, fused.activation);
  const options = { kernelSize: [kh, kw] as [number, number], strides: im.spatial('strides', 1), dilations: im.spatial('dilations', 1), padding: im.padding(), useBias: tail.bias !== null, activation: tail.activation };
  const name = im.layerName();
  const layer = depthwise ? new DepthwiseConv2D(name, { ...options, depthMultiplier: cout }) : new Conv2D(name, { ...options, filters: cout });
  const y = alias(im, im.apply(layer, [x.symbol]), tail.aliases);
  im.setWeight(layer, depthwise ? 'depthwise_kernel' : 'kernel', depthwise ? new Tensor([kh, kw, 1, out], filter.data) : filter);
  if (tail.bias) im.setWeight(layer, 'bias', new Tensor([out], tail.bias));
  if (!fused.batchNorm) return y;
  // FusedBatchNorm inside the conv: a BatchNormalization of ours follows it (the fusions fold it back)
  const bn = new BatchNormalization(im.layerName('_bn'), { epsilon: im.attrFloat('epsilon', TF_BN_EPSILON) });
  const z = im.apply(bn, [y.symbol]);
  (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => im.setWeight(bn, p, new Tensor([out], im.vectorInput(2 + i, p, out))));
  if (fused.activation === 'linear') return z;
  const act = im.layerName(`_${fused.activation}`);
  return im.apply(fused.activation === 'relu' ? new ReLU(act) : new ReLU6(act), [z.symbol]);
}

/** The `fused_ops` of a _Fused* node: a BiasAdd (or FusedBatchNorm) and an optional Relu or Relu6. */
function fusedOps(im: TfjsImporter): { bias: boolean; batchNorm: boolean; activation: ActivationKind } {
  const ops = im.attrStrings('fused_ops');
  if (ops.length === 0) return { bias: false, batchNorm: false, activation: 'linear' };
  const [first, second, ...rest] = ops;
  if (rest.length > 0 || (first !== 'BiasAdd' && first !== 'FusedBatchNorm')) throw im.unsupported(`fused_ops [${ops.join(', ')}]: supported are BiasAdd or FusedBatchNorm, then Relu or Relu6`);
  const activation: ActivationKind = second === undefined ? 'linear' : second === 'Relu' ? 'relu' : second === 'Relu6' ? 'relu6' : (() => { throw im.unsupported(`fused activation ${second}: only Relu and Relu6 are supported`); })();
  const args = im.node.inputs.length - 2;
  const expected = first === 'BiasAdd' ? 1 : 4;
  if (args !== expected) throw im.invalid(`fused ${first} needs ${expected} argument input(s), the node has ${args}`);
  return { bias: first === 'BiasAdd', batchNorm: first === 'FusedBatchNorm', activation };
}

/**
 * What a conv or dense with `channels` outputs can take from the nodes after it, each the sole reader of the one
 * before: a BiasAdd/Add of a per-channel Const (when it has no bias yet), then a Relu or Relu6 (when it has no
 * activation yet). One layer then does all, as the fusions and the fast backend like it; the nodes taken alias its output.
 */
function followers(im: TfjsImporter, channels: number, bias: Float32Array | null, activation: ActivationKind): { bias: Float32Array | null; activation: ActivationKind; aliases: string[] } {
  const aliases: string[] = [];
  let last = im.node.name;
  const next = (): NodeDef | undefined => {
    const readers = im.readers.get(last) ?? [];
    return readers.length === 1 ? readers[0] : undefined;
  };
  const add = next();
  // an NCHW BiasAdd stays a node of its own, to be refused as such
  const nhwc = (node: NodeDef): boolean => !isObject(node.attr.data_format) || node.attr.data_format.s === btoa('NHWC');
  if (!bias && activation === 'linear' && add && ['BiasAdd', 'Add', 'AddV2'].includes(add.op) && add.inputs.length === 2 && nhwc(add)) {
    const other = add.inputs.find(([name]) => name !== last);
    const node = other && other[1] === 0 ? im.nodes.get(other[0]) : undefined;
    const value = node?.op === 'Const' ? im.weights.get(node.name) : undefined;
    if (value && value.size === channels && value.shape.at(-1) === channels) {
      im.usedWeights.add(node!.name);
      bias = value.data;
      aliases.push(add.name);
      last = add.name;
    }
  }
  const relu = next();
  if (activation === 'linear' && relu && (relu.op === 'Relu' || relu.op === 'Relu6')) {
    activation = relu.op === 'Relu' ? 'relu' : 'relu6';
    aliases.push(relu.name);
  }
  return { bias, activation, aliases };
}

/** Makes the nodes `names` (taken into the layer that computes `y`) stand for `y`. */
function alias(im: TfjsImporter, y: Activation, names: string[]): Activation {
  for (const name of names) im.values.set(name, y);
  return y;
}

function batchNorm(im: TfjsImporter): Value {
  im.checkNhwc();
  if (im.attrBool('is_training', false)) throw im.unsupported('is_training = true: only inference batch normalization is supported');
  const x = im.activationInput(0);
  const channels = x.symbol.shape.at(-1)!;
  const layer = new BatchNormalization(im.layerName(), { epsilon: im.attrFloat('epsilon', TF_BN_EPSILON) });
  const y = im.apply(layer, [x.symbol]);
  (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => im.setWeight(layer, p, new Tensor([channels], im.vectorInput(1 + i, p, channels))));
  return y;
}

function activationOp(im: TfjsImporter, kind: 'relu' | 'relu6'): Value {
  const x = im.activationInput(0);
  const name = im.layerName();
  return im.apply(kind === 'relu' ? new ReLU(name) : new ReLU6(name), [x.symbol]);
}

/**
 * Add, Sub, Mul, RealDiv, BiasAdd: of plain constants (folded), or with a value from the input or repeated over the
 * batch, in one frame: two activations, or an activation and a constant (a layer's operand), or constants (folded).
 */
function arithmetic(im: TfjsImporter, op: ArithmeticOp): Value {
  const operands = [im.required(0), im.required(1)];
  const frames = operands.map(frameOf);
  const frame = frames[0] ?? frames[1];
  if (frames[0] !== null && frames[1] !== null && JSON.stringify(frames[0]) !== JSON.stringify(frames[1])) throw im.unsupported('operands whose batches are on different axes');
  const rank = tfShape(frames[0] === null ? operands[1] : operands[0]).length;
  // ours: a batched value's data; a plain constant broadcasts against TF's shape, so it must be 1 (or absent) on the batch's axis
  const [a, b] = operands.map((v): Activation | Tensor => {
    if (frameOf(v) !== null) return v.kind === 'constant' ? v.tensor : v;
    const c = (v as Constant).tensor;
    const batchAxis = frame === 'lead' ? 0 : frame === null ? -1 : frame.fold;
    const at = batchAxis - (rank - c.rank);
    if (c.rank > rank || (at >= 0 && c.shape[at] !== 1)) throw im.unsupported(`a constant of shape ${formatShape(c.shape)} would broadcast over the batch of ${formatDims(tfShape(operands[frames[0] === null ? 1 : 0]))}`);
    return frame === 'lead' && c.rank === rank ? new Tensor(c.shape.slice(1), c.data) : c;
  });
  if (a instanceof Tensor && b instanceof Tensor) {
    const r = broadcastMap(a.shape, a.data, b.shape, b.data, arithmeticFunction(op), (n) => new Float32Array(n));
    return inFrame(new Tensor(r.shape, r.data), frame);
  }
  const name = im.layerName();
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    const layer = op === 'add' && sameShape(a.symbol.shape, b.symbol.shape) ? new Add(name) : new Arithmetic(name, op);
    return inFrame(im.apply(layer, [a.symbol, b.symbol]), frame);
  }
  const [x, value, side] = a instanceof Tensor ? [b as Activation, a, 'left' as const] : [a, b as Tensor, 'right' as const];
  return inFrame(im.apply(new Arithmetic(name, op, { value, side }), [x.symbol]), frame);
}

function pool(im: TfjsImporter, average: boolean): Value {
  im.checkNhwc();
  const x = im.activationInput(0);
  const name = im.layerName();
  const options = { poolSize: im.spatial('ksize', 1), strides: im.spatial('strides', 1), padding: im.padding() };
  return im.apply(average ? new AveragePooling2D(name, options) : new MaxPooling2D(name, options), [x.symbol]);
}

/** Mean or Max over the spatial axes of an image: global pooling. */
function reduce(im: TfjsImporter, mean: boolean): Value {
  const x = im.activationInput(0);
  const axes = im.intsInput(1, 'reduction_indices').map((a) => (a < 0 ? a + 4 : a)).sort((p, q) => p - q);
  if (x.symbol.shape.length !== 3 || axes.join() !== '1,2') throw im.unsupported(`axes [${axes.join(', ')}] of a rank-${x.symbol.shape.length + 1} value: only the spatial axes [1, 2] of an image (global pooling) are supported`);
  const keepDims = im.attrBool('keep_dims', false);
  const name = im.layerName();
  return im.apply(mean ? new GlobalAveragePooling2D(name, keepDims) : new GlobalMaxPooling2D(name, keepDims), [x.symbol]);
}

/**
 * Reshape to `shape`. A plain constant takes any shape of its size. Otherwise TF's first axis carries the batch (−1,
 * or the batch size that Shape reads) and the rest is per sample — or, with −1 first and rows fewer than a sample
 * holds, the batch folds into the rows ([N·A, 4], as TF's box decoding reshapes); a value folded that way comes back
 * by a reshape to [batch, …].
 */
function reshape(im: TfjsImporter, shape: number[]): Value {
  const v = im.required(0);
  const frame = frameOf(v);
  const size = sizeOf(oursShape(v));
  const resolve = (target: number[]): number[] | null => {
    const known = target.filter((d) => d !== -1);
    if (target.length - known.length > 1 || known.some((d) => d < 0)) return null;
    const resolved = target.map((d) => (d === -1 ? size / sizeOf(known) : d));
    return sizeOf(resolved) === size && resolved.every(Number.isInteger) ? resolved : null;
  };
  const from = frame === null ? formatShape(oursShape(v)) : formatDims(tfShape(v));
  const refuse = (): never => {
    throw im.invalid(`cannot reshape ${from} to [${shape.join(', ')}]${frame !== null && shape[0] !== -1 ? ' (the first axis must stay the batch)' : ''}`);
  };
  if (frame === null) return inFrame(reshapeOurs(im, v, resolve(shape) ?? refuse()), null);
  if (frame !== 'lead' && frame.fold !== 0) throw im.unsupported(`a reshape of a value whose batch is folded into axis ${frame.fold}, not the first`);
  if (shape.length < 1) refuse();
  const rest = shape.slice(1);
  const perSample = resolve(rest);
  if (perSample) return inFrame(reshapeOurs(im, v, perSample), 'lead');
  const rows = sizeOf(rest);
  if (shape[0] !== -1 || rest.includes(-1) || rest.some((d) => d < 1) || size % rows !== 0) refuse();
  return inFrame(reshapeOurs(im, v, [size / rows, ...rest]), { fold: 0 });
}

/** Squeeze the axes `squeeze_dims` names (all of size 1 where it names none; the batch's axis stays). */
function squeeze(im: TfjsImporter): Value {
  const v = im.required(0);
  const frame = frameOf(v);
  const full = tfShape(v);
  const dims = (im.attrInts('squeeze_dims') ?? []).map((d) => (d < 0 ? d + full.length : d));
  if (dims.some((d) => ourAxis(frame, d) < 0)) throw im.unsupported('squeezing the axis that carries the batch');
  const drop = dims.length > 0 ? dims : full.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  if (drop.some((d) => full[d] !== 1)) throw im.invalid(`squeeze_dims [${dims.join(', ')}] name axes of ${formatDims(full)} that are not 1`);
  const ours = new Set(drop.map((d) => ourAxis(frame, d)));
  const kept = oursShape(v).filter((_, i) => !ours.has(i));
  return inFrame(reshapeOurs(im, v, kept), movedFold(frame, (fold) => fold - drop.filter((d) => d < fold).length));
}

/** MatMul of an activation [N, K] by a constant [K, M] (or [M, K] with transpose_b); _FusedMatMul adds BiasAdd and Relu/Relu6. */
function matmul(im: TfjsImporter): Value {
  if (im.attrBool('transpose_a', false)) throw im.unsupported('transpose_a = true would contract over the batch axis');
  const x = im.activationInput(0);
  const b = im.constantInput(1, 'b');
  const transposeB = im.attrBool('transpose_b', false);
  const k = x.symbol.shape[0];
  if (x.symbol.shape.length !== 1 || b.rank !== 2 || b.shape[transposeB ? 1 : 0] !== k) throw im.invalid(`b ${formatShape(b.shape)}${transposeB ? ' (transposed)' : ''} does not fit a [N, ${x.symbol.shape.join(', ')}]`);
  const units = b.shape[transposeB ? 0 : 1];
  const kernel = transposeB ? Float32Array.from({ length: k * units }, (_, i) => b.data[(i % units) * k + Math.floor(i / units)]) : b.data;
  const fused = fusedOps(im);
  if (fused.batchNorm) throw im.unsupported('FusedBatchNorm inside a MatMul');
  const tail = followers(im, units, fused.bias ? im.vectorInput(2, 'bias', units) : null, fused.activation);
  const layer = new Dense(im.layerName(), { units, useBias: tail.bias !== null, activation: tail.activation });
  const y = alias(im, im.apply(layer, [x.symbol]), tail.aliases);
  im.setWeight(layer, 'kernel', new Tensor([k, units], kernel));
  if (tail.bias) im.setWeight(layer, 'bias', new Tensor([units], tail.bias));
  return y;
}

function pad(im: TfjsImporter): Value {
  const x = im.activationInput(0);
  const paddings = im.intsInput(1, 'paddings');
  if (im.node.op === 'PadV2' && im.constantInput(2, 'constant_values').data.some((v) => v !== 0)) throw im.unsupported('a non-zero constant_values: only zero padding is supported');
  const rank = x.symbol.shape.length + 1;
  if (paddings.length !== 2 * rank) throw im.invalid(`paddings of ${paddings.length} values do not fit rank ${rank}`);
  if (paddings.some((p) => p < 0)) throw im.unsupported('negative paddings (cropping)');
  if (paddings.every((p) => p === 0)) return x;
  if (rank !== 4 || paddings[0] || paddings[1] || paddings[6] || paddings[7]) throw im.unsupported(`paddings [${paddings.join(', ')}]: only the spatial axes of an NHWC image can be padded`);
  return im.apply(new ZeroPadding2D(im.layerName(), [paddings[2], paddings[3], paddings[4], paddings[5]]), [x.symbol]);
}

function concat(im: TfjsImporter): Value {
  const count = im.node.inputs.length - 1;
  if (count < 1) throw im.invalid('needs values and an axis');
  const parts = Array.from({ length: count }, (_, k) => im.activationInput(k));
  const [axisValue] = im.intsInput(count, 'axis');
  const rank = parts[0].symbol.shape.length + 1;
  const axis = axisValue < 0 ? axisValue + rank : axisValue;
  if (axis === 0) throw im.unsupported('concatenation along the batch axis');
  if (axis < 0 || axis >= rank) throw im.invalid(`axis ${axisValue} is outside rank ${rank}`);
  if (count === 1) return parts[0];
  return im.apply(new Concatenate(im.layerName(), axis - 1, count), parts.map((p) => p.symbol));
}

/** Transpose: of our axes as they are (a folded batch moves with its axis); a batch axis of its own stays first. */
function transpose(im: TfjsImporter): Value {
  const v = im.required(0);
  const frame = frameOf(v);
  const perm = im.intsInput(1, 'perm');
  const rank = tfShape(v).length;
  if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw im.invalid(`perm [${perm.join(', ')}] does not fit rank ${rank}`);
  if (frame === 'lead' && perm[0] !== 0) throw im.unsupported(`perm [${perm.join(', ')}] moves the batch axis`);
  const ours = frame === 'lead' ? perm.slice(1).map((p) => p - 1) : perm;
  return inFrame(transposeOurs(im, v, ours), movedFold(frame, (fold) => perm.indexOf(fold)));
}

/** ResizeBilinear to a constant [height, width]: align_corners and half_pixel_centers pick our convention (neither: TF's legacy asymmetric). */
function resizeBilinear(im: TfjsImporter): Value {
  const x = im.activationInput(0);
  if (x.symbol.shape.length !== 3) throw im.unsupported(`input [N, ${x.symbol.shape.join(', ')}]: only NHWC images can be resized`);
  const size = im.intsInput(1, 'size');
  if (size.length !== 2 || size.some((d) => d < 1)) throw im.invalid(`size [${size.join(', ')}] must be a positive [height, width]`);
  const alignCorners = im.attrBool('align_corners', false);
  const halfPixel = im.attrBool('half_pixel_centers', false);
  if (alignCorners && halfPixel) throw im.invalid('align_corners and half_pixel_centers cannot both be true (TensorFlow refuses it too)');
  const [h, w] = x.symbol.shape;
  if (size[0] === h && size[1] === w) return x;
  return im.apply(new Resize(im.layerName(), { size: [size[0], size[1]] }, alignCorners ? 'align-corners' : halfPixel ? 'half-pixel' : 'asymmetric'), [x.symbol]);
}

/** ArgMax over the last (channel) axis, as tfjs-models' DeepLab graphs end: the label map, as float32 indices. */
function argmax(im: TfjsImporter): Value {
  const x = im.activationInput(0);
  const rank = x.symbol.shape.length + 1;
  const [given] = im.intsInput(1, 'dimension');
  const axis = given < 0 ? given + rank : given;
  if (axis !== rank - 1) throw im.unsupported(`dimension ${given} of a rank-${rank} value: only the last (channel) axis is supported`);
  return im.apply(new ArgMax(im.layerName()), [x.symbol]);
}

const softmax = (im: TfjsImporter): Value => im.apply(new Softmax(im.layerName()), [im.activationInput(0).symbol]);

/** Sigmoid or Exp of an activation (in any frame), or of a constant, folded. */
function pointwise(im: TfjsImporter, kind: 'sigmoid' | 'exp'): Value {
  const v = im.required(0);
  const f = kind === 'exp' ? Math.exp : (x: number): number => 1 / (1 + Math.exp(-x));
  if (v.kind === 'constant') return inFrame(new Tensor(v.tensor.shape, v.tensor.data.map(f)), frameOf(v));
  const name = im.layerName();
  return inFrame(im.apply(kind === 'exp' ? new Exp(name) : new Sigmoid(name), [v.symbol]), frameOf(v));
}

/** Tile of a plain constant: by ones (a no-op), or [batch, 1, …] of a [1, …] constant (TF's anchors, once per batch item). */
function tile(im: TfjsImporter): Value {
  const c = im.constantInput(0, 'input');
  const multiples = [...im.constantInput(1, 'multiples').data];
  if (multiples.length !== c.rank) throw im.invalid(`multiples ${formatDims(multiples)} do not fit input ${formatShape(c.shape)}`);
  if (multiples.every((m) => m === 1)) return { kind: 'constant', tensor: c };
  if (Number.isNaN(multiples[0]) && c.shape[0] === 1 && multiples.slice(1).every((m) => m === 1)) return { kind: 'constant', tensor: c.reshape(c.shape.slice(1)), batch: 'lead' };
  throw im.unsupported(`multiples ${formatDims(multiples)}: only a [1, …] constant repeated over the batch ([batch, 1, …]) is supported`);
}

/** Each op we map (GRAPH_OPS but Placeholder, which the importer makes the input) to its converter. */
export const TFJS_GRAPH_OPS: OpTable<TfjsImporter, Value> = lookupTable<OpConverter<TfjsImporter, Value>>({
  Const: constNode,
  Identity: (im) => im.required(0),
  StopGradient: (im) => im.required(0),
  Conv2D: (im) => conv(im, false),
  FusedConv2D: (im) => conv(im, false),
  _FusedConv2D: (im) => conv(im, false),
  DepthwiseConv2dNative: (im) => conv(im, true),
  FusedDepthwiseConv2dNative: (im) => conv(im, true),
  FusedBatchNorm: batchNorm,
  FusedBatchNormV2: batchNorm,
  FusedBatchNormV3: batchNorm,
  BiasAdd: (im) => {
    im.checkNhwc();
    return arithmetic(im, 'add');
  },
  Add: (im) => arithmetic(im, 'add'),
  AddV2: (im) => arithmetic(im, 'add'),
  Sub: (im) => arithmetic(im, 'sub'),
  Mul: (im) => arithmetic(im, 'mul'),
  RealDiv: (im) => arithmetic(im, 'div'),
  Relu: (im) => activationOp(im, 'relu'),
  Relu6: (im) => activationOp(im, 'relu6'),
  Sigmoid: (im) => pointwise(im, 'sigmoid'),
  AvgPool: (im) => pool(im, true),
  MaxPool: (im) => pool(im, false),
  Mean: (im) => reduce(im, true),
  Max: (im) => reduce(im, false),
  Reshape: (im) => reshape(im, im.intsInput(1, 'shape', -1)),
  Squeeze: squeeze,
  MatMul: matmul,
  _FusedMatMul: matmul,
  Softmax: softmax,
  Pad: pad,
  PadV2: pad,
  ConcatV2: concat,
  Transpose: transpose,
  ResizeBilinear: resizeBilinear,
  ArgMax: argmax,
  Shape: shapeOf,
  StridedSlice: stridedSliceOp,
  Pack: packOp,
  Cast: cast,
  Exp: (im) => pointwise(im, 'exp'),
  Tile: tile,
  Slice: sliceOp,
  Split: splitOp,
  SplitV: splitVOp,
  Unpack: unpackOp,
  ExpandDims: expandDimsOp,
});
