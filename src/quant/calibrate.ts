// Post-training calibration: runs a lowered float Plan on sample batches with the reference kernels and records
// each tensor's observed range and histogram, from which each activation's int8 range is chosen (min/max, percentile, MSE).

import { ConfigError, ShapeError } from '../errors.js';
import type { Plan } from '../graph/plan.js';
import { runStep } from '../backend/plan-reference.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';
import { INT8_MAX, INT8_MIN } from './qparams.js';

export interface TensorRange {
  min: number;
  max: number;
}

/**
 * How a tensor's int8 range is chosen from what calibration saw: `minmax` covers every value (TFLite's default);
 * `percentile` clips (100 − percentile)% of the values, half in each tail (ONNX Runtime's percentile calibrator);
 * `mse` takes the range with the least expected squared quantization error over the histogram (clipping error of the
 * values outside, plus step²/12 for each value: rounding noise spread uniformly over a step).
 */
export type CalibrationMethod = 'minmax' | 'percentile' | 'mse';

export interface RangeChoice {
  method: CalibrationMethod;
  /** For `percentile`: the share of values kept, in percent, in (0, 100] (default 99.99). */
  percentile?: number;
}

export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'mse'];
export const DEFAULT_PERCENTILE = 99.99;

const LEVELS = INT8_MAX - INT8_MIN;

/**
 * A histogram of a stream of values in `bins` bins of width 2^k, bin i covering [(i − bins/2)·width, (i − bins/2 + 1)·width).
 * When a value falls outside, the width doubles and neighbouring bins merge, which is exact: the histogram of a stream
 * does not depend on how it is split into batches or their order. Each bin also keeps the sum and sum of squares of its
 * values, so that the squared error of clipping whole bins is exact. Non-finite values are left out.
 */
export class Histogram {
  readonly counts: Float64Array;
  readonly sums: Float64Array;
  readonly squares: Float64Array;
  /** 0 until a non-zero value has come. */
  width = 0;
  /** Zeros seen while `width` was 0. */
  private pendingZeros = 0;

  constructor(readonly bins = 2048) {
    if (!Number.isInteger(bins) || bins < 2 || bins % 2 !== 0) throw new ConfigError(`histogram bins must be an even integer ≥ 2, got ${bins}`);
    this.counts = new Float64Array(bins);
    this.sums = new Float64Array(bins);
    this.squares = new Float64Array(bins);
  }

  /** Values seen (finite ones). */
  get total(): number {
    let n = this.pendingZeros;
    for (const c of this.counts) n += c;
    return n;
  }

  /** The lower edge of bin i. */
  edge(i: number): number {
    return (i - this.bins / 2) * this.width;
  }

  add(values: ArrayLike<number>): void {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo && v > -Infinity) lo = v;
      if (v > hi && v < Infinity) hi = v;
    }
    if (lo === 0 && hi === 0 && this.width === 0) {
      for (let i = 0; i < values.length; i++) if (values[i] === 0) this.pendingZeros++;
      return;
    }
    this.cover(lo, hi);
    const { counts, sums, squares, width } = this;
    const half = this.bins / 2;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      const b = Math.floor(v / width) + half;
      counts[b]++;
      sums[b] += v;
      squares[b] += v * v;
    }
  }

  /** Widens the bins (doubling their width) until [lo, hi] falls inside them; the first non-zero values set the width. */
  private cover(lo: number, hi: number): void {
    const half = this.bins / 2;
    const fits = (w: number): boolean => hi < half * w && lo >= -half * w;
    if (this.width === 0) {
      let w = Math.max(2 ** Math.floor(Math.log2(Math.max(hi, -lo) / half)), Number.MIN_VALUE);
      while (!fits(w)) w *= 2;
      this.width = w;
      this.counts[half] = this.pendingZeros;
      this.pendingZeros = 0;
      return;
    }
    while (!fits(this.width)) {
      for (const a of [this.counts, this.sums, this.squares]) {
        const merged = new Float64Array(this.bins);
        for (let i = 0; i < this.bins; i++) merged[Math.floor((i - half) / 2) + half] += a[i];
        a.set(merged);
      }
      this.width *= 2;
    }
  }

  /** [lo, hi] clipping `(100 − percentile) / 2`% of the values at each end, interpolated linearly inside a bin, within [min, max]. */
  percentileRange(percentile: number, seen: TensorRange): TensorRange {
    if (!(percentile > 0 && percentile <= 100)) throw new ConfigError(`calibration percentile must be in (0, 100], got ${percentile}`);
    const total = this.total;
    if (this.width === 0 || total === 0) return { ...seen };
    const tail = (total * (100 - percentile)) / 200;
    const { counts, width } = this;
    // walking up from the bottom: where the count below reaches `tail`
    let below = 0;
    let lo = seen.min;
    for (let i = 0; i < this.bins; i++) {
      if (counts[i] > 0 && below + counts[i] >= tail) {
        lo = this.edge(i) + (width * (tail - below)) / counts[i];
        break;
      }
      below += counts[i];
    }
    let above = 0;
    let hi = seen.max;
    for (let i = this.bins - 1; i >= 0; i--) {
      if (counts[i] > 0 && above + counts[i] >= tail) {
        hi = this.edge(i + 1) - (width * (tail - above)) / counts[i];
        break;
      }
      above += counts[i];
    }
    return { min: Math.max(lo, seen.min), max: Math.min(hi, seen.max) };
  }

  /**
   * The range [lo, hi] ∋ 0 (as int8 activations hold 0 exactly) with the least expected squared error:
   * Σ (x − lo)² below lo + Σ (x − hi)² above hi + (all values)·step²/12, step = (hi − lo)/255 (every value, clipped or not,
   * is taken to round by a uniform error, so that no end gains from a point mass it clips at zero cost). Candidates are the
   * bin edges between the observed min and max (each end clips whole bins) and min and max themselves.
   */
  mseRange(seen: TensorRange): TensorRange {
    if (this.width === 0) return { ...seen };
    const n = this.bins;
    const half = n / 2;
    // prefix sums over bins: P[i] = Σ over bins < i
    const count = new Float64Array(n + 1);
    const sum = new Float64Array(n + 1);
    const square = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      count[i + 1] = count[i] + this.counts[i];
      sum[i + 1] = sum[i] + this.sums[i];
      square[i + 1] = square[i] + this.squares[i];
    }
    // candidate ends as (value, first bin not below it / first bin above it)
    const lows: [number, number][] = [[Math.min(seen.min, 0), 0]];
    for (let i = 0; i <= half; i++) if (this.edge(i) > seen.min) lows.push([this.edge(i), i]);
    const highs: [number, number][] = [[Math.max(seen.max, 0), n]];
    for (let i = half; i < n; i++) if (this.edge(i) < seen.max) highs.push([this.edge(i), i]);
    const noise = 1 / (12 * LEVELS * LEVELS);
    let best = { min: seen.min, max: seen.max };
    let bestError = Infinity;
    for (const [lo, i] of lows) {
      // clipped below lo: Σ (x − lo)² over bins < i
      const clipLow = square[i] - 2 * lo * sum[i] + lo * lo * count[i];
      for (const [hi, j] of highs) {
        if (hi === lo) continue;
        const clipHigh = square[n] - square[j] - 2 * hi * (sum[n] - sum[j]) + hi * hi * (count[n] - count[j]);
        const error = clipLow + clipHigh + count[n] * (hi - lo) * (hi - lo) * noise;
        if (error < bestError) {
          bestError = error;
          best = { min: lo, max: hi };
        }
      }
    }
    return best;
  }
}

/** Accumulates per-tensor ranges and histograms of a plan over any number of batches. */
export class RangeObserver {
  /** Each tensor's observed min and max. */
  readonly ranges: TensorRange[];
  readonly histograms: Histogram[];
  /** Images observed so far. */
  images = 0;

  constructor(readonly plan: Plan, options: { bins?: number } = {}) {
    this.ranges = plan.tensors.map(() => ({ min: Infinity, max: -Infinity }));
    this.histograms = plan.tensors.map(() => new Histogram(options.bins));
  }

  /** Runs one NHWC batch [N, ...input shape] through the plan, widening every tensor's range and filling its histogram. */
  observe(x: Tensor): void {
    const inputShape = this.plan.tensors[this.plan.input].shape;
    if (x.rank !== inputShape.length + 1 || !sameShape(x.shape.slice(1), inputShape)) {
      throw new ShapeError(`calibration batch ${formatShape(x.shape)} does not fit the model's input [N, ${inputShape.join(', ')}]`);
    }
    const batch = x.shape[0];
    const values = new Map<number, Tensor>();
    const record = (id: number, t: Tensor): void => {
      values.set(id, t);
      const r = this.ranges[id];
      for (const v of t.data) {
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
      this.histograms[id].add(t.data);
    };
    record(this.plan.input, x);
    const v = (id: number): Tensor => values.get(id)!.reshape([batch, ...this.plan.tensors[id].shape]);
    for (const step of this.plan.steps) record(step.output, runStep(step, v));
    this.images += batch;
  }

  /**
   * Each tensor's range for int8 by `choice` (min/max by default). A tensor whose observed range is not finite keeps it,
   * so that choosing its parameters names the tensor.
   */
  calibratedRanges(choice: RangeChoice = { method: 'minmax' }): TensorRange[] {
    const { method, percentile = DEFAULT_PERCENTILE } = choice;
    if (!CALIBRATION_METHODS.includes(method)) throw new ConfigError(`calibration method ${JSON.stringify(method)}: expected ${CALIBRATION_METHODS.join(', ')}`);
    return this.ranges.map((seen, id) => {
      if (method === 'minmax' || !Number.isFinite(seen.min) || !Number.isFinite(seen.max)) return { ...seen };
      const h = this.histograms[id];
      return method === 'percentile' ? h.percentileRange(percentile, seen) : h.mseRange(seen);
    });
  }
}
