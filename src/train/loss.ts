// Losses for training: softmax cross-entropy over logits with optional label smoothing (torch's
// `CrossEntropyLoss(label_smoothing=ε)`), averaged over the batch, with its gradient.

import { ConfigError, ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

export interface CrossEntropyOptions {
  /** ε in [0, 1): the target is (1 − ε)·one-hot + ε/K. Default 0. */
  labelSmoothing?: number;
}

export interface LossResult {
  /** Mean over the batch. */
  loss: number;
  /** dLoss/dLogits, [N, K]. */
  gradient: Tensor;
}

/** log Σ_k exp(z[offset + k]) over `k` values, shifted by their maximum so that large logits do not overflow. */
export function logSumExpAt(z: ArrayLike<number>, offset: number, k: number): number {
  let max = -Infinity;
  for (let i = 0; i < k; i++) max = Math.max(max, z[offset + i]);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += Math.exp(z[offset + i] - max);
  return max + Math.log(sum);
}

/**
 * loss = mean over the batch of Σ_k −q_k·log softmax(z)_k, with q = (1 − ε)·one-hot(label) + ε/K,
 * computed as logsumexp(z) − Σ_k q_k·z_k in float64; the gradient is (softmax(z) − q)/N.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: ArrayLike<number>, options: CrossEntropyOptions = {}): LossResult {
  if (logits.rank !== 2) throw new ShapeError(`softmaxCrossEntropy: logits must be [N, classes], got ${formatShape(logits.shape)}`);
  const [n, k] = logits.shape;
  if (labels.length !== n) throw new ShapeError(`softmaxCrossEntropy: ${labels.length} labels for a batch of ${n}`);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new ConfigError(`softmaxCrossEntropy: labelSmoothing must be in [0, 1), got ${smoothing}`);
  const z = logits.data;
  const gradient = new Float32Array(n * k);
  const offTarget = smoothing / k;
  let total = 0;
  for (let b = 0; b < n; b++) {
    const label = labels[b];
    if (!Number.isInteger(label) || label < 0 || label >= k) throw new ConfigError(`softmaxCrossEntropy: label ${label} of sample ${b} is not a class index in [0, ${k})`);
    const o = b * k;
    const logSumExp = logSumExpAt(z, o, k);
    let targetDotLogits = 0;
    for (let i = 0; i < k; i++) {
      const q = offTarget + (i === label ? 1 - smoothing : 0);
      targetDotLogits += q * z[o + i];
      gradient[o + i] = (Math.exp(z[o + i] - logSumExp) - q) / n;
    }
    total += logSumExp - targetDotLogits;
  }
  return { loss: total / n, gradient: new Tensor([n, k], gradient) };
}
