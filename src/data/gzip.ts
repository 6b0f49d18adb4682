// Gzip for data files, in browsers and Node alike: the container (header, CRC-32, length) checked here,
// the deflate body inflated by fflate, with the output size bounded by what the compressed bytes can hold.

import { inflateSync } from 'fflate';

import { FormatError } from '../errors.js';

/** Deflate cannot expand more than 1032:1 (RFC 1951: a 258-byte match costs at least 2 bits), so a
 * trailer that claims more than this per compressed byte is a lie and nothing that large is allocated. */
const MAX_DEFLATE_RATIO = 1032;

const FLAG_HEADER_CRC = 0x02;
const FLAG_EXTRA = 0x04;
const FLAG_NAME = 0x08;
const FLAG_COMMENT = 0x10;

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses one gzip member. Throws a FormatError naming `source` and the byte offset (in the
 * compressed file) when the header, the deflate data, the CRC-32 or the length in the trailer is wrong.
 */
export function gunzip(bytes: Uint8Array, source = 'gzip data'): Uint8Array {
  if (!isGzip(bytes)) throw new FormatError(`${source}: not gzip (magic ${hex(bytes.subarray(0, 2))}, expected 1f 8b)`, 0);
  const bodyStart = gzipHeaderLength(bytes, source);
  if (bytes.length < bodyStart + 8) {
    throw new FormatError(`${source}: truncated gzip (${bytes.length} bytes, no room for data and the 8-byte trailer)`, bytes.length);
  }
  const trailer = bytes.length - 8;
  const expectedCrc = readUint32LE(bytes, trailer);
  const expectedLength = readUint32LE(bytes, trailer + 4);
  const bound = (trailer - bodyStart) * MAX_DEFLATE_RATIO + 64;
  if (expectedLength > bound) {
    throw new FormatError(
      `${source}: gzip trailer claims ${expectedLength} bytes, more than ${trailer - bodyStart} compressed bytes can hold ` +
        `(the file is truncated or corrupt)`,
      trailer + 4,
    );
  }
  // One spare byte: inflating into a fixed buffer stops silently when it is full, so a body longer than
  // the trailer says shows up as a filled spare byte instead of going unnoticed.
  const out = new Uint8Array(expectedLength + 1);
  let data: Uint8Array;
  try {
    data = inflateSync(bytes.subarray(bodyStart, trailer), { out });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (/unexpected EOF/i.test(reason)) {
      throw new FormatError(`${source}: truncated gzip (the deflate data ends early)`, bytes.length);
    }
    throw new FormatError(`${source}: corrupt deflate data (${reason})`, bodyStart);
  }
  if (data.length !== expectedLength) {
    throw new FormatError(
      `${source}: gzip data inflates to ${data.length === out.length ? `more than ${expectedLength}` : data.length} bytes but the trailer says ` +
        `${expectedLength} (truncated, corrupt, or several gzip members, which is not supported)`,
      trailer + 4,
    );
  }
  const crc = crc32(data);
  if (crc !== expectedCrc) {
    throw new FormatError(`${source}: gzip CRC-32 mismatch (data ${crc.toString(16)}, trailer ${expectedCrc.toString(16)}): the file is corrupt`, trailer);
  }
  return data;
}

/** Length of the gzip header (RFC 1952 §2.3), checking each optional field fits in the file. */
function gzipHeaderLength(bytes: Uint8Array, source: string): number {
  if (bytes.length < 10) throw new FormatError(`${source}: truncated gzip header (${bytes.length} bytes, need 10)`, bytes.length);
  if (bytes[2] !== 8) throw new FormatError(`${source}: unsupported gzip compression method ${bytes[2]} (only 8, deflate)`, 2);
  const flags = bytes[3];
  if (flags & 0xe0) throw new FormatError(`${source}: reserved gzip flag bits set (0x${flags.toString(16)})`, 3);
  let offset = 10;
  const need = (n: number, what: string): void => {
    if (offset + n > bytes.length) throw new FormatError(`${source}: truncated gzip header (${what})`, bytes.length);
  };
  if (flags & FLAG_EXTRA) {
    need(2, 'extra field length');
    const extra = bytes[offset] | (bytes[offset + 1] << 8);
    offset += 2;
    need(extra, 'extra field');
    offset += extra;
  }
  for (const flag of [FLAG_NAME, FLAG_COMMENT]) {
    if (!(flags & flag)) continue;
    const end = bytes.indexOf(0, offset);
    if (end < 0) throw new FormatError(`${source}: truncated gzip header (unterminated ${flag === FLAG_NAME ? 'file name' : 'comment'})`, bytes.length);
    offset = end + 1;
  }
  if (flags & FLAG_HEADER_CRC) {
    need(2, 'header CRC');
    offset += 2;
  }
  return offset;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320), as gzip stores it. */
export function crc32(data: Uint8Array): number {
  const table = (crcTable ??= makeCrcTable());
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function readUint32LE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ') || '(none)';
}
