// Calibration's range choices on hand-worked histograms: percentiles of evenly spread values with outliers, the
// MSE-optimal clip of point masses (closed form) and of an exponential distribution (root of its analytic derivative).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, RangeObserver } from '../../src/quant/calibrate.js';
import type { TensorRange } from '../../src/quant/calibrate.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { planForInt8 } from '../../src/quant/quantized-model.js';
import { randomBatch } from '../support/helpers.js';
import { ConfigError } from '../../src/errors.js';

/** `count` values evenly spread over [a, b): the midpoints of `count` equal cells. */
function spread(count: number, a: number, b: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => a + ((i + 0.5) / count) * (b - a));
}

function observed(parts: Float32Array[]): TensorRange {
  let [min, max] = [Infinity, -Infinity];
  for (const p of parts) for (const v of p) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return { min, max };
}

function histogramOf(...parts: Float32Array[]): { h: Histogram; seen: TensorRange } {
  const h = new Histogram();
  for (const p of parts) h.add(p);
  return { h, seen: observed(parts) };
}

/** 255 steps of the int8 range: the uniform rounding noise of each value with range [lo, hi] is ((hi − lo)/255)²/12. */
const NOISE = 1 / (12 * 255 * 255);

describe('calibration histograms', () => {
  it('bins are powers of two wide and merge exactly: the histogram does not depend on how the values are batched', () => {
    const values = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i) * (i % 7 === 0 ? 40 : 3));
    const whole = new Histogram();
    whole.add(values);
    const pieces = new Histogram();
    // small values first (the width starts narrow and doubles), zeros before anything else
    pieces.add(new Float32Array(10));
    for (let i = values.length; i > 0; i -= 700) pieces.add(values.subarray(Math.max(0, i - 700), i));
    whole.add(new Float32Array(10));
    assert.equal(whole.width, 2 ** -4); // 40/1024 rounded up to a power of two
    assert.equal(pieces.width, whole.width);
    assert.deepEqual([...pieces.counts], [...whole.counts]);
    assert.equal(pieces.total, 5010);
    for (let i = 0; i < whole.bins; i++) assert.ok(Math.abs(pieces.sums[i] - whole.sums[i]) <= 1e-9 * (1 + Math.abs(whole.sums[i])));
  });

  it('non-finite values are left out; an all-zero stream has no width', () => {
    const h = new Histogram(8);
    h.add(Float32Array.of(0, 0, NaN));
    assert.equal(h.width, 0);
    h.add(Float32Array.of(Infinity, 3, -Infinity));
    assert.equal(h.width, 1); // 3 < 4·1
    assert.equal(h.total, 3);
    assert.deepEqual([...h.counts], [0, 0, 0, 0, 2, 0, 0, 1]);
    assert.throws(() => new Histogram(7), ConfigError);
  });
});

describe('percentile calibration (hand-worked)', () => {
  // 99,980 values evenly over [−5, 5) and 10 outliers at each of ±1000: 100,000 values
  const body = spread(99_980, -5, 5);
  const { h, seen } = histogramOf(body, new Float32Array(10).fill(1000), new Float32Array(10).fill(-1000));

  it('99.9% clips 50 values at each end: the 10 outliers and the 40 most extreme of the body', () => {
    // bins 1 wide: [−5, −4) holds 9,998 values, so the 50th from the bottom is 40/9998 into it
    const r = h.percentileRange(99.9, seen);
    assert.ok(Math.abs(r.min - (-5 + 40 / 9998)) < 1e-9, `min ${r.min}`);
    assert.ok(Math.abs(r.max - (5 - 40 / 9998)) < 1e-9, `max ${r.max}`);
  });

  it('100% is min/max; anything outside (0, 100] is refused', () => {
    assert.deepEqual(h.percentileRange(100, seen), { min: -1000, max: 1000 });
    assert.throws(() => h.percentileRange(0, seen), /percentile must be in \(0, 100\]/);
    assert.throws(() => h.percentileRange(100.5, seen), ConfigError);
  });

  it('ReLU-like values: many exact zeros and a long tail; 99.99% clips 5 of the 100,000 values above', () => {
    const relu = Float32Array.from(spread(100_000, -1, 1), (v) => Math.max(v, 0) * 8); // half zeros, half even on (0, 8)
    const { h: hr, seen: sr } = histogramOf(relu);
    const r = hr.percentileRange(99.99, sr);
    assert.ok(r.min >= 0 && r.min < hr.width, `min ${r.min}`); // inside the bin of the 50,000 zeros
    // the top 5 of 50,000 values evenly over (0, 8): 8·(1 − 5/50000)
    assert.ok(Math.abs(r.max - 8 * (1 - 5 / 50_000)) < 1e-4, `max ${r.max}`); // the values are 1.6e-4 apart
  });
});

describe('MSE calibration (closed forms)', () => {
  it('10⁶ values at 1 and one at 100: the clip h minimising (100 − h)² + (10⁶ + 1)·(h/255)²/12, h* = 100/(1 + (10⁶ + 1)/(12·255²))', () => {
    const { h, seen } = histogramOf(new Float32Array(1_000_000).fill(1), Float32Array.of(100));
    const r = h.mseRange(seen);
    const best = 100 / (1 + 1_000_001 * NOISE); // 43.83
    assert.equal(r.min, 0);
    assert.ok(Math.abs(r.max - best) <= h.width, `max ${r.max}, closed form ${best}, bins ${h.width} wide`);
  });

  it('both ends clip: ±1 half a million times each and outliers at ±100 give the symmetric h* = 100/(1 + 2·(10⁶ + 2)/(12·255²))', () => {
    const { h, seen } = histogramOf(new Float32Array(500_000).fill(1), new Float32Array(500_000).fill(-1), Float32Array.of(100, -100));
    const r = h.mseRange(seen);
    // (100 − h)² at each end + (10⁶ + 2)·(2h/255)²/12: derivative −4(100 − h) + 8·(10⁶ + 2)·h/(12·255²) = 0
    const best = 100 / (1 + 2 * 1_000_002 * NOISE); // 28.07
    assert.ok(Math.abs(r.max - best) <= h.width && Math.abs(r.min + best) <= h.width, `range [${r.min}, ${r.max}], closed form ±${best}`);
  });

  it('an exponential distribution (rate 1): the clip α where d/dα [2e^−α + α²/(12·255²)] = 0, per value', () => {
    // 4·10⁶ values at the distribution's quantiles (i + ½)/n: its max is ln(8·10⁶) ≈ 15.9
    const n = 4_000_000;
    const values = Float32Array.from({ length: n }, (_, i) => -Math.log(1 - (i + 0.5) / n));
    const { h, seen } = histogramOf(values);
    const derivative = (a: number): number => -2 * Math.exp(-a) + 2 * a * NOISE;
    let [lo, hi] = [1, 15];
    for (let k = 0; k < 60; k++) [lo, hi] = derivative((lo + hi) / 2) < 0 ? [(lo + hi) / 2, hi] : [lo, (lo + hi) / 2];
    const alpha = (lo + hi) / 2; // ≈ 11.2
    const r = h.mseRange(seen);
    assert.equal(r.min, 0);
    assert.ok(Math.abs(r.max - alpha) < 0.05 * alpha, `clip ${r.max}, analytic ${alpha}`);
    assert.ok(r.max < seen.max - 3, 'clips the tail');
  });

  it('evenly spread values are not clipped (clipping costs more than the finer step saves)', () => {
    const { h, seen } = histogramOf(spread(100_000, 0, 6));
    const r = h.mseRange(seen);
    assert.equal(r.min, 0);
    assert.ok(r.max > 6 - 2 * h.width, `max ${r.max}`);
  });
});

describe('RangeObserver', () => {
  it('keeps min/max as `ranges` and chooses per method; each range is within what was seen', () => {
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    const observer = new RangeObserver(planForInt8(model));
    observer.observe(randomBatch([3, 32, 32, 3], 1));
    const minmax = observer.calibratedRanges();
    assert.deepEqual(minmax, observer.ranges);
    for (const choice of [{ method: 'percentile', percentile: 99 }, { method: 'mse' }] as const) {
      const ranges = observer.calibratedRanges(choice);
      ranges.forEach((r, id) => {
        const seen = observer.ranges[id];
        assert.ok(r.min >= Math.min(seen.min, 0) && r.max <= Math.max(seen.max, 0) && r.min <= r.max, `${choice.method}, tensor ${id}: [${r.min}, ${r.max}] outside [${seen.min}, ${seen.max}]`);
      });
      assert.ok(ranges.some((r, id) => r.max < observer.ranges[id].max), `${choice.method} clips somewhere`);
    }
    assert.throws(() => observer.calibratedRanges({ method: 'entropy' as 'mse' }), /calibration method "entropy"/);
  });
});
