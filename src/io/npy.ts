// NumPy .npy reader and writer over bytes, for Node and browsers alike (no fs here): versions 1.0–3.0
// and every plain numeric dtype read into float32; float32 written as numpy writes it.

import { FormatError } from '../errors.js';
import { Tensor, formatShape, transpose } from '../tensor/tensor.js';
import { decodeUtf8, readElements, writeFloat32LittleEndian, type ElementType } from './elements.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the data start to 64 bytes so that memory-mapped arrays are aligned for any dtype. */
const ARRAY_ALIGN = 64;
/** numpy pads the header so the growing axis can reach 21 digits and the header be rewritten in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** Reads a .npy file into a float32 tensor in C order. `source` names the file in errors. */
export function decodeNpy(bytes: Uint8Array, source = '<buffer>'): Tensor {
  for (let i = 0; i < Math.min(bytes.length, MAGIC.length); i++) {
    if (bytes[i] !== MAGIC[i]) throw new FormatError(`${source}: not a .npy file: bad magic, expected "\\x93NUMPY"`, i);
  }
  if (bytes.length < 8) {
    throw new FormatError(`${source}: truncated .npy file: ${bytes.length} bytes, the magic and version need 8`, bytes.length);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (!(major >= 1 && major <= 3 && minor === 0)) {
    throw new FormatError(`${source}: unsupported .npy version ${major}.${minor}, expected 1.0, 2.0 or 3.0`, 6);
  }
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) {
    throw new FormatError(`${source}: truncated .npy file: ${bytes.length} bytes, a version ${major}.0 preamble needs ${headerStart}`, bytes.length);
  }
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw new FormatError(`${source}: header length ${headerLength} runs past the end of the file (header would end at byte ${dataStart}, file has ${bytes.length} bytes)`, 8);
  }

  const headerBytes = bytes.subarray(headerStart, dataStart);
  let text: string;
  if (major === 3) {
    // version 3.0 headers are UTF-8; 1.0 and 2.0 are latin-1 (one byte per character)
    text = decodeUtf8(headerBytes, (offset) => new FormatError(`${source}: header is not valid UTF-8`, headerStart + offset));
  } else {
    text = latin1(headerBytes);
  }
  const byteOffsetOf = (charIndex: number): number =>
    headerStart + (major === 3 ? new TextEncoder().encode(text.slice(0, charIndex)).length : charIndex);
  const header = parseHeader(text, (message, charIndex) => new FormatError(`${source}: ${message}`, byteOffsetOf(charIndex)));

  const itemCount = header.shape.reduce((n, d) => n * BigInt(d), 1n);
  const expectedBytes = itemCount * BigInt(header.dtype.size);
  const actualBytes = bytes.length - dataStart;
  if (expectedBytes !== BigInt(actualBytes)) {
    throw new FormatError(
      `${source}: data is ${actualBytes} bytes but shape ${formatShape(header.shape)} of '${header.descr}' needs ${expectedBytes} bytes` +
        (expectedBytes > BigInt(actualBytes) ? ' (truncated file?)' : ' (trailing bytes)'),
      dataStart,
    );
  }
  const data = readElements(bytes, dataStart, Number(itemCount), header.dtype, source);
  if (!header.fortranOrder || header.shape.length < 2) return new Tensor(header.shape, data);
  // Fortran order is C order of the reversed shape; reversing the axes back gives C order.
  const reversed = [...header.shape].reverse();
  return transpose(new Tensor(reversed, data), reversed.map((_, i) => reversed.length - 1 - i));
}

/** Writes a tensor as .npy version 1.0, '<f4', C order, byte for byte what numpy.save writes for it. */
export function encodeNpy(t: Tensor): Uint8Array {
  const shape = t.shape;
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  // numpy falls back to version 2.0 (4-byte header length) only when the header outgrows 65535 bytes
  let headerStart = 10;
  let padding = ARRAY_ALIGN - ((headerStart + header.length + 1) % ARRAY_ALIGN);
  if (header.length + 1 + padding > 0xffff) {
    headerStart = 12;
    padding = ARRAY_ALIGN - ((headerStart + header.length + 1) % ARRAY_ALIGN);
  }
  header += ' '.repeat(padding) + '\n';
  const dataStart = headerStart + header.length;
  const out = new Uint8Array(dataStart + t.data.length * 4);
  out.set(MAGIC, 0);
  out[6] = headerStart === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (headerStart === 10) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[headerStart + i] = header.charCodeAt(i); // ASCII only
  writeFloat32LittleEndian(t.data, out, dataStart);
  return out;
}

interface NpyHeader {
  descr: string;
  dtype: ElementType;
  fortranOrder: boolean;
  shape: number[];
}

type Fail = (message: string, charIndex: number) => FormatError;

/** The header is a Python dict literal with exactly the keys 'descr', 'fortran_order' and 'shape'. */
function parseHeader(text: string, fail: Fail): NpyHeader {
  const dict = new PythonLiteralParser(text, fail).parseHeaderDict();
  for (const key of dict.entries.keys()) {
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') {
      throw fail(`header has an unexpected key '${key}' (expected exactly 'descr', 'fortran_order', 'shape')`, dict.keyAt.get(key)!);
    }
  }
  const get = (key: string): PyLiteral => {
    const value = dict.entries.get(key);
    if (value === undefined) throw fail(`header has no '${key}' key`, dict.at);
    return value;
  };

  const descr = get('descr');
  if (descr.kind === 'list') throw fail('structured dtypes (a list descr) are not supported', descr.at);
  if (descr.kind !== 'str') throw fail(`'descr' must be a string, got ${describe(descr)}`, descr.at);
  const dtype = npyDtype(descr.value, (message) => fail(message, descr.at));

  const fortranOrder = get('fortran_order');
  if (fortranOrder.kind !== 'bool') throw fail(`'fortran_order' must be True or False, got ${describe(fortranOrder)}`, fortranOrder.at);

  const shapeValue = get('shape');
  if (shapeValue.kind !== 'tuple') throw fail(`'shape' must be a tuple, got ${describe(shapeValue)}`, shapeValue.at);
  const shape = shapeValue.items.map((dim, axis) => {
    if (dim.kind !== 'int') throw fail(`shape dimension ${axis} must be an integer, got ${describe(dim)}`, dim.at);
    if (dim.value < 0n) throw fail(`shape dimension ${axis} is negative (${dim.value})`, dim.at);
    if (dim.value > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`shape dimension ${axis} is absurdly large (${dim.value})`, dim.at);
    return Number(dim.value);
  });
  return { descr: descr.value, dtype, fortranOrder: fortranOrder.value, shape };
}

const NPY_KIND: Record<string, ElementType['kind']> = { f: 'float', i: 'int', u: 'uint', b: 'bool' };
const NPY_SIZES: Record<ElementType['kind'], readonly number[]> = {
  float: [2, 4, 8],
  int: [1, 2, 4, 8],
  uint: [1, 2, 4, 8],
  bool: [1],
  bfloat: [],
};

/** A numpy type string such as '<f4', '>i8' or '|b1'. Sizes > 1 must say their byte order: we cannot know the writer's. */
function npyDtype(descr: string, fail: (message: string) => FormatError): ElementType {
  const match = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (match === null) throw fail(`unknown dtype '${descr}'`);
  const [, order, code, digits] = match as unknown as [string, string, string, string];
  if (code === 'O') throw fail(`object arrays ('${descr}') are not supported: they hold pickled Python objects, not numbers`);
  const kind = Object.hasOwn(NPY_KIND, code) ? NPY_KIND[code]! : undefined;
  const size = Number(digits);
  if (kind === undefined || !NPY_SIZES[kind].includes(size)) {
    throw fail(`unknown dtype '${descr}' (supported: float16/32/64, int8–64, uint8–64, bool)`);
  }
  if (size > 1 && order !== '<' && order !== '>') throw fail(`dtype '${descr}' does not say its byte order ('<' or '>')`);
  return { kind, size: size as ElementType['size'], littleEndian: order !== '>' };
}

// ---------------------------------------------------------------------------------------------
// A strict parser for the Python literals numpy writes in headers. Never eval: a header is data.

type PyLiteral = { at: number } & (
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'tuple' | 'list'; items: PyLiteral[] }
  | { kind: 'dict'; entries: Map<string, PyLiteral>; keyAt: Map<string, number> }
);
type PyDict = Extract<PyLiteral, { kind: 'dict' }>;

function describe(value: PyLiteral): string {
  switch (value.kind) {
    case 'str':
      return `the string '${value.value}'`;
    case 'int':
    case 'float':
    case 'bool':
      return `${value.kind} ${value.kind === 'bool' ? (value.value ? 'True' : 'False') : value.value}`;
    default:
      return `a ${value.kind}`;
  }
}

const STRING_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r' };

class PythonLiteralParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly fail: Fail,
  ) {}

  parseHeaderDict(): PyDict {
    this.skipSpace();
    if (this.text[this.pos] !== '{') throw this.fail('header is not a Python dict literal', this.pos);
    const dict = this.parseValue() as PyDict;
    this.skipSpace();
    if (this.pos !== this.text.length) throw this.fail('unexpected text after the header dict', this.pos);
    return dict;
  }

  private parseValue(): PyLiteral {
    this.skipSpace();
    const at = this.pos;
    const c = this.text[at];
    if (c === undefined) throw this.fail('header ends in the middle of a value', at);
    if (c === '{') return this.parseDict();
    if (c === '(' || c === '[') return this.parseSequence();
    if (c === "'" || c === '"') return { at, kind: 'str', value: this.parseString() };
    if (/[-+0-9.]/.test(c)) return this.parseNumber();
    const word = /^[A-Za-z_]\w*/.exec(this.text.slice(at))?.[0];
    this.pos += word?.length ?? 0;
    if (word === 'True' || word === 'False') return { at, kind: 'bool', value: word === 'True' };
    if (word === 'None') return { at, kind: 'none' };
    throw this.fail(word ? `unexpected name '${word}' in header` : `unexpected character '${c}' in header`, at);
  }

  private parseDict(): PyLiteral {
    const at = this.pos++;
    const entries = new Map<string, PyLiteral>();
    const keyAt = new Map<string, number>();
    for (;;) {
      this.skipSpace();
      if (this.eat('}')) return { at, kind: 'dict', entries, keyAt };
      const key = this.parseValue();
      if (key.kind !== 'str') throw this.fail(`header dict keys must be strings, got ${describe(key)}`, key.at);
      if (entries.has(key.value)) throw this.fail(`duplicate key '${key.value}' in header`, key.at);
      this.skipSpace();
      if (!this.eat(':')) throw this.fail(`expected ':' after key '${key.value}'`, this.pos);
      entries.set(key.value, this.parseValue());
      keyAt.set(key.value, key.at);
      this.skipSpace();
      if (!this.eat(',') && this.text[this.pos] !== '}') throw this.fail("expected ',' or '}' in header dict", this.pos);
    }
  }

  /** `(a, b)`, `(a,)`, `()` are tuples; `(a)` is just `a`, as in Python. */
  private parseSequence(): PyLiteral {
    const at = this.pos;
    const close = this.text[this.pos++] === '(' ? ')' : ']';
    const items: PyLiteral[] = [];
    let trailingComma = false;
    for (;;) {
      this.skipSpace();
      if (this.eat(close)) break;
      items.push(this.parseValue());
      this.skipSpace();
      trailingComma = this.eat(',');
      if (!trailingComma && this.text[this.pos] !== close) throw this.fail(`expected ',' or '${close}'`, this.pos);
    }
    if (close === ']') return { at, kind: 'list', items };
    return items.length === 1 && !trailingComma ? items[0]! : { at, kind: 'tuple', items };
  }

  private parseString(): string {
    const quote = this.text[this.pos++]!;
    let value = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') throw this.fail('unterminated string in header', this.pos);
      this.pos++;
      if (c === quote) return value;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const escaped = this.text[this.pos++];
      if (escaped === undefined || !Object.hasOwn(STRING_ESCAPES, escaped)) throw this.fail('unsupported escape in header string', this.pos - 2);
      value += STRING_ESCAPES[escaped];
    }
  }

  private parseNumber(): PyLiteral {
    const at = this.pos;
    const match = /^[-+]?(?:(\d+)(?![.eEjJ\w])|\d*\.?\d*(?:[eE][-+]?\d+)?)/.exec(this.text.slice(at))!;
    const literal = match[0];
    this.pos += literal.length;
    if (match[1] !== undefined) {
      if (/^[-+]?0\d/.test(literal)) throw this.fail(`integer '${literal}' has a leading zero`, at);
      return { at, kind: 'int', value: BigInt(literal) };
    }
    if (!/\d/.test(literal) || /\w/.test(this.text[this.pos] ?? '')) throw this.fail('malformed number in header', at);
    return { at, kind: 'float', value: Number(literal) };
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /[ \t\r\n]/.test(this.text[this.pos]!)) this.pos++;
  }

  private eat(c: string): boolean {
    if (this.text[this.pos] !== c) return false;
    this.pos++;
    return true;
  }
}

/** One character per byte; TextDecoder's 'latin1' is really windows-1252, which remaps 0x80–0x9f. */
function latin1(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}
