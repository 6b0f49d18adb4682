// The training loop, for classifiers, segmenters and detectors: seeded shuffling and augmentation derived from (seed, epoch,
// step) so that a run resumed from any checkpoint reaches the same weights; evaluation every epoch, early stopping.

import { ConfigError, ShapeError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import type { GradientBackend } from '../backend/gradients.js';
import type { Model } from '../graph/model.js';
import type { Batch, Dataset } from '../data/dataset.js';
import { batchIndices, checkIndex, loadBatch, shuffledIndices } from '../data/dataset.js';
import { Random } from '../tensor/random.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import { augmentSegmentationBatch } from '../data/segmentation-augment.js';
import type { SegmentationAugmentOptions } from '../data/segmentation-augment.js';
import type { SegmentationSet } from '../data/segmentation-data.js';
import { augmentDetectionBatch } from '../data/detection-augment.js';
import type { DetectionAugmentOptions } from '../data/detection-augment.js';
import type { DetectionHead } from '../detect/types.js';
import { postprocess } from '../detect/postprocess.js';
import { detectionLoss } from './detection-loss.js';
import type { DetectionLossOptions } from './detection-loss.js';
import { DetectionMetrics, EVALUATION_POSTPROCESS } from './detection-metrics.js';
import type { DetectionEvaluation, TruthObject } from './detection-metrics.js';
import { detectionTargets } from './detection-targets.js';
import type { GroundTruth, MatchOptions } from './detection-targets.js';
import type { AugmentOptions } from './augment.js';
import { augmentBatch } from './augment.js';
import { clipGradNorm } from './clip.js';
import { logSumExpAt } from './loss.js';
import { MetricsAccumulator } from './metrics.js';
import type { EvaluationMetrics } from './metrics.js';
import { checkClassWeights, segmentationCrossEntropy } from './segmentation-loss.js';
import { SegmentationMetrics } from './segmentation-metrics.js';
import type { SegmentationEvaluation } from './segmentation-metrics.js';
import type { Optimizer, OptimizerConfig, WeightDecayOptions } from './optimizers.js';
import { createOptimizer, paramInfo } from './optimizers.js';
import type { LearningRateSchedule } from './schedules.js';
import { constantSchedule, cosineDecay, exponentialDecay, stepDecay, withWarmup } from './schedules.js';

/** A learning-rate schedule as data, so that it can live in a checkpoint. */
export type ScheduleConfig =
  | { kind: 'constant'; lr: number; warmupEpochs?: number }
  | { kind: 'exponential'; lr: number; gamma: number; staircase?: boolean; warmupEpochs?: number }
  | { kind: 'step'; lr: number; gamma: number; everyEpochs: number; warmupEpochs?: number }
  | { kind: 'cosine'; lr: number; floor?: number; warmupEpochs?: number };

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig & WeightDecayOptions;
  schedule: ScheduleConfig;
  labelSmoothing?: number;
  /** Classification: crops, flips, erasing of the images. */
  augment?: AugmentOptions;
  /** Segmentation: one loss weight per class (torch's `CrossEntropyLoss(weight)`). */
  classWeights?: number[];
  /**
   * Segmentation: random scale, flip and padding that move each mask with its image, cropped back to the model's
   * input size (`crop` is always that size; the padding is ignored by the loss).
   */
  segmentationAugment?: Omit<SegmentationAugmentOptions, 'crop'>;
  /**
   * Detection: SSD's augmentation (photometric, zoom out, IoU crop, flip), the boxes moved with the pixels; its
   * `pixels` should say how the images were scaled, for the photometric steps and the canvas fill.
   */
  detectionAugment?: DetectionAugmentOptions;
  /** Detection: the anchor matcher (IoU 0.5, every box forced onto its best anchor). */
  matcher?: MatchOptions;
  /** Detection: the loss (sigmoid or softmax, from the head's score conversion by default; mining 3:1). */
  detectionLoss?: DetectionLossOptions;
  /** Clip gradients to this global norm. */
  clipNorm?: number;
  /** Stop when the test score (top-1; mIoU for segmentation) has not improved for this many epochs. */
  patience?: number;
  /** Write a checkpoint every this many steps (and at every epoch end). */
  checkpointEvery?: number;
  evalBatchSize?: number;
  /** Layers frozen up to and including this layer or block (recorded so that a resumed run freezes them again). */
  freeze?: string;
  /**
   * Threads of the WebAssembly training kernels (`createWasmTrainingBackends`' `threads`), for whoever creates the
   * backends (the CLI); default 1. Recorded so that a resumed run uses the same count: kernel gradients are summed
   * per thread, so the count changes the last bits of the weights (never the run's validity), and the same count
   * reproduces an uninterrupted run exactly.
   */
  threads?: number;
}

/** What a segmenter trains on (a SegmentationSet, names not needed): images [N, H, W, C], N·H·W labels (255: ignored). */
export type SegmentationData = Pick<SegmentationSet, 'images' | 'masks' | 'classNames'>;

/**
 * What a detector trains on: images [N, H, W, C] at the model's input size, each image's objects (normalized corner
 * boxes, classes 1..K) and the class slots' names (slot 0 the background).
 */
export interface DetectionData {
  images: Tensor;
  objects: readonly GroundTruth[];
  classNames: readonly string[];
}

/** A detector's test evaluation: COCO's and VOC's AP of its post-processed detections, its loss (as in training, normalised by the matches) and anchor accuracy. */
export interface DetectorEvaluation extends DetectionEvaluation {
  loss: number;
  /** Matched anchors whose highest score is their box's class, over the matches. */
  anchorAccuracy: number;
}

/** A test evaluation: a classifier's, a segmenter's (which has `miou`), or a detector's (which has `anchorAccuracy`). */
export type TestMetrics = EvaluationMetrics | SegmentationEvaluation | DetectorEvaluation;

/** What a run ranks its epochs by: test top-1 for a classifier, mIoU for a segmenter, mAP@[.5:.95] for a detector. */
export function testScore(test: TestMetrics): number {
  if ('anchorAccuracy' in test) return test.map;
  return 'miou' in test ? test.miou : test.top1;
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  /** Accuracy over the epoch's training batches: top-1 for a classifier, pixel accuracy for a segmenter. */
  trainTop1: number;
  test: TestMetrics;
  seconds: number;
  imagesPerSecond: number;
}

/** Everything that, with the weights and the optimizer state, determines the rest of a run. */
export interface TrainerState {
  /** Epoch in progress (0-based) and the next batch in it. */
  epoch: number;
  batch: number;
  /** Optimizer steps taken over the whole run. */
  step: number;
  /** Running sums of the epoch in progress, so that a resumed epoch reports what an uninterrupted one would. */
  epochLossSum: number;
  epochCorrect: number;
  epochImages: number;
  /** What `epochCorrect` is out of: images, or counted pixels for a segmenter (older checkpoints: `epochImages`). */
  epochCounted?: number;
  epochSeconds: number;
  /** The best test score so far (`testScore`: top-1, or mIoU for a segmenter); −1 before the first evaluation. */
  bestTop1: number;
  bestEpoch: number;
  history: EpochRecord[];
  done: boolean;
  /**
   * The training set's size, the epochs the schedule was planned over and the config's fields that decide the
   * trajectory (`trajectoryFields`), recorded at the start so that a resumed run on other data, with other settings
   * or with a total that would re-plan its schedule is refused instead of diverging. Absent in older checkpoints.
   */
  trainImages?: number;
  scheduleEpochs?: number;
  trajectory?: Record<string, unknown>;
}

export interface TrainerHooks {
  /** Called with the model and state whenever a checkpoint is due; persist them atomically. */
  checkpoint?(state: TrainerState, optimizer: Optimizer): Promise<void>;
  /** After each epoch's evaluation; `best` is true when the test score improved. */
  epochEnd?(record: EpochRecord, state: TrainerState, best: boolean): Promise<void>;
  /** After each step, with the batch size (for progress). */
  stepEnd?(images: number, loss: number, state: TrainerState): void;
  /** Evaluates the model (defaults to `evaluate` with the trainer's backend). */
  evaluate?(model: Model, data: Dataset): Promise<EvaluationMetrics>;
}

export interface TrainerOptions {
  backend?: Backend;
  gradients?: GradientBackend;
  /**
   * Runs each step's forward, backward and update, which use nothing of the step's tensors after it returns:
   * `WasmTrainingBackends.scope`, which then reuses the step's op output arrays for the next step.
   */
  scope?: <T>(body: () => T) => T;
  hooks?: TrainerHooks;
}

export function buildSchedule(c: ScheduleConfig, epochs: number): LearningRateSchedule {
  let s: LearningRateSchedule;
  switch (c.kind) {
    case 'constant':
      s = constantSchedule(c.lr);
      break;
    case 'exponential':
      s = exponentialDecay({ lr: c.lr, gamma: c.gamma, staircase: c.staircase });
      break;
    case 'step':
      s = stepDecay({ lr: c.lr, gamma: c.gamma, everyEpochs: c.everyEpochs });
      break;
    case 'cosine':
      s = cosineDecay({ lr: c.lr, epochs, floor: c.floor });
      break;
    default:
      throw new ConfigError(`unknown schedule ${JSON.stringify((c as { kind: unknown }).kind)}`);
  }
  return c.warmupEpochs ? withWarmup(s, { epochs: c.warmupEpochs }) : s;
}

/**
 * Whether the schedule's rates depend on the run's total epochs (cosine decays over all of them). Such a run cannot
 * be resumed with another total: every rate would change, those already used included. The others (constant,
 * exponential, step, and any warm-up) read only where the run stands, so a resumed run may extend or shorten them and
 * is then the uninterrupted run with the new total.
 */
export function scheduleDependsOnEpochs(c: ScheduleConfig): boolean {
  return c.kind === 'cosine';
}

/**
 * The config without the fields a resumed run may change (when it stops, saves and evaluates, and the thread count,
 * which changes only the last bits), as plain JSON values with sorted keys, comparable field by field.
 */
export function trajectoryFields(config: TrainConfig): Record<string, unknown> {
  const { epochs: _e, patience: _p, checkpointEvery: _c, evalBatchSize: _b, threads: _t, ...fields } = config;
  const sorted = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)])) : v;
  return sorted(fields) as Record<string, unknown>;
}

/** Refuses to resume `state` on a training set, settings or a schedule total other than the ones it started with. */
function checkResumable(state: TrainerState, config: TrainConfig, trainImages: number): void {
  if (state.trajectory) {
    const now = trajectoryFields(config);
    for (const key of new Set([...Object.keys(state.trajectory), ...Object.keys(now)])) {
      const [was, is] = [JSON.stringify(state.trajectory[key]), JSON.stringify(now[key])];
      if (was !== is) throw new ConfigError(`cannot resume: the run's ${key} was ${was ?? 'not set'}, this config's is ${is ?? 'not set'}; resume with the checkpoint's config`);
    }
  }
  if (state.trainImages !== undefined && state.trainImages !== trainImages) {
    throw new ConfigError(`cannot resume: the run trained on ${state.trainImages} images per epoch, this training set has ${trainImages}; resume on the same data (the same limit and split)`);
  }
  if (state.scheduleEpochs !== undefined && state.scheduleEpochs !== config.epochs && scheduleDependsOnEpochs(config.schedule)) {
    throw new ConfigError(`cannot resume with ${config.epochs} epochs: the run's ${config.schedule.kind} schedule was planned over ${state.scheduleEpochs} epochs, and another total would change every rate, those already used included`);
  }
}

/** A seed for one purpose at one point of the run: the same numbers whether or not the run was interrupted. */
export function derivedSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

const SHUFFLE = 1;
const AUGMENT = 2;
const DROPOUT = 3;

export function initialState(): TrainerState {
  return { epoch: 0, batch: 0, step: 0, epochLossSum: 0, epochCorrect: 0, epochImages: 0, epochCounted: 0, epochSeconds: 0, bestTop1: -1, bestEpoch: -1, history: [], done: false };
}

export function checkConfig(c: TrainConfig): void {
  const positive = (v: number, what: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${what} must be a positive integer, got ${v}`);
  };
  positive(c.epochs, 'epochs');
  positive(c.batchSize, 'batch size');
  if (c.threads !== undefined) positive(c.threads, 'threads');
  if (!Number.isInteger(c.seed)) throw new ConfigError(`seed must be an integer, got ${c.seed}`);
  if (!(c.schedule.lr > 0)) throw new ConfigError(`learning rate must be positive, got ${c.schedule.lr}`);
  const ls = c.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls < 1)) throw new ConfigError(`label smoothing must be in [0, 1), got ${ls}`);
}

/** Top-1 accuracy and loss of `model` (or of `options.predict`, with the model's output shape) on `data`, batch by batch, at inference (BN moving statistics). */
export async function evaluate(model: Model | { readonly outputShape: readonly number[] }, data: Dataset, options: { batchSize?: number; backend?: Backend; predict?: (x: Tensor) => Tensor } = {}): Promise<EvaluationMetrics> {
  const classes = model.outputShape[model.outputShape.length - 1];
  const metrics = new MetricsAccumulator(classes);
  const order = Int32Array.from({ length: data.size }, (_, i) => i);
  const predict = options.predict ?? ('predict' in model ? (x: Tensor) => model.predict(x, { backend: options.backend }) : null);
  if (!predict) throw new ConfigError('evaluate: give a Model or options.predict');
  for (const indices of batchIndices(order, options.batchSize ?? 100)) {
    const { x, labels } = await loadBatch(data, indices);
    const logits = predict(x).data;
    let lossSum = 0;
    for (let n = 0; n < labels.length; n++) lossSum += logSumExpAt(logits, n * classes, classes) - logits[n * classes + labels[n]];
    metrics.add(logits, labels, lossSum);
  }
  return metrics.result();
}

/** One step's forward and backward on a batch: its mean loss, the gradients, and how many of the counted units (images, or pixels) it got right. */
interface StepResult {
  loss: number;
  grads: Map<string, Tensor>;
  images: number;
  correct: number;
  counted: number;
}

/** What the loop needs of a task: the training set's size, a batch loaded and augmented, its step, a test evaluation. */
interface TrainingTask<B> {
  readonly size: number;
  load(indices: Int32Array, augment: Random): Promise<B>;
  forwardBackward(batch: B, dropout: Random): StepResult;
  evaluate(): Promise<TestMetrics>;
}

function classificationTask(model: Model, trainData: Dataset, testData: Dataset, config: TrainConfig, options: TrainerOptions): TrainingTask<Batch> {
  const classes = model.outputShape[model.outputShape.length - 1];
  const evaluateWith = options.hooks?.evaluate ?? ((m: Model, d: Dataset) => evaluate(m, d, { batchSize: config.evalBatchSize, backend: options.backend }));
  return {
    size: trainData.size,
    load: async (indices, random) => {
      const batch = await loadBatch(trainData, indices);
      if (config.augment) augmentBatch(batch.x, random, config.augment);
      return batch;
    },
    forwardBackward: ({ x, labels }, rng) => {
      const result = model.forwardBackward(x, labels, { labelSmoothing: config.labelSmoothing, rng, backend: options.backend, gradients: options.gradients });
      const accuracy = new MetricsAccumulator(classes);
      accuracy.add(result.logits.data, labels, 0);
      return { loss: result.loss, grads: result.grads, images: labels.length, correct: Math.round(accuracy.result().top1 * labels.length), counted: labels.length };
    },
    evaluate: () => evaluateWith(model, testData),
  };
}

/** A segmentation batch: images [n, H, W, C] and their n·H·W labels. */
export interface SegmentationBatch {
  x: Tensor;
  masks: Uint8Array;
}

/** The images and masks at `indices`, in the order given. */
export function loadSegmentationBatch(data: SegmentationData, indices: ArrayLike<number>): SegmentationBatch {
  const [count, height, width, channels] = data.images.shape;
  const [imageSize, maskSize] = [height * width * channels, height * width];
  const x = new Tensor([indices.length, height, width, channels]);
  const masks = new Uint8Array(indices.length * maskSize);
  for (let slot = 0; slot < indices.length; slot++) {
    const i = indices[slot];
    checkIndex({ size: count }, i);
    x.data.set(data.images.data.subarray(i * imageSize, (i + 1) * imageSize), slot * imageSize);
    masks.set(data.masks.subarray(i * maskSize, (i + 1) * maskSize), slot * maskSize);
  }
  return { x, masks };
}

/** Refuses a segmentation set whose masks do not cover its images, or a model whose [H, W, K] logits do not fit it. */
function checkSegmentation(model: { readonly outputShape: readonly number[] }, data: SegmentationData, what: string): void {
  if (data.images.rank !== 4) throw new ShapeError(`${what}: images must be [N, H, W, C], got ${formatShape(data.images.shape)}`);
  const [n, h, w] = data.images.shape;
  if (data.masks.length !== n * h * w) throw new ShapeError(`${what}: ${data.masks.length} mask labels for ${n} images of ${h}×${w}, which need ${n * h * w}`);
  const out = model.outputShape;
  if (out.length !== 3 || out[0] !== h || out[1] !== w) throw new ShapeError(`${what}: a segmenter's output must be per-pixel logits [${h}, ${w}, classes] for ${h}×${w} images, the model's is ${formatShape(out)}`);
  if (data.classNames.length !== out[2]) throw new ShapeError(`${what}: ${data.classNames.length} classes (${data.classNames.slice(0, 4).join(', ')}…), the model outputs ${out[2]}`);
}

/** mIoU, per-class IoU, pixel accuracy and mean loss of a segmenter (or of `options.predict`) on `data`, batch by batch, at inference. */
export async function evaluateSegmentation(model: Model | { readonly outputShape: readonly number[] }, data: SegmentationData, options: { batchSize?: number; backend?: Backend; predict?: (x: Tensor) => Tensor } = {}): Promise<SegmentationEvaluation> {
  checkSegmentation(model, data, 'evaluateSegmentation');
  const predict = options.predict ?? ('predict' in model ? (x: Tensor) => model.predict(x, { backend: options.backend }) : null);
  if (!predict) throw new ConfigError('evaluateSegmentation: give a Model or options.predict');
  const metrics = new SegmentationMetrics(model.outputShape[2]);
  const order = Int32Array.from({ length: data.images.shape[0] }, (_, i) => i);
  for (const indices of batchIndices(order, options.batchSize ?? 16)) {
    const { x, masks } = loadSegmentationBatch(data, indices);
    metrics.addLogits(predict(x), masks);
  }
  return metrics.result();
}

function segmentationTask(model: Model, trainData: SegmentationData, testData: SegmentationData, config: TrainConfig, options: TrainerOptions): TrainingTask<SegmentationBatch> {
  checkSegmentation(model, trainData, 'training set');
  checkSegmentation(model, testData, 'test set');
  const classes = model.outputShape[2];
  if (config.classWeights) checkClassWeights(config.classWeights, classes);
  return {
    size: trainData.images.shape[0],
    load: async (indices, random) => {
      const batch = loadSegmentationBatch(trainData, indices);
      if (!config.segmentationAugment) return batch;
      const { images, masks } = augmentSegmentationBatch(batch.x, batch.masks, random, { ...config.segmentationAugment, crop: [model.outputShape[0], model.outputShape[1]] });
      return { x: images, masks };
    },
    forwardBackward: ({ x, masks }, rng) => {
      const traced = model.forwardTrain(x, { rng, backend: options.backend, gradients: options.gradients });
      const logits = traced.output;
      const { loss, gradient, pixels } = segmentationCrossEntropy(logits, masks, { classWeights: config.classWeights });
      const grads = traced.backward(gradient).params;
      const accuracy = new SegmentationMetrics(classes);
      accuracy.addLogits(logits, masks);
      return { loss, grads, images: x.shape[0], correct: Math.round(accuracy.result().pixelAccuracy * pixels), counted: pixels };
    },
    evaluate: () => evaluateSegmentation(model, testData, { batchSize: config.evalBatchSize, backend: options.backend }),
  };
}

/** The detection head a detector model carries (`metadata.detection`), its outputs checked against its anchors. */
export function detectorHead(model: Model): DetectionHead {
  const head = model.metadata.detection;
  if (!head) throw new ConfigError(`model ${model.name} is not a detector: its metadata has no detection head (anchors, box coding)`);
  const anchors = head.anchors.length / 4;
  const shapes = model.outputShapes;
  const [scores, boxes] = [shapes[head.outputs.scores], shapes[head.outputs.boxes]];
  if (!scores || !boxes) throw new ConfigError(`model ${model.name}: the detection head names outputs ${head.outputs.scores} and ${head.outputs.boxes}, the model has ${model.outputNames.join(', ')}`);
  if (scores.length !== 2 || scores[0] !== anchors || boxes.length !== 2 || boxes[0] !== anchors || boxes[1] !== 4) {
    throw new ShapeError(`model ${model.name}: outputs ${head.outputs.scores} ${formatShape(scores)} and ${head.outputs.boxes} ${formatShape(boxes)} do not fit ${anchors} anchors ([anchors, slots] and [anchors, 4])`);
  }
  return head;
}

/** Refuses a detection set whose objects do not cover its images, or whose images or classes do not fit the model. */
function checkDetection(model: Model, head: DetectionHead, data: DetectionData, what: string): void {
  if (data.images.rank !== 4) throw new ShapeError(`${what}: images must be [N, H, W, C], got ${formatShape(data.images.shape)}`);
  if (data.objects.length !== data.images.shape[0]) throw new ShapeError(`${what}: ${data.objects.length} images' objects for ${data.images.shape[0]} images`);
  const [, h, w, c] = data.images.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) throw new ShapeError(`${what}: images are ${h}×${w}×${c}, the model takes ${mh}×${mw}×${mc}`);
  const slots = model.outputShapes[head.outputs.scores][1];
  if (data.classNames.length !== slots) throw new ShapeError(`${what}: ${data.classNames.length} class slots (${data.classNames.slice(0, 4).join(', ')}…), the model scores ${slots}`);
}

/** A detection batch: images [n, H, W, C] and each one's objects. */
export interface DetectionBatch {
  x: Tensor;
  objects: GroundTruth[];
}

/** The images and objects at `indices`, in the order given. */
export function loadDetectionBatch(data: DetectionData, indices: ArrayLike<number>): DetectionBatch {
  const [count, height, width, channels] = data.images.shape;
  const size = height * width * channels;
  const x = new Tensor([indices.length, height, width, channels]);
  const objects: GroundTruth[] = [];
  for (let slot = 0; slot < indices.length; slot++) {
    const i = indices[slot];
    checkIndex({ size: count }, i);
    x.data.set(data.images.data.subarray(i * size, (i + 1) * size), slot * size);
    objects.push(data.objects[i]);
  }
  return { x, objects };
}

/** The loss options of a run on `head`: sigmoid or softmax as the head converts its scores, unless the config says. */
function lossOptions(head: DetectionHead, config: Pick<TrainConfig, 'detectionLoss'>): DetectionLossOptions {
  return { classification: head.scoreConversion === 'softmax' ? 'softmax' : 'sigmoid', ...config.detectionLoss };
}

/** A detector's outputs by the head's names: scores [N, A, slots] and box codes [N, A, 4]. */
export type DetectorOutputs = Readonly<Record<string, Tensor>>;

/**
 * A detector on in-memory `data` (what training holds; a COCO folder is detection-metrics' `evaluateDetector`), at
 * inference, batch by batch: COCO's AP@[.5:.95], AP50, AP75 and VOC's AP50 of its detections (`postprocess` with
 * `EVALUATION_POSTPROCESS`; boxes normalized, which IoU does not see), and the training loss (without augmentation,
 * normalised by all the matches) with the anchor accuracy. `predictOutputs` runs the model (default:
 * `model.predictOutputs` on `backend`).
 */
export async function evaluateDetectionSet(
  model: Model,
  data: DetectionData,
  options: Pick<TrainConfig, 'matcher' | 'detectionLoss'> & { batchSize?: number; backend?: Backend; predictOutputs?: (x: Tensor) => DetectorOutputs } = {},
): Promise<DetectorEvaluation> {
  const head = detectorHead(model);
  checkDetection(model, head, data, 'evaluateDetectionSet');
  const predict = options.predictOutputs ?? ((x: Tensor) => model.predictOutputs(x, { backend: options.backend }));
  const order = Int32Array.from({ length: data.images.shape[0] }, (_, i) => i);
  const slots = data.classNames.length;
  const metrics = new DetectionMetrics({ classes: Array.from({ length: slots - 1 }, (_, k) => k + 1), labels: data.classNames });
  let [lossSum, matches, correct] = [0, 0, 0];
  for (const indices of batchIndices(order, options.batchSize ?? 16)) {
    const { x, objects } = loadDetectionBatch(data, indices);
    const outputs = predict(x);
    const [scores, boxes] = [outputs[head.outputs.scores], outputs[head.outputs.boxes]];
    const targets = objects.map((truth) => detectionTargets(head, truth, options.matcher));
    const r = detectionLoss(scores, boxes, targets, lossOptions(head, options));
    lossSum += r.loss * Math.max(1, r.matches);
    [matches, correct] = [matches + r.matches, correct + r.correct];
    postprocess(scores, boxes, head, EVALUATION_POSTPROCESS).forEach((detections, k) => metrics.add(truthObjects(objects[k]), detections));
  }
  return { ...metrics.result(), loss: lossSum / Math.max(1, matches), anchorAccuracy: correct / Math.max(1, matches) };
}

/** An image's objects as the metrics take them. */
function truthObjects({ boxes, classes }: GroundTruth): TruthObject[] {
  return Array.from(classes, (c, g) => ({ class: c, box: [boxes[g * 4], boxes[g * 4 + 1], boxes[g * 4 + 2], boxes[g * 4 + 3]] }));
}

function detectionTask(model: Model, trainData: DetectionData, testData: DetectionData, config: TrainConfig, options: TrainerOptions): TrainingTask<DetectionBatch> {
  const head = detectorHead(model);
  checkDetection(model, head, trainData, 'training set');
  checkDetection(model, head, testData, 'test set');
  const loss = lossOptions(head, config);
  return {
    size: trainData.images.shape[0],
    load: async (indices, random) => {
      const batch = loadDetectionBatch(trainData, indices);
      if (!config.detectionAugment) return batch;
      const { images, truths } = augmentDetectionBatch(batch.x, batch.objects, random, config.detectionAugment);
      return { x: images, objects: truths };
    },
    forwardBackward: ({ x, objects }, rng) => {
      const traced = model.forwardTrainOutputs(x, { rng, backend: options.backend, gradients: options.gradients });
      const targets = objects.map((truth) => detectionTargets(head, truth, config.matcher));
      const r = detectionLoss(traced.outputs[head.outputs.scores], traced.outputs[head.outputs.boxes], targets, loss);
      const grads = traced.backward({ [head.outputs.scores]: r.scores, [head.outputs.boxes]: r.boxes }).params;
      return { loss: r.loss, grads, images: x.shape[0], correct: r.correct, counted: r.matches };
    },
    evaluate: () => evaluateDetectionSet(model, testData, { batchSize: config.evalBatchSize, backend: options.backend, matcher: config.matcher, detectionLoss: config.detectionLoss }),
  };
}

/**
 * Trains `model` on `train`, evaluating on `test` after each epoch. Start from `resume` (state and optimizer
 * state restored by the caller, weights already loaded) or from scratch. Returns the final state.
 */
export async function train(model: Model, trainData: Dataset, testData: Dataset, config: TrainConfig, options: TrainerOptions = {}, resume?: ResumePoint): Promise<TrainerState> {
  checkConfig(config);
  return runLoop(model, classificationTask(model, trainData, testData, config, options), config, options, resume);
}

/**
 * Trains a segmenter (per-pixel logits [H, W, K] for H×W images) with the per-pixel cross-entropy (ignore label 255,
 * `config.classWeights`), evaluating mIoU and pixel accuracy on `test` after each epoch; resumes as `train` does.
 */
export async function trainSegmenter(model: Model, trainData: SegmentationData, testData: SegmentationData, config: TrainConfig, options: TrainerOptions = {}, resume?: ResumePoint): Promise<TrainerState> {
  checkConfig(config);
  return runLoop(model, segmentationTask(model, trainData, testData, config, options), config, options, resume);
}

/**
 * Trains an SSD detector (a model whose `metadata.detection` is its head) with the SSD loss on matched anchors,
 * evaluating on `test` after each epoch (`evaluateDetectionSet`: mAP, which ranks the epochs, AP50, loss); resumes as `train` does.
 */
export async function trainDetector(model: Model, trainData: DetectionData, testData: DetectionData, config: TrainConfig, options: TrainerOptions = {}, resume?: ResumePoint): Promise<TrainerState> {
  checkConfig(config);
  return runLoop(model, detectionTask(model, trainData, testData, config, options), config, options, resume);
}

export interface ResumePoint {
  state: TrainerState;
  optimizerState: Map<string, Tensor>;
}

async function runLoop<B>(model: Model, task: TrainingTask<B>, config: TrainConfig, options: TrainerOptions, resume?: ResumePoint): Promise<TrainerState> {
  const hooks = options.hooks ?? {};
  const { optimizer: optimizerConfig } = config;
  const optimizer = createOptimizer({ ...optimizerConfig, paramInfo: paramInfo(model) } as OptimizerConfig);
  if (resume) optimizer.loadState(resume.optimizerState);
  const state = resume ? structuredClone(resume.state) : initialState();
  checkResumable(state, config, task.size);
  state.trainImages = task.size;
  state.scheduleEpochs = config.epochs;
  state.trajectory = trajectoryFields(config);
  // a finished run resumed with more epochs (or a patience it has not exhausted) goes on
  state.done = state.epoch >= config.epochs || (config.patience !== undefined && state.bestEpoch >= 0 && state.epoch - state.bestEpoch >= config.patience);
  const schedule = buildSchedule(config.schedule, config.epochs);
  const stepsPerEpoch = Math.floor(task.size / config.batchSize);
  if (stepsPerEpoch < 1) throw new ConfigError(`batch size ${config.batchSize} is larger than the training set (${task.size} images)`);
  const scope = options.scope ?? (<T>(body: () => T): T => body());

  while (!state.done && state.epoch < config.epochs) {
    const epoch = state.epoch;
    const order = shuffledIndices(task.size, new Random(derivedSeed(config.seed, SHUFFLE, epoch)));
    const batches = batchIndices(order, config.batchSize, { dropLast: true });
    let lr = schedule(state.step, epoch, stepsPerEpoch);
    for (let b = state.batch; b < batches.length; b++) {
      const started = performance.now();
      const batch = await task.load(batches[b], new Random(derivedSeed(config.seed, AUGMENT, epoch, b)));
      lr = schedule(state.step, epoch, stepsPerEpoch);
      const { loss, images, correct, counted } = scope(() => {
        const result = task.forwardBackward(batch, new Random(derivedSeed(config.seed, DROPOUT, epoch, b)));
        if (config.clipNorm !== undefined) clipGradNorm(result.grads, config.clipNorm);
        optimizer.step(model.trainableWeights(), result.grads, lr);
        return result;
      });
      state.epochLossSum += loss * images;
      state.epochCorrect += correct;
      state.epochCounted = (state.epochCounted ?? state.epochImages) + counted;
      state.epochImages += images;
      state.epochSeconds += (performance.now() - started) / 1000;
      state.step++;
      state.batch = b + 1;
      hooks.stepEnd?.(images, loss, state);
      if (config.checkpointEvery && state.step % config.checkpointEvery === 0 && state.batch < batches.length) await hooks.checkpoint?.(state, optimizer);
    }
    const test = await task.evaluate();
    const record: EpochRecord = {
      epoch: epoch + 1,
      lr,
      trainLoss: state.epochLossSum / Math.max(1, state.epochImages),
      trainTop1: state.epochCorrect / Math.max(1, state.epochCounted ?? state.epochImages),
      test,
      seconds: state.epochSeconds,
      imagesPerSecond: state.epochImages / Math.max(1e-9, state.epochSeconds),
    };
    state.history.push(record);
    const best = testScore(test) > state.bestTop1;
    if (best) {
      state.bestTop1 = testScore(test);
      state.bestEpoch = epoch + 1;
    }
    Object.assign(state, { epoch: epoch + 1, batch: 0, epochLossSum: 0, epochCorrect: 0, epochImages: 0, epochCounted: 0, epochSeconds: 0 });
    if (config.patience !== undefined && state.epoch - state.bestEpoch >= config.patience) state.done = true;
    if (state.epoch >= config.epochs) state.done = true;
    await hooks.epochEnd?.(record, state, best);
    await hooks.checkpoint?.(state, optimizer);
  }
  return state;
}
