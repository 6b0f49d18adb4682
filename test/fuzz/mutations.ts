// fast-check generators of fuzz inputs: a valid seed file changed by a few mutations (truncation, bit flips,
// inserted and deleted bytes, huge/negative integers written over lengths, numbers in text headers replaced,
// names swapped for other names, which makes duplicates and graph cycles, file offsets pointed at other
// offsets' targets, which makes shared and cyclic structures), and argument lists for the CLI.

import fc from 'fast-check';

import type { FuzzFormat } from './seeds.js';

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'integer'; at: number; width: 1 | 2 | 4 | 8; littleEndian: boolean; value: bigint }
  | { kind: 'copy'; from: number; to: number; length: number }
  | { kind: 'number'; which: number; text: string }
  | { kind: 'name'; which: number; other: number }
  | { kind: 'alias'; which: number; other: number; width: 4 | 8 }
  | { kind: 'json'; at: number; text: string };

const INTERESTING = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
const NUMBER_TEXTS = ['-1', '0', '1', '-0', '3', '65536', '4294967295', '4294967296', '9007199254740993', '1e308', '-1e308', '1.5', 'NaN', 'Infinity', '99999999999999999999'];
const JSON_NOISE = ['{', '}', '[', ']', '"', ',', ':', 'null', '"__proto__"', '\\u0000', '\u0000', '{"a":1}', '[[[[[[[[[[', '"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'];

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
/** A position as a fraction of the file: half uniform, half biased towards the ends (headers, trailers). */
const position = fc.oneof(fc.noBias(unit), unit);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant('integer' as const),
    at: position,
    width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    littleEndian: fc.boolean(),
    value: fc.oneof(fc.constantFrom(...INTERESTING), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  }),
  fc.record({ kind: fc.constant('copy' as const), from: position, to: position, length: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ kind: fc.constant('number' as const), which: position, text: fc.oneof(fc.constantFrom(...NUMBER_TEXTS), fc.integer().map(String)) }),
  fc.record({ kind: fc.constant('name' as const), which: position, other: position }),
  fc.record({ kind: fc.constant('alias' as const), which: position, other: position, width: fc.constantFrom(4 as const, 8 as const) }),
  fc.record({ kind: fc.constant('json' as const), at: position, text: fc.constantFrom(...JSON_NOISE) }),
);

const index = (fraction: number, length: number): number => Math.min(length, Math.floor(fraction * (length + 1)));

/** Runs of ASCII digits (numbers in JSON and Python-literal headers). */
function digitRuns(bytes: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! < 0x30 || bytes[i]! > 0x39) continue;
    let j = i;
    while (j < bytes.length && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
    runs.push([i, j]);
    i = j;
  }
  return runs;
}

/** Runs of 3+ name characters (tensor, node and layer names in JSON, protobuf and HDF5). */
function nameRuns(bytes: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  const isName = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2e || b === 0x2f || b === 0x3a;
  for (let i = 0; i < bytes.length; i++) {
    if (!isName(bytes[i]!)) continue;
    let j = i;
    while (j < bytes.length && isName(bytes[j]!)) j++;
    if (j - i >= 3) runs.push([i, j]);
    i = j;
  }
  return runs;
}

/**
 * Places holding what looks like an offset into the file: a little-endian integer of `width` bytes, at least 8 and
 * less than the file's length (HDF5 addresses, zip directory offsets). Any byte position: formats do not align them.
 */
function offsetSlots(bytes: Uint8Array, width: 4 | 8): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots: number[] = [];
  for (let at = 0; at + width <= bytes.length; at++) {
    const value = view.getUint32(at, true);
    if (value >= 8 && value < bytes.length && (width === 4 || view.getUint32(at + 4, true) === 0)) slots.push(at);
  }
  return slots;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

export function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  switch (m.kind) {
    case 'truncate':
      return bytes.slice(0, index(m.at, n));
    case 'flip': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[index(m.at, n - 1)]! ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[index(m.at, n - 1)] = m.value;
      return out;
    }
    case 'insert':
      return splice(bytes, index(m.at, n), 0, m.bytes);
    case 'delete': {
      const at = index(m.at, n);
      return splice(bytes, at, Math.min(m.length, n - at), []);
    }
    case 'integer': {
      if (n < m.width) return bytes;
      const out = bytes.slice();
      const at = index(m.at, n - m.width);
      const value = m.value & ((1n << BigInt(8 * m.width)) - 1n);
      for (let i = 0; i < m.width; i++) out[at + (m.littleEndian ? i : m.width - 1 - i)] = Number((value >> BigInt(8 * i)) & 0xffn);
      return out;
    }
    case 'copy': {
      const from = index(m.from, n);
      const length = Math.min(m.length, n - from);
      return splice(bytes, index(m.to, n), 0, bytes.slice(from, from + length));
    }
    case 'number': {
      const runs = digitRuns(bytes);
      if (runs.length === 0) return bytes;
      const [start, end] = runs[Math.floor(m.which * runs.length)]!;
      return splice(bytes, start, end - start, new TextEncoder().encode(m.text));
    }
    case 'name': {
      const runs = nameRuns(bytes);
      if (runs.length < 2) return bytes;
      const [start, end] = runs[Math.floor(m.which * runs.length)]!;
      // prefer a name of the same length: in binary formats (protobuf, HDF5) the framing stays valid
      const same = runs.filter(([s, e]) => e - s === end - start && s !== start);
      const pool = same.length > 0 ? same : runs;
      const [s, e] = pool[Math.floor(m.other * pool.length)]!;
      return splice(bytes, start, end - start, bytes.slice(s, e));
    }
    case 'json':
      return splice(bytes, index(m.at, n), 0, new TextEncoder().encode(m.text));
    case 'alias': {
      // one offset made equal to another: two parents share a child, or a node points back at an ancestor
      const slots = offsetSlots(bytes, m.width);
      if (slots.length < 2) return bytes;
      const to = slots[Math.floor(m.which * slots.length)]!;
      const from = slots[Math.floor(m.other * slots.length)]!;
      const out = bytes.slice();
      out.copyWithin(to, from, from + m.width);
      return out;
    }
  }
}

/** A seed file with 1–4 mutations applied. */
export function mutatedInput(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([seed, mutations]) => mutations.reduce(applyMutation, seeds[seed]!));
}

// -------------------------------------------------------------------------------------------------
// Command lines: real commands and flags with hostile values; every path names a file that does not exist.

const COMMANDS = ['summary', 'infer', 'convert', 'inspect', 'train', 'eval', 'classify', 'help', 'nonsense', ''];
const FLAGS = [
  '--arch', '--alpha', '--resolution', '--classes', '--input-channels', '--depth-multiplier', '--convention', '--no-top', '--pooling',
  '--model', '--input', '--out', '--data', '--epochs', '--batch', '--lr', '--optimizer', '--schedule', '--seed', '--limit', '--top',
  '--json', '--format', '--backend', '--threads', '--resume', '--freeze', '--from', '--stem-stride', '--weight-decay', '--gamma',
  '--warmup', '--label-smoothing', '--flip', '--crop-padding', '--erasing', '--clip-norm', '--patience', '--checkpoint-every', '--opset',
  '--help', '-h', '--', '-', '--unknown-flag', '--alpha=0.5', '--batch=-3',
];
const VALUES = [
  '0', '-1', '1', '0.35', '1e9', '1e308', '-1e308', 'NaN', 'Infinity', '', ' ', '3.7', '224', '96x128', '0x0', '99999999x99999999', '4294967297',
  'mobilenet_v1', 'mobilenet_v2', 'keras', 'torchvision', 'avg', 'max', 'none', 'sgd', 'adamw', 'cosine', 'on', 'off', 'wasm', 'reference',
  '/nonexistent/mobilenet-fuzz/m.safetensors', '/nonexistent/mobilenet-fuzz/m.onnx', '/nonexistent/mobilenet-fuzz/model.json',
  '/nonexistent/mobilenet-fuzz/x.npy', '/nonexistent/mobilenet-fuzz/data', '/nonexistent/mobilenet-fuzz/a.png', '\u0000', '💥', '--',
];

/** Mostly `--flag value` pairs (so that values reach the code that checks them), some stray tokens. */
const token = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...FLAGS), fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 12 }))) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...FLAGS), fc.constantFrom(...VALUES), fc.string({ maxLength: 12 })).map((t) => [t]) },
);

export const commandLine: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(...COMMANDS), fc.array(token, { maxLength: 6 }))
  .map(([command, tokens]) => {
    const rest = tokens.flat();
    return new TextEncoder().encode(JSON.stringify(command === '' ? rest : [command, ...rest]));
  });

/** The generator for a format's inputs (command lines are generated whole: a byte-mutated path could name a real file). */
export function inputsFor(format: FuzzFormat, seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return format === 'cli' ? fc.oneof(commandLine, fc.constantFrom(...seeds)) : mutatedInput(seeds);
}
