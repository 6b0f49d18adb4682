// Node edge for single images: reads a PNG or JPEG file into a [1, H, W, C] tensor for `classify`.
// Decoding and preprocessing are the pure ones in src/data; only the file read happens here.

import { decodeImageTensor, imageFormatOfName, type ImageTensorOptions } from '../data/image.js';
import type { Tensor } from '../tensor/tensor.js';
import { readBytes } from './files.js';

export interface ReadImageOptions extends Omit<ImageTensorOptions, 'source' | 'expect'> {}

/**
 * Reads and decodes one image file into [1, H, W, C]: `channels` 1 or 3 (default: the file's own, grey or
 * RGB), resized to `size` (bilinear by default), scaled per `pixels` (default 0..1). A file whose
 * extension names another format than its content is an ImageFileError ('mislabeled'); one that cannot
 * be read is a FileError.
 */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<Tensor> {
  return decodeImageTensor(await readBytes(path), { ...options, source: path, expect: imageFormatOfName(path) });
}
