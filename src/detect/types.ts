// The shared vocabulary of object detection: a detector's head (anchors, box coding, score conversion),
// the options of post-processing and the detections it returns. Every detection module speaks these types.

/** The four numbers of a box in normalized image coordinates, TF's order: [ymin, xmin, ymax, xmax]. */
export type Box = [ymin: number, xmin: number, ymax: number, xmax: number];

/**
 * Order of the four box codes a network predicts per anchor: TF Object Detection API and face-api predict
 * (ty, tx, th, tw) — `'yxhw'`; torchvision's SSD predicts (tx, ty, tw, th) — `'xywh'`. `scaleFactors` stays
 * in [y, x, h, w] order whatever the code order.
 */
export type BoxCodeOrder = 'yxhw' | 'xywh';

/**
 * How a detector's raw outputs become detections: everything post-processing needs besides the thresholds.
 * A detector `Model`'s `metadata.detection` is its DetectionHead.
 */
export interface DetectionHead {
  /** [A·4] as (ycenter, xcenter, h, w) per anchor, normalized to the input image; anchor i is row i of the outputs. */
  anchors: Float32Array;
  /** Faster R-CNN coder scale factors in [y, x, h, w] order: TF and torchvision use [10, 10, 5, 5]. */
  scaleFactors: [y: number, x: number, h: number, w: number];
  /**
   * Scores → probabilities: `'sigmoid'` per slot (TF SSDLite, face-api), `'softmax'` over the slots of an anchor
   * (torchvision SSD), `'identity'` for outputs that are already probabilities (graphs cut after TF's convert_scores).
   */
  scoreConversion: 'sigmoid' | 'softmax' | 'identity';
  /** True when slot 0 of the scores is background (classes are then 1..K and slot 0 is never reported). */
  background: boolean;
  /** The model's output names holding scores [N, A, slots] and box codes [N, A, 4]. */
  outputs: { scores: string; boxes: string };
  /** Order of the box codes; `'yxhw'` when absent. */
  codeOrder?: BoxCodeOrder;
  /** `'encoded'` (box codes against the anchors, the default) or `'corners'` (already decoded [ymin, xmin, ymax, xmax]). */
  boxFormat?: 'encoded' | 'corners';
  /** The thresholds and caps the detector's makers use (face-api: score 0.5, IoU 0.5): over DEFAULT_POSTPROCESS, under the caller's. */
  defaults?: Partial<Omit<PostprocessOptions, 'labels'>>;
}

/** One detected object. */
export interface Detection {
  /** The model's output slot: 1..K when slot 0 is background, else 0..K−1. */
  class: number;
  /** The class's name, when post-processing was given labels. */
  label?: string;
  /** The converted score (sigmoid / softmax probability). */
  score: number;
  /** Normalized [ymin, xmin, ymax, xmax], clipped to [0, 1] (or mapped to pixels by the letterbox helpers). */
  box: Box;
  /** Index of the anchor (row of the outputs) the detection came from. */
  anchor: number;
}

/** Thresholds and caps of post-processing (TF's `batch_non_max_suppression` knobs). */
export interface PostprocessOptions {
  /** Keep scores ≥ this, in [0, 1]. */
  scoreThreshold: number;
  /** NMS suppresses a box whose IoU with a kept box is > this, in [0, 1]. */
  iouThreshold: number;
  /** At most this many detections per class (after NMS). */
  maxPerClass: number;
  /** At most this many detections per image, the best by score. */
  maxDetections: number;
  /** One NMS over all classes, each anchor taking its best class (TF's class-agnostic NMS; both caps bound it), instead of one per class. */
  classAgnostic: boolean;
  /** At most this many candidates per class (all classes when agnostic), the best by score, enter NMS. */
  topK: number;
  /** Names of the output slots (index = `class`), to fill `Detection.label`. */
  labels?: readonly string[];
  /**
   * When boxes are clipped to [0, 1]: `'before-nms'` (TF Object Detection API, torchvision: NMS compares clipped
   * boxes; the default) or `'after-nms'` (face-api: NMS compares the decoded boxes, the kept ones are clipped).
   */
  clipBoxes?: 'before-nms' | 'after-nms';
}
