// What kind a convolution is (pointwise, depthwise, standard, grouped), decided once from its kernel shape and
// geometry: the one rule that fusion, the WebAssembly and int8 kernels and the cost model all use.

import type { Conv2DParams } from './conv2d.js';

/**
 * - `pointwise`: 1×1, one group, stride 1, no padding — a matrix product over pixels (dilation cannot move one tap);
 * - `depthwise`: one input and one output channel per group (groups = channels, depth multiplier 1);
 * - `grouped`: any other convolution with more than one group (a depth multiplier above 1 among them);
 * - `standard`: any other one-group convolution (a strided or padded 1×1 too: its window is not the pixel).
 */
export type ConvKind = 'pointwise' | 'depthwise' | 'standard' | 'grouped';

/** The kind of a convolution with HWIO kernel `[kh, kw, Cin/groups, Cout]` and geometry `p`. */
export function convKind(kernelShape: readonly number[], p: Conv2DParams): ConvKind {
  const [kh, kw, cPerGroup, cOut] = kernelShape;
  const unitStride = p.strides[0] === 1 && p.strides[1] === 1;
  if (p.groups === 1 && kh === 1 && kw === 1 && unitStride && p.padding.every((v) => v === 0)) return 'pointwise';
  if (cPerGroup === 1 && cOut === p.groups) return 'depthwise';
  return p.groups === 1 ? 'standard' : 'grouped';
}
