// The int8 number formats: affine per-tensor activations (real = scale·(q − zeroPoint), q in [−128, 127], 0 exact)
// and symmetric per-output-channel weights (q in [−127, 127]), as in TFLite's and ONNX Runtime's int8 schemes.

import { ConfigError } from '../errors.js';

export const INT8_MIN = -128;
export const INT8_MAX = 127;
/** Weights use ±127 so that −w is always representable (TFLite's rule). */
export const WEIGHT_MAX = 127;

/** How an int8 tensor maps to reals: real = scale·(q − zeroPoint). */
export interface QParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** Round half to even, the rounding ONNX's QuantizeLinear and QLinearConv specify. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function saturate(q: number, lo = INT8_MIN, hi = INT8_MAX): number {
  return q < lo ? lo : q > hi ? hi : q;
}

/**
 * Affine parameters covering [min, max], widened to contain 0 so that zero padding and ReLU's floor are exact.
 * An all-zero range gets scale 1. The zero point is rounded to an integer (the range shifts by under half a step).
 */
export function affineParams(min: number, max: number, what = 'tensor'): QParams {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new ConfigError(`int8 range of ${what} is [${min}, ${max}]: calibration saw no finite values (NaN or ±Infinity in the model's activations?)`);
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / (INT8_MAX - INT8_MIN);
  return { scale, zeroPoint: saturate(roundHalfEven(INT8_MIN - lo / scale)) };
}

export function quantize(real: Float32Array, p: QParams): Int8Array {
  const out = new Int8Array(real.length);
  const inv = 1 / p.scale;
  for (let i = 0; i < real.length; i++) out[i] = saturate(roundHalfEven(real[i] * inv) + p.zeroPoint);
  return out;
}

export function dequantize(q: Int8Array, p: QParams): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = p.scale * (q[i] - p.zeroPoint);
  return out;
}

/** A per-output-channel symmetric weight tensor: real w[…, c] = scales[c]·q[…, c]; the last axis is the channel. */
export interface QuantizedWeights {
  q: Int8Array;
  scales: Float32Array;
}

/** Quantizes a kernel whose last axis has `channels` entries (HWIO convs, [in, out] dense), channel by channel. */
export function quantizeWeights(w: Float32Array, channels: number): QuantizedWeights {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) maxAbs[i % channels] = Math.max(maxAbs[i % channels], Math.abs(w[i]));
  // an all-zero channel keeps scale 1: its q are 0 and any scale represents it exactly
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / WEIGHT_MAX : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = saturate(roundHalfEven(w[i] / scales[i % channels]), -WEIGHT_MAX, WEIGHT_MAX);
  return { q, scales };
}

/** The int8 interval a fused clamp [lo, hi] (ReLU, ReLU6) maps to under `p`, within [−128, 127]. */
export function clampRange(clamp: readonly [number, number] | null, p: QParams): [number, number] {
  if (clamp === null) return [INT8_MIN, INT8_MAX];
  const lo = clamp[0] === -Infinity ? INT8_MIN : saturate(p.zeroPoint + roundHalfEven(clamp[0] / p.scale));
  const hi = clamp[1] === Infinity ? INT8_MAX : saturate(p.zeroPoint + roundHalfEven(clamp[1] / p.scale));
  return [lo, hi];
}
