// Loops over the output pixels of a sliding-window op (dilated or not) with the padding resolved at emit time: border
// rows and columns get their own code with only the in-bounds taps, so the inner loops have no bounds tests.

import type { FunctionBuilder, Local } from '../assembler.js';
import type { Padding4 } from '../../../ops/geometry.js';
import { windowOutputSize } from '../../../ops/geometry.js';
import { advance, offsetPointer, repeat, repeatWhile } from './common.js';

export interface WindowGeometry {
  height: number;
  width: number;
  kernel: readonly [number, number];
  strides: readonly [number, number];
  padding: Padding4;
  /** Input pixels between a window's adjacent taps, [vertical, horizontal] (atrous convolution). Default [1, 1]. */
  dilations?: readonly [number, number];
  /** Bytes from one input / output pixel to the next (channels · 4 for dense NHWC). */
  inPixelBytes: number;
  outPixelBytes: number;
}

/** In-bounds window taps [ky0, ky1) × [kx0, kx1) for a run of output pixels; empty when a range is. */
export interface Taps {
  ky0: number;
  ky1: number;
  kx0: number;
  kx1: number;
}

/**
 * Emits code for `pixels` horizontally adjacent output pixels. `input` points at the first pixel's tap
 * (ky0, kx0); tap (ky, kx) of pixel i sits at `tapOffset(g, taps, ky, kx) + i·inputStep` bytes from it.
 * `output` points at the first output pixel. Neither pointer may be changed.
 */
export type PixelEmitter = (taps: Taps, input: Local, output: Local, pixels: number, inputStep: number) => void;

function dilationsOf(g: WindowGeometry): readonly [number, number] {
  return g.dilations ?? [1, 1];
}

export function windowOutput(g: WindowGeometry, what: string): [number, number] {
  return windowOutputSize(g.height, g.width, g.padding, { kernel: g.kernel, strides: g.strides, dilations: dilationsOf(g) }, what);
}

/** Bytes from a pixel's tap (ky0, kx0) to its tap (ky, kx): rows of `width` input pixels, taps `dilations` apart. */
export function tapOffset(g: WindowGeometry, taps: Taps, ky: number, kx: number): number {
  const [dh, dw] = dilationsOf(g);
  return ((ky - taps.ky0) * dh * g.width + (kx - taps.kx0) * dw) * g.inPixelBytes;
}

/** The in-bounds tap range along one axis for output index o: taps t with 0 ≤ start + t·dilation < size. */
function validTaps(o: number, stride: number, before: number, size: number, k: number, dilation: number): [number, number, number] {
  const start = o * stride - before;
  const lo = Math.max(0, Math.ceil(-start / dilation));
  const hi = Math.min(k, Math.ceil((size - start) / dilation));
  return hi > lo ? [start, lo, hi] : [start, 0, 0];
}

/** Consecutive output indices sharing one tap range: [first, count, start of first, lo, hi]. */
export function tapRuns(outSize: number, stride: number, before: number, size: number, k: number, dilation = 1): [number, number, number, number, number][] {
  const out: [number, number, number, number, number][] = [];
  for (let o = 0; o < outSize; o++) {
    const [start, lo, hi] = validTaps(o, stride, before, size, k, dilation);
    const last = out[out.length - 1];
    if (last && last[3] === lo && last[4] === hi) last[1]++;
    else out.push([o, 1, start, lo, hi]);
  }
  return out;
}

/** Column runs of `tapRuns` for one row of output pixels: [first, count, start of first, kx0, kx1]. */
type ColumnRuns = readonly (readonly [number, number, number, number, number])[];

/**
 * Emits one output row: `rowX` points at input row ky0 of the row's windows (any value when ky1 ≤ ky0),
 * `rowY` at the output row; `xp` and `yp` are scratch locals. Interior pixels go to `pixel` in groups.
 */
function emitWindowRow(fn: FunctionBuilder, g: WindowGeometry, colRuns: ColumnRuns, rowX: Local, rowY: Local, xp: Local, yp: Local, rows: { ky0: number; ky1: number }, group: number, pixel: PixelEmitter): void {
  const { ky0, ky1 } = rows;
  const kw = g.kernel[1];
  const sw = g.strides[1];
  const dw = dilationsOf(g)[1];
  for (const [ox, count, start, kx0, kx1] of colRuns) {
    const taps = { ky0, ky1, kx0, kx1 };
    offsetPointer(fn, xp, rowX, kx1 > kx0 ? (start + kx0 * dw) * g.inPixelBytes : 0);
    offsetPointer(fn, yp, rowY, ox * g.outPixelBytes);
    // only interior runs (every tap in bounds) are long; a border run is one pixel, or a window wholly in padding
    const interior = kx0 === 0 && kx1 === kw;
    const step = interior ? group : 1;
    const stepBytes = sw * g.inPixelBytes;
    repeat(fn, Math.floor(count / step), () => {
      pixel(taps, xp, yp, step, stepBytes);
      advance(fn, xp, kx1 > kx0 ? step * stepBytes : 0);
      advance(fn, yp, step * g.outPixelBytes);
    });
    for (let i = 0; i < count % step; i++) {
      pixel(taps, xp, yp, 1, stepBytes);
      advance(fn, xp, stepBytes);
      advance(fn, yp, g.outPixelBytes);
    }
  }
}

/**
 * Emits the loops over `batch` images of the NHWC input at `x` into the output at `y` (byte pointers;
 * both are consumed). Interior pixels go to `pixel` in groups of `group`, borders one at a time.
 */
export function emitWindowLoops(fn: FunctionBuilder, g: WindowGeometry, x: Local, y: Local, batch: Local, group: number, pixel: PixelEmitter): void {
  const [oh, ow] = windowOutput(g, 'window');
  const [kh, kw] = g.kernel;
  const sh = g.strides[0];
  const rowBytes = g.width * g.inPixelBytes;
  const outRowBytes = ow * g.outPixelBytes;
  const [dh, dw] = dilationsOf(g);
  const rowRuns = tapRuns(oh, sh, g.padding[0], g.height, kh, dh);
  const colRuns = tapRuns(ow, g.strides[1], g.padding[2], g.width, kw, dw);
  const rowX = fn.local('i32');
  const rowY = fn.local('i32');
  const xp = fn.local('i32');
  const yp = fn.local('i32');

  repeatWhile(fn, batch, () => {
    for (const [oy, count, start, ky0, ky1] of rowRuns) {
      offsetPointer(fn, rowX, x, ky1 > ky0 ? (start + ky0 * dh) * rowBytes : 0);
      offsetPointer(fn, rowY, y, oy * outRowBytes);
      repeat(fn, count, () => {
        emitWindowRow(fn, g, colRuns, rowX, rowY, xp, yp, { ky0, ky1 }, group, pixel);
        advance(fn, rowX, ky1 > ky0 ? sh * rowBytes : 0);
        advance(fn, rowY, outRowBytes);
      });
    }
    advance(fn, x, g.height * rowBytes);
    advance(fn, y, oh * outRowBytes);
  });
}

/**
 * Emits the loop over output rows [first, first + count) of one image (i32 locals, read at run time,
 * not consumed): `x` is the image's first input row, `y` receives output row `first`. Rows in each
 * vertical border run keep their own code, so any row range is right at the image's top and bottom.
 */
export function emitWindowRowRange(fn: FunctionBuilder, g: WindowGeometry, x: Local, y: Local, first: Local, count: Local, group: number, pixel: PixelEmitter): void {
  const [oh, ow] = windowOutput(g, 'window');
  const [kh, kw] = g.kernel;
  const sh = g.strides[0];
  const rowBytes = g.width * g.inPixelBytes;
  const outRowBytes = ow * g.outPixelBytes;
  const [dh, dw] = dilationsOf(g);
  const colRuns = tapRuns(ow, g.strides[1], g.padding[2], g.width, kw, dw);
  const end = fn.local('i32');
  const lo = fn.local('i32');
  const rows = fn.local('i32');
  const rowX = fn.local('i32');
  const rowY = fn.local('i32');
  const xp = fn.local('i32');
  const yp = fn.local('i32');
  fn.get(first).get(count).i32.add().set(end);
  for (const [oy, runCount, start, ky0, ky1] of tapRuns(oh, sh, g.padding[0], g.height, kh, dh)) {
    // this run's share of the range: [max(first, oy), min(end, oy + runCount))
    fn.get(first).i32.const(oy).get(first).i32.const(oy).i32.gt_s().select().set(lo);
    fn.get(end).i32.const(oy + runCount).get(end).i32.const(oy + runCount).i32.lt_s().select().get(lo).i32.sub().set(rows);
    fn.get(rows).i32.const(0).i32.gt_s().ifElse(() => {
      // input row of tap ky0 for output row lo: lo·sh + (start − oy·sh) + ky0·dh
      fn.get(x);
      if (ky1 > ky0) {
        fn.get(lo).i32.const(sh * rowBytes).i32.mul().i32.add();
        fn.i32.const((start - oy * sh + ky0 * dh) * rowBytes).i32.add();
      }
      fn.set(rowX);
      fn.get(y).get(lo).get(first).i32.sub().i32.const(outRowBytes).i32.mul().i32.add().set(rowY);
      repeatWhile(fn, rows, () => {
        emitWindowRow(fn, g, colRuns, rowX, rowY, xp, yp, { ky0, ky1 }, group, pixel);
        advance(fn, rowX, ky1 > ky0 ? sh * rowBytes : 0);
        advance(fn, rowY, outRowBytes);
      });
    });
  }
}
