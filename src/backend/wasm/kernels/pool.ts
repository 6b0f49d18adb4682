// Global average pooling over NHWC, [batch, pixels, C] → [batch, C]: up to 32 channels summed in
// registers across all pixels, then divided once by the pixel count.

import type { Local, ModuleBuilder } from '../assembler.js';
import { F32, LANES, V128, advance, checkPositiveInts, laneCounts, loadLanes, offsetPointer, repeat, repeatWhile, storeLanes } from './common.js';

export interface GlobalPoolSpec {
  /** height · width */
  pixels: number;
  channels: number;
}

const BLOCK_VECTORS = 8;

/** Emits `name(x, y, batch)`: y[b, c] = mean over pixels of x[b, ·, c] (byte pointers). */
export function emitGlobalAvgPool(mod: ModuleBuilder, name: string, spec: GlobalPoolSpec): void {
  checkPositiveInts('globalAvgPool', { pixels: spec.pixels, channels: spec.channels });
  const c = spec.channels;
  const blockChannels = BLOCK_VECTORS * LANES;

  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, batch] = fn.params as [Local, Local, Local];
    const divisor = fn.local('v128');
    const bx = fn.local('i32');
    const xp = fn.local('i32');
    const acc = Array.from({ length: BLOCK_VECTORS }, () => fn.local('v128'));
    fn.f32x4.const(spec.pixels).set(divisor);

    const emitBlock = (channels: number): void => {
      const lanes = laneCounts(channels);
      for (let v = 0; v < lanes.length; v++) fn.f32x4.const(0).set(acc[v]);
      fn.get(bx).set(xp);
      repeat(fn, spec.pixels, () => {
        for (let v = 0; v < lanes.length; v++) {
          fn.get(acc[v]);
          loadLanes(fn, xp, v * V128, lanes[v]);
          fn.f32x4.add().set(acc[v]);
        }
        advance(fn, xp, c * F32);
      });
      for (let v = 0; v < lanes.length; v++) {
        fn.get(acc[v]).get(divisor).f32x4.div().set(acc[v]);
        storeLanes(fn, y, v * V128, acc[v], lanes[v]);
      }
      advance(fn, bx, channels * F32);
      advance(fn, y, channels * F32);
    };

    repeatWhile(fn, batch, () => {
      fn.get(x).set(bx);
      repeat(fn, Math.floor(c / blockChannels), () => emitBlock(blockChannels));
      if (c % blockChannels) emitBlock(c % blockChannels);
      offsetPointer(fn, x, x, spec.pixels * c * F32);
    });
  });
}
