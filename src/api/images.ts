// Images as every environment can give them (pixels, PNG/JPEG bytes, preprocessed tensors) and their pixels at the
// channel count a model takes: shared by classification (loadModel) and segmentation (segment).

import { convertChannels, decodeImage, imageFormatOfName } from '../data/image.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Pixels as ImageData holds them: raw 0..255, row after row, 1 (grey), 3 (RGB) or 4 (RGBA) values per pixel. */
export interface ImageDataLike {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/** A PNG or JPEG file's bytes, with its name for errors (its extension, if any, must match the content). */
export interface EncodedImage {
  bytes: Uint8Array;
  name?: string;
}

/**
 * An image, as every environment can give one: pixels (ImageData-like), a PNG or JPEG file's bytes (plain or
 * named), or a Tensor already preprocessed for the model ([H, W, C] or [1, H, W, C], channels last: what
 * imageTensor and readImage make), which is used as it is.
 */
export type ImageSource = Tensor | ImageDataLike | Uint8Array | ArrayBuffer | EncodedImage;

/** What a value is, in a word, for errors. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'an object';
}

function isImageDataLike(image: object): image is ImageDataLike {
  const { data, width, height } = image as Partial<ImageDataLike>;
  return data !== undefined && typeof data.length === 'number' && typeof width === 'number' && typeof height === 'number';
}

/**
 * The pixels of an image (bytes or ImageData-like) with [height, width, channels], converted to `channels`: 1 (grey)
 * or 3 (RGB); a model taking other channel counts is a ShapeError.
 */
export function imagePixels(image: Exclude<ImageSource, Tensor>, channels: number): { pixels: ArrayLike<number>; shape: [number, number, number] } {
  const target = channels === 1 ? 1 : 3;
  if (channels !== target) throw new ShapeError(`the model takes ${channels} input channels; images give 1 (grey) or 3 (RGB)`);
  if (image instanceof Uint8Array || image instanceof ArrayBuffer || (typeof image === 'object' && 'bytes' in image)) {
    const file = image instanceof Uint8Array ? { bytes: image } : image instanceof ArrayBuffer ? { bytes: new Uint8Array(image) } : image;
    // a name whose extension promises another format than the content is an error ('mislabeled'), as for files
    const expect = file.name === undefined ? undefined : imageFormatOfName(file.name);
    const decoded = decodeImage(file.bytes, { channels: target, source: file.name ?? 'image bytes', expect });
    return { pixels: decoded.pixels, shape: [...decoded.shape] };
  }
  if (typeof image === 'object' && image !== null && isImageDataLike(image)) {
    const per = image.data.length / (image.width * image.height);
    if (![1, 3, 4].includes(per)) {
      throw new ShapeError(`pixels of ${image.width}×${image.height} hold ${image.data.length} values: expected 1, 3 or 4 per pixel (grey, RGB, RGBA)`);
    }
    return { pixels: convertChannels(image.data, per, target), shape: [image.height, image.width, target] };
  }
  throw new ConfigError(`not an image: ${describe(image)}; expected a Tensor, pixels { data, width, height }, or PNG/JPEG bytes`);
}
