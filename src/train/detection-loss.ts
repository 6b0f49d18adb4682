// The SSD loss (TF Object Detection API's SSD meta-architecture): smooth-L1 on matched anchors' box codes plus softmax
// or sigmoid classification with 3:1 hard negative mining, normalised by the matches, with its gradient w.r.t. both outputs.

import { ConfigError, ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { DetectionTargets } from './detection-targets.js';
import { logSumExpAt } from './loss.js';

export interface DetectionLossOptions {
  /** Softmax cross-entropy over the K + 1 slots (torchvision's SSD), or a binary cross-entropy per slot (TF's SSDLite, the default). */
  classification?: 'softmax' | 'sigmoid';
  /** Hard negative mining keeps at most this many negatives per positive, the worst by classification loss (3). */
  negativesPerPositive?: number;
  /** … and at least this many per image, so that an image without objects still teaches the background (3, TF's SSDLite). */
  minNegatives?: number;
  /** Weight of the box term against the classification term (1). */
  boxWeight?: number;
}

export interface DetectionLossResult {
  /** (classification + boxWeight·box) / max(1, matches): TF's `normalize_loss_by_num_matches`. */
  loss: number;
  /** The two terms of `loss`, each already normalised. */
  classLoss: number;
  boxLoss: number;
  /** dLoss/dScores [N, A, K + 1] and dLoss/dBoxes [N, A, 4]. */
  scores: Tensor;
  boxes: Tensor;
  /** Anchors matched to a box, over the batch. */
  matches: number;
  /** Matched anchors whose highest score is their box's class. */
  correct: number;
}

/** Smooth L1 with β = 1 (TF's Huber loss with δ = 1): ½d² where |d| < 1, |d| − ½ elsewhere. */
export function smoothL1(d: number): number {
  const a = Math.abs(d);
  return a < 1 ? 0.5 * d * d : a - 0.5;
}

const smoothL1Gradient = (d: number): number => (Math.abs(d) < 1 ? d : Math.sign(d));

/** softplus(z) = log(1 + eᶻ), without overflow. */
const softplus = (z: number): number => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** One anchor's classification loss against slot `target`, and (into `gradient` at `at`, when given) its gradient. */
type AnchorLoss = (z: Float32Array, at: number, slots: number, target: number, gradient?: Float64Array) => number;

/** −log softmax(z)[target]; gradient softmax(z) − one-hot(target). */
const softmaxLoss: AnchorLoss = (z, at, slots, target, gradient) => {
  const lse = logSumExpAt(z, at, slots);
  if (gradient) for (let k = 0; k < slots; k++) gradient[at + k] = Math.exp(z[at + k] - lse) - (k === target ? 1 : 0);
  return lse - z[at + target];
};

/** Σ_k BCE(σ(z_k), [k = target]) = Σ_k softplus(z_k) − z_target; gradient σ(z) − one-hot(target). */
const sigmoidLoss: AnchorLoss = (z, at, slots, target, gradient) => {
  let loss = 0;
  for (let k = 0; k < slots; k++) {
    loss += softplus(z[at + k]) - (k === target ? z[at + k] : 0);
    if (gradient) gradient[at + k] = sigmoid(z[at + k]) - (k === target ? 1 : 0);
  }
  return loss;
};

function checkOptions(options: DetectionLossOptions): Required<DetectionLossOptions> {
  const resolved = { classification: options.classification ?? 'sigmoid', negativesPerPositive: options.negativesPerPositive ?? 3, minNegatives: options.minNegatives ?? 3, boxWeight: options.boxWeight ?? 1 };
  if (resolved.classification !== 'softmax' && resolved.classification !== 'sigmoid') throw new ConfigError(`detection loss: classification must be 'softmax' or 'sigmoid', got ${JSON.stringify(resolved.classification)}`);
  if (!(resolved.negativesPerPositive >= 0)) throw new ConfigError(`detection loss: negativesPerPositive must be ≥ 0, got ${resolved.negativesPerPositive}`);
  if (!(Number.isInteger(resolved.minNegatives) && resolved.minNegatives >= 0)) throw new ConfigError(`detection loss: minNegatives must be an integer ≥ 0, got ${resolved.minNegatives}`);
  if (!(resolved.boxWeight >= 0)) throw new ConfigError(`detection loss: boxWeight must be ≥ 0, got ${resolved.boxWeight}`);
  return resolved;
}

/**
 * The SSD loss of a batch: `scores` [N, A, K + 1] (slot 0 background) and box codes `boxes` [N, A, 4] against one
 * DetectionTargets per image. Box term: Σ smooth-L1 over the 4 codes of every matched anchor. Classification term:
 * every matched anchor, plus, per image, the hard negatives — the background anchors (not ignored ones) with the
 * highest classification loss, max(minNegatives, ⌊negativesPerPositive·positives⌋) of them (ties: the lower anchor
 * first). Both sums over the batch are divided by max(1, matches over the batch). Mining chooses anchors without a
 * gradient (as TF's and torchvision's do); TF's miner also suppresses overlapping negatives by NMS, this one does not.
 */
export function detectionLoss(scores: Tensor, boxes: Tensor, targets: readonly DetectionTargets[], options: DetectionLossOptions = {}): DetectionLossResult {
  const { classification, negativesPerPositive, minNegatives, boxWeight } = checkOptions(options);
  if (scores.rank !== 3) throw new ShapeError(`detectionLoss: scores must be [N, anchors, slots], got ${formatShape(scores.shape)}`);
  const [n, anchors, slots] = scores.shape;
  if (boxes.rank !== 3 || boxes.shape[0] !== n || boxes.shape[1] !== anchors || boxes.shape[2] !== 4) {
    throw new ShapeError(`detectionLoss: boxes must be [${n}, ${anchors}, 4] beside scores ${formatShape(scores.shape)}, got ${formatShape(boxes.shape)}`);
  }
  if (targets.length !== n) throw new ShapeError(`detectionLoss: ${targets.length} images' targets for a batch of ${n}`);
  const anchorLoss = classification === 'softmax' ? softmaxLoss : sigmoidLoss;
  const z = scores.data;
  const dScores = new Float64Array(z.length);
  const dBoxes = new Float64Array(boxes.data.length);
  const perAnchor = new Float64Array(anchors);
  let [classSum, boxSum, matches, correct] = [0, 0, 0, 0];
  targets.forEach((target, image) => {
    if (target.classes.length !== anchors || target.boxCodes.length !== anchors * 4) {
      throw new ShapeError(`detectionLoss: image ${image}'s targets cover ${target.classes.length} anchors, the outputs ${anchors}`);
    }
    const negatives: number[] = [];
    let positives = 0;
    for (let a = 0; a < anchors; a++) {
      const label = target.classes[a];
      if (label < 0) continue;
      if (label >= slots) throw new ShapeError(`detectionLoss: image ${image}, anchor ${a} learns class ${label}, the scores have ${slots} slots`);
      const at = (image * anchors + a) * slots;
      if (label === 0) {
        perAnchor[a] = anchorLoss(z, at, slots, 0);
        negatives.push(a);
        continue;
      }
      positives++;
      classSum += anchorLoss(z, at, slots, label, dScores);
      if (argmax(z, at, slots) === label) correct++;
      for (let c = 0; c < 4; c++) {
        const i = (image * anchors + a) * 4 + c;
        const d = boxes.data[i] - target.boxCodes[a * 4 + c];
        boxSum += smoothL1(d);
        dBoxes[i] = boxWeight * smoothL1Gradient(d);
      }
    }
    negatives.sort((p, q) => perAnchor[q] - perAnchor[p] || p - q);
    const keep = Math.min(negatives.length, Math.max(minNegatives, Math.floor(negativesPerPositive * positives)));
    for (const a of negatives.slice(0, keep)) classSum += anchorLoss(z, (image * anchors + a) * slots, slots, 0, dScores);
    matches += positives;
  });
  const normaliser = Math.max(1, matches);
  const scale = (g: Float64Array, shape: readonly number[]): Tensor => new Tensor(shape, Float32Array.from(g, (v) => v / normaliser));
  return {
    loss: (classSum + boxWeight * boxSum) / normaliser,
    classLoss: classSum / normaliser,
    boxLoss: boxSum / normaliser,
    scores: scale(dScores, scores.shape),
    boxes: scale(dBoxes, boxes.shape),
    matches,
    correct,
  };
}

function argmax(z: Float32Array, at: number, slots: number): number {
  let best = 0;
  for (let k = 1; k < slots; k++) if (z[at + k] > z[at + best]) best = k;
  return best;
}
