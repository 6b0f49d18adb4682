// Bilinear resize of NHWC images over output rows, in every coordinate convention (src/ops/resize.ts): the taps come
// from a table packed once per shape, the channels 4 to a vector; a 1×1 input (image pooling) is a broadcast.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { type AxisTaps, type ResizeCoordinates, axisTaps } from '../../../ops/resize.js';
import { ConfigError } from '../../../errors.js';
import { F32, LANES, advance, checkPositiveInts, loadLanes, mulAdd, repeat, repeatWhile, storeLanes } from './common.js';
import { channelChunks } from './concat.js';

export interface ResizeSpec {
  inShape: readonly [height: number, width: number, channels: number];
  size: readonly [height: number, width: number];
  coordinates: ResizeCoordinates;
  /** Floats from one output pixel to the next: more than the channels to write a channel slice. Default: the channels. */
  outChannels?: number;
}

/** Words per table entry: the byte offsets of the two pixels (rows: of the two input rows) read, then the second's weight. */
const ENTRY_WORDS = 3;
const ENTRY_BYTES = ENTRY_WORDS * F32;

/** Whether every output pixel reads the one input pixel: then the kernel copies it and needs no table. */
const isBroadcast = (spec: ResizeSpec): boolean => spec.inShape[0] === 1 && spec.inShape[1] === 1;

/**
 * The taps `emitResizeRows` reads: per output row (low, high) as byte offsets of input rows and the weight of
 * the high one, then per output column the same for pixels within a row. A broadcast reads none: one vector of zeros stands in.
 */
export function packResizeTaps(spec: ResizeSpec): Float32Array {
  if (isBroadcast(spec)) return new Float32Array(LANES);
  const [h, w, c] = spec.inShape;
  const [th, tw] = spec.size;
  const table = new Float32Array(ENTRY_WORDS * (th + tw));
  const words = new Int32Array(table.buffer);
  const fill = (first: number, taps: AxisTaps, bytesPerStep: number): void => {
    taps.low.forEach((low, i) => {
      const at = (first + i) * ENTRY_WORDS;
      words[at] = low * bytesPerStep;
      words[at + 1] = taps.high[i] * bytesPerStep;
      table[at + 2] = taps.weight[i];
    });
  };
  fill(0, axisTaps(h, th, spec.coordinates), w * c * F32);
  fill(th, axisTaps(w, tw, spec.coordinates), c * F32);
  return table;
}

/**
 * Emits the loop over `rowCount` output rows of image `x` from row `firstRow` on (consumes `rowCount`), writing from
 * `y` on, which ends past the last row written; `x`, `taps` and `firstRow` stay as they are.
 */
function emitRowLoop(fn: FunctionBuilder, spec: ResizeSpec, [x, taps, y, firstRow, rowCount]: readonly [Local, Local, Local, Local, Local]): void {
  const c = spec.inShape[2];
  const [th, tw] = spec.size;
  const skip = ((spec.outChannels ?? c) - c) * F32;
  if (isBroadcast(spec)) {
    const from = fn.local('i32');
    const value = fn.local('v128');
    repeatWhile(fn, rowCount, () =>
      repeat(fn, tw, () => {
        fn.get(x).set(from);
        channelChunks(fn, c, [from, y], (lanes) => {
          loadLanes(fn, from, 0, lanes);
          fn.set(value);
          storeLanes(fn, y, 0, value, lanes);
        });
        advance(fn, y, skip);
      }),
    );
    return;
  }
  const [top, bottom, column] = [fn.local('i32'), fn.local('i32'), fn.local('i32')];
  const corners = [fn.local('i32'), fn.local('i32'), fn.local('i32'), fn.local('i32')] as const;
  const [wx, wy, upper, lower, right] = [fn.local('v128'), fn.local('v128'), fn.local('v128'), fn.local('v128'), fn.local('v128')];
  const row = fn.local('i32');
  // row = taps + firstRow · entry
  fn.get(firstRow).i32.const(ENTRY_BYTES).i32.mul().get(taps).i32.add().set(row);
  // a + (b − a)·weight, into `into`
  const lerp = (into: Local, a: Local, b: Local, lanes: number, weight: Local): void => {
    loadLanes(fn, a, 0, lanes);
    fn.set(into);
    loadLanes(fn, b, 0, lanes);
    fn.set(right);
    mulAdd(fn, into, () => fn.get(right).get(into).f32x4.sub(), () => fn.get(weight));
  };
  repeatWhile(fn, rowCount, () => {
    fn.get(row).i32.load(0).get(x).i32.add().set(top);
    fn.get(row).i32.load(F32).get(x).i32.add().set(bottom);
    fn.get(row).v128.load32_splat(2 * F32).set(wy);
    advance(fn, row, ENTRY_BYTES);
    fn.get(taps).i32.const(th * ENTRY_BYTES).i32.add().set(column);
    repeat(fn, tw, () => {
      [top, top, bottom, bottom].forEach((base, k) => fn.get(column).i32.load((k % 2) * F32).get(base).i32.add().set(corners[k]));
      fn.get(column).v128.load32_splat(2 * F32).set(wx);
      advance(fn, column, ENTRY_BYTES);
      const [topLeft, topRight, bottomLeft, bottomRight] = corners;
      channelChunks(fn, c, [...corners, y], (lanes) => {
        lerp(upper, topLeft, topRight, lanes, wx);
        lerp(lower, bottomLeft, bottomRight, lanes, wx);
        mulAdd(fn, upper, () => fn.get(lower).get(upper).f32x4.sub(), () => fn.get(wy));
        storeLanes(fn, y, 0, upper, lanes);
      });
      advance(fn, y, skip);
    });
  });
}

function checkSpec(spec: ResizeSpec): void {
  const [h, w, c] = spec.inShape;
  const [th, tw] = spec.size;
  const outChannels = spec.outChannels ?? c;
  checkPositiveInts('resize', { height: h, width: w, channels: c, targetHeight: th, targetWidth: tw, outChannels });
  if (outChannels < c) throw new ConfigError(`resize: outChannels ${outChannels} is fewer than the ${c} channels`);
}

/**
 * Emits `name(x, taps, y, firstRow, rowCount)` (byte pointers): output rows [firstRow, firstRow + rowCount) of one
 * image x resized to `spec.size`, written from y on (y points at row firstRow), with the taps of `packResizeTaps`.
 * Output pixels are `outChannels` floats apart.
 */
export function emitResizeRows(mod: ModuleBuilder, name: string, spec: ResizeSpec): void {
  checkSpec(spec);
  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => emitRowLoop(fn, spec, fn.params as [Local, Local, Local, Local, Local]));
}

/** Emits `name(x, taps, y, batch)` (byte pointers): `batch` whole images resized, with the taps of `packResizeTaps`. */
export function emitResize(mod: ModuleBuilder, name: string, spec: ResizeSpec): void {
  checkSpec(spec);
  const [h, w, c] = spec.inShape;
  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, taps, y, batch] = fn.params as [Local, Local, Local, Local];
    const [firstRow, rowCount] = [fn.local('i32'), fn.local('i32')];
    repeatWhile(fn, batch, () => {
      fn.i32.const(spec.size[0]).set(rowCount);
      emitRowLoop(fn, spec, [x, taps, y, firstRow, rowCount]);
      advance(fn, x, h * w * c * F32);
    });
  });
}
