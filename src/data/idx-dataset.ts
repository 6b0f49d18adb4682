// A Dataset over an IDX images file and an IDX labels file (MNIST, Fashion-MNIST): the raw bytes stay
// as decoded, each example is fitted and scaled when asked for, synchronously.

import { FormatError } from '../errors.js';
import type { Dataset, Example } from './dataset.js';
import { checkIndex } from './dataset.js';
import { decodeIdx, type IdxArray } from './idx.js';
import { preprocessImage, type ImageShape, type PreprocessOptions } from './preprocess.js';

/** Fashion-MNIST's class names, in label order (from the data set's README). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** MNIST's class names: the digits. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

export interface IdxDatasetOptions extends PreprocessOptions {
  /** Class names in label order; default '0', '1', … up to the largest label. */
  classes?: readonly string[];
  /** Names for error messages (file paths); default 'images' and 'labels'. */
  sources?: { images?: string; labels?: string };
}

export interface IdxDataset extends Dataset {
  getSync(index: number): Example;
  /** The decoded arrays behind the data set. */
  readonly images: IdxArray;
  readonly labels: IdxArray;
}

/** Decodes both files (gzipped or not) and pairs them; see idxDataset. */
export function decodeIdxDataset(imageBytes: Uint8Array, labelBytes: Uint8Array, options: IdxDatasetOptions = {}): IdxDataset {
  const images = decodeIdx(imageBytes, options.sources?.images ?? 'images');
  const labels = decodeIdx(labelBytes, options.sources?.labels ?? 'labels');
  return idxDataset(images, labels, options);
}

/**
 * Pairs decoded IDX images ([n, h, w] grey, or [n, h, w, c]) with labels ([n], integers), checking the
 * counts match and every label names a class. Examples are fitted to `size` and scaled per `pixels`.
 */
export function idxDataset(images: IdxArray, labels: IdxArray, options: IdxDatasetOptions = {}): IdxDataset {
  const imageSource = options.sources?.images ?? 'images';
  const labelSource = options.sources?.labels ?? 'labels';
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw new FormatError(`${imageSource}: expected IDX images of rank 3 [n, height, width] or 4 [n, height, width, channels], got [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1) throw new FormatError(`${labelSource}: expected IDX labels of rank 1 [n], got [${labels.shape.join(', ')}]`);
  if (labels.dtype === 'float32' || labels.dtype === 'float64') throw new FormatError(`${labelSource}: labels must be integers, got ${labels.dtype}`);
  const [count, height, width] = images.shape;
  const channels = images.shape[3] ?? 1;
  if (labels.shape[0] !== count) {
    throw new FormatError(`${imageSource} holds ${count} images but ${labelSource} holds ${labels.shape[0]} labels`);
  }
  let largest = -1;
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label < 0) throw new FormatError(`${labelSource}: label ${i} is ${label}, labels must be non-negative`);
    largest = Math.max(largest, label);
  }
  const classes = options.classes ?? Array.from({ length: largest + 1 }, (_, i) => String(i));
  if (largest >= classes.length) {
    const at = Array.prototype.findIndex.call(labels.data, (l: number) => l >= classes.length);
    throw new FormatError(`${labelSource}: label ${at} is ${labels.data[at]}, but there are ${classes.length} classes`);
  }
  const sourceShape: ImageShape = [height, width, channels];
  const [targetHeight, targetWidth] = options.size ?? [height, width];
  const imageSize = height * width * channels;
  const getSync = (index: number): Example => {
    checkIndex(dataset, index);
    const pixels = images.data.subarray(index * imageSize, (index + 1) * imageSize);
    return { image: preprocessImage(pixels, sourceShape, options), label: labels.data[index] };
  };
  const dataset: IdxDataset = {
    size: count,
    classes: Object.freeze([...classes]),
    shape: Object.freeze([targetHeight, targetWidth, channels]) as ImageShape,
    images,
    labels,
    label: (index) => {
      checkIndex(dataset, index);
      return labels.data[index];
    },
    getSync,
    get: async (index) => getSync(index),
  };
  return dataset;
}
