// Gradient clipping before the optimizer step: by global L2 norm over all gradients (PyTorch's
// clip_grad_norm_) and element-wise by value. Both scale or clamp the gradient tensors in place.

import { ConfigError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

type Gradients = Map<string, Tensor> | Iterable<Tensor>;

function tensorsOf(grads: Gradients): Iterable<Tensor> {
  return grads instanceof Map ? grads.values() : grads;
}

/** √(Σ g²) over every element of every gradient, summed in float64. */
export function globalNorm(grads: Gradients): number {
  let sum = 0;
  for (const t of tensorsOf(grads)) for (const v of t.data) sum += v * v;
  return Math.sqrt(sum);
}

/**
 * Scales all gradients by maxNorm/(norm + 1e-6) when their global norm exceeds `maxNorm`, as PyTorch does.
 * Returns the norm before clipping; a non-finite norm (an overflowed or NaN gradient) leaves the gradients
 * as they are, so the caller can see it and skip the step.
 */
export function clipGradNorm(grads: Gradients, maxNorm: number): number {
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) throw new ConfigError(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  const list = [...tensorsOf(grads)];
  const norm = globalNorm(list);
  const scale = maxNorm / (norm + 1e-6);
  if (Number.isFinite(norm) && scale < 1) for (const t of list) for (let i = 0; i < t.data.length; i++) t.data[i] *= scale;
  return norm;
}

/** Clamps every gradient element to [−clipValue, clipValue]; returns how many elements were changed. */
export function clipGradValue(grads: Gradients, clipValue: number): number {
  if (!(clipValue > 0 && Number.isFinite(clipValue))) throw new ConfigError(`clipGradValue: clipValue must be a finite number > 0, got ${clipValue}`);
  let clipped = 0;
  for (const t of tensorsOf(grads)) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      const v = Math.min(clipValue, Math.max(-clipValue, d[i]));
      if (v !== d[i]) {
        d[i] = v;
        clipped++;
      }
    }
  }
  return clipped;
}
