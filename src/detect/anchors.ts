// Anchor (default box) generators: TF Object Detection API's `ssd_anchor_generator` and torchvision's
// `DefaultBoxGenerator`, both as (ycenter, xcenter, h, w) normalized rows ordered map, y, x, box spec.

import { ConfigError, ShapeError } from '../errors.js';
import { formatShape, type Tensor } from '../tensor/tensor.js';

/** A feature map's grid, [height, width] in cells. */
export type GridSize = readonly [height: number, width: number];

/** One anchor shape of a layer: TF's box spec (scale, aspect ratio = w / h). */
export type BoxSpec = readonly [scale: number, aspectRatio: number];

/** TF's `ssd_anchor_generator` (object_detection/anchor_generators/multiple_grid_anchor_generator.py `create_ssd_anchors`). */
export interface SsdAnchorOptions {
  /** The feature maps' grids, lowest (largest) layer first. */
  featureMaps: readonly GridSize[];
  /** Scale of the lowest layer (0.2) … */
  minScale?: number;
  /** … to the highest (0.95), linearly; ignored when `scales` is given. */
  maxScale?: number;
  /** One scale per layer instead of the linear min→max ramp. */
  scales?: readonly number[];
  /** Aspect ratios (w / h) of every layer but a reduced lowest one: 1, 2, 1/2, 3, 1/3. */
  aspectRatios?: readonly number[];
  /** Ratio of the extra box at √(s_k·s_{k+1}) on each layer (1); 0 or less: no extra box. */
  interpolatedScaleAspectRatio?: number;
  /** The lowest layer gets only (0.1, 1), (s, 2), (s, 1/2) (true). */
  reduceBoxesInLowestLayer?: boolean;
  /** [height, width] the scales multiply (1, 1). */
  baseAnchorSize?: readonly [number, number];
  /** The input image's [height, width]: TF scales the base anchor size by min(h, w)/h and min(h, w)/w so boxes stay square in pixels on non-square inputs. */
  imageSize?: readonly [number, number];
  /** Per layer [y, x] distance between anchor centers, normalized; 1/H, 1/W by default. */
  strides?: readonly (readonly [number, number])[];
  /** Per layer [y, x] center of the first anchor, normalized; half the stride by default. */
  offsets?: readonly (readonly [number, number])[];
}

const TF_ASPECT_RATIOS = [1, 2, 1 / 2, 3, 1 / 3];

function checkGrids(featureMaps: readonly GridSize[], what: string): void {
  if (featureMaps.length === 0) throw new ConfigError(`${what}: featureMaps is empty; give each feature map's [height, width]`);
  featureMaps.forEach(([h, w], k) => {
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
      throw new ConfigError(`${what}: feature map ${k} has grid [${h}, ${w}]; expected positive integers`);
    }
  });
}

function checkPositive(values: readonly number[], name: string, what: string): void {
  for (const v of values) if (!(v > 0) || !Number.isFinite(v)) throw new ConfigError(`${what}: ${name} must be positive numbers, got [${values.join(', ')}]`);
}

function checkPerLayer(list: readonly unknown[] | undefined, layers: number, name: string, what: string): void {
  if (list !== undefined && list.length !== layers) {
    throw new ConfigError(`${what}: ${name} has ${list.length} entries for ${layers} feature maps`);
  }
}

/** The box specs (scale, aspect ratio) of each layer, as `create_ssd_anchors` lists them. */
export function ssdBoxSpecs(options: SsdAnchorOptions): BoxSpec[][] {
  const what = 'ssdAnchors';
  const layers = options.featureMaps.length;
  checkGrids(options.featureMaps, what);
  const aspectRatios = options.aspectRatios ?? TF_ASPECT_RATIOS;
  checkPositive(aspectRatios, 'aspectRatios', what);
  checkPerLayer(options.scales, layers, 'scales', what);
  const minScale = options.minScale ?? 0.2;
  const maxScale = options.maxScale ?? 0.95;
  // TF's ramp divides by layers − 1; a single layer takes minScale.
  const scales = options.scales ? [...options.scales] : Array.from({ length: layers }, (_, i) => (layers === 1 ? minScale : minScale + ((maxScale - minScale) * i) / (layers - 1)));
  checkPositive(scales, 'scales', what);
  scales.push(1); // only the last layer's interpolated scale uses it
  const interpolatedRatio = options.interpolatedScaleAspectRatio ?? 1;
  const reduceLowest = options.reduceBoxesInLowestLayer ?? true;
  return scales.slice(0, layers).map((scale, layer): BoxSpec[] => {
    if (layer === 0 && reduceLowest) return [[0.1, 1], [scale, 2], [scale, 0.5]];
    const specs: BoxSpec[] = aspectRatios.map((ratio) => [scale, ratio]);
    if (interpolatedRatio > 0) specs.push([Math.sqrt(scale * scales[layer + 1]), interpolatedRatio]);
    return specs;
  });
}

/** Anchors per location of each layer (the head's A per map): 3 on a reduced lowest layer, 6 with TF's defaults elsewhere. */
export function ssdAnchorsPerLocation(options: SsdAnchorOptions): number[] {
  return ssdBoxSpecs(options).map((specs) => specs.length);
}

/** Writes anchors of one grid: rows (ycenter, xcenter, h, w) for y, then x, then each (h, w) pair. */
function tileGrid(out: Float32Array, at: number, grid: GridSize, stride: readonly [number, number], offset: readonly [number, number], sizes: readonly (readonly [number, number])[]): number {
  const [height, width] = grid;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (const [h, w] of sizes) {
        out[at++] = y * stride[0] + offset[0];
        out[at++] = x * stride[1] + offset[1];
        out[at++] = h;
        out[at++] = w;
      }
    }
  }
  return at;
}

function gridAnchorCount(featureMaps: readonly GridSize[], perLocation: readonly number[]): number {
  return featureMaps.reduce((n, [h, w], k) => n + h * w * perLocation[k], 0);
}

/**
 * TF's `ssd_anchor_generator`: [A·4] (ycenter, xcenter, h, w), normalized, not clipped; centers ((i + 0.5)/H,
 * (j + 0.5)/W) by default; h = s/√r·base_h, w = s·√r·base_w.
 */
export function ssdAnchors(options: SsdAnchorOptions): Float32Array {
  const specs = ssdBoxSpecs(options);
  const { featureMaps } = options;
  checkPerLayer(options.strides, featureMaps.length, 'strides', 'ssdAnchors');
  checkPerLayer(options.offsets, featureMaps.length, 'offsets', 'ssdAnchors');
  let [baseH, baseW] = options.baseAnchorSize ?? [1, 1];
  if (options.imageSize) {
    const [imageH, imageW] = options.imageSize;
    checkPositive([imageH, imageW], 'imageSize', 'ssdAnchors');
    const shortSide = Math.min(imageH, imageW);
    baseH *= shortSide / imageH;
    baseW *= shortSide / imageW;
  }
  const out = new Float32Array(4 * gridAnchorCount(featureMaps, specs.map((s) => s.length)));
  let at = 0;
  featureMaps.forEach((grid, k) => {
    const stride = options.strides?.[k] ?? ([1 / grid[0], 1 / grid[1]] as const);
    const offset = options.offsets?.[k] ?? ([stride[0] / 2, stride[1] / 2] as const);
    const sizes = specs[k].map(([scale, ratio]) => [(scale / Math.sqrt(ratio)) * baseH, scale * Math.sqrt(ratio) * baseW] as const);
    at = tileGrid(out, at, grid, stride, offset, sizes);
  });
  return out;
}

/** torchvision's `DefaultBoxGenerator` (models/detection/anchor_utils.py), the SSD paper's default boxes. */
export interface DefaultBoxOptions {
  /** The feature maps' grids, lowest layer first. */
  featureMaps: readonly GridSize[];
  /** The extra aspect ratios of each layer: each r adds (w, h) = (s√r, s/√r) and its transpose. ssdlite320: [2, 3] on all six. */
  aspectRatios: readonly (readonly number[])[];
  /** Lowest scale of the linear ramp (0.15). */
  minRatio?: number;
  /** Highest scale of the ramp (0.9). */
  maxRatio?: number;
  /** One scale per layer plus one more (the last layer's s′ uses it), instead of the ramp (SSD300: 0.07 … 1.05). */
  scales?: readonly number[];
  /** Per layer, the input pixels per cell that set the centers' spacing (SSD300: 8, 16, 32, 64, 100, 300); needs `imageSize`. */
  steps?: readonly number[];
  /** The input image's [height, width] in pixels; only `steps` uses it. */
  imageSize?: readonly [number, number];
  /** Clip the default boxes' widths and heights to [0, 1] (true); centers are never clipped. */
  clip?: boolean;
}

/** torchvision's (w, h) pairs per layer: (s, s), (s′, s′) with s′ = √(s_k·s_{k+1}), then (s√r, s/√r), (s/√r, s√r) per ratio. */
function defaultBoxSizes(options: DefaultBoxOptions): [number, number][][] {
  const what = 'defaultBoxes';
  const layers = options.featureMaps.length;
  checkGrids(options.featureMaps, what);
  checkPerLayer(options.aspectRatios, layers, 'aspectRatios', what);
  for (const ratios of options.aspectRatios) checkPositive(ratios, 'aspectRatios', what);
  const minRatio = options.minRatio ?? 0.15;
  const maxRatio = options.maxRatio ?? 0.9;
  let scales: number[];
  if (options.scales) {
    checkPerLayer(options.scales, layers + 1, 'scales (one per feature map plus one)', what);
    scales = [...options.scales];
  } else {
    scales = layers > 1 ? [...Array.from({ length: layers }, (_, k) => minRatio + ((maxRatio - minRatio) * k) / (layers - 1)), 1] : [minRatio, maxRatio];
  }
  checkPositive(scales, 'scales', what);
  return options.aspectRatios.map((ratios, k) => {
    const s = scales[k];
    const sPrime = Math.sqrt(scales[k] * scales[k + 1]);
    const pairs: [number, number][] = [[s, s], [sPrime, sPrime]];
    for (const r of ratios) {
      const w = s * Math.sqrt(r);
      const h = s / Math.sqrt(r);
      pairs.push([w, h], [h, w]);
    }
    return pairs;
  });
}

/** Default boxes per location of each layer: 2 + 2 per aspect ratio (6 for [2, 3]). */
export function defaultBoxesPerLocation(aspectRatios: readonly (readonly number[])[]): number[] {
  return aspectRatios.map((ratios) => 2 + 2 * ratios.length);
}

/**
 * torchvision's default boxes as [A·4] (ycenter, xcenter, h, w), normalized, in torchvision's order
 * (map, y, x, pair); torchvision keeps them as pixel corners, which encode and decode to the same boxes.
 */
export function defaultBoxes(options: DefaultBoxOptions): Float32Array {
  const sizes = defaultBoxSizes(options);
  const { featureMaps, steps, imageSize } = options;
  checkPerLayer(steps, featureMaps.length, 'steps', 'defaultBoxes');
  if (steps && !imageSize) throw new ConfigError('defaultBoxes: steps need imageSize ([height, width] of the input in pixels)');
  const clip = options.clip ?? true;
  const out = new Float32Array(4 * gridAnchorCount(featureMaps, sizes.map((s) => s.length)));
  let at = 0;
  featureMaps.forEach((grid, k) => {
    // torchvision unpacks (x_f_k, y_f_k) from image_size = (H, W): with steps, x spacing follows the height and
    // y spacing the width. Kept as it is, for its trained weights; it only matters on non-square inputs.
    const cellsY = steps && imageSize ? imageSize[1] / steps[k] : grid[0];
    const cellsX = steps && imageSize ? imageSize[0] / steps[k] : grid[1];
    const hw = sizes[k].map(([w, h]) => (clip ? [Math.min(Math.max(h, 0), 1), Math.min(Math.max(w, 0), 1)] : [h, w]) as [number, number]);
    at = tileGrid(out, at, grid, [1 / cellsY, 1 / cellsX], [0.5 / cellsY, 0.5 / cellsX], hw);
  });
  return out;
}

/**
 * Anchors from a tensor (a `.npy` file, a model's constant): [A, 4] rows (ycenter, xcenter, h, w). `source`
 * names it in errors; `expectedCount` (the model outputs' anchor count) must match when given.
 */
export function readAnchors(tensor: Tensor, expectedCount: number | undefined, source: string): Float32Array {
  if (tensor.shape.length !== 2 || tensor.shape[1] !== 4) {
    throw new ShapeError(`anchors from ${source}: expected shape [anchors, 4] as (ycenter, xcenter, h, w), got ${formatShape(tensor.shape)}`);
  }
  const count = tensor.shape[0];
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new ShapeError(`anchors from ${source}: ${count} anchors, but the model's outputs have ${expectedCount}`);
  }
  for (let i = 0; i < tensor.data.length; i++) {
    const v = tensor.data[i];
    if (!Number.isFinite(v) || (i % 4 >= 2 && v < 0)) {
      throw new ShapeError(`anchors from ${source}: anchor ${Math.floor(i / 4)} has ${i % 4 >= 2 ? 'a negative or non-finite size' : 'a non-finite center'} (${v})`);
    }
  }
  return tensor.data;
}
