// Assembles a one-subgraph .tflite file with the `flatbuffers` runtime's Builder: tensors (with constant buffers and
// quantization), operators with their builtin options, and the model table, in TFLite's schema (./schema.ts).

import { Builder } from 'flatbuffers';
import type { Offset } from 'flatbuffers';
import type { BuiltinOp, TfliteType } from './schema.js';
import { BUFFER, BUILTIN_CODES, METADATA, MODEL, OPERATOR, OPERATOR_CODE, OPTIONS_TYPES, PLACEHOLDER_FOR_GREATER_OP_CODES, QUANTIZATION, SUBGRAPH, TENSOR, TENSOR_TYPE_CODE } from './schema.js';

export interface TensorSpec {
  name: string;
  shape: readonly number[];
  type: TfliteType;
  /** A constant's little-endian bytes. */
  data?: Uint8Array;
  /** Scales and zero points (one, or one per index of `dimension`). */
  quantization?: { scale: readonly number[]; zeroPoint: readonly number[]; dimension?: number };
}

/** An options table: its union member and the scalar fields to set, by slot (int32 unless listed in `bytes` or `floats`). */
export interface OptionsSpec {
  type: keyof typeof OPTIONS_TYPES;
  ints?: Readonly<Record<number, number>>;
  bytes?: Readonly<Record<number, number>>;
  floats?: Readonly<Record<number, number>>;
}

interface OperatorSpec {
  op: BuiltinOp;
  inputs: readonly number[];
  outputs: readonly number[];
  options?: OptionsSpec;
}

const TYPE_BYTES: Partial<Record<TfliteType, number>> = { float32: 4, int32: 4, int8: 1, uint8: 1, int64: 8, float16: 2 };

/** Little-endian bytes of typed values. */
export function littleEndianBytes(values: Float32Array | Int32Array | Int8Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  if (values instanceof Int8Array) bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.length));
  else if (values instanceof Int32Array) values.forEach((v, i) => view.setInt32(4 * i, v, true));
  else values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}

/** IEEE half-precision bits of a float, rounded to nearest even (overflow to ±Infinity, underflow through subnormals to ±0). */
export function halfBits(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  // the kept bits and the rounding of what is dropped, for normal (e ≥ 1) and subnormal results alike
  const full = mantissa | (exponent === 0 ? 0 : 0x800000);
  const shift = e >= 1 ? 13 : 14 - e;
  if (shift > 24) return sign;
  const kept = Math.floor(full / 2 ** shift);
  const rest = full - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  const rounded = kept + (rest > half || (rest === half && kept % 2 === 1) ? 1 : 0);
  // for normal results the implicit bit is in `rounded` (bit 10): adding the exponent field carries correctly
  return sign | (e >= 1 ? ((e - 1) << 10) + rounded : rounded);
}

export class TfliteBuilder {
  private readonly tensors: TensorSpec[] = [];
  private readonly operators: OperatorSpec[] = [];

  /** Adds a tensor; returns its index. */
  tensor(spec: TensorSpec): number {
    const size = TYPE_BYTES[spec.type];
    const expected = spec.shape.reduce((a, b) => a * b, 1) * (size ?? 0);
    if (spec.data && spec.data.length !== expected) throw new RangeError(`tensor ${spec.name}: ${spec.data.length} bytes for shape [${spec.shape.join(', ')}] of ${spec.type}`);
    this.tensors.push(spec);
    return this.tensors.length - 1;
  }

  /** A constant tensor of typed values. */
  constant(name: string, shape: readonly number[], values: Float32Array | Int32Array | Int8Array, quantization?: TensorSpec['quantization']): number {
    const type: TfliteType = values instanceof Float32Array ? 'float32' : values instanceof Int32Array ? 'int32' : 'int8';
    return this.tensor({ name, shape, type, data: littleEndianBytes(values), quantization });
  }

  /** A float32 constant stored as float16 and widened by a DEQUANTIZE: returns the float32 tensor's index. */
  float16Constant(name: string, shape: readonly number[], values: Float32Array): number {
    const data = new Uint8Array(values.length * 2);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setUint16(2 * i, halfBits(v), true));
    const stored = this.tensor({ name: `${name}_fp16`, shape, type: 'float16', data });
    const widened = this.tensor({ name, shape, type: 'float32' });
    this.operator('DEQUANTIZE', [stored], [widened]);
    return widened;
  }

  operator(op: BuiltinOp, inputs: readonly number[], outputs: readonly number[], options?: OptionsSpec): void {
    this.operators.push({ op, inputs, outputs, options });
  }

  /** The file's bytes, with graph inputs and outputs as tensor indices and named metadata buffers. */
  finish(inputs: readonly number[], outputs: readonly number[], description: string, metadata: Readonly<Record<string, Uint8Array>> = {}): Uint8Array {
    const b = new Builder(1 << 16);
    const int32Vector = (values: readonly number[]): Offset => {
      b.startVector(4, values.length, 4);
      for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
      return b.endVector();
    };
    const offsetVector = (offsets: readonly Offset[]): Offset => {
      b.startVector(4, offsets.length, 4);
      for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
      return b.endVector();
    };
    // buffer 0 is the empty sentinel; each constant gets its own buffer, 16-byte aligned as the schema asks
    const buffers: Offset[] = [emptyTable(b, 1)];
    const bufferOf = this.tensors.map((t) => {
      if (!t.data) return 0;
      b.startVector(1, t.data.length, 16);
      for (let i = t.data.length - 1; i >= 0; i--) b.addInt8(t.data[i]);
      const data = b.endVector();
      b.startObject(3);
      b.addFieldOffset(BUFFER.data, data, 0);
      buffers.push(b.endObject());
      return buffers.length - 1;
    });
    const metadataTables = Object.entries(metadata).map(([key, bytes]) => {
      const data = b.createByteVector(bytes);
      b.startObject(3);
      b.addFieldOffset(BUFFER.data, data, 0);
      buffers.push(b.endObject());
      const name = b.createString(key);
      b.startObject(2);
      b.addFieldOffset(METADATA.name, name, 0);
      b.addFieldInt32(METADATA.buffer, buffers.length - 1, 0);
      return b.endObject();
    });
    const tensors = this.tensors.map((t, i) => {
      const name = b.createString(t.name);
      const shape = int32Vector(t.shape);
      let quantization = 0;
      if (t.quantization) {
        const scale = (() => {
          b.startVector(4, t.quantization.scale.length, 4);
          for (let k = t.quantization.scale.length - 1; k >= 0; k--) b.addFloat32(t.quantization.scale[k]);
          return b.endVector();
        })();
        b.startVector(8, t.quantization.zeroPoint.length, 8);
        for (let k = t.quantization.zeroPoint.length - 1; k >= 0; k--) b.addInt64(BigInt(t.quantization.zeroPoint[k]));
        const zeroPoint = b.endVector();
        b.startObject(7);
        b.addFieldOffset(QUANTIZATION.scale, scale, 0);
        b.addFieldOffset(QUANTIZATION.zeroPoint, zeroPoint, 0);
        b.addFieldInt32(QUANTIZATION.quantizedDimension, t.quantization.dimension ?? 0, 0);
        quantization = b.endObject();
      }
      b.startObject(10);
      b.addFieldOffset(TENSOR.shape, shape, 0);
      b.addFieldInt8(TENSOR.type, TENSOR_TYPE_CODE[t.type], 0);
      b.addFieldInt32(TENSOR.buffer, bufferOf[i], 0);
      b.addFieldOffset(TENSOR.name, name, 0);
      if (quantization) b.addFieldOffset(TENSOR.quantization, quantization, 0);
      return b.endObject();
    });
    const ops = [...new Set(this.operators.map((o) => o.op))];
    const codes = ops.map((op) => {
      const code = BUILTIN_CODES[op];
      b.startObject(4);
      b.addFieldInt8(OPERATOR_CODE.deprecatedBuiltinCode, Math.min(code, PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
      b.addFieldInt32(OPERATOR_CODE.version, 1, 1);
      b.addFieldInt32(OPERATOR_CODE.builtinCode, code, 0);
      return b.endObject();
    });
    const operators = this.operators.map((o) => {
      const inputs = int32Vector(o.inputs);
      const outputs = int32Vector(o.outputs);
      const options = o.options ? optionsTable(b, o.options) : 0;
      b.startObject(13);
      b.addFieldInt32(OPERATOR.opcodeIndex, ops.indexOf(o.op), 0);
      b.addFieldOffset(OPERATOR.inputs, inputs, 0);
      b.addFieldOffset(OPERATOR.outputs, outputs, 0);
      if (o.options) {
        b.addFieldInt8(OPERATOR.optionsType, OPTIONS_TYPES[o.options.type], 0);
        b.addFieldOffset(OPERATOR.options, options, 0);
      }
      return b.endObject();
    });
    const tensorsVector = offsetVector(tensors);
    const inputsVector = int32Vector(inputs);
    const outputsVector = int32Vector(outputs);
    const operatorsVector = offsetVector(operators);
    const graphName = b.createString('main');
    b.startObject(5);
    b.addFieldOffset(SUBGRAPH.tensors, tensorsVector, 0);
    b.addFieldOffset(SUBGRAPH.inputs, inputsVector, 0);
    b.addFieldOffset(SUBGRAPH.outputs, outputsVector, 0);
    b.addFieldOffset(SUBGRAPH.operators, operatorsVector, 0);
    b.addFieldOffset(SUBGRAPH.name, graphName, 0);
    const graph = b.endObject();
    const codesVector = offsetVector(codes);
    const graphsVector = offsetVector([graph]);
    const descriptionString = b.createString(description);
    const buffersVector = offsetVector(buffers);
    const metadataVector = offsetVector(metadataTables);
    b.startObject(8);
    b.addFieldInt32(MODEL.version, 3, 0);
    b.addFieldOffset(MODEL.operatorCodes, codesVector, 0);
    b.addFieldOffset(MODEL.subgraphs, graphsVector, 0);
    b.addFieldOffset(MODEL.description, descriptionString, 0);
    b.addFieldOffset(MODEL.buffers, buffersVector, 0);
    b.addFieldOffset(MODEL.metadata, metadataVector, 0);
    b.finish(b.endObject(), 'TFL3');
    return b.asUint8Array().slice();
  }
}

function emptyTable(b: Builder, fields: number): Offset {
  b.startObject(fields);
  return b.endObject();
}

function optionsTable(b: Builder, o: OptionsSpec): Offset {
  const slots = Math.max(-1, ...[o.ints, o.bytes, o.floats].flatMap((m) => Object.keys(m ?? {}).map(Number))) + 1;
  b.startObject(slots);
  for (const [slot, v] of Object.entries(o.ints ?? {})) b.addFieldInt32(Number(slot), v, null);
  for (const [slot, v] of Object.entries(o.bytes ?? {})) b.addFieldInt8(Number(slot), v, null);
  for (const [slot, v] of Object.entries(o.floats ?? {})) b.addFieldFloat32(Number(slot), v, null);
  return b.endObject();
}
