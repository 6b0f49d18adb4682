// A detector's raw outputs → detections per image, TF Object Detection API's post-processing: decode against
// the anchors, clip to [0, 1], convert scores, drop background, threshold, top-k, per-class or agnostic NMS, caps.

import { ConfigError, ShapeError } from '../errors.js';
import { formatShape, type Tensor } from '../tensor/tensor.js';
import { decodeBoxes } from './box-coder.js';
import { boxAreas, checkCap, checkThreshold, greedyNms, NmsWorkspace, type BoxSet } from './nms.js';
import type { Box, Detection, DetectionHead, PostprocessOptions } from './types.js';

/** TF SSD's usual settings, and the CLI's defaults: score ≥ 0.5, IoU > 0.6 suppresses, 100 per class and in all. */
export const DEFAULT_POSTPROCESS: Readonly<PostprocessOptions> = Object.freeze({
  scoreThreshold: 0.5,
  iouThreshold: 0.6,
  maxPerClass: 100,
  maxDetections: 100,
  classAgnostic: false,
  topK: Infinity,
});

/** One image's raw outputs, validated: scores [A·slots] and box values [A·4] as views into the batch. */
interface ImageOutputs {
  scores: Float32Array;
  boxes: Float32Array;
}

/** The checked shape of a batch: N images, A anchors, `slots` score slots each. */
interface BatchShape {
  batch: number;
  anchors: number;
  slots: number;
}

const WHAT = 'postprocess';

function checkOptions(options: PostprocessOptions): void {
  checkThreshold(options.scoreThreshold, 'scoreThreshold', WHAT);
  checkThreshold(options.iouThreshold, 'iouThreshold', WHAT);
  checkCap(options.maxPerClass, 'maxPerClass', WHAT);
  checkCap(options.maxDetections, 'maxDetections', WHAT);
  checkCap(options.topK, 'topK', WHAT);
  if (options.clipBoxes !== undefined && options.clipBoxes !== 'before-nms' && options.clipBoxes !== 'after-nms') {
    throw new ConfigError(`${WHAT}: clipBoxes must be 'before-nms' or 'after-nms', got ${String(options.clipBoxes)}`);
  }
}

/** [N, A, slots] or [A, slots] (one image); anything else, or a count other than the anchors', is a ShapeError. */
function batchShape(scores: Tensor, boxes: Tensor, head: DetectionHead): BatchShape {
  if (head.anchors.length % 4 !== 0) throw new ShapeError(`${WHAT}: the head's anchors hold ${head.anchors.length} values, not rows of 4`);
  const anchors = head.anchors.length / 4;
  const name = head.outputs;
  const three = (t: Tensor): readonly number[] => (t.shape.length === 2 ? [1, ...t.shape] : t.shape);
  const [n, a, slots] = three(scores);
  if (scores.shape.length < 2 || scores.shape.length > 3 || a !== anchors || slots < (head.background ? 2 : 1)) {
    throw new ShapeError(`${WHAT}: output "${name.scores}" has shape ${formatShape(scores.shape)}; expected [batch, ${anchors}, classes${head.background ? ' + 1' : ''}] for ${anchors} anchors`);
  }
  if (boxes.shape.length !== scores.shape.length || three(boxes)[0] !== n || three(boxes)[1] !== anchors || three(boxes)[2] !== 4) {
    throw new ShapeError(`${WHAT}: output "${name.boxes}" has shape ${formatShape(boxes.shape)}; expected ${formatShape(scores.shape.length === 2 ? [anchors, 4] : [n, anchors, 4])} to match "${name.scores}" ${formatShape(scores.shape)}`);
  }
  return { batch: n, anchors, slots };
}

const clipUnit = (v: number): number => Math.min(Math.max(v, 0), 1);

/**
 * Per-image state that every class's NMS shares: decoded boxes in float64 (numpy's precision), clipped unless
 * clipping waits until after NMS, their areas, and for softmax each anchor's log-sum-exp, so a score costs one
 * exp and thresholds compare logits.
 */
class ImageScorer {
  readonly set: BoxSet;
  private readonly logSumExp: Float64Array;

  constructor(private readonly head: DetectionHead, private readonly image: ImageOutputs, private readonly shape: BatchShape, clipBeforeNms: boolean) {
    const boxes = new Float64Array(shape.anchors * 4);
    if (head.boxFormat === 'corners') boxes.set(image.boxes);
    else decodeBoxes(image.boxes, head.anchors, head.scaleFactors, head.codeOrder ?? 'yxhw', boxes);
    if (clipBeforeNms) for (let i = 0; i < boxes.length; i++) boxes[i] = clipUnit(boxes[i]);
    this.set = { boxes, areas: boxAreas(boxes) };
    const softmax = head.scoreConversion === 'softmax';
    this.logSumExp = new Float64Array(softmax ? shape.anchors : 0);
    if (softmax) this.softmaxNormalizers();
  }

  private softmaxNormalizers(): void {
    const { scores } = this.image;
    const { slots } = this.shape;
    for (let a = 0, row = 0; a < this.shape.anchors; a++, row += slots) {
      let max = -Infinity;
      for (let s = 0; s < slots; s++) max = Math.max(max, scores[row + s]);
      let sum = 0;
      for (let s = 0; s < slots; s++) sum += Math.exp(scores[row + s] - max);
      this.logSumExp[a] = max + Math.log(sum);
    }
  }

  /** The probability of slot `slot` at anchor `anchor`. */
  score(anchor: number, slot: number): number {
    const x = this.image.scores[anchor * this.shape.slots + slot];
    switch (this.head.scoreConversion) {
      case 'sigmoid':
        return 1 / (1 + Math.exp(-x));
      case 'softmax':
        return Math.exp(x - this.logSumExp[anchor]);
      case 'identity':
        return x;
    }
  }

  /**
   * Per anchor, the raw value below which a score is surely < threshold (less a margin for rounding), so most
   * (anchor, slot) pairs are rejected by one comparison and `score` decides the rest exactly.
   */
  rawBounds(threshold: number): Float64Array {
    const margin = 1e-9;
    const bounds = new Float64Array(this.shape.anchors);
    switch (this.head.scoreConversion) {
      case 'sigmoid':
        return bounds.fill(Math.log(threshold / (1 - threshold)) - margin);
      case 'softmax': {
        const logThreshold = Math.log(threshold) - margin;
        for (let a = 0; a < bounds.length; a++) bounds[a] = this.logSumExp[a] + logThreshold;
        return bounds;
      }
      case 'identity':
        return bounds.fill(threshold - margin);
    }
  }

  /** The raw scores of every anchor, [A·slots]. */
  get raw(): Float32Array {
    return this.image.scores;
  }
}

/** Candidate anchors of every slot from one row-major pass: slot s's are `anchors[starts[s] .. starts[s + 1])`, in anchor order. */
interface CandidateBuckets {
  starts: Int32Array;
  anchors: Int32Array;
}

function bucketCandidates(raw: Float32Array, bounds: Float64Array, slots: number, firstSlot: number): CandidateBuckets {
  const starts = new Int32Array(slots + 1);
  for (let a = 0, row = 0; a < bounds.length; a++, row += slots) {
    const bound = bounds[a];
    for (let s = firstSlot; s < slots; s++) if (raw[row + s] >= bound) starts[s + 1]++;
  }
  for (let s = 0; s < slots; s++) starts[s + 1] += starts[s];
  const anchors = new Int32Array(starts[slots]);
  const fill = starts.slice(0, slots);
  for (let a = 0, row = 0; a < bounds.length; a++, row += slots) {
    const bound = bounds[a];
    for (let s = firstSlot; s < slots; s++) if (raw[row + s] >= bound) anchors[fill[s]++] = a;
  }
  return { starts, anchors };
}

function detection(scorer: ImageScorer, anchor: number, slot: number, score: number, labels: readonly string[] | undefined): Detection {
  const b = anchor * 4;
  const { boxes } = scorer.set;
  const box: Box = [clipUnit(boxes[b]), clipUnit(boxes[b + 1]), clipUnit(boxes[b + 2]), clipUnit(boxes[b + 3])];
  const label = labels?.[slot];
  return label === undefined ? { class: slot, score, box, anchor } : { class: slot, label, score, box, anchor };
}

/**
 * One image's post-processing as steps: yields after each class's NMS, so `postprocessAsync` can hand the
 * event loop back between classes; returns the image's detections, best first.
 */
function* imageSteps(head: DetectionHead, image: ImageOutputs, shape: BatchShape, options: PostprocessOptions, ws: NmsWorkspace): Generator<void, Detection[]> {
  const scorer = new ImageScorer(head, image, shape, (options.clipBoxes ?? 'before-nms') === 'before-nms');
  const firstClass = head.background ? 1 : 0;
  const found: Detection[] = [];
  if (options.classAgnostic) {
    // TF's class-agnostic NMS: each anchor competes once, with its best class.
    const bestSlot = new Int32Array(shape.anchors);
    ws.reset(shape.anchors);
    for (let a = 0; a < shape.anchors; a++) {
      let best = firstClass;
      const row = a * shape.slots;
      for (let s = firstClass + 1; s < shape.slots; s++) if (scorer.raw[row + s] > scorer.raw[row + best]) best = s;
      bestSlot[a] = best;
    }
    for (let a = 0; a < shape.anchors; a++) {
      const score = scorer.score(a, bestSlot[a]);
      if (score >= options.scoreThreshold) ws.add(a, score);
    }
    const kept = greedyNms(ws, scorer.set, options.iouThreshold, Math.min(options.maxDetections, options.maxPerClass), options.topK);
    for (let k = 0; k < kept; k++) {
      const a = ws.kept[k];
      found.push(detection(scorer, a, bestSlot[a], scorer.score(a, bestSlot[a]), options.labels));
    }
  } else {
    const buckets = bucketCandidates(scorer.raw, scorer.rawBounds(options.scoreThreshold), shape.slots, firstClass);
    for (let slot = firstClass; slot < shape.slots; slot++) {
      ws.reset(shape.anchors);
      for (let c = buckets.starts[slot]; c < buckets.starts[slot + 1]; c++) {
        const score = scorer.score(buckets.anchors[c], slot);
        if (score >= options.scoreThreshold) ws.add(buckets.anchors[c], score);
      }
      const kept = greedyNms(ws, scorer.set, options.iouThreshold, options.maxPerClass, options.topK);
      for (let k = 0; k < kept; k++) found.push(detection(scorer, ws.kept[k], slot, scorer.score(ws.kept[k], slot), options.labels));
      yield;
    }
  }
  // Merged best first; equal scores keep class order, then anchor order (a stable sort of the per-class lists).
  found.sort((p, q) => q.score - p.score || p.class - q.class || p.anchor - q.anchor);
  return found.slice(0, options.maxDetections);
}

/** Steps over every image of the batch: yields between classes; returns detections per image. */
function* batchSteps(scores: Tensor, boxes: Tensor, head: DetectionHead, options: Partial<PostprocessOptions>): Generator<void, Detection[][]> {
  const full: PostprocessOptions = { ...DEFAULT_POSTPROCESS, ...options };
  checkOptions(full);
  const shape = batchShape(scores, boxes, head);
  const ws = new NmsWorkspace();
  const perImage: Detection[][] = [];
  const scoreStride = shape.anchors * shape.slots;
  const boxStride = shape.anchors * 4;
  for (let n = 0; n < shape.batch; n++) {
    const image = { scores: scores.data.subarray(n * scoreStride, (n + 1) * scoreStride), boxes: boxes.data.subarray(n * boxStride, (n + 1) * boxStride) };
    perImage.push(yield* imageSteps(head, image, shape, full, ws));
  }
  return perImage;
}

/**
 * Detections per image of a batch from a detector's raw outputs: `scores` [N, A, slots] (or [A, slots]) and
 * `boxes` [N, A, 4] against `head`'s anchors. Boxes are normalized [ymin, xmin, ymax, xmax] clipped to [0, 1];
 * options default to `DEFAULT_POSTPROCESS`. Synchronous: 2,000 anchors × 90 classes take a few ms, so it can
 * also run as it is in a worker; on a page's main thread `postprocessAsync` slices the work.
 */
export function postprocess(scores: Tensor, boxes: Tensor, head: DetectionHead, options: Partial<PostprocessOptions> = {}): Detection[][] {
  const steps = batchSteps(scores, boxes, head, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** How `postprocessAsync` slices its work. */
export interface SliceOptions {
  /** Hand the event loop back once a slice has run this long (8 ms: half a 60 Hz frame). */
  sliceMs?: number;
  /** Stops between slices with the signal's reason. */
  signal?: AbortSignal;
}

/** Lets the event loop run: `scheduler.yield()` where pages have it, else a macrotask. */
function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  return scheduler?.yield ? scheduler.yield() : new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * `postprocess` that never blocks a page for long: the same steps and the same result, handing the event loop
 * back between classes whenever a slice has used `sliceMs`.
 */
export async function postprocessAsync(scores: Tensor, boxes: Tensor, head: DetectionHead, options: Partial<PostprocessOptions> = {}, slicing: SliceOptions = {}): Promise<Detection[][]> {
  const sliceMs = slicing.sliceMs ?? 8;
  const steps = batchSteps(scores, boxes, head, options);
  let sliceStart = performance.now();
  for (;;) {
    slicing.signal?.throwIfAborted();
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
}
