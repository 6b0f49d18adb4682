// A general convolution for few input channels (the stem: 3×3, stride 2, RGB or grey): every tap and
// input channel unrolled, output channels in register blocks; bias and clamp fused.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import type { Padding4 } from '../../../ops/geometry.js';
import { ConfigError } from '../../../errors.js';
import { type Clamp, F32, LANES, V128, channelBlocks, checkPositiveInts, clampEpilogue, laneCounts, mulAdd, packBlocked, storeLanes } from './common.js';
import { type PixelEmitter, emitWindowLoops, windowOutput } from './window.js';

export interface ConvSpec {
  height: number;
  width: number;
  cin: number;
  cout: number;
  kernel: readonly [number, number];
  strides: readonly [number, number];
  /** Explicit [top, bottom, left, right]. */
  padding: Padding4;
  clamp?: Clamp | null;
  /** Output channels per register block, in vectors. Default 4. */
  blockVectors?: number;
  /**
   * Interior output pixels per step, sharing each weight load. Default 2 with relaxed SIMD, 1 without:
   * the separate multiply needs a register more, and two pixels' accumulators then spill.
   */
  group?: number;
}

/** The code is unrolled over kh·kw·cin, so this kernel is for stems, not deep layers. */
const MAX_UNROLLED_TAPS = 512;

export function convOutputSize(spec: ConvSpec): [number, number] {
  return windowOutput({ ...spec, inPixelBytes: 0, outPixelBytes: 0 }, 'conv');
}

function blockWidth(spec: ConvSpec): number {
  return (spec.blockVectors ?? 4) * LANES;
}

/** Packs an HWIO kernel [kh, kw, cin, cout] and its bias for `emitConv` with the same spec. */
export function packConvWeights(spec: ConvSpec, kernel: Float32Array, bias: Float32Array | null): Float32Array {
  return packBlocked('packConvWeights', kernel, bias, spec.kernel[0] * spec.kernel[1] * spec.cin, spec.cout, blockWidth(spec));
}

/** Emits `name(x, packedWeights, y, batch)` over NHWC [batch, height, width, cin] → [batch, oh, ow, cout]. */
export function emitConv(mod: ModuleBuilder, name: string, spec: ConvSpec): void {
  const [kh, kw] = spec.kernel;
  const group = spec.group ?? (mod.relaxedSimd ? 2 : 1);
  const blockVectors = spec.blockVectors ?? 4;
  checkPositiveInts('conv', { height: spec.height, width: spec.width, cin: spec.cin, cout: spec.cout, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], group, blockVectors });
  if (kh * kw * spec.cin > MAX_UNROLLED_TAPS) {
    throw new ConfigError(`conv: ${kh}×${kw}×${spec.cin} = ${kh * kw * spec.cin} taps per output exceeds the unrolled kernel's ${MAX_UNROLLED_TAPS}; it is meant for stems`);
  }
  convOutputSize(spec);
  const inPixelBytes = spec.cin * F32;
  const outPixelBytes = spec.cout * F32;
  const geometry = { ...spec, inPixelBytes, outPixelBytes };

  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, w, y, batch] = fn.params as [Local, Local, Local, Local];
    emitWindowLoops(fn, geometry, x, y, batch, group, convPixelEmitter(fn, spec, w, group));
  });
}

/**
 * The standard conv's code for up to `group` output pixels (as `emitConv` inlines it): every tap and input
 * channel unrolled, output channels in register blocks, bias and clamp fused. Declares its locals in `fn`.
 */
export function convPixelEmitter(fn: FunctionBuilder, spec: ConvSpec, w: Local, group: number): PixelEmitter {
  const [kh, kw] = spec.kernel;
  const blockVectors = spec.blockVectors ?? 4;
  const blockWidth = blockVectors * LANES;
  const inPixelBytes = spec.cin * F32;
  const outPixelBytes = spec.cout * F32;
  const clamp = clampEpilogue(fn, spec.clamp);
  const xs = fn.local('v128');
  const weights = Array.from({ length: blockVectors }, () => fn.local('v128'));
  const acc = Array.from({ length: group }, () => Array.from({ length: blockVectors }, () => fn.local('v128')));

  return (taps, input, output, pixels, inputStep) => {
    let blockOffset = 0;
    for (const [start, channels, width] of channelBlocks(spec.cout, blockWidth)) {
      const lanes = laneCounts(channels);
      const vectors = width / LANES;
      for (let v = 0; v < vectors; v++) fn.get(w).v128.load(blockOffset + v * V128).set(acc[0][v]);
      for (let i = 1; i < pixels; i++) for (let v = 0; v < vectors; v++) fn.get(acc[0][v]).set(acc[i][v]);
      for (let ky = taps.ky0; ky < taps.ky1; ky++) {
        for (let kx = taps.kx0; kx < taps.kx1; kx++) {
          for (let ci = 0; ci < spec.cin; ci++) {
            const row = (ky * kw + kx) * spec.cin + ci;
            for (let v = 0; v < vectors; v++) fn.get(w).v128.load(blockOffset + ((1 + row) * width + v * LANES) * F32).set(weights[v]);
            const tap = ((ky - taps.ky0) * spec.width + (kx - taps.kx0)) * inPixelBytes + ci * F32;
            for (let i = 0; i < pixels; i++) {
              fn.get(input).v128.load32_splat(tap + i * inputStep).set(xs);
              for (let v = 0; v < vectors; v++) mulAdd(fn, acc[i][v], () => fn.get(xs), () => fn.get(weights[v]));
            }
          }
        }
      }
      for (let i = 0; i < pixels; i++) {
        for (let v = 0; v < vectors; v++) {
          fn.get(acc[i][v]);
          clamp();
          fn.set(acc[i][v]);
          storeLanes(fn, output, i * outPixelBytes + (start + v * LANES) * F32, acc[i][v], lanes[v]);
        }
      }
      blockOffset += width * (1 + kh * kw * spec.cin) * F32;
    }
  };
}
