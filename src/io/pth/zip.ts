// A small, strict ZIP reader and writer for torch.save archives: central directory (ZIP64 included), stored or
// deflated entries, every offset and length checked against the buffer and CRC-32 verified before use.

import { inflateSync } from 'fflate';
import { FormatError } from '../../errors.js';
import { crc32 } from '../../data/gzip.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the local file header. */
  localOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** The most deflate can expand one byte into. */
const MAX_DEFLATE_RATIO = 1032;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readDirectory();
  }

  private u16(at: number): number {
    this.need(at, 2);
    return this.view.getUint16(at, true);
  }

  private u32(at: number): number {
    this.need(at, 4);
    return this.view.getUint32(at, true);
  }

  private u64(at: number): number {
    this.need(at, 8);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.source}: zip field ${v} is beyond any real file`, at);
    return Number(v);
  }

  private need(at: number, length: number): void {
    if (at < 0 || at + length > this.bytes.length) throw new FormatError(`${this.source}: zip structure runs past the end of the file (${this.bytes.length} bytes): truncated?`, at);
  }

  private readDirectory(): void {
    const bytes = this.bytes;
    if (bytes.length < 22) throw new FormatError(`${this.source}: ${bytes.length} bytes is too short for a zip archive`, 0);
    let eocd = -1;
    for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
      if (this.view.getUint32(at, true) === EOCD) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) throw new FormatError(`${this.source}: no zip end-of-central-directory record: not a zip archive, or truncated`);
    let count = this.u16(eocd + 10);
    let directorySize = this.u32(eocd + 12);
    let directoryOffset = this.u32(eocd + 16);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locator = eocd - 20;
      if (locator < 0 || this.u32(locator) !== ZIP64_LOCATOR) throw new FormatError(`${this.source}: ZIP64 sizes without a ZIP64 locator`, eocd);
      const record = this.u64(locator + 8);
      if (this.u32(record) !== ZIP64_EOCD) throw new FormatError(`${this.source}: ZIP64 end-of-central-directory record not found where its locator points`, record);
      count = this.u64(record + 32);
      directorySize = this.u64(record + 40);
      directoryOffset = this.u64(record + 48);
    }
    this.need(directoryOffset, directorySize);
    if (count * 46 > directorySize) throw new FormatError(`${this.source}: central directory claims ${count} entries in ${directorySize} bytes`, eocd);
    let at = directoryOffset;
    for (let i = 0; i < count; i++) {
      if (this.u32(at) !== CENTRAL) throw new FormatError(`${this.source}: central directory entry ${i} has a bad signature`, at);
      const flags = this.u16(at + 8);
      const method = this.u16(at + 10);
      const crc = this.u32(at + 16);
      let compressedSize = this.u32(at + 20);
      let size = this.u32(at + 24);
      const nameLength = this.u16(at + 28);
      const extraLength = this.u16(at + 30);
      const commentLength = this.u16(at + 32);
      let localOffset = this.u32(at + 42);
      this.need(at + 46, nameLength + extraLength + commentLength);
      const name = new TextDecoder().decode(this.bytes.subarray(at + 46, at + 46 + nameLength));
      if (flags & 1) throw new FormatError(`${this.source}: zip entry ${name} is encrypted`, at);
      // ZIP64 extra field: the 0xffffffff fields, in order
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = this.u16(extra);
        const length = this.u16(extra + 2);
        if (id === 0x0001) {
          let field = extra + 4;
          if (size === 0xffffffff) {
            size = this.u64(field);
            field += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = this.u64(field);
            field += 8;
          }
          if (localOffset === 0xffffffff) localOffset = this.u64(field);
        }
        extra += 4 + length;
      }
      if (this.entries.has(name)) throw new FormatError(`${this.source}: zip entry ${name} appears twice`, at);
      this.entries.set(name, { name, method, compressedSize, size, crc, localOffset });
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  /** An entry's bytes (a view for stored entries, a new buffer for deflated ones), CRC-checked. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new FormatError(`${this.source}: archive has no entry ${name}`);
    const at = entry.localOffset;
    if (this.u32(at) !== LOCAL) throw new FormatError(`${this.source}: zip entry ${name}: local header not found`, at);
    const start = at + 30 + this.u16(at + 26) + this.u16(at + 28);
    this.need(start, entry.compressedSize);
    const stored = this.bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) throw new FormatError(`${this.source}: stored zip entry ${name} has different sizes (${entry.compressedSize}, ${entry.size})`, at);
      data = stored;
    } else if (entry.method === 8) {
      if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 64) throw new FormatError(`${this.source}: zip entry ${name} claims ${entry.size} bytes from ${entry.compressedSize} deflated`, at);
      try {
        data = inflateSync(stored, { out: new Uint8Array(entry.size) });
      } catch (e) {
        throw new FormatError(`${this.source}: zip entry ${name} does not inflate (${(e as Error).message})`, start);
      }
      if (data.length !== entry.size) throw new FormatError(`${this.source}: zip entry ${name} inflates to ${data.length} bytes, not ${entry.size}`, start);
    } else throw new FormatError(`${this.source}: zip entry ${name} uses compression method ${entry.method} (stored and deflate only)`, at);
    const actual = crc32(data) >>> 0;
    if (actual !== entry.crc >>> 0) throw new FormatError(`${this.source}: zip entry ${name} fails its CRC-32 check: corrupt`, start);
    return data;
  }
}

/**
 * Writes stored (uncompressed) entries, each data start aligned to 64 bytes by padding in the local extra field,
 * as PyTorch's writer does so the archive can be memory-mapped. ZIP64 is not written: archives stay under 4 GiB.
 */
export function writeStoredZip(files: { name: string; data: Uint8Array }[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of files) {
    const nameBytes = encoder.encode(name);
    const headerEnd = offset + 30 + nameBytes.length + 4;
    const padding = (64 - (headerEnd % 64)) % 64;
    const crc = crc32(data) >>> 0;
    const local = new Uint8Array(30 + nameBytes.length + 4 + padding);
    const l = new DataView(local.buffer);
    l.setUint32(0, LOCAL, true);
    l.setUint16(4, 20, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, data.length, true);
    l.setUint32(22, data.length, true);
    l.setUint16(26, nameBytes.length, true);
    l.setUint16(28, 4 + padding, true);
    local.set(nameBytes, 30);
    l.setUint16(30 + nameBytes.length, 0x4246, true); // 'FB': PyTorch's padding field
    l.setUint16(32 + nameBytes.length, padding, true);
    const entry = new Uint8Array(46 + nameBytes.length);
    const c = new DataView(entry.buffer);
    c.setUint32(0, CENTRAL, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, data.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint32(42, offset, true);
    entry.set(nameBytes, 46);
    parts.push(local, data);
    central.push(entry);
    offset += local.length + data.length;
  }
  const directorySize = central.reduce((n, e) => n + e.length, 0);
  if (offset + directorySize >= 0xffffffff) throw new FormatError(`cannot write a ${offset}-byte zip archive: over 4 GiB needs ZIP64, which this writer does not do`);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, EOCD, true);
  e.setUint16(8, files.length, true);
  e.setUint16(10, files.length, true);
  e.setUint32(12, directorySize, true);
  e.setUint32(16, offset, true);
  const out = new Uint8Array(offset + directorySize + 22);
  let at = 0;
  for (const p of [...parts, ...central, end]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
