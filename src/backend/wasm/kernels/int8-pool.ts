// Int8 pooling over NHWC windows, 16 channels to a vector: max pool (global max pool is one whole-map window) and
// TFLite's average pool (the window's taps inside the input summed exactly, divided with rounding half away from zero).

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { ConfigError } from '../../../errors.js';
import { LANES, checkPositiveInts } from './common.js';
import { BYTE_LANES, elementChunks } from './int8-elementwise.js';
import { loadBytes, storeBytes } from './int8-epilogue.js';
import { type PixelEmitter, type Taps, type WindowGeometry, emitWindowLoops, tapOffset, windowOutput } from './window.js';

/** An undilated window over int8 NHWC images of `channels` channels. */
export interface Int8PoolSpec extends Omit<WindowGeometry, 'dilations' | 'inPixelBytes' | 'outPixelBytes'> {
  channels: number;
  /** Average pool only: the output's int8 interval (a fused activation's), within [−128, 127]. */
  range?: readonly [number, number];
}

/** Output pixels one pixel-emitter call handles together where every tap is inside the input. */
const GROUP = 2;

function checkSpec(what: string, spec: Int8PoolSpec): void {
  checkPositiveInts(what, { height: spec.height, width: spec.width, channels: spec.channels, kh: spec.kernel[0], kw: spec.kernel[1], strideH: spec.strides[0], strideW: spec.strides[1] });
  windowOutput({ ...spec, inPixelBytes: spec.channels, outPixelBytes: spec.channels }, what);
}

/**
 * Emits `name(x, y, batch)` over int8 NHWC images (byte pointers), calling `chunk` per 16-channel chunk of each group of
 * output pixels with the pixels' taps inside the input; `input` points at the chunk's tap (ky0, kx0) of the first pixel.
 */
function emitPool(mod: ModuleBuilder, name: string, spec: Int8PoolSpec, chunk: (fn: FunctionBuilder, taps: Taps, tap: (ky: number, kx: number, pixel: number) => number, input: Local, output: Local, pixels: number, lanes: number) => void): void {
  const c = spec.channels;
  const geometry = { ...spec, inPixelBytes: c, outPixelBytes: c };
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, batch] = fn.params as [Local, Local, Local];
    const cx = fn.local('i32');
    const cy = fn.local('i32');
    const pixel: PixelEmitter = (taps, input, output, pixels, inputStep) => {
      fn.get(input).set(cx);
      fn.get(output).set(cy);
      const tap = (ky: number, kx: number, i: number): number => tapOffset(geometry, taps, ky, kx) + i * inputStep;
      elementChunks(fn, c, [{ pointer: cx, elementBytes: 1 }, { pointer: cy, elementBytes: 1 }], (lanes) => chunk(fn, taps, tap, cx, cy, pixels, lanes));
    };
    emitWindowLoops(fn, geometry, x, y, batch, GROUP, pixel);
  });
}

/** Emits `name(x, y, batch)`: the maximum of each window's taps inside the input (−128 for a window wholly in padding). */
export function emitInt8MaxPool(mod: ModuleBuilder, name: string, spec: Int8PoolSpec): void {
  checkSpec('int8 max pool', spec);
  emitPool(mod, name, spec, (fn, taps, tap, input, output, pixels, lanes) => {
    const scratch = fn.local('v128');
    const acc = Array.from({ length: pixels }, () => fn.local('v128'));
    for (let i = 0; i < pixels; i++) {
      fn.i32.const(-128).i8x16.splat().set(acc[i]);
      for (let ky = taps.ky0; ky < taps.ky1; ky++) {
        for (let kx = taps.kx0; kx < taps.kx1; kx++) {
          fn.get(acc[i]);
          loadBytes(fn, input, tap(ky, kx, i), lanes, scratch);
          fn.i8x16.max_s().set(acc[i]);
        }
      }
      storeBytes(fn, output, i * spec.channels, acc[i], lanes);
    }
  });
}

/**
 * Emits `name(x, y, batch)`: TFLite's int8 average pool with equal parameters in and out: the n taps inside the input
 * summed in int32, y = sign(s)·⌊(|s| + ⌊n/2⌋) / n⌋ (the division exact in float32: |s| + n < 2^24), clamped to `range`.
 */
export function emitInt8AvgPool(mod: ModuleBuilder, name: string, spec: Int8PoolSpec): void {
  checkSpec('int8 average pool', spec);
  const [lo, hi] = spec.range ?? [-128, 127];
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && -128 <= lo && lo <= hi && hi <= 127)) throw new ConfigError(`int8 average pool: range [${lo}, ${hi}] is not within [−128, 127]`);
  emitPool(mod, name, spec, (fn, taps, tap, input, output, pixels, lanes) => {
    const scratch = fn.local('v128');
    const bytes = fn.local('v128');
    const sums = Array.from({ length: BYTE_LANES / LANES }, () => fn.local('v128'));
    const sign = fn.local('v128');
    const count = (taps.ky1 - taps.ky0) * (taps.kx1 - taps.kx0);
    const quads = Math.ceil(lanes / LANES);
    for (let i = 0; i < pixels; i++) {
      for (let q = 0; q < quads; q++) fn.v128.const(new Uint8Array(16)).set(sums[q]);
      for (let ky = taps.ky0; ky < taps.ky1; ky++) {
        for (let kx = taps.kx0; kx < taps.kx1; kx++) {
          loadBytes(fn, input, tap(ky, kx, i), lanes, scratch);
          fn.set(bytes);
          for (let q = 0; q < quads; q++) {
            fn.get(sums[q]).get(bytes);
            if (q < 2) fn.i16x8.extend_low_i8x16_s();
            else fn.i16x8.extend_high_i8x16_s();
            if (q % 2 === 0) fn.i32x4.extend_low_i16x8_s();
            else fn.i32x4.extend_high_i16x8_s();
            fn.i32x4.add().set(sums[q]);
          }
        }
      }
      for (let q = 0; q < quads; q++) {
        if (count === 0) continue; // a window wholly in padding averages nothing: 0
        // magnitude ⌊(|s| + ⌊n/2⌋) / n⌋, then the sign back: (m ⊕ s>>31) − s>>31
        fn.get(sums[q]).i32.const(31).i32x4.shr_s().set(sign);
        fn.get(sums[q]).i32x4.abs().i32.const(Math.floor(count / 2)).i32x4.splat().i32x4.add().f32x4.convert_i32x4_s();
        fn.f32x4.const(count).f32x4.div().i32x4.trunc_sat_f32x4_s();
        fn.get(sign).v128.xor().get(sign).i32x4.sub().set(sums[q]);
      }
      // int32 → int16 → int8 (the averages are within [−128, 127]), then the range
      fn.get(sums[0]).get(sums[1]).i16x8.narrow_i32x4_s();
      fn.get(sums[2]).get(sums[3]).i16x8.narrow_i32x4_s();
      fn.i8x16.narrow_i16x8_s().i32.const(lo).i8x16.splat().i8x16.max_s().i32.const(hi).i8x16.splat().i8x16.min_s().set(bytes);
      storeBytes(fn, output, i * spec.channels, bytes, lanes);
    }
  });
}
