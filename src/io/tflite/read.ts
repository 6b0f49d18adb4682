// Reads a .tflite file (a TFLite FlatBuffer) into plain data: subgraphs, tensors with their shapes, types, constant
// bytes and quantization, and operators with their builtin options, every offset and index checked against the file.

import { FormatError } from '../../errors.js';
import { readElements } from '../elements.js';
import { FlatTable } from './flat-table.js';
import type { BuiltinOp, TfliteActivation, TflitePadding, TfliteType } from './schema.js';
import {
  ACTIVATIONS, ACTIVATION_ONLY_OPTIONS, BUFFER, METADATA, BUILTIN_NAMES, CONCATENATION_OPTIONS, CONV_OPTIONS, DEPTHWISE_OPTIONS, FULLY_CONNECTED_OPTIONS,
  MODEL, OPERATOR, OPERATOR_CODE, OPTIONS_TYPES, PADDINGS, PLACEHOLDER_FOR_GREATER_OP_CODES, POOL_OPTIONS, QUANTIZATION, REDUCER_OPTIONS,
  RESHAPE_OPTIONS, RESIZE_BILINEAR_OPTIONS, SOFTMAX_OPTIONS, SQUEEZE_OPTIONS, SUBGRAPH, TENSOR, TENSOR_TYPES,
} from './schema.js';

/** real = scale[c]·(q − zeroPoint[c]), c along `dimension` (one entry: the whole tensor). */
export interface TfliteQuantization {
  scale: number[];
  zeroPoint: number[];
  dimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TfliteType;
  /** The constant's bytes (a view into the file), or null for a tensor computed at run time. */
  data: Uint8Array | null;
  quantization: TfliteQuantization | null;
}

export interface ConvOptions {
  padding: TflitePadding;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  activation: TfliteActivation;
}

export interface PoolOptions {
  padding: TflitePadding;
  strideH: number;
  strideW: number;
  filterH: number;
  filterW: number;
  activation: TfliteActivation;
}

interface OperatorBase {
  /** Position in the subgraph's operator list. */
  index: number;
  /** Tensor indices; −1 is an omitted optional input. */
  inputs: number[];
  outputs: number[];
}

/** An operator with its builtin options (defaults filled in where the file leaves them out). */
export type TfliteOperator = OperatorBase &
  (
    | { op: 'CONV_2D' | 'DEPTHWISE_CONV_2D'; options: ConvOptions }
    | { op: 'AVERAGE_POOL_2D' | 'MAX_POOL_2D'; options: PoolOptions }
    | { op: 'FULLY_CONNECTED'; options: { activation: TfliteActivation; keepNumDims: boolean } }
    | { op: 'SOFTMAX'; options: { beta: number } }
    | { op: 'CONCATENATION'; options: { axis: number; activation: TfliteActivation } }
    | { op: 'ADD' | 'MUL'; options: { activation: TfliteActivation } }
    | { op: 'RESIZE_BILINEAR'; options: { alignCorners: boolean; halfPixelCenters: boolean } }
    | { op: 'RESHAPE'; options: { newShape: number[] | null } }
    | { op: 'MEAN'; options: { keepDims: boolean } }
    | { op: 'SQUEEZE'; options: { squeezeDims: number[] } }
    | { op: 'DEQUANTIZE' | 'QUANTIZE' | 'LOGISTIC' | 'HARD_SWISH' | 'RELU' | 'RELU6' | 'PAD' | 'PADV2' | 'TRANSPOSE'; options: null }
  );

export interface TfliteGraph {
  name: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  version: number;
  description: string;
  subgraphs: TfliteGraph[];
  /** The model's named metadata buffers (TFLite Support's "TFLITE_METADATA", ours "mobilenet-ts", …). */
  metadata: Record<string, Uint8Array>;
}

const ELEMENT_BYTES: Partial<Record<TfliteType, number>> = { float32: 4, float16: 2, int32: 4, uint8: 1, int64: 8, bool: 1, int16: 2, int8: 1, float64: 8 };

/** Decodes a .tflite file; `source` names it in errors. */
export function decodeTflite(bytes: Uint8Array, source = 'model.tflite'): TfliteModel {
  const root = FlatTable.root(bytes, 'model', source);
  const identifier = String.fromCharCode(...bytes.subarray(4, 8));
  if (identifier !== 'TFL3') throw new FormatError(`${source}: not a TFLite file (file identifier "${identifier}", expected "TFL3")`, 4);
  const buffers = root.tables(MODEL.buffers, (i) => `buffer ${i}`).map((b) => {
    if (b.uint32(BUFFER.offset) > 1) throw new FormatError(`${source}: ${b.what} is stored outside the FlatBuffer (a model over 2 GB), which is not supported`);
    return b.bytes(BUFFER.data, 'data');
  });
  const codes = root.tables(MODEL.operatorCodes, (i) => `operator code ${i}`).map((c) => {
    const deprecated = c.int8(OPERATOR_CODE.deprecatedBuiltinCode);
    const code = Math.max(deprecated, c.int32(OPERATOR_CODE.builtinCode));
    return code === 32 || code === PLACEHOLDER_FOR_GREATER_OP_CODES ? `custom op "${c.string(OPERATOR_CODE.customCode, 'custom_code') ?? ''}"` : code;
  });
  const subgraphs = root.tables(MODEL.subgraphs, (i) => `subgraph ${i}`).map((g) => readGraph(g, buffers, codes, source));
  if (subgraphs.length === 0) throw new FormatError(`${source}: the model has no subgraph`);
  const metadata: Record<string, Uint8Array> = {};
  for (const m of root.tables(MODEL.metadata, (i) => `metadata ${i}`)) {
    const name = m.string(METADATA.name, 'name') ?? '';
    const buffer = m.uint32(METADATA.buffer);
    if (buffer >= buffers.length) throw new FormatError(`${source}: metadata ${JSON.stringify(name)} names buffer ${buffer}, but the model has ${buffers.length}`);
    metadata[name] = buffers[buffer] ?? new Uint8Array(0);
  }
  return { version: root.uint32(MODEL.version), description: root.string(MODEL.description, 'description') ?? '', subgraphs, metadata };
}

function readGraph(g: FlatTable, buffers: (Uint8Array | null)[], codes: (number | string)[], source: string): TfliteGraph {
  const tensors = g.tables(SUBGRAPH.tensors, (i) => `${g.what} tensor ${i}`).map((t, index) => readTensor(t, index, buffers, source));
  const checkIndices = (list: number[], what: string, optional: boolean): number[] => {
    for (const i of list) {
      if (!(Number.isInteger(i) && i < tensors.length && (i >= 0 || (optional && i === -1)))) {
        throw new FormatError(`${source}: ${what} names tensor ${i}, but ${g.what} has ${tensors.length} tensors`);
      }
    }
    return list;
  };
  const operators = g.tables(SUBGRAPH.operators, (i) => `${g.what} operator ${i}`).map((op, index) => {
    const opcode = op.uint32(OPERATOR.opcodeIndex);
    if (opcode >= codes.length) throw new FormatError(`${source}: ${op.what} has operator code ${opcode}, but the model lists ${codes.length}`);
    const code = codes[opcode];
    const name = typeof code === 'number' ? BUILTIN_NAMES.get(code) : undefined;
    if (name === undefined) {
      throw new FormatError(`${source}: ${op.what} is ${typeof code === 'number' ? `builtin operator ${code}` : code}, which mobilenet-ts does not run (it reads ${[...BUILTIN_NAMES.values()].join(', ')})`);
    }
    const inputs = checkIndices(op.int32s(OPERATOR.inputs, 'inputs') ?? [], `${op.what} (${name}) input`, true);
    const outputs = checkIndices(op.int32s(OPERATOR.outputs, 'outputs') ?? [], `${op.what} (${name}) output`, false);
    return { index, inputs, outputs, ...readOptions(op, name, source) } as TfliteOperator;
  });
  return {
    name: g.string(SUBGRAPH.name, 'name') ?? '',
    tensors,
    inputs: checkIndices(g.int32s(SUBGRAPH.inputs, 'inputs') ?? [], `${g.what} input`, false),
    outputs: checkIndices(g.int32s(SUBGRAPH.outputs, 'outputs') ?? [], `${g.what} output`, false),
    operators,
  };
}

function readTensor(t: FlatTable, index: number, buffers: (Uint8Array | null)[], source: string): TfliteTensor {
  const name = t.string(TENSOR.name, 'name') ?? `tensor_${index}`;
  const where = `${source}: tensor ${index} (${name})`;
  const shape = t.int32s(TENSOR.shape, 'shape') ?? [];
  if (shape.some((d) => d < 0)) throw new FormatError(`${where}: shape [${shape.join(', ')}] has a negative dimension`);
  const typeCode = t.int8(TENSOR.type);
  const type = TENSOR_TYPES[typeCode];
  if (type === undefined) throw new FormatError(`${where}: tensor type ${typeCode} is unknown`);
  if (t.table(TENSOR.sparsity, 'sparsity')) throw new FormatError(`${where}: sparse tensors are not supported`);
  const bufferIndex = t.uint32(TENSOR.buffer);
  if (bufferIndex >= Math.max(buffers.length, 1)) throw new FormatError(`${where}: buffer ${bufferIndex} is out of range (the model has ${buffers.length} buffers)`);
  let data = buffers[bufferIndex] ?? null;
  if (data !== null && data.length === 0) data = null;
  if (data !== null) {
    const size = ELEMENT_BYTES[type];
    const expected = shape.reduce((a, b) => a * b, 1) * (size ?? 0);
    if (size === undefined || data.length !== expected) {
      throw new FormatError(`${where}: its buffer ${bufferIndex} holds ${data.length} bytes, but shape [${shape.join(', ')}] of ${type} needs ${expected}`);
    }
  }
  return { index, name, shape, type, data, quantization: readQuantization(t.table(TENSOR.quantization, `tensor ${index}'s quantization`), shape, where) };
}

function readQuantization(q: FlatTable | null, shape: number[], where: string): TfliteQuantization | null {
  if (q === null) return null;
  const scale = q.float32s(QUANTIZATION.scale, 'scale') ?? [];
  if (scale.length === 0) return null;
  if (q.uint8(QUANTIZATION.detailsType) !== 0) throw new FormatError(`${where}: custom quantization is not supported`);
  const zeroPoint = q.int64s(QUANTIZATION.zeroPoint, 'zero_point') ?? scale.map(() => 0);
  // TFLite Micro's converters leave a 1-D bias's quantized_dimension at its kernel's (3): TFLite reads it on dimension 0
  const dimension = scale.length === 1 || shape.length === 1 ? 0 : q.int32(QUANTIZATION.quantizedDimension);
  if (zeroPoint.length !== scale.length || (scale.length > 1 && shape[dimension] !== scale.length)) {
    throw new FormatError(`${where}: ${scale.length} scales and ${zeroPoint.length} zero points do not fit shape [${shape.join(', ')}] on dimension ${dimension}`);
  }
  if (scale.some((s) => !(s > 0) || !Number.isFinite(s))) throw new FormatError(`${where}: quantization scales must be finite and positive`);
  return { scale, zeroPoint, dimension };
}

function enumValue<T>(values: readonly T[], code: number, what: string, where: string): T {
  const value = values[code];
  if (value === undefined) throw new FormatError(`${where}: ${what} ${code} is unknown`);
  return value;
}

/** The operator's builtin options table, checked to be of the type its op takes (absent: every field at its default). */
function readOptions(op: FlatTable, name: BuiltinOp, source: string): { op: BuiltinOp; options: TfliteOperator['options'] } {
  const where = `${source}: ${op.what} (${name})`;
  const expect = (type: keyof typeof OPTIONS_TYPES): FlatTable | null => {
    const present = op.uint8(OPERATOR.optionsType);
    if (present === 0) return null;
    if (present !== OPTIONS_TYPES[type]) throw new FormatError(`${where}: builtin options of union type ${present}, expected ${type} (${OPTIONS_TYPES[type]})`);
    return op.table(OPERATOR.options, `${op.what}'s ${type}`);
  };
  const activation = (t: FlatTable | null, slot: number): TfliteActivation => enumValue(ACTIVATIONS, t?.int8(slot) ?? 0, 'fused activation', where);
  const padding = (t: FlatTable | null, slot: number): TflitePadding => enumValue(PADDINGS, t?.int8(slot) ?? 0, 'padding', where);
  switch (name) {
    case 'CONV_2D':
    case 'DEPTHWISE_CONV_2D': {
      const s = name === 'CONV_2D' ? CONV_OPTIONS : DEPTHWISE_OPTIONS;
      const t = expect(name === 'CONV_2D' ? 'Conv2DOptions' : 'DepthwiseConv2DOptions');
      const options: ConvOptions = {
        padding: padding(t, s.padding),
        strideH: t?.int32(s.strideH) ?? 0,
        strideW: t?.int32(s.strideW) ?? 0,
        dilationH: t?.int32(s.dilationH, 1) ?? 1,
        dilationW: t?.int32(s.dilationW, 1) ?? 1,
        activation: activation(t, s.activation),
      };
      if (!(options.strideH >= 1 && options.strideW >= 1 && options.dilationH >= 1 && options.dilationW >= 1)) {
        throw new FormatError(`${where}: strides ${options.strideH}×${options.strideW} and dilations ${options.dilationH}×${options.dilationW} must be at least 1`);
      }
      return { op: name, options };
    }
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D': {
      const t = expect('Pool2DOptions');
      const s = POOL_OPTIONS;
      const options: PoolOptions = {
        padding: padding(t, s.padding),
        strideH: t?.int32(s.strideH) ?? 0,
        strideW: t?.int32(s.strideW) ?? 0,
        filterH: t?.int32(s.filterH) ?? 0,
        filterW: t?.int32(s.filterW) ?? 0,
        activation: activation(t, s.activation),
      };
      if (!(options.strideH >= 1 && options.strideW >= 1 && options.filterH >= 1 && options.filterW >= 1)) {
        throw new FormatError(`${where}: pool window ${options.filterH}×${options.filterW} and strides ${options.strideH}×${options.strideW} must be at least 1`);
      }
      return { op: name, options };
    }
    case 'FULLY_CONNECTED': {
      const t = expect('FullyConnectedOptions');
      if ((t?.int8(FULLY_CONNECTED_OPTIONS.weightsFormat) ?? 0) !== 0) throw new FormatError(`${where}: shuffled weights are not supported`);
      return { op: name, options: { activation: activation(t, FULLY_CONNECTED_OPTIONS.activation), keepNumDims: t?.bool(FULLY_CONNECTED_OPTIONS.keepNumDims) ?? false } };
    }
    case 'SOFTMAX':
      return { op: name, options: { beta: expect('SoftmaxOptions')?.float32(SOFTMAX_OPTIONS.beta) ?? 0 } };
    case 'CONCATENATION': {
      const t = expect('ConcatenationOptions');
      return { op: name, options: { axis: t?.int32(CONCATENATION_OPTIONS.axis) ?? 0, activation: activation(t, CONCATENATION_OPTIONS.activation) } };
    }
    case 'ADD':
    case 'MUL':
      return { op: name, options: { activation: activation(expect(name === 'ADD' ? 'AddOptions' : 'MulOptions'), ACTIVATION_ONLY_OPTIONS.activation) } };
    case 'RESIZE_BILINEAR': {
      const t = expect('ResizeBilinearOptions');
      return { op: name, options: { alignCorners: t?.bool(RESIZE_BILINEAR_OPTIONS.alignCorners) ?? false, halfPixelCenters: t?.bool(RESIZE_BILINEAR_OPTIONS.halfPixelCenters) ?? false } };
    }
    case 'RESHAPE':
      return { op: name, options: { newShape: expect('ReshapeOptions')?.int32s(RESHAPE_OPTIONS.newShape, 'new_shape') ?? null } };
    case 'MEAN':
      return { op: name, options: { keepDims: expect('ReducerOptions')?.bool(REDUCER_OPTIONS.keepDims) ?? false } };
    case 'SQUEEZE':
      return { op: name, options: { squeezeDims: expect('SqueezeOptions')?.int32s(SQUEEZE_OPTIONS.squeezeDims, 'squeeze_dims') ?? [] } };
    default:
      return { op: name, options: null };
  }
}

/** A constant tensor's values as float32 (float32 as stored; float16 and integers widened). */
export function constantFloats(t: TfliteTensor, source: string): Float32Array {
  const kinds: Partial<Record<TfliteType, { kind: 'float' | 'int'; size: 2 | 4 | 8 }>> = { float32: { kind: 'float', size: 4 }, float16: { kind: 'float', size: 2 }, int32: { kind: 'int', size: 4 }, int64: { kind: 'int', size: 8 } };
  const kind = kinds[t.type];
  if (t.data === null || kind === undefined) throw new FormatError(`${source}: tensor ${t.index} (${t.name}) should be a float or integer constant, but is ${t.data === null ? 'computed at run time' : t.type}`);
  return readElements(t.data, 0, t.data.length / kind.size, { ...kind, littleEndian: true }, `${source}: tensor ${t.index} (${t.name})`);
}

/** A constant int32 tensor's values (biases of int8 ops, shapes, paddings, axes). */
export function constantInt32s(t: TfliteTensor, source: string): Int32Array {
  if (t.data === null || t.type !== 'int32') throw new FormatError(`${source}: tensor ${t.index} (${t.name}) should be an int32 constant, but is ${t.data === null ? 'computed at run time' : t.type}`);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Int32Array.from({ length: t.data.length / 4 }, (_, i) => view.getInt32(4 * i, true));
}

/** A constant int8 tensor's values (a copy: the file's bytes stay the file's). */
export function constantInt8s(t: TfliteTensor, source: string): Int8Array {
  if (t.data === null || t.type !== 'int8') throw new FormatError(`${source}: tensor ${t.index} (${t.name}) should be an int8 constant, but is ${t.data === null ? 'computed at run time' : t.type}`);
  return new Int8Array(t.data.slice().buffer);
}
