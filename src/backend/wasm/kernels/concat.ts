// Concatenation as strided runs: each input's runs (a pixel's channels on the channel axis; a whole sample on SSD's
// anchors axis) copied, 4 floats to a vector, into their slice of the output's runs.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { ConfigError } from '../../../errors.js';
import { F32, LANES, V128, advance, checkPositiveInts, loadLanes, repeat, repeatWhile, storeLanes } from './common.js';

/** One input's place in the output: its channels, the output's channels, and where its slice starts. */
export interface ChannelSliceSpec {
  channels: number;
  outChannels: number;
  offset: number;
}

/**
 * Calls `body(lanes)` per chunk of 4 channels of one pixel (the tail chunk last, with fewer lanes), moving each
 * pointer in `pointers` one chunk on after each: they end one pixel further on.
 */
export function channelChunks(fn: FunctionBuilder, channels: number, pointers: readonly Local[], body: (lanes: number) => void): void {
  repeat(fn, Math.floor(channels / LANES), () => {
    body(LANES);
    for (const p of pointers) advance(fn, p, V128);
  });
  const tail = channels % LANES;
  if (tail === 0) return;
  body(tail);
  for (const p of pointers) advance(fn, p, tail * F32);
}

/**
 * Emits `name(x, y, pixels)` (byte pointers): for each of `pixels` pixels, x's `channels` values go to
 * y's channels [offset, offset + channels) of `outChannels`; the other channels stay as they are.
 */
export function emitChannelSlice(mod: ModuleBuilder, name: string, spec: ChannelSliceSpec): void {
  const { channels, outChannels, offset } = spec;
  checkPositiveInts('concat', { channels, outChannels });
  if (!(Number.isInteger(offset) && offset >= 0 && offset + channels <= outChannels)) {
    throw new ConfigError(`concat: a slice of ${channels} channels at ${offset} does not fit in ${outChannels}`);
  }
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, pixels] = fn.params as [Local, Local, Local];
    const to = fn.local('i32');
    const value = fn.local('v128');
    advance(fn, y, offset * F32);
    repeatWhile(fn, pixels, () => {
      fn.get(y).set(to);
      channelChunks(fn, channels, [x, to], (lanes) => {
        loadLanes(fn, x, 0, lanes);
        fn.set(value);
        storeLanes(fn, to, 0, value, lanes);
      });
      advance(fn, y, outChannels * F32);
    });
  });
}
