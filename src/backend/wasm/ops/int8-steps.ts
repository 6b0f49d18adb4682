// The engine's phases of the steps that touch int8 tensors: the int8 plan steps (quantize, dequantize, requantize, qadd,
// pools, qconv, qdense, qchain) and the steps without a q-form on int8 data (clamp, pad, concat, max pools).

import type { ConcatStep, PadStep, QChainStep, QConvStep, QDenseStep, Step } from '../../../graph/plan.js';
import { convKind } from '../../../ops/conv-kind.js';
import { clampRange } from '../../../quant/qparams.js';
import { emitDequantize, emitInt8Clamp, emitQuantize } from '../kernels/int8-elementwise.js';
import { emitInt8Gemm, int8GemmBlockBytes, packInt8GemmWeights } from '../kernels/int8-gemm.js';
import type { Int8GemmSpec } from '../kernels/int8-gemm.js';
import { emitInt8AvgPool, emitInt8MaxPool } from '../kernels/int8-pool.js';
import { emitInt8Add, emitInt8GlobalAvgPool, emitInt8Requantize, packAdd, packGlobalAvgPool, packRequantize } from '../kernels/int8-rescale.js';
import type { Kernel } from '../runtime.js';
import type { Work } from '../threads-work.js';
import { GEMM_TILE, channelSplit, tensorPlaces } from './phase.js';
import type { Compiler, Phase, Place, SerialRun } from './phase.js';
import { emitInt8Depthwise, emitInt8DepthwiseRow, packInt8DepthwiseWeights } from '../kernels/int8-depthwise.js';
import { emitInt8Im2col } from '../kernels/int8-im2col.js';
import { emitInt8ChainKernels, int8ConvWeights, packInt8Chain, planInt8Chain, uploadBytes } from '../kernels/int8-chain.js';

/** Whether `step` reads or writes an int8 tensor (or is an int8 plan step): `compileInt8Step` compiles it. */
export function touchesInt8(step: Step, c: Compiler): boolean {
  return [...step.inputs, step.output].some((t) => c.plan.tensors[t].quant !== undefined);
}

/** Bytes per element of plan tensor `t`: 1 for int8, 4 for float32. */
function elementBytes(c: Compiler, t: number): number {
  return c.plan.tensors[t].quant ? 1 : 4;
}

/**
 * Work for a kernel `(x, y, images, ...constants)` (with `second`, `(x, second, y, images, ...constants)`: the step's
 * inputs[1], in the phase's residual place) split by whole images across threads.
 */
function imageWork(c: Compiler, kernel: string, step: Step, constants: number[] = [], second = false): Work {
  const perImage = (t: number): number => c.plan.tensors[t].size * elementBytes(c, t);
  const input = { pointer: 0, perUnit: perImage(step.inputs[0]) } as const;
  const output = { pointer: 1, perUnit: perImage(step.output) } as const;
  const args = second ? [input, { pointer: 2, perUnit: perImage(step.inputs[1]) } as const, output] : [input, output];
  return { kind: 'split', grain: 1, calls: [{ kernel, args, unitScale: 1, tail: constants }] };
}

/**
 * An int8 depthwise convolution on whole images, or with threads on output rows (the row kernel reads the same packed weights);
 * rows in the vertical padding read a row of the input's zero point.
 */
function compileInt8Depthwise(step: QConvStep, name: string, c: Compiler): Work {
  const [kh, kw] = step.kernelShape;
  const [h, w, channels] = step.inShape;
  const { strides, dilations, padding } = step.conv;
  emitInt8Depthwise(c.mod, name, { height: h, width: w, channels, kernel: [kh, kw], strides, dilations, padding });
  const rowKernel = c.rowKernels ? `${name}_rows` : null;
  if (rowKernel) emitInt8DepthwiseRow(c.mod, rowKernel, { width: w, channels, kernel: [kh, kw], stride: strides[1], dilation: dilations[1], padLeft: padding[2], padRight: padding[3] });
  const weights = uploadBytes(c.runtime, packInt8DepthwiseWeights({ channels, kernel: [kh, kw] }, int8ConvWeights(step)));
  const zeroRow = rowKernel ? uploadBytes(c.runtime, new Uint8Array(w * channels).fill(step.inputZeroPoint & 0xff)) : 0;
  return { kind: 'window', op: 'depthwise', kernel: name, rowKernel, weights, inShape: step.inShape, outShape: step.outShape, kernelHeight: kh, strideHeight: strides[0], dilationHeight: dilations[0], padTop: padding[0], zeroRow, elementBytes: 1 };
}

/**
 * A standard int8 convolution (a stem) as int8 im2col into `rows` (the step's scratch) on the calling thread (taps in the
 * padding hold the input's zero point), then the int8 GEMM of those window rows with the HWIO kernel, split across threads.
 * `places`: its input and output; `markers`: the tensors the serial phase's `at` names its input and output by.
 */
function compileInt8Im2col(step: QConvStep, index: number, c: Compiler, name: string, places: readonly [Place, Place], [rows, markers]: readonly [Place, readonly [number, number]]): Phase[] {
  const [kh, kw, cin, cout] = step.kernelShape;
  const [h, w] = step.inShape;
  const { strides, dilations, padding } = step.conv;
  const pixels = step.outShape[0] * step.outShape[1];
  emitInt8Im2col(c.mod, `${name}_im2col`, { height: h, width: w, cin, kernel: [kh, kw], strides, dilations, padding, zeroPoint: step.inputZeroPoint });
  const work = compileInt8Gemm(step, name, c, kh * kw * cin, cout, pixels);
  // the serial phase's output place is the rows: `at(markers[1])` points there during it
  const layout = (k: Record<string, Kernel>): SerialRun => (at, batch) => k[`${name}_im2col`](at(markers[0]), at(markers[1]), batch);
  return [
    { step: index, places: [places[0], rows, null], tensors: markers, work: null, serial: layout, native: true },
    { step: index, places: [rows, places[1], null], tensors: [-1, -1], work, serial: null, native: true },
  ];
}

/** A row-streamed int8 chain (paper §5.1): the stem's and expansion's rows in each thread's row buffers, the depthwise from them, the projection and its ADD. */
function compileInt8Chain(step: QChainStep, index: number, c: Compiler): Phase[] {
  const plan = planInt8Chain(step.stages, { prefix: `step${index}` });
  emitInt8ChainKernels(c.mod, plan);
  const work: Work = { kind: 'chain', weights: packInt8Chain(c.runtime, plan, step.stages), scratch: c.chainScratch, scratchStride: c.rowBytesPerThread };
  return [{ step: index, places: tensorPlaces(step), tensors: [step.inputs[0], step.output], work, serial: null, native: true }];
}

/**
 * A 1×1 int8 convolution or dense layer as the int8 GEMM over every pixel (image, for dense) of the batch, weights packed
 * once; threads split pixels, or output channels where the batch has few pixels (as the float GEMM does).
 */
function compileInt8Gemm(step: QConvStep | QDenseStep, name: string, c: Compiler, cin: number, cout: number, pixels: number): Work {
  const residual = step.op === 'qconv' && step.residual !== null;
  const spec: Int8GemmSpec = { cin, cout, residual, tile: GEMM_TILE };
  emitInt8Gemm(c.mod, name, spec);
  const weights = uploadBytes(c.runtime, packInt8GemmWeights(spec, step.op === 'qconv' ? int8ConvWeights(step) : { kernel: step.kernel, bias: step.bias, inputZeroPoint: step.inputZeroPoint, requant: step.requant }));
  const split = channelSplit(c, name, spec, pixels, emitInt8Gemm);
  return { kind: 'gemm', kernel: name, weights, cin, cout, pixels, residual, elementBytes: 1, blockBytes: int8GemmBlockBytes(spec), channelSplit: split };
}

/** The phases of a step that touches int8 tensors, or null where the engine has no kernel for it (the caller falls back). */
export function compileInt8Step(step: Step, index: number, c: Compiler): Phase[] | null {
  const name = `step${index}`;
  const tensors = [step.inputs[0], step.output] as const;
  const input = c.plan.tensors[step.inputs[0]];
  const output = c.plan.tensors[step.output];
  const phase = (work: Work): Phase[] => [{ step: index, places: tensorPlaces(step), tensors, work, serial: null, native: true }];
  const serial = (run: (k: Record<string, Kernel>) => SerialRun): Phase[] => [{ step: index, places: tensorPlaces(step), tensors, work: null, serial: run, native: true }];
  switch (step.op) {
    case 'quantize':
      emitQuantize(c.mod, name, { size: input.size, params: output.quant! });
      return phase(imageWork(c, name, step));
    case 'dequantize':
      emitDequantize(c.mod, name, { size: input.size, params: input.quant! });
      return phase(imageWork(c, name, step));
    case 'clamp':
      // equal parameters in and out: the clamp's reals map to one int8 interval
      emitInt8Clamp(c.mod, name, { size: input.size, range: clampRange(step.clamp, input.quant!) });
      return phase(imageWork(c, name, step));
    case 'maxPool':
    case 'globalMaxPool':
    case 'qavgPool': {
      const [height, width, channels] = input.shape;
      const pool = 'pool' in step ? step.pool : null;
      if (pool?.dilations.some((d) => d !== 1)) return null;
      const window = pool ? { kernel: pool.kernel, strides: pool.strides, padding: pool.padding } : { kernel: [height, width] as const, strides: [1, 1] as const, padding: [0, 0, 0, 0] as const };
      const spec = { height, width, channels, ...window, range: step.op === 'qavgPool' ? step.range : undefined };
      if (step.op === 'qavgPool') emitInt8AvgPool(c.mod, name, spec);
      else emitInt8MaxPool(c.mod, name, spec);
      return phase(imageWork(c, name, step));
    }
    case 'requantize': {
      const channels = input.shape.at(-1)!;
      emitInt8Requantize(c.mod, name, { size: input.size, channels, requant: step.requant });
      return phase(imageWork(c, name, step, [uploadBytes(c.runtime, packRequantize({ channels, inputZeroPoint: step.inputZeroPoint, requant: step.requant }))]));
    }
    case 'qadd': {
      emitInt8Add(c.mod, name, input.size);
      const work = imageWork(c, name, step, [uploadBytes(c.runtime, packAdd(step.add))], true);
      return [{ step: index, places: tensorPlaces(step, step.inputs[1]), tensors, work, serial: null, native: true }];
    }
    case 'qglobalAvgPool': {
      const [h, w, channels] = input.shape;
      emitInt8GlobalAvgPool(c.mod, name, { pixels: h * w, channels });
      return phase(imageWork(c, name, step, [uploadBytes(c.runtime, packGlobalAvgPool({ pixels: h * w, channels, inputZeroPoint: step.inputZeroPoint, requant: step.requant }))]));
    }
    case 'qdense':
      return phase(compileInt8Gemm(step, name, c, step.kernel.length / step.units, step.units, 1));
    case 'qconv': {
      const [h, w, cin] = step.inShape;
      const kind = convKind(step.kernelShape, step.conv);
      if (kind === 'pointwise') {
        const work = compileInt8Gemm(step, name, c, cin, step.outShape[2], h * w);
        return [{ step: index, places: tensorPlaces(step, step.residual), tensors, work, serial: null, native: true }];
      }
      if (step.residual !== null) return null;
      if (kind === 'depthwise') return phase(compileInt8Depthwise(step, name, c));
      if (kind !== 'standard') return null;
      return compileInt8Im2col(step, index, c, name, [{ tensor: step.inputs[0] }, { tensor: step.output }], [{ scratchOf: index, floatsPerImage: 0 }, tensors]);
    }
    case 'qchain':
      return compileInt8Chain(step, index, c);
    case 'pad':
      return serial(() => padCopies(step, c));
    case 'concat':
      return serial(() => concatCopies(step, c));
    default:
      return null;
  }
}

/** Bytes of the engine's linear memory, as a view made per run (the memory may have grown since the last). */
function bytesOf(c: Compiler): Uint8Array {
  return new Uint8Array(c.runtime.memory.buffer);
}

/**
 * A pad as byte copies on the calling thread (memory-bound): the output filled with the tensor's zero (the int8 zero point,
 * or float 0), then each input row copied into its place.
 */
function padCopies(step: PadStep, c: Compiler): SerialRun {
  const [h, w, ch] = c.plan.tensors[step.inputs[0]].shape;
  const [top, , left] = step.padding;
  const [oh, ow] = c.plan.tensors[step.output].shape;
  const bytes = elementBytes(c, step.output);
  const fill = c.plan.tensors[step.output].quant?.zeroPoint ?? 0;
  const rowBytes = w * ch * bytes;
  const outRowBytes = ow * ch * bytes;
  return (at, batch) => {
    const memory = bytesOf(c);
    const [x, y] = [at(step.inputs[0]), at(step.output)];
    memory.fill(fill & 0xff, y, y + batch * oh * outRowBytes);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < h; r++) {
        const from = x + (b * h + r) * rowBytes;
        memory.copyWithin(y + (b * oh + top + r) * outRowBytes + left * ch * bytes, from, from + rowBytes);
      }
    }
  };
}

/** A concatenation of int8 tensors (equal parameters) as byte copies of each input's runs into its slice of the output's. */
function concatCopies(step: ConcatStep, c: Compiler): SerialRun {
  const total = step.blocks.reduce((a, b) => a + b, 0);
  const outer = c.plan.tensors[step.output].size / total;
  return (at, batch) => {
    const memory = bytesOf(c);
    const y = at(step.output);
    let offset = 0;
    step.blocks.forEach((block, k) => {
      const x = at(step.inputs[k]);
      for (let i = 0; i < batch * outer; i++) memory.copyWithin(y + i * total + offset, x + i * block, x + (i + 1) * block);
      offset += block;
    });
  };
}
