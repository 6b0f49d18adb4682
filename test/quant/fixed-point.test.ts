// TFLite's fixed-point requantization against hand-worked values and against the C++ definitions evaluated
// exactly in BigInt (int64 product, truncating division), on random and boundary operands.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addRequantization, multiplyByQuantizedMultiplier, quantizeMultiplier, requantization, roundingDivideByPOT, saturatingRoundingDoublingHighMul } from '../../src/quant/fixed-point.js';
import { addFixed, requantizeFixed } from '../../src/quant/int8-ops.js';
import { ConfigError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';

/** gemmlowp's SaturatingRoundingDoublingHighMul, line for line on int64. */
function srdhmInt64(a: number, b: number): number {
  if (a === -(2 ** 31) && b === -(2 ** 31)) return 2 ** 31 - 1;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n));
}

describe('fixed-point requantization', () => {
  it('quantizeMultiplier splits reals as TFLite does (frexp, round half away, 2^31 carried)', () => {
    assert.deepEqual(quantizeMultiplier(0.5), { multiplier: 2 ** 30, shift: 0 });
    assert.deepEqual(quantizeMultiplier(1), { multiplier: 2 ** 30, shift: 1 });
    assert.deepEqual(quantizeMultiplier(0.75), { multiplier: 1610612736, shift: 0 });
    // 0.1 = 0.8·2^−3, 0.8·2^31 = 1717986918.4
    assert.deepEqual(quantizeMultiplier(0.1), { multiplier: 1717986918, shift: -3 });
    // frac rounding up to 2^31 carries into the exponent
    assert.deepEqual(quantizeMultiplier(1 - 2 ** -40), { multiplier: 2 ** 30, shift: 1 });
    assert.deepEqual(quantizeMultiplier(0), { multiplier: 0, shift: 0 });
    assert.deepEqual(quantizeMultiplier(2 ** -40), { multiplier: 0, shift: 0 });
    assert.throws(() => quantizeMultiplier(-1), ConfigError);
    assert.throws(() => quantizeMultiplier(Number.NaN), ConfigError);
  });

  it('saturatingRoundingDoublingHighMul: hand-worked ties, signs and the saturating corner', () => {
    assert.equal(saturatingRoundingDoublingHighMul(2 ** 30, 2 ** 30), 2 ** 29);
    // 3·2^30 / 2^31 = 1.5 → 2; −1.5 → −1 (the nudge 1 − 2^30 and truncation make negative ties go toward zero)
    assert.equal(saturatingRoundingDoublingHighMul(3, 2 ** 30), 2);
    assert.equal(saturatingRoundingDoublingHighMul(-3, 2 ** 30), -1);
    assert.equal(saturatingRoundingDoublingHighMul(-5, 2 ** 30), -2);
    assert.equal(saturatingRoundingDoublingHighMul(-(2 ** 31), -(2 ** 31)), 2 ** 31 - 1);
    assert.equal(saturatingRoundingDoublingHighMul(2 ** 31 - 1, 2 ** 31 - 1), 2 ** 31 - 2);
    assert.equal(saturatingRoundingDoublingHighMul(-(2 ** 31), 2 ** 31 - 1), -(2 ** 31) + 1);
  });

  it('saturatingRoundingDoublingHighMul equals the int64 definition on random and extreme operands', () => {
    const rng = new Random(7);
    const edge = [0, 1, -1, 2 ** 30, -(2 ** 30), 2 ** 31 - 1, -(2 ** 31), 65535, 65536, -65536, -65537];
    const pick = (): number => (rng.uniform() < 0.2 ? edge[Math.floor(rng.uniform() * edge.length)] : Math.floor(rng.uniform() * 2 ** 32) - 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      const a = pick();
      const b = pick();
      assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmInt64(a, b), `a=${a} b=${b}`);
    }
  });

  it('roundingDivideByPOT rounds half away from zero', () => {
    assert.equal(roundingDivideByPOT(5, 1), 3);
    assert.equal(roundingDivideByPOT(-5, 1), -3);
    assert.equal(roundingDivideByPOT(-3, 2), -1);
    assert.equal(roundingDivideByPOT(6, 2), 2);
    assert.equal(roundingDivideByPOT(-6, 2), -2);
    assert.equal(roundingDivideByPOT(7, 0), 7);
    assert.equal(roundingDivideByPOT(-(2 ** 31), 31), -1);
  });

  it('multiplyByQuantizedMultiplier scales accumulators by the real multiplier, exactly as TFLite rounds', () => {
    const m = quantizeMultiplier(0.1);
    assert.equal(multiplyByQuantizedMultiplier(100, m.multiplier, m.shift), 10);
    assert.equal(multiplyByQuantizedMultiplier(-15, m.multiplier, m.shift), -2);
    // 1717986918·25 / 2^31 = 19.99… → 20, then 20 / 2^3 = 2.5 → 3 (two roundings: 25·0.1 = 2.5 rounds up)
    assert.equal(multiplyByQuantizedMultiplier(25, m.multiplier, m.shift), 3);
    const big = quantizeMultiplier(3);
    assert.equal(multiplyByQuantizedMultiplier(1000, big.multiplier, big.shift), 3000);
    const rng = new Random(3);
    for (let i = 0; i < 2000; i++) {
      const real = 2 ** (rng.uniform() * 20 - 18);
      const x = Math.floor(rng.uniform() * 2 ** 20) - 2 ** 19;
      const q = quantizeMultiplier(real);
      const left = Math.max(q.shift, 0);
      const expected = roundingDivideByPOT(srdhmInt64(x * 2 ** left, q.multiplier), Math.max(-q.shift, 0));
      assert.equal(multiplyByQuantizedMultiplier(x, q.multiplier, q.shift), expected);
      assert.ok(Math.abs(expected - x * real) <= 1, `x=${x} real=${real}`);
    }
  });

  it('requantizeFixed: bias, zero point, ties away from zero and saturation, hand-worked', () => {
    const r = requantization([0.1], 3);
    // (25 + 0)·0.1 = 2.5 → 3; −15·0.1 = −1.5 → −2; 5000·0.1 saturates high, −5000·0.1 low
    assert.deepEqual([...requantizeFixed(Int32Array.of(25, -15, 5000, -5000), Int32Array.of(0), r)], [6, 1, 127, -128]);
    // per channel: channel 0 by 0.5, channel 1 by 2, biases added first; clamped to a ReLU6-like [3, 9]
    const pc = requantization([0.5, 2], 3, [3, 9]);
    assert.deepEqual([...requantizeFixed(Int32Array.of(4, 1, -20, 100), Int32Array.of(1, 1), pc)], [6, 7, 3, 9]);
  });

  it('addFixed follows TFLite ADD: 2^20 left shift, common scale, one rounding per operand and one at the output', () => {
    const half = { scale: 0.5, zeroPoint: 0 };
    const p = addRequantization(half, half, { scale: 1, zeroPoint: 0 });
    // 3·0.5 = 1.5 → 2 and −1.5 → −2 (the operand rescale is exact here; the output rounds half away from zero)
    assert.deepEqual([...addFixed(Int8Array.of(3, -3, 3, 127, -128), Int8Array.of(0, 0, 1, 127, -128), p)], [2, -2, 2, 127, -128]);
    const relu6 = addRequantization(half, { scale: 0.25, zeroPoint: -4 }, { scale: 1, zeroPoint: 0 }, [0, 6]);
    // 0.5·(−3) + 0.25·(0 + 4) = −0.5 → clamped to 0; 0.5·20 + 0.25·(8 + 4) = 13 → 6
    assert.deepEqual([...addFixed(Int8Array.of(-3, 20), Int8Array.of(0, 8), relu6)], [0, 6]);
  });
});
