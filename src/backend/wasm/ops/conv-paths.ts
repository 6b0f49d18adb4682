// Which wasm path a convolution takes in the ops backend (GEMM, depthwise kernel, direct or im2col convolution,
// or the reference), and the kernel specs and cache keys those paths are built from.

import type { Conv2DParams } from '../../../ops/conv2d.js';
import { conv2dOutputShape } from '../../../ops/conv2d.js';
import { convKind } from '../../../ops/conv-kind.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { sameShape } from '../../../tensor/tensor.js';
import type { DepthwiseSpec } from '../kernels/depthwise.js';
import type { Im2colSpec } from '../kernels/im2col.js';

/** Taps per output pixel up to which an undilated groups-1 convolution runs on the direct (unrolled) kernel; im2col beyond, and for any dilated one. */
export const DIRECT_CONV_TAPS = 64;

type ConvPath = 'pointwise' | 'depthwise' | 'general' | 'reference';

/**
 * Which wasm path a convolution takes, from its kind (convKind): empty convolutions and grouped ones other than
 * depthwise run on the reference; shapes must already be checked by `conv2dOutputShape`.
 */
export function convPath(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): ConvPath {
  const [n, , , c] = xShape;
  const cout = kernelShape[3];
  if (n === 0 || c === 0 || cout === 0) return 'reference';
  switch (convKind(kernelShape, p)) {
    case 'pointwise':
      return 'pointwise';
    case 'standard':
      return 'general';
    case 'depthwise':
      return cout === c ? 'depthwise' : 'reference';
    default:
      return 'reference';
  }
}

/** Whether a backward call's shapes are consistent (the reference reports the error otherwise). */
export function gradientFits(dy: Tensor, xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): boolean {
  try {
    const out = conv2dOutputShape(xShape, kernelShape, null, p);
    return sameShape(dy.shape, out);
  } catch {
    return false;
  }
}

export function depthwiseSpec(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): DepthwiseSpec {
  return { height: xShape[1], width: xShape[2], channels: xShape[3], kernel: [kernelShape[0], kernelShape[1]], strides: p.strides, dilations: p.dilations, padding: p.padding };
}

export function im2colSpec(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): Im2colSpec {
  return { height: xShape[1], width: xShape[2], cin: xShape[3], kernel: [kernelShape[0], kernelShape[1]], strides: p.strides, dilations: p.dilations, padding: p.padding };
}

/** A cache key from a spec's own fields, in a fixed order. */
export function specKey(spec: object): string {
  return JSON.stringify(spec, Object.keys(spec).sort());
}
