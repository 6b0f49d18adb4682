// Convolution and pooling geometry, planned before any data flows: padding modes resolved to
// explicit [top, bottom, left, right] amounts, and output sizes checked.

import { ConfigError, ShapeError } from '../errors.js';

/** Explicit zero padding in pixels: [top, bottom, left, right]. */
export type Padding4 = readonly [number, number, number, number];

/**
 * How a layer pads its input:
 * - `torch`: symmetric ⌊(k − 1)/2⌋ · dilation on every side (torchvision's `Conv2dNormActivation`);
 * - `same`: TF/Keras "SAME": output = ceil(in / stride), the odd pixel of padding at the bottom/right;
 * - `valid`: none;
 * - explicit `[top, bottom, left, right]`.
 */
export type PaddingMode = 'torch' | 'same' | 'valid' | Padding4;

export interface Window2D {
  kernel: readonly [number, number];
  strides: readonly [number, number];
  dilations: readonly [number, number];
}

function sameAmount(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export function resolvePadding(mode: PaddingMode, inH: number, inW: number, win: Window2D): Padding4 {
  const [kh, kw] = win.kernel;
  const [dh, dw] = win.dilations;
  if (Array.isArray(mode)) {
    const p = mode as Padding4;
    if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0)) {
      throw new ConfigError(`padding must be 'torch', 'same', 'valid' or four non-negative integers [top, bottom, left, right], got [${p.join(', ')}]`);
    }
    return p;
  }
  switch (mode) {
    case 'valid':
      return [0, 0, 0, 0];
    case 'torch': {
      const ph = Math.floor((kh - 1) / 2) * dh;
      const pw = Math.floor((kw - 1) / 2) * dw;
      return [ph, ph, pw, pw];
    }
    case 'same': {
      const [t, b] = sameAmount(inH, kh, win.strides[0], dh);
      const [l, r] = sameAmount(inW, kw, win.strides[1], dw);
      return [t, b, l, r];
    }
    default:
      throw new ConfigError(`unknown padding mode ${JSON.stringify(mode)}: expected 'torch', 'same', 'valid' or [top, bottom, left, right]`);
  }
}

/** Output spatial size of a sliding window over a padded input; throws if the window does not fit. */
export function windowOutputSize(inH: number, inW: number, pad: Padding4, win: Window2D, what: string): [number, number] {
  const out = (size: number, before: number, after: number, k: number, s: number, d: number): number =>
    Math.floor((size + before + after - ((k - 1) * d + 1)) / s) + 1;
  const oh = out(inH, pad[0], pad[1], win.kernel[0], win.strides[0], win.dilations[0]);
  const ow = out(inW, pad[2], pad[3], win.kernel[1], win.strides[1], win.dilations[1]);
  if (oh < 1 || ow < 1) {
    throw new ShapeError(
      `${what}: a ${win.kernel[0]}×${win.kernel[1]} window with stride ${win.strides[0]} does not fit a ${inH}×${inW} input padded by [${pad.join(', ')}]`,
    );
  }
  return [oh, ow];
}

export function checkWindow(win: Window2D, what: string): void {
  const ok = (v: number): boolean => Number.isInteger(v) && v >= 1;
  if (![...win.kernel, ...win.strides, ...win.dilations].every(ok)) {
    throw new ConfigError(
      `${what}: kernel, strides and dilations must be positive integers, got kernel [${win.kernel.join(', ')}], strides [${win.strides.join(', ')}], dilations [${win.dilations.join(', ')}]`,
    );
  }
}

/** Pooling windows must each overlap the input: padding on any side smaller than the window (torch and Keras agree). */
export function checkPoolPadding(pad: Padding4, win: Window2D, what: string): void {
  const [kh, kw] = win.kernel.map((k, i) => (k - 1) * win.dilations[i] + 1);
  if (pad[0] >= kh || pad[1] >= kh || pad[2] >= kw || pad[3] >= kw) {
    throw new ConfigError(`${what}: padding [${pad.join(', ')}] leaves whole ${win.kernel[0]}×${win.kernel[1]} windows outside the input; each side must be smaller than the window`);
  }
}
