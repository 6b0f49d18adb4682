// Object detection on images: a detector (outputs `scores` [N, A, slots] and `boxes` [N, A, 4]) gives, per image,
// the detections' class, label, score and box in the source image's pixels, through exact resize/letterbox mappings.

import { WasmEngine } from '../backend/wasm/engine.js';
import { defaultBoxes, defaultBoxesPerLocation, ssdAnchors, ssdAnchorsPerLocation } from '../detect/anchors.js';
import type { GridSize } from '../detect/anchors.js';
import { letterbox, resizeMapping, toSourceBox } from '../detect/letterbox.js';
import type { ResizeMapping } from '../detect/letterbox.js';
import { postprocessAsync } from '../detect/postprocess.js';
import type { Box, Detection, DetectionHead, PostprocessOptions } from '../detect/types.js';
import { preprocessImage } from '../data/preprocess.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { ConfigError, ShapeError } from '../errors.js';
import { Model } from '../graph/model.js';
import { SSD_SCALE_FACTORS } from '../models/ssd.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import { imagePixels } from './images.js';
import type { ImageSource } from './images.js';

/**
 * `detect`'s options for any runner: post-processing (TF's knobs, see PostprocessOptions; defaults score ≥ 0.5,
 * IoU 0.6, 100 per class and in all) and whether to letterbox.
 */
export interface DetectOptions extends Partial<Omit<PostprocessOptions, 'labels'>> {
  /** Fit images by letterboxing (aspect kept, padded with black, centred unless `preprocessing.align` says 'top-left') instead of `preprocessing.fit`. */
  letterbox?: boolean;
}

/**
 * Anchors for a detector whose file has none: generated for its feature maps (`'ssd-tf'`: TF's `ssd_anchor_generator`
 * with the golden SSDLite's settings; `'ssd-torchvision'`: torchvision's DefaultBoxGenerator with ratios [2, 3]),
 * or given as [A·4] (ycenter, xcenter, h, w) normalized rows.
 */
export type AnchorSource = Float32Array | 'ssd-tf' | 'ssd-torchvision';

/** What `detect` needs beside a bare Model or WasmEngine: how images become inputs, the classes' names, the head. */
export interface DetectRunOptions extends DetectOptions {
  /** Default: pixels scaled to −1..1 (SSD's x/127.5 − 1), resized bilinearly to the network's input. */
  preprocessing?: PreprocessOptions;
  /** Names of the output slots (index = class; with a background slot, K names for classes 1..K also do). */
  classNames?: readonly string[];
  /** The anchors of a model without `metadata.detection` (or to replace its own). */
  anchors?: AnchorSource;
  /**
   * The head, over the model's `metadata.detection` (which an engine does not keep: pass the model's here) and TF's
   * defaults (scales 10, 10, 5, 5, sigmoid, background slot 0).
   */
  head?: Partial<DetectionHead>;
}

/** One image's detections. */
export interface ImageDetections {
  /** The source image's size; the network input's for a preprocessed tensor. */
  width: number;
  height: number;
  /** 'pixels' of the source image, or 'normalized' to [0, 1] for a preprocessed tensor (nothing to map back to). */
  units: 'pixels' | 'normalized';
  /** Best first; `box` is [ymin, xmin, ymax, xmax] in `units`, clipped to the image. */
  detections: Detection[];
}

/** What loadModel gives for a detector: it detects with its own preprocessing, labels and head. */
export interface LoadedDetector<Image = ImageSource> {
  detect(images: Image | readonly Image[], options?: DetectOptions): Promise<ImageDetections[]>;
}

/** How one image sits in the network's input: a map from normalized input boxes back to the source image. */
export interface ImageFrame {
  width: number;
  height: number;
  units: 'pixels' | 'normalized';
  /** A box normalized to the network's input as a box in the source image, clipped to it. */
  toSource(box: Box): Box;
}

/** A batch for the network, [N, H, W, C], with each item's frame. */
export interface DetectorBatch {
  tensor: Tensor;
  frames: ImageFrame[];
}

/**
 * How an image of `width`×`height` that `preprocessing` fitted into an input of `size` maps back (detect/letterbox.ts):
 * stretched; letterboxed as preprocessImage does it (padded to the input's aspect at `align`, then resized); or, for
 * 'pad', placed at scale 1 with ⌊(input − image)/2⌋ margins (negative where it was cropped).
 */
export function imageFrame(width: number, height: number, size: readonly [number, number], preprocessing: PreprocessOptions): ImageFrame {
  const source = { width, height };
  const input = { width: size[1], height: size[0] };
  const fit = preprocessing.fit ?? 'bilinear';
  let mapping: ResizeMapping;
  if (fit === 'letterbox') mapping = letterbox(source, input, { align: preprocessing.align, order: 'pad-then-resize' });
  else if (fit === 'pad') {
    const region = { left: Math.floor((input.width - width) / 2), top: Math.floor((input.height - height) / 2), width, height };
    mapping = { mode: 'letterbox', source, input, scaleX: 1, scaleY: 1, offsetX: region.left, offsetY: region.top, region };
  } else mapping = resizeMapping(source, input);
  return { width, height, units: 'pixels', toSource: (box) => toSourceBox(mapping, box) };
}

/** `preprocessing` with the 'letterbox' fit when `letterbox` asks for it (keeping its `align`). */
export function withLetterbox(preprocessing: PreprocessOptions | undefined, letterbox: boolean | undefined): PreprocessOptions {
  return letterbox ? { ...preprocessing, fit: 'letterbox' } : { ...preprocessing };
}

/**
 * The network's batch for `images`: preprocessed tensors ([H, W, C] or [N, H, W, C] of the input's size) as they are,
 * one frame per item with normalized boxes; pixels and PNG/JPEG bytes fitted and scaled by `preprocessing` (pixels
 * −1..1 unless it says otherwise), each with the frame that maps its boxes back.
 */
export function detectorBatch(images: readonly ImageSource[], inputShape: readonly number[], preprocessing: PreprocessOptions): DetectorBatch {
  const [height, width, channels] = inputShape;
  const item = height * width * channels;
  const parts: Float32Array[] = [];
  const frames: ImageFrame[] = [];
  for (const image of images) {
    if (image instanceof Tensor) {
      const shape = image.rank === 3 ? [1, ...image.shape] : [...image.shape];
      if (shape.length !== 4 || shape[1] !== height || shape[2] !== width || shape[3] !== channels) {
        throw new ShapeError(`image tensor ${formatShape(image.shape)} is not the detector's input [N, ${height}, ${width}, ${channels}] (or [${height}, ${width}, ${channels}]): give pixels or an image file to have it fitted`);
      }
      for (let n = 0; n < shape[0]; n++) {
        parts.push(image.data.subarray(n * item, (n + 1) * item));
        frames.push({ width, height, units: 'normalized', toSource: (box) => box });
      }
      continue;
    }
    const { pixels, shape } = imagePixels(image, channels);
    parts.push(preprocessImage(pixels, shape, { pixels: 'symmetric', ...preprocessing, size: [height, width] }));
    frames.push(imageFrame(shape[1], shape[0], [height, width], preprocessing));
  }
  if (frames.length === 0) throw new ConfigError('detect: no images given');
  const batch = new Float32Array(frames.length * item);
  parts.forEach((part, n) => batch.set(part, n * item));
  return { tensor: new Tensor([frames.length, height, width, channels], batch), frames };
}

/** Feature-map grids of an SSD on an input of `size`: ⌈size/16⌉ (the stride-16 tap), then halved (rounding up) per map. */
export function ssdFeatureMaps(size: readonly [number, number], maps: number): GridSize[] {
  const grids: GridSize[] = [[Math.ceil(size[0] / 16), Math.ceil(size[1] / 16)]];
  while (grids.length < maps) {
    const [h, w] = grids[grids.length - 1];
    grids.push([Math.ceil(h / 2), Math.ceil(w / 2)]);
  }
  return grids;
}

/**
 * Anchors generated for a detector on an input of `size` whose outputs have `count` anchors: SSD's six feature maps
 * (ssdFeatureMaps) with TF's or torchvision's boxes; a ShapeError when the count they give is not the outputs'.
 */
export function generatedAnchors(kind: 'ssd-tf' | 'ssd-torchvision', size: readonly [number, number], count: number, what: string): Float32Array {
  const featureMaps = ssdFeatureMaps(size, 6);
  const anchors = kind === 'ssd-tf' ? ssdAnchors({ featureMaps }) : defaultBoxes({ featureMaps, aspectRatios: featureMaps.map(() => [2, 3]) });
  const perLocation = kind === 'ssd-tf' ? ssdAnchorsPerLocation({ featureMaps }) : defaultBoxesPerLocation(featureMaps.map(() => [2, 3]));
  if (anchors.length / 4 !== count) {
    const maps = featureMaps.map(([h, w], k) => `${h}×${w}×${perLocation[k]}`).join(' + ');
    throw new ShapeError(`anchors ${kind} for a ${size[0]}×${size[1]} input are ${maps} = ${anchors.length / 4}, but ${what}'s outputs have ${count} anchors: give the anchors as a file ([anchors, 4] .npy)`);
  }
  return anchors;
}

/** TF's SSD head without its anchors: the Faster R-CNN coder's scales 10, 10, 5, 5, sigmoid scores, slot 0 background. */
const TF_HEAD: Omit<DetectionHead, 'anchors' | 'outputs'> = { scaleFactors: SSD_SCALE_FACTORS, scoreConversion: 'sigmoid', background: true };

/**
 * The head that outputs of these shapes (per sample, or with the batch) are post-processed with: `options.head` over
 * the model's `metadata.detection` (`stored`) over TF's; anchors from `options.anchors`, else the head's (none needed
 * for decoded 'corners' boxes); outputs named as the head says, else `scores` and `boxes`, else the one whose rows
 * hold 4 values is the boxes. A ConfigError when nothing gives anchors, a ShapeError when their count is not the outputs'.
 */
export function detectionHead(stored: DetectionHead | undefined, outputs: Readonly<Record<string, readonly number[]>>, options: Pick<DetectRunOptions, 'anchors' | 'head'>, inputSize: readonly [number, number], what: string): DetectionHead {
  const names = options.head?.outputs ?? stored?.outputs ?? outputNamesOf(outputs, what);
  const corners = (options.head?.boxFormat ?? stored?.boxFormat) === 'corners';
  const given = options.anchors ?? options.head?.anchors ?? stored?.anchors;
  if (given === undefined && !corners) {
    throw new ConfigError(`${what} has no detection head (metadata.detection: anchors, box coding, scores): give its anchors (options.anchors; mobilenet detect --anchors ssd-tf | ssd-torchvision | FILE.npy), or head.boxFormat 'corners' for decoded boxes`);
  }
  for (const name of [names.scores, names.boxes]) {
    if (!(name in outputs)) throw new ConfigError(`${what} has no output named ${JSON.stringify(name)} (its outputs: ${Object.keys(outputs).join(', ')})`);
  }
  const scores = outputs[names.scores];
  const count = scores[scores.length - 2];
  // decoded boxes ('corners') need no anchors: post-processing only counts them
  const anchors = given === undefined ? new Float32Array(count * 4) : typeof given === 'string' ? generatedAnchors(given, inputSize, count, what) : given;
  if (anchors.length !== count * 4) throw new ShapeError(`${anchors.length / 4} anchors given, but ${what}'s output "${names.scores}" ${formatShape(scores)} has ${count}`);
  return { ...TF_HEAD, ...stored, ...options.head, outputs: names, anchors };
}

/** A model's score and box outputs by name (`scores`, `boxes`), or by shape: the only output with rows of 4 is the boxes. */
function outputNamesOf(outputs: Readonly<Record<string, readonly number[]>>, what: string): DetectionHead['outputs'] {
  const names = Object.keys(outputs);
  if ('scores' in outputs && 'boxes' in outputs) return { scores: 'scores', boxes: 'boxes' };
  const boxes = names.filter((n) => outputs[n][outputs[n].length - 1] === 4);
  if (names.length !== 2 || boxes.length !== 1) {
    throw new ConfigError(`${what} outputs ${names.map((n) => `${n} ${formatShape(outputs[n])}`).join(', ')}: not a detector's scores [N, A, classes] and boxes [N, A, 4] (name them scores and boxes, or give head.outputs)`);
  }
  return { scores: names.find((n) => n !== boxes[0])!, boxes: boxes[0] };
}

/**
 * Names of the output slots for `slots` scores: `names` as they are, or K names after a background slot; `class k`
 * without names. Names of another count are a ConfigError naming `what`.
 */
export function slotLabels(slots: number, background: boolean, names: readonly string[] | undefined, what: string): string[] {
  if (names === undefined) return Array.from({ length: slots }, (_, k) => (background && k === 0 ? 'background' : `class ${k}`));
  if (names.length === slots) return [...names];
  if (background && names.length === slots - 1) return ['background', ...names];
  throw new ConfigError(`${names.length} class names for ${what}'s ${slots} score slots (${background ? `background + ${slots - 1} classes: give ${slots - 1} or ${slots} names` : `give ${slots}`})`);
}

const POSTPROCESS_KEYS = ['scoreThreshold', 'iouThreshold', 'maxPerClass', 'maxDetections', 'classAgnostic', 'topK'] as const;

/** Detections per frame from the network's outputs: post-processed without blocking (sliced), boxes mapped back to each source. */
export async function detectionsOf(outputs: Readonly<Record<string, Tensor>>, head: DetectionHead, frames: readonly ImageFrame[], options: DetectOptions, labels: readonly string[]): Promise<ImageDetections[]> {
  // only the knobs given, over the detector's own (face-api's IoU 0.5): one left undefined keeps the default
  const given = POSTPROCESS_KEYS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]);
  const perImage = await postprocessAsync(outputs[head.outputs.scores], outputs[head.outputs.boxes], head, { ...head.defaults, ...Object.fromEntries(given), labels });
  return perImage.map((detections, n) => {
    const frame = frames[n];
    return { width: frame.width, height: frame.height, units: frame.units, detections: detections.map((d) => ({ ...d, box: frame.toSource(d.box) })) };
  });
}

/**
 * Detects objects in one image or a batch (see ImageSource; a tensor [N, H, W, C] is N images) with `runner`. A bare
 * Model or WasmEngine takes `options.preprocessing` (−1..1 by default), `classNames` and, where the model has no
 * `metadata.detection` (always for an engine), `anchors` and `head`; a loaded model uses its own.
 */
export async function detect(runner: Model | WasmEngine, images: ImageSource | readonly ImageSource[], options?: DetectRunOptions): Promise<ImageDetections[]>;
export async function detect<Image>(runner: LoadedDetector<Image>, images: Image | readonly Image[], options?: DetectOptions): Promise<ImageDetections[]>;
export async function detect<Image>(runner: Model | WasmEngine | LoadedDetector<Image>, images: Image | ImageSource | readonly (Image | ImageSource)[], options: DetectRunOptions = {}): Promise<ImageDetections[]> {
  if (!(runner instanceof Model) && !(runner instanceof WasmEngine)) return runner.detect(images as Image | readonly Image[], options);
  const list = Array.isArray(images) ? (images as readonly ImageSource[]) : [images as ImageSource];
  const inputShape = runner instanceof Model ? runner.inputShape : runner.plan.tensors[runner.plan.input].shape;
  const what = runner instanceof Model ? `model ${runner.name}` : 'the engine';
  const batch = detectorBatch(list, inputShape, withLetterbox(options.preprocessing, options.letterbox));
  // a model's head is checked before it runs; an engine's outputs say their shapes after
  const headFor = (shapes: Readonly<Record<string, readonly number[]>>): DetectionHead => detectionHead(runner instanceof Model ? runner.metadata.detection : undefined, shapes, options, [inputShape[0], inputShape[1]], what);
  let head = runner instanceof Model ? headFor(runner.outputShapes) : null;
  const outputs = runner.predictOutputs(batch.tensor);
  head ??= headFor(Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, t.shape])));
  const scores = outputs[head.outputs.scores];
  return detectionsOf(outputs, head, batch.frames, options, slotLabels(scores.shape[scores.rank - 1], head.background, options.classNames, what));
}
