// Synthetic segmentation scenes (pure, seeded): Fashion-MNIST items scaled, tinted and pasted onto noise, gradient
// and texture backgrounds, with a per-pixel mask (label = item class + 1) and each visible item's box in COCO form.

import { ConfigError, ShapeError } from '../errors.js';
import { Random } from '../tensor/random.js';
import { FASHION_SCENE_CLASSES } from './label-maps.js';
import { resizeBilinear } from './preprocess.js';

/** The items scenes are made of: grey images (bright item on black, as Fashion-MNIST's) and their class 0..9. */
export interface SceneSource {
  /** count·height·width intensities 0..255, row-major. */
  images: Uint8Array;
  labels: ArrayLike<number>;
  height: number;
  width: number;
}

export interface SceneOptions {
  /** Side of the square scenes in pixels (default 128). */
  size?: number;
  /** Seeds scene k's own generator, so scene k is the same whatever the count (default 0). */
  seed?: number;
  /** Items per scene, drawn uniformly in [min, max] (default [1, 4]). */
  items?: readonly [min: number, max: number];
  /** An item's side as a fraction of the scene's, drawn uniformly (default [0.3, 0.7]). */
  scale?: readonly [min: number, max: number];
  /** A pixel belongs to its item where the item's intensity is above this fraction of its brightest (default 0.1). */
  threshold?: number;
}

/** An item as the finished scene shows it. */
export interface SceneObject {
  /** 1..10: the Fashion-MNIST class + 1. */
  label: number;
  /** The visible pixels' bounding box [x, y, width, height], in pixels. */
  box: [number, number, number, number];
  /** Visible pixels. */
  area: number;
}

export interface Scene {
  width: number;
  height: number;
  /** RGB, HWC, 0..255. */
  pixels: Uint8Array;
  /** A label per pixel: 0 background, 1..10 items. */
  mask: Uint8Array;
  /** The items still visible after later ones occluded them, in pasting order. */
  objects: SceneObject[];
  /** Which background was drawn. */
  background: BackgroundKind;
}

export type BackgroundKind = 'noise' | 'gradient' | 'stripes' | 'checks';
const BACKGROUNDS: readonly BackgroundKind[] = ['noise', 'gradient', 'stripes', 'checks'];

/** Scene `index` of the sequence `options.seed` names: the same bytes on every run and platform. */
export function generateScene(source: SceneSource, index: number, options: SceneOptions = {}): Scene {
  const { size, items, scale, threshold } = checkOptions(source, options);
  const random = new Random(sceneSeed(options.seed ?? 0, index));
  const pixels = new Float32Array(size * size * 3);
  const background = BACKGROUNDS[randomInt(random, BACKGROUNDS.length)];
  drawBackground(pixels, size, background, random);
  const instance = new Uint8Array(size * size); // 1 + the index of the item on top, 0 background
  const count = items[0] + randomInt(random, items[1] - items[0] + 1);
  const labels: number[] = [];
  for (let k = 0; k < count; k++) {
    const item = randomInt(random, source.labels.length);
    labels.push(source.labels[item] + 1);
    pasteItem(pixels, instance, size, source, item, k + 1, { scale, threshold }, random);
  }
  const mask = new Uint8Array(size * size);
  for (let i = 0; i < mask.length; i++) mask[i] = instance[i] === 0 ? 0 : labels[instance[i] - 1];
  return { width: size, height: size, pixels: Uint8Array.from(pixels, (v) => Math.round(Math.min(255, Math.max(0, v)))), mask, objects: visibleObjects(instance, size, labels), background };
}

/** A well-mixed 32-bit seed per scene (Weyl step and the murmur3 finaliser), so neighbouring scenes share no stream. */
function sceneSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function checkOptions(source: SceneSource, options: SceneOptions): Required<Omit<SceneOptions, 'seed'>> {
  const size = options.size ?? 128;
  const items = options.items ?? [1, 4];
  const scale = options.scale ?? [0.3, 0.7];
  const threshold = options.threshold ?? 0.1;
  if (!Number.isInteger(size) || size < 8) throw new ConfigError(`scene size must be an integer ≥ 8, got ${size}`);
  if (!(Number.isInteger(items[0]) && Number.isInteger(items[1]) && items[0] >= 1 && items[1] >= items[0] && items[1] < 255)) {
    throw new ConfigError(`items per scene must be integers 1 ≤ min ≤ max < 255, got [${items.join(', ')}]`);
  }
  if (!(scale[0] > 0 && scale[1] >= scale[0] && scale[1] <= 1)) throw new ConfigError(`item scale must satisfy 0 < min ≤ max ≤ 1, got [${scale.join(', ')}]`);
  if (!(threshold >= 0 && threshold < 1)) throw new ConfigError(`item threshold must be in [0, 1), got ${threshold}`);
  const { images, labels, height, width } = source;
  if (labels.length === 0 || images.length !== labels.length * height * width) {
    throw new ShapeError(`scene source: ${images.length} intensities for ${labels.length} items of ${height}×${width}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < FASHION_SCENE_CLASSES.length - 1)) {
      throw new ConfigError(`scene source: item ${i} has class ${labels[i]}, outside 0..${FASHION_SCENE_CLASSES.length - 2}`);
    }
  }
  return { size, items, scale, threshold };
}

function randomInt(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random.uniform() * n));
}

function between(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random.uniform();
}

/** A random colour, 0..255 per channel: any hue, saturation up to `maxSaturation` (0 = grey), value in [lo, hi]. */
function randomColour(random: Random, maxSaturation: number, value: readonly [number, number]): [number, number, number] {
  const hue = random.uniform() * 6;
  const saturation = random.uniform() * maxSaturation;
  const v = 255 * between(random, value[0], value[1]);
  const f = hue - Math.floor(hue);
  const p = v * (1 - saturation);
  const q = v * (1 - saturation * f);
  const t = v * (1 - saturation * (1 - f));
  const sextants: [number, number, number][] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]];
  return sextants[Math.floor(hue) % 6];
}

/** Two colours mixed per pixel by `weight(x, y)` in [0, 1], plus triangular noise of ±`noise` levels (cheaper than Gaussian). */
function fillMix(pixels: Float32Array, size: number, a: readonly number[], b: readonly number[], noise: number, random: Random, weight: (x: number, y: number) => number): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const w = weight(x, y);
      const at = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) pixels[at + c] = a[c] * (1 - w) + b[c] * w + noise * (random.uniform() + random.uniform() - 1);
    }
  }
}

function drawBackground(pixels: Float32Array, size: number, kind: BackgroundKind, random: Random): void {
  // half the backgrounds are grey-ish, so colour alone does not tell background from item
  const saturation = random.uniform() < 0.5 ? 0.15 : 0.8;
  const a = randomColour(random, saturation, [0.05, 0.95]);
  const b = randomColour(random, saturation, [0.05, 0.95]);
  const noise = between(random, 4, kind === 'noise' ? 80 : 24);
  const angle = random.uniform() * Math.PI;
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  if (kind === 'noise') fillMix(pixels, size, a, a, noise, random, () => 0);
  else if (kind === 'gradient') fillMix(pixels, size, a, b, noise, random, (x, y) => Math.min(1, Math.abs(x * dx + y * dy) / size));
  else if (kind === 'stripes') {
    const period = between(random, 4, size / 3);
    fillMix(pixels, size, a, b, noise, random, (x, y) => 0.5 + 0.5 * Math.sin((2 * Math.PI * (x * dx + y * dy)) / period));
  } else {
    const cell = 2 + randomInt(random, Math.max(1, Math.floor(size / 8)));
    fillMix(pixels, size, a, b, noise, random, (x, y) => (Math.floor(x / cell) + Math.floor(y / cell)) % 2);
  }
}

/**
 * Pastes item `item` of `source`, resized to a random size (bilinear), maybe mirrored, tinted with a colour
 * that says nothing of its class, at a random place (up to a quarter outside the scene). Its pixels are those
 * above `threshold` × its brightest: they take the tint, shaded by intensity, and become instance `id`.
 */
function pasteItem(
  pixels: Float32Array,
  instance: Uint8Array,
  size: number,
  source: SceneSource,
  item: number,
  id: number,
  options: { scale: readonly [number, number]; threshold: number },
  random: Random,
): void {
  const side = between(random, options.scale[0], options.scale[1]) * size;
  const aspect = between(random, 0.8, 1.25);
  const height = Math.max(2, Math.round(side * Math.sqrt(aspect)));
  const width = Math.max(2, Math.round(side / Math.sqrt(aspect)));
  const mirror = random.uniform() < 0.5;
  const top = Math.round(between(random, -height / 4, size - (3 * height) / 4));
  const left = Math.round(between(random, -width / 4, size - (3 * width) / 4));
  const tint = randomColour(random, 0.9, [0.35, 1]);
  const plane = source.height * source.width;
  const original = source.images.subarray(item * plane, (item + 1) * plane);
  const intensity = resizeBilinear(original, [source.height, source.width, 1], [height, width]);
  let brightest = 0;
  for (const v of intensity) brightest = Math.max(brightest, v);
  if (brightest === 0) return;
  const cut = options.threshold * brightest;
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= size) continue;
    for (let x = 0; x < width; x++) {
      const sx = left + x;
      const v = intensity[y * width + (mirror ? width - 1 - x : x)];
      if (sx < 0 || sx >= size || v <= cut) continue;
      const shade = 0.35 + (0.65 * v) / brightest;
      const at = (sy * size + sx) * 3;
      for (let c = 0; c < 3; c++) pixels[at + c] = tint[c] * shade;
      instance[sy * size + sx] = id;
    }
  }
}

/** The box and area of every item with a visible pixel left. */
function visibleObjects(instance: Uint8Array, size: number, labels: readonly number[]): SceneObject[] {
  const bounds = labels.map(() => ({ x0: size, y0: size, x1: -1, y1: -1, area: 0 }));
  for (let i = 0; i < instance.length; i++) {
    if (instance[i] === 0) continue;
    const b = bounds[instance[i] - 1];
    const x = i % size;
    const y = Math.floor(i / size);
    b.x0 = Math.min(b.x0, x);
    b.y0 = Math.min(b.y0, y);
    b.x1 = Math.max(b.x1, x);
    b.y1 = Math.max(b.y1, y);
    b.area++;
  }
  return bounds.flatMap((b, k) => (b.area === 0 ? [] : [{ label: labels[k], box: [b.x0, b.y0, b.x1 - b.x0 + 1, b.y1 - b.y0 + 1] as [number, number, number, number], area: b.area }]));
}

/** An image's entry in the COCO file: its file name, size and visible objects. */
export interface SceneRecord {
  fileName: string;
  width: number;
  height: number;
  objects: readonly SceneObject[];
}

/** The parts of COCO's detection format the scenes use. */
export interface CocoFile {
  info: { description: string };
  images: Array<{ id: number; file_name: string; width: number; height: number }>;
  annotations: Array<{ id: number; image_id: number; category_id: number; bbox: [number, number, number, number]; area: number; iscrowd: 0 }>;
  categories: Array<{ id: number; name: string; supercategory: string }>;
}

/**
 * COCO annotations of `records`, sorted by file name: image ids 1.., annotation ids 1.. in image then pasting
 * order, category k = scene label k (FASHION_SCENE_CLASSES[k]).
 */
export function cocoAnnotations(records: readonly SceneRecord[]): CocoFile {
  const sorted = [...records].sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  const coco: CocoFile = {
    info: { description: 'mobilenet make-scenes: synthetic Fashion-MNIST scenes (a synthetic benchmark, not real-world data)' },
    images: [],
    annotations: [],
    categories: FASHION_SCENE_CLASSES.slice(1).map((name, k) => ({ id: k + 1, name, supercategory: 'fashion' })),
  };
  sorted.forEach((record, i) => {
    coco.images.push({ id: i + 1, file_name: record.fileName, width: record.width, height: record.height });
    for (const o of record.objects) coco.annotations.push({ id: coco.annotations.length + 1, image_id: i + 1, category_id: o.label, bbox: o.box, area: o.area, iscrowd: 0 });
  });
  return coco;
}

/** The records of a COCO file (cocoAnnotations' inverse), so that another split's images can be added to it. */
export function sceneRecords(coco: CocoFile): SceneRecord[] {
  const byImage = new Map(coco.images.map((image) => [image.id, { fileName: image.file_name, width: image.width, height: image.height, objects: [] as SceneObject[] }]));
  for (const a of coco.annotations) byImage.get(a.image_id)?.objects.push({ label: a.category_id, box: a.bbox, area: a.area });
  return [...byImage.values()];
}
