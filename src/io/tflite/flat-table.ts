// Bounds-checked reading of FlatBuffers tables over the `flatbuffers` runtime's ByteBuffer: every offset a file gives
// is checked to lie inside it before it is followed, so a truncated or lying file fails with a FormatError.

import { ByteBuffer } from 'flatbuffers';
import { FormatError } from '../../errors.js';

/** One table of a FlatBuffer: its fields read by slot (the field's declaration order in the schema, a union taking two). */
export class FlatTable {
  private constructor(
    private readonly bb: ByteBuffer,
    readonly pos: number,
    /** What the table is, for errors: `operator 3`, `tensor 17's quantization`. */
    readonly what: string,
    readonly source: string,
  ) {
    const vtable = pos - this.checked(pos, 4, 'table start').readInt32(pos);
    this.checked(vtable, 4, 'vtable');
    const size = bb.readUint16(vtable);
    if (size < 4 || size % 2 !== 0) this.fail(`vtable of ${size} bytes`, vtable);
    this.checked(vtable, size, 'vtable');
  }

  /** The root table of a buffer, after the 4-byte root offset (and the 4-byte file identifier, which the caller checks). */
  static root(bytes: Uint8Array, what: string, source: string): FlatTable {
    const bb = new ByteBuffer(bytes);
    if (bytes.length < 8) throw new FormatError(`${source}: ${bytes.length} bytes is too short for a FlatBuffer (truncated?)`, 0);
    return new FlatTable(bb, bb.readUint32(0), what, source);
  }

  private fail(message: string, at: number): never {
    throw new FormatError(`${this.source}: ${this.what}: ${message} lies outside the file's ${this.bb.capacity()} bytes (truncated, or an offset that lies)`, at);
  }

  private checked(at: number, bytes: number, what: string): ByteBuffer {
    if (!(at >= 0 && at + bytes <= this.bb.capacity())) this.fail(what, at);
    return this.bb;
  }

  /** The field's absolute position, or 0 where the file leaves it out (its default applies). */
  private field(slot: number): number {
    const o = this.bb.__offset(this.pos, 4 + 2 * slot);
    return o === 0 ? 0 : this.pos + o;
  }

  int32(slot: number, fallback = 0): number {
    const at = this.field(slot);
    return at === 0 ? fallback : this.checked(at, 4, `field ${slot}`).readInt32(at);
  }

  uint32(slot: number, fallback = 0): number {
    const at = this.field(slot);
    return at === 0 ? fallback : this.checked(at, 4, `field ${slot}`).readUint32(at);
  }

  int8(slot: number, fallback = 0): number {
    const at = this.field(slot);
    return at === 0 ? fallback : this.checked(at, 1, `field ${slot}`).readInt8(at);
  }

  uint8(slot: number, fallback = 0): number {
    const at = this.field(slot);
    return at === 0 ? fallback : this.checked(at, 1, `field ${slot}`).readUint8(at);
  }

  bool(slot: number): boolean {
    return this.uint8(slot) !== 0;
  }

  float32(slot: number, fallback = 0): number {
    const at = this.field(slot);
    return at === 0 ? fallback : this.checked(at, 4, `field ${slot}`).readFloat32(at);
  }

  /** The absolute position of what an offset field points to, or null where the field is absent. */
  private target(slot: number): number | null {
    const at = this.field(slot);
    if (at === 0) return null;
    return at + this.checked(at, 4, `field ${slot}`).readUint32(at);
  }

  table(slot: number, what: string): FlatTable | null {
    const at = this.target(slot);
    return at === null ? null : new FlatTable(this.bb, at, what, this.source);
  }

  /** A vector's first element's position and its length, checked to fit in the file. */
  private vector(slot: number, elementSize: number, what: string): { start: number; length: number } | null {
    const at = this.target(slot);
    if (at === null) return null;
    const length = this.checked(at, 4, what).readUint32(at);
    this.checked(at + 4, length * elementSize, `${what} of ${length} elements`);
    return { start: at + 4, length };
  }

  int32s(slot: number, what: string): number[] | null {
    const v = this.vector(slot, 4, what);
    return v && Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i));
  }

  float32s(slot: number, what: string): number[] | null {
    const v = this.vector(slot, 4, what);
    return v && Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i));
  }

  /** Int64 elements as numbers (exact up to 2^53: zero points and offsets). */
  int64s(slot: number, what: string): number[] | null {
    const v = this.vector(slot, 8, what);
    return v && Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i)));
  }

  /** A [ubyte] vector as a view into the file (no copy). */
  bytes(slot: number, what: string): Uint8Array | null {
    const v = this.vector(slot, 1, what);
    return v && this.bb.bytes().subarray(v.start, v.start + v.length);
  }

  tables(slot: number, what: (i: number) => string): FlatTable[] {
    const v = this.vector(slot, 4, what(-1));
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => {
      const at = v.start + 4 * i;
      return new FlatTable(this.bb, at + this.bb.readUint32(at), what(i), this.source);
    });
  }

  string(slot: number, what: string): string | null {
    const bytes = this.bytes(slot, what);
    if (bytes === null) return null;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new FormatError(`${this.source}: ${this.what}: ${what} is not UTF-8`, bytes.byteOffset);
    }
  }
}
