// SSD's training augmentation (torchvision's SSD recipe): photometric distortions, zoom out onto a mean-filled
// canvas, a random crop with IoU constraints, a horizontal flip — the boxes moved exactly as the pixels are.

import { ConfigError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { boxAreas, iou } from '../detect/nms.js';
import type { GroundTruth } from '../train/detection-targets.js';
import type { UniformSource } from './segmentation-augment.js';
import { scaledValue, type ImageShape, type PixelScaling } from './preprocess.js';

/** An image (HWC, pixels as the model takes them) with its objects (normalized corner boxes and classes 1..K). */
export interface DetectionSample extends GroundTruth {
  image: Float32Array;
  shape: ImageShape;
}

/** torchvision's `RandomPhotometricDistort`: each distortion applied with probability `p`, its factor drawn from its range. */
export interface PhotometricOptions {
  p?: number;
  brightness?: readonly [number, number];
  contrast?: readonly [number, number];
  saturation?: readonly [number, number];
  /** A shift of the hue, in turns. */
  hue?: readonly [number, number];
}

export interface DetectionAugmentOptions {
  /** Photometric distortions (true: torchvision's defaults; default off). */
  photometric?: boolean | PhotometricOptions;
  /** Zoom out (torchvision's `RandomZoomOut`): with probability `p` (0.5), the image on a canvas `maxRatio` (4) times larger at most. */
  expand?: boolean | { p?: number; maxRatio?: number };
  /** Random crop (torchvision's `RandomIoUCrop`; true: the defaults below; default off). */
  crop?: boolean | CropOptions;
  /** Probability of a horizontal flip (true: 0.5; default off). */
  flip?: boolean | number;
  /** The canvas colour on the 0..1 scale, one value or one per channel (0.5). */
  fill?: number | readonly number[];
  /** How the images' pixels were scaled ('unit' by default): the photometric distortions and the fill work on 0..1. */
  pixels?: PixelScaling;
}

export interface CropOptions {
  /** The minimum IoU of the crop with some kept box, drawn uniformly from these; `null` keeps the whole image. */
  minIous?: readonly (number | null)[];
  /** The crop's height and width as fractions of the image's, each drawn from this range ([0.3, 1]). */
  scale?: readonly [number, number];
  /** The crop's width/height in pixels must lie in this range ([0.5, 2]). */
  aspectRatio?: readonly [number, number];
  /** Tries before the whole image is kept (40). */
  trials?: number;
}

/** What one sample's augmentation drew: the window of the original image the output shows, a flip, the photometric factors. */
export interface DetectionAugmentPlan {
  /**
   * [ymin, xmin, ymax, xmax] of the output in the original image's normalized coordinates: [0, 0, 1, 1] is the
   * image as it is, beyond [0, 1] the canvas. Boxes keep their part inside it; a crop keeps only the boxes
   * whose centre lies inside it.
   */
  window: readonly [number, number, number, number];
  /** Keep only the boxes whose centre lies inside the window (a crop's rule); an expanded canvas keeps all. */
  centreRule: boolean;
  flip: boolean;
  /** Factors of the distortions drawn, in the order applied; absent ones were not. */
  photometric: PhotometricStep[];
}

export type PhotometricStep = { kind: 'brightness' | 'contrast' | 'saturation' | 'hue'; factor: number };

const DEFAULT_PHOTOMETRIC: Required<PhotometricOptions> = { p: 0.5, brightness: [0.875, 1.125], contrast: [0.5, 1.5], saturation: [0.5, 1.5], hue: [-0.05, 0.05] };
const DEFAULT_CROP: Required<CropOptions> = { minIous: [0, 0.1, 0.3, 0.5, 0.7, 0.9, null], scale: [0.3, 1], aspectRatio: [0.5, 2], trials: 40 };
const IDENTITY: DetectionAugmentPlan['window'] = [0, 0, 1, 1];

const between = (random: UniformSource, [lo, hi]: readonly [number, number]): number => lo + (hi - lo) * random.uniform();

function resolveProbability(value: boolean | number | undefined, on: number, what: string): number {
  const p = value === true ? on : value === false || value === undefined ? 0 : value;
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`${what} probability must be in [0, 1], got ${p}`);
  return p;
}

function checkRange(range: readonly [number, number], what: string, lowest = 0): void {
  if (!(range.length === 2 && range[0] >= lowest && range[1] >= range[0] && Number.isFinite(range[1]))) throw new ConfigError(`detection augmentation: ${what} must be [min, max] with ${lowest} ≤ min ≤ max, got [${range.join(', ')}]`);
}

/**
 * Draws one sample's augmentation, always in this order: the photometric distortions (torchvision's order: a
 * uniform each for brightness, contrast-first-or-last, saturation, hue, with a factor each when applied), the
 * expansion (a uniform; when applied: the ratio, the image's row and column offsets on the canvas), the crop (a
 * uniform for the option; per trial the two scales, then the two offsets), the flip (a uniform).
 */
export function drawDetectionAugment(sample: DetectionSample, random: UniformSource, options: DetectionAugmentOptions = {}): DetectionAugmentPlan {
  const [height, width, channels] = sample.shape;
  const photometric = drawPhotometric(random, options.photometric, channels);
  let window: readonly [number, number, number, number] = IDENTITY;
  const expand = options.expand === true ? {} : options.expand || null;
  if (expand) {
    const p = resolveProbability(expand.p ?? 0.5, 0.5, 'expand');
    const maxRatio = expand.maxRatio ?? 4;
    if (!(maxRatio >= 1)) throw new ConfigError(`detection augmentation: expand's maxRatio must be ≥ 1, got ${maxRatio}`);
    if (random.uniform() < p) {
      const ratio = between(random, [1, maxRatio]);
      const [top, left] = [random.uniform() * (ratio - 1), random.uniform() * (ratio - 1)];
      window = [-top, -left, ratio - top, ratio - left];
    }
  }
  let centreRule = false;
  const crop = options.crop === true ? {} : options.crop || null;
  if (crop) {
    const cropped = drawCrop(sample, window, [height, width], random, { ...DEFAULT_CROP, ...crop });
    if (cropped) [window, centreRule] = [cropped, true];
  }
  const flip = random.uniform() < resolveProbability(options.flip, 0.5, 'flip');
  return { window, centreRule, flip, photometric };
}

function drawPhotometric(random: UniformSource, given: DetectionAugmentOptions['photometric'], channels: number): PhotometricStep[] {
  if (!given) return [];
  const o = { ...DEFAULT_PHOTOMETRIC, ...(given === true ? {} : given) };
  resolveProbability(o.p, 0.5, 'photometric');
  checkRange(o.brightness, 'brightness');
  checkRange(o.contrast, 'contrast');
  checkRange(o.saturation, 'saturation');
  checkRange(o.hue, 'hue', -0.5);
  const steps: PhotometricStep[] = [];
  const maybe = (kind: PhotometricStep['kind'], range: readonly [number, number]): void => {
    // grey images have no saturation or hue; the uniforms are drawn all the same, so that the draws line up
    if (random.uniform() < o.p) {
      const factor = between(random, range);
      if (channels === 3 || kind === 'brightness' || kind === 'contrast') steps.push({ kind, factor });
    }
  };
  maybe('brightness', o.brightness);
  const contrastFirst = random.uniform() < 0.5;
  if (contrastFirst) maybe('contrast', o.contrast);
  maybe('saturation', o.saturation);
  maybe('hue', o.hue);
  if (!contrastFirst) maybe('contrast', o.contrast);
  return steps;
}

/**
 * torchvision's RandomIoUCrop on the (possibly expanded) canvas `outer`: an option from `minIous` (null: no crop);
 * up to `trials` windows of random scale and offset whose pixel aspect ratio is in range, which keep some box's
 * centre and overlap some kept box by IoU ≥ the option. The window, in image coordinates, or null for none.
 */
function drawCrop(sample: DetectionSample, outer: readonly [number, number, number, number], [height, width]: readonly [number, number], random: UniformSource, o: Required<CropOptions>): [number, number, number, number] | null {
  checkRange(o.scale, 'crop scale');
  checkRange(o.aspectRatio, 'crop aspect ratio');
  if (o.minIous.length === 0 || o.minIous.some((v) => v !== null && !(v >= 0 && v <= 1))) throw new ConfigError(`detection augmentation: crop minIous must be IoUs in [0, 1] or null, got [${o.minIous.join(', ')}]`);
  const minIou = o.minIous[Math.min(o.minIous.length - 1, Math.floor(random.uniform() * o.minIous.length))];
  if (minIou === null) return null;
  const [outerH, outerW] = [outer[2] - outer[0], outer[3] - outer[1]];
  for (let trial = 0; trial < o.trials; trial++) {
    const [sh, sw] = [between(random, o.scale), between(random, o.scale)];
    const [top, left] = [random.uniform() * (1 - sh), random.uniform() * (1 - sw)];
    const aspect = (sw * width) / (sh * height);
    if (aspect < o.aspectRatio[0] || aspect > o.aspectRatio[1]) continue;
    const window: [number, number, number, number] = [outer[0] + top * outerH, outer[1] + left * outerW, outer[0] + (top + sh) * outerH, outer[1] + (left + sw) * outerW];
    // the boxes and, last, the window: one set for nms.ts's IoU
    const set = Float64Array.from([...sample.boxes, ...window]);
    const overlaps = { boxes: set, areas: boxAreas(set) };
    const count = sample.classes.length;
    let best = -1;
    for (let g = 0; g < count; g++) if (centreInside(sample.boxes, g * 4, window)) best = Math.max(best, iou(overlaps, g, count));
    if (best >= minIou) return window;
  }
  return null;
}

function centreInside(boxes: ArrayLike<number>, at: number, [y0, x0, y1, x1]: readonly number[]): boolean {
  const [cy, cx] = [(boxes[at] + boxes[at + 2]) / 2, (boxes[at + 1] + boxes[at + 3]) / 2];
  return cy > y0 && cy < y1 && cx > x0 && cx < x1;
}

/**
 * Applies a plan: the output (the input's size) samples the window of the image bilinearly, pixel centres to pixel
 * centres, the fill where the window leaves the image; mirrored when flipped; then the photometric steps on the 0..1
 * scale (clamped there). Boxes: clipped to the window and mapped into it (x → 1 − x when flipped); under the
 * centre rule only the boxes whose centre is inside are kept.
 */
export function applyDetectionAugment(sample: DetectionSample, plan: DetectionAugmentPlan, options: Pick<DetectionAugmentOptions, 'fill' | 'pixels'> = {}): DetectionSample {
  const [height, width, channels] = sample.shape;
  if (sample.image.length !== height * width * channels) throw new ShapeError(`detection sample [${sample.shape.join(', ')}]: ${sample.image.length} image values`);
  const [black, white] = [scaledValue(0, channels, options.pixels ?? 'unit'), scaledValue(255, channels, options.pixels ?? 'unit')];
  const fillUnit = typeof options.fill === 'object' ? [...options.fill] : new Array<number>(channels).fill(options.fill ?? 0.5);
  if (fillUnit.length !== channels) throw new ConfigError(`detection augmentation: fill has ${fillUnit.length} values for ${channels} channels`);
  const fill = fillUnit.map((v, c) => black[c] + v * (white[c] - black[c]));
  const [y0, x0, y1, x1] = plan.window;
  const image = new Float32Array(sample.image.length);
  // output pixel centre (i + 0.5)/H of the window ↦ source pixel coordinate (y0 + (i + 0.5)/H·(y1 − y0))·H − 0.5
  const source = (i: number, size: number, lo: number, hi: number): number => (lo + ((i + 0.5) / size) * (hi - lo)) * size - 0.5;
  const value = new Float64Array(channels);
  for (let i = 0; i < height; i++) {
    const sy = source(i, height, y0, y1);
    for (let j = 0; j < width; j++) {
      const sx = source(plan.flip ? width - 1 - j : j, width, x0, x1);
      sampleBilinear(sample.image, sample.shape, sy, sx, fill, value);
      image.set(value, (i * width + j) * channels);
    }
  }
  for (const step of plan.photometric) distort(image, channels, step, black, white);
  const { boxes, classes } = moveBoxes(sample, plan);
  return { image, shape: sample.shape, boxes, classes };
}

/** Bilinear at source pixel coordinates (sy, sx), edge pixels extended half a pixel; `fill` beyond that. */
function sampleBilinear(image: Float32Array, [height, width, channels]: ImageShape, sy: number, sx: number, fill: readonly number[], out: Float64Array): void {
  if (sy < -0.5 || sy > height - 0.5 || sx < -0.5 || sx > width - 0.5) {
    out.set(fill);
    return;
  }
  const [cy, cx] = [Math.min(Math.max(sy, 0), height - 1), Math.min(Math.max(sx, 0), width - 1)];
  const [ya, xa] = [Math.floor(cy), Math.floor(cx)];
  const [yb, xb] = [Math.min(ya + 1, height - 1), Math.min(xa + 1, width - 1)];
  const [fy, fx] = [cy - ya, cx - xa];
  for (let c = 0; c < channels; c++) {
    const at = (y: number, x: number): number => image[(y * width + x) * channels + c];
    out[c] = (1 - fy) * ((1 - fx) * at(ya, xa) + fx * at(ya, xb)) + fy * ((1 - fx) * at(yb, xa) + fx * at(yb, xb));
  }
}

/** The boxes clipped to the plan's window and mapped into it (and flipped), with their classes; see applyDetectionAugment. */
export function moveBoxes(sample: GroundTruth, plan: Pick<DetectionAugmentPlan, 'window' | 'centreRule' | 'flip'>): GroundTruth {
  const [y0, x0, y1, x1] = plan.window;
  const [h, w] = [y1 - y0, x1 - x0];
  const boxes: number[] = [];
  const classes: number[] = [];
  for (let g = 0; g < sample.classes.length; g++) {
    if (plan.centreRule && !centreInside(sample.boxes, g * 4, plan.window)) continue;
    const clip = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
    const [ymin, xmin, ymax, xmax] = [(clip(sample.boxes[g * 4], y0, y1) - y0) / h, (clip(sample.boxes[g * 4 + 1], x0, x1) - x0) / w, (clip(sample.boxes[g * 4 + 2], y0, y1) - y0) / h, (clip(sample.boxes[g * 4 + 3], x0, x1) - x0) / w];
    boxes.push(ymin, plan.flip ? 1 - xmax : xmin, ymax, plan.flip ? 1 - xmin : xmax);
    classes.push(sample.classes[g]);
  }
  return { boxes: Float32Array.from(boxes), classes: Int32Array.from(classes) };
}

/** One photometric step in place on the 0..1 scale (torchvision's adjust_* functions), clamped to [0, 1]. */
function distort(image: Float32Array, channels: number, { kind, factor }: PhotometricStep, black: readonly number[], white: readonly number[]): void {
  const unit = (i: number): number => (image[i] - black[i % channels]) / (white[i % channels] - black[i % channels]);
  const store = (i: number, v: number): void => {
    image[i] = black[i % channels] + Math.min(Math.max(v, 0), 1) * (white[i % channels] - black[i % channels]);
  };
  const grey = (p: number): number => (channels === 3 ? 0.299 * unit(p) + 0.587 * unit(p + 1) + 0.114 * unit(p + 2) : unit(p));
  const pixels = image.length / channels;
  if (kind === 'brightness') for (let i = 0; i < image.length; i++) store(i, factor * unit(i));
  else if (kind === 'contrast') {
    let mean = 0;
    for (let p = 0; p < pixels; p++) mean += grey(p * channels) / pixels;
    for (let i = 0; i < image.length; i++) store(i, factor * unit(i) + (1 - factor) * mean);
  } else if (kind === 'saturation') {
    for (let p = 0; p < image.length; p += channels) {
      const g = grey(p);
      for (let c = 0; c < channels; c++) store(p + c, factor * unit(p + c) + (1 - factor) * g);
    }
  } else {
    for (let p = 0; p < image.length; p += 3) {
      const [r, g, b] = shiftHue(unit(p), unit(p + 1), unit(p + 2), factor);
      store(p, r);
      store(p + 1, g);
      store(p + 2, b);
    }
  }
}

/** RGB → HSV, hue + shift (turns, modulo 1), → RGB. */
export function shiftHue(r: number, g: number, b: number, shift: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const delta = max - min;
  if (delta === 0) return [r, g, b];
  let hue = max === r ? ((g - b) / delta) % 6 : max === g ? (b - r) / delta + 2 : (r - g) / delta + 4;
  hue = ((hue / 6 + shift) % 1 + 1) % 1;
  const [s, v] = [delta / max, max];
  const sector = Math.floor(hue * 6);
  const f = hue * 6 - sector;
  const [p, q, t] = [v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)];
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as const)[sector % 6].slice() as [number, number, number];
}

/** Draws and applies each sample's augmentation in turn (see drawDetectionAugment for the draws): new arrays. */
export function augmentDetectionBatch(images: Tensor, truths: readonly GroundTruth[], random: UniformSource, options: DetectionAugmentOptions = {}): { images: Tensor; truths: GroundTruth[] } {
  if (images.rank !== 4 || truths.length !== images.shape[0]) throw new ShapeError(`detection batch: images [${images.shape.join(', ')}] (NHWC) need one set of boxes each, got ${truths.length}`);
  const [count, height, width, channels] = images.shape;
  const size = height * width * channels;
  const out = new Float32Array(images.data.length);
  const moved: GroundTruth[] = [];
  for (let n = 0; n < count; n++) {
    const sample: DetectionSample = { image: images.data.subarray(n * size, (n + 1) * size), shape: [height, width, channels], ...truths[n] };
    const augmented = applyDetectionAugment(sample, drawDetectionAugment(sample, random, options), options);
    out.set(augmented.image, n * size);
    moved.push({ boxes: augmented.boxes, classes: augmented.classes });
  }
  return { images: new Tensor(images.shape, out), truths: moved };
}
