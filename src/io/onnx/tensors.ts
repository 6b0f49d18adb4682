// ONNX TensorProto ⇄ host arrays: every stored data type and field (raw_data, typed fields, external data
// confined to the model's folder) read with its size checked before anything is allocated, and float32/int64 written.

import { FormatError } from '../../errors.js';
import { readElements, writeFloat32LittleEndian } from '../elements.js';
import type { ElementType } from '../elements.js';
import { ExternalDataError } from './errors.js';
import { DataType, EXTERNAL_DATA } from './schema.js';
import type { Int64, StringStringEntry, TensorProto } from './schema.js';

/** A constant: floats as float32 (bit-exact from FLOAT data), integers and booleans exactly, in a Float64Array. */
export interface HostTensor {
  shape: number[];
  dtype: 'float' | 'int';
  data: Float32Array | Float64Array;
}

export interface TensorSource {
  /** Names the file in errors. */
  source: string;
  /** Bytes of an external data file, by its location relative to the model's folder. */
  externalData?: (location: string) => Uint8Array;
}

/** Largest element count we allocate for one tensor (a float32 array of 4 GiB). */
const MAX_ELEMENTS = 2 ** 30;

/** An int64 field as an exact JavaScript number; throws past ±2^53. */
export function int64(v: Int64 | undefined | null, what: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'number' ? v : v.unsigned ? (v.high >>> 0) * 2 ** 32 + (v.low >>> 0) : v.high * 2 ** 32 + (v.low >>> 0);
  if (!Number.isSafeInteger(n)) throw new FormatError(`${what}: integer ${n} is beyond ±2^53`);
  return n;
}

/** Storage of each numeric data type: element layout in raw_data (little-endian) and whether values are integers. */
const STORED: Record<number, { type: ElementType; integer: boolean; name: string }> = {
  [DataType.FLOAT]: { type: { kind: 'float', size: 4, littleEndian: true }, integer: false, name: 'FLOAT' },
  [DataType.DOUBLE]: { type: { kind: 'float', size: 8, littleEndian: true }, integer: false, name: 'DOUBLE' },
  [DataType.FLOAT16]: { type: { kind: 'float', size: 2, littleEndian: true }, integer: false, name: 'FLOAT16' },
  [DataType.BFLOAT16]: { type: { kind: 'bfloat', size: 2, littleEndian: true }, integer: false, name: 'BFLOAT16' },
  [DataType.INT64]: { type: { kind: 'int', size: 8, littleEndian: true }, integer: true, name: 'INT64' },
  [DataType.INT32]: { type: { kind: 'int', size: 4, littleEndian: true }, integer: true, name: 'INT32' },
  [DataType.INT16]: { type: { kind: 'int', size: 2, littleEndian: true }, integer: true, name: 'INT16' },
  [DataType.INT8]: { type: { kind: 'int', size: 1, littleEndian: true }, integer: true, name: 'INT8' },
  [DataType.UINT64]: { type: { kind: 'uint', size: 8, littleEndian: true }, integer: true, name: 'UINT64' },
  [DataType.UINT32]: { type: { kind: 'uint', size: 4, littleEndian: true }, integer: true, name: 'UINT32' },
  [DataType.UINT16]: { type: { kind: 'uint', size: 2, littleEndian: true }, integer: true, name: 'UINT16' },
  [DataType.UINT8]: { type: { kind: 'uint', size: 1, littleEndian: true }, integer: true, name: 'UINT8' },
  [DataType.BOOL]: { type: { kind: 'bool', size: 1, littleEndian: true }, integer: true, name: 'BOOL' },
};

/**
 * Checks an external-data location the way the ONNX spec reads it (a relative POSIX path under the model's
 * folder): no absolute paths (POSIX, Windows drive or UNC), no `..` segment, no NUL. The Node reader also
 * resolves symlinks and checks that the real file stays inside.
 */
export function checkExternalLocation(location: string, what: string): void {
  const refuse = (why: string): never => {
    throw new ExternalDataError(`${what}: external data location ${JSON.stringify(location)} ${why}`, location);
  };
  if (location.length === 0) refuse('is empty');
  if (location.includes('\0')) refuse('contains a NUL character');
  if (/^[\\/]/.test(location) || /^[A-Za-z]:/.test(location)) refuse('is an absolute path: it must be relative to the model file folder');
  if (location.split(/[\\/]/).some((segment) => segment === '..')) refuse("contains '..': it must stay inside the model file folder");
}

/** location, offset and length of a tensor stored outside the model file. */
export function externalReference(entries: readonly StringStringEntry[], what: string): { location: string; offset: number; length: number | null } {
  const get = (key: string): string | undefined => entries.find((e) => e.key === key)?.value;
  const location = get('location');
  if (location === undefined) throw new FormatError(`${what}: external data without a location`);
  checkExternalLocation(location, what);
  const number = (key: string): number | null => {
    const text = get(key);
    if (text === undefined) return null;
    if (!/^\d{1,15}$/.test(text)) throw new FormatError(`${what}: external data ${key} ${JSON.stringify(text)} is not a non-negative integer`);
    return Number(text);
  };
  return { location, offset: number('offset') ?? 0, length: number('length') };
}

function elementCount(dims: readonly number[], what: string): number {
  let count = 1;
  for (const d of dims) {
    if (d < 0) throw new FormatError(`${what}: negative dimension in [${dims.join(', ')}]`);
    count *= d;
  }
  if (count > MAX_ELEMENTS) throw new FormatError(`${what}: ${count} elements in shape [${dims.join(', ')}] is more than this reader allocates (${MAX_ELEMENTS})`);
  return count;
}

const INT64_MAX = 2n ** 63n - 1n;

/** An int64_data element: INT64_MAX and INT64_MIN, exporters' "to the end" (torch's `shape[2:]` as a Slice), are ±Infinity. */
function int64Element(v: Int64, what: string): number {
  const big = typeof v === 'number' ? null : (BigInt(v.high) << 32n) | BigInt(v.low >>> 0);
  // a plain number that large has lost its low bits: only the two sentinels get there
  if (big === INT64_MAX || (typeof v === 'number' && v >= 2 ** 63)) return Infinity;
  if (big === -INT64_MAX - 1n || (typeof v === 'number' && v <= -(2 ** 63))) return -Infinity;
  return int64(v, what);
}

/** Integers (and booleans) from little-endian storage, exactly; INT64_MAX and INT64_MIN as ±Infinity (see int64Element). */
function readIntegers(bytes: Uint8Array, count: number, type: ElementType, what: string): Float64Array {
  if (type.size !== 8) return Float64Array.from(readElements(bytes, 0, count, type, what));
  const out = new Float64Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 8);
  for (let i = 0; i < count; i++) {
    const v = type.kind === 'int' ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true);
    if (type.kind === 'int' && (v === INT64_MAX || v === -INT64_MAX - 1n)) out[i] = v > 0n ? Infinity : -Infinity;
    else if (v > 2n ** 53n || v < -(2n ** 53n)) throw new FormatError(`${what}: 64-bit integer element ${i} is ${v}, beyond ±2^53`);
    else out[i] = Number(v);
  }
  return out;
}

/** Reads a TensorProto of any numeric type; `what` names the tensor (and file) in errors. */
export function readTensor(t: TensorProto, from: TensorSource, what: string): HostTensor {
  const shape = t.dims.map((d) => int64(d, what));
  const count = elementCount(shape, what);
  const stored = STORED[t.dataType];
  if (!stored) throw new FormatError(`${what}: data type ${t.dataType} is not supported (numeric types only)`);
  if (t.segment) throw new FormatError(`${what}: segmented tensors are not supported`);
  const dtype = stored.integer ? 'int' : 'float';
  const fromBytes = (bytes: Uint8Array): HostTensor => {
    const expected = count * stored.type.size;
    if (bytes.length !== expected) throw new FormatError(`${what}: ${stored.name} [${shape.join(', ')}] needs ${expected} bytes of data, found ${bytes.length}`);
    return { shape, dtype, data: stored.integer ? readIntegers(bytes, count, stored.type, what) : readElements(bytes, 0, count, stored.type, what) };
  };
  if (count === 0) return { shape, dtype, data: stored.integer ? new Float64Array(0) : new Float32Array(0) };
  if (t.dataLocation === EXTERNAL_DATA) {
    const ref = externalReference(t.externalData, what);
    if (!from.externalData) throw new ExternalDataError(`${what}: data is stored in external file ${JSON.stringify(ref.location)}; give the importer an externalData reader (readOnnxFile does this for files)`, ref.location);
    let file: Uint8Array;
    try {
      file = from.externalData(ref.location);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new ExternalDataError(`${what}: cannot read external data ${JSON.stringify(ref.location)}: ${(e as Error).message}`, ref.location);
    }
    const length = ref.length ?? count * stored.type.size;
    if (ref.offset + length > file.length) {
      throw new ExternalDataError(`${what}: external data ${JSON.stringify(ref.location)} has ${file.length} bytes, the tensor needs bytes ${ref.offset}…${ref.offset + length}`, ref.location);
    }
    return fromBytes(file.subarray(ref.offset, ref.offset + length));
  }
  if (t.rawData.length > 0) return fromBytes(t.rawData);
  // typed fields: float_data for FLOAT; int32_data for the small integer types, FLOAT16 and BFLOAT16 (bits); …
  const typed = <T>(values: ArrayLike<T>, field: string): ArrayLike<T> => {
    if (values.length !== count) throw new FormatError(`${what}: ${stored.name} [${shape.join(', ')}] needs ${count} values, ${field} has ${values.length}`);
    return values;
  };
  switch (t.dataType) {
    case DataType.FLOAT:
      return { shape, dtype, data: Float32Array.from(typed(t.floatData, 'float_data')) };
    case DataType.DOUBLE:
      return { shape, dtype, data: Float32Array.from(typed(t.doubleData, 'double_data')) };
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      const bits = typed(t.int32Data, 'int32_data');
      const bytes = new Uint8Array(2 * count);
      for (let i = 0; i < count; i++) {
        bytes[2 * i] = bits[i] & 0xff;
        bytes[2 * i + 1] = (bits[i] >> 8) & 0xff;
      }
      return fromBytes(bytes);
    }
    case DataType.INT64:
      typed(t.int64Data, 'int64_data');
      return { shape, dtype, data: Float64Array.from(t.int64Data, (v) => int64Element(v, what)) };
    case DataType.UINT32:
    case DataType.UINT64:
      typed(t.uint64Data, 'uint64_data');
      return { shape, dtype, data: Float64Array.from(t.uint64Data, (v) => int64(v, what)) };
    default:
      return { shape, dtype, data: Float64Array.from(typed(t.int32Data, 'int32_data')) };
  }
}

/** A FLOAT TensorProto with its values as little-endian raw_data (exact bits), for encoding. */
export function floatTensorProto(name: string, shape: readonly number[], values: Float32Array): Record<string, unknown> {
  const rawData = new Uint8Array(values.length * 4);
  writeFloat32LittleEndian(values, rawData, 0);
  return { name, dims: [...shape], dataType: DataType.FLOAT, rawData };
}

/** An INT64 TensorProto (shapes, pads) as int64_data. */
export function int64TensorProto(name: string, shape: readonly number[], values: readonly number[]): Record<string, unknown> {
  return { name, dims: [...shape], dataType: DataType.INT64, int64Data: [...values] };
}
