// Depthwise convolution (3×3 in MobileNets; any size here), any stride and dilation (atrous, DeepLab), explicit padding,
// bias and clamp fused: channels run 4 to a vector with a partial-vector tail, border pixels have their own code.

import type { Local, ModuleBuilder } from '../assembler.js';
import type { Padding4 } from '../../../ops/geometry.js';
import { ShapeError } from '../../../errors.js';
import { type Clamp, F32, LANES, V128, advance, checkPositiveInts, clampEpilogue, loadLanes, mulAdd, repeat, roundUp, storeLanes } from './common.js';
import { emitWindowLoops, tapOffset, windowOutput } from './window.js';

export interface DepthwiseSpec {
  height: number;
  width: number;
  channels: number;
  /** Default [3, 3]. */
  kernel?: readonly [number, number];
  strides: readonly [number, number];
  /** Default [1, 1]. */
  dilations?: readonly [number, number];
  /** Explicit [top, bottom, left, right]. */
  padding: Padding4;
  clamp?: Clamp | null;
  /** Interior output pixels per step, sharing each weight load. Default 1: wider steps measured slower in V8. */
  group?: number;
}

function kernelOf(spec: DepthwiseSpec): readonly [number, number] {
  return spec.kernel ?? [3, 3];
}

/** Output [height, width]; throws a ShapeError if the window does not fit. */
export function depthwiseOutputSize(spec: DepthwiseSpec): [number, number] {
  return windowOutput({ ...spec, kernel: kernelOf(spec), inPixelBytes: 0, outPixelBytes: 0 }, 'depthwise');
}

/** Floats in the packed weights: per 4 channels, their bias then each tap's 4 weights. */
function depthwisePackedLength(spec: DepthwiseSpec): number {
  const [kh, kw] = kernelOf(spec);
  return roundUp(spec.channels, LANES) * (1 + kh * kw);
}

/** Packs an HWIO depthwise kernel [kh, kw, 1, C] and its bias; the channel tail is zero-padded to a vector. */
export function packDepthwiseWeights(spec: DepthwiseSpec, kernel: Float32Array, bias: Float32Array | null): Float32Array {
  const [kh, kw] = kernelOf(spec);
  const c = spec.channels;
  const taps = kh * kw;
  if (kernel.length !== taps * c) throw new ShapeError(`packDepthwiseWeights: kernel has ${kernel.length} values, expected ${kh}·${kw}·${c} = ${taps * c}`);
  if (bias && bias.length !== c) throw new ShapeError(`packDepthwiseWeights: bias has ${bias.length} values, expected ${c}`);
  const out = new Float32Array(depthwisePackedLength(spec));
  for (let ch = 0; ch < c; ch++) {
    const base = Math.floor(ch / LANES) * LANES * (1 + taps) + (ch % LANES);
    if (bias) out[base] = bias[ch];
    for (let t = 0; t < taps; t++) out[base + (1 + t) * LANES] = kernel[t * c + ch];
  }
  return out;
}

/** Emits `name(x, packedWeights, y, batch)` over NHWC [batch, height, width, channels] (byte pointers). */
export function emitDepthwise(mod: ModuleBuilder, name: string, spec: DepthwiseSpec): void {
  const [kh, kw] = kernelOf(spec);
  const group = spec.group ?? 1;
  const [dh, dw] = spec.dilations ?? [1, 1];
  checkPositiveInts('depthwise', { height: spec.height, width: spec.width, channels: spec.channels, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], dilationH: dh, dilationW: dw, group });
  const c = spec.channels;
  const pixelBytes = c * F32;
  const chunkBytes = V128 * (1 + kh * kw);
  const geometry = { ...spec, kernel: [kh, kw] as const, inPixelBytes: pixelBytes, outPixelBytes: pixelBytes };
  depthwiseOutputSize(spec);

  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, w, y, batch] = fn.params as [Local, Local, Local, Local];
    const clamp = clampEpilogue(fn, spec.clamp);
    const cx = fn.local('i32');
    const cy = fn.local('i32');
    const wp = fn.local('i32');
    const weight = fn.local('v128');
    const acc = Array.from({ length: group }, () => fn.local('v128'));

    emitWindowLoops(fn, geometry, x, y, batch, group, (taps, input, output, pixels, inputStep) => {
      const chunk = (lanes: number): void => {
        fn.get(wp).v128.load(0).set(acc[0]);
        for (let i = 1; i < pixels; i++) fn.get(acc[0]).set(acc[i]);
        for (let ky = taps.ky0; ky < taps.ky1; ky++) {
          for (let kx = taps.kx0; kx < taps.kx1; kx++) {
            fn.get(wp).v128.load((1 + ky * kw + kx) * V128).set(weight);
            const tap = tapOffset(geometry, taps, ky, kx);
            for (let i = 0; i < pixels; i++) {
              mulAdd(fn, acc[i], () => loadLanes(fn, cx, tap + i * inputStep, lanes), () => fn.get(weight));
            }
          }
        }
        for (let i = 0; i < pixels; i++) {
          fn.get(acc[i]);
          clamp();
          fn.set(acc[i]);
          storeLanes(fn, cy, i * pixelBytes, acc[i], lanes);
        }
      };
      fn.get(input).set(cx);
      fn.get(output).set(cy);
      fn.get(w).set(wp);
      repeat(fn, Math.floor(c / LANES), () => {
        chunk(LANES);
        advance(fn, cx, V128);
        advance(fn, cy, V128);
        advance(fn, wp, chunkBytes);
      });
      if (c % LANES) chunk(c % LANES);
    });
  });
}

