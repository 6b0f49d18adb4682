// The inference Backend on the ops backend's wasm kernels: 1×1 convolutions and dense layers as GEMMs, depthwise and other
// groups-1 convolutions (direct kernel or im2col), BatchNorm, activations, add, global average pooling, bilinear resize.

import type { Backend } from '../../backend.js';
import { referenceBackend } from '../../reference.js';
import type { Activation } from '../../../ops/activation.js';
import type { Conv2DParams } from '../../../ops/conv2d.js';
import { conv2dOutputShape } from '../../../ops/conv2d.js';
import { Tensor, sameShape } from '../../../tensor/tensor.js';
import { F32, roundUp } from '../kernels/common.js';
import { type ConvSpec, convOutputSize, emitConv, packConvWeights } from '../kernels/conv.js';
import { emitDepthwise, packDepthwiseWeights } from '../kernels/depthwise.js';
import { emitGemm, gemmPackedLength, packGemmWeights } from '../kernels/gemm.js';
import { emitIm2col } from '../kernels/im2col.js';
import { emitGlobalAvgPool } from '../kernels/pool.js';
import { emitResize, packResizeTaps } from '../kernels/resize.js';
import { type ResizeCoordinates, checkResize } from '../../../ops/resize.js';
import type { CallArg } from '../threads-work.js';
import { batchNorm } from './batch-norm.js';
import { DIRECT_CONV_TAPS, convPath, depthwiseSpec, im2colSpec, specKey } from './conv-paths.js';
import type { WasmOps } from './context.js';
import { PAD } from './staging.js';
import { flatOp, gemmRows, perImage } from './streams.js';
import { imageWork } from './thread-split.js';

/** The inference Backend of `ops`: wasm kernels where they cover the call, the reference (counted as such) elsewhere. */
export function wasmBackend(ops: WasmOps): Backend {
  return {
    name: 'wasm',
    conv2d: (x, kernel, bias, p) => conv2d(ops, x, kernel, bias, p),
    batchNorm: (x, p) => batchNorm(ops, x, p),
    activation: (x, activation) => activate(ops, x, activation),
    add: (a, b) => binary(ops, 'add', a, b, () => referenceBackend.add(a, b)),
    zeroPad2d: (x, pad) => ops.fallback('zeroPad2d', () => referenceBackend.zeroPad2d(x, pad)),
    globalAvgPool: (x) => globalAvgPool(ops, x),
    globalMaxPool: (x) => ops.fallback('globalMaxPool', () => referenceBackend.globalMaxPool(x)),
    avgPool2d: (x, p) => ops.fallback('avgPool2d', () => referenceBackend.avgPool2d(x, p)),
    maxPool2d: (x, p) => ops.fallback('maxPool2d', () => referenceBackend.maxPool2d(x, p)),
    dense: (x, kernel, bias) => dense(ops, x, kernel, bias),
    softmax: (x) => ops.fallback('softmax', () => referenceBackend.softmax(x)),
    resizeBilinear: (x, size, coordinates) => resize(ops, x, size, coordinates),
  };
}

function conv2d(ops: WasmOps, x: Tensor, kernel: Tensor, bias: Float32Array | null, p: Conv2DParams): Tensor {
  const { staging: s, split } = ops;
  const [n, oh, ow, cout] = conv2dOutputShape(x.shape, kernel.shape, bias, p);
  const [, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw] = kernel.shape as [number, number, number, number];
  const kind = convPath(x.shape, kernel.shape, p);
  const outShape = [n, oh, ow, cout];
  if (kind === 'pointwise') {
    ops.begin('conv2d');
    return new Tensor(outShape, gemmRows(ops, x.data, n * h * w, c, cout, kernel.data, bias));
  }
  if (kind === 'depthwise') {
    ops.begin('conv2d');
    const spec = depthwiseSpec(x.shape, kernel.shape, p);
    const op = split.op(`depthwise ${specKey(spec)}`, (m) => emitDepthwise(m, 'depthwise', spec), () => imageWork('depthwise', h * w * c, oh * ow * c));
    const pw = s.put(packDepthwiseWeights(spec, kernel.data, bias));
    return new Tensor(outShape, perImage(ops, x.data, n, h * w * c, oh * ow * c, op, pw));
  }
  if (kind === 'general') {
    ops.begin('conv2d');
    if (kh * kw * c <= DIRECT_CONV_TAPS && p.dilations[0] === 1 && p.dilations[1] === 1) {
      const spec: ConvSpec = { height: h, width: w, cin: c, cout, kernel: [kh, kw], strides: p.strides, padding: p.padding };
      convOutputSize(spec);
      const op = split.op(`conv ${specKey(spec)}`, (m) => emitConv(m, 'conv', spec), () => imageWork('conv', h * w * c, oh * ow * cout));
      const pw = s.put(packConvWeights(spec, kernel.data, bias));
      return new Tensor(outShape, perImage(ops, x.data, n, h * w * c, oh * ow * cout, op, pw));
    }
    // im2col then the GEMM, image by image: the packed weights, then each staged image's window rows
    const taps = kh * kw * c;
    const spec = im2colSpec(x.shape, kernel.shape, p);
    const weightFloats = roundUp(gemmPackedLength({ cin: taps, cout }), PAD);
    const col: CallArg = { pointer: 2, offset: weightFloats * F32, perUnit: oh * ow * taps * F32 };
    const op = split.op(
      `conv im2col ${specKey(spec)} ${cout}`,
      (m) => {
        emitIm2col(m, 'im2col', spec);
        emitGemm(m, 'gemm', { cin: taps, cout });
      },
      () => ({
        kind: 'split',
        grain: 1,
        calls: [
          { kernel: 'im2col', args: [{ pointer: 0, perUnit: h * w * c * F32 }, col], unitScale: 1 },
          { kernel: 'gemm', args: [col, { pointer: 2 }, { pointer: 1, perUnit: oh * ow * cout * F32 }], unitScale: oh * ow, tail: [0] },
        ],
      }),
    );
    // zeroed once: im2col leaves the padding taps alone, and they sit in the same places for every image
    const pw = s.zeros(weightFloats + Math.min(split.imagesPerStage(h * w * c + oh * ow * cout), n) * oh * ow * taps);
    s.heap().set(packGemmWeights({ cin: taps, cout }, kernel.data, bias), pw >> 2);
    return new Tensor(outShape, perImage(ops, x.data, n, h * w * c, oh * ow * cout, op, pw));
  }
  return ops.fallback('conv2d', () => referenceBackend.conv2d(x, kernel, bias, p));
}

function activate(ops: WasmOps, x: Tensor, activation: Activation): Tensor {
  if (activation === 'linear') return x;
  ops.begin('activation');
  return new Tensor(x.shape, flatOp(ops, activation, [x.data]));
}

/** An element-wise op of two same-shaped tensors (`add`, `mul`); `reference` handles anything else. */
export function binary(ops: WasmOps, op: 'add' | 'mul', a: Tensor, b: Tensor, reference: () => Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) return ops.fallback(op, reference);
  ops.begin(op);
  return new Tensor(a.shape, flatOp(ops, op, [a.data, b.data]));
}

function globalAvgPool(ops: WasmOps, x: Tensor): Tensor {
  const split = ops.split;
  if (x.rank !== 4 || x.size === 0) return ops.fallback('globalAvgPool', () => referenceBackend.globalAvgPool(x));
  const [n, h, w, c] = x.shape as [number, number, number, number];
  ops.begin('globalAvgPool');
  const op = split.op(`globalAvgPool ${h * w} ${c}`, (m) => emitGlobalAvgPool(m, 'pool', { pixels: h * w, channels: c }), () => ({
    kind: 'split',
    grain: 1,
    calls: [{ kernel: 'pool', args: [{ pointer: 0, perUnit: h * w * c * F32 }, { pointer: 1, perUnit: c * F32 }], unitScale: 1 }],
  }));
  return new Tensor([n, c], perImage(ops, x.data, n, h * w * c, c, op, 0));
}

/** Bilinear resize image by image (threads split the images); its backward stays on the reference op. */
function resize(ops: WasmOps, x: Tensor, size: readonly [number, number], coordinates: ResizeCoordinates): Tensor {
  checkResize('resizeBilinear', x.shape, size, coordinates);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [th, tw] = size;
  const spec = { inShape: [h, w, c] as const, size, coordinates };
  ops.begin('resizeBilinear');
  const op = ops.split.op(`resize ${h} ${w} ${c} ${th} ${tw} ${coordinates}`, (m) => emitResize(m, 'resize', spec), () => ({
    kind: 'split',
    grain: 1,
    calls: [{ kernel: 'resize', args: [{ pointer: 0, perUnit: h * w * c * F32 }, { pointer: 2 }, { pointer: 1, perUnit: th * tw * c * F32 }], unitScale: 1 }],
  }));
  const taps = ops.staging.put(packResizeTaps(spec));
  return new Tensor([n, th, tw, c], perImage(ops, x.data, n, h * w * c, th * tw * c, op, taps));
}

function dense(ops: WasmOps, x: Tensor, kernel: Tensor, bias: Float32Array | null): Tensor {
  if (!denseFits(x, kernel) || (bias && bias.length !== kernel.shape[1]) || x.size === 0) return ops.fallback('dense', () => referenceBackend.dense(x, kernel, bias));
  const [n, k] = x.shape as [number, number];
  const units = kernel.shape[1];
  ops.begin('dense');
  return new Tensor([n, units], gemmRows(ops, x.data, n, k, units, kernel.data, bias));
}

function denseFits(x: Tensor, kernel: Tensor): boolean {
  return x.rank === 2 && kernel.rank === 2 && kernel.shape[0] === x.shape[1];
}
