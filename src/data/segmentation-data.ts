// Segmentation data sets in PASCAL VOC's layout, from bytes (pure, browser-safe): JPEGImages/NAME.{jpg,png},
// SegmentationClass/NAME.png palette masks and ImageSets/Segmentation/{train,val}.txt, decoded into one batch.

import { ConfigError, FormatError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { decodeImage, imageFormatOfName } from './image.js';
import { VOC_CLASSES } from './label-maps.js';
import { decodeMaskPng } from './mask-png.js';
import { preprocessImage, type PixelScaling } from './preprocess.js';

/** A decoded segmentation split: images and their label masks, pixel for pixel. */
export interface SegmentationSet {
  /** [N, H, W, C] float32, scaled per `pixels` (default 0..1). */
  images: Tensor;
  /** N·H·W labels, row-major per image; 255 = ignore. */
  masks: Uint8Array;
  /** The samples' names (VOC's ids), in order. */
  names: string[];
  /** Label k's name is classNames[k]; 0 is the background. */
  classNames: readonly string[];
}

export type VocSplit = 'train' | 'val';

export interface SegmentationReadOptions {
  /** [height, width] every image is resized to (bilinear; masks nearest). Needed when the images differ in size. */
  size?: readonly [height: number, width: number];
  /** Default 'unit' (0..1). */
  pixels?: PixelScaling;
  /** The first N samples of the split only. */
  limit?: number;
  /** 1 grey or 3 RGB (default 3). */
  channels?: 1 | 3;
  /** Class names in label order; default the folder's annotations.json categories, else VOC's 21 classes. */
  classNames?: readonly string[];
}

/** One sample's files: the image and its mask, each with the name errors call it by. */
export interface VocSample {
  name: string;
  image: { source: string; bytes: Uint8Array };
  mask: { source: string; bytes: Uint8Array };
}

/** Where VOC keeps things, relative to the data set's root. */
export const VOC_PATHS = {
  images: 'JPEGImages',
  masks: 'SegmentationClass',
  split: (split: VocSplit): string => `ImageSets/Segmentation/${split}.txt`,
  annotations: 'annotations.json',
} as const;

/** The image extensions VOC readers accept, in the order they are looked for. */
export const VOC_IMAGE_EXTENSIONS = ['.jpg', '.png', '.jpeg'] as const;

/** The sample names of a split list: one per line, blank lines and surrounding spaces ignored. */
export function parseSplitList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Class names from a COCO annotations.json (as `mobilenet make-scenes` writes): 'background' then the
 * categories by id 1..K. Undefined when the JSON has no usable categories (ids must be 1..K, each once).
 */
export function classNamesFromCoco(bytes: Uint8Array, source: string): string[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const categories = (json as { categories?: unknown }).categories;
  if (!Array.isArray(categories) || categories.length === 0) return undefined;
  const names: string[] = ['background'];
  for (const category of categories as Array<{ id?: unknown; name?: unknown }>) {
    const { id, name } = category;
    if (!Number.isInteger(id) || (id as number) < 1 || (id as number) > categories.length || typeof name !== 'string' || names[id as number] !== undefined) {
      throw new FormatError(`${source}: categories must have ids 1..${categories.length}, each once, with names; got ${JSON.stringify(category)}`);
    }
    names[id as number] = name;
  }
  return names;
}

/** The class names a folder's annotations.json gives (bytes, if it has one), or VOC's; `given` wins. */
export function resolveClassNames(given: readonly string[] | undefined, annotations: { source: string; bytes: Uint8Array } | undefined): readonly string[] {
  if (given) return given;
  const fromCoco = annotations ? classNamesFromCoco(annotations.bytes, annotations.source) : undefined;
  return fromCoco ?? VOC_CLASSES;
}

/**
 * Decodes samples into one SegmentationSet. Every mask must have its image's size (a ShapeError names both
 * files); images of different sizes need `size`; a label ≥ classNames.length that is not 255 is a FormatError.
 */
export function decodeVocSamples(samples: readonly VocSample[], classNames: readonly string[], options: SegmentationReadOptions = {}): SegmentationSet {
  const channels = options.channels ?? 3;
  if (samples.length === 0) throw new ConfigError('segmentation data: no samples to read');
  if (options.size && !options.size.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new ConfigError(`segmentation data: size must be positive integers [height, width], got [${options.size.join(', ')}]`);
  }
  // each sample is decoded and copied into the batch before the next, so only one decoded image is held at a time
  const decodeSample = (sample: VocSample) => {
    const image = decodeImage(sample.image.bytes, { channels, source: sample.image.source, expect: imageFormatOfName(sample.image.source) });
    const [height, width] = image.shape;
    const mask = decodeMaskPng(sample.mask.bytes, sample.mask.source, classNames.length);
    if (mask.width !== width || mask.height !== height) {
      throw new ShapeError(`${sample.mask.source} is ${mask.width}×${mask.height} but its image ${sample.image.source} is ${width}×${height}: a mask must have its image's size`);
    }
    return { image, mask };
  };
  const first = decodeSample(samples[0]);
  const [height, width] = options.size ?? first.image.shape;
  const pixelsPerImage = height * width;
  const images = new Float32Array(samples.length * pixelsPerImage * channels);
  const masks = new Uint8Array(samples.length * pixelsPerImage);
  samples.forEach((sample, n) => {
    const { image, mask } = n === 0 ? first : decodeSample(sample);
    if (options.size === undefined && (mask.height !== height || mask.width !== width)) {
      throw new ShapeError(`${sample.image.source} is ${mask.width}×${mask.height} but ${samples[0].image.source} is ${width}×${height}: images of different sizes need a common size (the size option, --resolution)`);
    }
    images.set(preprocessImage(image.pixels, image.shape, { size: [height, width], pixels: options.pixels ?? 'unit' }), n * pixelsPerImage * channels);
    masks.set(resizeNearestLabels(mask.labels, [mask.height, mask.width], [height, width]), n * pixelsPerImage);
  });
  return { images: new Tensor([samples.length, height, width, channels], images), masks, names: samples.map((s) => s.name), classNames };
}

/**
 * Nearest-neighbour resize of a label map (labels are never blended): output pixel y takes source row
 * ⌊(y + ½)·h/H⌋, clamped, the same for columns (PIL's NEAREST, torch's 'nearest-exact'). Same size: a copy.
 */
export function resizeNearestLabels(labels: Uint8Array, from: readonly [height: number, width: number], to: readonly [height: number, width: number]): Uint8Array {
  const [height, width] = from;
  const [targetHeight, targetWidth] = to;
  if (labels.length !== height * width) throw new ShapeError(`mask ${width}×${height} needs ${height * width} labels, got ${labels.length}`);
  if (height === targetHeight && width === targetWidth) return labels.slice();
  const source = (i: number, n: number, target: number): number => Math.min(n - 1, Math.floor(((i + 0.5) * n) / target));
  const columns = Int32Array.from({ length: targetWidth }, (_, x) => source(x, width, targetWidth));
  const out = new Uint8Array(targetHeight * targetWidth);
  for (let y = 0; y < targetHeight; y++) {
    const row = source(y, height, targetHeight) * width;
    for (let x = 0; x < targetWidth; x++) out[y * targetWidth + x] = labels[row + columns[x]];
  }
  return out;
}
/** Bytes of a file by its path relative to the data set's root (`JPEGImages/a.jpg`), or undefined when absent. */
export type VocLookup = (path: string) => Promise<Uint8Array | undefined>;

export interface VocReadOptions extends SegmentationReadOptions {
  /** Which list of ImageSets/Segmentation to read (default 'train'). */
  split?: VocSplit;
}

/**
 * Reads a VOC split through `lookup` (a folder on disk, dropped files, …): the split list's names (the first
 * `limit`), each name's image (.jpg, .png or .jpeg) and mask, the class names (see SegmentationReadOptions).
 * `root` names the data set in errors.
 */
export async function readVocSplit(lookup: VocLookup, root: string, options: VocReadOptions = {}): Promise<SegmentationSet> {
  const split = options.split ?? 'train';
  const listPath = VOC_PATHS.split(split);
  const list = await lookup(listPath);
  if (list === undefined) throw new ConfigError(`${root}: no ${listPath}: not a VOC segmentation folder, or no ${split} split`);
  const names = parseSplitList(new TextDecoder().decode(list));
  const limit = options.limit ?? names.length;
  if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`segmentation data: limit must be a positive integer, got ${limit}`);
  const samples: VocSample[] = [];
  for (const name of names.slice(0, limit)) samples.push(await vocSample(lookup, root, name));
  const annotations = options.classNames ? undefined : await lookup(VOC_PATHS.annotations);
  const classNames = resolveClassNames(options.classNames, annotations && { source: `${root}/${VOC_PATHS.annotations}`, bytes: annotations });
  return decodeVocSamples(samples, classNames, options);
}

async function vocSample(lookup: VocLookup, root: string, name: string): Promise<VocSample> {
  const maskPath = `${VOC_PATHS.masks}/${name}.png`;
  const mask = await lookup(maskPath);
  if (mask === undefined) throw new ConfigError(`${root}: the split names ${JSON.stringify(name)} but ${maskPath} is missing`);
  for (const extension of VOC_IMAGE_EXTENSIONS) {
    const imagePath = `${VOC_PATHS.images}/${name}${extension}`;
    const image = await lookup(imagePath);
    if (image !== undefined) return { name, image: { source: `${root}/${imagePath}`, bytes: image }, mask: { source: `${root}/${maskPath}`, bytes: mask } };
  }
  throw new ConfigError(`${root}: the split names ${JSON.stringify(name)} but there is no ${VOC_PATHS.images}/${name}{${VOC_IMAGE_EXTENSIONS.join(',')}}`);
}
