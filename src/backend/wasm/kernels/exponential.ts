// Kernels built on e^x in SIMD (wasm has no exp instruction): Cephes' expf — x = n·ln 2 + r, a degree-5 polynomial
// for e^r on |r| ≤ ln 2 / 2, 2^n put straight into the exponent bits — then sigmoid and softmax over the last axis.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { F32, LANES, V128, advance, checkPositiveInts, loadLanes, repeat, repeatWhile, storeLanes } from './common.js';

/** e^x of float32 is finite and normal in this range: below it, the smallest normal comes out (for 0); above it, 2^127·e^r overflows. */
const EXP_LO = -87.33654;
const EXP_HI = 88.37626;
/** ln 2 in two parts, so that n·ln 2 is subtracted without rounding away r's low bits. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const POLYNOMIAL = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** Locals the exponential needs, made once per function. */
export interface ExpScratch {
  x: Local;
  n: Local;
  r: Local;
  p: Local;
}

export function expScratch(fn: FunctionBuilder): ExpScratch {
  return { x: fn.local('v128'), n: fn.local('v128'), r: fn.local('v128'), p: fn.local('v128') };
}

/** Pops a vector, pushes e^x lane by lane (within 2 ulp of Math.exp over the clamped range). */
export function emitExp(fn: FunctionBuilder, s: ExpScratch): void {
  fn.f32x4.const(EXP_LO).f32x4.max().f32x4.const(EXP_HI).f32x4.min().set(s.x);
  fn.get(s.x).f32x4.const(Math.LOG2E).f32x4.mul().f32x4.nearest().set(s.n);
  fn.get(s.x).get(s.n).f32x4.const(LN2_HI).f32x4.mul().f32x4.sub().get(s.n).f32x4.const(LN2_LO).f32x4.mul().f32x4.sub().set(s.r);
  // e^r ≈ 1 + r + r²·P(r), P by Horner
  fn.f32x4.const(POLYNOMIAL[0]).set(s.p);
  for (const c of POLYNOMIAL.slice(1)) fn.get(s.p).get(s.r).f32x4.mul().f32x4.const(c).f32x4.add().set(s.p);
  fn.get(s.p).get(s.r).f32x4.mul().get(s.r).f32x4.mul().get(s.r).f32x4.add().f32x4.const(1).f32x4.add();
  // · 2^n: (n + 127) << 23 is its float's bits
  fn.get(s.n).i32x4.trunc_sat_f32x4_s().i32.const(127).i32x4.splat().i32x4.add().i32.const(23).i32x4.shl();
  fn.f32x4.mul();
}

/** Emits `name(x, y, batch)` (byte pointers): y = 1 / (1 + e^−x) over `size` floats per sample. */
export function emitSigmoid(mod: ModuleBuilder, name: string, size: number): void {
  checkPositiveInts('sigmoid', { size });
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, batch] = fn.params as [Local, Local, Local];
    const scratch = expScratch(fn);
    const value = fn.local('v128');
    const lanesOf = (lanes: number): void => {
      loadLanes(fn, x, 0, lanes);
      fn.f32x4.neg();
      emitExp(fn, scratch);
      fn.set(value);
      fn.f32x4.const(1).f32x4.const(1).get(value).f32x4.add().f32x4.div().set(value);
      storeLanes(fn, y, 0, value, lanes);
    };
    repeatWhile(fn, batch, () => {
      repeat(fn, Math.floor(size / LANES), () => {
        lanesOf(LANES);
        advance(fn, x, V128);
        advance(fn, y, V128);
      });
      const tail = size % LANES;
      if (tail > 0) {
        lanesOf(tail);
        advance(fn, x, tail * F32);
        advance(fn, y, tail * F32);
      }
    });
  });
}

/** Emits `name(x, y, rows)` (byte pointers): each row of `channels` floats → e^(x − max) / Σ e^(x − max). */
export function emitSoftmax(mod: ModuleBuilder, name: string, channels: number): void {
  checkPositiveInts('softmax', { channels });
  const vectors = Math.floor(channels / LANES);
  const tail = channels % LANES;
  // all ones in the tail's lanes: the lanes past the row end are left out of the sum
  const tailMask = new Uint8Array(16).fill(0xff, 0, tail * F32);
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, rows] = fn.params as [Local, Local, Local];
    const scratch = expScratch(fn);
    const [max, sum, value] = [fn.local('v128'), fn.local('v128'), fn.local('v128')];
    const [from, to] = [fn.local('i32'), fn.local('i32')];
    const total = fn.local('f32');
    const lanesMax = (v: Local): void => {
      fn.get(v).f32x4.extract_lane(0);
      for (let lane = 1; lane < LANES; lane++) fn.get(v).f32x4.extract_lane(lane).f32.max();
    };
    /** Calls `body(lanes)` over the row at `from` (and `to`), a vector at a time then the tail. */
    const overRow = (body: (lanes: number) => void): void => {
      fn.get(x).set(from);
      fn.get(y).set(to);
      repeat(fn, vectors, () => {
        body(LANES);
        advance(fn, from, V128);
        advance(fn, to, V128);
      });
      if (tail > 0) body(tail);
    };
    repeatWhile(fn, rows, () => {
      // the row's maximum: lanes past its end repeat its first value
      fn.get(x).v128.load32_splat(0).set(max);
      overRow((lanes) => {
        if (lanes === LANES) fn.get(max).get(from).v128.load(0).f32x4.max().set(max);
        else for (let lane = 0; lane < lanes; lane++) fn.get(max).get(from).v128.load32_splat(lane * F32).f32x4.max().set(max);
      });
      lanesMax(max);
      fn.f32x4.splat().set(max);
      fn.f32x4.const(0).set(sum);
      overRow((lanes) => {
        loadLanes(fn, from, 0, lanes);
        fn.get(max).f32x4.sub();
        emitExp(fn, scratch);
        fn.set(value);
        storeLanes(fn, to, 0, value, lanes);
        fn.get(sum).get(value);
        if (lanes < LANES) fn.v128.const(tailMask).v128.and();
        fn.f32x4.add().set(sum);
      });
      fn.get(sum).f32x4.extract_lane(0).get(sum).f32x4.extract_lane(1).f32.add().get(sum).f32x4.extract_lane(2).get(sum).f32x4.extract_lane(3).f32.add().f32.add().set(total);
      // the row again, in place, times 1 / Σ
      fn.f32.const(1).get(total).f32.div().f32x4.splat().set(sum);
      overRow((lanes) => {
        loadLanes(fn, to, 0, lanes);
        fn.get(sum).f32x4.mul().set(value);
        storeLanes(fn, to, 0, value, lanes);
      });
      advance(fn, x, channels * F32);
      advance(fn, y, channels * F32);
    });
  });
}
