// Row kernels for running an inverted residual block row by row (MobileNetV2 §5.1): a depthwise conv (dilated or
// not) that makes one output row from kh input rows, and the stem conv over any range of output rows of an image.

import type { Local, ModuleBuilder } from '../assembler.js';
import { ConfigError } from '../../../errors.js';
import { type Clamp, F32, LANES, V128, advance, checkPositiveInts, clampEpilogue, loadLanes, mulAdd, offsetPointer, repeat, storeLanes } from './common.js';
import { type ConvSpec, convOutputSize, convPixelEmitter } from './conv.js';
import { type DepthwiseSpec, depthwiseOutputSize, packDepthwiseWeights } from './depthwise.js';
import { emitWindowRowRange, tapRuns } from './window.js';

export interface DepthwiseRowSpec {
  /** Input pixels per row. */
  width: number;
  channels: number;
  /** [kh, kw]; default [3, 3]. The kernel takes kh row pointers. */
  kernel?: readonly [number, number];
  /** Horizontal stride; the vertical one is the caller's choice of rows. */
  stride: number;
  /** Horizontal dilation (input pixels between adjacent taps); the vertical one is the caller's choice of rows. Default 1. */
  dilation?: number;
  padLeft: number;
  padRight: number;
  clamp?: Clamp | null;
  /** Interior output pixels per step, sharing each weight. Default 1. */
  group?: number;
  /**
   * Loop order. 'channels': one 4-channel slice across the whole row, its weights (up to 3×3) held in
   * registers; 'pixels': every slice of a pixel before the next, as `emitDepthwise` runs, reading each row
   * once front to back. Default: 'channels' for stride-1 rows up to 32 pixels wide, as measured fastest.
   */
  order?: 'channels' | 'pixels';
}

/** Kernels with at most this many taps keep every weight of a 4-channel slice in registers. */
const MAX_HELD_TAPS = 9;

/**
 * Stride-1 rows up to this wide run slice by slice. Measured (V8, AVX2, 3×3, MobileNetV2's shapes): slice
 * order takes 13–38% less time on 7×960, 14×576 and 28×192; pixel order wins on 56- and 112-wide rows
 * (by up to 30%) and at stride 2.
 */
const CHANNEL_ORDER_MAX_WIDTH = 32;

function rowKernelOf(spec: DepthwiseRowSpec): readonly [number, number] {
  return spec.kernel ?? [3, 3];
}

/** The same layout as `packDepthwiseWeights`: a row spec seen as a one-output-row depthwise spec. */
function asDepthwiseSpec(spec: DepthwiseRowSpec): DepthwiseSpec {
  const kernel = rowKernelOf(spec);
  return { height: kernel[0], width: spec.width, channels: spec.channels, kernel, strides: [1, spec.stride], dilations: [1, spec.dilation ?? 1], padding: [0, 0, spec.padLeft, spec.padRight] };
}

/** Output pixels per row; throws a ShapeError if the window does not fit. */
export function depthwiseRowOutputWidth(spec: DepthwiseRowSpec): number {
  return depthwiseOutputSize(asDepthwiseSpec(spec))[1];
}

/** Packs an HWIO depthwise kernel [kh, kw, 1, C] and its bias for `emitDepthwiseRow` with the same spec. */
export function packDepthwiseRowWeights(spec: DepthwiseRowSpec, kernel: Float32Array, bias: Float32Array | null): Float32Array {
  return packDepthwiseWeights(asDepthwiseSpec(spec), kernel, bias);
}

/**
 * Emits `name(row0, …, row[kh−1], packedWeights, y)`: one output row of `outWidth × channels` floats from kh
 * input rows of `width × channels` (byte pointers; a row in the vertical padding is a pointer to zeros).
 */
export function emitDepthwiseRow(mod: ModuleBuilder, name: string, spec: DepthwiseRowSpec): void {
  const [kh, kw] = rowKernelOf(spec);
  const group = spec.group ?? 1;
  const dilation = spec.dilation ?? 1;
  checkPositiveInts('depthwise row', { width: spec.width, channels: spec.channels, kh, kw, stride: spec.stride, dilation, group });
  if (![spec.padLeft, spec.padRight].every((p) => Number.isInteger(p) && p >= 0)) {
    throw new ConfigError(`depthwise row: padding must be non-negative integers, got [${spec.padLeft}, ${spec.padRight}]`);
  }
  const ow = depthwiseRowOutputWidth(spec);
  const c = spec.channels;
  const pixelBytes = c * F32;
  const stepBytes = spec.stride * pixelBytes;
  const taps = kh * kw;
  const order = spec.order ?? (spec.stride === 1 && spec.width <= CHANNEL_ORDER_MAX_WIDTH ? 'channels' : 'pixels');
  const held = order === 'channels' && taps <= MAX_HELD_TAPS;
  const columns = tapRuns(ow, spec.stride, spec.padLeft, spec.width, kw, dilation);

  mod.function(name, Array.from({ length: kh + 2 }, () => 'i32' as const), [], (fn) => {
    const rows = fn.params.slice(0, kh);
    const w = fn.params[kh];
    const y = fn.params[kh + 1];
    const clamp = clampEpilogue(fn, spec.clamp);
    const wp = fn.local('i32');
    const chunkY = fn.local('i32');
    const pixelY = fn.local('i32');
    const chunkX = rows.map(() => fn.local('i32'));
    const pixelX = rows.map(() => fn.local('i32'));
    const bias = fn.local('v128');
    const weights = Array.from({ length: held ? taps : 1 }, () => fn.local('v128'));
    const acc = Array.from({ length: group }, () => fn.local('v128'));

    /** `pixels` adjacent outputs of one 4-channel slice: x[ky] points at tap (ky, kx0) of the first, `out` at its output. */
    const emitPixels = (x: Local[], out: Local, kx0: number, kx1: number, pixels: number, lanes: number): void => {
      for (let i = 0; i < pixels; i++) fn.get(bias).set(acc[i]);
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = kx0; kx < kx1; kx++) {
          const t = ky * kw + kx;
          const weight = held ? weights[t] : weights[0];
          if (!held) fn.get(wp).v128.load((1 + t) * V128).set(weight);
          for (let i = 0; i < pixels; i++) {
            mulAdd(fn, acc[i], () => loadLanes(fn, x[ky], (kx - kx0) * dilation * pixelBytes + i * stepBytes, lanes), () => fn.get(weight));
          }
        }
      }
      for (let i = 0; i < pixels; i++) {
        fn.get(acc[i]);
        clamp();
        fn.set(acc[i]);
        storeLanes(fn, out, i * pixelBytes, acc[i], lanes);
      }
    };

    /** Output pixels left to right from the row pointers `x` and output `out` (not changed); borders one at a time. */
    const forColumns = (x: Local[], out: Local, body: (kx0: number, kx1: number, pixels: number) => void): void => {
      for (const [ox, count, start, kx0, kx1] of columns) {
        const inBounds = kx1 > kx0;
        x.forEach((row, ky) => offsetPointer(fn, pixelX[ky], row, inBounds ? (start + kx0 * dilation) * pixelBytes : 0));
        offsetPointer(fn, pixelY, out, ox * pixelBytes);
        const step = kx0 === 0 && kx1 === kw ? group : 1;
        const next = (pixels: number): void => {
          if (inBounds) for (const p of pixelX) advance(fn, p, pixels * stepBytes);
          advance(fn, pixelY, pixels * pixelBytes);
        };
        repeat(fn, Math.floor(count / step), () => {
          body(kx0, kx1, step);
          next(step);
        });
        for (let i = 0; i < count % step; i++) {
          body(kx0, kx1, 1);
          next(1);
        }
      }
    };

    /** 4-channel slices from the pointers `x` and `out` (consumed) and the weights at `w`, the tail last. */
    const forChunks = (x: Local[], out: Local, body: (lanes: number) => void): void => {
      fn.get(w).set(wp);
      repeat(fn, Math.floor(c / LANES), () => {
        body(LANES);
        for (const p of x) advance(fn, p, V128);
        advance(fn, out, V128);
        advance(fn, wp, V128 * (1 + taps));
      });
      if (c % LANES) body(c % LANES);
    };

    if (order === 'channels') {
      // one slice across the whole row, its weights in registers: for rows that stay in L1
      rows.forEach((row, ky) => fn.get(row).set(chunkX[ky]));
      fn.get(y).set(chunkY);
      forChunks(chunkX, chunkY, (lanes) => {
        fn.get(wp).v128.load(0).set(bias);
        if (held) for (let t = 0; t < taps; t++) fn.get(wp).v128.load((1 + t) * V128).set(weights[t]);
        forColumns(chunkX, chunkY, (kx0, kx1, pixels) => emitPixels(pixelX, pixelY, kx0, kx1, pixels, lanes));
      });
    } else {
      // every slice of one pixel before the next: reads each row once, front to back
      forColumns(rows, y, (kx0, kx1, pixels) => {
        pixelX.forEach((p, ky) => fn.get(p).set(chunkX[ky]));
        fn.get(pixelY).set(chunkY);
        forChunks(chunkX, chunkY, (lanes) => {
          fn.get(wp).v128.load(0).set(bias);
          emitPixels(chunkX, chunkY, kx0, kx1, pixels, lanes);
        });
      });
    }
  });
}

/** The code is unrolled over kh·kw·cin, as in `emitConv`: a kernel for stems, not deep layers. */
const MAX_UNROLLED_TAPS = 512;

/**
 * Emits `name(x, packedWeights, y, firstRow, rowCount)`: output rows [firstRow, firstRow + rowCount) of the
 * standard conv `emitConv` makes, for one NHWC image at `x`; row `firstRow` goes to `y`, the rest follow it.
 * The weights are `packConvWeights`'s for the same spec; rows in the vertical padding are handled inside.
 */
export function emitConvRows(mod: ModuleBuilder, name: string, spec: ConvSpec): void {
  const [kh, kw] = spec.kernel;
  const group = spec.group ?? (mod.relaxedSimd ? 2 : 1);
  const blockVectors = spec.blockVectors ?? 4;
  checkPositiveInts('conv rows', { height: spec.height, width: spec.width, cin: spec.cin, cout: spec.cout, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], group, blockVectors });
  if (kh * kw * spec.cin > MAX_UNROLLED_TAPS) {
    throw new ConfigError(`conv rows: ${kh}×${kw}×${spec.cin} = ${kh * kw * spec.cin} taps per output exceeds the unrolled kernel's ${MAX_UNROLLED_TAPS}; it is meant for stems`);
  }
  convOutputSize(spec);
  const geometry = { ...spec, inPixelBytes: spec.cin * F32, outPixelBytes: spec.cout * F32 };

  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, w, y, first, count] = fn.params as [Local, Local, Local, Local, Local];
    emitWindowRowRange(fn, geometry, x, y, first, count, group, convPixelEmitter(fn, spec, w, group));
  });
}

