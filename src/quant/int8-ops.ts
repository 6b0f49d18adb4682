// Reference int8 kernels: convolution (standard, pointwise, depthwise, grouped; dense is a 1×1 conv) accumulating
// (x − zx)·w exactly in int32, the requantizing epilogue (bias, residual, fused clamp), global average pool and add.

import { ShapeError } from '../errors.js';
import { conv2dOutputShape, forEachWindowTap } from '../ops/conv2d.js';
import { convKind } from '../ops/conv-kind.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import { formatShape } from '../tensor/tensor.js';
import type { QParams } from './qparams.js';
import type { AddRequantization, Requantization } from './fixed-point.js';
import { multiplyByQuantizedMultiplier } from './fixed-point.js';
import { roundHalfEven, saturate } from './qparams.js';

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

/** How int32 accumulators become int8: y = sat(round((acc + bias[c])·multiplier[c] + (r − zr)·residualMultiplier) + zy). */
export interface Requantize {
  /** Int32 bias per output channel, on the accumulator's scale sx·sw[c]. */
  bias: Int32Array;
  /** sx·sw[c] / sy per output channel. */
  multipliers: Float64Array;
  out: QParams;
  /** The fused clamp's int8 interval (the full int8 range without one). */
  range: readonly [number, number];
  /** sr / sy for a fused residual add. */
  residualMultiplier?: number;
}

export function requantize(acc: Int32Array, shape: readonly number[], r: Requantize, residual: Int8Tensor | null): Int8Tensor {
  const channels = r.bias.length;
  if (acc.length % channels !== 0) throw new ShapeError(`int8 requantize: ${acc.length} accumulators do not split into ${channels} channels`);
  if (residual && residual.data.length !== acc.length) {
    throw new ShapeError(`int8 requantize: residual ${formatShape(residual.shape)} does not match output ${formatShape(shape)}`);
  }
  const out = new Int8Array(acc.length);
  const [lo, hi] = r.range;
  const zy = r.out.zeroPoint;
  const rm = r.residualMultiplier ?? 0;
  const zr = residual?.params.zeroPoint ?? 0;
  for (let i = 0; i < acc.length; i++) {
    const c = i % channels;
    let v = (acc[i] + r.bias[c]) * r.multipliers[c];
    if (residual) v += (residual.data[i] - zr) * rm;
    out[i] = saturate(roundHalfEven(v) + zy, lo, hi);
  }
  return { shape, data: out, params: r.out };
}

/** Global average pool of [N, H, W, C] to [N, C]: y = round(Σ(x − zx)·sx / (H·W·sy)) + zy. */
export function globalAvgPoolInt8(x: Int8Tensor, out: QParams): Int8Tensor {
  if (x.shape.length !== 4) throw new ShapeError(`int8 global average pool: input must be NHWC, got ${formatShape(x.shape)}`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const y = new Int8Array(n * c);
  const sums = new Int32Array(c);
  const m = x.params.scale / (h * w * out.scale);
  for (let b = 0; b < n; b++) {
    sums.fill(0);
    for (let p = 0; p < h * w; p++) {
      const base = (b * h * w + p) * c;
      for (let k = 0; k < c; k++) sums[k] += x.data[base + k] - x.params.zeroPoint;
    }
    for (let k = 0; k < c; k++) y[b * c + k] = saturate(roundHalfEven(sums[k] * m) + out.zeroPoint);
  }
  return { shape: [n, c], data: y, params: out };
}

/** Element-wise a + b (either may be null: a rescale alone), then a clamp interval: y = sat(round(Σ (q − z)·s / sy) + zy). */
export function addInt8(a: Int8Tensor, b: Int8Tensor | null, out: QParams, range: readonly [number, number]): Int8Tensor {
  if (b && b.data.length !== a.data.length) throw new ShapeError(`int8 add: operands ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
  const y = new Int8Array(a.data.length);
  const ma = a.params.scale / out.scale;
  const mb = b ? b.params.scale / out.scale : 0;
  for (let i = 0; i < y.length; i++) {
    let v = (a.data[i] - a.params.zeroPoint) * ma;
    if (b) v += (b.data[i] - b.params.zeroPoint) * mb;
    y[i] = saturate(roundHalfEven(v) + out.zeroPoint, range[0], range[1]);
  }
  return { shape: a.shape, data: y, params: out };
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
