// Detection metrics accumulated image by image: COCO's AP@[.50:.05:.95], AP50 and AP75 by pycocotools' algorithm
// (COCOeval.evaluateImg + accumulate, area 'all', maxDets 100) and PASCAL VOC's AP50 (VOC2010+ all-points), per class.

import { detectorBatch } from '../api/detect.js';
import type { CocoData } from '../data/coco-json.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { postprocess } from '../detect/postprocess.js';
import type { Box, DetectionHead, PostprocessOptions } from '../detect/types.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** A ground-truth object of one image; `box` [ymin, xmin, ymax, xmax] in any unit the detections share (pixels, normalized). */
export interface TruthObject {
  class: number;
  box: Readonly<Box>;
  /** COCO's `iscrowd` (VOC's `difficult`): a detection on it is neither a true nor a false positive. */
  crowd?: boolean;
}

/** A detection of one image (post-processing's `Detection` is one). */
export interface ScoredObject {
  class: number;
  score: number;
  box: Readonly<Box>;
}

export interface ClassAveragePrecision {
  class: number;
  label?: string;
  /** AP@[.50:.05:.95]; null when the class has no (non-crowd) ground truth, as pycocotools leaves it out. */
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  /** PASCAL VOC AP at IoU > 0.5, all-points interpolation; null without ground truth. */
  vocAp50: number | null;
  /** Non-crowd ground-truth objects. */
  truth: number;
  /** Detections counted (at most maxDetections per image). */
  detections: number;
}

export interface DetectionEvaluation {
  /** COCO's AP@[.50:.05:.95]: the mean over IoU thresholds and over the classes that have ground truth. */
  map: number;
  /** COCO's AP at IoU 0.5 and 0.75 (101-point interpolation). */
  ap50: number;
  ap75: number;
  /** PASCAL VOC's mean AP at IoU > 0.5 (all-points interpolation), over the classes that have ground truth. */
  vocAp50: number;
  perClass: ClassAveragePrecision[];
  images: number;
}

export interface DetectionMetricsOptions {
  /** The classes to report (default: every class seen in the truth or the detections); detections of others are not counted. */
  classes?: readonly number[];
  /** Class names by class index, for `label`. */
  labels?: readonly string[];
  /** pycocotools' maxDets: the best this many detections per image and class count (default 100). */
  maxDetections?: number;
}

/** COCO's IoU thresholds, as numpy's linspace(.5, .95, 10) gives them (0.8999999999999999 included). */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : 0.5 + i * ((0.95 - 0.5) / 9)));
/** COCO's recall points: linspace(0, 1, 101). */
const RECALL_POINTS = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * 0.01));
/** numpy's np.spacing(1), which pycocotools adds to precision's denominator. */
const EPSILON = Number.EPSILON;

/** A detection's outcome at an IoU threshold. */
const FALSE_POSITIVE = 0;
const TRUE_POSITIVE = 1;
const IGNORED = 2;

/** What the images said about one class, kept until `result()`. */
interface ClassRecord {
  truth: number;
  /** COCO: the scores of the counted detections, image by image, each image's by descending score. */
  scores: number[];
  /** COCO: outcome of detection d at threshold t is outcomes[d·T + t]. */
  outcomes: number[];
  /** VOC: every detection's score and its outcome at IoU > 0.5. */
  vocScores: number[];
  vocOutcomes: number[];
}

/**
 * Evaluates detections image by image. COCO AP follows pycocotools: per image and class, detections by
 * descending score (the first `maxDetections`) each take the unmatched ground truth of highest IoU ≥ t, a
 * non-crowd one before a crowd one, a crowd one any number of times and with IoU = intersection / detection
 * area; those on crowds are ignored; over all images, precision made monotone, read at 101 recall points and
 * averaged, then over the 10 thresholds and the classes with ground truth. VOC AP50 follows the VOC devkit:
 * each detection takes the ground truth of highest IoU, a true positive if IoU > 0.5 and that object is not
 * taken, ignored if it is a crowd (VOC's "difficult"); AP is the area under the monotone precision. Boxes are
 * continuous coordinates (no +1 pixel as in the VOC devkit). Score ties keep the order images were added in
 * (pycocotools: ascending image id).
 */
export class DetectionMetrics {
  private readonly records = new Map<number, ClassRecord>();
  private readonly classes: ReadonlySet<number> | undefined;
  private readonly maxDetections: number;
  private images = 0;

  constructor(private readonly options: DetectionMetricsOptions = {}) {
    this.maxDetections = options.maxDetections ?? 100;
    if (!Number.isInteger(this.maxDetections) || this.maxDetections < 1) throw new ConfigError(`detection metrics: maxDetections must be a positive integer, got ${options.maxDetections}`);
    this.classes = options.classes && new Set(options.classes);
    for (const c of options.classes ?? []) this.record(c);
  }

  /** One image's ground truth and detections. */
  add(truth: readonly TruthObject[], detections: readonly ScoredObject[]): void {
    this.images++;
    const byClass = new Map<number, { truth: TruthObject[]; detections: ScoredObject[] }>();
    const group = (c: number) => {
      let g = byClass.get(c);
      if (!g) byClass.set(c, (g = { truth: [], detections: [] }));
      return g;
    };
    for (const t of truth) if (!this.classes || this.classes.has(t.class)) group(t.class).truth.push(t);
    for (const d of detections) if (!this.classes || this.classes.has(d.class)) group(d.class).detections.push(d);
    for (const [c, g] of byClass) this.addClass(this.record(c), g.truth, g.detections);
  }

  result(): DetectionEvaluation {
    const thresholds = COCO_IOU_THRESHOLDS.length;
    const perClass: ClassAveragePrecision[] = [];
    let sum = 0;
    let sum50 = 0;
    let sum75 = 0;
    let vocSum = 0;
    let counted = 0;
    for (const c of [...this.records.keys()].sort((a, b) => a - b)) {
      const r = this.records.get(c)!;
      const label = this.options.labels?.[c];
      const entry: ClassAveragePrecision = { class: c, ...(label === undefined ? {} : { label }), ap: null, ap50: null, ap75: null, vocAp50: null, truth: r.truth, detections: r.scores.length };
      perClass.push(entry);
      if (r.truth === 0) continue;
      const order = descendingScores(r.scores);
      const perThreshold = COCO_IOU_THRESHOLDS.map((_, t) => interpolatedPrecision(order.map((d) => r.outcomes[d * thresholds + t]), r.truth));
      entry.ap = perThreshold.reduce((a, b) => a + b, 0) / thresholds;
      entry.ap50 = perThreshold[0];
      entry.ap75 = perThreshold[5];
      entry.vocAp50 = vocAveragePrecision(descendingScores(r.vocScores).map((d) => r.vocOutcomes[d]), r.truth);
      sum += entry.ap;
      sum50 += entry.ap50;
      sum75 += entry.ap75;
      vocSum += entry.vocAp50;
      counted++;
    }
    if (counted === 0) throw new ConfigError(`detection metrics: no class has ground truth in ${this.images} images (only crowds, or nothing), so AP is undefined`);
    return { map: sum / counted, ap50: sum50 / counted, ap75: sum75 / counted, vocAp50: vocSum / counted, perClass, images: this.images };
  }

  private record(c: number): ClassRecord {
    let r = this.records.get(c);
    if (!r) this.records.set(c, (r = { truth: 0, scores: [], outcomes: [], vocScores: [], vocOutcomes: [] }));
    return r;
  }

  /** pycocotools' evaluateImg (area 'all') and the devkit's matching, for one image and class. */
  private addClass(r: ClassRecord, truth: readonly TruthObject[], detections: readonly ScoredObject[]): void {
    // non-crowd objects first (a stable sort), as pycocotools orders them
    const objects = [...truth.filter((t) => !t.crowd), ...truth.filter((t) => t.crowd)];
    r.truth += objects.filter((t) => !t.crowd).length;
    const sorted = descendingScores(detections.map((d) => d.score)).map((i) => detections[i]);
    const ious = sorted.map((d) => objects.map((t) => boxIou(d.box, t.box, t.crowd === true)));
    const taken = COCO_IOU_THRESHOLDS.map(() => new Uint8Array(objects.length));
    for (let d = 0; d < Math.min(sorted.length, this.maxDetections); d++) {
      r.scores.push(sorted[d].score);
      COCO_IOU_THRESHOLDS.forEach((threshold, t) => {
        let best = Math.min(1 - 1e-10, threshold);
        let match = -1;
        for (let g = 0; g < objects.length; g++) {
          const crowd = objects[g].crowd === true;
          if (taken[t][g] && !crowd) continue;
          // a match to a real object stands: crowds come after every real object
          if (match > -1 && !objects[match].crowd && crowd) break;
          if (ious[d][g] < best) continue;
          best = ious[d][g];
          match = g;
        }
        if (match > -1) taken[t][match] = 1;
        r.outcomes.push(match === -1 ? FALSE_POSITIVE : objects[match].crowd ? IGNORED : TRUE_POSITIVE);
      });
    }
    const vocTaken = new Uint8Array(objects.length);
    for (const d of sorted) {
      let best = -Infinity;
      let match = -1;
      objects.forEach((t, g) => {
        const overlap = boxIou(d.box, t.box, false);
        if (overlap > best) [best, match] = [overlap, g];
      });
      r.vocScores.push(d.score);
      if (match === -1 || !(best > 0.5)) r.vocOutcomes.push(FALSE_POSITIVE);
      else if (objects[match].crowd) r.vocOutcomes.push(IGNORED);
      else {
        r.vocOutcomes.push(vocTaken[match] ? FALSE_POSITIVE : TRUE_POSITIVE);
        vocTaken[match] = 1;
      }
    }
  }
}

/** Evaluates a whole set at once: one entry per image. */
export function evaluateDetections(images: ReadonlyArray<{ truth: readonly TruthObject[]; detections: readonly ScoredObject[] }>, options: DetectionMetricsOptions = {}): DetectionEvaluation {
  const metrics = new DetectionMetrics(options);
  for (const image of images) metrics.add(image.truth, image.detections);
  return metrics.result();
}

/** Indices by descending score, ties in their given order (numpy's mergesort of −score). */
function descendingScores(scores: readonly number[]): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
}

/**
 * IoU of corner boxes as pycocotools' bbox IoU: a box of no area overlaps nothing; against a crowd, the
 * intersection over the detection's own area.
 */
function boxIou(detection: Readonly<Box>, truth: Readonly<Box>, crowd: boolean): number {
  const height = Math.min(detection[2], truth[2]) - Math.max(detection[0], truth[0]);
  const width = Math.min(detection[3], truth[3]) - Math.max(detection[1], truth[1]);
  if (height <= 0 || width <= 0) return 0;
  const intersection = height * width;
  const area = (b: Readonly<Box>): number => (b[2] - b[0]) * (b[3] - b[1]);
  return intersection / (crowd ? area(detection) : area(detection) + area(truth) - intersection);
}

/** pycocotools' accumulate for one class and threshold: precision made monotone, read at 101 recall points, averaged. */
function interpolatedPrecision(outcomes: readonly number[], truth: number): number {
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const outcome of outcomes) {
    if (outcome === TRUE_POSITIVE) tp++;
    else if (outcome === FALSE_POSITIVE) fp++;
    recall.push(tp / truth);
    precision.push(tp / (fp + tp + EPSILON));
  }
  for (let i = precision.length - 1; i > 0; i--) if (precision[i] > precision[i - 1]) precision[i - 1] = precision[i];
  let sum = 0;
  let at = 0;
  for (const point of RECALL_POINTS) {
    while (at < recall.length && recall[at] < point) at++; // numpy's searchsorted(side='left')
    if (at === recall.length) break;
    sum += precision[at];
  }
  return sum / RECALL_POINTS.length;
}

/** The VOC devkit's voc_ap (VOC2010+): the area under precision made monotone, over every recall step. */
function vocAveragePrecision(outcomes: readonly number[], truth: number): number {
  const recall = [0];
  const precision = [0];
  let tp = 0;
  let fp = 0;
  for (const outcome of outcomes) {
    if (outcome === IGNORED) continue;
    if (outcome === TRUE_POSITIVE) tp++;
    else fp++;
    recall.push(tp / truth);
    precision.push(tp / Math.max(tp + fp, EPSILON));
  }
  recall.push(1);
  precision.push(0);
  for (let i = precision.length - 1; i > 0; i--) precision[i - 1] = Math.max(precision[i - 1], precision[i]);
  let ap = 0;
  for (let i = 0; i + 1 < recall.length; i++) if (recall[i + 1] !== recall[i]) ap += (recall[i + 1] - recall[i]) * precision[i + 1];
  return ap;
}

/** A detector to evaluate: its input, its head, and something that runs it (a Model, a WasmEngine). */
export interface Detector {
  /** Per-sample input shape [height, width, channels]. */
  inputShape: readonly number[];
  head: DetectionHead;
  predictOutputs(x: Tensor): Record<string, Tensor>;
}

/** Post-processing for evaluation (TF Object Detection API's eval settings): every score ≥ 0.01, NMS at IoU 0.6, 100 per class and image. */
export const EVALUATION_POSTPROCESS: Readonly<PostprocessOptions> = Object.freeze({ scoreThreshold: 0.01, iouThreshold: 0.6, maxPerClass: 100, maxDetections: 100, classAgnostic: false, topK: Infinity });

export interface DetectorEvaluationOptions {
  /** Images per run (default 16). */
  batchSize?: number;
  /** How images become inputs, as `detect` fits them: `fit` (stretch, letterbox at `align`, pad) and `pixels` (default −1..1). */
  preprocessing?: PreprocessOptions;
  /** Over the head's NMS IoU (its makers' `defaults`) over EVALUATION_POSTPROCESS. */
  postprocess?: Partial<PostprocessOptions>;
  /** Called after each batch with the images done so far. */
  onBatch?: (images: number) => void;
}

/**
 * Runs `detector` over a COCO split batch by batch, its images fitted as `detect` fits them (the same batch and
 * mapping code), and evaluates its detections, mapped back to each image's pixels, against the annotations (COCO
 * AP by pycocotools' rules, VOC AP50), per category's class slot. An image whose size is not the one the
 * annotations give is a ShapeError naming the file and the image id.
 */
export async function evaluateDetector(detector: Detector, data: CocoData, options: DetectorEvaluationOptions = {}): Promise<DetectionEvaluation> {
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`evaluateDetector: batchSize must be a positive integer, got ${batchSize}`);
  // an evaluation keeps every score ≥ 0.01 whatever the detector's own threshold, but suppresses as its makers do
  const iouThreshold = detector.head.defaults?.iouThreshold ?? EVALUATION_POSTPROCESS.iouThreshold;
  const post = { ...EVALUATION_POSTPROCESS, iouThreshold, ...options.postprocess };
  const metrics = new DetectionMetrics({ classes: data.categories.map((c) => c.class), labels: data.classNames, maxDetections: post.maxDetections });
  for (let start = 0; start < data.images.length; start += batchSize) {
    const images = data.images.slice(start, start + batchSize);
    const files: Array<{ source: string; bytes: Uint8Array }> = [];
    for (const image of images) files.push(await data.read(image));
    const batch = detectorBatch(files.map(({ source, bytes }) => ({ bytes, name: source })), detector.inputShape, options.preprocessing ?? {});
    batch.frames.forEach((frame, n) => {
      const image = images[n];
      if (frame.width !== image.width || frame.height !== image.height) throw new ShapeError(`${files[n].source} is ${frame.width}×${frame.height} but ${data.source} says image ${image.id} is ${image.width}×${image.height}: its boxes would not fit`);
    });
    const { scores, boxes } = headOutputs(detector.predictOutputs(batch.tensor), detector.head, data);
    const detections = postprocess(scores, boxes, detector.head, post);
    images.forEach((image, n) => metrics.add(image.objects, detections[n].map((d) => ({ ...d, box: batch.frames[n].toSource(d.box) }))));
    options.onBatch?.(start + images.length);
  }
  return metrics.result();
}

/** The head's two outputs; every category's class slot must be one the detector scores. */
function headOutputs(outputs: Record<string, Tensor>, head: DetectionHead, data: CocoData): { scores: Tensor; boxes: Tensor } {
  const scores = outputs[head.outputs.scores];
  const boxes = outputs[head.outputs.boxes];
  if (!scores || !boxes) throw new ConfigError(`the detector's head reads outputs ${head.outputs.scores} and ${head.outputs.boxes}, but the model's outputs are ${Object.keys(outputs).join(', ')}`);
  const slots = scores.shape[scores.rank - 1];
  const first = head.background ? 1 : 0;
  const outside = data.categories.find((c) => c.class < first || c.class >= slots);
  if (outside) {
    throw new ConfigError(`${data.source}: category ${outside.id} (${outside.name}) maps to class ${outside.class}, but the detector scores classes ${first}..${slots - 1}: map the categories to the model's classes`);
  }
  return { scores, boxes };
}
