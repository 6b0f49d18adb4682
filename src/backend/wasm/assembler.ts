// A small WebAssembly binary assembler: kernels are emitted from TypeScript at run time, specialised
// to their shapes, into modules that import one linear memory (optionally shared, for threads).

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** A branch target; `br(label)` turns it into the relative depth the binary format wants. */
export interface Label {
  readonly depth: number;
}

/** Log2 of the natural alignment of each access width: only a hint, misaligned access stays legal. */
const ALIGN = { b4: 2, b8: 3, b16: 4 } as const;

class ByteWriter {
  readonly bytes: number[] = [];

  byte(b: number): void {
    this.bytes.push(b & 0xff);
  }

  raw(bs: ArrayLike<number>): void {
    for (let i = 0; i < bs.length; i++) this.bytes.push(bs[i] & 0xff);
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 immediate out of range: ${v}`);
    do {
      let b = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
  }

  i32(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new RangeError(`i32 immediate out of range: ${v}`);
    v |= 0; // values above 2^31 wrap to their two's-complement bit pattern, as i32.const expects
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return;
    }
  }

  f32(v: number): void {
    const buf = new DataView(new ArrayBuffer(4));
    buf.setFloat32(0, v, true);
    for (let i = 0; i < 4; i++) this.byte(buf.getUint8(i));
  }

  name(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u32(utf8.length);
    this.raw(utf8);
  }

  /** A length-prefixed byte vector, as sections and function bodies are written. */
  sized(inner: ByteWriter): void {
    this.u32(inner.bytes.length);
    this.raw(inner.bytes);
  }
}

export interface MemoryImport {
  /** Minimum size in 64 KiB pages that the imported memory must have. */
  initialPages?: number;
  /** Required for a shared memory; the imported memory's maximum must not exceed it. */
  maximumPages?: number;
  shared?: boolean;
}

export interface ModuleOptions {
  /** Import `env.memory`; left out for modules that touch no memory (feature probes). */
  memory?: MemoryImport;
  /** Allow relaxed-SIMD instructions; engines without the proposal reject such modules. */
  relaxedSimd?: boolean;
}

interface FunctionEntry {
  name: string | null;
  typeIndex: number;
  body: FunctionBuilder;
}

export class ModuleBuilder {
  readonly relaxedSimd: boolean;
  readonly memory: MemoryImport | null;
  private readonly types: string[] = [];
  private readonly typeBytes: number[][] = [];
  private readonly functions: FunctionEntry[] = [];

  constructor(options: ModuleOptions = {}) {
    this.relaxedSimd = options.relaxedSimd ?? false;
    this.memory = options.memory ?? null;
  }

  /** Adds a function whose body `build` emits; exported under `name` unless it is null. Returns its index. */
  function(name: string | null, params: readonly ValType[], results: readonly ValType[], build: (fn: FunctionBuilder) => void): number {
    const fn = new FunctionBuilder(this, params);
    build(fn);
    fn.finish();
    this.functions.push({ name, typeIndex: this.typeIndex(params, results), body: fn });
    return this.functions.length - 1;
  }

  get exportNames(): string[] {
    return this.functions.flatMap((f) => (f.name === null ? [] : [f.name]));
  }

  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}->${results.join(',')}`;
    let i = this.types.indexOf(key);
    if (i < 0) {
      i = this.types.push(key) - 1;
      this.typeBytes.push([0x60, params.length, ...params.map((t) => VALTYPE[t]), results.length, ...results.map((t) => VALTYPE[t])]);
    }
    return i;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter();
    out.raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, fill: (w: ByteWriter) => void): void => {
      const w = new ByteWriter();
      fill(w);
      out.byte(id);
      out.sized(w);
    };
    section(1, (w) => {
      w.u32(this.typeBytes.length);
      for (const t of this.typeBytes) w.raw(t);
    });
    const memory = this.memory;
    if (memory) {
      section(2, (w) => {
        w.u32(1);
        w.name('env');
        w.name('memory');
        w.byte(0x02);
        const shared = memory.shared ?? false;
        const max = memory.maximumPages ?? (shared ? 65536 : undefined);
        w.byte((max === undefined ? 0 : 1) | (shared ? 2 : 0));
        w.u32(memory.initialPages ?? 0);
        if (max !== undefined) w.u32(max);
      });
    }
    section(3, (w) => {
      w.u32(this.functions.length);
      for (const f of this.functions) w.u32(f.typeIndex);
    });
    section(7, (w) => {
      const exported = this.functions.map((f, i) => [f.name, i] as const).filter(([n]) => n !== null);
      w.u32(exported.length);
      for (const [n, i] of exported) {
        w.name(n as string);
        w.byte(0x00);
        w.u32(i);
      }
    });
    section(10, (w) => {
      w.u32(this.functions.length);
      for (const f of this.functions) w.sized(f.body.encode());
    });
    return new Uint8Array(out.bytes);
  }
}

/**
 * Emits one function body. Instructions are methods grouped by type (`fn.i32.add()`, `fn.f32x4.mul()`),
 * structured control takes callbacks so blocks always close, and branches name labels, not depths.
 */
export class FunctionBuilder {
  readonly params: readonly Local[];
  private readonly localTypes: ValType[] = [];
  private readonly code = new ByteWriter();
  private depth = 0;
  private finished = false;

  constructor(readonly module: ModuleBuilder, params: readonly ValType[]) {
    this.params = params.map((type, index) => ({ index, type }));
  }

  /** Declares a new local of `type`, zero-initialised on entry. */
  local(type: ValType): Local {
    const index = this.params.length + this.localTypes.length;
    this.localTypes.push(type);
    return { index, type };
  }

  get(l: Local): this {
    return this.op(0x20).idx(l.index);
  }

  set(l: Local): this {
    return this.op(0x21).idx(l.index);
  }

  tee(l: Local): this {
    return this.op(0x22).idx(l.index);
  }

  drop(): this {
    return this.op(0x1a);
  }

  select(): this {
    return this.op(0x1b);
  }

  block(body: (exit: Label) => void): this {
    return this.structured(0x02, body);
  }

  /** A loop whose label branches back to its top. */
  loop(body: (top: Label) => void): this {
    return this.structured(0x03, body);
  }

  /** Pops an i32 condition: runs `then` if non-zero, else `otherwise`. */
  ifElse(then: (exit: Label) => void, otherwise?: (exit: Label) => void): this {
    this.op(0x04).code.byte(0x40);
    const label = { depth: ++this.depth };
    then(label);
    if (otherwise) {
      this.op(0x05);
      otherwise(label);
    }
    this.depth--;
    return this.op(0x0b);
  }

  br(label: Label): this {
    return this.op(0x0c).idx(this.relative(label));
  }

  brIf(label: Label): this {
    return this.op(0x0d).idx(this.relative(label));
  }

  return(): this {
    return this.op(0x0f);
  }

  // The instruction groups are typed FunctionBuilder, not `this`: a polymorphic `this` inside an object property's
  // type is an error (TS2526) for anyone who type-checks the emitted declarations (skipLibCheck false).
  readonly i32 = {
    const: (v: number): FunctionBuilder => {
      this.op(0x41).code.i32(v);
      return this;
    },
    load: (offset = 0): FunctionBuilder => this.mem(0x28, ALIGN.b4, offset),
    store: (offset = 0): FunctionBuilder => this.mem(0x36, ALIGN.b4, offset),
    /** One byte, sign- or zero-extended. */
    load8_s: (offset = 0): FunctionBuilder => this.mem(0x2c, 0, offset),
    load8_u: (offset = 0): FunctionBuilder => this.mem(0x2d, 0, offset),
    load16_u: (offset = 0): FunctionBuilder => this.mem(0x2f, 1, offset),
    eqz: (): FunctionBuilder => this.op(0x45),
    eq: (): FunctionBuilder => this.op(0x46),
    ne: (): FunctionBuilder => this.op(0x47),
    lt_s: (): FunctionBuilder => this.op(0x48),
    lt_u: (): FunctionBuilder => this.op(0x49),
    gt_s: (): FunctionBuilder => this.op(0x4a),
    gt_u: (): FunctionBuilder => this.op(0x4b),
    le_s: (): FunctionBuilder => this.op(0x4c),
    ge_s: (): FunctionBuilder => this.op(0x4e),
    add: (): FunctionBuilder => this.op(0x6a),
    sub: (): FunctionBuilder => this.op(0x6b),
    mul: (): FunctionBuilder => this.op(0x6c),
    div_u: (): FunctionBuilder => this.op(0x6e),
    rem_u: (): FunctionBuilder => this.op(0x70),
    and: (): FunctionBuilder => this.op(0x71),
    or: (): FunctionBuilder => this.op(0x72),
    shl: (): FunctionBuilder => this.op(0x74),
    shr_u: (): FunctionBuilder => this.op(0x76),
  };

  readonly f32 = {
    const: (v: number): FunctionBuilder => {
      this.op(0x43).code.f32(v);
      return this;
    },
    load: (offset = 0): FunctionBuilder => this.mem(0x2a, ALIGN.b4, offset),
    store: (offset = 0): FunctionBuilder => this.mem(0x38, ALIGN.b4, offset),
    add: (): FunctionBuilder => this.op(0x92),
    sub: (): FunctionBuilder => this.op(0x93),
    mul: (): FunctionBuilder => this.op(0x94),
    div: (): FunctionBuilder => this.op(0x95),
    min: (): FunctionBuilder => this.op(0x96),
    max: (): FunctionBuilder => this.op(0x97),
  };

  readonly v128 = {
    load: (offset = 0): FunctionBuilder => this.simdMem(0x00, ALIGN.b16, offset),
    store: (offset = 0): FunctionBuilder => this.simdMem(0x0b, ALIGN.b16, offset),
    /** Loads one float into all four lanes. */
    load32_splat: (offset = 0): FunctionBuilder => this.simdMem(0x09, ALIGN.b4, offset),
    /** Loads one float into lane 0, zeroing the rest: reads never run past a tensor's end. */
    load32_zero: (offset = 0): FunctionBuilder => this.simdMem(0x5c, ALIGN.b4, offset),
    load64_zero: (offset = 0): FunctionBuilder => this.simdMem(0x5d, ALIGN.b8, offset),
    /** One byte (or two) into all 16 (or 8) lanes: an int8 input, or a pair of them, broadcast. */
    load8_splat: (offset = 0): FunctionBuilder => this.simdMem(0x07, 0, offset),
    load16_splat: (offset = 0): FunctionBuilder => this.simdMem(0x08, 1, offset),
    /** Pops (address, vector), replaces byte lane `lane` (or 16-bit lane) with the value at address + offset. */
    load8_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x54, 0, offset).lane(lane, 16),
    load16_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x55, 1, offset).lane(lane, 8),
    store8_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x58, 0, offset).lane(lane, 16),
    store16_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x59, 1, offset).lane(lane, 8),
    /** Pops (address, vector), replaces lane `lane` with the float at address + offset. */
    load32_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x56, ALIGN.b4, offset).lane(lane, 4),
    store32_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x5a, ALIGN.b4, offset).lane(lane, 4),
    store64_lane: (offset: number, lane: number): FunctionBuilder => this.simdMem(0x5b, ALIGN.b8, offset).lane(lane, 2),
    /** Loads eight int8 and sign-extends them to eight int16 lanes. */
    load8x8_s: (offset = 0): FunctionBuilder => this.simdMem(0x01, ALIGN.b8, offset),
    /** Loads four int16 and sign-extends them to four int32 lanes. */
    load16x4_s: (offset = 0): FunctionBuilder => this.simdMem(0x03, ALIGN.b8, offset),
    const: (bytes: ArrayLike<number>): FunctionBuilder => {
      if (bytes.length !== 16) throw new RangeError(`v128.const needs 16 bytes, got ${bytes.length}`);
      this.simd(0x0c).code.raw(bytes);
      return this;
    },
    and: (): FunctionBuilder => this.simd(0x4e),
    or: (): FunctionBuilder => this.simd(0x50),
    xor: (): FunctionBuilder => this.simd(0x51),
  };

  readonly f32x4 = {
    /** Four copies of one float, as raw lanes: v128.const with the float's bytes. */
    const: (v: number): FunctionBuilder => {
      const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
      return this.v128.const(b);
    },
    splat: (): FunctionBuilder => this.simd(0x13),
    extract_lane: (lane: number): FunctionBuilder => this.simd(0x1f).lane(lane, 4),
    replace_lane: (lane: number): FunctionBuilder => this.simd(0x20).lane(lane, 4),
    /** Lane-wise comparisons: all ones where true, zeros where false (NaN compares false, except `ne`). */
    eq: (): FunctionBuilder => this.simd(0x41),
    ne: (): FunctionBuilder => this.simd(0x42),
    lt: (): FunctionBuilder => this.simd(0x43),
    gt: (): FunctionBuilder => this.simd(0x44),
    le: (): FunctionBuilder => this.simd(0x45),
    ge: (): FunctionBuilder => this.simd(0x46),
    abs: (): FunctionBuilder => this.simd(0xe0),
    neg: (): FunctionBuilder => this.simd(0xe1),
    add: (): FunctionBuilder => this.simd(0xe4),
    sub: (): FunctionBuilder => this.simd(0xe5),
    mul: (): FunctionBuilder => this.simd(0xe6),
    div: (): FunctionBuilder => this.simd(0xe7),
    min: (): FunctionBuilder => this.simd(0xe8),
    max: (): FunctionBuilder => this.simd(0xe9),
    /** b < a ? b : a — NaN in `a` passes through, one instruction (minps) on x86. */
    pmin: (): FunctionBuilder => this.simd(0xea),
    /** a < b ? b : a — NaN in `a` passes through, one instruction (maxps) on x86. */
    pmax: (): FunctionBuilder => this.simd(0xeb),
    /** Round to nearest, ties to even. */
    nearest: (): FunctionBuilder => this.simd(0x6a),
    /** Int32 lanes to floats. */
    convert_i32x4_s: (): FunctionBuilder => this.simd(0xfa),
    /** Two float64 lanes rounded to float32 lanes 0 and 1; lanes 2 and 3 zero. */
    demote_f64x2_zero: (): FunctionBuilder => this.simd(0x5e),
    /** Pops (a, b, c), pushes a·b + c, fused or not as the hardware prefers. Relaxed SIMD only. */
    relaxed_madd: (): FunctionBuilder => this.relaxed(0x105),
    relaxed_nmadd: (): FunctionBuilder => this.relaxed(0x106),
  };


  readonly i8x16 = {
    /** Picks 16 bytes out of the two popped vectors' 32 by index. */
    shuffle: (lanes: ArrayLike<number>): FunctionBuilder => {
      if (lanes.length !== 16 || Array.from(lanes).some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
        throw new RangeError(`i8x16.shuffle needs 16 lane indices in 0..31, got [${Array.from(lanes).join(', ')}]`);
      }
      this.simd(0x0d).code.raw(lanes);
      return this;
    },
    /** Sixteen int16 lanes of two vectors to int8, saturating. */
    narrow_i16x8_s: (): FunctionBuilder => this.simd(0x65),
    splat: (): FunctionBuilder => this.simd(0x0f),
    min_s: (): FunctionBuilder => this.simd(0x76),
    max_s: (): FunctionBuilder => this.simd(0x78),
  };

  readonly i16x8 = {
    splat: (): FunctionBuilder => this.simd(0x10),
    sub: (): FunctionBuilder => this.simd(0x91),
    /**
     * Pops (a, b): sums of two adjacent int8 products a·b per int16 lane. Relaxed SIMD only; deterministic only where every
     * byte of b is in [0, 127] and no sum leaves int16 (engines may saturate or wrap).
     */
    relaxed_dot_i8x16_i7x16_s: (): FunctionBuilder => this.relaxed(0x112),
    /** The low eight int8 lanes sign-extended to int16. */
    extend_low_i8x16_s: (): FunctionBuilder => this.simd(0x87),
    extend_high_i8x16_s: (): FunctionBuilder => this.simd(0x88),
    add_sat_s: (): FunctionBuilder => this.simd(0x8f),
    /** Eight int32 lanes of two vectors to int16, saturating. */
    narrow_i32x4_s: (): FunctionBuilder => this.simd(0x85),
  };

  readonly i32x4 = {
    splat: (): FunctionBuilder => this.simd(0x11),
    extract_lane: (lane: number): FunctionBuilder => this.simd(0x1b).lane(lane, 4),
    add: (): FunctionBuilder => this.simd(0xae),
    sub: (): FunctionBuilder => this.simd(0xb1),
    /** Low 32 bits of each lane's product: wraps, as C++'s int32 shifts and products do. */
    mul: (): FunctionBuilder => this.simd(0xb5),
    /** All ones where a > b (signed), zeros elsewhere. */
    gt_s: (): FunctionBuilder => this.simd(0x3b),
    /** Pops (vector, i32 count): each lane shifted left. */
    shl: (): FunctionBuilder => this.simd(0xab),
    /** Pops (vector, i32 count): each lane shifted right, copying the sign bit. */
    shr_s: (): FunctionBuilder => this.simd(0xac),
    /** The low four int16 lanes sign-extended to int32. */
    extend_low_i16x8_s: (): FunctionBuilder => this.simd(0xa7),
    extend_high_i16x8_s: (): FunctionBuilder => this.simd(0xa8),
    abs: (): FunctionBuilder => this.simd(0xa0),
    /** Float lanes truncated to int32, saturating. */
    trunc_sat_f32x4_s: (): FunctionBuilder => this.simd(0xf8),
    min_s: (): FunctionBuilder => this.simd(0xb6),
    max_s: (): FunctionBuilder => this.simd(0xb8),
    /** Pairwise products of int16 lanes, adjacent pairs summed: four exact int32 lanes. */
    dot_i16x8_s: (): FunctionBuilder => this.simd(0xba),
    /** Products of the low (or high) four int16 lanes of two vectors, as int32. */
    extmul_low_i16x8_s: (): FunctionBuilder => this.simd(0xbc),
    extmul_high_i16x8_s: (): FunctionBuilder => this.simd(0xbd),
    /** Two float64 lanes truncated (saturating) to int32 lanes 0 and 1; lanes 2 and 3 zero. */
    trunc_sat_f64x2_s_zero: (): FunctionBuilder => this.simd(0xfc),
    /** Adjacent int16 lanes summed into int32 lanes. */
    extadd_pairwise_i16x8_s: (): FunctionBuilder => this.simd(0x7e),
  };

  readonly i64x2 = {
    add: (): FunctionBuilder => this.simd(0xce),
    /** Pops (vector, i32 count): each lane shifted left. */
    shl: (): FunctionBuilder => this.simd(0xcb),
    /** Exact int64 products of int32 lanes 0 and 1 (low) or 2 and 3 (high), signed or unsigned. */
    extmul_low_i32x4_s: (): FunctionBuilder => this.simd(0xdc),
    extmul_high_i32x4_s: (): FunctionBuilder => this.simd(0xdd),
    extmul_low_i32x4_u: (): FunctionBuilder => this.simd(0xde),
    extmul_high_i32x4_u: (): FunctionBuilder => this.simd(0xdf),
  };

  readonly f64x2 = {
    splat: (): FunctionBuilder => this.simd(0x14),
    /** Int32 lanes 0 and 1 to two float64 lanes, exactly. */
    convert_low_i32x4_s: (): FunctionBuilder => this.simd(0xfe),
    /** Float32 lanes 0 and 1 to two float64 lanes, exactly. */
    promote_low_f32x4: (): FunctionBuilder => this.simd(0x5f),
    add: (): FunctionBuilder => this.simd(0xf0),
    mul: (): FunctionBuilder => this.simd(0xf2),
    /** Round to nearest, ties to even. */
    nearest: (): FunctionBuilder => this.simd(0x94),
  };

  /** @internal closes the body; further emission is a bug in the generator. */
  finish(): void {
    if (this.depth !== 0) throw new Error(`function body closed with ${this.depth} blocks open`);
    this.op(0x0b);
    this.finished = true;
  }

  /** @internal the body as the code section stores it: locals, instructions, end. */
  encode(): ByteWriter {
    const w = new ByteWriter();
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    w.u32(runs.length);
    for (const [count, t] of runs) {
      w.u32(count);
      w.byte(VALTYPE[t]);
    }
    w.raw(this.code.bytes);
    return w;
  }

  private op(b: number): this {
    if (this.finished) throw new Error('emitting into a finished function');
    this.code.byte(b);
    return this;
  }

  private idx(i: number): this {
    this.code.u32(i);
    return this;
  }

  private mem(opcode: number, align: number, offset: number): this {
    this.op(opcode);
    this.code.u32(align);
    this.code.u32(offset);
    return this;
  }

  private simd(opcode: number): this {
    this.op(0xfd);
    this.code.u32(opcode);
    return this;
  }

  private simdMem(opcode: number, align: number, offset: number): this {
    this.simd(opcode);
    this.code.u32(align);
    this.code.u32(offset);
    return this;
  }

  private relaxed(opcode: number): this {
    if (!this.module.relaxedSimd) throw new Error('relaxed-SIMD instruction in a module built without relaxedSimd');
    return this.simd(opcode);
  }

  private lane(lane: number, lanes: number): this {
    if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) throw new RangeError(`lane ${lane} out of range 0..${lanes - 1}`);
    this.code.byte(lane);
    return this;
  }

  private structured(opcode: number, body: (label: Label) => void): this {
    this.op(opcode).code.byte(0x40);
    const label = { depth: ++this.depth };
    body(label);
    this.depth--;
    return this.op(0x0b);
  }

  private relative(label: Label): number {
    if (label.depth > this.depth || label.depth < 1) throw new Error('branch to a label whose block is closed');
    return this.depth - label.depth;
  }
}

let simdCache: boolean | undefined;
let relaxedCache: boolean | undefined;

function validates(options: ModuleOptions, body: (fn: FunctionBuilder) => void): boolean {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return false;
  const m = new ModuleBuilder(options);
  m.function('probe', [], [], body);
  try {
    return WebAssembly.validate(m.bytes());
  } catch {
    return false;
  }
}

/** Whether this engine runs fixed-width 128-bit SIMD (every current browser, Node ≥ 16). */
export function simdSupported(): boolean {
  simdCache ??= validates({}, (fn) => fn.f32.const(1).f32x4.splat().f32.const(2).f32x4.splat().f32x4.pmax().drop());
  return simdCache;
}

/** Whether relaxed SIMD validates here (Node 22+, current browsers; Node 20 only with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  relaxedCache ??=
    simdSupported() &&
    validates({ relaxedSimd: true }, (fn) => {
      fn.f32.const(1).f32x4.splat();
      fn.f32.const(2).f32x4.splat();
      fn.f32.const(3).f32x4.splat();
      fn.f32x4.relaxed_madd().drop();
    });
  return relaxedCache;
}
