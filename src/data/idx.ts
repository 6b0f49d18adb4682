// IDX files (the MNIST / Fashion-MNIST format), gzipped or not: magic 00 00 <dtype> <rank>, rank big-endian
// uint32 dimensions, then the values big-endian in row-major order. Pure bytes in, typed arrays out.

import { gzipSync } from 'fflate';

import { ConfigError, FormatError, ShapeError } from '../errors.js';
import { gunzip, hex, isGzip } from './gzip.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  /** Row-major values. For uint8 a view on the (decompressed) input bytes, not a copy. */
  data: IdxData;
}

interface IdxType {
  code: number;
  dtype: IdxDtype;
  bytes: number;
  make: (count: number) => IdxData;
  get: (view: DataView, offset: number) => number;
  set: (view: DataView, offset: number, value: number) => void;
}

/** The dtype codes of the IDX format's third magic byte, and how each is read and written (big-endian). */
const DTYPES: readonly IdxType[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1, make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o), set: (v, o, x) => v.setUint8(o, x) },
  { code: 0x09, dtype: 'int8', bytes: 1, make: (n) => new Int8Array(n), get: (v, o) => v.getInt8(o), set: (v, o, x) => v.setInt8(o, x) },
  { code: 0x0b, dtype: 'int16', bytes: 2, make: (n) => new Int16Array(n), get: (v, o) => v.getInt16(o), set: (v, o, x) => v.setInt16(o, x) },
  { code: 0x0c, dtype: 'int32', bytes: 4, make: (n) => new Int32Array(n), get: (v, o) => v.getInt32(o), set: (v, o, x) => v.setInt32(o, x) },
  { code: 0x0d, dtype: 'float32', bytes: 4, make: (n) => new Float32Array(n), get: (v, o) => v.getFloat32(o), set: (v, o, x) => v.setFloat32(o, x) },
  { code: 0x0e, dtype: 'float64', bytes: 8, make: (n) => new Float64Array(n), get: (v, o) => v.getFloat64(o), set: (v, o, x) => v.setFloat64(o, x) },
];

/**
 * Decodes an IDX file; gzip is detected by its magic and undone first. Throws a FormatError naming
 * `source` and the byte offset for a bad magic, an unsupported dtype or rank, a truncated file, or
 * dimensions that do not match the data's length. Nothing is allocated beyond what the file holds:
 * the dimensions are checked against the bytes present before any array is made.
 */
export function decodeIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (isGzip(bytes)) return decodeRawIdx(gunzip(bytes, source), `${source} (decompressed)`);
  return decodeRawIdx(bytes, source);
}

function decodeRawIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) throw new FormatError(`${source}: truncated IDX header (${bytes.length} bytes, need at least 4)`, bytes.length);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new FormatError(`${source}: not an IDX file (magic ${hex(bytes.subarray(0, 4))}, expected 00 00 <dtype> <rank>)`, 0);
  }
  const type = DTYPES.find((d) => d.code === bytes[2]);
  if (type === undefined) {
    throw new FormatError(
      `${source}: unsupported IDX dtype code 0x${bytes[2].toString(16).padStart(2, '0')} (expected one of ${DTYPES.map((d) => `0x${d.code.toString(16).padStart(2, '0')} ${d.dtype}`).join(', ')})`,
      2,
    );
  }
  const rank = bytes[3];
  if (rank === 0) throw new FormatError(`${source}: IDX rank 0 is not supported (expected at least one dimension)`, 3);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new FormatError(`${source}: truncated IDX header (rank ${rank} needs ${headerLength} bytes, file has ${bytes.length})`, bytes.length);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const available = bytes.length - headerLength;
  const shape: number[] = [];
  for (let axis = 0; axis < rank; axis++) shape.push(view.getUint32(4 + 4 * axis, false));
  // exact while it fits a double's integer range; a larger (even infinite) product is far beyond any file
  // and fails the check below; a zero dimension makes it 0 whatever the others say
  const count = shape.includes(0) ? 0 : shape.reduce((a, b) => a * b, 1);
  const needed = count * type.bytes;
  if (needed > available) {
    throw new FormatError(
      `${source}: truncated IDX data: dimensions [${shape.join(', ')}] of ${type.dtype} need ${needed} bytes after the ${headerLength}-byte header, the file holds ${available}`,
      bytes.length,
    );
  }
  if (needed < available) {
    throw new FormatError(
      `${source}: IDX size mismatch: dimensions [${shape.join(', ')}] of ${type.dtype} need ${needed} bytes after the header, but ${available - needed} bytes follow them`,
      headerLength + needed,
    );
  }
  return { dtype: type.dtype, shape, data: readValues(bytes, headerLength, count, type) };
}

function readValues(bytes: Uint8Array, offset: number, count: number, type: IdxType): IdxData {
  // bytes are bytes in either order: a view, no copy
  if (type.dtype === 'uint8') return bytes.subarray(offset, offset + count);
  const out = type.make(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * type.bytes);
  for (let i = 0; i < count; i++) out[i] = type.get(view, i * type.bytes);
  return out;
}

/** Encodes an IDX file (gzipped when asked, with mtime 0 so the bytes are reproducible). */
export function encodeIdx(array: IdxArray, options: { gzip?: boolean } = {}): Uint8Array {
  const type = DTYPES.find((d) => d.dtype === array.dtype);
  if (type === undefined) throw new ConfigError(`cannot encode IDX dtype ${String(array.dtype)}`);
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new ShapeError(`cannot encode IDX: shape [${array.shape.join(', ')}] needs ${count} values, got ${array.data.length}`);
  }
  if (array.shape.length === 0 || array.shape.length > 255) throw new ShapeError(`cannot encode IDX of rank ${array.shape.length} (1..255)`);
  const headerLength = 4 + 4 * array.shape.length;
  const bytes = new Uint8Array(headerLength + count * type.bytes);
  const view = new DataView(bytes.buffer);
  bytes[2] = type.code;
  bytes[3] = array.shape.length;
  array.shape.forEach((dim, axis) => view.setUint32(4 + 4 * axis, dim, false));
  for (let i = 0; i < count; i++) type.set(view, headerLength + i * type.bytes, array.data[i]);
  return options.gzip ? gzipSync(bytes, { level: 9, mtime: 0 }) : bytes;
}
