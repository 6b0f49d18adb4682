// Depthwise convolution backward: the input gradient by scattering each output gradient through the taps (any
// stride, dilation and padding), and the kernel gradient as per-image tap sums folded into a total (two-level float32 sums).

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { F32, LANES, V128, advance, checkPositiveInts, loadLanes, mulAdd, repeat, repeatWhile, roundUp, storeLanes } from './common.js';
import type { DepthwiseSpec } from './depthwise.js';
import { depthwiseOutputSize } from './depthwise.js';
import { emitWindowLoops, tapOffset } from './window.js';

function kernelOf(spec: DepthwiseSpec): readonly [number, number] {
  return spec.kernel ?? [3, 3];
}

/**
 * Runs `chunk(lanes)` over the channels 4 at a time (a partial tail last), each pointer in `pointers` moved on by
 * its bytes per chunk after each full chunk.
 */
function eachChannelChunk(fn: FunctionBuilder, channels: number, pointers: [Local, number][], chunk: (lanes: number) => void): void {
  repeat(fn, Math.floor(channels / LANES), () => {
    chunk(LANES);
    for (const [p, bytes] of pointers) advance(fn, p, bytes);
  });
  if (channels % LANES) chunk(channels % LANES);
}

function geometryOf(spec: DepthwiseSpec): Parameters<typeof emitWindowLoops>[1] {
  const [kh, kw] = kernelOf(spec);
  const [dh, dw] = spec.dilations ?? [1, 1];
  checkPositiveInts('depthwise backward', { height: spec.height, width: spec.width, channels: spec.channels, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], dilationH: dh, dilationW: dw });
  depthwiseOutputSize(spec);
  const pixelBytes = spec.channels * F32;
  return { ...spec, kernel: [kh, kw] as const, inPixelBytes: pixelBytes, outPixelBytes: pixelBytes };
}

/**
 * Emits `name(dx, packedWeights, dy, batch)`: dx += the transposed depthwise convolution of dy (byte pointers;
 * dx is NHWC [batch, height, width, channels] of the forward input, zeroed by the caller; weights packed by
 * `packDepthwiseWeights`, bias slot unused). Each output pixel adds dy·w into its window's in-bounds taps.
 */
export function emitDepthwiseBackwardInput(mod: ModuleBuilder, name: string, spec: DepthwiseSpec): void {
  const geometry = geometryOf(spec);
  const [kh, kw] = geometry.kernel;
  const c = spec.channels;
  const chunkBytes = V128 * (1 + kh * kw);

  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [dx, w, dy, batch] = fn.params as [Local, Local, Local, Local];
    const cx = fn.local('i32');
    const cy = fn.local('i32');
    const wp = fn.local('i32');
    const gradient = fn.local('v128');
    const sum = fn.local('v128');

    emitWindowLoops(fn, geometry, dx, dy, batch, 1, (taps, input, output) => {
      if (taps.ky1 <= taps.ky0 || taps.kx1 <= taps.kx0) return;
      const chunk = (lanes: number): void => {
        loadLanes(fn, cy, 0, lanes);
        fn.set(gradient);
        for (let ky = taps.ky0; ky < taps.ky1; ky++) {
          for (let kx = taps.kx0; kx < taps.kx1; kx++) {
            const tap = tapOffset(geometry, taps, ky, kx);
            loadLanes(fn, cx, tap, lanes);
            fn.set(sum);
            mulAdd(fn, sum, () => fn.get(gradient), () => fn.get(wp).v128.load((1 + ky * kw + kx) * V128));
            storeLanes(fn, cx, tap, sum, lanes);
          }
        }
      };
      fn.get(input).set(cx);
      fn.get(output).set(cy);
      fn.get(w).set(wp);
      eachChannelChunk(fn, c, [[cx, V128], [cy, V128], [wp, chunkBytes]], chunk);
    });
  });
}

/** Floats of the kernel gradient as `emitDepthwiseBackwardKernel` leaves it: per 4 channels, each tap's 4 sums. */
export function depthwiseGradientLength(spec: DepthwiseSpec): number {
  const [kh, kw] = kernelOf(spec);
  return roundUp(spec.channels, LANES) * kh * kw;
}

/** The packed kernel gradient as HWIO [kh, kw, 1, channels]. */
export function unpackDepthwiseGradient(spec: DepthwiseSpec, packed: Float32Array): Float32Array {
  const [kh, kw] = kernelOf(spec);
  const c = spec.channels;
  const taps = kh * kw;
  const out = new Float32Array(taps * c);
  for (let ch = 0; ch < c; ch++) {
    const base = Math.floor(ch / LANES) * LANES * taps + (ch % LANES);
    for (let t = 0; t < taps; t++) out[t * c + ch] = packed[base + t * LANES];
  }
  return out;
}

/**
 * Emits `name(x, dy, total, partial, batch)`: the depthwise kernel gradient Σ x[tap]·dy over every output
 * pixel. Each image sums into `partial` (per 4 channels, each tap's 4 lanes; zeroed by the caller, left zeroed),
 * which is then added to `total` (zeroed by the caller); both hold `depthwiseGradientLength` floats.
 * Interior output pixels go `group` at a time, sharing each accumulator load and store.
 */
export function emitDepthwiseBackwardKernel(mod: ModuleBuilder, name: string, spec: DepthwiseSpec & { gradientGroup?: number }): void {
  const geometry = geometryOf(spec);
  const [kh, kw] = geometry.kernel;
  const c = spec.channels;
  const taps = kh * kw;
  const group = spec.gradientGroup ?? 4;
  checkPositiveInts('depthwise kernel gradient', { group });
  const chunkBytes = V128 * taps;
  const vectors = depthwiseGradientLength(spec) / LANES;

  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, dy, total, partial, batch] = fn.params as [Local, Local, Local, Local, Local];
    const one = fn.local('i32');
    const cx = fn.local('i32');
    const cy = fn.local('i32');
    const ap = fn.local('i32');
    const tp = fn.local('i32');
    const acc = fn.local('v128');
    const gradients = Array.from({ length: group }, () => fn.local('v128'));

    repeatWhile(fn, batch, () => {
      fn.i32.const(1).set(one);
      emitWindowLoops(fn, geometry, x, dy, one, group, (range, input, output, pixels, inputStep) => {
        if (range.ky1 <= range.ky0 || range.kx1 <= range.kx0) return;
        const chunk = (lanes: number): void => {
          for (let i = 0; i < pixels; i++) {
            loadLanes(fn, cy, i * c * F32, lanes);
            fn.set(gradients[i]);
          }
          for (let ky = range.ky0; ky < range.ky1; ky++) {
            for (let kx = range.kx0; kx < range.kx1; kx++) {
              const slot = (ky * kw + kx) * V128;
              const tap = tapOffset(geometry, range, ky, kx);
              fn.get(ap).v128.load(slot).set(acc);
              for (let i = 0; i < pixels; i++) mulAdd(fn, acc, () => loadLanes(fn, cx, tap + i * inputStep, lanes), () => fn.get(gradients[i]));
              fn.get(ap).get(acc).v128.store(slot);
            }
          }
        };
        fn.get(input).set(cx);
        fn.get(output).set(cy);
        fn.get(partial).set(ap);
        eachChannelChunk(fn, c, [[cx, V128], [cy, V128], [ap, chunkBytes]], chunk);
      });
      // fold this image's sums into the total and clear them for the next image
      fn.get(partial).set(ap);
      fn.get(total).set(tp);
      repeat(fn, vectors, () => {
        fn.get(tp).get(tp).v128.load(0).get(ap).v128.load(0).f32x4.add().v128.store(0);
        fn.get(ap).f32x4.const(0).v128.store(0);
        advance(fn, ap, V128);
        advance(fn, tp, V128);
      });
    });
  });
}
