// Stored elements to float32 and strict UTF-8 text: the byte-level layer the npy and safetensors codecs share.
// Pure (no fs), so it runs in browsers too.

import { FormatError } from '../errors.js';

/** How one stored element is laid out: what it encodes, its size in bytes and its byte order. */
export interface ElementType {
  readonly kind: 'float' | 'bfloat' | 'int' | 'uint' | 'bool';
  readonly size: 1 | 2 | 4 | 8;
  readonly littleEndian: boolean;
}

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Past ±2^53 an int64 has no exact JavaScript number; we refuse it rather than round silently. */
const LARGEST_EXACT_INTEGER = 2n ** 53n;

/**
 * Converts `count` elements stored from `bytes[start]` into a fresh Float32Array: the only copy made.
 * Float32 is copied byte for byte (NaN payloads, -0 and subnormals survive); wider or integer types round
 * to nearest float32. `where` names the file and tensor in errors, whose offsets are absolute in `bytes`.
 * The caller has checked that the range lies inside `bytes`.
 */
export function readElements(bytes: Uint8Array, start: number, count: number, type: ElementType, where: string): Float32Array {
  const out = new Float32Array(count);
  const { kind, size, littleEndian } = type;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * size);
  if (kind === 'float' && size === 4) {
    copyFloat32Bytes(bytes.subarray(start, start + count * 4), new Uint8Array(out.buffer), littleEndian !== hostLittleEndian);
  } else if (kind === 'float' && size === 8) {
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, littleEndian);
  } else if (kind === 'float' && size === 2) {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) {
      const half = view.getUint16(i * 2, littleEndian);
      const exponent = (half >> 10) & 0x1f;
      if (exponent === 0) out[i] = (half & 0x8000 ? -1 : 1) * (half & 0x3ff) * 2 ** -24; // zero or subnormal, exact in float32
      else bits[i] = halfBitsToFloatBits(half, exponent);
    }
  } else if (kind === 'bfloat') {
    // bfloat16 is the top half of a float32: widening is a shift, exact for every value
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, littleEndian) << 16;
  } else if (kind === 'bool') {
    for (let i = 0; i < count; i++) {
      const value = view.getUint8(i);
      if (value > 1) throw new FormatError(`${where}: boolean element ${i} is ${value}, expected 0 or 1`, start + i);
      out[i] = value;
    }
  } else if (size === 8) {
    for (let i = 0; i < count; i++) {
      const value = kind === 'int' ? view.getBigInt64(i * 8, littleEndian) : view.getBigUint64(i * 8, littleEndian);
      if (value > LARGEST_EXACT_INTEGER || value < -LARGEST_EXACT_INTEGER) {
        throw new FormatError(`${where}: 64-bit integer element ${i} is ${value}, beyond ±2^53 where numbers stop being exact`, start + i * 8);
      }
      out[i] = Number(value);
    }
  } else {
    const read = integerReader(view, kind === 'int', size);
    for (let i = 0; i < count; i++) out[i] = read(i * size, littleEndian);
  }
  return out;
}

/** Writes float32 values as little-endian bytes into `target` from `at`, bit for bit. */
export function writeFloat32LittleEndian(values: Float32Array, target: Uint8Array, at: number): void {
  const source = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  copyFloat32Bytes(source, target.subarray(at, at + source.length), !hostLittleEndian);
}

function copyFloat32Bytes(source: Uint8Array, target: Uint8Array, swap: boolean): void {
  if (!swap) {
    target.set(source);
    return;
  }
  for (let i = 0; i < source.length; i += 4) {
    target[i] = source[i + 3]!;
    target[i + 1] = source[i + 2]!;
    target[i + 2] = source[i + 1]!;
    target[i + 3] = source[i]!;
  }
}

/** IEEE half (normal, infinite or NaN) to the float32 with the same value: sign, rebiased exponent, widened fraction. */
function halfBitsToFloatBits(half: number, exponent: number): number {
  const sign = (half & 0x8000) << 16;
  const fraction = (half & 0x3ff) << 13;
  const floatExponent = exponent === 0x1f ? 0xff : exponent - 15 + 127;
  return (sign | (floatExponent << 23) | fraction) >>> 0;
}

function integerReader(view: DataView, signed: boolean, size: 1 | 2 | 4): (at: number, littleEndian: boolean) => number {
  if (size === 1) return signed ? (at) => view.getInt8(at) : (at) => view.getUint8(at);
  if (size === 2) return signed ? (at, le) => view.getInt16(at, le) : (at, le) => view.getUint16(at, le);
  return signed ? (at, le) => view.getInt32(at, le) : (at, le) => view.getUint32(at, le);
}

/** Index where the first malformed UTF-8 sequence in `bytes` starts (bytes.length if there is none). */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    // continuation count and smallest code point for that length (overlong encodings are invalid)
    const [continuations, smallest] = lead >= 0xc2 && lead <= 0xdf ? [1, 0x80] : lead >= 0xe0 && lead <= 0xef ? [2, 0x800] : lead >= 0xf0 && lead <= 0xf4 ? [3, 0x10000] : [0, 0];
    if (continuations === 0) return i;
    let codePoint = lead & (0x3f >> continuations);
    for (let k = 1; k <= continuations; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    if (codePoint < smallest || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return i;
    i += continuations + 1;
  }
  return i;
}

/** Strict UTF-8 decoding; `fail` gets the offset in `bytes` of the first malformed sequence. A BOM is kept, not skipped. */
export function decodeUtf8(bytes: Uint8Array, fail: (offset: number) => Error): string {
  const bad = firstInvalidUtf8Byte(bytes);
  if (bad < bytes.length) throw fail(bad);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}
