// Reference BatchNorm in inference form over the last (channel) axis:
// y = (x − mean) / √(var + ε) · γ + β, computed as one scale and shift per channel.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

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
