// Int8 depthwise convolution (any kernel, stride, dilation, explicit padding) on int16 lanes: 8 channels per vector, x·w as exact
// int32 products (extmul), −zx·Σw in the bias, TFLite's requantization fused; a whole-tensor kernel and a one-output-row kernel.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { ConfigError, ShapeError } from '../../../errors.js';
import { V128, advance, checkPositiveInts, offsetPointer, repeat } from './common.js';
import { type Int8ConvWeights, blockConstantBytes, emitRequantize, epilogueScratch, loadBytes, narrowToInt8, packBlockConstants, storeBytes } from './int8-epilogue.js';
import { type DepthwiseSpec, depthwiseOutputSize } from './depthwise.js';
import { type DepthwiseRowSpec, depthwiseRowOutputWidth } from './rows.js';
import { type Taps, emitWindowLoops, tapOffset, tapRuns } from './window.js';

/** Channels per int16 vector. */
const CHUNK = 8;

/** The float kernel's geometry (padding taps add nothing, as the reference's (x − zx) = 0); no clamp: the requantization has its range. */
export type Int8DepthwiseSpec = Omit<DepthwiseSpec, 'clamp' | 'group'>;

/** One output row from kh input rows, as `emitDepthwiseRow`; the vertical stride, dilation and padding are the caller's choice of rows. */
export type Int8DepthwiseRowSpec = Omit<DepthwiseRowSpec, 'clamp' | 'group' | 'order'>;

function kernelOf(spec: { kernel?: readonly [number, number] }): readonly [number, number] {
  return spec.kernel ?? [3, 3];
}

function chunkBytes(taps: number): number {
  return blockConstantBytes(CHUNK, false) + taps * V128;
}

/**
 * Packs an HWIO depthwise kernel [kh, kw, 1, C] with its requantization, for both kernels of a spec with these taps and
 * channels: per 8 channels, their constants (the bias with −zx·Σw folded in) then each tap's 8 int16 weights.
 */
export function packInt8DepthwiseWeights(spec: { channels: number; kernel?: readonly [number, number] }, w: Int8ConvWeights): Uint8Array {
  const [kh, kw] = kernelOf(spec);
  const taps = kh * kw;
  const c = spec.channels;
  if (w.bias.length !== c) throw new ShapeError(`packInt8DepthwiseWeights: bias has ${w.bias.length} values, expected ${c}`);
  const chunks = Math.ceil(c / CHUNK);
  const out = new Uint8Array(chunks * chunkBytes(taps));
  const view = new DataView(out.buffer);
  for (let chunk = 0; chunk < chunks; chunk++) {
    const at = chunk * chunkBytes(taps);
    const first = chunk * CHUNK;
    const n = Math.min(CHUNK, c - first);
    packBlockConstants(view, at, w, { first, count: n, width: CHUNK, kernelRows: taps, foldInputZeroPoint: true, residual: false });
    for (let t = 0; t < taps; t++) {
      for (let i = 0; i < n; i++) view.setInt16(at + blockConstantBytes(CHUNK, false) + t * V128 + i * 2, w.kernel[t * c + first + i], true);
    }
  }
  return out;
}

interface ChunkEmitter {
  /**
   * Emits one output pixel of every channel: `tap(ky, kx)` names the pointer (an index into `x`) and byte offset of input tap
   * (ky, kx) of its first channel, for the in-bounds taps `taps`; `x` and `y` are consumed (advanced chunk by chunk).
   */
  pixel(x: readonly Local[], y: Local, taps: Taps, tap: (ky: number, kx: number) => [number, number]): void;
}

/** The per-pixel code both kernels share; declares its locals in `fn`, reads the weights at `w`. */
function chunkEmitter(fn: FunctionBuilder, channels: number, kernel: readonly [number, number], w: Local): ChunkEmitter {
  const [kh, kw] = kernel;
  const s = epilogueScratch(fn);
  const wp = fn.local('i32');
  const zeroPoint = fn.local('v128');
  const xv = fn.local('v128');
  const weight = fn.local('v128');
  const acc = [fn.local('v128'), fn.local('v128')];
  const out = fn.local('v128');
  const constants = blockConstantBytes(CHUNK, false);

  const chunk = (x: readonly Local[], y: Local, taps: Taps, tap: (ky: number, kx: number) => [number, number], n: number): void => {
    for (const a of acc) fn.v128.const(new Uint8Array(16)).set(a);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        // a tap in the padding reads as the zero point: its zx·w cancels the bias's −zx·w
        if (ky >= taps.ky0 && ky < taps.ky1 && kx >= taps.kx0 && kx < taps.kx1) {
          const [pointer, offset] = tap(ky, kx);
          if (n === CHUNK) fn.get(x[pointer]).v128.load8x8_s(offset);
          else {
            loadBytes(fn, x[pointer], offset, n, xv);
            fn.i16x8.extend_low_i8x16_s();
          }
          fn.set(xv);
        } else fn.get(zeroPoint).set(xv);
        fn.get(wp).v128.load(constants + (ky * kw + kx) * V128).set(weight);
        // int8 by int8: exact int32 products (extmul)
        fn.get(xv).get(weight).i32x4.extmul_low_i16x8_s().get(acc[0]).i32x4.add().set(acc[0]);
        if (n > 4) fn.get(xv).get(weight).i32x4.extmul_high_i16x8_s().get(acc[1]).i32x4.add().set(acc[1]);
      }
    }
    const used = n > 4 ? acc : acc.slice(0, 1);
    used.forEach((a, i) => emitRequantize(fn, a, { block: wp, width: CHUNK, residual: false }, i * 4, s, null));
    narrowToInt8(fn, used, out);
    storeBytes(fn, y, 0, out, n);
  };

  return {
    pixel(x, y, taps, tap) {
      fn.get(w).set(wp);
      // the zero point (the header's input zero point, the same in every chunk) stands in for taps in the padding
      if (taps.ky1 - taps.ky0 < kh || taps.kx1 - taps.kx0 < kw) fn.get(wp).i32.load(12).i16x8.splat().set(zeroPoint);
      repeat(fn, Math.floor(channels / CHUNK), () => {
        chunk(x, y, taps, tap, CHUNK);
        for (const p of x) advance(fn, p, CHUNK);
        advance(fn, y, CHUNK);
        advance(fn, wp, chunkBytes(kh * kw));
      });
      if (channels % CHUNK) chunk(x, y, taps, tap, channels % CHUNK);
    },
  };
}

/** Emits `name(x, packedWeights, y, batch)` over NHWC int8 [batch, height, width, channels] (byte pointers). */
export function emitInt8Depthwise(mod: ModuleBuilder, name: string, spec: Int8DepthwiseSpec): void {
  const kernel = kernelOf(spec);
  const [dh, dw] = spec.dilations ?? [1, 1];
  checkPositiveInts('int8 depthwise', { height: spec.height, width: spec.width, channels: spec.channels, kh: kernel[0], kw: kernel[1], strideH: spec.strides[0], strideW: spec.strides[1], dilationH: dh, dilationW: dw });
  const geometry = { ...spec, kernel, inPixelBytes: spec.channels, outPixelBytes: spec.channels };
  depthwiseOutputSize(spec);

  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, w, y, batch] = fn.params as [Local, Local, Local, Local];
    const emitter = chunkEmitter(fn, spec.channels, kernel, w);
    const cx = fn.local('i32');
    const cy = fn.local('i32');
    emitWindowLoops(fn, geometry, x, y, batch, 1, (taps, input, output) => {
      fn.get(input).set(cx);
      fn.get(output).set(cy);
      emitter.pixel([cx], cy, taps, (ky, kx) => [0, tapOffset(geometry, taps, ky, kx)]);
    });
  });
}

/**
 * Emits `name(row0, …, row[kh−1], packedWeights, y)`: one output row of `outWidth × channels` int8 from kh input rows of
 * `width × channels` (byte pointers). A row in the vertical padding is a pointer to a row filled with the input's zero point
 * (whose x − zx is 0). The weights are `packInt8DepthwiseWeights`'s, as for `emitInt8Depthwise` with the same taps.
 */
export function emitInt8DepthwiseRow(mod: ModuleBuilder, name: string, spec: Int8DepthwiseRowSpec): void {
  const kernel = kernelOf(spec);
  const [kh, kw] = kernel;
  const dilation = spec.dilation ?? 1;
  checkPositiveInts('int8 depthwise row', { width: spec.width, channels: spec.channels, kh, kw, stride: spec.stride, dilation });
  if (![spec.padLeft, spec.padRight].every((p) => Number.isInteger(p) && p >= 0)) {
    throw new ConfigError(`int8 depthwise row: padding must be non-negative integers, got [${spec.padLeft}, ${spec.padRight}]`);
  }
  const ow = depthwiseRowOutputWidth(spec);
  const c = spec.channels;
  const stepBytes = spec.stride * c;

  mod.function(name, Array.from({ length: kh + 2 }, () => 'i32' as const), [], (fn) => {
    const rows = fn.params.slice(0, kh);
    const w = fn.params[kh];
    const y = fn.params[kh + 1];
    const emitter = chunkEmitter(fn, c, kernel, w);
    const pixelX = rows.map(() => fn.local('i32'));
    const pixelY = fn.local('i32');
    const chunkX = rows.map(() => fn.local('i32'));
    const chunkY = fn.local('i32');
    for (const [ox, count, start, kx0, kx1] of tapRuns(ow, spec.stride, spec.padLeft, spec.width, kw, dilation)) {
      const inBounds = kx1 > kx0;
      rows.forEach((row, ky) => offsetPointer(fn, pixelX[ky], row, inBounds ? (start + kx0 * dilation) * c : 0));
      offsetPointer(fn, pixelY, y, ox * c);
      repeat(fn, count, () => {
        pixelX.forEach((p, ky) => fn.get(p).set(chunkX[ky]));
        fn.get(pixelY).set(chunkY);
        emitter.pixel(chunkX, chunkY, { ky0: 0, ky1: kh, kx0, kx1 }, (ky, kx) => [ky, (kx - kx0) * dilation * c]);
        if (inBounds) for (const p of pixelX) advance(fn, p, stepBytes);
        advance(fn, pixelY, c);
      });
    }
  });
}
