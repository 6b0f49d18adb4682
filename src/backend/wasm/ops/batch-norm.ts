// BatchNorm on the ops backend's per-channel kernels: inference, training (batch statistics in one pass, shifted
// for float32 accuracy) and backward, and the per-channel sums that bias gradients use.

import { referenceGradients } from '../../gradients.js';
import { referenceBackend } from '../../reference.js';
import type { BatchNormParams, BatchStatistics } from '../../../ops/normalization.js';
import { Tensor, sameShape } from '../../../tensor/tensor.js';
import { channelBlocks } from '../kernels/channels.js';
import type { Kernel } from '../runtime.js';
import type { WasmOps } from './context.js';
import { type PixelStream, channelOps, pixelStreamer, sumRows } from './streams.js';

export function batchNorm(ops: WasmOps, x: Tensor, p: BatchNormParams): Tensor {
  const s = ops.staging;
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || c !== p.gamma.length || [p.beta, p.mean, p.variance].some((v) => v.length !== c)) {
    return ops.fallback('batchNorm', () => referenceBackend.batchNorm(x, p));
  }
  ops.begin('batchNorm');
  const scale = new Float64Array(c);
  for (let i = 0; i < c; i++) scale[i] = p.gamma[i] / Math.sqrt(p.variance[i] + p.epsilon);
  const { k, chunk } = channelOps(ops, c);
  const stream = pixelStreamer(ops, [x.data], c, chunk);
  return new Tensor(x.shape, normalize(ops, stream, k, x.size, c, chunk, s.putRow(p.mean), scale, p.beta));
}

/** y = (x − mean)·scale + shift per channel over the streamed x. */
function normalize(ops: WasmOps, stream: PixelStream, k: Record<string, Kernel>, size: number, c: number, chunk: number, mean: number, scale: ArrayLike<number>, shift: ArrayLike<number>): Float32Array {
  const s = ops.staging;
  const pscale = s.putRow(scale);
  const pshift = s.putRow(shift);
  const py = s.alloc(Math.min(chunk, size / c) * c);
  const out = ops.outputs.output(size);
  stream(([px], start, count) => {
    k.normalize(px, mean, pscale, pshift, py, count);
    s.stageOut(py, out, start * c, count * c);
  });
  return out;
}

export function batchNormTrain(ops: WasmOps, x: Tensor, gamma: Float32Array, beta: Float32Array, epsilon: number): { y: Tensor; stats: BatchStatistics } {
  const s = ops.staging;
  const c = x.shape[x.shape.length - 1];
  const count = x.size / c;
  if (x.rank < 2 || c !== gamma.length || beta.length !== c || !(count >= 2)) {
    return ops.fallback('batchNormTrain', () => referenceGradients.batchNormTrain(x, gamma, beta, epsilon));
  }
  ops.begin('batchNormTrain');
  const { k, spec, chunk, row } = channelOps(ops, c);
  const stream = pixelStreamer(ops, [x.data], c, chunk);
  // one pass over x for both statistics: each chunk's sum (about a sample mean, so that float32 block sums stay
  // accurate when the mean is large against the spread) and its squares about its own mean, combined below
  const shift = sampleMean(x.data, c, spec.block!);
  const shiftRow = s.putRow(shift);
  const partial = s.alloc(channelBlocks(spec, Math.min(chunk, count)) * row);
  const centreRow = s.alloc(row);
  const deviation = new Float64Array(c);
  const chunks: { pixels: number; centre: Float32Array; centred: Float64Array; squares: Float64Array }[] = [];
  stream(([px], _start, pixels) => {
    k.sums(px, shiftRow, partial, pixels);
    const sum = sumRows(ops, partial, spec, pixels);
    const centre = new Float32Array(c);
    const centred = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      deviation[i] += sum[i];
      centre[i] = shift[i] + sum[i] / pixels;
      // Σ(x − centre) from Σ(x − shift)
      centred[i] = sum[i] + pixels * (shift[i] - centre[i]);
    }
    s.writeRow(centreRow, centre);
    k.sqdev(px, centreRow, partial, pixels);
    chunks.push({ pixels, centre, centred, squares: sumRows(ops, partial, spec, pixels) });
  });
  const mean = new Float32Array(c);
  for (let i = 0; i < c; i++) mean[i] = shift[i] + deviation[i] / count;
  const variance = new Float32Array(c);
  const invStd = new Float32Array(c);
  const scale = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    // Σ(x − mean)² = Σ over chunks of Σ(x − m)² + 2(m − mean)·Σ(x − m) + n(m − mean)², m the chunk's centre
    let squares = 0;
    for (const chunk of chunks) {
      const offset = chunk.centre[i] - mean[i];
      squares += chunk.squares[i] + 2 * offset * chunk.centred[i] + chunk.pixels * offset * offset;
    }
    variance[i] = squares / count;
    invStd[i] = 1 / Math.sqrt(squares / count + epsilon);
    scale[i] = invStd[i] * gamma[i];
  }
  const pmean = s.putRow(mean);
  const y = normalize(ops, stream, k, x.size, c, chunk, pmean, scale, beta);
  return { y: new Tensor(x.shape, y), stats: { mean, variance, invStd, count } };
}

export function batchNormBackward(ops: WasmOps, dy: Tensor, x: Tensor, gamma: Float32Array, mean: Float32Array, invStd: Float32Array, batchStatistics: boolean): { dx: Tensor; dGamma: Tensor; dBeta: Tensor } {
  const s = ops.staging;
  const c = gamma.length;
  if (!sameShape(dy.shape, x.shape) || x.shape[x.rank - 1] !== c || mean.length !== c || invStd.length !== c || x.size === 0) {
    return ops.fallback('batchNormBackward', () => referenceGradients.batchNormBackward(dy, x, gamma, mean, invStd, batchStatistics));
  }
  ops.begin('batchNormBackward');
  const pixels = x.size / c;
  const { k, spec, chunk, row } = channelOps(ops, c);
  const stream = pixelStreamer(ops, [dy.data, x.data], c, chunk);
  const pmean = s.putRow(mean);
  const rows = channelBlocks(spec, pixels) * row;
  const partialDy = s.alloc(rows);
  const partialDyX = s.alloc(rows);
  stream(([pdy, px], start, count) => {
    const at = (start / spec.block!) * row * 4;
    k.backsums(pdy, px, pmean, partialDy + at, partialDyX + at, count);
  });
  const sumDy = sumRows(ops, partialDy, spec, pixels);
  const sumDyXhat = sumRows(ops, partialDyX, spec, pixels);
  const k1 = new Float64Array(c);
  const k2 = new Float64Array(c);
  const k0 = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    sumDyXhat[i] *= invStd[i];
    k1[i] = gamma[i] * invStd[i];
    if (batchStatistics) {
      // dx = γ·invStd·(dy − Σdy/n − x̂·Σ(dy·x̂)/n), x̂ = (x − mean)·invStd
      k0[i] = (-k1[i] * sumDy[i]) / pixels;
      k2[i] = (-k1[i] * invStd[i] * sumDyXhat[i]) / pixels;
    }
  }
  const p1 = s.putRow(k1);
  const p2 = s.putRow(k2);
  const p0 = s.putRow(k0);
  const pdx = s.alloc(Math.min(chunk, pixels) * c);
  const dx = ops.outputs.output(x.size);
  stream(([pdy, px], start, count) => {
    k.backapply(pdy, px, pmean, p1, p2, p0, pdx, count);
    s.stageOut(pdx, dx, start * c, count * c);
  });
  return {
    dx: new Tensor(x.shape, dx),
    dGamma: new Tensor([c], Float32Array.from(sumDyXhat)),
    dBeta: new Tensor([c], Float32Array.from(sumDy)),
  };
}

/** Per-channel sums of `t` ([…, channels]) in float64 over float32 block sums. */
export function channelSums(ops: WasmOps, data: Float32Array, c: number): Float64Array {
  const s = ops.staging;
  const { k, spec, chunk, row } = channelOps(ops, c);
  const pixels = data.length / c;
  const partial = s.alloc(channelBlocks(spec, pixels) * row);
  const shift = sampleMean(data, c, spec.block!);
  const shiftRow = s.putRow(shift);
  pixelStreamer(ops, [data], c, chunk)(([px], start, count) => k.sums(px, shiftRow, partial + (start / spec.block!) * row * 4, count));
  const sums = sumRows(ops, partial, spec, pixels);
  for (let i = 0; i < c; i++) sums[i] += pixels * shift[i];
  return sums;
}

/**
 * The per-channel mean of the first `pixels` pixels (0 where not finite): a shift near the data for float32 block
 * sums, which then add small deviations instead of drifting away with a large mean (or with a poor shift).
 */
function sampleMean(data: Float32Array, c: number, pixels: number): Float32Array {
  const n = Math.max(1, Math.min(pixels, Math.floor(data.length / c)));
  const sum = new Float64Array(c);
  for (let o = 0; o < n * c; o += c) for (let i = 0; i < c; i++) sum[i] += data[o + i];
  return Float32Array.from(sum, (v) => (Number.isFinite(v) ? v / n : 0));
}
