// Element-wise int8 kernels of the engine's plan steps, 16 values to a vector: quantize (float32 → int8), dequantize
// (int8 → float32) and the int8 clamp, each over whole samples whose size is known when the kernel is emitted.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import type { QParams } from '../../../quant/qparams.js';
import { ConfigError } from '../../../errors.js';
import { F32, LANES, advance, checkPositiveInts, loadLanes, repeat, repeatWhile, storeLanes } from './common.js';
import { loadBytes, storeBytes } from './int8-epilogue.js';

/** Int8 values in one vector. */
export const BYTE_LANES = 16;

/** i8x16.shuffle lanes that move the high eight bytes of the first operand to the low eight. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** i8x16.shuffle lanes joining the low eight bytes of both operands. */
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Pushes two float64 lanes holding `v`. */
function f64Splat(fn: FunctionBuilder, v: number): void {
  fn.v128.const(new Uint8Array(new Float64Array([v, v]).buffer));
}

/** A pointer walked through a sample, `elementBytes` per value (1 for int8, 4 for float32). */
interface Stream {
  pointer: Local;
  elementBytes: number;
}

/**
 * Calls `body(lanes)` per chunk of 16 values of a `size`-value sample (the tail chunk last, with fewer lanes), moving each
 * stream one chunk on after each: they end one sample further on.
 */
export function elementChunks(fn: FunctionBuilder, size: number, streams: readonly Stream[], body: (lanes: number) => void): void {
  const step = (lanes: number): void => {
    body(lanes);
    for (const s of streams) advance(fn, s.pointer, lanes * s.elementBytes);
  };
  repeat(fn, Math.floor(size / BYTE_LANES), () => step(BYTE_LANES));
  if (size % BYTE_LANES) step(size % BYTE_LANES);
}

/** Emits `name(x, y, samples)` (byte pointers) running `body` over `samples` samples of `size` values, chunk by chunk. */
function emitSampleMap(mod: ModuleBuilder, name: string, size: number, bytes: readonly [input: number, output: number], body: (fn: FunctionBuilder, x: Local, y: Local, lanes: number) => void): void {
  checkPositiveInts(name, { size });
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, samples] = fn.params as [Local, Local, Local];
    repeatWhile(fn, samples, () => elementChunks(fn, size, [{ pointer: x, elementBytes: bytes[0] }, { pointer: y, elementBytes: bytes[1] }], (lanes) => body(fn, x, y, lanes)));
  });
}

function checkParams(what: string, p: QParams): void {
  if (!(p.scale > 0) || !Number.isFinite(p.scale) || !Number.isInteger(p.zeroPoint) || p.zeroPoint < -128 || p.zeroPoint > 127) {
    throw new ConfigError(`${what}: int8 parameters need a finite positive scale and an integer zero point in [−128, 127], got scale ${p.scale}, zero point ${p.zeroPoint}`);
  }
}

/**
 * Emits `name(x, y, samples)`: float32 → int8, q = saturate(roundHalfEven(x · (1 / scale)) + zeroPoint), the product in
 * float64 as src/quant/qparams.ts's `quantize` computes it (NaN becomes the zero point there, 0 here).
 */
export function emitQuantize(mod: ModuleBuilder, name: string, spec: { size: number; params: QParams }): void {
  checkParams('quantize', spec.params);
  const inverse = 1 / spec.params.scale;
  emitSampleMap(mod, name, spec.size, [F32, 1], (fn, x, y, lanes) => {
    const quads = Array.from({ length: Math.ceil(lanes / LANES) }, () => fn.local('v128'));
    const floats = fn.local('v128');
    const out = fn.local('v128');
    // each float pair: widened, scaled and rounded in float64, truncated exactly to int32 lanes 0 and 1
    const pair = (): void => {
      fn.f64x2.promote_low_f32x4();
      f64Splat(fn, inverse);
      fn.f64x2.mul().f64x2.nearest().i32x4.trunc_sat_f64x2_s_zero();
    };
    quads.forEach((quad, q) => {
      loadLanes(fn, x, q * LANES * F32, Math.min(LANES, lanes - q * LANES));
      fn.set(floats);
      fn.get(floats);
      pair();
      fn.get(floats).get(floats).i8x16.shuffle(HIGH_HALF);
      pair();
      fn.i8x16.shuffle(LOW_HALVES).set(quad);
    });
    // int32 → int16 (saturating), + zero point (saturating), → int8 (saturating): the clamp to [−128, 127]
    const halves = [0, 2].map((q) => {
      fn.get(quads[q] ?? quads[0]).get(quads[q + 1] ?? quads[q] ?? quads[0]).i16x8.narrow_i32x4_s();
      fn.i32.const(spec.params.zeroPoint).i16x8.splat().i16x8.add_sat_s();
      const half = fn.local('v128');
      fn.set(half);
      return half;
    });
    fn.get(halves[0]).get(halves[1]).i8x16.narrow_i16x8_s().set(out);
    storeBytes(fn, y, 0, out, lanes);
  });
}

/** Emits `name(x, y, samples)`: int8 → float32, real = scale · (q − zeroPoint) in float64, rounded once to float32. */
export function emitDequantize(mod: ModuleBuilder, name: string, spec: { size: number; params: QParams }): void {
  checkParams('dequantize', spec.params);
  emitSampleMap(mod, name, spec.size, [1, F32], (fn, x, y, lanes) => {
    const scratch = fn.local('v128');
    const centred = fn.local('v128');
    const quad = fn.local('v128');
    const floats = fn.local('v128');
    loadBytes(fn, x, 0, lanes, scratch);
    fn.set(scratch);
    const zeroPoint = (): void => {
      fn.i32.const(spec.params.zeroPoint).i16x8.splat().i16x8.sub();
    };
    for (let q = 0; q < Math.ceil(lanes / LANES); q++) {
      // q − zeroPoint as int16 (within ±255), then the quad's four values as int32
      fn.get(scratch);
      if (q < 2) fn.i16x8.extend_low_i8x16_s();
      else fn.i16x8.extend_high_i8x16_s();
      zeroPoint();
      fn.set(centred);
      fn.get(centred);
      if (q % 2 === 0) fn.i32x4.extend_low_i16x8_s();
      else fn.i32x4.extend_high_i16x8_s();
      fn.set(quad);
      const pair = (): void => {
        fn.f64x2.convert_low_i32x4_s();
        f64Splat(fn, spec.params.scale);
        fn.f64x2.mul().f32x4.demote_f64x2_zero();
      };
      fn.get(quad);
      pair();
      fn.get(quad).get(quad).i8x16.shuffle(HIGH_HALF);
      pair();
      fn.i8x16.shuffle(LOW_HALVES).set(floats);
      storeLanes(fn, y, q * LANES * F32, floats, Math.min(LANES, lanes - q * LANES));
    }
  });
}

/** Emits `name(x, y, samples)`: y = min(max(x, lo), hi) on int8 values. */
export function emitInt8Clamp(mod: ModuleBuilder, name: string, spec: { size: number; range: readonly [number, number] }): void {
  const [lo, hi] = spec.range;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && -128 <= lo && lo <= hi && hi <= 127)) throw new ConfigError(`int8 clamp: range [${lo}, ${hi}] is not within [−128, 127]`);
  emitSampleMap(mod, name, spec.size, [1, 1], (fn, x, y, lanes) => {
    const value = fn.local('v128');
    loadBytes(fn, x, 0, lanes, value);
    fn.i32.const(lo).i8x16.splat().i8x16.max_s().i32.const(hi).i8x16.splat().i8x16.min_s().set(value);
    storeBytes(fn, y, 0, value, lanes);
  });
}
