// Semantic segmentation of images: a model whose output is per-pixel class scores [H, W, K] gives logits, a label
// mask (argmax) at the image's own size, per-class pixel fractions and the label map to draw them; and overlays.

import { argmaxLabels } from '../ops/argmax.js';
import { WasmEngine } from '../backend/wasm/engine.js';
import { IGNORE_LABEL, labelMapFor, vocLabelMap } from '../data/label-maps.js';
import type { LabelMap, Palette } from '../data/label-maps.js';
import type { Fit, PreprocessOptions } from '../data/preprocess.js';
import { preprocessImage } from '../data/preprocess.js';
import { ConfigError, FormatError, ShapeError } from '../errors.js';
import { Model } from '../graph/model.js';
import { resizeBilinear2d } from '../ops/resize.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import { modelUpTo } from '../graph/sub-model.js';
import { imagePixels } from './images.js';
import type { ImageDataLike, ImageSource } from './images.js';

export interface SegmentOptions {
  /**
   * 'original' (the default): logits resized bilinearly back to the image's own size before the argmax;
   * 'input': the network's output size as it is.
   */
  resizeTo?: 'input' | 'original';
}

/** What `segment` needs beside a bare Model or WasmEngine: how images become inputs, and the classes' names and colours. */
export interface SegmentRunOptions extends SegmentOptions {
  /** Default: pixels scaled to 0..1, resized bilinearly to the network's input. */
  preprocessing?: PreprocessOptions;
  /** One per class; default VOC's when the model has 21 classes, else `background`, `class 1`, …. */
  classNames?: readonly string[];
  /** RGB per label; default VOC's colour map. */
  palette?: Palette;
}

/** One image segmented. */
export interface Segmentation {
  /** Class scores per pixel, [height, width, K]. */
  logits: Tensor;
  /** The winning class per pixel (argmax of the logits), row-major, height·width labels. */
  mask: Uint8Array;
  width: number;
  height: number;
  classNames: readonly string[];
  palette: Palette;
  /** Per class, the fraction of the mask's pixels that class wins (they sum to 1). */
  fractions: number[];
  /** What was assumed (preprocessing, label map), one line each: show them to people. */
  notes: readonly string[];
}

/** What loadModel gives for a segmenter: it segments with its own preprocessing and labels. */
export interface LoadedSegmenter<Image = ImageSource> {
  segment(image: Image, options?: SegmentOptions): Promise<Segmentation>;
}

/** Anything `segment` runs: a Model, a WasmEngine, or what loadModel gives. */
export type Segmenter<Image = ImageSource> = Model | WasmEngine | LoadedSegmenter<Image>;

/** The per-sample output shape of a segmenter, [H, W, K]; a ShapeError naming `what` and the shape otherwise. */
export function segmentationClasses(outputShape: readonly number[], what: string): number {
  if (outputShape.length !== 3) {
    throw new ShapeError(`${what} outputs ${formatShape([-1, ...outputShape])} per batch, not class scores per pixel [N, H, W, K]: it cannot segment`);
  }
  const classes = outputShape[2];
  if (classes > 256) throw new ShapeError(`${what} outputs ${classes} classes per pixel; a mask holds at most 256 labels`);
  return classes;
}

/**
 * The label map of a K-class segmenter: the file's class names (and palette, when its extra entry holds one);
 * else VOC's when K = 21; else `labelMapFor(K)`. `note` says which was assumed, when the file gave no names.
 */
export function segmentationLabelMap(classes: number, stored: { classNames?: readonly string[]; extra?: Record<string, unknown> }, source: string): { labelMap: LabelMap; note?: string } {
  const palette = storedPalette(stored.extra?.palette, source);
  if (stored.classNames?.length === classes) return { labelMap: { classNames: stored.classNames, palette: palette ?? vocLabelMap().palette } };
  const stores = stored.classNames ? `${stored.classNames.length} class names for ${classes} classes` : 'no class names';
  if (classes === 21) return { labelMap: { ...vocLabelMap(), ...(palette ? { palette } : {}) }, note: `${source} stores ${stores}: assuming PASCAL VOC's 21 classes` };
  const labelMap = labelMapFor(classes);
  return { labelMap: { ...labelMap, ...(palette ? { palette } : {}) }, note: `${source} stores ${stores}: classes named 'background', 'class 1' … 'class ${classes - 1}', drawn in VOC's colours` };
}

/** A palette stored in a model file's extra entry: a list of [r, g, b] of 0..255; undefined when there is none. */
function storedPalette(value: unknown, source: string): Palette | undefined {
  if (value === undefined) return undefined;
  const isColour = (c: unknown): c is [number, number, number] => Array.isArray(c) && c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
  if (!Array.isArray(value) || value.length === 0 || value.length > 256 || !value.every(isColour)) {
    throw new FormatError(`${source}: metadata entry extra.palette must be a list of 1 to 256 [r, g, b] colours of 0..255`);
  }
  // labels past the stored colours keep VOC's
  return [...value, ...vocLabelMap().palette.slice(value.length)];
}

/**
 * A model that ends in an ArgMax over its classes (as TF.js DeepLab graphs do) as the model of the class scores
 * before it, with a note saying so; any other model as it is.
 */
export function scoresModel(model: Model): { model: Model; note?: string } {
  const last = model.getLayer(model.output.name);
  if (last.kind !== 'ArgMax' || !last.node) return { model };
  return { model: modelUpTo(model, last.node.inputs[0], `${model.name}_scores`), note: `model ${model.name} ends in ArgMax (${last.name}): segmenting with the class scores before it` };
}

/**
 * Segments each image with `runner` (see Segmenter). A bare Model or WasmEngine takes `options.preprocessing` (pixels
 * 0..1 by default) and `options.classNames`/`palette` (see segmentationLabelMap); a loaded model uses its own.
 */
export async function segment(runner: Model | WasmEngine, images: readonly ImageSource[], options?: SegmentRunOptions): Promise<Segmentation[]>;
export async function segment<Image>(runner: LoadedSegmenter<Image>, images: readonly Image[], options?: SegmentOptions): Promise<Segmentation[]>;
export async function segment<Image>(runner: Segmenter<Image>, images: readonly (Image | ImageSource)[], options: SegmentRunOptions = {}): Promise<Segmentation[]> {
  if (!(runner instanceof Model) && !(runner instanceof WasmEngine)) {
    const results: Segmentation[] = [];
    for (const image of images as readonly Image[]) results.push(await runner.segment(image, options));
    return results;
  }
  const notes: string[] = [];
  const scores: { model: Model | WasmEngine; note?: string } = runner instanceof Model ? scoresModel(runner) : { model: runner };
  if (scores.note) notes.push(scores.note);
  const network = scores.model;
  const inputShape = network instanceof Model ? network.inputShape : network.plan.tensors[network.plan.input].shape;
  const outputShape = network instanceof Model ? network.outputShape : network.plan.tensors[network.plan.outputs[0]].shape;
  const what = network instanceof Model ? `model ${network.name}` : 'the engine';
  const classes = segmentationClasses(outputShape, what);
  if (options.classNames !== undefined && options.classNames.length !== classes) throw new ConfigError(`classNames has ${options.classNames.length} names for ${what}'s ${classes} classes`);
  const { labelMap, note } = segmentationLabelMap(classes, { classNames: options.classNames }, what);
  if (note) notes.push(note);
  if (options.preprocessing === undefined) notes.push(`no preprocessing given (options.preprocessing): pixels scaled to 0..1, resized bilinearly to ${inputShape[0]}×${inputShape[1]}`);
  const preprocessing = { fit: 'bilinear' as const, pixels: 'unit' as const, ...options.preprocessing, size: [inputShape[0], inputShape[1]] as [number, number] };
  return (images as readonly ImageSource[]).map((image) => {
    const input = segmentationInput(image, inputShape, preprocessing);
    return segmentationOf(network.predict(input.tensor), input.original, options, { ...labelMap, palette: options.palette ?? labelMap.palette }, notes);
  });
}

/** An image as the network's input [1, H, W, C], with the image's own size and how it was fitted (null for a ready tensor). */
export interface SegmentationInput {
  tensor: Tensor;
  original: { width: number; height: number; fit: Fit } | null;
}

/** The network input for `image`: a ready tensor as it is, pixels and image bytes preprocessed (see imagePixels). */
export function segmentationInput(image: ImageSource, inputShape: readonly number[], preprocessing: PreprocessOptions): SegmentationInput {
  const [height, width, channels] = inputShape;
  if (image instanceof Tensor) return { tensor: readyTensor(image, inputShape), original: null };
  const { pixels, shape } = imagePixels(image, channels);
  const tensor = new Tensor([1, height, width, channels], preprocessImage(pixels, shape, { ...preprocessing, size: [height, width] }));
  return { tensor, original: { width: shape[1], height: shape[0], fit: preprocessing.fit ?? 'bilinear' } };
}

/** A preprocessed image tensor, [H, W, C] or [1, H, W, C], as [1, H, W, C]; a ShapeError unless it is the model's input. */
export function readyTensor(image: Tensor, inputShape: readonly number[]): Tensor {
  const [height, width, channels] = inputShape;
  const shape = image.rank === 3 ? [1, ...image.shape] : [...image.shape];
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== height || shape[2] !== width || shape[3] !== channels) {
    throw new ShapeError(`image tensor [${image.shape.join(', ')}] is not the model's input [1, ${height}, ${width}, ${channels}] (or [${height}, ${width}, ${channels}]): give pixels or an image file to have it fitted`);
  }
  return new Tensor(shape, image.data);
}

/**
 * One image's segmentation from the network's output [1, h, w, K]: at the image's own size unless `resizeTo` is
 * 'input' (bilinear, half-pixel centres, where the image was resized; its centred window where it was padded).
 */
export function segmentationOf(output: Tensor, original: SegmentationInput['original'], options: SegmentOptions, labelMap: LabelMap, notes: readonly string[]): Segmentation {
  const resizeTo = options.resizeTo ?? 'original';
  if (resizeTo !== 'original' && resizeTo !== 'input') throw new ConfigError(`segment: resizeTo must be 'input' or 'original', got ${JSON.stringify(resizeTo)}`);
  const [, h, w, classes] = output.shape;
  let logits = output;
  if (resizeTo === 'original' && original && (original.height !== h || original.width !== w)) {
    if (original.fit === 'letterbox') throw new ConfigError("segment: masks are mapped back for the 'bilinear' and 'pad' fits, not 'letterbox' (a detector's); give resizeTo: 'input'");
    const size = [original.height, original.width] as const;
    logits = original.fit === 'pad' ? centredWindow(output, size) : resizeBilinear2d(output, size);
  }
  const [, height, width] = logits.shape;
  const mask = argmaxLabels(logits.data, height * width, classes) as Uint8Array; // classes ≤ 256 (segmentationClasses)
  const counts = new Array<number>(classes).fill(0);
  for (const label of mask) counts[label]++;
  return {
    logits: new Tensor([height, width, classes], logits.data),
    mask,
    width,
    height,
    classNames: labelMap.classNames,
    palette: labelMap.palette,
    fractions: counts.map((c) => c / mask.length),
    notes,
  };
}

/** The pixels of a centred image of `size` inside the padded [1, h, w, K] map, as preprocessing's 'pad' fit placed it; zeros where it was cropped. */
function centredWindow(output: Tensor, [height, width]: readonly [number, number]): Tensor {
  const [, h, w, k] = output.shape;
  const top = Math.floor((h - height) / 2);
  const left = Math.floor((w - width) / 2);
  const out = new Float32Array(height * width * k);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx >= 0 && sx < w) out.set(output.data.subarray((sy * w + sx) * k, (sy * w + sx + 1) * k), (y * width + x) * k);
    }
  }
  return new Tensor([1, height, width, k], out);
}


/**
 * The image with the mask blended over it: each pixel becomes (1 − opacity)·pixel + opacity·colour of its label,
 * rounded; ignore-label pixels (255) stay as they are. Grey images come back RGB; RGBA keeps its alpha.
 */
export function overlayMask(image: ImageDataLike, mask: Uint8Array, palette: Palette, opacity = 0.5): { data: Uint8ClampedArray; width: number; height: number; channels: 3 | 4 } {
  const { width, height, data } = image;
  const pixels = width * height;
  if (mask.length !== pixels) throw new ShapeError(`overlayMask: mask of ${mask.length} labels for a ${width}×${height} image`);
  const from = data.length / pixels;
  if (![1, 3, 4].includes(from)) throw new ShapeError(`overlayMask: ${data.length} values for ${width}×${height} pixels: expected 1, 3 or 4 per pixel`);
  if (!(opacity >= 0 && opacity <= 1)) throw new ConfigError(`overlayMask: opacity must be in 0..1, got ${opacity}`);
  const channels = from === 4 ? 4 : 3;
  const out = new Uint8ClampedArray(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const label = mask[p];
    const colour = palette[label];
    if (colour === undefined && label !== IGNORE_LABEL) throw new ShapeError(`overlayMask: label ${label} has no colour in a palette of ${palette.length}`);
    for (let c = 0; c < 3; c++) {
      const value = data[p * from + (from === 1 ? 0 : c)];
      out[p * channels + c] = label === IGNORE_LABEL ? value : Math.round((1 - opacity) * value + opacity * colour[c]);
    }
    if (channels === 4) out[p * 4 + 3] = data[p * 4 + 3];
  }
  return { data: out, width, height, channels };
}
