// Greedy non-maximum suppression on typed arrays, TF's rules: candidates by descending score (ties: lower
// index first), a candidate is dropped when its IoU with a kept box is > the threshold; no allocation per pair.

import { ConfigError, ShapeError } from '../errors.js';

/**
 * Reusable buffers for NMS over up to `capacity` boxes: candidate indices with their scores (a binary heap
 * while selecting, so only as much of the order as NMS consumes is ever sorted) and the kept indices.
 */
export class NmsWorkspace {
  candidates = new Int32Array(0);
  scores = new Float64Array(0);
  kept = new Int32Array(0);
  /** Candidates added since `reset`. */
  count = 0;

  /** Empties the candidate list, growing the buffers to hold `capacity` boxes. */
  reset(capacity: number): void {
    if (this.candidates.length < capacity) {
      this.candidates = new Int32Array(capacity);
      this.scores = new Float64Array(capacity);
      this.kept = new Int32Array(capacity);
    }
    this.count = 0;
  }

  add(index: number, score: number): void {
    this.candidates[this.count] = index;
    this.scores[this.count] = score;
    this.count++;
  }
}

/** Corner boxes [ymin, xmin, ymax, xmax] per row and their areas (0 for an empty or inverted box). */
export interface BoxSet {
  boxes: ArrayLike<number>;
  areas: Float64Array;
}

/** Areas of corner rows; TF's IoU treats boxes of area ≤ 0 as overlapping nothing. */
export function boxAreas(boxes: ArrayLike<number>, out = new Float64Array(boxes.length / 4)): Float64Array {
  for (let i = 0, b = 0; b < boxes.length; i++, b += 4) out[i] = Math.max(0, (boxes[b + 2] - boxes[b]) * (boxes[b + 3] - boxes[b + 1]));
  return out;
}

/** IoU of rows i and j; 0 when either box has no area (TF's `IOU`). */
export function iou(set: BoxSet, i: number, j: number): number {
  const { boxes, areas } = set;
  const areaI = areas[i];
  const areaJ = areas[j];
  if (areaI <= 0 || areaJ <= 0) return 0;
  const a = i * 4;
  const b = j * 4;
  const height = Math.min(boxes[a + 2], boxes[b + 2]) - Math.max(boxes[a], boxes[b]);
  const width = Math.min(boxes[a + 3], boxes[b + 3]) - Math.max(boxes[a + 1], boxes[b + 1]);
  if (height <= 0 || width <= 0) return 0;
  const intersection = height * width;
  return intersection / (areaI + areaJ - intersection);
}

/** Heap order: a higher score first, then the lower box index (numpy's stable argsort of −score). */
function before(ws: NmsWorkspace, a: number, b: number): boolean {
  const sa = ws.scores[a];
  const sb = ws.scores[b];
  return sa > sb || (sa === sb && ws.candidates[a] < ws.candidates[b]);
}

function swap(ws: NmsWorkspace, a: number, b: number): void {
  const index = ws.candidates[a];
  ws.candidates[a] = ws.candidates[b];
  ws.candidates[b] = index;
  const score = ws.scores[a];
  ws.scores[a] = ws.scores[b];
  ws.scores[b] = score;
}

function siftDown(ws: NmsWorkspace, at: number, size: number): void {
  for (;;) {
    const left = 2 * at + 1;
    if (left >= size) return;
    const right = left + 1;
    const best = right < size && before(ws, right, left) ? right : left;
    if (!before(ws, best, at)) return;
    swap(ws, at, best);
    at = best;
  }
}

/**
 * Greedy NMS over the workspace's candidates: takes them best first (at most `topK`), keeps one unless its IoU
 * with a kept box is > `iouThreshold`, and stops at `maxOutput` kept. Returns how many were kept; their
 * indices are `ws.kept[0..n)`, best first (the heap reorders `ws.candidates` and `ws.scores`).
 */
export function greedyNms(ws: NmsWorkspace, set: BoxSet, iouThreshold: number, maxOutput: number, topK = Infinity): number {
  let size = ws.count;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(ws, i, size);
  let keptCount = 0;
  for (let taken = 0; size > 0 && taken < topK && keptCount < maxOutput; taken++) {
    const candidate = ws.candidates[0];
    swap(ws, 0, --size);
    siftDown(ws, 0, size);
    let suppressed = false;
    for (let k = 0; k < keptCount; k++) {
      if (iou(set, candidate, ws.kept[k]) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) ws.kept[keptCount++] = candidate;
  }
  return keptCount;
}

/** Options of `nms` (tf.image.nonMaxSuppression's). */
export interface NmsOptions {
  /** Suppress a box whose IoU with a kept one is > this, in [0, 1]. */
  iouThreshold: number;
  /** Only boxes scoring ≥ this take part (−∞ by default). */
  scoreThreshold?: number;
  /** At most this many kept (all by default). */
  maxOutput?: number;
  /** Only the best `topK` boxes enter NMS (all by default). */
  topK?: number;
}

/** Checks a threshold in [0, 1] and a cap ≥ 0 (an integer or ∞), naming the option in the error. */
export function checkThreshold(value: number, name: string, what: string): void {
  if (!(value >= 0 && value <= 1)) throw new ConfigError(`${what}: ${name} must be in [0, 1], got ${value}`);
}

export function checkCap(value: number, name: string, what: string): void {
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Infinity)) throw new ConfigError(`${what}: ${name} must be a non-negative integer, got ${value}`);
}

/**
 * Greedy NMS over corner boxes [n·4] (ymin, xmin, ymax, xmax) with scores [n]: the kept indices, best first.
 * Like `tf.image.nonMaxSuppression` (IoU > threshold suppresses; ties keep the lower index first).
 */
export function nms(boxes: ArrayLike<number>, scores: ArrayLike<number>, options: NmsOptions): Int32Array {
  if (boxes.length !== scores.length * 4) throw new ShapeError(`nms: ${boxes.length} box values for ${scores.length} scores; expected ${scores.length * 4}`);
  const { iouThreshold, scoreThreshold = -Infinity, maxOutput = Infinity, topK = Infinity } = options;
  checkThreshold(iouThreshold, 'iouThreshold', 'nms');
  checkCap(maxOutput, 'maxOutput', 'nms');
  checkCap(topK, 'topK', 'nms');
  const ws = new NmsWorkspace();
  ws.reset(scores.length);
  for (let i = 0; i < scores.length; i++) if (scores[i] >= scoreThreshold) ws.add(i, scores[i]);
  const kept = greedyNms(ws, { boxes, areas: boxAreas(boxes) }, iouThreshold, maxOutput, topK);
  return ws.kept.slice(0, kept);
}
