// Int8 im2col: each output pixel's window as one row of kh·kw·cin bytes, taps in the padding written as the input's zero point
// (their x − zx is 0), so a standard convolution (the stem) is the int8 GEMM over those rows with cin = kh·kw·cin.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { ConfigError } from '../../../errors.js';
import { checkPositiveInts } from './common.js';
import type { Im2colSpec } from './im2col.js';
import { loadBytes, storeBytes } from './int8-epilogue.js';
import { type PixelEmitter, type WindowGeometry, emitWindowLoops, emitWindowRowRange, tapOffset, windowOutput } from './window.js';

export interface Int8Im2colSpec extends Im2colSpec {
  /** The input's zero point: what taps in the padding hold. */
  zeroPoint: number;
}

function geometryOf(spec: Int8Im2colSpec): WindowGeometry {
  const [kh, kw] = spec.kernel;
  const [dh, dw] = spec.dilations ?? [1, 1];
  checkPositiveInts('int8 im2col', { height: spec.height, width: spec.width, cin: spec.cin, kh, kw, strideH: spec.strides[0], strideW: spec.strides[1], dilationH: dh, dilationW: dw });
  if (!Number.isInteger(spec.zeroPoint) || spec.zeroPoint < -128 || spec.zeroPoint > 127) throw new ConfigError(`int8 im2col: zero point ${spec.zeroPoint} is not an int8 value`);
  const g = { ...spec, inPixelBytes: spec.cin, outPixelBytes: kh * kw * spec.cin };
  windowOutput(g, 'int8 im2col');
  return g;
}

/** The window-row writer both kernels share: runs of in-bounds taps copied (one run per kernel row without dilation), the rest filled. */
function windowRowEmitter(fn: FunctionBuilder, spec: Int8Im2colSpec, g: WindowGeometry): PixelEmitter {
  const [kh, kw] = spec.kernel;
  const dw = (spec.dilations ?? [1, 1])[1];
  const cin = spec.cin;
  const value = fn.local('v128');
  const scratch = fn.local('v128');
  const fill = fn.local('v128');
  fn.v128.const(new Uint8Array(16).fill(spec.zeroPoint & 0xff)).set(fill);

  const copy = (from: Local, fromOffset: number, to: Local, toOffset: number, n: number): void => {
    for (let i = 0; i < n; i += 16) {
      loadBytes(fn, from, fromOffset + i, Math.min(16, n - i), scratch);
      fn.set(value);
      storeBytes(fn, to, toOffset + i, value, Math.min(16, n - i));
    }
  };
  const pad = (to: Local, toOffset: number, n: number): void => {
    for (let i = 0; i < n; i += 16) storeBytes(fn, to, toOffset + i, fill, Math.min(16, n - i));
  };

  return (taps, input, output) => {
    for (let ky = 0; ky < kh; ky++) {
      const row = ky * kw * cin;
      if (ky < taps.ky0 || ky >= taps.ky1 || taps.kx1 <= taps.kx0) {
        pad(output, row, kw * cin);
        continue;
      }
      pad(output, row, taps.kx0 * cin);
      if (dw === 1) copy(input, tapOffset(g, taps, ky, taps.kx0), output, row + taps.kx0 * cin, (taps.kx1 - taps.kx0) * cin);
      else for (let kx = taps.kx0; kx < taps.kx1; kx++) copy(input, tapOffset(g, taps, ky, kx), output, row + kx * cin, cin);
      pad(output, row + taps.kx1 * cin, (kw - taps.kx1) * cin);
    }
  };
}

/** Emits `name(x, col, batch)`: col[n, oy, ox, (ky·kw + kx)·cin + c] = x[n, iy, ix, c], or the zero point for taps in the padding. */
export function emitInt8Im2col(mod: ModuleBuilder, name: string, spec: Int8Im2colSpec): void {
  const g = geometryOf(spec);
  mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
    const [x, col, batch] = fn.params as [Local, Local, Local];
    emitWindowLoops(fn, g, x, col, batch, 1, windowRowEmitter(fn, spec, g));
  });
}

/**
 * Emits `name(x, col, firstRow, rowCount)`: the window rows of output rows [firstRow, firstRow + rowCount) of the one image at
 * `x`, row firstRow's first at `col` (a chain's stem, or a band of an image).
 */
export function emitInt8Im2colRows(mod: ModuleBuilder, name: string, spec: Int8Im2colSpec): void {
  const g = geometryOf(spec);
  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, col, first, count] = fn.params as [Local, Local, Local, Local];
    emitWindowRowRange(fn, g, x, col, first, count, 1, windowRowEmitter(fn, spec, g));
  });
}
