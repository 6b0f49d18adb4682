// im2col and col2im for a general convolution (groups 1, any dilation): each output pixel's window laid out as one row of
// kh·kw·cin values, so the conv and its gradients become GEMMs; col2im adds such rows back into the input.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import type { Padding4 } from '../../../ops/geometry.js';
import { F32, V128, checkPositiveInts, laneCounts, loadLanes, storeLanes } from './common.js';
import { type WindowGeometry, emitWindowLoops, tapOffset, windowOutput } from './window.js';

export interface Im2colSpec {
  height: number;
  width: number;
  cin: number;
  kernel: readonly [number, number];
  strides: readonly [number, number];
  /** Default [1, 1]. */
  dilations?: readonly [number, number];
  padding: Padding4;
}

function geometryOf(spec: Im2colSpec): WindowGeometry {
  const [kh, kw] = spec.kernel;
  const [dh, dw] = spec.dilations ?? [1, 1];
  checkPositiveInts('im2col', { height: spec.height, width: spec.width, cin: spec.cin, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], dilationH: dh, dilationW: dw });
  const g = { ...spec, inPixelBytes: spec.cin * F32, outPixelBytes: kh * kw * spec.cin * F32 };
  windowOutput(g, 'im2col');
  return g;
}

/** Moves `cin` floats between an image pixel and its slot in a window row, either way, adding if asked. */
function emitMove(fn: FunctionBuilder, cin: number, from: Local, fromOffset: number, to: Local, toOffset: number, value: Local, accumulate: boolean): void {
  laneCounts(cin).forEach((lanes, v) => {
    loadLanes(fn, from, fromOffset + v * V128, lanes);
    if (accumulate) {
      loadLanes(fn, to, toOffset + v * V128, lanes);
      fn.f32x4.add();
    }
    fn.set(value);
    storeLanes(fn, to, toOffset + v * V128, value, lanes);
  });
}

/**
 * Emits `name(x, col, batch)`: col[n, oy, ox, (ky·kw + kx)·cin + c] = x[n, iy, ix, c] for in-bounds taps;
 * taps in the padding are left as they are (the caller zeroes col).
 */
export function emitIm2col(mod: ModuleBuilder, name: string, spec: Im2colSpec): void {
  emitWindowCopy(mod, name, spec, false);
}

/** Emits `name(dx, col, batch)`: the adjoint of `emitIm2col`, dx[n, iy, ix, c] += every col entry that copied it. */
export function emitCol2im(mod: ModuleBuilder, name: string, spec: Im2colSpec): void {
  emitWindowCopy(mod, name, spec, true);
}

/** Copies each window's in-bounds taps between the image and its row of col: into col, or added back into the image. */
function emitWindowCopy(mod: ModuleBuilder, name: string, spec: Im2colSpec, toImage: boolean): void {
  const g = geometryOf(spec);
  const kw = spec.kernel[1];
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [image, col, batch] = fn.params as [Local, Local, Local];
    const value = fn.local('v128');
    emitWindowLoops(fn, g, image, col, batch, 1, (taps, input, output) => {
      for (let ky = taps.ky0; ky < taps.ky1; ky++) {
        for (let kx = taps.kx0; kx < taps.kx1; kx++) {
          const tap = tapOffset(g, taps, ky, kx);
          const slot = (ky * kw + kx) * spec.cin * F32;
          if (toImage) emitMove(fn, spec.cin, output, slot, input, tap, value, true);
          else emitMove(fn, spec.cin, input, tap, output, slot, value, false);
        }
      }
    });
  });
}
