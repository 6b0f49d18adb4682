// A small read-only view of an HDF5 file held in memory, over h5wasm (HDF5 compiled to WebAssembly). h5wasm is
// imported lazily on first use, so bundles that never open an HDF5 file do not carry its ~4 MB.

import { FormatError } from '../../errors.js';
import { Tensor, formatShape } from '../../tensor/tensor.js';

type H5Module = typeof import('h5wasm');
type H5Group = InstanceType<H5Module['Group']>;
type H5Dataset = InstanceType<H5Module['Dataset']>;

/** HDF5 files start with this signature, at byte 0 or at a power-of-two user-block offset ≥ 512. */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** The largest expansion deflate allows: a dataset claiming more than this per stored byte is lying. */
const MAX_DEFLATE_RATIO = 1032;

let loading: Promise<H5Module> | null = null;
let counter = 0;

async function h5wasm(): Promise<H5Module> {
  loading ??= import('h5wasm').then(async (m) => {
    const module = await m.default.ready;
    // HDF5 errors become exceptions instead of diagnostics printed to stderr
    module.activate_throwing_error_handler();
    return m;
  });
  return loading;
}

/** Where the HDF5 signature is, or -1. */
export function hdf5SignatureOffset(bytes: Uint8Array): number {
  for (let at = 0; at + SIGNATURE.length <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (SIGNATURE.every((b, i) => bytes[at + i] === b)) return at;
  }
  return -1;
}

export interface H5Reader {
  /** The names of the members of the group at `path` ('' or '/' is the root); null when it is not a group. */
  keys(path: string): string[] | null;
  /** Names of the attributes of the object at `path`. */
  attributeNames(path: string): string[];
  /** An attribute's value: strings, numbers or arrays of them; undefined when absent. */
  attribute(path: string, name: string): unknown;
  /** A numeric dataset as a float32 tensor; undefined when there is no dataset at `path`. */
  dataset(path: string): Tensor | undefined;
  close(): void;
}

/** Opens HDF5 bytes for reading (copied into h5wasm's in-memory file system until `close`). */
export async function openH5(bytes: Uint8Array, source: string): Promise<H5Reader> {
  if (hdf5SignatureOffset(bytes) < 0) throw new FormatError(`${source}: not an HDF5 file (no HDF5 signature)`, 0);
  const { default: h5, FS } = await h5wasm();
  const fs = FS as unknown as EmscriptenFS;
  const name = `/mobilenet-ts-${++counter}.h5`;
  fs.writeFile(name, bytes);
  let file: InstanceType<H5Module['File']>;
  try {
    file = new h5.File(name, 'r');
    // h5wasm reports a file it could not open through an invalid id rather than an exception
    if (!(file.file_id > 0n)) throw new Error('invalid file id');
  } catch (e) {
    fs.unlink(name);
    releaseErrorStreams(fs);
    throw new FormatError(`${source}: HDF5 file cannot be opened (${reason(e)}): truncated or corrupt`);
  }
  const fail = (what: string, e: unknown): FormatError => new FormatError(`${source}: ${what}: ${reason(e)}`);
  const entity = (path: string): ReturnType<H5Group['get']> => {
    try {
      return path === '' || path === '/' ? file : file.get(path);
    } catch (e) {
      throw fail(`cannot read ${path}`, e);
    }
  };
  let closed = false;
  return {
    keys(path) {
      const g = entity(path);
      try {
        return g instanceof h5.Group ? g.keys() : null;
      } catch (e) {
        throw fail(`cannot list the members of ${path || '/'}`, e);
      }
    },
    attributeNames(path) {
      const g = entity(path);
      try {
        return g && 'attrs' in g ? Object.keys(g.attrs) : [];
      } catch (e) {
        throw fail(`cannot list the attributes of ${path || '/'}`, e);
      }
    },
    attribute(path, attr) {
      const g = entity(path);
      if (!g || !('attrs' in g)) return undefined;
      try {
        const a = g.attrs[attr];
        return a === undefined ? undefined : plain(a.value);
      } catch (e) {
        throw fail(`cannot read attribute ${attr} of ${path}`, e);
      }
    },
    dataset(path) {
      const d = entity(path);
      if (!(d instanceof h5.Dataset)) return undefined;
      return readDataset(d, path, bytes.length, source);
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        file.close();
      } finally {
        fs.unlink(name);
        releaseErrorStreams(fs);
      }
    },
  };
}

interface EmscriptenFS {
  writeFile(path: string, data: Uint8Array): void;
  unlink(path: string): void;
  close(stream: object): void;
  streams: ({ path?: string } | null | undefined)[];
}

/**
 * h5wasm turns an HDF5 error into an exception thrown while the error stack is printed into a tmpfile(), so
 * that stream is never closed: each error leaks one, and after a few thousand (the FS's open-file limit)
 * HDF5 hangs. Closing them once the file is done keeps a long-running process healthy.
 */
function releaseErrorStreams(fs: EmscriptenFS): void {
  for (const stream of fs.streams) {
    if (!stream?.path?.startsWith('/tmp/tmpfile_')) continue;
    const path = stream.path;
    try {
      fs.close(stream);
      fs.unlink(path);
    } catch {
      // already closed or removed: nothing left to release
    }
  }
}

function readDataset(d: H5Dataset, path: string, fileBytes: number, source: string): Tensor {
  const where = `${source}: dataset ${path}`;
  let shape: number[];
  let value: unknown;
  try {
    const meta = d.metadata as { type: number; size: number };
    shape = d.shape ?? [];
    const count = shape.reduce((n, s) => n * s, 1);
    const compressed = d.filters.length > 0;
    // refuse before h5wasm allocates: stored data cannot exceed the file unless it is compressed
    if (count * meta.size > (compressed ? MAX_DEFLATE_RATIO : 1) * fileBytes) {
      throw new FormatError(`${where}: shape ${formatShape(shape)} needs ${count * meta.size} bytes, more than a ${fileBytes}-byte file can hold`);
    }
    value = d.value;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${where}: cannot read (${reason(e)})`);
  }
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) data = Float32Array.from(value as unknown as ArrayLike<number | bigint>, Number);
  else if (typeof value === 'number') data = Float32Array.of(value);
  else throw new FormatError(`${where}: not a numeric dataset`);
  return new Tensor(shape, data);
}

/** The innermost cause of an HDF5 error stack (`#007: … in H5FD__sec2_open(): unable to open file`), in one line. */
function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const causes = [...text.matchAll(/#\d+:.* in \w+\(\): ([^\n]*)/g)].map((m) => m[1]);
  return (causes.at(-1) ?? text.split('\n')[0]).slice(0, 300);
}

/** h5wasm values to plain JS: strings stay strings (padding NULs removed), typed arrays become number arrays. */
function plain(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\0+$/, '');
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array && value.length > 0) return value; // opaque bytes
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number | bigint>, Number);
  if (Array.isArray(value)) return value.map(plain);
  return value;
}
