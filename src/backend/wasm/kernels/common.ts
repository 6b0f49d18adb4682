// Emission helpers every kernel generator shares: counted loops, partial-vector loads and stores for
// channel tails, the fused multiply-add (relaxed or plain), and the clamp epilogue.

import type { FunctionBuilder, Local } from '../assembler.js';
import { ConfigError, ShapeError } from '../../../errors.js';

/** Output clamp [lo, hi] fused into a kernel's epilogue; ±Infinity leaves that side open. */
export type Clamp = readonly [lo: number, hi: number];

export const LANES = 4;
export const F32 = 4;
export const V128 = 16;

export function checkPositiveInts(what: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${what}: ${name} must be a positive integer, got ${v}`);
  }
}

/** local += bytes */
export function advance(fn: FunctionBuilder, pointer: Local, bytes: number): void {
  if (bytes !== 0) fn.get(pointer).i32.const(bytes).i32.add().set(pointer);
}

/** target = base + bytes */
export function offsetPointer(fn: FunctionBuilder, target: Local, base: Local, bytes: number): void {
  fn.get(base);
  if (bytes !== 0) fn.i32.const(bytes).i32.add();
  fn.set(target);
}

/** Runs `body` `count` times, `count` known at emit time: straight code for 0 or 1, a do-while loop otherwise. */
export function repeat(fn: FunctionBuilder, count: number, body: () => void): void {
  if (count <= 0) return;
  if (count === 1) {
    body();
    return;
  }
  const counter = fn.local('i32');
  fn.i32.const(count).set(counter);
  fn.loop((top) => {
    body();
    fn.get(counter).i32.const(1).i32.sub().tee(counter).brIf(top);
  });
}

/** Runs `body` as many times as the i32 local `count` holds at run time (possibly zero); consumes `count`. */
export function repeatWhile(fn: FunctionBuilder, count: Local, body: () => void): void {
  fn.block((exit) => {
    fn.get(count).i32.eqz().brIf(exit);
    fn.loop((top) => {
      body();
      fn.get(count).i32.const(1).i32.sub().tee(count).brIf(top);
    });
  });
}

/** Pushes `lanes` (1..4) floats from pointer + offset, zeros above: never reads past a tensor's last channel. */
export function loadLanes(fn: FunctionBuilder, pointer: Local, offset: number, lanes: number): void {
  switch (lanes) {
    case 4:
      fn.get(pointer).v128.load(offset);
      return;
    case 3:
      fn.get(pointer).get(pointer).v128.load64_zero(offset).v128.load32_lane(offset + 2 * F32, 2);
      return;
    case 2:
      fn.get(pointer).v128.load64_zero(offset);
      return;
    case 1:
      fn.get(pointer).v128.load32_zero(offset);
      return;
    default:
      throw new RangeError(`loadLanes: lanes must be 1..4, got ${lanes}`);
  }
}

/** Stores the low `lanes` (1..4) floats of `value` at pointer + offset; the rest of memory is untouched. */
export function storeLanes(fn: FunctionBuilder, pointer: Local, offset: number, value: Local, lanes: number): void {
  if (lanes === 4) fn.get(pointer).get(value).v128.store(offset);
  else if (lanes === 2 || lanes === 3) {
    fn.get(pointer).get(value).v128.store64_lane(offset, 0);
    if (lanes === 3) fn.get(pointer).get(value).v128.store32_lane(offset + 2 * F32, 2);
  } else if (lanes === 1) fn.get(pointer).get(value).v128.store32_lane(offset, 0);
  else throw new RangeError(`storeLanes: lanes must be 1..4, got ${lanes}`);
}

/** acc = a·b + acc: one relaxed_madd where the module allows relaxed SIMD, mul then add otherwise. */
export function mulAdd(fn: FunctionBuilder, acc: Local, pushA: () => void, pushB: () => void): void {
  pushA();
  pushB();
  if (fn.module.relaxedSimd) fn.get(acc).f32x4.relaxed_madd();
  else fn.f32x4.mul().get(acc).f32x4.add();
  fn.set(acc);
}

/**
 * Prepares the clamp epilogue: its bounds are splatted once into locals at the function's start, and
 * `apply` clamps the vector on the stack. pmax/pmin keep NaN, as the reference clip does.
 */
export function clampEpilogue(fn: FunctionBuilder, clamp: Clamp | null | undefined): () => void {
  if (!clamp) return () => {};
  const [lo, hi] = clamp;
  if (!(lo <= hi)) throw new ConfigError(`clamp: lower bound ${lo} must not exceed upper bound ${hi}`);
  const loVec = lo > -Infinity ? fn.local('v128') : null;
  const hiVec = hi < Infinity ? fn.local('v128') : null;
  if (loVec) fn.f32x4.const(lo).set(loVec);
  if (hiVec) fn.f32x4.const(hi).set(hiVec);
  return () => {
    if (loVec) fn.get(loVec).f32x4.pmax();
    if (hiVec) fn.get(hiVec).f32x4.pmin();
  };
}

/** Splits `count` channels into vectors: how many lanes each vector holds (4, …, 4, tail). */
export function laneCounts(count: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < count; c += LANES) out.push(Math.min(LANES, count - c));
  return out;
}

export function roundUp(v: number, multiple: number): number {
  return Math.ceil(v / multiple) * multiple;
}

/** Output channels split into register blocks of `blockWidth`: [first channel, channels, width padded to vectors]. */
export function channelBlocks(cout: number, blockWidth: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let c = 0; c < cout; c += blockWidth) {
    const n = Math.min(blockWidth, cout - c);
    out.push([c, n, roundUp(n, LANES)]);
  }
  return out;
}

/** Floats that `packBlocked` writes: per block, its bias then `rows` rows of the block's width. */
export function blockedLength(rows: number, cout: number, blockWidth: number): number {
  return channelBlocks(cout, blockWidth).reduce((sum, [, , width]) => sum + width * (1 + rows), 0);
}

/**
 * Lays out a row-major [rows, cout] kernel (HWIO flattened: rows = kh·kw·cin) and its bias block by block,
 * each block's columns zero-padded to whole vectors: a kernel streams one block's weights with no tail cases.
 */
export function packBlocked(what: string, kernel: Float32Array, bias: Float32Array | null, rows: number, cout: number, blockWidth: number): Float32Array {
  if (kernel.length !== rows * cout) throw new ShapeError(`${what}: kernel has ${kernel.length} values, expected ${rows}·${cout} = ${rows * cout}`);
  if (bias && bias.length !== cout) throw new ShapeError(`${what}: bias has ${bias.length} values, expected ${cout}`);
  const out = new Float32Array(blockedLength(rows, cout, blockWidth));
  let o = 0;
  for (const [start, n, width] of channelBlocks(cout, blockWidth)) {
    if (bias) out.set(bias.subarray(start, start + n), o);
    o += width;
    for (let r = 0; r < rows; r++, o += width) out.set(kernel.subarray(r * cout + start, r * cout + start + n), o);
  }
  return out;
}
