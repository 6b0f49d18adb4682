// A segmenter small enough to work by hand, for the segment API, CLI and page tests: per pixel, class scores
// background 0.5, bright (r + g + b)/3, red 2r − g − b − 0.5 (pixels 0..1), and the images whose masks are worked out.

import { Model } from '../../src/graph/model.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { ArgMax } from '../../src/nn/argmax.js';
import { Conv2D } from '../../src/nn/conv.js';
import { input } from '../../src/nn/core.js';
import { Resize } from '../../src/nn/resize.js';
import { Tensor } from '../../src/tensor/tensor.js';

export const TINY_CLASSES = ['background', 'bright', 'red'];
/** Not VOC's colours, so that a test sees the file's palette used. */
export const TINY_PALETTE: [number, number, number][] = [[0, 0, 64], [0, 255, 0], [255, 0, 255]];
export const WHITE = [255, 255, 255];
export const RED = [255, 0, 0];
export const BLACK = [0, 0, 0];

/** The scores of one pixel of 0..255 values: [background, bright, red]. */
export function tinyScores([r, g, b]: readonly number[]): number[] {
  const [ur, ug, ub] = [r / 255, g / 255, b / 255];
  return [0.5, (ur + ug + ub) / 3, 2 * ur - ug - ub - 0.5];
}

export interface TinyOptions {
  /** A 2×2 stride-2 convolution (each tap a quarter of the 1×1 weights: the block's mean) and a bilinear Resize back to 8×8. */
  stride2?: boolean;
  /** An ArgMax over the classes at the end (labels [8, 8] out), as TF.js DeepLab graphs have it. */
  argmax?: boolean;
}

/** The per-pixel scores as a 1×1 convolution on an 8×8 input: `[8, 8, 3]` out (see TinyOptions for the variants). */
export function tinySegmenter({ stride2 = false, argmax = false }: TinyOptions = {}): Model {
  const x = input([8, 8, 3]);
  const conv = new Conv2D('scores', stride2 ? { kernelSize: 2, strides: 2, filters: 3 } : { kernelSize: 1, filters: 3 });
  const y = stride2 ? new Resize('upsample', { size: [8, 8] }).apply(conv.apply(x)) : conv.apply(x);
  const model = new Model(x, argmax ? new ArgMax('labels').apply(y) : y, { name: `tiny_segmenter${stride2 ? '_os2' : ''}${argmax ? '_argmax' : ''}` });
  const taps = stride2 ? 4 : 1;
  // kernel [kh, kw, in, out]: out 1 (bright) = mean of r, g, b; out 2 (red) = 2r − g − b
  const perTap = [
    [0, 1 / 3, 2],
    [0, 1 / 3, -1],
    [0, 1 / 3, -1],
  ];
  const kernel = new Float32Array(taps * 9);
  for (let t = 0; t < taps; t++) for (let i = 0; i < 3; i++) for (let o = 0; o < 3; o++) kernel[t * 9 + i * 3 + o] = perTap[i][o] / taps;
  const k = stride2 ? 2 : 1;
  model.setWeights(new Map([
    ['scores.kernel', new Tensor([k, k, 3, 3], kernel)],
    ['scores.bias', new Tensor([3], Float32Array.from([0.5, 0, -0.5]))],
  ]));
  return model;
}

/** The segmenter (see tinySegmenter) as our model file, with its class names, palette (extra.palette) and 0..1 pixels. */
export function tinySegmenterFile(options: TinyOptions = {}): Uint8Array {
  return encodeModelFile(tinySegmenter(options), { classNames: TINY_CLASSES, preprocessing: { pixels: 'unit' }, extra: { palette: TINY_PALETTE } });
}

/** RGB pixels of `width`×`height` coloured by `colourAt(x, y)`. */
export function paint(width: number, height: number, colourAt: (x: number, y: number) => readonly number[]): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colourAt(x, y), (y * width + x) * 3);
  return { data, width, height };
}

/**
 * 16×16: white on the left (x < 8), red on the right, black in the bottom four rows. Fitted to 8×8 (each 2×2 block
 * averaged) and the scores resized back, every pixel keeps its own region's class (worked out in the tests).
 */
export function sceneImage(): { data: Uint8Array; width: number; height: number } {
  return paint(16, 16, (x, y) => (y >= 12 ? BLACK : x < 8 ? WHITE : RED));
}

/** The label each pixel of sceneImage has: background (black), bright (white), red. */
export function sceneLabels(width = 16, height = 16): Uint8Array {
  const labels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) labels[y * width + x] = y >= (height * 3) / 4 ? 0 : x < width / 2 ? 1 : 2;
  return labels;
}
