// Browser edge for images: pixels of an <img>, <canvas>, OffscreenCanvas, ImageData, ImageBitmap or <video> frame
// become a [1, H, W, C] tensor with a model's preprocessing (the same conversion and resize as decoded files).

import { convertChannels } from '../data/image.js';
import { preprocessImage } from '../data/preprocess.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/** What the browser can hand us as an image. */
export type ImageInput = HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageData | ImageBitmap | HTMLVideoElement;

export interface ImageInputOptions extends PreprocessOptions {
  /** Channels of the result: 1 grey (ITU-R 601 luma, as for files) or 3 RGB. Default 3. */
  channels?: 1 | 3;
}

/** The intrinsic size of an image input: natural size of an <img>, the current frame of a <video>. */
function sizeOf(source: Exclude<ImageInput, ImageData>): [width: number, height: number] {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) return [source.naturalWidth, source.naturalHeight];
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) return [source.videoWidth, source.videoHeight];
  return [source.width, source.height];
}

/** A 2D context to draw into, on an OffscreenCanvas where there is one. */
function scratchContext(width: number, height: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (!context) throw new ShapeError('this browser gives no 2D canvas context to read image pixels with');
  return context;
}

/** The RGBA pixels of an image input at its intrinsic size (an ImageData as it is). */
export function imageData(source: ImageInput): ImageData {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) return source;
  const [width, height] = sizeOf(source as Exclude<ImageInput, ImageData>);
  if (!(width > 0 && height > 0)) throw new ShapeError(`the image has no pixels yet (${width}×${height}): wait for an <img> to load or a <video> to play`);
  const context = scratchContext(width, height);
  context.drawImage(source as CanvasImageSource, 0, 0);
  return context.getImageData(0, 0, width, height);
}

/**
 * One image input as a [1, H, W, C] tensor: its RGBA pixels converted to `channels` (alpha dropped, as for files),
 * fitted to `size` and scaled per `pixels` (default 0..1) by the same preprocessing as decoded files.
 */
export function imageTensor(source: ImageInput, options: ImageInputOptions = {}): Tensor {
  const { data, width, height } = imageData(source);
  const channels = options.channels ?? 3;
  const pixels = convertChannels(data, 4, channels);
  const out = preprocessImage(pixels, [height, width, channels], options);
  const [h, w] = options.size ?? [height, width];
  return new Tensor([1, h, w, channels], out);
}
