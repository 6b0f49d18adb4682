// Where a source image sits in a detector's input (stretched, or letterboxed: aspect kept and padded) and the
// exact maps between normalized model boxes and source pixels, both ways; plus the letterboxed input's pixels.

import { ConfigError } from '../errors.js';
import { letterboxCanvas, pasteOnCanvas, resizeBilinear, type ImageShape, type LetterboxAlign } from '../data/preprocess.js';
import type { ResizeCoordinates } from '../ops/resize.js';
import type { Box, Detection } from './types.js';

/** A size in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * How a source image maps into a model input: model pixel x = scaleX · source x + offsetX (y alike), in
 * continuous pixel coordinates (box edges; pixel i spans [i, i + 1)). Model boxes are those coordinates over
 * the input's width and height.
 * - `'stretch'`: resized to the input, aspect not kept;
 * - `'letterbox'`: resized with the aspect kept to a whole-pixel region of the input, then padded around it;
 * - `'pad-then-resize'`: padded in source pixels to the input's aspect, then resized (face-api's padToSquare).
 */
export interface ResizeMapping {
  mode: 'stretch' | 'letterbox' | 'pad-then-resize';
  source: ImageSize;
  input: ImageSize;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  /** `'letterbox'`: the image's region in the input, in model pixels; `'pad-then-resize'`: the padded canvas in source pixels with the image at (left, top). */
  region: { left: number; top: number; width: number; height: number };
}

export interface LetterboxOptions {
  /** Where the padding goes: `'center'` (default; split evenly, the odd pixel after the image) or `'top-left'` (all after it, face-api). */
  align?: LetterboxAlign;
  /** `'resize-then-pad'` (default) or `'pad-then-resize'`. */
  order?: 'resize-then-pad' | 'pad-then-resize';
}

function checkSize(size: ImageSize, what: string): void {
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width < 1 || size.height < 1) {
    throw new ConfigError(`${what} size must be positive integers, got ${size.width}×${size.height}`);
  }
}

/** Plain resize: the whole source stretched over the whole input. */
export function resizeMapping(source: ImageSize, input: ImageSize): ResizeMapping {
  checkSize(source, 'source image');
  checkSize(input, 'model input');
  const region = { left: 0, top: 0, width: input.width, height: input.height };
  return { mode: 'stretch', source, input, scaleX: input.width / source.width, scaleY: input.height / source.height, offsetX: 0, offsetY: 0, region };
}

/** The offset of a `content`-long span in a `total`-long one. */
function padBefore(total: number, content: number, align: LetterboxAlign): number {
  return align === 'center' ? Math.floor((total - content) / 2) : 0;
}

/**
 * Letterbox: the source scaled by min(w/W, h/H), aspect kept. `'resize-then-pad'` rounds the scaled image to
 * whole model pixels (the mapping uses the rounded size, so it is exact for the pixels `letterboxImage` makes);
 * `'pad-then-resize'` pads the source to the input's aspect in whole source pixels, then stretches that canvas.
 */
export function letterbox(source: ImageSize, input: ImageSize, options: LetterboxOptions = {}): ResizeMapping {
  checkSize(source, 'source image');
  checkSize(input, 'model input');
  const align = options.align ?? 'center';
  if (options.order === 'pad-then-resize') {
    // the canvas rule is preprocessing's (fit 'letterbox'), so boxes map back through the pixels it makes
    const { left, top, width, height } = letterboxCanvas([source.height, source.width, 1], [input.height, input.width], align);
    const scaleX = input.width / width;
    const scaleY = input.height / height;
    return { mode: 'pad-then-resize', source, input, scaleX, scaleY, offsetX: left * scaleX, offsetY: top * scaleY, region: { left, top, width, height } };
  }
  const scale = Math.min(input.width / source.width, input.height / source.height);
  const width = Math.min(input.width, Math.max(1, Math.round(source.width * scale)));
  const height = Math.min(input.height, Math.max(1, Math.round(source.height * scale)));
  const left = padBefore(input.width, width, align);
  const top = padBefore(input.height, height, align);
  return { mode: 'letterbox', source, input, scaleX: width / source.width, scaleY: height / source.height, offsetX: left, offsetY: top, region: { left, top, width, height } };
}

const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);

/** A normalized model box [ymin, xmin, ymax, xmax] → source pixels; clipped to the image unless `clip` is false. */
export function toSourceBox(mapping: ResizeMapping, box: Box, clip = true): Box {
  const { input, source, scaleX, scaleY, offsetX, offsetY } = mapping;
  const y = (v: number): number => (v * input.height - offsetY) / scaleY;
  const x = (v: number): number => (v * input.width - offsetX) / scaleX;
  const out: Box = [y(box[0]), x(box[1]), y(box[2]), x(box[3])];
  return clip ? [clamp(out[0], source.height), clamp(out[1], source.width), clamp(out[2], source.height), clamp(out[3], source.width)] : out;
}

/** A source-pixel box [ymin, xmin, ymax, xmax] → the normalized model box (training labels): the inverse of `toSourceBox`. */
export function toModelBox(mapping: ResizeMapping, box: Box): Box {
  const { input, scaleX, scaleY, offsetX, offsetY } = mapping;
  const y = (v: number): number => (v * scaleY + offsetY) / input.height;
  const x = (v: number): number => (v * scaleX + offsetX) / input.width;
  return [y(box[0]), x(box[1]), y(box[2]), x(box[3])];
}

/** Detections with their boxes mapped to source pixels (clipped to the image). */
export function mapDetections(detections: readonly Detection[], mapping: ResizeMapping): Detection[] {
  return detections.map((d) => ({ ...d, box: toSourceBox(mapping, d.box) }));
}

export interface LetterboxImageOptions {
  /** Raw value (0..255, before pixel scaling) of the padding, one number or one per channel; 0 (black) by default. */
  padValue?: number | readonly number[];
  /** The resize's sampling convention (ops/resize.ts): `'half-pixel'` by default; face-api's TF.js resize is `'asymmetric'`. */
  coordinates?: ResizeCoordinates;
}


/**
 * The model input's raw pixels (HWC, 0..255 like the source; scale them afterwards) for `mapping`: the source
 * stretched, letterboxed or padded then resized, with bilinear resampling (data/preprocess.ts's resize).
 */
export function letterboxImage(pixels: ArrayLike<number>, shape: ImageShape, mapping: ResizeMapping, options: LetterboxImageOptions = {}): Float32Array {
  const [height, width, channels] = shape;
  if (height !== mapping.source.height || width !== mapping.source.width) {
    throw new ConfigError(`letterboxImage: the image is ${width}×${height}, the mapping was made for ${mapping.source.width}×${mapping.source.height}`);
  }
  const coordinates = options.coordinates ?? 'half-pixel';
  const padValue = options.padValue ?? 0;
  const { input, region } = mapping;
  const target = [input.height, input.width] as const;
  switch (mapping.mode) {
    case 'stretch':
      return resizeBilinear(pixels, shape, target, undefined, coordinates);
    case 'letterbox': {
      const content = resizeBilinear(pixels, shape, [region.height, region.width], undefined, coordinates);
      return pasteOnCanvas(content, [region.height, region.width, channels], [input.height, input.width, channels], region.left, region.top, padValue);
    }
    case 'pad-then-resize': {
      const canvas = pasteOnCanvas(pixels, shape, [region.height, region.width, channels], region.left, region.top, padValue);
      return resizeBilinear(canvas, [region.height, region.width, channels], target, undefined, coordinates);
    }
  }
}
