// Reference pooling over NHWC activations: global average/max (to [N, C]) and windowed
// average/max pooling with explicit padding; the backward of each.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';
import type { Padding4, Window2D } from './geometry.js';
import { checkPoolPadding, windowOutputSize } from './geometry.js';

function spatial(x: Tensor, what: string): [number, number, number, number] {
  if (x.rank !== 4) throw new ShapeError(`${what}: input must be NHWC rank 4, got ${formatShape(x.shape)}`);
  return x.shape as unknown as [number, number, number, number];
}

export function globalAvgPool(x: Tensor): Tensor {
  const [n, h, w, c] = spatial(x, 'globalAvgPool');
  const out = new Float32Array(n * c);
  const acc = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    acc.fill(0);
    const base = b * h * w * c;
    for (let p = 0; p < h * w; p++) {
      const o = base + p * c;
      for (let i = 0; i < c; i++) acc[i] += x.data[o + i];
    }
    for (let i = 0; i < c; i++) out[b * c + i] = acc[i] / (h * w);
  }
  return new Tensor([n, c], out);
}

export function globalMaxPool(x: Tensor): Tensor {
  const [n, h, w, c] = spatial(x, 'globalMaxPool');
  const out = new Float32Array(n * c).fill(-Infinity);
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let p = 0; p < h * w; p++) {
      const o = base + p * c;
      for (let i = 0; i < c; i++) {
        const v = x.data[o + i];
        // NaN wins, as in torch.amax
        if (v > out[b * c + i] || v !== v) out[b * c + i] = v;
      }
    }
  }
  return new Tensor([n, c], out);
}

export interface Pool2DParams extends Window2D {
  padding: Padding4;
  /** Average pooling only: divide by the full window (torch default) or only by the pixels inside the input (Keras/TF). */
  countIncludePad: boolean;
}

function pool2d(x: Tensor, p: Pool2DParams, mode: 'avg' | 'max'): Tensor {
  const what = mode === 'avg' ? 'avgPool2d' : 'maxPool2d';
  const [n, h, w, c] = spatial(x, what);
  checkPoolPadding(p.padding, p, what);
  const [oh, ow] = windowOutputSize(h, w, p.padding, p, what);
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const out = new Float32Array(n * oh * ow * c);
  const acc = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        acc.fill(mode === 'avg' ? 0 : -Infinity);
        let inside = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - p.padding[0] + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - p.padding[2] + kx * dw;
            if (ix < 0 || ix >= w) continue;
            inside++;
            const o = ((b * h + iy) * w + ix) * c;
            if (mode === 'avg') for (let i = 0; i < c; i++) acc[i] += x.data[o + i];
            else
              for (let i = 0; i < c; i++) {
                const v = x.data[o + i];
                if (v > acc[i] || v !== v) acc[i] = v;
              }
          }
        }
        const o = ((b * oh + oy) * ow + ox) * c;
        if (mode === 'max') out.set(acc, o);
        else {
          // torch clips the divisor window to the padded input; with symmetric valid padding that is kh·kw
          const divisor = p.countIncludePad ? windowInPadded(oy, ox, h, w, p) : inside;
          for (let i = 0; i < c; i++) out[o + i] = acc[i] / divisor;
        }
      }
    }
  }
  return new Tensor([n, oh, ow, c], out);
}

/** Number of window positions that fall inside the padded input (torch's count_include_pad divisor). */
function windowInPadded(oy: number, ox: number, h: number, w: number, p: Pool2DParams): number {
  const count = (o: number, s: number, before: number, size: number, after: number, k: number, d: number): number => {
    let m = 0;
    for (let j = 0; j < k; j++) {
      const i = o * s - before + j * d;
      if (i >= -before && i < size + after) m++;
    }
    return m;
  };
  return (
    count(oy, p.strides[0], p.padding[0], h, p.padding[1], p.kernel[0], p.dilations[0]) *
    count(ox, p.strides[1], p.padding[2], w, p.padding[3], p.kernel[1], p.dilations[1])
  );
}

export function avgPool2d(x: Tensor, p: Pool2DParams): Tensor {
  return pool2d(x, p, 'avg');
}

export function maxPool2d(x: Tensor, p: Pool2DParams): Tensor {
  return pool2d(x, p, 'max');
}

function expectGradient(dy: Tensor, shape: readonly number[], what: string): void {
  if (!sameShape(dy.shape, shape)) throw new ShapeError(`${what}: gradient ${formatShape(dy.shape)} does not match the output ${formatShape(shape)}`);
}

/** dL/dx of globalAvgPool: each pixel gets its channel's gradient divided by H·W. */
export function globalAvgPoolBackward(dy: Tensor, xShape: readonly number[]): Tensor {
  const [n, h, w, c] = xShape as [number, number, number, number];
  expectGradient(dy, [n, c], 'globalAvgPoolBackward');
  const dx = new Float32Array(n * h * w * c);
  const area = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * area * c;
    for (let p = 0; p < area; p++) for (let i = 0; i < c; i++) dx[base + p * c + i] = dy.data[b * c + i] / area;
  }
  return new Tensor(xShape, dx);
}

/** dL/dx of globalMaxPool: the gradient shared evenly by the pixels equal to the maximum (torch.amax, tf.reduce_max). */
export function globalMaxPoolBackward(dy: Tensor, x: Tensor): Tensor {
  const [n, h, w, c] = spatial(x, 'globalMaxPoolBackward');
  expectGradient(dy, [n, c], 'globalMaxPoolBackward');
  const max = globalMaxPool(x).data;
  const ties = new Float64Array(c);
  const dx = new Float32Array(x.size);
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    ties.fill(0);
    for (let o = base; o < base + h * w * c; o += c) for (let i = 0; i < c; i++) if (x.data[o + i] === max[b * c + i]) ties[i]++;
    for (let o = base; o < base + h * w * c; o += c) {
      for (let i = 0; i < c; i++) if (x.data[o + i] === max[b * c + i]) dx[o + i] = dy.data[b * c + i] / ties[i];
    }
  }
  return new Tensor(x.shape, dx);
}

/** dL/dx of avgPool2d: each output gradient spread over its window with the forward's divisor. */
export function avgPool2dBackward(dy: Tensor, xShape: readonly number[], p: Pool2DParams): Tensor {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [oh, ow] = windowOutputSize(h, w, p.padding, p, 'avgPool2dBackward');
  expectGradient(dy, [n, oh, ow, c], 'avgPool2dBackward');
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let inside = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - p.padding[0] + ky * dh;
          if (iy >= 0 && iy < h) for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - p.padding[2] + kx * dw;
            if (ix >= 0 && ix < w) inside++;
          }
        }
        const divisor = p.countIncludePad ? windowInPadded(oy, ox, h, w, p) : inside;
        const g = ((b * oh + oy) * ow + ox) * c;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - p.padding[0] + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - p.padding[2] + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const o = ((b * h + iy) * w + ix) * c;
            for (let i = 0; i < c; i++) dx[o + i] += dy.data[g + i] / divisor;
          }
        }
      }
    }
  }
  return new Tensor(xShape, dx);
}

/** dL/dx of maxPool2d: each output gradient goes to the pixel the forward picked (the first maximum, as torch). */
export function maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2DParams): Tensor {
  const [n, h, w, c] = spatial(x, 'maxPool2dBackward');
  const [oh, ow] = windowOutputSize(h, w, p.padding, p, 'maxPool2dBackward');
  expectGradient(dy, [n, oh, ow, c], 'maxPool2dBackward');
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const best = new Float64Array(c);
  const at = new Int32Array(c);
  const dx = new Float32Array(x.size);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        best.fill(-Infinity);
        at.fill(-1);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - p.padding[0] + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - p.padding[2] + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const o = ((b * h + iy) * w + ix) * c;
            for (let i = 0; i < c; i++) {
              const v = x.data[o + i];
              // the forward's rule: a larger value or a NaN takes over; -∞ everywhere still picks the first pixel
              if (v > best[i] || v !== v || at[i] < 0) {
                best[i] = v;
                at[i] = o + i;
              }
            }
          }
        }
        const g = ((b * oh + oy) * ow + ox) * c;
        for (let i = 0; i < c; i++) dx[at[i]] += dy.data[g + i];
      }
    }
  }
  return new Tensor(x.shape, dx);
}
