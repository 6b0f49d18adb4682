// Reference int8 kernels in TFLite's arithmetic: convolution (standard, pointwise, depthwise, grouped; dense is a 1×1 conv)
// accumulating (x − zx)·w exactly in int32, the fixed-point epilogue, add, global and windowed average pools, moves.

import { ShapeError } from '../errors.js';
import { conv2dOutputShape, forEachWindowTap } from '../ops/conv2d.js';
import { convKind } from '../ops/conv-kind.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import { avgPool2d } from '../ops/pool.js';
import type { Pool2DParams } from '../ops/pool.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { QParams } from './qparams.js';
import type { AddRequantization, Requantization } from './fixed-point.js';
import { multiplyByQuantizedMultiplier } from './fixed-point.js';
import { saturate } from './qparams.js';

/** An NHWC (or [N, features]) int8 tensor with its affine parameters. */
export interface Int8Tensor {
  readonly shape: readonly number[];
  readonly data: Int8Array;
  readonly params: QParams;
}

/** acc[n, oy, ox, co] = Σ (x − zx)·w over the window: exact (|acc| < 2^31 for any kernel under 66,000 taps). */
export function conv2dInt8Accumulate(x: Int8Tensor, kernel: Int8Array, kernelShape: readonly number[], p: Conv2DParams): { acc: Int32Array; shape: [number, number, number, number] } {
  const shape = conv2dOutputShape(x.shape, kernelShape, null, p, 'int8 conv2d');
  if (kernel.length !== kernelShape.reduce((a, b) => a * b, 1)) throw new ShapeError(`int8 conv2d: kernel has ${kernel.length} values, shape ${formatShape(kernelShape)}`);
  const cOut = shape[3];
  const [, , , c] = x.shape as [number, number, number, number];
  const [, , cPerGroup] = kernelShape as [number, number, number, number];
  const groups = p.groups;
  const outPerGroup = cOut / groups;
  const depthwise = convKind(kernelShape, p) === 'depthwise';
  const xd = x.data;
  const zx = x.params.zeroPoint;
  const acc = new Int32Array(shape[0] * shape[1] * shape[2] * cOut);
  // padding holds real 0, i.e. q = zx, whose (x − zx) is 0: taps outside the input are skipped
  forEachWindowTap(x.shape, shape, kernelShape, p, (pixel, tap, at) => {
    const o = pixel * cOut;
    const xBase = at * c;
    const wBase = tap * cPerGroup * cOut;
    if (depthwise) {
      for (let co = 0; co < cOut; co++) acc[o + co] += (xd[xBase + co] - zx) * kernel[wBase + co];
      return;
    }
    for (let g = 0; g < groups; g++) {
      const oBase = o + g * outPerGroup;
      for (let ci = 0; ci < cPerGroup; ci++) {
        const v = xd[xBase + g * cPerGroup + ci] - zx;
        if (v === 0) continue;
        const wRow = wBase + ci * cOut + g * outPerGroup;
        for (let co = 0; co < outPerGroup; co++) acc[oBase + co] += v * kernel[wRow + co];
      }
    }
  });
  return { acc, shape };
}

/** Σ (x − zx) over each sample's map, per channel, of an NHWC int8 tensor: [N·C] int32 (exact below 2^23 pixels). */
export function globalSumInt8(x: Int8Tensor, zx: number): Int32Array {
  if (x.shape.length !== 4) throw new ShapeError(`int8 global average pool: input must be NHWC, got ${formatShape(x.shape)}`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const sums = new Int32Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < h * w; p++) {
      const base = (b * h * w + p) * c;
      for (let k = 0; k < c; k++) sums[b * c + k] += x.data[base + k] - zx;
    }
  }
  return sums;
}

/**
 * TFLite's int8 average pool: the mean of the window's taps inside the input (the raw q values: parameters are equal in
 * and out), rounded half away from zero, clamped to `range`. The float mean decides the rounding exactly: a quotient
 * of integers over fewer than 2^16 taps is either k + ½ or at least 1/(2·taps) away from it.
 */
export function avgPool2dInt8(x: Int8Tensor, pool: Pool2DParams, range: readonly [number, number]): Int8Tensor {
  const mean = avgPool2d(new Tensor(x.shape, Float32Array.from(x.data)), { ...pool, countIncludePad: false });
  const data = Int8Array.from(mean.data, (v) => saturate(Math.sign(v) * Math.round(Math.abs(v)), range[0], range[1]));
  return { shape: mean.shape, data, params: x.params };
}

/**
 * A step that only moves, pads or picks values (pad, max pools, concat) on int8 tensors of equal parameters: the float
 * kernel on q − zeroPoint, which it computes exactly, shifted back (so padding holds the zero point, real 0).
 */
export function shiftedInt8(inputs: readonly Int8Tensor[], kernel: (xs: Tensor[]) => Tensor, what: string): Int8Tensor {
  const { params } = inputs[0];
  const other = inputs.find((t) => t.params.scale !== params.scale || t.params.zeroPoint !== params.zeroPoint);
  if (other) throw new ShapeError(`${what}: int8 inputs need equal parameters, got scale ${params.scale} zero point ${params.zeroPoint} and scale ${other.params.scale} zero point ${other.params.zeroPoint}`);
  const y = kernel(inputs.map((t) => new Tensor(t.shape, Float32Array.from(t.data, (q) => q - params.zeroPoint))));
  return { shape: y.shape, data: Int8Array.from(y.data, (v) => v + params.zeroPoint), params };
}

/** TFLite's int8 epilogue on accumulators (channels last): y = clamp(z + MBQM(acc + bias[c], multiplier[c], shift[c]), range). */
export function requantizeFixed(acc: Int32Array, bias: Int32Array, r: Requantization): Int8Array {
  const channels = bias.length;
  const perChannel = r.multiplier.length > 1;
  if (acc.length % channels !== 0 || (perChannel && r.multiplier.length !== channels)) {
    throw new ShapeError(`int8 requantize: ${acc.length} accumulators, ${channels} biases and ${r.multiplier.length} multipliers do not agree`);
  }
  const out = new Int8Array(acc.length);
  const [lo, hi] = r.range;
  for (let i = 0; i < acc.length; i++) {
    const c = i % channels;
    const k = perChannel ? c : 0;
    out[i] = saturate(r.zeroPoint + multiplyByQuantizedMultiplier((acc[i] + bias[c]) | 0, r.multiplier[k], r.shift[k]), lo, hi);
  }
  return out;
}

/** TFLite's int8 ADD, element by element (equal lengths): both operands to a common fixed point, summed, requantized. */
export function addFixed(a: Int8Array, b: Int8Array, p: AddRequantization): Int8Array {
  if (a.length !== b.length) throw new ShapeError(`int8 add: operands of ${a.length} and ${b.length} elements differ`);
  const out = new Int8Array(a.length);
  const scale = 2 ** p.leftShift;
  const [lo, hi] = p.range;
  for (let i = 0; i < a.length; i++) {
    const sa = multiplyByQuantizedMultiplier((a[i] - p.a.zeroPoint) * scale, p.a.multiplier, p.a.shift);
    const sb = multiplyByQuantizedMultiplier((b[i] - p.b.zeroPoint) * scale, p.b.multiplier, p.b.shift);
    out[i] = saturate(p.out.zeroPoint + multiplyByQuantizedMultiplier(sa + sb, p.out.multiplier, p.out.shift), lo, hi);
  }
  return out;
}
