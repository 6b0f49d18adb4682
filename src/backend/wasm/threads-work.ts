// The work of one engine step as every thread runs it: plain data (posted to workers once) describing a
// kernel call, and its binding to one thread's kernels, which runs part k of n: pixel ranges, images, row bands or grains.

import { ConfigError } from '../../errors.js';
import type { Kernel, WasmRuntime } from './runtime.js';
import { createChainRunner } from './kernels/chain.js';
import type { ChainWeights } from './kernels/chain.js';
import { F32 } from './kernels/common.js';

/** A 1×1 convolution or dense layer: the GEMM over every pixel of the batch, split by pixel ranges. */
export interface GemmWork {
  kind: 'gemm';
  /** Export name of `emitGemm`'s `(x, w, y, pixels, residual)`. */
  kernel: string;
  weights: number;
  cin: number;
  cout: number;
  /** Pixels per image (1 for a dense layer). */
  pixels: number;
  residual: boolean;
  /** Elements from one output pixel to the next, where it writes a channel slice of a wider tensor; default `cout`. */
  outputStride?: number;
  /** Bytes per element of its tensors: 4 (float32, the default) or 1 (int8). */
  elementBytes?: number;
  /** Bytes of one packed block of `channelSplit.blockChannels` output channels; default the float GEMM's (bias and one row per input). */
  blockBytes?: number;
  /**
   * For batches with few pixels per part (`byChannels`): parts take ranges of the packed output-channel
   * blocks instead, each with a kernel for its channel count (`emitGemm` with the full output and
   * residual strides), keyed by that count. Null: split by pixels only.
   */
  channelSplit: { blockChannels: number; kernels: Record<number, string> } | null;
}

/** A depthwise or stem convolution (or a resize) over whole images, split by images and output rows. */
export interface WindowWork {
  kind: 'window';
  op: 'depthwise' | 'conv' | 'resize';
  /** Whole images: `(x, w, y, batch)`; null: the row kernel runs every row. */
  kernel: string | null;
  /**
   * Output rows, for parts that hold part of an image: depthwise `(row0 … row[kh−1], w, y)` (rows.ts'
   * `emitDepthwiseRow`), conv and resize `(x, w, y, firstRow, rowCount)` (`emitConvRows`, `emitResizeRows`). Null where one thread runs it all.
   */
  rowKernel: string | null;
  weights: number;
  inShape: readonly [number, number, number];
  outShape: readonly [number, number, number];
  kernelHeight: number;
  strideHeight: number;
  /** Input rows between a depthwise window's adjacent taps (1 for a stem conv). */
  dilationHeight: number;
  padTop: number;
  /** A row of at least `inShape[1]·inShape[2]` zeros, standing for input rows in the vertical padding (depthwise rows). */
  zeroRow: number;
  /** Bytes per element of its tensors: 4 (float32, the default) or 1 (int8). */
  elementBytes?: number;
}

/** A row-streamed chain (kernels/chain.ts), split by bands of output rows; each thread has its own row buffers. */
export interface ChainWork {
  kind: 'chain';
  weights: ChainWeights;
  /** Thread t's row buffers start at `scratch + t·scratchStride`. */
  scratch: number;
  scratchStride: number;
}

/** A pointer argument of a `SplitWork` call: one of the dispatch's pointers, moved on per unit of the part's share and per part. */
export interface CallArg {
  /** 0, 1, 2: the dispatch's input, output or residual pointer. */
  pointer: 0 | 1 | 2;
  /** Bytes added to it, then per unit before the part's first, then per part (a part's own accumulator). */
  offset?: number;
  perUnit?: number;
  perPart?: number;
}

/** One kernel call of a `SplitWork`: `kernel(...args, units × unitScale, ...tail)`. */
export interface KernelCall {
  kernel: string;
  args: CallArg[];
  unitScale: number;
  tail?: number[];
}

/**
 * Kernels run in turn over a part's share of a leading axis (GEMM rows, images) of `batch` units, in whole
 * grains: the training backends' ops, whose tensors move from call to call (pointers per dispatch). A part that
 * reduces over its units writes its own accumulator (`perPart`), which the caller sums in a fixed order.
 */
export interface SplitWork {
  kind: 'split';
  calls: KernelCall[];
  grain: number;
}

export type Work = GemmWork | WindowWork | ChainWork | SplitWork;

/** Runs part `part` of `parts` of a step on byte pointers (residual 0 when there is none) for `batch` images. */
export type PartRunner = (input: number, output: number, residual: number, batch: number, part: number, parts: number) => void;

/** GEMM parts get whole register tiles of pixels: a part that starts mid-tile would pay for single pixels. */
export const GEMM_GRAIN = 4;

/**
 * Below this many pixels per part, a GEMM with channel kernels splits output channels instead. The GEMM
 * streams all its weights once per 4-pixel tile (and once per leftover pixel), so few pixels make it
 * weight-bound: by channels each part streams only its share, and no part is left a lone pixel. Measured
 * on MobileNetV2's 7×7 GEMMs at batch 1, 2 threads: 1.9–2.1× one thread by channels, 1.5–1.8× by pixels.
 */
export const CHANNEL_SPLIT_PIXELS_PER_PART = 32;

/** Whether a GEMM over `pixels` pixels in `parts` parts splits output channels (see `CHANNEL_SPLIT_PIXELS_PER_PART`). */
function byChannels(work: GemmWork, pixels: number, parts: number): boolean {
  return work.channelSplit !== null && parts > 1 && pixels < CHANNEL_SPLIT_PIXELS_PER_PART * parts;
}

/** The share [start, end) of `total` units that part `part` of `parts` gets, in whole grains (the last part takes the rest). */
export function shareOf(total: number, part: number, parts: number, grain = 1): [number, number] {
  const grains = Math.ceil(total / grain);
  const start = Math.floor((grains * part) / parts) * grain;
  const end = Math.min(total, Math.floor((grains * (part + 1)) / parts) * grain);
  return [Math.min(start, total), end];
}

/** How many parts a step is worth splitting into for `batch` images: never more than its units of work. */
export function usefulParts(work: Work, batch: number, threads: number): number {
  let units: number;
  if (work.kind === 'gemm') {
    const pixels = batch * work.pixels;
    units = byChannels(work, pixels, threads) ? Math.ceil(work.cout / work.channelSplit!.blockChannels) : Math.ceil(pixels / GEMM_GRAIN);
  } else if (work.kind === 'split') {
    units = Math.ceil(batch / work.grain);
  } else {
    units = work.kind === 'window' && work.rowKernel === null ? batch : batch * outRows(work);
  }
  return Math.max(1, Math.min(threads, units));
}

/** Output channels [first, first + count) of part `part` of `parts` in a channel split: whole packed blocks, the tail block last. */
export function channelShare(cout: number, blockChannels: number, part: number, parts: number): [first: number, count: number] {
  const [start, end] = shareOf(Math.ceil(cout / blockChannels), part, parts);
  const first = start * blockChannels;
  return [first, Math.max(0, Math.min(cout, end * blockChannels) - first)];
}

function outRows(work: WindowWork | ChainWork): number {
  return work.kind === 'window' ? work.outShape[0] : work.weights.plan.outShape[0];
}

/**
 * Splits global rows [start, end) of images `rowsPerImage` rows high into runs of whole images and
 * pieces of single images, so whole images keep their whole-image kernels and only the edges go row by row.
 */
function forEachSegment(start: number, end: number, rowsPerImage: number, whole: (image: number, images: number) => void, rows: (image: number, firstRow: number, rowCount: number) => void): void {
  for (let r = start; r < end; ) {
    const image = Math.floor(r / rowsPerImage);
    const first = r - image * rowsPerImage;
    if (first === 0 && end - r >= rowsPerImage) {
      const images = Math.floor((end - r) / rowsPerImage);
      whole(image, images);
      r += images * rowsPerImage;
    } else {
      const count = Math.min(rowsPerImage - first, end - r);
      rows(image, first, count);
      r += count;
    }
  }
}

function kernelOf(kernels: Record<string, Kernel>, name: string): Kernel {
  const k = kernels[name];
  if (typeof k !== 'function') throw new ConfigError(`threads: the module has no kernel '${name}'`);
  return k;
}

/** Binds `work` to one thread's instance of the module; `thread` picks that thread's row buffers. */
export function bindWork(work: Work, kernels: Record<string, Kernel>, runtime: WasmRuntime, thread: number): PartRunner {
  switch (work.kind) {
    case 'gemm':
      return bindGemm(work, kernels);
    case 'window':
      return bindWindow(work, kernels);
    case 'chain':
      return bindChain(work, kernels, runtime, thread);
    case 'split':
      return bindSplit(work, kernels);
  }
}

function bindSplit(work: SplitWork, kernels: Record<string, Kernel>): PartRunner {
  const calls = work.calls.map((call) => {
    // the call's arguments, reused: pointers, the count, then the constants
    const args = [...call.args.map(() => 0), 0, ...(call.tail ?? [])];
    return { kernel: kernelOf(kernels, call.kernel), spec: call.args, scale: call.unitScale, args };
  });
  const pointers = [0, 0, 0];
  return (input, output, residual, batch, part, parts) => {
    const [start, end] = shareOf(batch, part, parts, work.grain);
    if (end <= start) return;
    pointers[0] = input;
    pointers[1] = output;
    pointers[2] = residual;
    for (const { kernel, spec, scale, args } of calls) {
      spec.forEach((a, i) => {
        args[i] = pointers[a.pointer] + (a.offset ?? 0) + start * (a.perUnit ?? 0) + part * (a.perPart ?? 0);
      });
      args[spec.length] = (end - start) * scale;
      kernel.apply(null, args);
    }
  };
}

function bindGemm(work: GemmWork, kernels: Record<string, Kernel>): PartRunner {
  const gemm = kernelOf(kernels, work.kernel);
  const element = work.elementBytes ?? F32;
  const inBytes = work.cin * element;
  const outBytes = work.cout * element;
  const outPixelBytes = (work.outputStride ?? work.cout) * element;
  const split = work.channelSplit;
  const channelKernels = split && Object.fromEntries(Object.entries(split.kernels).map(([count, name]) => [count, kernelOf(kernels, name)]));
  // a float packed block: its bias, then a row of its width per input channel
  const blockBytes = split ? (work.blockBytes ?? split.blockChannels * (1 + work.cin) * F32) : 0;
  return (input, output, residual, batch, part, parts) => {
    const pixels = batch * work.pixels;
    if (split && channelKernels && byChannels(work, pixels, parts)) {
      const [first, count] = channelShare(work.cout, split.blockChannels, part, parts);
      if (count === 0) return;
      const kernel = channelKernels[count];
      if (!kernel) throw new ConfigError(`threads: no GEMM kernel for ${count} of ${work.cout} output channels`);
      kernel(input, work.weights + (first / split.blockChannels) * blockBytes, output + first * element, pixels, work.residual ? residual + first * element : 0);
      return;
    }
    const [start, end] = shareOf(pixels, part, parts, GEMM_GRAIN);
    if (end <= start) return;
    gemm(input + start * inBytes, work.weights, output + start * outPixelBytes, end - start, work.residual ? residual + start * outBytes : 0);
  };
}

function bindWindow(work: WindowWork, kernels: Record<string, Kernel>): PartRunner {
  const [inH, inW, inC] = work.inShape;
  const [outH, outW, outC] = work.outShape;
  const element = work.elementBytes ?? F32;
  const inRowBytes = inW * inC * element;
  const outRowBytes = outW * outC * element;
  const inImageBytes = inH * inRowBytes;
  const outImageBytes = outH * outRowBytes;
  if (work.rowKernel === null) {
    if (work.kernel === null) throw new ConfigError('threads: a window step needs a whole-image kernel, a row kernel, or both');
    const whole = kernelOf(kernels, work.kernel);
    // whole images only: parts split the batch
    return (input, output, _residual, batch, part, parts) => {
      const [start, end] = shareOf(batch, part, parts);
      if (end > start) whole(input + start * inImageBytes, work.weights, output + start * outImageBytes, end - start);
    };
  }
  const rowKernel = kernelOf(kernels, work.rowKernel);
  const { kernelHeight, strideHeight, dilationHeight, padTop, zeroRow } = work;
  // the depthwise row kernel's arguments, reused: kh row pointers, weights, output row
  const args = new Array<number>(kernelHeight + 2).fill(0);
  args[kernelHeight] = work.weights;
  const rows =
    work.op !== 'depthwise'
      ? (image: number, out: number, first: number, count: number): void => rowKernel(image, work.weights, out + first * outRowBytes, first, count)
      : (image: number, out: number, first: number, count: number): void => {
          for (let oy = first; oy < first + count; oy++) {
            for (let ky = 0; ky < kernelHeight; ky++) {
              const r = oy * strideHeight - padTop + ky * dilationHeight;
              args[ky] = r < 0 || r >= inH ? zeroRow : image + r * inRowBytes;
            }
            args[kernelHeight + 1] = out + oy * outRowBytes;
            rowKernel.apply(null, args);
          }
        };
  const whole = work.kernel === null ? null : kernelOf(kernels, work.kernel);
  const images = (image: number, count: number): void => {
    if (whole) whole(input0 + image * inImageBytes, work.weights, output0 + image * outImageBytes, count);
    else for (let b = image; b < image + count; b++) rows(input0 + b * inImageBytes, output0 + b * outImageBytes, 0, outH);
  };
  const someRows = (image: number, first: number, count: number): void => rows(input0 + image * inImageBytes, output0 + image * outImageBytes, first, count);
  // the current call's tensors, for the segment callbacks made once here rather than per call
  let input0 = 0;
  let output0 = 0;
  return (input, output, _residual, batch, part, parts) => {
    const [start, end] = shareOf(batch * outH, part, parts);
    input0 = input;
    output0 = output;
    forEachSegment(start, end, outH, images, someRows);
  };
}

function bindChain(work: ChainWork, kernels: Record<string, Kernel>, runtime: WasmRuntime, thread: number): PartRunner {
  const runner = createChainRunner(runtime, kernels, work.weights, work.scratch + thread * work.scratchStride);
  const outH = work.weights.plan.outShape[0];
  let input0 = 0;
  let output0 = 0;
  const images = (image: number, count: number): void => {
    for (let b = image; b < image + count; b++) runner.runRows(input0, output0, b, 0, outH);
  };
  const someRows = (image: number, first: number, count: number): void => runner.runRows(input0, output0, image, first, count);
  return (input, output, _residual, batch, part, parts) => {
    const [start, end] = shareOf(batch * outH, part, parts);
    input0 = input;
    output0 = output;
    forEachSegment(start, end, outH, images, someRows);
  };
}
