// Per-channel kernels over NHWC rows for training-mode BatchNorm and bias gradients: per-block channel sums
// (the caller adds the blocks in float64), normalisation, and the BatchNorm backward, 4 channels to a vector.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { F32, LANES, V128, advance, checkPositiveInts, loadLanes, mulAdd, repeat, repeatWhile, roundUp, storeLanes } from './common.js';

export interface ChannelSpec {
  channels: number;
  /** Pixels summed into one row of partial sums. Default 256. */
  block?: number;
}

export function channelBlock(spec: ChannelSpec): number {
  return spec.block ?? 256;
}

/** Floats per row of per-channel values (parameters, partial sums): channels padded to whole vectors. */
export function channelRow(spec: ChannelSpec): number {
  return roundUp(spec.channels, LANES);
}

/** Rows of partial sums that `pixels` pixels produce. */
export function channelBlocks(spec: ChannelSpec, pixels: number): number {
  return Math.ceil(pixels / channelBlock(spec));
}

/** What one pixel's chunk of channels does; `lanes` (1..4) of them are real. */
type ChunkBody = (lanes: number) => void;

/**
 * Emits a loop over `count` pixels of `channels` values (consumes `count`), calling `body` per chunk of 4
 * channels with the row pointers `rows` at the chunk (they end a pixel further on each time) and the
 * parameter pointers `params[i].at` at the chunk's parameters (restarted from `params[i].base` per pixel).
 */
function pixelLoop(fn: FunctionBuilder, channels: number, count: Local, rows: Local[], params: { base: Local; at: Local }[], body: ChunkBody): void {
  const pixelBytes = channels * F32;
  const rowStarts = rows.map(() => fn.local('i32'));
  repeatWhile(fn, count, () => {
    rows.forEach((r, i) => fn.get(r).set(rowStarts[i]));
    for (const p of params) fn.get(p.base).set(p.at);
    repeat(fn, Math.floor(channels / LANES), () => {
      body(LANES);
      for (const r of rows) advance(fn, r, V128);
      for (const p of params) advance(fn, p.at, V128);
    });
    if (channels % LANES) body(channels % LANES);
    rows.forEach((r, i) => fn.get(rowStarts[i]).i32.const(pixelBytes).i32.add().set(r));
  });
}

/**
 * Emits, for one channel count, the kernels of training BatchNorm and bias gradients (byte pointers; per-channel
 * parameters and partial-sum rows hold `channelRow` floats, channel tails zero-padded):
 * - `${prefix}sums(x, centre, out, pixels)`: out[block] = Σ (x − centre) over each block of pixels (a centre near
 *   the values keeps float32 block sums accurate when the mean is large against the spread);
 * - `${prefix}sqdev(x, mean, out, pixels)`: out[block] = Σ (x − mean)²;
 * - `${prefix}normalize(x, mean, scale, shift, y, pixels)`: y = (x − mean)·scale + shift;
 * - `${prefix}backsums(dy, x, mean, outDy, outDyX, pixels)`: Σ dy and Σ dy·(x − mean) per block;
 * - `${prefix}backapply(dy, x, mean, k1, k2, k0, dx, pixels)`: dx = k1·dy + k2·(x − mean) + k0.
 */
export function emitChannelKernels(mod: ModuleBuilder, prefix: string, spec: ChannelSpec): void {
  const c = spec.channels;
  const block = channelBlock(spec);
  checkPositiveInts('channel kernels', { channels: c, block });
  const rowBytes = channelRow(spec) * F32;

  /** Splits `pixels` into blocks: zeroes each block's row in every `outs` array, runs `perBlock(count)`, moves the rows on. */
  const blocks = (fn: FunctionBuilder, pixels: Local, outs: Local[], perBlock: (count: Local) => void): void => {
    const count = fn.local('i32');
    const op = fn.local('i32');
    fn.block((exit) => {
      fn.loop((top) => {
        fn.get(pixels).i32.eqz().brIf(exit);
        fn.get(pixels).i32.const(block).get(pixels).i32.const(block).i32.lt_u().select().set(count);
        fn.get(pixels).get(count).i32.sub().set(pixels);
        for (const o of outs) {
          fn.get(o).set(op);
          repeat(fn, rowBytes / V128, () => {
            fn.get(op).f32x4.const(0).v128.store(0);
            advance(fn, op, V128);
          });
        }
        perBlock(count);
        for (const o of outs) advance(fn, o, rowBytes);
        fn.br(top);
      });
    });
  };

  /** d = x − mean for the chunk at x and mp (padded lanes: 0 − 0). */
  const centred = (fn: FunctionBuilder, x: Local, mp: Local, d: Local, lanes: number): void => {
    loadLanes(fn, x, 0, lanes);
    fn.get(mp).v128.load(0).f32x4.sub().set(d);
  };

  mod.function(`${prefix}sums`, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, centre, out, pixels] = fn.params as [Local, Local, Local, Local];
    const op = fn.local('i32');
    const cp = fn.local('i32');
    const d = fn.local('v128');
    blocks(fn, pixels, [out], (count) => {
      pixelLoop(fn, c, count, [x], [{ base: out, at: op }, { base: centre, at: cp }], (lanes) => {
        centred(fn, x, cp, d, lanes);
        fn.get(op).get(op).v128.load(0).get(d).f32x4.add().v128.store(0);
      });
    });
  });

  mod.function(`${prefix}sqdev`, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, mean, out, pixels] = fn.params as [Local, Local, Local, Local];
    const op = fn.local('i32');
    const mp = fn.local('i32');
    const d = fn.local('v128');
    blocks(fn, pixels, [out], (count) => {
      pixelLoop(fn, c, count, [x], [{ base: out, at: op }, { base: mean, at: mp }], (lanes) => {
        centred(fn, x, mp, d, lanes);
        fn.get(op).get(d).get(d).f32x4.mul().get(op).v128.load(0).f32x4.add().v128.store(0);
      });
    });
  });

  mod.function(`${prefix}normalize`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, mean, scale, shift, y, pixels] = fn.params as [Local, Local, Local, Local, Local, Local];
    const mp = fn.local('i32');
    const sp = fn.local('i32');
    const hp = fn.local('i32');
    const d = fn.local('v128');
    const acc = fn.local('v128');
    pixelLoop(fn, c, pixels, [x, y], [{ base: mean, at: mp }, { base: scale, at: sp }, { base: shift, at: hp }], (lanes) => {
      centred(fn, x, mp, d, lanes);
      fn.get(hp).v128.load(0).set(acc);
      mulAdd(fn, acc, () => fn.get(d), () => fn.get(sp).v128.load(0));
      storeLanes(fn, y, 0, acc, lanes);
    });
  });

  mod.function(`${prefix}backsums`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [dy, x, mean, outDy, outDyX, pixels] = fn.params as [Local, Local, Local, Local, Local, Local];
    const mp = fn.local('i32');
    const ap = fn.local('i32');
    const bp = fn.local('i32');
    const g = fn.local('v128');
    const d = fn.local('v128');
    blocks(fn, pixels, [outDy, outDyX], (count) => {
      pixelLoop(fn, c, count, [dy, x], [{ base: mean, at: mp }, { base: outDy, at: ap }, { base: outDyX, at: bp }], (lanes) => {
        loadLanes(fn, dy, 0, lanes);
        fn.set(g);
        centred(fn, x, mp, d, lanes);
        fn.get(ap).get(ap).v128.load(0).get(g).f32x4.add().v128.store(0);
        fn.get(bp).get(g).get(d).f32x4.mul().get(bp).v128.load(0).f32x4.add().v128.store(0);
      });
    });
  });

  mod.function(`${prefix}backapply`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [dy, x, mean, k1, k2, k0, dx, pixels] = fn.params as [Local, Local, Local, Local, Local, Local, Local, Local];
    const mp = fn.local('i32');
    const p1 = fn.local('i32');
    const p2 = fn.local('i32');
    const p0 = fn.local('i32');
    const d = fn.local('v128');
    const acc = fn.local('v128');
    pixelLoop(fn, c, pixels, [dy, x, dx], [{ base: mean, at: mp }, { base: k1, at: p1 }, { base: k2, at: p2 }, { base: k0, at: p0 }], (lanes) => {
      centred(fn, x, mp, d, lanes);
      fn.get(p0).v128.load(0).set(acc);
      mulAdd(fn, acc, () => fn.get(d), () => fn.get(p2).v128.load(0));
      mulAdd(fn, acc, () => loadLanes(fn, dy, 0, lanes), () => fn.get(p1).v128.load(0));
      storeLanes(fn, dx, 0, acc, lanes);
    });
  });
}
