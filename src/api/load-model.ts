// The high-level API as tfjs-models has it: `loadModel(source)` gives a classifier with classify(image, k),
// embed(image) and dispose(), on the WebAssembly engine where SIMD validates, with the model's own preprocessing.

import { WasmEngine } from '../backend/wasm/engine.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { ConfigError, MobileNetError, ShapeError } from '../errors.js';
import { Model } from '../graph/model.js';
import { modelUpTo } from '../graph/sub-model.js';
import { decodeAnyModel, guessPreprocessing } from '../io/any-model.js';
import type { AnyModel, LoadAnyModelOptions, ModelFormat, ModelInput } from '../io/any-model.js';
import { GlobalAveragePooling2D, GlobalMaxPooling2D } from '../nn/pooling.js';
import { softmax } from '../ops/activation.js';
import { Tensor } from '../tensor/tensor.js';
import type { LabelMap } from '../data/label-maps.js';
import { scoresModel, segmentationClasses, segmentationInput, segmentationLabelMap, segmentationOf } from './segment.js';
import type { SegmentOptions, Segmentation } from './segment.js';
import { detectionHead, detectionsOf, detectorBatch, slotLabels, withLetterbox } from './detect.js';
import type { AnchorSource, DetectOptions, ImageDetections } from './detect.js';
import type { DetectionHead } from '../detect/types.js';
import { describe } from './images.js';
import type { ImageSource } from './images.js';

export type { EncodedImage, ImageDataLike, ImageSource } from './images.js';

/** The bundled Fashion-MNIST MobileNetV2's file name in the package's models/ folder. */
export const BUNDLED_MODEL_FILE = 'fashion-mnist.safetensors';

/**
 * Where to load a model from: its bytes; a URL (fetched; a TF.js model.json's shards and ONNX external data
 * beside it too); a string URL, relative to the page in browsers; `'bundled'` or nothing for the bundled model;
 * or bytes with their name and companion files (see ModelInput). File paths are read by the Node edge's loadModel.
 */
export type ModelSource = Uint8Array | ArrayBuffer | URL | string | ModelInput;


export interface LoadModelOptions extends LoadAnyModelOptions {
  /** 'wasm' (the default where WebAssembly SIMD validates) or 'reference' (the plain-TypeScript kernels). */
  backend?: 'wasm' | 'reference';
  /** Threads of the WebAssembly engine (default 1; more need worker threads, and cross-origin isolation in pages). */
  threads?: number;
  /** How images become inputs, where the model file does not say (or says wrong): size, fit and pixel scaling. */
  preprocessing?: PreprocessOptions;
  /** Labels of the outputs, where the model file has none (or other ones): one per class. */
  classNames?: readonly string[];
  /** A detector's anchors, where the model file has none (graphs imported from other formats): see AnchorSource. */
  detectionAnchors?: AnchorSource;
}

export interface Prediction {
  /** The model's class name, or `class i` when the model file names no classes (see `notes`). */
  label: string;
  /** The class's index in the model's output. */
  index: number;
  probability: number;
}

/** Batches in, outputs out: the WebAssembly engine, or the reference kernels. */
interface Runner {
  predict(x: Tensor): Tensor;
  predictOutputs(x: Tensor): Record<string, Tensor>;
  dispose(): Promise<void>;
  backend: 'wasm' | 'reference';
}

/** A fetch failed or answered with an HTTP error; `url` is what was asked for. */
export class FetchError extends MobileNetError {
  constructor(
    message: string,
    readonly url: string,
    /** The HTTP status, or null when no answer came. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

/** Where the bundled model lies in the package: models/, two folders up from this module in dist/api/ or dist/bundle/. */
export function bundledModelUrl(): URL {
  // a variable rather than a literal: bundlers leave such a URL alone instead of copying the model into their output
  const relative = `../../models/${BUNDLED_MODEL_FILE}`;
  return new URL(relative, import.meta.url);
}

/** The bytes at `url`, through fetch; HTTP errors and unreachable hosts are FetchErrors naming the URL. */
export async function fetchBytes(url: URL): Promise<Uint8Array> {
  if (url.protocol === 'file:') {
    throw new ConfigError(`${url.href}: fetch cannot read file: URLs; in Node, loadModel from 'mobilenet-ts/node' reads files`);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new FetchError(`${url.href}: fetch failed: ${error instanceof Error ? error.message : String(error)}`, url.href, null);
  }
  if (!response.ok) throw new FetchError(`${url.href}: HTTP ${response.status} ${response.statusText}`.trimEnd(), url.href, response.status);
  return new Uint8Array(await response.arrayBuffer());
}

/** A string that names a URL scheme (`https:`, `blob:`, `data:`, `file:`), not a relative URL or a file path. */
export function isAbsoluteUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text);
}

function urlOf(text: string): URL {
  if (isAbsoluteUrl(text)) return new URL(text);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  if (base === undefined) {
    throw new ConfigError(`${JSON.stringify(text)} is not a URL, and there is no page to resolve it against: in Node, loadModel from 'mobilenet-ts/node' reads file paths`);
  }
  return new URL(text, base);
}

/** The model at `url`, with the files it names beside it (TF.js shards, ONNX external data) fetched on demand. */
async function decodeUrl(url: URL, options: LoadAnyModelOptions): Promise<AnyModel> {
  const bytes = await fetchBytes(url);
  return decodeAnyModel({ bytes, source: url.href, companion: (path) => fetchBytes(new URL(path, url)) }, options);
}

/** Decodes a model from any ModelSource the core can read (no files: see the Node edge's loadModel). */
export async function decodeModelSource(source: ModelSource | undefined, options: LoadAnyModelOptions = {}): Promise<AnyModel> {
  if (source === undefined || source === 'bundled') return decodeUrl(bundledModelUrl(), options);
  if (typeof source === 'string') return decodeUrl(urlOf(source), options);
  if (source instanceof URL) return decodeUrl(source, options);
  if (source instanceof ArrayBuffer) return decodeAnyModel({ bytes: new Uint8Array(source), source: 'model bytes' }, options);
  if (source instanceof Uint8Array) return decodeAnyModel({ bytes: source, source: 'model bytes' }, options);
  if (typeof source === 'object' && source !== null && source.bytes instanceof Uint8Array) return decodeAnyModel(source, options);
  throw new ConfigError(`loadModel takes bytes, a URL, 'bundled' or { bytes, source }; got ${describe(source)}`);
}

/** The options that concern decoding, without the classifier's own. */
export function decodeOptions(options: LoadModelOptions): LoadAnyModelOptions {
  const { backend: _backend, threads: _threads, preprocessing: _preprocessing, classNames: _classNames, detectionAnchors: _anchors, ...decode } = options;
  return decode;
}


/** The model up to its global pooling: the same layers (and so weights), for the engine, which runs whole models. */
function featureModel(model: Model): Model {
  const pool = model.layers.find((l) => l instanceof GlobalAveragePooling2D || l instanceof GlobalMaxPooling2D);
  if (!pool?.node) throw new ConfigError(`model ${model.name} has no global pooling layer to take features from`);
  return modelUpTo(model, pool.node.output, `${model.name}_features`);
}


async function startRunner(model: Model, options: LoadModelOptions): Promise<Runner> {
  if (options.backend === 'reference' || !WasmEngine.supported()) return { predict: (x) => model.predict(x), predictOutputs: (x) => model.predictOutputs(x), dispose: async () => {}, backend: 'reference' };
  const engine = await WasmEngine.create(model, { threads: options.threads ?? 1 });
  return { predict: (x) => engine.predict(x), predictOutputs: (x) => engine.predictOutputs(x), dispose: () => engine.dispose(), backend: 'wasm' };
}


/**
 * A loaded model ready to classify and embed images, or, when its output is per-pixel scores [H, W, K], to segment
 * them, or, when it outputs scores and boxes per anchor (a detector), to detect objects in them. `Image` is what the environment accepts: the core's ImageSource, plus file paths in Node and elements,
 * canvases and bitmaps in browsers.
 */
export class MobileNetClassifier<Image = ImageSource> {
  readonly model: Model;
  readonly format: ModelFormat;
  /** Labels of the outputs: the model's class names, or `class i` (a note says so). */
  readonly labels: readonly string[];
  /** How images become inputs: the model file's preprocessing, sized to the model's input. */
  readonly preprocessing: PreprocessOptions;
  /** What was assumed or inferred while loading, one line each: show them to people. */
  readonly notes: readonly string[];
  /** 'wasm' or 'reference'. */
  readonly backend: 'wasm' | 'reference';
  /** A segmenter's classes and their colours (output [H, W, K]); null for a classifier. */
  readonly labelMap: LabelMap | null = null;
  /** A detector's head (anchors, box coding, score conversion, output names); null for a classifier or segmenter. */
  readonly detection: DetectionHead | null = null;
  private readonly outputsProbabilities: boolean;
  private features: Promise<Runner> | null = null;
  private disposed = false;

  private constructor(
    loaded: AnyModel,
    private readonly runner: Runner,
    private readonly options: LoadModelOptions,
    private readonly adapt: (image: Image) => ImageSource | Promise<ImageSource>,
  ) {
    const { model } = loaded;
    const notes = [...loaded.notes];
    const [height, width] = model.inputShape;
    const detector = isDetector(model);
    const guess = options.preprocessing ?? loaded.preprocessing ? undefined : guessPreprocessing(loaded);
    const preprocessing = options.preprocessing ?? loaded.preprocessing ?? guess?.preprocessing;
    if (options.preprocessing === undefined && loaded.preprocessing === undefined) {
      notes.push(`no preprocessing stored in the model (give options.preprocessing): ${guess ? `guessing ${guess.why}` : detector ? "pixels scaled to −1..1 (SSD's x/127.5 − 1)" : 'pixels scaled to 0..1'}, resized bilinearly to ${height}×${width}`);
    }
    this.preprocessing = { fit: 'bilinear', pixels: detector ? 'symmetric' : 'unit', ...preprocessing, size: [height, width] };
    const classes = model.outputShape[model.outputShape.length - 1];
    const classNames = options.classNames ?? loaded.classNames;
    if (detector) {
      const what = `model ${model.name}`;
      const head = detectionHead(model.metadata.detection, model.outputShapes, { anchors: options.detectionAnchors }, [height, width], what);
      const scores = model.outputShapes[head.outputs.scores];
      this.detection = head;
      this.labels = slotLabels(scores[scores.length - 1], head.background, classNames, what);
      if (classNames === undefined) notes.push(`no class names stored in the model (give options.classNames): labels are 'class ${head.background ? 1 : 0}' … 'class ${scores[scores.length - 1] - 1}'`);
    } else if (model.outputShape.length === 3) {
      const { labelMap, note } = segmentationLabelMap(classes, { classNames, extra: loaded.extra }, `model ${model.name}`);
      this.labelMap = labelMap;
      this.labels = [...labelMap.classNames];
      if (note) notes.push(`${note} (give options.classNames)`);
    } else if (classNames?.length === classes) this.labels = [...classNames];
    else {
      this.labels = Array.from({ length: classes }, (_, i) => `class ${i}`);
      const stored = classNames ? `${classNames.length} class names stored for ${classes} outputs` : 'no class names stored in the model';
      notes.push(`${stored} (give options.classNames): labels are 'class 0' … 'class ${classes - 1}'`);
    }
    this.backend = runner.backend;
    if (this.backend !== (options.backend ?? 'wasm')) notes.push('WebAssembly SIMD does not validate here: running on the reference kernels (slower)');
    this.model = model;
    this.format = loaded.format;
    this.notes = notes;
    this.outputsProbabilities = model.getLayer(model.output.name).kind === 'Softmax';
  }

  /** @internal the edges' loadModel functions build classifiers through this, each with its own image kinds. */
  static async create<Image>(file: AnyModel, options: LoadModelOptions, adapt: (image: Image) => ImageSource | Promise<ImageSource>): Promise<MobileNetClassifier<Image>> {
    if (isDetector(file.model)) return new MobileNetClassifier(file, await startRunner(file.model, options), options, adapt);
    const scores = scoresModel(file.model);
    const loaded = scores.note ? { ...file, model: scores.model, notes: [...file.notes, scores.note] } : file;
    const { outputShape, name } = loaded.model;
    if (outputShape.length !== 1 && outputShape.length !== 3) {
      throw new ShapeError(`model ${name} outputs [N, ${outputShape.join(', ')}], neither class scores [N, classes] (to classify) nor per pixel [N, H, W, K] (to segment)`);
    }
    const classes = outputShape.length === 1 ? outputShape[0] : segmentationClasses(outputShape, `model ${name}`);
    if (options.classNames !== undefined && options.classNames.length !== classes) {
      throw new ConfigError(`classNames has ${options.classNames.length} names for the model's ${classes} outputs`);
    }
    return new MobileNetClassifier(loaded, await startRunner(loaded.model, options), options, adapt);
  }

  /** The input tensor the model sees for `image`, [1, H, W, C]: fitted, scaled and with the model's channels. */
  async input(image: Image): Promise<Tensor> {
    return this.toInput(await this.adapt(image));
  }

  /** The `k` most probable classes (default 3), most probable first. */
  async classify(image: Image, k = 3): Promise<Prediction[]> {
    if (!Number.isInteger(k) || k < 1) throw new ConfigError(`classify: k must be a positive integer, got ${k}`);
    this.checkKind('classify');
    const x = await this.input(image);
    this.checkLive();
    const logits = this.runner.predict(x);
    const probabilities = this.outputsProbabilities ? logits.data : softmax(logits).data;
    return Array.from(probabilities, (probability, index) => ({ label: this.labels[index], index, probability }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, k);
  }

  /** The pooled features before the classifier, [1, channels]: what a new head or a nearest-neighbour search uses. */
  async embed(image: Image): Promise<Tensor> {
    this.checkKind('embed');
    const x = await this.input(image);
    this.checkLive();
    this.features ??= startRunner(featureModel(this.model), this.options);
    const features = await this.features;
    this.checkLive();
    return features.predict(x);
  }

  /**
   * A segmenter's (output [H, W, K]) logits, label mask and class fractions for `image`, at the image's own size unless
   * `resizeTo` is 'input' (see segmentationOf), with the model's labels and palette (`labelMap`).
   */
  async segment(image: Image, options: SegmentOptions = {}): Promise<Segmentation> {
    const { labelMap } = this;
    if (labelMap === null) throw new ShapeError(`model ${this.model.name} outputs [N, ${this.model.outputShape.join(', ')}], not class scores per pixel [N, H, W, K]: it cannot segment (classify instead)`);
    const input = segmentationInput(await this.adapt(image), this.model.inputShape, this.preprocessing);
    this.checkLive();
    return segmentationOf(this.runner.predict(input.tensor), input.original, options, labelMap, this.notes);
  }

  /**
   * A detector's detections in one image or a batch (a tensor [N, H, W, C] is N images), with the model's
   * preprocessing (resized, or letterboxed), labels and head; boxes in each image's pixels (see ImageDetections).
   */
  async detect(images: Image | readonly Image[], options: DetectOptions = {}): Promise<ImageDetections[]> {
    const head = this.detection;
    if (head === null) throw new ShapeError(`model ${this.model.name} outputs [N, ${this.model.outputShape.join(', ')}], not class scores and boxes per anchor: it cannot detect`);
    const list: readonly Image[] = Array.isArray(images) ? images : [images as Image];
    const sources = await Promise.all(list.map((image) => this.adapt(image)));
    const batch = detectorBatch(sources, this.model.inputShape, withLetterbox(this.preprocessing, options.letterbox));
    this.checkLive();
    return detectionsOf(this.runner.predictOutputs(batch.tensor), head, batch.frames, options, this.labels);
  }

  /** Frees the engines' memory and workers; the classifier cannot be used afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runner.dispose();
    if (this.features) await (await this.features).dispose();
  }

  private checkKind(method: string): void {
    if (this.detection !== null) throw new ShapeError(`model ${this.model.name} outputs ${this.model.outputNames.join(' and ')} per anchor: it detects, it cannot ${method} (detect instead)`);
    if (this.labelMap !== null) throw new ShapeError(`model ${this.model.name} outputs class scores per pixel [N, ${this.model.outputShape.join(', ')}]: it segments, it cannot ${method} (segment instead)`);
  }

  private checkLive(): void {
    if (this.disposed) throw new ConfigError('this model was disposed: load it again to use it');
  }

  private toInput(image: ImageSource): Tensor {
    return segmentationInput(image, this.model.inputShape, this.preprocessing).tensor;
  }
}

/** A detector: several outputs (scores and boxes), or a head in its metadata. */
function isDetector(model: Model): boolean {
  return model.outputNames.length > 1 || model.metadata.detection !== undefined;
}

/**
 * Loads a model for classifying and embedding images (see ModelSource): `await loadModel()` is the bundled
 * Fashion-MNIST model. In Node, `loadModel` from `mobilenet-ts/node` also reads file paths; in pages, the one
 * from `mobilenet-ts/browser` also takes <img>, <canvas>, <video> and ImageBitmap images.
 */
export async function loadModel(source?: ModelSource, options: LoadModelOptions = {}): Promise<MobileNetClassifier> {
  return MobileNetClassifier.create(await decodeModelSource(source, decodeOptions(options)), options, (image: ImageSource) => image);
}
