// Training-time augmentation of NHWC batches, in place and seeded: random crop with zero padding, horizontal
// flip and random erasing (torchvision's RandomCrop, RandomHorizontalFlip and RandomErasing semantics).

import { ConfigError, ShapeError } from '../errors.js';
import type { Random } from '../tensor/random.js';
import { expectRank, type Tensor } from '../tensor/tensor.js';

/** torchvision's RandomErasing parameters; defaults are torchvision's. */
export interface ErasingOptions {
  /** Probability an image gets a rectangle erased (default 0.5). */
  p?: number;
  /** Range of the erased area as a fraction of the image (default [0.02, 0.33]). */
  scale?: readonly [number, number];
  /** Range of the rectangle's aspect ratio height/width, drawn log-uniformly (default [0.3, 3.3]). */
  ratio?: readonly [number, number];
  /** Fill: one value, one per channel, or 'random' for standard normal noise per element (default 0). */
  value?: number | readonly number[] | 'random';
}

export interface AugmentOptions {
  /** Pad each side by this many pixels with `fill`, then crop back to the original size at a random place (0: off). */
  padding?: number;
  /** Value of the padding (default 0). For normalised inputs, (0 − mean)/std pads with black. */
  fill?: number;
  /** Probability of a horizontal flip (true: 0.5; default off). */
  flip?: boolean | number;
  /** Random erasing (default off). */
  erasing?: ErasingOptions | false;
}

type ImageShape = readonly [height: number, width: number, channels: number];

/**
 * Augments every image of an NHWC batch in place and returns it. Per image, in order: crop (two draws),
 * flip (one draw), erasing (one draw, then up to ten attempts of two, plus two for the position); so
 * the result depends only on the batch and the Random's state.
 */
export function augmentBatch(batch: Tensor, random: Random, options: AugmentOptions): Tensor {
  const shape = imageShapeOf(batch);
  const padding = options.padding ?? 0;
  if (!Number.isInteger(padding) || padding < 0) throw new ConfigError(`crop padding must be a non-negative integer, got ${padding}`);
  const flipP = options.flip === true ? 0.5 : options.flip === false || options.flip === undefined ? 0 : options.flip;
  checkProbability(flipP, 'flip');
  const erasing = options.erasing ? resolveErasing(options.erasing, shape[2]) : undefined;
  const scratch = padding > 0 ? new Float32Array(imageSize(shape)) : undefined;
  forEachImage(batch, shape, (image) => {
    if (scratch) cropImage(image, shape, drawCropOffset(random, padding), drawCropOffset(random, padding), options.fill ?? 0, scratch);
    if (flipP > 0 && random.uniform() < flipP) flipImage(image, shape);
    if (erasing) eraseRandomly(image, shape, random, erasing);
  });
  return batch;
}

/** torchvision RandomCrop(size, padding): each image shifted by a random (dy, dx) in [−padding, padding]², the rest filled. In place. */
export function randomCrop(batch: Tensor, padding: number, random: Random, options: { fill?: number } = {}): Tensor {
  return augmentBatch(batch, random, { padding, fill: options.fill });
}

/** torchvision RandomHorizontalFlip(p): each image mirrored left–right with probability p. In place. */
export function randomHorizontalFlip(batch: Tensor, random: Random, p = 0.5): Tensor {
  return augmentBatch(batch, random, { flip: p });
}

/** torchvision RandomErasing: with probability p, one rectangle of each image set to `value`. In place. */
export function randomErasing(batch: Tensor, random: Random, options: ErasingOptions = {}): Tensor {
  return augmentBatch(batch, random, { erasing: options });
}

/** Offset of the crop inside the padded image minus the padding: torchvision's randint(0, 2·padding + 1) − padding. */
function drawCropOffset(random: Random, padding: number): number {
  return randomInt(random, 2 * padding + 1) - padding;
}

/**
 * Crop of the zero-padded image with its top-left corner at (padding + dy, padding + dx), i.e.
 * output(y, x) = input(y + dy, x + dx), or `fill` outside the input. In place, through `scratch`.
 */
export function cropImage(
  image: Float32Array,
  shape: ImageShape,
  dy: number,
  dx: number,
  fill = 0,
  scratch = new Float32Array(image.length),
): void {
  const [height, width, channels] = shape;
  scratch.set(image.subarray(0, imageSize(shape)));
  for (let y = 0; y < height; y++) {
    const sy = y + dy;
    for (let x = 0; x < width; x++) {
      const sx = x + dx;
      const to = (y * width + x) * channels;
      const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      const from = (sy * width + sx) * channels;
      for (let c = 0; c < channels; c++) image[to + c] = inside ? scratch[from + c] : fill;
    }
  }
}

/** Mirrors one HWC image left–right, in place. */
export function flipImage(image: Float32Array, shape: ImageShape): void {
  const [height, width, channels] = shape;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width >> 1; x++) {
      const a = (y * width + x) * channels;
      const b = (y * width + (width - 1 - x)) * channels;
      for (let c = 0; c < channels; c++) {
        const t = image[a + c];
        image[a + c] = image[b + c];
        image[b + c] = t;
      }
    }
  }
}

/** Sets rows [top, top + h) × columns [left, left + w) of one HWC image to `value` (per channel, or noise from `random`). */
export function eraseImage(
  image: Float32Array,
  shape: ImageShape,
  region: { top: number; left: number; height: number; width: number },
  value: readonly number[] | 'random',
  random?: Random,
): void {
  const [, width, channels] = shape;
  for (let y = region.top; y < region.top + region.height; y++) {
    for (let x = region.left; x < region.left + region.width; x++) {
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        if (value !== 'random') image[o + c] = value[c];
        else if (random) image[o + c] = random.normal();
        else throw new ConfigError("erasing with value 'random' needs a Random");
      }
    }
  }
}

interface ResolvedErasing {
  p: number;
  scale: readonly [number, number];
  logRatio: readonly [number, number];
  value: readonly number[] | 'random';
}

function resolveErasing(options: ErasingOptions, channels: number): ResolvedErasing {
  const p = options.p ?? 0.5;
  const scale = options.scale ?? [0.02, 0.33];
  const ratio = options.ratio ?? [0.3, 3.3];
  checkProbability(p, 'erasing');
  if (!(scale[0] <= scale[1]) || scale[0] < 0 || scale[1] > 1) throw new ConfigError(`erasing scale must be 0 ≤ min ≤ max ≤ 1, got [${scale.join(', ')}]`);
  if (!(ratio[0] <= ratio[1]) || ratio[0] <= 0) throw new ConfigError(`erasing ratio must be 0 < min ≤ max, got [${ratio.join(', ')}]`);
  const raw = options.value ?? 0;
  let value: readonly number[] | 'random';
  if (raw === 'random') value = 'random';
  else if (typeof raw === 'number') value = new Array<number>(channels).fill(raw);
  else if (raw.length === 1 || raw.length === channels) value = raw.length === 1 ? new Array<number>(channels).fill(raw[0]) : raw;
  else throw new ConfigError(`erasing value has ${raw.length} entries for ${channels} channels`);
  return { p, scale, logRatio: [Math.log(ratio[0]), Math.log(ratio[1])], value };
}

/** torchvision's RandomErasing.get_params: up to ten tries for a rectangle strictly inside the image. */
function eraseRandomly(image: Float32Array, shape: ImageShape, random: Random, erasing: ResolvedErasing): void {
  if (!(random.uniform() < erasing.p)) return;
  const [height, width] = shape;
  const area = height * width;
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * uniform(random, erasing.scale[0], erasing.scale[1]);
    const aspect = Math.exp(uniform(random, erasing.logRatio[0], erasing.logRatio[1]));
    const h = roundHalfEven(Math.sqrt(eraseArea * aspect));
    const w = roundHalfEven(Math.sqrt(eraseArea / aspect));
    if (!(h < height && w < width)) continue;
    const top = randomInt(random, height - h + 1);
    const left = randomInt(random, width - w + 1);
    eraseImage(image, shape, { top, left, height: h, width: w }, erasing.value, random);
    return;
  }
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Uniform integer in [0, n). */
function randomInt(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random.uniform() * n));
}

function uniform(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random.uniform();
}

function checkProbability(p: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`${what} probability must be in [0, 1], got ${p}`);
}

function imageShapeOf(batch: Tensor): ImageShape {
  expectRank(batch, 4, 'augmentation batch (NHWC)');
  const [, height, width, channels] = batch.shape;
  if (height === 0 || width === 0 || channels === 0) throw new ShapeError(`augmentation batch has an empty image shape [${batch.shape.join(', ')}]`);
  return [height, width, channels];
}

function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

function forEachImage(batch: Tensor, shape: ImageShape, visit: (image: Float32Array) => void): void {
  const size = imageSize(shape);
  for (let n = 0; n < batch.shape[0]; n++) visit(batch.data.subarray(n * size, (n + 1) * size));
}
