// Reference bilinear resize of channels-last images in the coordinate conventions real files use, and its
// backward: one walk of the four taps per output pixel, shared by image preprocessing and the Resize layer.

import { ConfigError, ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

/**
 * Where output pixel i samples the input, for an input of n and an output of m pixels:
 * - `half-pixel`: (i + ½)·n/m − ½, clamped at 0 (torch `align_corners=False`, TF2 `tf.image.resize`, Keras, OpenCV);
 * - `align-corners`: i·(n − 1)/(m − 1), corners to corners (torch `align_corners=True`, tfjs `alignCorners: true`);
 * - `asymmetric`: i·n/m (TF1 and tfjs `resizeBilinear` defaults).
 * A position past the last pixel reads the last pixel (edge clamping, as all of them do).
 */
export type ResizeCoordinates = 'half-pixel' | 'align-corners' | 'asymmetric';

export const RESIZE_COORDINATES: readonly ResizeCoordinates[] = ['half-pixel', 'align-corners', 'asymmetric'];

/** The two source indices output pixels of one axis read, and the weight of the second. */
export interface AxisTaps {
  low: Int32Array;
  high: Int32Array;
  weight: Float64Array;
}

/** The taps of each of `target` output pixels along an axis of `source` pixels (shared with the wasm kernels' tables). */
export function axisTaps(source: number, target: number, coordinates: ResizeCoordinates): AxisTaps {
  const taps = { low: new Int32Array(target), high: new Int32Array(target), weight: new Float64Array(target) };
  const scale = coordinates === 'align-corners' ? (target > 1 ? (source - 1) / (target - 1) : 0) : source / target;
  for (let i = 0; i < target; i++) {
    const position = coordinates === 'half-pixel' ? Math.max(0, ((i + 0.5) * source) / target - 0.5) : i * scale;
    const low = Math.min(Math.floor(position), source - 1);
    taps.low[i] = low;
    taps.high[i] = Math.min(low + 1, source - 1);
    taps.weight[i] = position - low;
  }
  return taps;
}

/**
 * Calls `visit` for each output pixel of one [height, width, channels] image resized to `size`: the output's
 * offset, the offsets of the four input pixels it reads (top-left, top-right, bottom-left, bottom-right) and
 * the weights of the right and bottom ones.
 */
function forEachOutputPixel(
  [height, width, channels]: readonly [number, number, number],
  [targetHeight, targetWidth]: readonly [number, number],
  coordinates: ResizeCoordinates,
  visit: (out: number, a: number, b: number, c: number, d: number, wx: number, wy: number) => void,
): void {
  const rows = axisTaps(height, targetHeight, coordinates);
  const columns = axisTaps(width, targetWidth, coordinates);
  for (let y = 0; y < targetHeight; y++) {
    const top = rows.low[y] * width;
    const bottom = rows.high[y] * width;
    for (let x = 0; x < targetWidth; x++) {
      const left = columns.low[x];
      const right = columns.high[x];
      visit((y * targetWidth + x) * channels, (top + left) * channels, (top + right) * channels, (bottom + left) * channels, (bottom + right) * channels, columns.weight[x], rows.weight[y]);
    }
  }
}

/**
 * Bilinear resize of one HWC image into `out` (height·width·channels values in, the target's out), no
 * antialiasing and no checks: callers check the sizes (a non-empty image, a positive integer target).
 */
export function resizeBilinearPixels(pixels: ArrayLike<number>, shape: readonly [number, number, number], size: readonly [number, number], coordinates: ResizeCoordinates, out: Float32Array): Float32Array {
  const channels = shape[2];
  forEachOutputPixel(shape, size, coordinates, (o, a, b, c, d, wx, wy) => {
    for (let ch = 0; ch < channels; ch++) {
      const upper = pixels[a + ch] + (pixels[b + ch] - pixels[a + ch]) * wx;
      const lower = pixels[c + ch] + (pixels[d + ch] - pixels[c + ch]) * wx;
      out[o + ch] = upper + (lower - upper) * wy;
    }
  });
  return out;
}

/** Throws a ShapeError or ConfigError naming `what` unless NHWC `shape` resizes to `size` in `coordinates`. */
export function checkResize(what: string, shape: readonly number[], size: readonly [number, number], coordinates: ResizeCoordinates): void {
  if (shape.length !== 4) throw new ShapeError(`${what}: input must be NHWC rank 4, got ${formatShape(shape)}`);
  if (!(Number.isInteger(shape[1]) && Number.isInteger(shape[2]) && shape[1] >= 1 && shape[2] >= 1)) throw new ShapeError(`${what}: cannot resize an empty ${shape[1]}×${shape[2]} image (${formatShape(shape)})`);
  if (!size.every((s) => Number.isInteger(s) && s >= 1)) throw new ConfigError(`${what}: target size must be positive integers [height, width], got [${size.join(', ')}]`);
  checkResizeCoordinates(what, coordinates);
}

/** Throws a ConfigError naming `what` unless `coordinates` is one of the conventions. */
export function checkResizeCoordinates(what: string, coordinates: ResizeCoordinates): void {
  if (!RESIZE_COORDINATES.includes(coordinates)) throw new ConfigError(`${what}: coordinates must be one of ${RESIZE_COORDINATES.join(', ')}, got ${JSON.stringify(coordinates)}`);
}

/** Bilinear resize of an NHWC batch to [height, width] = `size`, each image as resizeBilinearPixels does it. */
export function resizeBilinear2d(x: Tensor, size: readonly [number, number], coordinates: ResizeCoordinates = 'half-pixel'): Tensor {
  checkResize('resizeBilinear2d', x.shape, size, coordinates);
  const [n, h, w, c] = x.shape;
  const [th, tw] = size;
  const out = new Float32Array(n * th * tw * c);
  for (let b = 0; b < n; b++) {
    resizeBilinearPixels(x.data.subarray(b * h * w * c, (b + 1) * h * w * c), [h, w, c], size, coordinates, out.subarray(b * th * tw * c, (b + 1) * th * tw * c));
  }
  return new Tensor([n, th, tw, c], out);
}

/** dL/dx of resizeBilinear2d: each output gradient goes back to its four input pixels, by their weights. */
export function resizeBilinear2dBackward(dy: Tensor, inputSize: readonly [number, number], coordinates: ResizeCoordinates = 'half-pixel'): Tensor {
  if (dy.rank !== 4) throw new ShapeError(`resizeBilinear2dBackward: gradient must be NHWC rank 4, got ${formatShape(dy.shape)}`);
  const [n, th, tw, c] = dy.shape;
  checkResize('resizeBilinear2dBackward', [n, ...inputSize, c], [th, tw], coordinates);
  const [h, w] = inputSize;
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    const from = b * th * tw * c;
    const to = b * h * w * c;
    forEachOutputPixel([h, w, c], [th, tw], coordinates, (o, topLeft, topRight, bottomLeft, bottomRight, wx, wy) => {
      for (let ch = 0; ch < c; ch++) {
        const g = dy.data[from + o + ch];
        dx[to + topLeft + ch] += g * (1 - wx) * (1 - wy);
        dx[to + topRight + ch] += g * wx * (1 - wy);
        dx[to + bottomLeft + ch] += g * (1 - wx) * wy;
        dx[to + bottomRight + ch] += g * wx * wy;
      }
    });
  }
  return new Tensor([n, h, w, c], dx);
}
