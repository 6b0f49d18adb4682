// The int8 kernels' shared parts: TFLite's fixed-point requantization in SIMD lanes (bias, per-channel multiplier and shift,
// zero point, clamp; optionally TFLite's ADD of a residual after it), packed per block of channels, and byte loads and stores.

import type { FunctionBuilder, Local } from '../assembler.js';
import type { AddRequantization, Requantization } from '../../../quant/fixed-point.js';
import { ConfigError, ShapeError } from '../../../errors.js';
import { V128 } from './common.js';

/**
 * What an int8 convolution (any kind) or dense layer needs besides its shape: the symmetric int8 kernel, the int32 bias on the
 * accumulator's scale, the input's zero point, the requantization and, for a fused residual, TFLite's ADD after it.
 */
export interface Int8ConvWeights {
  kernel: Int8Array;
  bias: Int32Array;
  inputZeroPoint: number;
  requant: Requantization;
  add?: AddRequantization | null;
}

/*
 * A packed block of `width` channels (a multiple of 4) starts with:
 *   header (16 bytes): int32 [zero point, lo − zero point, hi − zero point, input zero point]
 *   add (ADD_BYTES, only with a fused residual): the ADD's constants, below
 *   requant (REQUANT_ARRAYS int32 arrays of `width`): bias, 2^left, multiplier, 2^(31 − right) as uint32, 2^right − 1, (2^right − 1) >> 1
 * and the kernel's weights follow. Every block carries its own constants, so a kernel may start at any block (channel splits).
 */
export const HEADER_BYTES = 16;
const REQUANT_ARRAYS = 6;
/** The five per-lane vectors of one multiplyByQuantizedMultiplier: 2^left, multiplier, 2^(31 − right), mask, half mask. */
const MULTIPLY_VECTORS = 5;
/** ADD: int32 [za, zb, leftShift, zo], [lo − zo, hi − zo, 0, 0], then the a, b and out multipliers, each as 5 splatted vectors. */
const ADD_SCALARS_BYTES = 32;
export const ADD_BYTES = ADD_SCALARS_BYTES + 3 * MULTIPLY_VECTORS * V128;

/** Bytes of a block's constants before its weights: header, ADD (with a residual) and the requantization arrays. */
export function blockConstantBytes(width: number, residual: boolean): number {
  return HEADER_BYTES + (residual ? ADD_BYTES : 0) + REQUANT_ARRAYS * width * 4;
}

/** The per-lane constants of TFLite's MultiplyByQuantizedMultiplier for (multiplier, shift): see `emitMultiply`. */
function multiplyConstants(multiplier: number, shift: number): [number, number, number, number, number] {
  const left = Math.max(shift, 0);
  const right = Math.max(-shift, 0);
  if (right > 31) throw new ConfigError(`int8 requantization: a right shift of ${right} is beyond 31`);
  const mask = 2 ** right - 1;
  // 2^(31 − right) is read as uint32: 2^31 (right 0) is stored as its bit pattern
  return [2 ** left | 0, multiplier, 2 ** (31 - right) | 0, mask | 0, Math.floor(mask / 2)];
}

function checkRange(what: string, zeroPoint: number, range: readonly [number, number]): void {
  const [lo, hi] = range;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && -128 <= lo && lo <= hi && hi <= 127) || !Number.isInteger(zeroPoint) || zeroPoint < -128 || zeroPoint > 127) {
    throw new ConfigError(`${what}: zero point ${zeroPoint} and range [${lo}, ${hi}] must be int8 values with lo ≤ hi`);
  }
}

/** Which channels a packed block holds, and how its bias is made. */
export interface BlockLayout {
  /** Channels [first, first + count) of the weights; the rest of the block's `width` stays zero. */
  first: number;
  count: number;
  width: number;
  /** Rows of the [rows, cout] kernel (HWIO flattened): the kernels that sum x·w, not (x − zx)·w, get bias − zx·Σw. */
  kernelRows: number;
  foldInputZeroPoint: boolean;
  residual: boolean;
}

/** Writes a block's constants at byte `at` of `out` (see the layout above). */
export function packBlockConstants(out: DataView, at: number, w: Int8ConvWeights, b: BlockLayout): void {
  const cout = w.bias.length;
  const r = w.requant;
  checkRange('int8 requantization', r.zeroPoint, r.range);
  if (r.multiplier.length !== 1 && r.multiplier.length !== cout) throw new ShapeError(`int8 requantization: ${r.multiplier.length} multipliers for ${cout} output channels`);
  const { first, count, width, kernelRows, residual } = b;
  if (w.kernel.length !== kernelRows * cout) throw new ShapeError(`int8 weights: kernel has ${w.kernel.length} values, expected ${kernelRows}·${cout} = ${kernelRows * cout}`);
  const i32 = (offset: number, v: number): void => out.setInt32(at + offset, v, true);
  [r.zeroPoint, r.range[0] - r.zeroPoint, r.range[1] - r.zeroPoint, w.inputZeroPoint].forEach((v, i) => i32(4 * i, v));
  let o = HEADER_BYTES;
  if (residual) {
    const add = w.add;
    if (!add) throw new ConfigError('int8 kernel: a fused residual needs the ADD requantization');
    checkRange('int8 add', add.out.zeroPoint, add.range);
    [add.a.zeroPoint, add.b.zeroPoint, add.leftShift, add.out.zeroPoint, add.range[0] - add.out.zeroPoint, add.range[1] - add.out.zeroPoint].forEach((v, i) => i32(o + 4 * i, v));
    o += ADD_SCALARS_BYTES;
    for (const part of [add.a, add.b, add.out]) {
      for (const v of multiplyConstants(part.multiplier, part.shift)) for (let lane = 0; lane < 4; lane++, o += 4) i32(o, v);
    }
  }
  for (let c = 0; c < count; c++) {
    const ch = first + c;
    let sum = 0;
    if (b.foldInputZeroPoint) for (let k = 0; k < kernelRows; k++) sum += w.kernel[k * cout + ch];
    const k = r.multiplier.length === 1 ? 0 : ch;
    const values = [(w.bias[ch] - w.inputZeroPoint * sum) | 0, ...multiplyConstants(r.multiplier[k], r.shift[k])];
    values.forEach((v, array) => i32(o + (array * width + c) * 4, v));
  }
}

/** Pushes `n` (1…16) bytes from pointer + offset into the low bytes of a vector, zeros above; never reads past them. */
export function loadBytes(fn: FunctionBuilder, pointer: Local, offset: number, n: number, scratch: Local): void {
  if (n === 16) {
    fn.get(pointer).v128.load(offset);
    return;
  }
  if (!(n >= 1 && n < 16)) throw new RangeError(`loadBytes: n must be 1..16, got ${n}`);
  let pos = n >= 8 ? 8 : n >= 4 ? 4 : 0;
  if (pos === 8) fn.get(pointer).v128.load64_zero(offset);
  else if (pos === 4) fn.get(pointer).v128.load32_zero(offset);
  else fn.v128.const(new Uint8Array(16));
  for (const size of [4, 2, 1]) {
    if (n - pos < size) continue;
    fn.set(scratch).get(pointer).get(scratch);
    if (size === 4) fn.v128.load32_lane(offset + pos, pos / 4);
    else if (size === 2) fn.v128.load16_lane(offset + pos, pos / 2);
    else fn.v128.load8_lane(offset + pos, pos);
    pos += size;
  }
}

/** Stores the low `n` (1…16) bytes of `value` at pointer + offset; the rest of memory is untouched. */
export function storeBytes(fn: FunctionBuilder, pointer: Local, offset: number, value: Local, n: number): void {
  if (!(n >= 1 && n <= 16)) throw new RangeError(`storeBytes: n must be 1..16, got ${n}`);
  if (n === 16) {
    fn.get(pointer).get(value).v128.store(offset);
    return;
  }
  let pos = 0;
  for (const size of [8, 4, 2, 1]) {
    if (n - pos < size) continue;
    fn.get(pointer).get(value);
    if (size === 8) fn.v128.store64_lane(offset + pos, pos / 8);
    else if (size === 4) fn.v128.store32_lane(offset + pos, pos / 4);
    else if (size === 2) fn.v128.store16_lane(offset + pos, pos / 2);
    else fn.v128.store8_lane(offset + pos, pos);
    pos += size;
  }
}

const HIGH_WORDS = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];
const i64Splat = (v: number): Uint8Array => new Uint8Array(new BigInt64Array([BigInt(v), BigInt(v)]).buffer);
const i32Splat = (v: number): Uint8Array => new Uint8Array(new Int32Array([v, v, v, v]).buffer);

/** The v128 locals the epilogue works in; declare once per function. */
export interface EpilogueScratch {
  low: Local;
  high: Local;
  unsigned: Local;
  other: Local;
  bytes: Local;
}

export function epilogueScratch(fn: FunctionBuilder): EpilogueScratch {
  return { low: fn.local('v128'), high: fn.local('v128'), unsigned: fn.local('v128'), other: fn.local('v128'), bytes: fn.local('v128') };
}

/**
 * value ← MultiplyByQuantizedMultiplier(value) lane by lane, bit for bit as TFLite (src/quant/fixed-point.ts); the five
 * constant vectors sit at base + offset + i·stride. The steps, each exact in wasm SIMD:
 *  - x·2^left: i32x4.mul by 2^left, wrapping as the int32 shift does;
 *  - SaturatingRoundingDoublingHighMul(x, m): with m in [0, 2^31) the one saturating case cannot occur, and C++'s truncating
 *    (x·m + nudge) / 2^31 equals floor((x·m + 2^30) / 2^31) for both signs of the product: i64x2.extmul, + 2^30, then
 *    bits 31…62 (shifted left once, the high words);
 *  - RoundingDivideByPOT(s, right) with a shift per lane (wasm has none): floor(s / 2^right) is the high word of
 *    2·(s + 2^31)·2^(31 − right) as uint64 (i64x2.extmul_u) minus 2^(31 − right), then + 1 where the remainder
 *    s & mask exceeds mask >> 1 plus 1 for negative s (gemmlowp's threshold).
 */
export function emitMultiply(fn: FunctionBuilder, value: Local, base: Local, offset: number, stride: number, s: EpilogueScratch): void {
  const at = (i: number): number => offset + i * stride;
  fn.get(value).get(base).v128.load(at(0)).i32x4.mul().set(value);
  const highWords = (into: Local, extend: (high: boolean) => void, nudge: boolean): void => {
    for (const high of [false, true]) {
      extend(high);
      if (nudge) fn.v128.const(i64Splat(2 ** 30)).i64x2.add();
      fn.i32.const(1).i64x2.shl().set(high ? s.high : s.low);
    }
    fn.get(s.low).get(s.high).i8x16.shuffle(HIGH_WORDS).set(into);
  };
  highWords(value, (high) => {
    fn.get(value).get(base).v128.load(at(1));
    if (high) fn.i64x2.extmul_high_i32x4_s();
    else fn.i64x2.extmul_low_i32x4_s();
  }, true);
  fn.get(value).v128.const(i32Splat(-(2 ** 31))).v128.xor().set(s.unsigned);
  highWords(s.other, (high) => {
    fn.get(s.unsigned).get(base).v128.load(at(2));
    if (high) fn.i64x2.extmul_high_i32x4_u();
    else fn.i64x2.extmul_low_i32x4_u();
  }, false);
  fn.get(s.other).get(base).v128.load(at(2)).i32x4.sub();
  fn.get(value).get(base).v128.load(at(3)).v128.and();
  fn.get(base).v128.load(at(4)).get(value).i32.const(31).i32x4.shr_s().i32x4.sub();
  fn.i32x4.gt_s().i32x4.sub().set(value);
}

/** value ← zero point + clamp(value, lo − zp, hi − zp), the three int32 at base + offset (a header's, or the ADD's). */
function emitClampOffset(fn: FunctionBuilder, value: Local, base: Local, zeroPointAt: number, boundsAt: number): void {
  fn.get(value).get(base).v128.load32_splat(boundsAt).i32x4.max_s().get(base).v128.load32_splat(boundsAt + 4).i32x4.min_s();
  fn.get(base).v128.load32_splat(zeroPointAt).i32x4.add().set(value);
}

/** Where a block's constants are: its first byte, and its width in channels. */
export interface BlockConstants {
  block: Local;
  width: number;
  residual: boolean;
}

/**
 * acc (int32 sums of x·w for 4 channels, those from `channel` on within the block) ← the requantized int8 values as int32 lanes:
 * TFLite's clamp(zp + MBQM(acc + bias)) (`requantizeFixed`); with `residual`, then TFLite's ADD (`addFixed`) of the 4
 * int8 values pushed by `residual` (int32 lanes).
 */
export function emitRequantize(fn: FunctionBuilder, acc: Local, c: BlockConstants, channel: number, s: EpilogueScratch, residual: (() => void) | null): void {
  const arrays = HEADER_BYTES + (c.residual ? ADD_BYTES : 0);
  const stride = c.width * 4;
  fn.get(acc).get(c.block).v128.load(arrays + channel * 4).i32x4.add().set(acc);
  emitMultiply(fn, acc, c.block, arrays + stride + channel * 4, stride, s);
  emitClampOffset(fn, acc, c.block, 0, 4);
  if (!residual) return;
  if (!c.residual) throw new ConfigError('int8 epilogue: a residual for a block packed without one');
  const add = HEADER_BYTES;
  const operand = (at: number, into: Local, zeroPointAt: number): void => {
    fn.get(c.block).v128.load32_splat(add + zeroPointAt).i32x4.sub().get(c.block).i32.load(add + 8).i32x4.shl().set(into);
    emitMultiply(fn, into, c.block, add + ADD_SCALARS_BYTES + at * MULTIPLY_VECTORS * V128, V128, s);
  };
  fn.get(acc);
  operand(0, acc, 0);
  residual();
  operand(1, s.bytes, 4);
  fn.get(acc).get(s.bytes).i32x4.add().set(acc);
  emitMultiply(fn, acc, c.block, add + ADD_SCALARS_BYTES + 2 * MULTIPLY_VECTORS * V128, V128, s);
  emitClampOffset(fn, acc, c.block, add + 12, add + 16);
}

/** Pushes `n` (1…4) int8 values from pointer + offset as int32 lanes. */
export function loadInt8AsInt32(fn: FunctionBuilder, pointer: Local, offset: number, n: number, scratch: Local): void {
  if (n === 4) fn.get(pointer).v128.load32_zero(offset);
  else loadBytes(fn, pointer, offset, n, scratch);
  fn.i16x8.extend_low_i8x16_s().i32x4.extend_low_i16x8_s();
}

/**
 * Narrows up to four vectors of int32 lanes (values already in int8 range) to bytes 0…4·count − 1 of `into`:
 * two saturating narrows, exact here.
 */
export function narrowToInt8(fn: FunctionBuilder, vectors: readonly Local[], into: Local): void {
  if (vectors.length < 1 || vectors.length > 4) throw new RangeError(`narrowToInt8: 1..4 vectors, got ${vectors.length}`);
  const v = (i: number): Local => vectors[Math.min(i, vectors.length - 1)];
  fn.get(v(0)).get(v(1)).i16x8.narrow_i32x4_s().set(into);
  fn.get(into);
  if (vectors.length > 2) fn.get(v(2)).get(v(3)).i16x8.narrow_i32x4_s();
  else fn.get(into);
  fn.i8x16.narrow_i16x8_s().set(into);
}
