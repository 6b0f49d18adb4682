// PyTorch `.pt`/`.pth` files written by `torch.save(state_dict)` (the zip format of PyTorch ≥ 1.6): the pickle
// read by the restricted unpickler, tensors gathered from their storages (any strides, offsets and dtypes).

import { ConfigError, FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { Tensor, sizeOf, stridesOf } from '../../tensor/tensor.js';
import type { ElementType } from '../elements.js';
import { readElements, writeFloat32LittleEndian } from '../elements.js';
import { loadTorchStateDict } from '../torch-names.js';
import type { TorchStorageRef, TorchTensorRef } from './pickle.js';
import { STORAGE_TYPES, isTensor, unpickle } from './pickle.js';
import { ZipReader, writeStoredZip } from './zip.js';

const ELEMENTS: Record<(typeof STORAGE_TYPES)[number], Omit<ElementType, 'littleEndian'>> = {
  FloatStorage: { kind: 'float', size: 4 },
  DoubleStorage: { kind: 'float', size: 8 },
  HalfStorage: { kind: 'float', size: 2 },
  BFloat16Storage: { kind: 'bfloat', size: 2 },
  LongStorage: { kind: 'int', size: 8 },
  IntStorage: { kind: 'int', size: 4 },
  ShortStorage: { kind: 'int', size: 2 },
  CharStorage: { kind: 'int', size: 1 },
  ByteStorage: { kind: 'uint', size: 1 },
  BoolStorage: { kind: 'bool', size: 1 },
};

/** Keys under which training scripts commonly nest the model's state dict in a checkpoint. */
const NESTED_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'ema'];

/**
 * Reads a torch.save archive and returns the unpickled object with every tensor as our Tensor (float32):
 * dicts are Maps, lists and tuples arrays.
 */
export function readTorchPickle(bytes: Uint8Array, source = '<pth>'): unknown {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new FormatError(`${source}: a legacy (pre-1.6, non-zip) torch.save file; load and re-save it with a current PyTorch`, 0);
  }
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) throw new FormatError(`${source}: not a zip archive, so not a torch.save file (PyTorch ≥ 1.6)`, 0);
  const zip = new ZipReader(bytes, source);
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    const script = [...zip.entries.keys()].some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n));
    throw new FormatError(
      script ? `${source}: a TorchScript archive (torch.jit.save); save the model's state_dict with torch.save instead` : `${source}: expected one <archive>/data.pkl in the zip, found ${pickles.length}`,
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const byteOrder = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (byteOrder !== 'little' && byteOrder !== 'big') throw new FormatError(`${source}: byteorder is ${JSON.stringify(byteOrder)}, expected little or big`);
  const storages = new Map<string, { ref: TorchStorageRef; data: Float32Array }>();
  const persistentLoad = (pid: unknown, offset: number): TorchStorageRef => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new FormatError(`${source}: pickle: persistent id ${JSON.stringify(pid)} is not a storage`, offset);
    const [, type, key, location, numel] = pid as [string, { kind?: string; module?: string; name?: string }, unknown, unknown, unknown];
    const typeName = type?.kind === 'global' && type.module === 'torch' ? type.name : undefined;
    if (!typeName || !(typeName in ELEMENTS)) throw new FormatError(`${source}: pickle: storage type ${JSON.stringify(type)} is not supported (${STORAGE_TYPES.join(', ')})`, offset);
    if (typeof key !== 'string' || !/^[A-Za-z0-9_]+$/.test(key) || typeof location !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) {
      throw new FormatError(`${source}: pickle: malformed storage id ${JSON.stringify([typeName, key, location, numel])}`, offset);
    }
    const known = storages.get(key);
    if (known) {
      if (known.ref.type !== typeName) throw new FormatError(`${source}: storage ${key} is read as ${known.ref.type} and as ${typeName}`, offset);
      return known.ref;
    }
    const ref: TorchStorageRef = { kind: 'storage', type: typeName, key, location, numel: numel as number };
    const element = { ...ELEMENTS[typeName as keyof typeof ELEMENTS], littleEndian: byteOrder === 'little' } as ElementType;
    const record = `${prefix}data/${key}`;
    const raw = zip.read(record);
    if (raw.length < ref.numel * element.size) throw new FormatError(`${source}: storage ${key} holds ${raw.length} bytes, ${typeName} × ${ref.numel} needs ${ref.numel * element.size}`);
    storages.set(key, { ref, data: readElements(raw, 0, ref.numel, element, `${source}: storage ${key}`) });
    return ref;
  };
  const root = unpickle(zip.read(pickles[0]), `${source}: ${pickles[0]}`, persistentLoad);
  return materialise(root, (t) => gather(t, storages.get(t.storage.key)!.data, source), 0);
}

/** Replaces every tensor reference in a decoded pickle with a Tensor. */
function materialise(value: unknown, tensor: (t: TorchTensorRef) => Tensor, depth: number): unknown {
  if (depth > 64) throw new FormatError('pickle nests more than 64 levels deep');
  if (isTensor(value)) return tensor(value);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, materialise(v, tensor, depth + 1)]));
  if (Array.isArray(value)) return value.map((v) => materialise(v, tensor, depth + 1));
  return value;
}

/** Copies a strided view of a storage into a contiguous tensor, after checking that it stays inside the storage. */
function gather(t: TorchTensorRef, storage: Float32Array, source: string): Tensor {
  const count = sizeOf(t.size);
  if (count === 0) return new Tensor(t.size);
  const last = t.offset + t.size.reduce((n, d, i) => n + (d - 1) * t.stride[i], 0);
  if (last >= storage.length) {
    throw new FormatError(`${source}: tensor [${t.size.join(', ')}] with stride [${t.stride.join(', ')}] at offset ${t.offset} reaches element ${last} of storage ${t.storage.key}, which has ${storage.length}`);
  }
  const out = new Float32Array(count);
  const rank = t.size.length;
  const index = new Array<number>(rank).fill(0);
  let from = t.offset;
  for (let i = 0; i < count; i++) {
    out[i] = storage[from];
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      from += t.stride[axis];
      if (index[axis] < t.size[axis]) break;
      from -= t.stride[axis] * t.size[axis];
      index[axis] = 0;
    }
  }
  return new Tensor(t.size, out);
}

export interface TorchStateDictOptions {
  source?: string;
  /** Key of the state dict inside a checkpoint dict; default: the top level if it holds tensors, else the first of state_dict, model_state_dict, model, net, ema. */
  key?: string;
}

/**
 * The state dict in a torch.save file: name → tensor (float32, PyTorch layouts), in file order. Entries that
 * are not tensors are dropped; a `module.` prefix on every name (DataParallel) is removed.
 */
export function decodeTorchStateDict(bytes: Uint8Array, options: TorchStateDictOptions = {}): Map<string, Tensor> {
  const source = options.source ?? '<pth>';
  const root = readTorchPickle(bytes, source);
  if (!(root instanceof Map)) throw new FormatError(`${source}: the file holds a ${Array.isArray(root) ? 'list' : typeof root}, not a dict of tensors`);
  const hasTensors = (m: Map<unknown, unknown>): boolean => [...m.values()].some((v) => v instanceof Tensor);
  let dict: Map<unknown, unknown> | undefined;
  if (options.key !== undefined) {
    const v = root.get(options.key);
    if (!(v instanceof Map)) throw new ConfigError(`${source}: no dict under key ${JSON.stringify(options.key)} (keys: ${[...root.keys()].slice(0, 10).join(', ')})`);
    dict = v;
  } else if (hasTensors(root)) dict = root;
  else {
    const key = NESTED_KEYS.find((k) => root.get(k) instanceof Map && hasTensors(root.get(k) as Map<unknown, unknown>));
    if (key === undefined) throw new FormatError(`${source}: no tensors at the top level nor under ${NESTED_KEYS.join(', ')} (keys: ${[...root.keys()].slice(0, 10).join(', ')})`);
    dict = root.get(key) as Map<unknown, unknown>;
  }
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of dict) if (typeof k === 'string' && v instanceof Tensor) tensors.set(k, v);
  const names = [...tensors.keys()];
  if (names.length > 0 && names.every((n) => n.startsWith('module.'))) {
    return new Map([...tensors].map(([k, v]) => [k.slice('module.'.length), v]));
  }
  return tensors;
}

/** Loads a torch.save state dict with torchvision names into a model built with torch names (see loadTorchStateDict). */
export function loadTorchCheckpoint(model: Model, bytes: Uint8Array, options: TorchStateDictOptions = {}): void {
  loadTorchStateDict(model, decodeTorchStateDict(bytes, options));
}

/**
 * Writes tensors as `torch.save(state_dict)` does (PyTorch ≥ 1.6 zip, protocol-2 pickle of an OrderedDict of
 * `_rebuild_tensor_v2` float32 tensors, one storage each), readable by `torch.load(..., weights_only=True)`.
 */
export function encodeTorchStateDict(tensors: Map<string, Tensor>, archiveName = 'archive'): Uint8Array {
  if (!/^[A-Za-z0-9_.-]+$/.test(archiveName)) throw new ConfigError(`archive name ${JSON.stringify(archiveName)} must be letters, digits, '_', '.', '-'`);
  const p = new PickleWriter();
  p.raw(0x80, 2);
  p.global('collections', 'OrderedDict');
  p.raw(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  p.raw(0x28); // MARK
  const files: { name: string; data: Uint8Array }[] = [];
  let key = 0;
  for (const [name, t] of tensors) {
    p.string(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.raw(0x28); // MARK: the argument tuple
    p.raw(0x28); // MARK: the persistent id tuple
    p.string('storage');
    p.global('torch', 'FloatStorage');
    p.string(String(key));
    p.string('cpu');
    p.int(t.size);
    p.raw(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0);
    p.tuple(t.shape);
    p.tuple(stridesOf(t.shape));
    p.raw(0x89); // False: requires_grad
    p.global('collections', 'OrderedDict');
    p.raw(0x29, 0x52, 0x74, 0x52); // OrderedDict() backward hooks, TUPLE, REDUCE
    const data = new Uint8Array(t.size * 4);
    writeFloat32LittleEndian(t.data, data, 0);
    files.push({ name: `${archiveName}/data/${key}`, data });
    key++;
  }
  p.raw(0x75, 0x2e); // SETITEMS, STOP
  const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
  return writeStoredZip([
    { name: `${archiveName}/data.pkl`, data: p.bytes() },
    { name: `${archiveName}/byteorder`, data: encode('little') },
    ...files,
    { name: `${archiveName}/version`, data: encode('3\n') },
  ]);
}

/** Just enough of a pickler for encodeTorchStateDict. */
class PickleWriter {
  private readonly parts: number[] = [];

  raw(...ops: number[]): void {
    this.parts.push(...ops);
  }

  global(module: string, name: string): void {
    this.parts.push(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }

  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.parts.push(0x58, b.length & 0xff, (b.length >>> 8) & 0xff, (b.length >>> 16) & 0xff, b.length >>> 24, ...b);
  }

  int(n: number): void {
    if (n >= 0 && n < 256) this.parts.push(0x4b, n);
    else if (n >= 0 && n < 65536) this.parts.push(0x4d, n & 0xff, n >>> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) this.parts.push(0x4a, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
    else {
      // LONG1 with 8 little-endian bytes
      const v = BigInt.asUintN(64, BigInt(n));
      this.parts.push(0x8a, 8, ...Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
    }
  }

  tuple(values: readonly number[]): void {
    this.parts.push(0x28);
    for (const v of values) this.int(v);
    this.parts.push(0x74);
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
