// A small read-only view of an HDF5 file held in memory, over jsfive (a pure-JavaScript HDF5 reader, carried
// with fixes in ./jsfive/), imported lazily on first use, so bundles that never open an HDF5 file do not carry it.

import { FormatError } from '../../errors.js';
import { Tensor, formatShape } from '../../tensor/tensor.js';

type Jsfive = typeof import('./jsfive/high-level.js');
type H5Node = InstanceType<Jsfive['Group']> | InstanceType<Jsfive['Dataset']>;

/** HDF5 files start with this signature, at byte 0 or at a power-of-two user-block offset ≥ 512. */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** The largest expansion deflate allows: a dataset claiming more than this per stored byte is lying. */
const MAX_DEFLATE_RATIO = 1032;

let loading: Promise<Jsfive> | null = null;

/** Where the HDF5 signature is, or -1. */
function hdf5SignatureOffset(bytes: Uint8Array): number {
  for (let at = 0; at + SIGNATURE.length <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (SIGNATURE.every((b, i) => bytes[at + i] === b)) return at;
  }
  return -1;
}

export interface H5Reader {
  /** The names of the members of the group at `path` ('' or '/' is the root); null when it is not a group. */
  keys(path: string): string[] | null;
  /** An attribute's value: strings, numbers or arrays of them; undefined when absent. */
  attribute(path: string, name: string): unknown;
  /** A numeric dataset as a float32 tensor; undefined when there is no dataset at `path`. */
  dataset(path: string): Tensor | undefined;
}

/**
 * Opens HDF5 bytes for reading. Everything is plain JavaScript over the bytes: a corrupt file costs nothing
 * once it is dropped (the C library compiled to wasm we used before leaked state on every HDF5 error).
 */
export async function openH5(bytes: Uint8Array, source: string): Promise<H5Reader> {
  const at = hdf5SignatureOffset(bytes);
  if (at < 0) throw new FormatError(`${source}: not an HDF5 file (no HDF5 signature)`, 0);
  const h5 = await (loading ??= import('./jsfive/high-level.js'));
  // addresses count from the superblock, so a user block in front is cut off; jsfive wants an ArrayBuffer of its own
  const buffer = bytes.slice(at).buffer;
  const fail = (what: string, e: unknown): FormatError => new FormatError(`${source}: ${what}: ${reason(e)}`);
  let file: InstanceType<Jsfive['File']>;
  try {
    file = new h5.File(buffer, source);
  } catch (e) {
    throw new FormatError(`${source}: HDF5 file cannot be opened (${reason(e)}): truncated or corrupt`);
  }
  const nodes = new Map<string, H5Node | undefined>();
  /** The object at `path`, undefined when there is none; walked one member at a time from the root. */
  const lookup = (path: string): H5Node | undefined => {
    let node: H5Node | undefined = file;
    let key = '';
    for (const name of path.split('/').filter(Boolean)) {
      const parent: H5Node = node;
      key = key ? `${key}/${name}` : name;
      if (nodes.has(key)) node = nodes.get(key);
      else {
        try {
          node = parent instanceof h5.Group && parent.keys.includes(name) ? (parent.get(name) ?? undefined) : undefined;
        } catch (e) {
          throw fail(`cannot read ${key}`, e);
        }
        nodes.set(key, node);
      }
      if (!node) return undefined;
    }
    return node;
  };
  const attributes = (path: string): Record<string, unknown> => {
    const node = lookup(path);
    try {
      return node ? node.attrs : {};
    } catch (e) {
      throw fail(`cannot read the attributes of ${path || '/'}`, e);
    }
  };
  return {
    keys(path) {
      const node = lookup(path);
      return node instanceof h5.Group ? node.keys : null;
    },
    attribute(path, name) {
      const attrs = attributes(path);
      return Object.hasOwn(attrs, name) ? plain(attrs[name]) : undefined;
    },
    dataset(path) {
      const node = lookup(path);
      return node instanceof h5.Dataset ? readDataset(node, path, buffer.byteLength, source) : undefined;
    },
  };
}

function readDataset(d: InstanceType<Jsfive['Dataset']>, path: string, fileBytes: number, source: string): Tensor {
  const where = `${source}: dataset ${path}`;
  let shape: number[];
  let value: unknown[] | Float32Array;
  try {
    const dtype = d.dtype;
    const itemSize = typeof dtype === 'string' ? /^[<>=|!]?[iuf](\d+)$/.exec(dtype)?.[1] : undefined;
    if (itemSize === undefined) throw new FormatError(`${where}: not a numeric dataset (type ${JSON.stringify(dtype)})`);
    shape = [...d.shape];
    const count = shape.reduce((n, s) => n * s, 1);
    const compressed = (d._dataobjects.filter_pipeline?.length ?? 0) > 0;
    // refuse before jsfive allocates: stored data cannot exceed the file unless it is compressed
    if (count * Number(itemSize) > (compressed ? MAX_DEFLATE_RATIO : 1) * fileBytes) {
      throw new FormatError(`${where}: shape ${formatShape(shape)} needs ${count * Number(itemSize)} bytes, more than a ${fileBytes}-byte file can hold`);
    }
    value = d.value;
    const length = Array.isArray(value) || value instanceof Float32Array ? value.length : undefined;
    if (length !== count) throw new FormatError(`${where}: shape ${formatShape(shape)} holds ${count} values, the data ${length ?? 'none'}`);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${where}: cannot read (${reason(e)})`);
  }
  // little-endian float32 comes whole from the carried jsfive; the rest element by element, checked
  if (value instanceof Float32Array) return new Tensor(shape, value);
  const data = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== 'number') throw new FormatError(`${where}: value ${i} is not a number`);
    data[i] = v;
  }
  return new Tensor(shape, data);
}

/** What jsfive threw (a string, an Error or anything else), in one line. */
function reason(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

/** jsfive values as Keras code wants them: strings lose their padding NULs (jsfive reads 64-bit integers as numbers). */
function plain(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\0+$/, '');
  if (Array.isArray(value)) return value.map(plain);
  return value;
}
