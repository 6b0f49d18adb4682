// A restricted unpickler for torch.save state dicts: the binary opcodes (protocols 2–5) a state dict uses, and
// only allow-listed globals, which are never called: OrderedDict and tensor rebuilds become plain data here.

import { FormatError } from '../../errors.js';

/** A pickle that names a global outside the allow-list: refused before anything else happens. */
export class UnsafePickleError extends FormatError {
  constructor(message: string, readonly global: string, offset?: number) {
    super(message, offset);
  }
}

/** A `module.name` reference; allowed ones only. */
export interface PyGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

/** A storage from a persistent id: `('storage', torch.FloatStorage, key, location, numel)`. */
export interface TorchStorageRef {
  readonly kind: 'storage';
  readonly type: string;
  readonly key: string;
  readonly location: string;
  readonly numel: number;
}

/** What `_rebuild_tensor_v2(storage, offset, size, stride, …)` describes: a strided view of a storage. */
export interface TorchTensorRef {
  readonly kind: 'tensor';
  readonly storage: TorchStorageRef;
  readonly offset: number;
  readonly size: number[];
  readonly stride: number[];
}

/** Storage classes and the element type each holds. */
export const STORAGE_TYPES = ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage', 'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage'] as const;

const REBUILD_TENSOR = new Set(['torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor']);
const REBUILD_PARAMETER = new Set(['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);
/** Types `_rebuild_from_type_v2` may name: the result is the plain tensor either way. */
const TENSOR_TYPES = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter', 'torch._tensor.Tensor']);
const ALLOWED = new Set([
  'collections.OrderedDict',
  ...REBUILD_TENSOR,
  ...REBUILD_PARAMETER,
  'torch._tensor._rebuild_from_type_v2',
  ...TENSOR_TYPES,
  ...STORAGE_TYPES.map((s) => `torch.${s}`),
  '_codecs.encode',
]);

/** Opcode names for errors about opcodes we do not run. */
const OPCODE_NAMES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x50: 'PERSID',
  0x49: 'INT',
  0x4c: 'LONG',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x46: 'FLOAT',
  0x70: 'PUT',
  0x67: 'GET',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
  0x32: 'DUP',
  0x30: 'POP',
  0x31: 'POP_MARK',
};

/**
 * Unpickles `bytes`. Dicts become Maps, lists and tuples arrays, bytes Uint8Arrays; allowed globals stay
 * descriptions (`PyGlobal`) and their reductions become `TorchTensorRef`s or Maps. `persistentLoad` turns a
 * persistent id into a value (for torch: a storage reference). Nothing named in the pickle is ever executed.
 */
export function unpickle(bytes: Uint8Array, source: string, persistentLoad: (pid: unknown, offset: number) => unknown): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;
  const fail = (message: string, offset = at): FormatError => new FormatError(`${source}: pickle: ${message}`, offset);
  const need = (n: number): number => {
    if (n < 0 || at + n > bytes.length) throw fail(`needs ${n} more bytes, the pickle ends at ${bytes.length}: truncated?`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = (): number => view.getUint8(need(1));
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) throw fail(`length ${v} is longer than the pickle`);
    return Number(v);
  };
  const text = (n: number, utf8: boolean): string => {
    const start = need(n);
    const raw = bytes.subarray(start, start + n);
    if (!utf8) return String.fromCharCode(...raw);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw fail('string is not valid UTF-8', start);
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw fail('GLOBAL name has no end of line: truncated?');
    if (end - at > 256) throw fail('GLOBAL name is longer than 256 bytes');
    const s = text(end - at, true);
    at = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length === marks[marks.length - 1])) throw fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw fail('no MARK to pop to');
    return stack.splice(m);
  };
  const global = (module: string, name: string, offset: number): PyGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED.has(full)) {
      throw new UnsafePickleError(`${source}: pickle names global ${full}, which is not allowed: a state dict needs only ${[...ALLOWED].join(', ')}. Refusing to load it`, full, offset);
    }
    return { kind: 'global', module, name };
  };
  const asDict = (value: unknown, offset: number): Map<unknown, unknown> => {
    if (!(value instanceof Map)) throw fail('SETITEM(S) on something that is not a dict', offset);
    return value;
  };
  const hashable = (key: unknown, offset: number): unknown => {
    if (typeof key === 'string' || typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null) return key;
    if (Array.isArray(key)) return JSON.stringify(key); // tuple keys, kept readable
    throw fail('dict key is not a string, number or tuple', offset);
  };

  const proto = bytes[0] === 0x80 ? bytes[1] : 0;
  if (proto > 5) throw fail(`protocol ${proto} is newer than 5`, 1);
  for (;;) {
    const offset = at;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME: a length prefix; the opcodes inside are read as usual
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) throw fail(`STOP with ${stack.length} values on the stack`, offset);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) throw fail('DICT with an odd number of items', offset);
        const d = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) d.set(hashable(items[i], offset), items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) throw fail('APPEND to something that is not a list', offset);
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw fail('APPENDS to something that is not a list', offset);
        list.push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asDict(top(), offset).set(hashable(k, offset), v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) throw fail('SETITEMS with an odd number of items', offset);
        const d = asDict(top(), offset);
        for (let i = 0; i < items.length; i += 2) d.set(hashable(items[i], offset), items[i + 1]);
        break;
      }
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1
        const n = u8();
        stack.push(readLong(bytes, at, n, need));
        break;
      }
      case 0x8b: {
        // LONG4
        const n = u32();
        if (n > 64) throw fail(`LONG4 of ${n} bytes is beyond any index or size`, offset);
        stack.push(readLong(bytes, at, n, need));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32(), true));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8(), true));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64(), true));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(text(u32(), false));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8(), false));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: {
        // BINBYTES8
        const n = op === 0x42 ? u32() : op === 0x43 ? u8() : u64();
        const start = need(n);
        stack.push(bytes.slice(start, start + n));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const index = op === 0x68 ? u8() : u32();
        if (!memo.has(index)) throw fail(`memo ${index} is read before it is written`, offset);
        stack.push(memo.get(index));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line(), offset));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL needs two strings', offset);
        stack.push(global(module, name, offset));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop(), offset));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(reduce(callable, args, offset, fail));
        break;
      }
      case 0x62: // BUILD: set-state on an OrderedDict (`_metadata`) or a tensor; the state is not needed
        pop();
        top();
        break;
      default: {
        const name = OPCODE_NAMES[op] ?? (op >= 0x20 && op < 0x7f ? `'${String.fromCharCode(op)}'` : 'unknown');
        throw fail(`opcode 0x${op.toString(16).padStart(2, '0')} (${name}) is not supported in a state dict`, offset);
      }
    }
  }
}

function readLong(bytes: Uint8Array, start: number, n: number, need: (n: number) => number): number | bigint {
  need(n);
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[start + i]);
  if (n > 0 && bytes[start + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isGlobal(v: unknown): v is PyGlobal {
  return typeof v === 'object' && v !== null && (v as PyGlobal).kind === 'global';
}

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

/** What calling an allowed global would give, built as data. */
function reduce(callable: unknown, args: unknown, offset: number, fail: (m: string, o?: number) => FormatError): unknown {
  if (!isGlobal(callable)) throw fail('REDUCE of something that is not a global', offset);
  if (!Array.isArray(args)) throw fail('REDUCE arguments are not a tuple', offset);
  const full = `${callable.module}.${callable.name}`;
  if (full === 'collections.OrderedDict') {
    const d = new Map<unknown, unknown>();
    if (args.length === 1 && Array.isArray(args[0])) {
      for (const pair of args[0]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw fail('OrderedDict items must be pairs', offset);
        d.set(pair[0], pair[1]);
      }
    } else if (args.length !== 0) throw fail('OrderedDict takes no arguments or one list of pairs', offset);
    return d;
  }
  if (REBUILD_TENSOR.has(full)) {
    const [storage, storageOffset, size, stride] = args;
    if (!isStorage(storage)) throw fail(`${full}: first argument is not a storage`, offset);
    if (!Number.isSafeInteger(storageOffset) || (storageOffset as number) < 0 || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
      throw fail(`${full}: storage offset, size and stride must be non-negative integers of matching rank, got ${JSON.stringify([storageOffset, size, stride])}`, offset);
    }
    return { kind: 'tensor', storage, offset: storageOffset as number, size, stride } satisfies TorchTensorRef;
  }
  if (REBUILD_PARAMETER.has(full)) {
    if (!isTensor(args[0])) throw fail(`${full}: first argument is not a tensor`, offset);
    return args[0];
  }
  if (full === 'torch._tensor._rebuild_from_type_v2') {
    const [func, type, inner] = args;
    if (!isGlobal(func) || !REBUILD_TENSOR.has(`${func.module}.${func.name}`) || !isGlobal(type) || !TENSOR_TYPES.has(`${type.module}.${type.name}`)) {
      throw fail(`${full}: only plain tensors and parameters are supported`, offset);
    }
    return reduce(func, inner, offset, fail);
  }
  if (full === '_codecs.encode') {
    // how protocol 2 pickles bytes: encode(str, 'latin1')
    const [value, encoding] = args;
    if (typeof value !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw fail('_codecs.encode: only (str, latin1) is supported', offset);
    return Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff);
  }
  throw fail(`${full} cannot be called; it only names a type`, offset);
}

export function isStorage(v: unknown): v is TorchStorageRef {
  return typeof v === 'object' && v !== null && (v as TorchStorageRef).kind === 'storage';
}

export function isTensor(v: unknown): v is TorchTensorRef {
  return typeof v === 'object' && v !== null && (v as TorchTensorRef).kind === 'tensor';
}
