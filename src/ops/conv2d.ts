// Reference 2-D convolution, NHWC activations and HWIO kernels: any kernel size, stride, dilation,
// groups (depthwise = groups equal to channels, with a depth multiplier) and explicit padding; forward and backward.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { Padding4 } from './geometry.js';
import { windowOutputSize } from './geometry.js';

export interface Conv2DParams {
  strides: readonly [number, number];
  dilations: readonly [number, number];
  /** Explicit [top, bottom, left, right]; resolve named modes with `resolvePadding` first. */
  padding: Padding4;
  groups: number;
}

/** Checks operand shapes and returns the output shape [N, OH, OW, Cout]. */
export function conv2dOutputShape(xShape: readonly number[], wShape: readonly number[], bias: Float32Array | null, p: Conv2DParams, what = 'conv2d'): [number, number, number, number] {
  if (xShape.length !== 4) throw new ShapeError(`${what}: input must be NHWC rank 4, got ${formatShape(xShape)}`);
  if (wShape.length !== 4) throw new ShapeError(`${what}: kernel must be HWIO rank 4 [kh, kw, Cin/groups, Cout], got ${formatShape(wShape)}`);
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, cPerGroup, cOut] = wShape as [number, number, number, number];
  const g = p.groups;
  if (!Number.isInteger(g) || g < 1 || c % g !== 0 || cOut % g !== 0) {
    throw new ShapeError(`${what}: groups ${g} must divide input channels ${c} and output channels ${cOut}`);
  }
  if (cPerGroup * g !== c) {
    throw new ShapeError(`${what}: kernel ${formatShape(wShape)} expects ${cPerGroup * g} input channels (${cPerGroup} per group × ${g} groups), input ${formatShape(xShape)} has ${c}`);
  }
  if (bias && bias.length !== cOut) throw new ShapeError(`${what}: bias has ${bias.length} values, expected ${cOut}`);
  const [oh, ow] = windowOutputSize(h, w, p.padding, { kernel: [kh, kw], strides: p.strides, dilations: p.dilations }, what);
  return [n, oh, ow, cOut];
}

/**
 * Visits every in-bounds window tap of a convolution, in output-pixel order: `pixel` numbers the output pixel
 * (batch, row, column order), `tap` is ky·kw + kx, `at` the input pixel (batch, row, column order) the tap reads.
 * Taps in the padding are skipped; `pixelDone`, when given, runs after each output pixel's taps (every pixel,
 * even one whose window lies wholly in the padding). The one window walk of the float and int8 references.
 */
export function forEachWindowTap(xShape: readonly number[], outShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams, visit: (pixel: number, tap: number, at: number) => void, pixelDone?: (pixel: number) => void): void {
  const [n, oh, ow] = outShape;
  const [, h, w] = xShape;
  const [kh, kw] = kernelShape;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const [padTop, , padLeft] = p.padding;
  let pixel = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, pixel++) {
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx * dw;
            if (ix >= 0 && ix < w) visit(pixel, ky * kw + kx, (b * h + iy) * w + ix);
          }
        }
        pixelDone?.(pixel);
      }
    }
  }
}

/** Checks the output gradient's shape against the convolution's output [N, OH, OW, Cout]. */
function checkOutputGradient(dy: Tensor, outShape: readonly number[], what: string): void {
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== outShape[i])) {
    throw new ShapeError(`${what}: output gradient ${formatShape(dy.shape)} does not match the output ${formatShape(outShape)}`);
  }
}

export function conv2d(x: Tensor, kernel: Tensor, bias: Float32Array | null, p: Conv2DParams): Tensor {
  const shape = conv2dOutputShape(x.shape, kernel.shape, bias, p);
  const cOut = shape[3];
  const c = x.shape[3]!;
  const cPerGroup = kernel.shape[2]!;
  const xd = x.data;
  const wd = kernel.data;
  const out = new Float32Array(shape[0] * shape[1] * shape[2] * cOut);
  // accumulate each output pixel in float64, round once: the reference is as exact as float32 storage allows
  const acc = new Float64Array(cOut);
  const startPixel = (): void => {
    if (bias) acc.set(bias);
    else acc.fill(0);
  };
  startPixel();
  forEachWindowTap(x.shape, shape, kernel.shape, p, (_pixel, tap, at) => multiplyAddTap(acc, 0, 0, xd, at * c, wd, tap * cPerGroup * cOut, cOut, cPerGroup, cOut, p.groups), (pixel) => {
    out.set(acc, pixel * cOut);
    startPixel();
  });
  return new Tensor(shape, out);
}

/**
 * dL/dx of y = conv2d(x, kernel): each output gradient is scattered back through the kernel taps
 * that produced it, on the forward's walk; each tap is a dot product summed in float64.
 */
export function conv2dBackwardInput(dy: Tensor, kernel: Tensor, xShape: readonly number[], p: Conv2DParams): Tensor {
  const shape = conv2dOutputShape(xShape, kernel.shape, null, p, 'conv2dBackwardInput');
  checkOutputGradient(dy, shape, 'conv2dBackwardInput');
  const [n, h, w, c] = xShape as [number, number, number, number];
  const cOut = shape[3];
  const cPerGroup = kernel.shape[2]!;
  const gd = dy.data;
  const wd = kernel.data;
  const dx = new Float32Array(n * h * w * c);
  forEachWindowTap(xShape, shape, kernel.shape, p, (pixel, tap, at) => scatterTap(dx, at * c, gd, pixel * cOut, wd, tap * cPerGroup * cOut, cPerGroup, cOut, p.groups));
  return new Tensor(xShape, dx);
}

/**
 * dL/dkernel of y = conv2d(x, kernel), HWIO like the kernel: the correlation of the input with the
 * output gradient over batch and positions, accumulated in float64 (N·OH·OW terms per weight).
 */
export function conv2dBackwardKernel(x: Tensor, dy: Tensor, kernelShape: readonly number[], p: Conv2DParams): Tensor {
  const shape = conv2dOutputShape(x.shape, kernelShape, null, p, 'conv2dBackwardKernel');
  checkOutputGradient(dy, shape, 'conv2dBackwardKernel');
  const c = x.shape[3]!;
  const cOut = shape[3];
  const [kh, kw, cPerGroup] = kernelShape as [number, number, number, number];
  const xd = x.data;
  const gd = dy.data;
  const acc = new Float64Array(kh * kw * cPerGroup * cOut);
  forEachWindowTap(x.shape, shape, kernelShape, p, (pixel, tap, at) => multiplyAddTap(acc, tap * cPerGroup * cOut, cOut, xd, at * c, gd, pixel * cOut, 0, cPerGroup, cOut, p.groups));
  return new Tensor(kernelShape, Float32Array.from(acc));
}

// The work of one window tap. Plain functions of their operands, not closures over them: V8 keeps the operands in
// registers then, and the walk's callbacks stay thin (closures capturing the arrays ran the reference ~1.5× slower).
// Each inner loop runs over a group's output channels, contiguous in the kernel, the output and its gradient.

/**
 * dst[dstAt + ci·dstStride + co] += x[xAt + ci] · src[srcAt + ci·srcStride + co] over each group's channels: the
 * forward (dst the output pixel, stride 0; src the kernel tap) and the kernel gradient (dst the kernel tap; src the
 * output gradient, stride 0).
 */
function multiplyAddTap(dst: Float64Array, dstAt: number, dstStride: number, x: Float32Array, xAt: number, src: Float32Array, srcAt: number, srcStride: number, cPerGroup: number, cOut: number, groups: number): void {
  const outPerGroup = cOut / groups;
  for (let g = 0; g < groups; g++) {
    const oBase = g * outPerGroup;
    for (let ci = 0; ci < cPerGroup; ci++) {
      const v = x[xAt + g * cPerGroup + ci];
      const dstRow = dstAt + ci * dstStride + oBase;
      const srcRow = srcAt + ci * srcStride + oBase;
      for (let co = 0; co < outPerGroup; co++) dst[dstRow + co] += v * src[srcRow + co];
    }
  }
}

/** Backward to the input: dx[dxAt + ci] += Σ dy[dyAt + co] · w[wAt + ci·cOut + co] over each group's channels. */
function scatterTap(dx: Float32Array, dxAt: number, dy: Float32Array, dyAt: number, w: Float32Array, wAt: number, cPerGroup: number, cOut: number, groups: number): void {
  const outPerGroup = cOut / groups;
  for (let g = 0; g < groups; g++) {
    const oBase = g * outPerGroup;
    for (let ci = 0; ci < cPerGroup; ci++) {
      const wRow = wAt + ci * cOut + oBase;
      let sum = 0;
      for (let co = 0; co < outPerGroup; co++) sum += dy[dyAt + oBase + co] * w[wRow + co];
      dx[dxAt + g * cPerGroup + ci] += sum;
    }
  }
}
