// The Dataset abstraction a trainer reads: indexed examples decoded on demand, seeded shuffling, and
// batches assembled into one NHWC tensor plus Int32 labels.

import { ConfigError, ShapeError } from '../errors.js';
import type { Random } from '../tensor/random.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { ImageShape } from './preprocess.js';

export interface Example {
  /** Preprocessed pixels, HWC, `shape` of the data set. */
  image: Float32Array;
  /** Class index into `classes`. */
  label: number;
}

/**
 * A fixed-size, indexed collection of labelled images, all of one shape. Examples are made on demand
 * (an image folder reads and decodes the file when asked), so nothing forces a data set into memory.
 */
export interface Dataset {
  readonly size: number;
  readonly classes: readonly string[];
  readonly shape: ImageShape;
  /** The label of example `index`, without decoding its image. */
  label(index: number): number;
  get(index: number): Promise<Example>;
  /** Present where an example needs no I/O (in-memory data such as IDX): batches skip the promises. */
  getSync?(index: number): Example;
}

/** Indices 0..size−1 in a Fisher–Yates order drawn from `random`: same seed and state, same order. */
export function shuffledIndices(size: number, random: Random): Int32Array {
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Consecutive slices of `order` of `batchSize` (the last one shorter unless `dropLast`). */
export function batchIndices(order: ArrayLike<number>, batchSize: number, options: { dropLast?: boolean } = {}): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batch size must be a positive integer, got ${batchSize}`);
  const batches: Int32Array[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const end = Math.min(start + batchSize, order.length);
    if (end - start < batchSize && options.dropLast) break;
    batches.push(Int32Array.from({ length: end - start }, (_, i) => order[start + i]));
  }
  return batches;
}

export interface Batch {
  /** [n, H, W, C] */
  x: Tensor;
  labels: Int32Array;
}

export interface LoadBatchOptions {
  /** A tensor [n, H, W, C] to fill instead of allocating one (plan once, run many times). */
  into?: Tensor;
  /** Examples fetched at once from an asynchronous data set (default 8): overlaps file reads. */
  concurrency?: number;
}

/** Fetches the examples at `indices` into one NHWC tensor, in the order given. */
export async function loadBatch(dataset: Dataset, indices: ArrayLike<number>, options: LoadBatchOptions = {}): Promise<Batch> {
  const [height, width, channels] = dataset.shape;
  const n = indices.length;
  const shape = [n, height, width, channels];
  const x = options.into ?? new Tensor(shape);
  if (x.shape.length !== 4 || x.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`loadBatch: 'into' has shape ${formatShape(x.shape)}, the batch is ${formatShape(shape)}`);
  }
  const labels = new Int32Array(n);
  const imageSize = height * width * channels;
  const place = (slot: number, example: Example): void => {
    if (example.image.length !== imageSize) {
      throw new ShapeError(`example ${indices[slot]} has ${example.image.length} values, the data set's shape ${formatShape(dataset.shape)} needs ${imageSize}`);
    }
    x.data.set(example.image, slot * imageSize);
    labels[slot] = example.label;
  };
  for (let slot = 0; slot < n; slot++) checkIndex(dataset, indices[slot]);
  if (dataset.getSync) {
    for (let slot = 0; slot < n; slot++) place(slot, dataset.getSync(indices[slot]));
    return { x, labels };
  }
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const slot = next++;
      place(slot, await dataset.get(indices[slot]));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { x, labels };
}

/** The examples of `dataset` at `indices`, as a data set (a train/validation split, a small test subset). */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const map = Int32Array.from(indices);
  for (const index of map) checkIndex(dataset, index);
  const at = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= map.length) throw new RangeError(`index ${i} out of range for a subset of ${map.length} examples`);
    return map[i];
  };
  const getSync = dataset.getSync?.bind(dataset);
  return {
    size: map.length,
    classes: dataset.classes,
    shape: dataset.shape,
    label: (i) => dataset.label(at(i)),
    get: (i) => dataset.get(at(i)),
    ...(getSync ? { getSync: (i: number) => getSync(at(i)) } : {}),
  };
}

/** How many examples each class has (from labels only, no decoding). */
export function classCounts(dataset: Dataset): number[] {
  const counts = new Array<number>(dataset.classes.length).fill(0);
  for (let i = 0; i < dataset.size; i++) counts[dataset.label(i)]++;
  return counts;
}

export function checkIndex(dataset: { size: number }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= dataset.size) {
    throw new RangeError(`example index ${index} out of range for a data set of ${dataset.size}`);
  }
}
