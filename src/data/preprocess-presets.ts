// Preprocessing presets of the frameworks models come from (Keras, torchvision, TF.js) and the steps they need
// beyond preprocess.ts: bilinear resize in every coordinate convention, shorter-side resize, centre crop, input range.

import { ConfigError } from '../errors.js';
import type { ImageShape, PixelScaling, PreprocessOptions } from './preprocess.js';
import { resizeBilinear, scalePixels } from './preprocess.js';
import type { ResizeCoordinates } from '../ops/resize.js';

export type { ResizeCoordinates } from '../ops/resize.js';

/** Pixel values as TF.js models state them: raw 0..255 mapped linearly onto [min, max]. */
export interface InputRange {
  inputRange: readonly [min: number, max: number];
}

export interface PreprocessPreset {
  /** Resize: to a fixed [height, width], or so that the shorter side has this length (aspect kept). */
  resize?: { size: readonly [number, number] } | { shorterSide: number };
  coordinates?: ResizeCoordinates;
  /** Centre crop after resizing, [height, width]. */
  crop?: readonly [number, number];
  pixels: PixelScaling | InputRange;
}

/** ImageNet statistics of torchvision's `Normalize`, on the 0..1 scale. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Pixel scalings by the name of the framework whose models take them (the CLI's --preprocess, the page's choices). */
export const FRAMEWORK_PIXELS: Readonly<Record<'torchvision' | 'keras' | 'tf', PixelScaling>> = {
  torchvision: { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
  keras: 'symmetric',
  tf: 'symmetric',
};

/** Pixel scalings by the range they map 0..255 onto (the CLI's --range, the page's choices). */
export const RANGE_PIXELS: Readonly<Record<'0..1' | '-1..1' | '0..255', PixelScaling>> = { '0..1': 'unit', '-1..1': 'symmetric', '0..255': 'raw' };

/** Keras MobileNet/MobileNetV2: resize to the model's size, `preprocess_input` maps 0..255 to −1..1 (x/127.5 − 1). */
export function kerasPreset(size = 224): PreprocessPreset {
  return { resize: { size: [size, size] }, coordinates: 'half-pixel', pixels: 'symmetric' };
}

/** torchvision's ImageNet evaluation: shorter side to ⌊size·256/224⌋ (256 for 224), centre crop, ImageNet mean/std. */
export function torchvisionPreset(size = 224, resizeTo = Math.floor((size * 256) / 224)): PreprocessPreset {
  return { resize: { shorterSide: resizeTo }, coordinates: 'half-pixel', crop: [size, size], pixels: { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } };
}

/** TF.js models (e.g. @tensorflow-models/mobilenet): align-corners resize and `inputRange` [min, max] (default [−1, 1]). */
export function tfjsPreset(size = 224, inputRange: readonly [number, number] = [-1, 1]): PreprocessPreset {
  return { resize: { size: [size, size] }, coordinates: 'align-corners', pixels: { inputRange } };
}

/** Bilinear resize of raw HWC pixels in the given coordinate convention (no antialiasing). */
export function resizeBilinearWith(pixels: ArrayLike<number>, shape: ImageShape, size: readonly [number, number], coordinates: ResizeCoordinates = 'half-pixel'): Float32Array {
  return resizeBilinear(pixels, shape, size, undefined, coordinates);
}

/** torchvision's `Resize(n)`: the shorter side becomes n, the longer ⌊n·long/short⌋. */
export function shorterSideSize(shape: ImageShape, shorterSide: number): [number, number] {
  const [h, w] = shape;
  if (!Number.isInteger(shorterSide) || shorterSide < 1) throw new ConfigError(`shorter side must be a positive integer, got ${shorterSide}`);
  return h <= w ? [shorterSide, Math.floor((shorterSide * w) / h)] : [Math.floor((shorterSide * h) / w), shorterSide];
}

/** Python's round(): halves to even, as torchvision's `center_crop` offsets use it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's `CenterCrop`: offsets round((h − th)/2), round((w − tw)/2); the crop must fit in the image. */
export function centerCrop(pixels: ArrayLike<number>, shape: ImageShape, size: readonly [number, number]): Float32Array {
  const [h, w, c] = shape;
  const [th, tw] = size;
  if (!(th >= 1 && tw >= 1 && th <= h && tw <= w && Number.isInteger(th) && Number.isInteger(tw))) throw new ConfigError(`centre crop [${th}, ${tw}] must fit the ${h}×${w} image`);
  const top = roundHalfEven((h - th) / 2);
  const left = roundHalfEven((w - tw) / 2);
  const out = new Float32Array(th * tw * c);
  for (let y = 0; y < th; y++) {
    const from = ((top + y) * w + left) * c;
    for (let i = 0; i < tw * c; i++) out[y * tw * c + i] = pixels[from + i];
  }
  return out;
}

/** Maps raw 0..255 onto [min, max] as TF.js models do, in float32: x·((max − min)/255) + min. */
export function scaleToRange(data: Float32Array, [min, max]: readonly [number, number]): Float32Array {
  if (!(max > min)) throw new ConfigError(`inputRange [${min}, ${max}] must have min < max`);
  const factor = Math.fround((max - min) / 255);
  const offset = Math.fround(min);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(data[i] * factor) + offset;
  return data;
}

/** Runs a preset on one raw 0..255 HWC image; returns the model input and its shape. */
export function applyPreset(pixels: ArrayLike<number>, shape: ImageShape, preset: PreprocessPreset): { data: Float32Array; shape: ImageShape } {
  let data: Float32Array = Float32Array.from(pixels);
  let current: ImageShape = shape;
  if (preset.resize) {
    const size = 'size' in preset.resize ? preset.resize.size : shorterSideSize(shape, preset.resize.shorterSide);
    if (size[0] !== shape[0] || size[1] !== shape[1]) data = resizeBilinearWith(data, shape, size, preset.coordinates);
    current = [size[0], size[1], shape[2]];
  }
  if (preset.crop) {
    data = centerCrop(data, current, preset.crop);
    current = [preset.crop[0], preset.crop[1], shape[2]];
  }
  if (typeof preset.pixels === 'object' && 'inputRange' in preset.pixels) scaleToRange(data, preset.pixels.inputRange);
  else scalePixels(data, shape[2], preset.pixels);
  return { data, shape: current };
}

/**
 * The preset as preprocess.ts's PreprocessOptions (what our model files store and `classify` applies), where
 * that can say it: one half-pixel bilinear resize to a fixed size, no crop, a PixelScaling (an input range
 * becomes one: [0, 1] `unit`, [−1, 1] `symmetric`, [0, 255] `raw`, else mean/std). Otherwise undefined.
 */
export function toPreprocessOptions(preset: PreprocessPreset): PreprocessOptions | undefined {
  if (preset.crop || (preset.resize && !('size' in preset.resize))) return undefined;
  if (preset.resize && (preset.coordinates ?? 'half-pixel') !== 'half-pixel') return undefined;
  let pixels: PixelScaling;
  if (typeof preset.pixels === 'object' && 'inputRange' in preset.pixels) {
    const [min, max] = preset.pixels.inputRange;
    if (min === 0 && max === 1) pixels = 'unit';
    else if (min === -1 && max === 1) pixels = 'symmetric';
    else if (min === 0 && max === 255) pixels = 'raw';
    else pixels = { mean: -min / (max - min), std: 1 / (max - min) };
  } else pixels = preset.pixels;
  return { ...(preset.resize ? { size: preset.resize.size, fit: 'bilinear' as const } : {}), pixels };
}
