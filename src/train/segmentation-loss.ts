// The segmentation loss: per-pixel softmax cross-entropy over [N, H, W, K] logits with an ignore label and
// optional class weights, as torch's `CrossEntropyLoss(weight, ignore_index=255)` with mean reduction, and its gradient.

import { IGNORE_LABEL } from '../data/label-maps.js';
import { ConfigError, ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { LossResult } from './loss.js';
import { logSumExpAt } from './loss.js';

export interface SegmentationLossOptions {
  /** One weight per class (torch's `weight`): a pixel of class c counts w[c] times, in the loss and in the mean's divisor. */
  classWeights?: ArrayLike<number>;
  /** Pixels with this label count for nothing (default 255, VOC's "void"). */
  ignoreLabel?: number;
}

export interface SegmentationLossResult extends LossResult {
  /** The weighted mean over counted pixels; 0 when no pixel counts (torch gives NaN there). */
  loss: number;
  /** dLoss/dLogits, [N, H, W, K]; zero at ignored pixels. */
  gradient: Tensor;
  /** Pixels that counted (not the ignore label). */
  pixels: number;
}

/** Checks class weights against the class count: K finite, non-negative numbers. */
export function checkClassWeights(weights: ArrayLike<number>, classes: number, what = 'class weights'): void {
  if (weights.length !== classes) throw new ConfigError(`${what}: ${weights.length} weights for ${classes} classes; give one per class`);
  for (let c = 0; c < classes; c++) {
    if (!(Number.isFinite(weights[c]) && weights[c] >= 0)) throw new ConfigError(`${what}: the weight of class ${c} is ${weights[c]}; weights must be finite and non-negative`);
  }
}

/** Checks a label of pixel `p` of [n, h, w] masks: a class index in [0, classes) or the ignore label. */
export function checkLabel(label: number, p: number, classes: number, ignoreLabel: number, what: string, h: number, w: number): void {
  if (label === ignoreLabel || (Number.isInteger(label) && label >= 0 && label < classes)) return;
  const sample = Math.floor(p / (h * w));
  const y = Math.floor((p % (h * w)) / w);
  throw new ConfigError(`${what}: label ${label} at sample ${sample}, pixel (y ${y}, x ${p % w}) is neither a class in [0, ${classes}) nor the ignore label ${ignoreLabel}`);
}

/**
 * loss = Σ_i w[y_i]·(logsumexp(z_i) − z_i[y_i]) / Σ_i w[y_i] over the pixels i whose label y_i is not ignored (w = 1
 * without class weights); dLoss/dz_i = w[y_i]·(softmax(z_i) − one-hot(y_i)) / Σ_i w[y_i]. Float64 sums.
 */
export function segmentationCrossEntropy(logits: Tensor, labels: ArrayLike<number>, options: SegmentationLossOptions = {}): SegmentationLossResult {
  if (logits.rank !== 4) throw new ShapeError(`segmentationCrossEntropy: logits must be [N, H, W, classes], got ${formatShape(logits.shape)}`);
  const [n, h, w, k] = logits.shape;
  if (labels.length !== n * h * w) throw new ShapeError(`segmentationCrossEntropy: ${labels.length} mask labels for logits ${formatShape(logits.shape)}, which need N·H·W = ${n * h * w}`);
  const ignore = options.ignoreLabel ?? IGNORE_LABEL;
  const weights = options.classWeights;
  if (weights) checkClassWeights(weights, k);
  const z = logits.data;
  const gradient = new Float32Array(z.length);
  let total = 0;
  let weightSum = 0;
  let pixels = 0;
  for (let p = 0; p < labels.length; p++) {
    const label = labels[p];
    checkLabel(label, p, k, ignore, 'segmentationCrossEntropy', h, w);
    if (label === ignore) continue;
    const weight = weights ? weights[label] : 1;
    const o = p * k;
    const logSumExp = logSumExpAt(z, o, k);
    total += weight * (logSumExp - z[o + label]);
    weightSum += weight;
    pixels++;
    for (let c = 0; c < k; c++) gradient[o + c] = weight * (Math.exp(z[o + c] - logSumExp) - (c === label ? 1 : 0));
  }
  // the gradient was summed unnormalised so that the divisor, known only now, is applied once
  if (weightSum > 0) for (let i = 0; i < gradient.length; i++) gradient[i] /= weightSum;
  return { loss: weightSum > 0 ? total / weightSum : 0, gradient: new Tensor(logits.shape, gradient), pixels };
}
