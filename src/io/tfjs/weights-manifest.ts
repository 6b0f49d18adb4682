// TF.js weights manifest and binary shards: decode float32/int32 and uint8/uint16/float16-quantized weights
// exactly as tfjs-core's `decodeWeights` does, and write float32 weights split into fixed-size shards.

import { FormatError } from '../../errors.js';
import { Tensor, formatShape } from '../../tensor/tensor.js';
import { readElements, writeFloat32LittleEndian } from '../elements.js';
import type { ElementType } from '../elements.js';
import { isObject } from './keras-config.js';

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
  original_dtype?: string;
}

export interface TfjsWeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  quantization?: TfjsQuantization;
}

export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightEntry[];
}

/** The converter's default shard size: 4 MiB. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const STORED: Record<string, ElementType> = {
  float32: { kind: 'float', size: 4, littleEndian: true },
  int32: { kind: 'int', size: 4, littleEndian: true },
  bool: { kind: 'bool', size: 1, littleEndian: true },
  uint8: { kind: 'uint', size: 1, littleEndian: true },
  uint16: { kind: 'uint', size: 2, littleEndian: true },
  float16: { kind: 'float', size: 2, littleEndian: true },
};

/** Checks a `weightsManifest` and returns it typed; every problem names the group and weight. */
export function parseWeightsManifest(value: unknown, source: string): TfjsWeightGroup[] {
  if (!Array.isArray(value)) throw new FormatError(`${source}: weightsManifest must be a list of groups`);
  return value.map((group, g) => {
    const where = `${source}: weightsManifest group ${g}`;
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new FormatError(`${where} must have paths and weights lists`);
    if (!group.paths.every((p) => typeof p === 'string')) throw new FormatError(`${where}: paths must be strings`);
    const weights = group.weights.map((w, i) => parseEntry(w, `${where} weight ${i}`));
    return { paths: group.paths as string[], weights };
  });
}

function parseEntry(w: unknown, where: string): TfjsWeightEntry {
  if (!isObject(w) || typeof w.name !== 'string') throw new FormatError(`${where} must be an object with a name`);
  const at = `${where} (${w.name})`;
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new FormatError(`${at}: shape must be non-negative integers, got ${JSON.stringify(w.shape)}`);
  if (w.dtype !== 'float32' && w.dtype !== 'int32' && w.dtype !== 'bool') throw new FormatError(`${at}: dtype ${JSON.stringify(w.dtype)} is not supported (float32, int32, bool)`);
  const entry: TfjsWeightEntry = { name: w.name, shape: w.shape as number[], dtype: w.dtype };
  if (w.quantization !== undefined && w.quantization !== null) {
    const q = w.quantization;
    if (!isObject(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16')) {
      throw new FormatError(`${at}: quantization dtype ${JSON.stringify(isObject(q) ? q.dtype : q)} is not supported (uint8, uint16, float16)`);
    }
    if (q.dtype === 'float16') {
      if (w.dtype !== 'float32') throw new FormatError(`${at}: float16 quantization needs dtype float32, got ${w.dtype}`);
    } else if (typeof q.scale !== 'number' || typeof q.min !== 'number' || !Number.isFinite(q.scale) || !Number.isFinite(q.min)) {
      throw new FormatError(`${at}: ${q.dtype} quantization needs finite scale and min`);
    }
    entry.quantization = { dtype: q.dtype, scale: q.scale as number | undefined, min: q.min as number | undefined };
  }
  return entry;
}

/** Bytes one weight takes in its group's buffer. */
export function storedBytes(w: TfjsWeightEntry): number {
  const type = STORED[w.quantization?.dtype ?? w.dtype];
  return w.shape.reduce((n, d) => n * d, 1) * type.size;
}

/**
 * Decodes every weight. `shard(path)` gives the bytes of each path; a group's shards are concatenated in
 * order and its weights read one after another, as tfjs does. uint8/uint16 values become v·scale + min
 * (in double, then rounded to float32), float16 widens exactly. A group shorter than its weights is an error.
 */
export function decodeWeights(groups: TfjsWeightGroup[], shard: (path: string) => Uint8Array, source: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  groups.forEach((group, g) => {
    const parts = group.paths.map((p) => shard(p));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const needed = group.weights.reduce((n, w) => n + storedBytes(w), 0);
    if (needed > total) throw new FormatError(`${source}: weight group ${g} needs ${needed} bytes, its shards (${group.paths.join(', ')}) hold ${total}`);
    const buffer = parts.length === 1 ? parts[0] : concat(parts, total);
    let offset = 0;
    for (const w of group.weights) {
      const bytes = storedBytes(w);
      const stored = w.quantization?.dtype ?? w.dtype;
      const count = bytes / STORED[stored].size;
      const where = `${source}: weight ${w.name}`;
      let data = readElements(buffer, offset, count, STORED[stored], where);
      if (w.quantization && w.quantization.dtype !== 'float16') {
        const { scale, min } = w.quantization as Required<TfjsQuantization>;
        for (let i = 0; i < count; i++) data[i] = data[i] * scale + min;
        if (w.dtype === 'int32') data = data.map(Math.round);
      }
      if (out.has(w.name)) throw new FormatError(`${where}: appears twice in the manifest`);
      out.set(w.name, new Tensor(w.shape, data));
      offset += bytes;
    }
  });
  return out;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes float32 weights into one group: their bytes in order, cut into shards of `shardBytes`
 * (the last may be shorter) named `group1-shardIofN.bin` as the converter names them.
 */
export function encodeWeights(weights: { name: string; tensor: Tensor }[], shardBytes = DEFAULT_SHARD_BYTES): { manifest: TfjsWeightGroup[]; shards: Map<string, Uint8Array> } {
  if (!Number.isInteger(shardBytes) || shardBytes < 4) throw new FormatError(`shard size must be an integer ≥ 4 bytes, got ${shardBytes}`);
  const total = weights.reduce((n, w) => n + w.tensor.size * 4, 0);
  const buffer = new Uint8Array(total);
  const entries: TfjsWeightEntry[] = [];
  let at = 0;
  for (const { name, tensor } of weights) {
    if (entries.some((e) => e.name === name)) throw new FormatError(`weight ${name} ${formatShape(tensor.shape)} appears twice`);
    writeFloat32LittleEndian(tensor.data, buffer, at);
    at += tensor.size * 4;
    entries.push({ name, shape: [...tensor.shape], dtype: 'float32' });
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const shards = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) shards.set(`group1-shard${i + 1}of${count}.bin`, buffer.slice(i * shardBytes, Math.min(total, (i + 1) * shardBytes)));
  return { manifest: [{ paths: [...shards.keys()], weights: entries }], shards };
}
