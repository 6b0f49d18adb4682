// TFLite's fixed-point requantization (gemmlowp's rounding): a real multiplier as a Q31 int32 and a power-of-two
// shift, applied to int32 accumulators with a saturating rounding doubling high multiply and a rounding right shift.

import { ConfigError } from '../errors.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A real multiplier m = multiplier·2^(shift − 31), multiplier in [2^30, 2^31) (or 0 for m = 0). */
export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/** TFLite's QuantizeMultiplier: m = q·2^(shift − 31) with q = round(frac·2^31), frac in [0.5, 1); m under 2^−31 becomes 0. */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (!(real >= 0) || !Number.isFinite(real)) throw new ConfigError(`requantization multiplier ${real} is not a finite non-negative number`);
  if (real === 0) return { multiplier: 0, shift: 0 };
  let shift = Math.floor(Math.log2(real)) + 1;
  // log2 may land one off near powers of two: make frac = real / 2^shift lie in [0.5, 1)
  while (real / 2 ** shift >= 1) shift++;
  while (real / 2 ** shift < 0.5) shift--;
  // std::round: half away from zero (frac is positive)
  let q = Math.round((real / 2 ** shift) * 2 ** 31);
  if (q === 2 ** 31) {
    q /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) throw new ConfigError(`requantization multiplier ${real} is beyond 2^30`);
  return { multiplier: q, shift };
}

/**
 * gemmlowp's SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^31 truncated, nudge ±2^30 (round half away from zero),
 * saturating the one overflow. Exact in doubles: b splits into 16-bit halves so that no partial product passes 2^53.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const bLo = b & 0xffff;
  const p = a * ((b - bLo) / 65536);
  // a·b = p·2^16 + a·bLo = pHi·2^31 + (pLo·2^16 + a·bLo), pLo = p mod 2^15
  const pHi = Math.floor(p / 32768);
  const pLo = p - pHi * 32768;
  const nudge = (a >= 0) === (b >= 0) || a === 0 || b === 0 ? 2 ** 30 : 1 - 2 ** 30;
  const r = pLo * 65536 + a * bLo + nudge;
  const rHi = Math.floor(r / 2 ** 31);
  const floor = pHi + rHi;
  // C++'s int64 division truncates toward zero: a negative quotient with a remainder rounds up
  return floor < 0 && r !== rHi * 2 ** 31 ? floor + 1 : floor;
}

/** gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero (exponent in [0, 31]). */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const mask = 2 ** exponent - 1;
  const remainder = (x & mask) >>> 0;
  const threshold = Math.floor(mask / 2) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** TFLite's MultiplyByQuantizedMultiplier: x·multiplier·2^(shift − 31) in int32, rounded twice as TFLite does. */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  // x·2^left wraps in int32 as in C++ (callers keep it in range: accumulators are far below 2^31 / 2^left)
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul((x * 2 ** left) | 0, multiplier), right);
}

/**
 * How int32 accumulators become int8, as TFLite's int8 kernels do it:
 * y = clamp(zeroPoint + multiplyByQuantizedMultiplier(acc, multiplier[c], shift[c]), range), one entry per output
 * channel (or one entry for all channels).
 */
export interface Requantization {
  multiplier: Int32Array;
  shift: Int32Array;
  zeroPoint: number;
  /** The fused activation's int8 interval: [−128, 127] without one. */
  range: readonly [number, number];
}

/**
 * TFLite's int8 ADD: each operand's (q − z) shifted left by `leftShift` (20) and rescaled by its multiplier (at most 1),
 * the two summed, requantized to the output and clamped.
 */
export interface AddRequantization {
  leftShift: number;
  a: { zeroPoint: number; multiplier: number; shift: number };
  b: { zeroPoint: number; multiplier: number; shift: number };
  out: { zeroPoint: number; multiplier: number; shift: number };
  range: readonly [number, number];
}

/** The requantization of real multipliers (one per channel, or one) to an output zero point and interval. */
export function requantization(multipliers: ArrayLike<number>, zeroPoint: number, range: readonly [number, number] = [-128, 127]): Requantization {
  const q = Array.from(multipliers, (m) => quantizeMultiplier(m));
  return { multiplier: Int32Array.from(q, (v) => v.multiplier), shift: Int32Array.from(q, (v) => v.shift), zeroPoint, range };
}

/** TFLite's ADD parameters for operands and output of these scales and zero points (scales as float32 values, as TFLite holds them). */
export function addRequantization(
  a: { scale: number; zeroPoint: number },
  b: { scale: number; zeroPoint: number },
  out: { scale: number; zeroPoint: number },
  range: readonly [number, number] = [-128, 127],
): AddRequantization {
  const leftShift = 20;
  const twiceMax = 2 * Math.max(a.scale, b.scale);
  const part = (m: number, zeroPoint: number): { zeroPoint: number; multiplier: number; shift: number } => ({ zeroPoint, ...quantizeMultiplier(m) });
  return {
    leftShift,
    a: part(a.scale / twiceMax, a.zeroPoint),
    b: part(b.scale / twiceMax, b.zeroPoint),
    out: part(twiceMax / (2 ** leftShift * out.scale), out.zeroPoint),
    range,
  };
}
