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

export function conv2d(x: Tensor, kernel: Tensor, bias: Float32Array | null, p: Conv2DParams): Tensor {
  const [n, oh, ow, cOut] = conv2dOutputShape(x.shape, kernel.shape, bias, p);
  const [, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw, cPerGroup] = kernel.shape as [number, number, number, number];
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const [padTop, , padLeft] = p.padding;
  const groups = p.groups;
  const outPerGroup = cOut / groups;
  const xd = x.data;
  const wd = kernel.data;
  const out = new Float32Array(n * oh * ow * cOut);
  // accumulate each output pixel in float64, round once: the reference is as exact as float32 storage allows
  const acc = new Float64Array(cOut);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        if (bias) acc.set(bias);
        else acc.fill(0);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * c;
            const wBase = (ky * kw + kx) * cPerGroup * cOut;
            // inner loop runs over the group's output channels, contiguous in both kernel and output
            for (let g = 0; g < groups; g++) {
              const oBase = g * outPerGroup;
              for (let ci = 0; ci < cPerGroup; ci++) {
                const v = xd[xBase + g * cPerGroup + ci];
                const wRow = wBase + ci * cOut + g * outPerGroup;
                for (let co = 0; co < outPerGroup; co++) acc[oBase + co] += v * wd[wRow + co];
              }
            }
          }
        }
        out.set(acc, ((b * oh + oy) * ow + ox) * cOut);
      }
    }
  }
  return new Tensor([n, oh, ow, cOut], out);
}

/**
 * dL/dx of y = conv2d(x, kernel): each output gradient is scattered back through the kernel taps
 * that produced it. Same loop order as the forward, so the inner loop runs over a group's output
 * channels, contiguous in both `dy` and the kernel; each tap is a dot product summed in float64.
 */
export function conv2dBackwardInput(dy: Tensor, kernel: Tensor, xShape: readonly number[], p: Conv2DParams): Tensor {
  const [n, oh, ow, cOut] = conv2dOutputShape(xShape, kernel.shape, null, p, 'conv2dBackwardInput');
  if (dy.rank !== 4 || dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== cOut) {
    throw new ShapeError(`conv2dBackwardInput: output gradient ${formatShape(dy.shape)} does not match the output [${n}, ${oh}, ${ow}, ${cOut}]`);
  }
  const [, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, cPerGroup] = kernel.shape as [number, number, number, number];
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const [padTop, , padLeft] = p.padding;
  const groups = p.groups;
  const outPerGroup = cOut / groups;
  const gd = dy.data;
  const wd = kernel.data;
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const gBase = ((b * oh + oy) * ow + ox) * cOut;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * c;
            const wBase = (ky * kw + kx) * cPerGroup * cOut;
            for (let g = 0; g < groups; g++) {
              const oBase = gBase + g * outPerGroup;
              for (let ci = 0; ci < cPerGroup; ci++) {
                const wRow = wBase + ci * cOut + g * outPerGroup;
                let sum = 0;
                for (let co = 0; co < outPerGroup; co++) sum += gd[oBase + co] * wd[wRow + co];
                dx[xBase + g * cPerGroup + ci] += sum;
              }
            }
          }
        }
      }
    }
  }
  return new Tensor(xShape, dx);
}

/**
 * dL/dkernel of y = conv2d(x, kernel), HWIO like the kernel: the correlation of the input with the
 * output gradient over batch and positions, accumulated in float64 (N·OH·OW terms per weight).
 */
export function conv2dBackwardKernel(x: Tensor, dy: Tensor, kernelShape: readonly number[], p: Conv2DParams): Tensor {
  const [n, oh, ow, cOut] = conv2dOutputShape(x.shape, kernelShape, null, p, 'conv2dBackwardKernel');
  if (dy.rank !== 4 || dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== cOut) {
    throw new ShapeError(`conv2dBackwardKernel: output gradient ${formatShape(dy.shape)} does not match the output [${n}, ${oh}, ${ow}, ${cOut}]`);
  }
  const [, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw, cPerGroup] = kernelShape as [number, number, number, number];
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const [padTop, , padLeft] = p.padding;
  const groups = p.groups;
  const outPerGroup = cOut / groups;
  const xd = x.data;
  const gd = dy.data;
  const acc = new Float64Array(kh * kw * cPerGroup * cOut);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const gBase = ((b * oh + oy) * ow + ox) * cOut;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * c;
            const wBase = (ky * kw + kx) * cPerGroup * cOut;
            for (let g = 0; g < groups; g++) {
              const oBase = gBase + g * outPerGroup;
              for (let ci = 0; ci < cPerGroup; ci++) {
                const v = xd[xBase + g * cPerGroup + ci];
                const wRow = wBase + ci * cOut + g * outPerGroup;
                for (let co = 0; co < outPerGroup; co++) acc[wRow + co] += v * gd[oBase + co];
              }
            }
          }
        }
      }
    }
  }
  return new Tensor(kernelShape, Float32Array.from(acc));
}
