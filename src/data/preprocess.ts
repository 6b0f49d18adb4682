// Pixel preprocessing shared by every data set: fit an HWC image to the model's size (bilinear resize, centred
// zero padding/cropping, or letterbox) on raw 0..255 values, then scale the pixels (0..1, −1..1, or mean/std).

import { ConfigError, ShapeError } from '../errors.js';
import { resizeBilinearPixels } from '../ops/resize.js';
import { RESIZE_COORDINATES } from '../ops/resize.js';
import type { ResizeCoordinates } from '../ops/resize.js';

/** An image's shape, channels last. */
export type ImageShape = readonly [height: number, width: number, channels: number];

/**
 * How raw 0..255 pixels become model inputs:
 * - `'raw'`: unchanged, 0..255;
 * - `'unit'`: x / 255, 0..1 (torchvision's ToTensor);
 * - `'symmetric'`: x / 127.5 − 1, −1..1 (Keras' MobileNet `preprocess_input`);
 * - `{ mean, std }`: (x / 255 − mean) / std per channel, mean and std on the 0..1 scale
 *   (torchvision's Normalize; a single number applies to every channel).
 */
export type PixelScaling = 'raw' | 'unit' | 'symmetric' | { mean: number | readonly number[]; std: number | readonly number[] };

/**
 * How an image of another size reaches the target size:
 * - `'bilinear'`: stretched with bilinear interpolation (see resizeBilinear);
 * - `'pad'`: placed in the centre, zero (black) outside; a larger image is cropped to the centre.
 *   For 28×28 Fashion-MNIST into 32×32 this adds a 2-pixel black border, like the background;
 * - `'letterbox'`: aspect kept: padded with black to the target's aspect ratio (see letterboxCanvas; the image at
 *   the top-left or in the centre, `align`), then the canvas resized bilinearly to the target. face-api's SSD
 *   takes this (`padToSquare` at the top-left, then tfjs `resizeBilinear` to 512×512, asymmetric coordinates).
 */
export type Fit = 'bilinear' | 'pad' | 'letterbox';

export const FITS: readonly Fit[] = ['bilinear', 'pad', 'letterbox'];

/** Where a letterboxed image sits on its canvas. */
export type LetterboxAlign = 'center' | 'top-left';

export interface PreprocessOptions {
  /** Target [height, width]; the image's own size when left out. */
  size?: readonly [height: number, width: number];
  /** Default 'bilinear'. */
  fit?: Fit;
  /** Default 'unit'. */
  pixels?: PixelScaling;
  /** Where `'letterbox'` places the image on its canvas; default 'center'. */
  align?: LetterboxAlign;
  /** Coordinate convention of the bilinear resizes (ops/resize.ts); default 'half-pixel'. */
  coordinates?: ResizeCoordinates;
}

/**
 * Fits and scales one image of raw 0..255 values (HWC) into a new Float32Array: the fit works on raw
 * values so that padding is black (0 before scaling), then `pixels` scales.
 */
export function preprocessImage(pixels: ArrayLike<number>, shape: ImageShape, options: PreprocessOptions = {}): Float32Array {
  const [height, width, channels] = shape;
  checkImage(pixels, shape);
  const [targetHeight, targetWidth] = options.size ?? [height, width];
  const target = [targetHeight, targetWidth] as const;
  const fit = options.fit ?? 'bilinear';
  let out: Float32Array;
  if (targetHeight === height && targetWidth === width) out = Float32Array.from(pixels);
  else if (fit === 'pad') out = padOrCrop(pixels, shape, target);
  else if (fit === 'letterbox') out = letterbox(pixels, shape, target, options);
  else out = resizeBilinear(pixels, shape, target, undefined, options.coordinates);
  return scalePixels(out, channels, options.pixels ?? 'unit');
}

/**
 * Where a letterboxed image lies: the canvas of the target's aspect ratio that it is padded to ([height, width],
 * the image's own size along the axis it fills, the other rounded to the nearest pixel: a square target gives a
 * square of the longer side) and the image's offset on it (0 at the top-left; ⌊(canvas − image)/2⌋ centred).
 * The canvas is then resized to the target whole, so a point at normalized model coordinates (v, u) comes from
 * source pixel coordinates (v·height − top, u·width − left), exactly: how detections map back to the image.
 */
export function letterboxCanvas(shape: ImageShape, size: readonly [height: number, width: number], align: LetterboxAlign = 'center'): { height: number; width: number; top: number; left: number } {
  const [h, w] = shape;
  const [targetHeight, targetWidth] = checkTarget(size);
  if (h < 1 || w < 1) throw new ShapeError(`cannot letterbox an empty ${h}×${w} image`);
  const height = Math.max(h, Math.round((w * targetHeight) / targetWidth));
  const width = Math.max(w, Math.round((h * targetWidth) / targetHeight));
  const offset = (canvas: number, image: number): number => (align === 'top-left' ? 0 : Math.floor((canvas - image) / 2));
  return { height, width, top: offset(height, h), left: offset(width, w) };
}

/** A [height, width, channels] canvas filled with `padValue`, with `pixels` pasted at (left, top). */
export function pasteOnCanvas(pixels: ArrayLike<number>, shape: ImageShape, canvas: ImageShape, left: number, top: number, padValue: number | readonly number[]): Float32Array {
  const [height, width, channels] = shape;
  const [canvasHeight, canvasWidth] = canvas;
  const pad = typeof padValue === 'number' ? new Array<number>(channels).fill(padValue) : padValue;
  if (pad.length !== channels) throw new ConfigError(`padValue has ${pad.length} values for ${channels} channels`);
  const out = new Float32Array(canvasHeight * canvasWidth * channels);
  for (let i = 0; i < out.length; i++) out[i] = pad[i % channels];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * channels;
      const to = ((y + top) * canvasWidth + x + left) * channels;
      for (let ch = 0; ch < channels; ch++) out[to + ch] = pixels[from + ch];
    }
  }
  return out;
}

/** The image padded with black onto its letterbox canvas (see letterboxCanvas), then resized to `size`. */
function letterbox(pixels: ArrayLike<number>, shape: ImageShape, size: readonly [number, number], options: PreprocessOptions): Float32Array {
  const channels = shape[2];
  const { height, width, top, left } = letterboxCanvas(shape, size, options.align);
  const canvas = pasteOnCanvas(pixels, shape, [height, width, channels], left, top, 0);
  const canvasShape = [height, width, channels] as const;
  return height === size[0] && width === size[1] ? canvas : resizeBilinear(canvas, canvasShape, size, undefined, options.coordinates);
}

/**
 * Bilinear resize, no antialiasing, with half-pixel centres by default: the source coordinate of output pixel y
 * is (y + ½)·h/H − ½, clamped to [0, h − 1]. The same values as torch's `interpolate(mode='bilinear',
 * align_corners=False)`, TF2's `tf.image.resize(method='bilinear')` and OpenCV's INTER_LINEAR when enlarging.
 * The other conventions (`coordinates`) are ops/resize.ts's.
 */
export function resizeBilinear(
  pixels: ArrayLike<number>,
  shape: ImageShape,
  size: readonly [height: number, width: number],
  out?: Float32Array,
  coordinates: ResizeCoordinates = 'half-pixel',
): Float32Array {
  const [height, width, channels] = shape;
  const [targetHeight, targetWidth] = checkTarget(size);
  checkImage(pixels, shape);
  if (height === 0 || width === 0) throw new ShapeError(`cannot resize an empty ${height}×${width} image`);
  const result = out ?? new Float32Array(targetHeight * targetWidth * channels);
  if (result.length !== targetHeight * targetWidth * channels) {
    throw new ShapeError(`resize output needs ${targetHeight * targetWidth * channels} values, got ${result.length}`);
  }
  return resizeBilinearPixels(pixels, shape, [targetHeight, targetWidth], coordinates, result);
}

/** Places the image in the centre of a zero canvas of `size` (top/left margin ⌊(target − source)/2⌋), cropping what does not fit. */
export function padOrCrop(pixels: ArrayLike<number>, shape: ImageShape, size: readonly [height: number, width: number]): Float32Array {
  const [height, width, channels] = shape;
  const [targetHeight, targetWidth] = checkTarget(size);
  checkImage(pixels, shape);
  const out = new Float32Array(targetHeight * targetWidth * channels);
  const top = Math.floor((targetHeight - height) / 2);
  const left = Math.floor((targetWidth - width) / 2);
  for (let y = Math.max(0, top); y < Math.min(targetHeight, top + height); y++) {
    for (let x = Math.max(0, left); x < Math.min(targetWidth, left + width); x++) {
      const from = ((y - top) * width + (x - left)) * channels;
      const to = (y * targetWidth + x) * channels;
      for (let ch = 0; ch < channels; ch++) out[to + ch] = pixels[from + ch];
    }
  }
  return out;
}

/** Scales raw 0..255 values in place (see PixelScaling) and returns `data`. */
export function scalePixels(data: Float32Array, channels: number, scaling: PixelScaling): Float32Array {
  if (scaling === 'raw') return data;
  if (scaling === 'unit') {
    for (let i = 0; i < data.length; i++) data[i] /= 255;
    return data;
  }
  if (scaling === 'symmetric') {
    for (let i = 0; i < data.length; i++) data[i] = data[i] / 127.5 - 1;
    return data;
  }
  const mean = perChannel(scaling.mean, channels, 'mean');
  const std = perChannel(scaling.std, channels, 'std');
  for (const s of std) if (!(s > 0)) throw new ConfigError(`pixel std must be positive, got ${s}`);
  for (let i = 0; i < data.length; i++) {
    const ch = i % channels;
    data[i] = (data[i] / 255 - mean[ch]) / std[ch];
  }
  return data;
}

/** The value a raw pixel `raw` (0 = black) has after `scaling`, per channel: what padding must use once scaled. */
export function scaledValue(raw: number, channels: number, scaling: PixelScaling): number[] {
  return Array.from(scalePixels(new Float32Array(channels).fill(raw), channels, scaling));
}

function perChannel(value: number | readonly number[], channels: number, what: string): number[] {
  if (typeof value === 'number') return new Array<number>(channels).fill(value);
  if (value.length === 1) return new Array<number>(channels).fill(value[0]);
  if (value.length !== channels) throw new ConfigError(`pixel ${what} has ${value.length} values for ${channels} channels`);
  return [...value];
}

function checkTarget(size: readonly [number, number]): [number, number] {
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new ConfigError(`target size must be positive integers [height, width], got [${size.join(', ')}]`);
  }
  return [h, w];
}

function checkImage(pixels: ArrayLike<number>, shape: ImageShape): void {
  const [h, w, c] = shape;
  if (pixels.length !== h * w * c) throw new ShapeError(`image [${h}, ${w}, ${c}] needs ${h * w * c} values, got ${pixels.length}`);
}

/** A pixel scaling as people write it: `0..1`, `−1..1`, `0..255`, or `mean 0.5 std 0.5`. */
export function describePixels(scaling: PixelScaling = 'unit'): string {
  if (scaling === 'raw') return '0..255';
  if (scaling === 'unit') return '0..1';
  if (scaling === 'symmetric') return '−1..1 (x/127.5 − 1)';
  const list = (v: number | readonly number[]): string => (typeof v === 'number' ? String(v) : v.join(','));
  return `mean ${list(scaling.mean)} std ${list(scaling.std)}`;
}

/**
 * `value` (parsed JSON: a preprocessing file, a model file's entry) checked to be PreprocessOptions: `size`
 * [height, width] of positive integers, `fit` one of FITS, `pixels` a PixelScaling with positive std, `align`
 * 'center' or 'top-left', `coordinates` one of RESIZE_COORDINATES, no other keys. Errors name `source`.
 */
export function checkPreprocessOptions(value: unknown, source: string): PreprocessOptions {
  const fail = (what: string): ConfigError => new ConfigError(`${source}: ${what}, got ${JSON.stringify(value)}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('preprocessing must be an object {size?, fit?, pixels?, align?, coordinates?}');
  const { size, fit, pixels, align, coordinates, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw fail(`unknown preprocessing key ${JSON.stringify(unknown[0])} (known: size, fit, pixels, align, coordinates)`);
  const options: PreprocessOptions = {};
  if (size !== undefined) {
    if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 1)) throw fail('size must be [height, width], positive integers');
    options.size = [size[0] as number, size[1] as number];
  }
  if (fit !== undefined) {
    if (!(FITS as readonly unknown[]).includes(fit)) throw fail(`fit must be one of ${FITS.join(', ')}`);
    options.fit = fit as Fit;
  }
  if (pixels !== undefined) options.pixels = checkPixelScaling(pixels, fail);
  if (align !== undefined) {
    if (align !== 'center' && align !== 'top-left') throw fail("align must be 'center' or 'top-left'");
    options.align = align;
  }
  if (coordinates !== undefined) {
    if (!(RESIZE_COORDINATES as readonly unknown[]).includes(coordinates)) throw fail(`coordinates must be one of ${RESIZE_COORDINATES.join(', ')}`);
    options.coordinates = coordinates as ResizeCoordinates;
  }
  return options;
}

function checkPixelScaling(pixels: unknown, fail: (what: string) => ConfigError): PixelScaling {
  if (pixels === 'raw' || pixels === 'unit' || pixels === 'symmetric') return pixels;
  const numbers = (v: unknown): v is number | number[] => (typeof v === 'number' && Number.isFinite(v)) || (Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'number' && Number.isFinite(n)));
  if (typeof pixels !== 'object' || pixels === null || Array.isArray(pixels)) throw fail("pixels must be 'raw', 'unit', 'symmetric' or {mean, std}");
  const { mean, std, ...rest } = pixels as Record<string, unknown>;
  if (!numbers(mean) || !numbers(std) || Object.keys(rest).length > 0) throw fail('pixels {mean, std} must hold numbers or lists of numbers, and nothing else');
  if (![std].flat().every((s) => s > 0)) throw fail('pixel std must be positive');
  return { mean, std };
}
