// Training-time augmentation for segmentation that moves each mask with its image: random scale (bilinear for
// the image, nearest for the mask), random crop to a fixed size with padding (mask padded with 255), flip.

import { ConfigError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { IGNORE_LABEL } from './label-maps.js';
import { resizeBilinear, type ImageShape } from './preprocess.js';
import { resizeNearestLabels } from './segmentation-data.js';

export interface SegmentationAugmentOptions {
  /** Scale factor drawn uniformly from [min, max] (DeepLab trains with [0.5, 2]); default [1, 1], no scaling. */
  scale?: readonly [min: number, max: number];
  /** Output [height, width] of the random crop (default the input's size); where the image is smaller, padding. */
  crop?: readonly [height: number, width: number];
  /** Image padding: one value or one per channel (default 0, i.e. black for 0..1 pixels); masks pad with 255. */
  fill?: number | readonly number[];
  /** Probability of a horizontal flip (true: 0.5; default off). */
  flip?: boolean | number;
}

/** What the augmentation draws from: a Random, or any source of uniforms in [0, 1). */
export interface UniformSource {
  uniform(): number;
}

/** An image (HWC) with its mask (H·W labels). */
export interface SegmentationSample {
  image: Float32Array;
  mask: Uint8Array;
  shape: ImageShape;
}

/**
 * Augments one image and its mask into new arrays of the crop's size. Draws, always in this order: the scale
 * (one uniform), the crop's row and column offsets (one each), the flip (one). The crop window's top-left
 * corner, in scaled-image pixels, is drawn uniformly from the offsets that keep the window inside the image,
 * or, where the image is smaller, that keep the image inside the window: out(y, x) = scaled(y + dy, x + dx),
 * padding outside.
 */
export function augmentSegmentation(sample: SegmentationSample, random: UniformSource, options: SegmentationAugmentOptions = {}): SegmentationSample {
  const [height, width, channels] = sample.shape;
  if (sample.image.length !== height * width * channels || sample.mask.length !== height * width) {
    throw new ShapeError(`segmentation sample [${sample.shape.join(', ')}]: ${sample.image.length} image values and ${sample.mask.length} labels`);
  }
  const { scale, crop, fill, flip } = resolveOptions(options, [height, width], channels);
  const factor = scale[0] + (scale[1] - scale[0]) * random.uniform();
  const scaledSize: [number, number] = [Math.max(1, Math.round(height * factor)), Math.max(1, Math.round(width * factor))];
  const same = scaledSize[0] === height && scaledSize[1] === width;
  const image = same ? sample.image : resizeBilinear(sample.image, sample.shape, scaledSize);
  const mask = same ? sample.mask : resizeNearestLabels(sample.mask, [height, width], scaledSize);
  const dy = drawOffset(random, scaledSize[0], crop[0]);
  const dx = drawOffset(random, scaledSize[1], crop[1]);
  const mirror = random.uniform() < flip;
  const out = { image: new Float32Array(crop[0] * crop[1] * channels), mask: new Uint8Array(crop[0] * crop[1]), shape: [crop[0], crop[1], channels] as const };
  for (let y = 0; y < crop[0]; y++) {
    const sy = y + dy;
    for (let x = 0; x < crop[1]; x++) {
      const sx = (mirror ? crop[1] - 1 - x : x) + dx;
      const to = y * crop[1] + x;
      const inside = sy >= 0 && sy < scaledSize[0] && sx >= 0 && sx < scaledSize[1];
      const from = sy * scaledSize[1] + sx;
      out.mask[to] = inside ? mask[from] : IGNORE_LABEL;
      for (let c = 0; c < channels; c++) out.image[to * channels + c] = inside ? image[from * channels + c] : fill[c];
    }
  }
  return out;
}

/**
 * Augments every image of an NHWC batch with its mask (N·H·W labels), image after image (see
 * augmentSegmentation for the draws): new arrays, all of the crop's size.
 */
export function augmentSegmentationBatch(images: Tensor, masks: Uint8Array, random: UniformSource, options: SegmentationAugmentOptions = {}): { images: Tensor; masks: Uint8Array } {
  if (images.rank !== 4 || masks.length !== images.shape[0] * images.shape[1] * images.shape[2]) {
    throw new ShapeError(`segmentation batch: images [${images.shape.join(', ')}] (NHWC) need N·H·W labels, got ${masks.length}`);
  }
  const [count, height, width, channels] = images.shape;
  const [cropHeight, cropWidth] = options.crop ?? [height, width];
  const outImages = new Float32Array(count * cropHeight * cropWidth * channels);
  const outMasks = new Uint8Array(count * cropHeight * cropWidth);
  const plane = height * width;
  for (let n = 0; n < count; n++) {
    const sample = { image: images.data.subarray(n * plane * channels, (n + 1) * plane * channels), mask: masks.subarray(n * plane, (n + 1) * plane), shape: [height, width, channels] as const };
    const augmented = augmentSegmentation(sample, random, options);
    outImages.set(augmented.image, n * augmented.image.length);
    outMasks.set(augmented.mask, n * augmented.mask.length);
  }
  return { images: new Tensor([count, cropHeight, cropWidth, channels], outImages), masks: outMasks };
}

/** The window's offset along one axis: uniform over [min(0, size − crop), max(0, size − crop)]. */
function drawOffset(random: UniformSource, size: number, crop: number): number {
  const lo = Math.min(0, size - crop);
  const span = Math.abs(size - crop) + 1;
  return lo + Math.min(span - 1, Math.floor(random.uniform() * span));
}

function resolveOptions(options: SegmentationAugmentOptions, size: readonly [number, number], channels: number): { scale: readonly [number, number]; crop: readonly [number, number]; fill: number[]; flip: number } {
  const scale = options.scale ?? [1, 1];
  if (!(scale[0] > 0 && scale[1] >= scale[0] && Number.isFinite(scale[1]))) throw new ConfigError(`augmentation scale must satisfy 0 < min ≤ max, got [${scale.join(', ')}]`);
  const crop = options.crop ?? size;
  if (!crop.every((n) => Number.isInteger(n) && n >= 1)) throw new ConfigError(`augmentation crop must be positive integers [height, width], got [${crop.join(', ')}]`);
  const given = options.fill ?? 0;
  const fill = typeof given === 'number' ? new Array<number>(channels).fill(given) : [...given];
  if (fill.length !== channels) throw new ConfigError(`augmentation fill has ${fill.length} values for ${channels} channels`);
  const flip = options.flip === true ? 0.5 : options.flip === false || options.flip === undefined ? 0 : options.flip;
  if (!(flip >= 0 && flip <= 1)) throw new ConfigError(`flip probability must be in [0, 1], got ${flip}`);
  return { scale, crop, fill, flip };
}
