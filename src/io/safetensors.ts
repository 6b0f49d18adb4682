// safetensors reader and writer over bytes, for Node and browsers alike (no fs here): a u64 little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then one contiguous data region.

import { FormatError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import { decodeUtf8, readElements, writeFloat32LittleEndian, type ElementType } from './elements.js';

export interface SafetensorsContents {
  /** Tensors in the order their data lies in the file. */
  tensors: Map<string, Tensor>;
  /** The header's `__metadata__` (string → string), empty when the file has none. */
  metadata: Record<string, string>;
}

/** The reference implementation refuses headers above this size; so do we, before allocating anything. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

/** The dtypes we read, all little-endian (the format's only byte order). F8 kinds are not supported. */
const DTYPES = new Map<string, ElementType>([
  ['F64', { kind: 'float', size: 8, littleEndian: true }],
  ['F32', { kind: 'float', size: 4, littleEndian: true }],
  ['F16', { kind: 'float', size: 2, littleEndian: true }],
  ['BF16', { kind: 'bfloat', size: 2, littleEndian: true }],
  ['I64', { kind: 'int', size: 8, littleEndian: true }],
  ['I32', { kind: 'int', size: 4, littleEndian: true }],
  ['I16', { kind: 'int', size: 2, littleEndian: true }],
  ['I8', { kind: 'int', size: 1, littleEndian: true }],
  ['U64', { kind: 'uint', size: 8, littleEndian: true }],
  ['U32', { kind: 'uint', size: 4, littleEndian: true }],
  ['U16', { kind: 'uint', size: 2, littleEndian: true }],
  ['U8', { kind: 'uint', size: 1, littleEndian: true }],
  ['BOOL', { kind: 'bool', size: 1, littleEndian: true }],
]);

interface Entry {
  name: string;
  type: ElementType;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** The header of a safetensors file, checked as far as its length, UTF-8 and JSON object go. */
function readHeader(bytes: Uint8Array, source: string): { header: Record<string, unknown>; text: string; dataStart: number } {
  if (bytes.length < 8) {
    throw new FormatError(`${source}: truncated safetensors file: ${bytes.length} bytes, the header length alone needs 8`, bytes.length);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(`${source}: header length ${headerLength} is absurd (limit ${MAX_HEADER_BYTES} bytes)`, 0);
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.length) {
    throw new FormatError(`${source}: header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`, 0);
  }
  const text = decodeUtf8(bytes.subarray(8, dataStart), (offset) => new FormatError(`${source}: header is not valid UTF-8`, 8 + offset));
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${source}: header is not valid JSON (${(e as Error).message})`, 8);
  }
  if (!isPlainObject(header)) throw new FormatError(`${source}: header must be a JSON object, got ${jsonKind(header)}`, 8);
  return { header, text, dataStart };
}

/** Only the `__metadata__` of a safetensors file (empty when it has none), without reading any tensor. */
export function decodeSafetensorsMetadata(bytes: Uint8Array, source = '<buffer>'): Record<string, string> {
  const { header } = readHeader(bytes, source);
  const value = header[METADATA_KEY];
  return value === undefined ? {} : readMetadata(value, (message) => new FormatError(`${source}: ${METADATA_KEY} ${message}`, 8));
}

/**
 * Reads a safetensors file; every dtype becomes float32 (one copy per tensor, never a view of `bytes`).
 * Checked as the reference implementation checks: the data offsets must tile the data region exactly,
 * without overlap or gap, and each range must be exactly shape × dtype size. `source` names the file in errors.
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  const { header, text, dataStart } = readHeader(bytes, source);
  // Header problems point at the entry's name in the header; data problems at the data itself.
  const headerOffsetOf = (name: string): number => {
    const at = text.search(new RegExp(`${escapeRegExp(JSON.stringify(name))}\\s*:`));
    return at < 0 ? 8 : 8 + new TextEncoder().encode(text.slice(0, at)).length;
  };
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = readMetadata(value, (message) => new FormatError(`${source}: ${METADATA_KEY} ${message}`, headerOffsetOf(name)));
    } else {
      const fail = (message: string) => new FormatError(`${source}: tensor '${name}': ${message}`, headerOffsetOf(name));
      const entry = readEntry(name, value, fail);
      if (entry.end > dataLength) {
        throw fail(`data_offsets [${entry.begin}, ${entry.end}] run past the end of the data region (${dataLength} bytes, from byte ${dataStart})`);
      }
      entries.push(entry);
    }
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const entry of entries) {
    if (entry.begin < covered) {
      throw new FormatError(
        `${source}: tensor '${entry.name}': data_offsets [${entry.begin}, ${entry.end}] overlap tensor '${previous!.name}' [${previous!.begin}, ${previous!.end}]`,
        dataStart + entry.begin,
      );
    }
    if (entry.begin > covered) throw gap(source, covered, entry.begin, dataStart);
    covered = entry.end;
    previous = entry;
  }
  if (covered < dataLength) throw gap(source, covered, dataLength, dataStart);

  const tensors = new Map<string, Tensor>();
  for (const { name, type, shape, begin, end } of entries) {
    const data = readElements(bytes, dataStart + begin, (end - begin) / type.size, type, `${source}: tensor '${name}'`);
    tensors.set(name, new Tensor(shape, data));
  }
  return { tensors, metadata };
}

/** A tensor to write: float32 (a Tensor), or int8 (an int8 model's weights). */
export type StoredTensor = Tensor | { readonly shape: readonly number[]; readonly data: Int8Array };

/**
 * Writes float32 (F32) and int8 (I8) tensors as the reference implementation does: data in name order, header JSON with
 * `__metadata__` first (keys sorted here, as a hash map has no order), padded with spaces to a multiple of 8 bytes.
 */
export function encodeSafetensors(tensors: Map<string, StoredTensor> | Record<string, StoredTensor>, metadata?: Record<string, string>): Uint8Array {
  const named = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) => compareCodePoints(a, b));
  // The JSON is assembled by hand: a JS object would move integer-like keys ("0", "1") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const pairs = Object.entries(metadata).sort(([a], [b]) => compareCodePoints(a, b));
    for (const [key, value] of pairs) {
      if (typeof value !== 'string') throw new FormatError(`cannot write safetensors: metadata '${key}' must be a string, got ${jsonKind(value)}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of named) {
    if (name === METADATA_KEY) throw new FormatError(`cannot write safetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.data instanceof Int8Array ? 'I8' : 'F32'}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // keeps the data 8-aligned for readers that map the file
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, t] of named) {
    if (t.data instanceof Int8Array) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length), at);
    else writeFloat32LittleEndian(t.data, out, at);
    at += t.data.byteLength;
  }
  return out;
}

function readEntry(name: string, value: unknown, fail: (message: string) => FormatError): Entry {
  if (!isPlainObject(value)) throw fail(`entry must be an object, got ${jsonKind(value)}`);
  // Other keys are ignored, as the reference implementation ignores them.
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, key)) throw fail(`entry has no '${key}'`);
  }
  const { dtype, shape, data_offsets: offsets } = value as { dtype: unknown; shape: unknown; data_offsets: unknown };
  if (typeof dtype !== 'string') throw fail(`dtype must be a string, got ${jsonKind(dtype)}`);
  const type = DTYPES.get(dtype);
  if (type === undefined) throw fail(`unknown dtype '${dtype}' (supported: ${[...DTYPES.keys()].join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isByteCount)) throw fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteCount)) {
    throw fail(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw fail(`data_offsets [${begin}, ${end}] end before they begin`);
  const expectedBytes = shape.reduce((n: bigint, d: number) => n * BigInt(d), 1n) * BigInt(type.size);
  if (expectedBytes !== BigInt(end - begin)) {
    throw fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} shape ${formatShape(shape)} needs ${expectedBytes} bytes`);
  }
  return { name, type, dtype, shape, begin, end };
}

function readMetadata(value: unknown, fail: (message: string) => FormatError): Record<string, string> {
  if (value === null) return {}; // the reference reads null as "no metadata"
  if (!isPlainObject(value)) throw fail(`must be an object of strings, got ${jsonKind(value)}`);
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw fail(`value '${key}' must be a string, got ${jsonKind(item)}`);
    Object.defineProperty(metadata, key, { value: item, enumerable: true, writable: true, configurable: true }); // '__proto__' stays data
  }
  return metadata;
}

function gap(source: string, from: number, to: number, dataStart: number): FormatError {
  return new FormatError(`${source}: data bytes ${from}..${to} belong to no tensor (the offsets must cover the data region without gaps)`, dataStart + from);
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonKind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Orders as the reference implementation's Rust strings do: by code point (UTF-8 byte order), not by UTF-16 unit. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
