// The GradientBackend on the ops backend's wasm kernels: convolution gradients (GEMMs, depthwise kernels, im2col
// and col2im), dense gradients, BatchNorm in training, activation and pooling gradients, bias sums, dropout masks.

import type { GradientBackend } from '../../gradients.js';
import { referenceGradients } from '../../gradients.js';
import type { Activation } from '../../../ops/activation.js';
import type { Conv2DParams } from '../../../ops/conv2d.js';
import { Tensor, sameShape } from '../../../tensor/tensor.js';
import { F32, roundUp } from '../kernels/common.js';
import { type DepthwiseSpec, depthwiseOutputSize, emitDepthwise, packDepthwiseWeights } from '../kernels/depthwise.js';
import { depthwiseGradientLength, emitDepthwiseBackwardInput, emitDepthwiseBackwardKernel, unpackDepthwiseGradient } from '../kernels/depthwise-backward.js';
import { emitGemm, packGemmWeights } from '../kernels/gemm.js';
import { emitGemmTN } from '../kernels/gemm-tn.js';
import { emitCol2im, emitIm2col } from '../kernels/im2col.js';
import type { CallArg } from '../threads-work.js';
import { batchNormBackward, batchNormTrain, channelSums } from './batch-norm.js';
import { convPath, depthwiseSpec, gradientFits, im2colSpec, specKey } from './conv-paths.js';
import type { WasmOps } from './context.js';
import { binary } from './forward.js';
import { PAD, each } from './staging.js';
import { flatOp, gemmRows, gemmTNRows, perImage } from './streams.js';
import { type SplitOp, imageWork } from './thread-split.js';

/** The GradientBackend of `ops`: wasm kernels where they cover the call, the reference (counted as such) elsewhere. */
export function wasmGradients(ops: WasmOps): GradientBackend {
  const ref = referenceGradients;
  return {
    name: 'wasm',
    conv2dBackwardInput: (dy, kernel, xShape, p) => conv2dBackwardInput(ops, dy, kernel, xShape, p),
    conv2dBackwardKernel: (x, dy, kernelShape, p) => conv2dBackwardKernel(ops, x, dy, kernelShape, p),
    sumToChannels: (dy) => sumToChannels(ops, dy),
    batchNormTrain: (x, gamma, beta, epsilon) => batchNormTrain(ops, x, gamma, beta, epsilon),
    batchNormBackward: (dy, x, gamma, mean, invStd, batchStatistics) => batchNormBackward(ops, dy, x, gamma, mean, invStd, batchStatistics),
    activationBackward: (dy, y, activation) => activationBackward(ops, dy, y, activation),
    softmaxBackward: (dy, y) => ops.fallback('softmaxBackward', () => ref.softmaxBackward(dy, y)),
    zeroPad2dBackward: (dy, pad) => ops.fallback('zeroPad2dBackward', () => ref.zeroPad2dBackward(dy, pad)),
    globalAvgPoolBackward: (dy, xShape) => globalAvgPoolBackward(ops, dy, xShape),
    globalMaxPoolBackward: (dy, x) => ops.fallback('globalMaxPoolBackward', () => ref.globalMaxPoolBackward(dy, x)),
    avgPool2dBackward: (dy, xShape, p) => ops.fallback('avgPool2dBackward', () => ref.avgPool2dBackward(dy, xShape, p)),
    maxPool2dBackward: (dy, x, p) => ops.fallback('maxPool2dBackward', () => ref.maxPool2dBackward(dy, x, p)),
    denseBackwardInput: (dy, kernel) => denseBackwardInput(ops, dy, kernel),
    denseBackwardKernel: (x, dy) => denseBackwardKernel(ops, x, dy),
    applyMask: (x, mask) => (mask.length === x.size ? binary(ops, 'mul', x, new Tensor(x.shape, mask), () => ref.applyMask(x, mask)) : ops.fallback('applyMask', () => ref.applyMask(x, mask))),
    // one pass that reads two tensors and writes one in place: staging both through wasm memory costs more than it saves
    addInPlace: (acc, x) => ref.addInPlace(acc, x),
  };
}

function conv2dBackwardInput(ops: WasmOps, dy: Tensor, kernel: Tensor, xShape: readonly number[], p: Conv2DParams): Tensor {
  const { staging: s, split } = ops;
  const kind = gradientFits(dy, xShape, kernel.shape, p) ? convPath(xShape, kernel.shape, p) : 'reference';
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, , cout] = kernel.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  if (kind === 'pointwise') {
    ops.begin('conv2dBackwardInput');
    return new Tensor(xShape, gemmRows(ops, dy.data, n * h * w, cout, c, transpose2d(kernel.data, c, cout), null));
  }
  if (kind === 'depthwise') {
    ops.begin('conv2dBackwardInput');
    const spec = depthwiseSpec(xShape, kernel.shape, p);
    const [pt, pb, pl, pr] = p.padding;
    // the window's reach: (k − 1)·dilation pixels from its first tap to its last
    const [reachH, reachW] = [(kh - 1) * p.dilations[0], (kw - 1) * p.dilations[1]];
    if (p.strides[0] === 1 && p.strides[1] === 1 && Math.max(pt, pb) <= reachH && Math.max(pl, pr) <= reachW) {
      // stride 1: the input gradient is the depthwise convolution of dy with the flipped kernel, at the same dilation, and complementary padding
      const flipped: DepthwiseSpec = { height: oh, width: ow, channels: c, kernel: [kh, kw], strides: [1, 1], dilations: p.dilations, padding: [reachH - pt, reachH - pb, reachW - pl, reachW - pr] };
      const [fh, fw] = depthwiseOutputSize(flipped);
      if (fh === h && fw === w) {
        const op = split.op(`depthwise ${specKey(flipped)}`, (m) => emitDepthwise(m, 'depthwise', flipped), () => imageWork('depthwise', oh * ow * c, h * w * c));
        const pw = s.put(packDepthwiseWeights(flipped, flipKernel(kernel.data, kh, kw, c), null));
        return new Tensor(xShape, perImage(ops, dy.data, n, oh * ow * c, h * w * c, op, pw));
      }
    }
    const op = split.op(`depthwiseBackwardInput ${specKey(spec)}`, (m) => emitDepthwiseBackwardInput(m, 'backwardInput', spec), () => imageWork('backwardInput', oh * ow * c, h * w * c, true));
    const pw = s.put(packDepthwiseWeights(spec, kernel.data, null));
    return new Tensor(xShape, perImage(ops, dy.data, n, oh * ow * c, h * w * c, op, pw, true));
  }
  if (kind === 'general') {
    // the GEMM of dy with the transposed kernel into window rows, then col2im adds them into dx, image by image
    ops.begin('conv2dBackwardInput');
    const taps = kh * kw * c;
    const spec = im2colSpec(xShape, kernel.shape, p);
    const weights = packGemmWeights({ cin: cout, cout: taps }, transpose2d(kernel.data, taps, cout), null);
    const weightFloats = roundUp(weights.length, PAD);
    const dcol: CallArg = { pointer: 2, offset: weightFloats * F32, perUnit: oh * ow * taps * F32 };
    const op = split.op(
      `conv col2im ${specKey(spec)} ${cout}`,
      (m) => {
        emitGemm(m, 'gemm', { cin: cout, cout: taps });
        emitCol2im(m, 'col2im', spec);
      },
      () => ({
        kind: 'split',
        grain: 1,
        calls: [
          { kernel: 'gemm', args: [{ pointer: 0, perUnit: oh * ow * cout * F32 }, { pointer: 2 }, dcol], unitScale: oh * ow, tail: [0] },
          { kernel: 'col2im', args: [{ pointer: 1, perUnit: h * w * c * F32 }, dcol], unitScale: 1 },
        ],
      }),
    );
    const pw = s.alloc(weightFloats + Math.min(split.imagesPerStage(oh * ow * cout + h * w * c), n) * oh * ow * taps);
    s.heap().set(weights, pw >> 2);
    return new Tensor(xShape, perImage(ops, dy.data, n, oh * ow * cout, h * w * c, op, pw, true));
  }
  return ops.fallback('conv2dBackwardInput', () => referenceGradients.conv2dBackwardInput(dy, kernel, xShape, p));
}

function conv2dBackwardKernel(ops: WasmOps, x: Tensor, dy: Tensor, kernelShape: readonly number[], p: Conv2DParams): Tensor {
  const { staging: s, split } = ops;
  const kind = gradientFits(dy, x.shape, kernelShape, p) ? convPath(x.shape, kernelShape, p) : 'reference';
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw, , cout] = kernelShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  if (kind === 'pointwise') {
    ops.begin('conv2dBackwardKernel');
    return new Tensor(kernelShape, gemmTNRows(ops, x.data, dy.data, n * h * w, c, cout));
  }
  if (kind === 'depthwise' || kind === 'general') {
    // per image chunk (a few images per thread): each thread sums its images into its own accumulator (output
    // pointer, one per part), and the accumulators are added in thread order
    ops.begin('conv2dBackwardKernel');
    const inPer = h * w * c;
    const outPer = oh * ow * cout;
    const step = split.imagesPerStage(inPer + outPer);
    const x0: CallArg = { pointer: 0, perUnit: inPer * F32 };
    const dy0: CallArg = { pointer: 2, perUnit: outPer * F32 };
    const run = (op: SplitOp, accumulators: number, floats: number, stride: number): number => {
      const parts = split.parts(op, Math.min(step, n));
      const px = s.alloc(Math.min(step, n) * inPer);
      const pdy = s.alloc(Math.min(step, n) * outPer);
      each(n, step, (start, count) => {
        s.stageIn(px, x.data, start * inPer, count * inPer);
        s.stageIn(pdy, dy.data, start * outPer, count * outPer);
        split.run(op, count, px, accumulators, pdy);
      });
      split.sumParts(accumulators, floats, stride, parts);
      return accumulators;
    };
    if (kind === 'depthwise') {
      const spec = depthwiseSpec(x.shape, kernelShape, p);
      const length = depthwiseGradientLength(spec);
      // per part: its total, then its per-image partial sums (the kernel leaves them zeroed)
      const stride = 2 * roundUp(length, PAD);
      const op = split.op(`depthwiseBackwardKernel ${specKey(spec)}`, (m) => emitDepthwiseBackwardKernel(m, 'backwardKernel', spec), () => ({
        kind: 'split',
        grain: 1,
        calls: [{ kernel: 'backwardKernel', args: [x0, dy0, { pointer: 1, perPart: stride * F32 }, { pointer: 1, offset: (stride / 2) * F32, perPart: stride * F32 }], unitScale: 1 }],
      }));
      const total = run(op, s.zeros(split.threads * stride), length, stride);
      return new Tensor(kernelShape, unpackDepthwiseGradient(spec, s.read(total, length)));
    }
    // im2col of each image into its window rows (after every thread's accumulator), then their gemmTN with dy
    const taps = kh * kw * c;
    const spec = im2colSpec(x.shape, kernelShape, p);
    const stride = roundUp(taps * cout, PAD);
    const col: CallArg = { pointer: 1, offset: split.threads * stride * F32, perUnit: oh * ow * taps * F32 };
    const op = split.op(
      `convBackwardKernel ${specKey(spec)} ${cout}`,
      (m) => {
        emitIm2col(m, 'im2col', spec);
        emitGemmTN(m, 'gemmTN', { cin: taps, cout });
      },
      () => ({
        kind: 'split',
        grain: 1,
        calls: [
          { kernel: 'im2col', args: [x0, col], unitScale: 1 },
          { kernel: 'gemmTN', args: [col, dy0, { pointer: 1, perPart: stride * F32 }], unitScale: oh * ow },
        ],
      }),
    );
    // zeroed once: im2col leaves the padding taps alone, and they sit in the same places for every image
    const dw = run(op, s.zeros(split.threads * stride + Math.min(step, n) * oh * ow * taps), taps * cout, stride);
    return new Tensor(kernelShape, s.read(dw, taps * cout));
  }
  return ops.fallback('conv2dBackwardKernel', () => referenceGradients.conv2dBackwardKernel(x, dy, kernelShape, p));
}

function sumToChannels(ops: WasmOps, dy: Tensor): Tensor {
  if (dy.rank < 1 || dy.size === 0) return ops.fallback('sumToChannels', () => referenceGradients.sumToChannels(dy));
  const c = dy.shape[dy.rank - 1];
  ops.begin('sumToChannels');
  return new Tensor([c], Float32Array.from(channelSums(ops, dy.data, c)));
}

function activationBackward(ops: WasmOps, dy: Tensor, y: Tensor, activation: Activation): Tensor {
  if (!sameShape(dy.shape, y.shape)) return ops.fallback('activationBackward', () => referenceGradients.activationBackward(dy, y, activation));
  ops.begin('activationBackward');
  if (activation === 'linear') return dy;
  return new Tensor(dy.shape, flatOp(ops, `${activation}Backward`, [dy.data, y.data]));
}

/** Each pixel gets its channel's gradient over H·W: one row computed, then copied by doubling. */
function globalAvgPoolBackward(ops: WasmOps, dy: Tensor, xShape: readonly number[]): Tensor {
  const [n, h, w, c] = xShape as [number, number, number, number];
  if (xShape.length !== 4 || !sameShape(dy.shape, [n, c])) return ops.fallback('globalAvgPoolBackward', () => referenceGradients.globalAvgPoolBackward(dy, xShape));
  ops.counted('globalAvgPoolBackward');
  const area = h * w;
  const dx = ops.outputs.output(n * area * c);
  for (let b = 0; b < n; b++) {
    const base = b * area * c;
    for (let i = 0; i < c; i++) dx[base + i] = dy.data[b * c + i] / area;
    for (let filled = c; filled < area * c; filled *= 2) dx.copyWithin(base + filled, base, base + Math.min(filled, area * c - filled));
  }
  return new Tensor(xShape, dx);
}

function denseBackwardInput(ops: WasmOps, dy: Tensor, kernel: Tensor): Tensor {
  if (dy.rank !== 2 || kernel.rank !== 2 || dy.shape[1] !== kernel.shape[1] || dy.size === 0) {
    return ops.fallback('denseBackwardInput', () => referenceGradients.denseBackwardInput(dy, kernel));
  }
  const [n, units] = dy.shape as [number, number];
  const k = kernel.shape[0];
  ops.begin('denseBackwardInput');
  return new Tensor([n, k], gemmRows(ops, dy.data, n, units, k, transpose2d(kernel.data, k, units), null));
}

function denseBackwardKernel(ops: WasmOps, x: Tensor, dy: Tensor): Tensor {
  if (x.rank !== 2 || dy.rank !== 2 || x.shape[0] !== dy.shape[0] || x.size === 0 || dy.size === 0) {
    return ops.fallback('denseBackwardKernel', () => referenceGradients.denseBackwardKernel(x, dy));
  }
  const [n, k] = x.shape as [number, number];
  const units = dy.shape[1];
  ops.begin('denseBackwardKernel');
  return new Tensor([k, units], gemmTNRows(ops, x.data, dy.data, n, k, units));
}

/** [rows × cols] row-major → [cols × rows]. */
function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** An HWIO depthwise kernel [kh, kw, 1, c] rotated by 180° in its spatial axes. */
function flipKernel(data: Float32Array, kh: number, kw: number, c: number): Float32Array {
  const out = new Float32Array(kh * kw * c);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) out.set(data.subarray((ky * kw + kx) * c, (ky * kw + kx + 1) * c), ((kh - 1 - ky) * kw + (kw - 1 - kx)) * c);
  }
  return out;
}
