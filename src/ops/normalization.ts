// Reference BatchNorm over the last (channel) axis: y = (x − mean) / √(var + ε) · γ + β with moving
// statistics (inference) or batch statistics (training), the running-statistics update, and the backward.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

export interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** Per-channel scale and shift equal to inference BatchNorm: y = x·scale + shift. */
export function batchNormAffine(p: BatchNormParams): { scale: Float32Array; shift: Float32Array } {
  const c = p.gamma.length;
  for (const [name, v] of [['beta', p.beta], ['moving mean', p.mean], ['moving variance', p.variance]] as const) {
    if (v.length !== c) throw new ShapeError(`batchNorm: ${name} has ${v.length} values, gamma has ${c}`);
  }
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = p.gamma[i] / Math.sqrt(p.variance[i] + p.epsilon);
    scale[i] = s;
    shift[i] = p.beta[i] - p.mean[i] * s;
  }
  return { scale, shift };
}

export function batchNorm(x: Tensor, p: BatchNormParams): Tensor {
  const c = x.shape[x.shape.length - 1];
  if (x.rank < 2 || c !== p.gamma.length) {
    throw new ShapeError(`batchNorm: input ${formatShape(x.shape)} has ${c} channels on its last axis, parameters have ${p.gamma.length}`);
  }
  const out = new Float32Array(x.size);
  const xd = x.data;
  // normalise in float64 exactly as written, rather than through a rounded float32 scale
  const invStd = new Float64Array(c);
  for (let i = 0; i < c; i++) invStd[i] = 1 / Math.sqrt(p.variance[i] + p.epsilon);
  for (let o = 0; o < out.length; o += c) {
    for (let i = 0; i < c; i++) out[o + i] = (xd[o + i] - p.mean[i]) * invStd[i] * p.gamma[i] + p.beta[i];
  }
  return new Tensor(x.shape, out);
}

/** Per-channel statistics of a training-mode BatchNorm forward, kept for its backward. */
export interface BatchStatistics {
  mean: Float32Array;
  /** Biased variance (divided by the count), which the forward normalises with. */
  variance: Float32Array;
  /** 1 / √(variance + ε). */
  invStd: Float32Array;
  /** Values per channel: N·H·W. */
  count: number;
}

/**
 * Training-mode BatchNorm: normalises with the batch mean and the biased batch variance (two
 * passes, float64 sums), y = (x − mean)·invStd·γ + β. Moving statistics are not touched here.
 */
export function batchNormTrain(x: Tensor, gamma: Float32Array, beta: Float32Array, epsilon: number): { y: Tensor; stats: BatchStatistics } {
  const c = x.shape[x.shape.length - 1];
  if (x.rank < 2 || c !== gamma.length || beta.length !== c) {
    throw new ShapeError(`batchNormTrain: input ${formatShape(x.shape)} has ${c} channels on its last axis, γ has ${gamma.length} and β ${beta.length}`);
  }
  const count = x.size / c;
  if (count < 2) throw new ShapeError(`batchNormTrain: batch statistics need more than one value per channel, input ${formatShape(x.shape)} has ${count}`);
  const xd = x.data;
  const sum = new Float64Array(c);
  for (let o = 0; o < xd.length; o += c) for (let i = 0; i < c; i++) sum[i] += xd[o + i];
  const mean = new Float32Array(c);
  for (let i = 0; i < c; i++) mean[i] = sum[i] / count;
  sum.fill(0);
  for (let o = 0; o < xd.length; o += c) {
    for (let i = 0; i < c; i++) {
      const d = xd[o + i] - mean[i];
      sum[i] += d * d;
    }
  }
  const variance = new Float32Array(c);
  const invStd = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    variance[i] = sum[i] / count;
    invStd[i] = 1 / Math.sqrt(sum[i] / count + epsilon);
  }
  const out = new Float32Array(x.size);
  for (let o = 0; o < out.length; o += c) {
    for (let i = 0; i < c; i++) out[o + i] = (xd[o + i] - mean[i]) * invStd[i] * gamma[i] + beta[i];
  }
  return { y: new Tensor(x.shape, out), stats: { mean, variance, invStd, count } };
}

/**
 * Moves the running statistics toward the batch's, in place, in the Keras convention
 * (`momentum` is the weight of the old value; torch's 0.1 is 0.9 here). The running variance
 * takes the unbiased batch variance, variance·n/(n − 1), as torch and Keras do.
 */
export function updateMovingStatistics(movingMean: Float32Array, movingVariance: Float32Array, stats: BatchStatistics, momentum: number): void {
  const unbias = stats.count / (stats.count - 1);
  for (let i = 0; i < movingMean.length; i++) {
    movingMean[i] = momentum * movingMean[i] + (1 - momentum) * stats.mean[i];
    movingVariance[i] = momentum * movingVariance[i] + (1 - momentum) * stats.variance[i] * unbias;
  }
}

/**
 * BatchNorm backward from the input x and the statistics it was normalised with (x̂ = (x − mean)·invStd):
 * dβ = Σ dy, dγ = Σ dy·x̂, and dx = γ·invStd·(dy − dβ/n − x̂·dγ/n) with batch statistics (`batchStatistics`),
 * or dx = γ·invStd·dy when the statistics were fixed (inference mode: moving mean and variance).
 */
export function batchNormBackward(
  dy: Tensor,
  x: Tensor,
  gamma: Float32Array,
  mean: Float32Array,
  invStd: Float32Array,
  batchStatistics: boolean,
): { dx: Tensor; dGamma: Tensor; dBeta: Tensor } {
  const c = gamma.length;
  if (!sameShape(dy.shape, x.shape) || x.shape[x.rank - 1] !== c || mean.length !== c || invStd.length !== c) {
    throw new ShapeError(`batchNormBackward: gradient ${formatShape(dy.shape)}, input ${formatShape(x.shape)} and ${c} channels of parameters do not fit`);
  }
  const g = dy.data;
  const xd = x.data;
  const sumDy = new Float64Array(c);
  const sumDyXhat = new Float64Array(c);
  for (let o = 0; o < g.length; o += c) {
    for (let i = 0; i < c; i++) {
      const d = g[o + i];
      sumDy[i] += d;
      sumDyXhat[i] += d * (xd[o + i] - mean[i]) * invStd[i];
    }
  }
  const count = x.size / c;
  const scale = new Float64Array(c);
  const meanDy = new Float64Array(c);
  const meanDyXhat = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma[i] * invStd[i];
    if (batchStatistics) {
      meanDy[i] = sumDy[i] / count;
      meanDyXhat[i] = sumDyXhat[i] / count;
    }
  }
  const dx = new Float32Array(x.size);
  for (let o = 0; o < dx.length; o += c) {
    for (let i = 0; i < c; i++) {
      const xhat = (xd[o + i] - mean[i]) * invStd[i];
      dx[o + i] = scale[i] * (g[o + i] - meanDy[i] - xhat * meanDyXhat[i]);
    }
  }
  return {
    dx: new Tensor(x.shape, dx),
    dGamma: new Tensor([c], Float32Array.from(sumDyXhat)),
    dBeta: new Tensor([c], Float32Array.from(sumDy)),
  };
}
