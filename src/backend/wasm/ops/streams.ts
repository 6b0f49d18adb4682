// Streaming tensors through the ops backend's scratch arena: GEMMs by rows, per-image kernels by images,
// element-wise kernels by chunks and per-channel kernels by pixel blocks, each a cache-sized chunk at a time.

import type { Kernel } from '../runtime.js';
import { type ChannelSpec, channelBlocks, channelRow, emitChannelKernels } from '../kernels/channels.js';
import { F32, LANES, roundUp } from '../kernels/common.js';
import { emitGemm, packGemmWeights } from '../kernels/gemm.js';
import { emitGemmTN, gemmTNChunk } from '../kernels/gemm-tn.js';
import { GEMM_GRAIN } from '../threads-work.js';
import type { WasmOps } from './context.js';
import { PAD, STAGE_FLOATS, each } from './staging.js';
import type { SplitOp } from './thread-split.js';

/** out[rows × cout] = src[rows × cin]·W + bias (W row-major [cin × cout]), a chunk of rows at a time. */
export function gemmRows(ops: WasmOps, src: Float32Array, rows: number, cin: number, cout: number, kernel: Float32Array, bias: Float32Array | null): Float32Array {
  const { staging: s, split } = ops;
  const op = split.op(`gemm ${cin} ${cout}`, (m) => emitGemm(m, 'gemm', { cin, cout }), () => ({
    kind: 'split',
    grain: GEMM_GRAIN,
    calls: [{ kernel: 'gemm', args: [{ pointer: 0, perUnit: cin * F32 }, { pointer: 2 }, { pointer: 1, perUnit: cout * F32 }], unitScale: 1, tail: [0] }],
  }));
  const w = s.put(packGemmWeights({ cin, cout }, kernel, bias));
  const step = split.rowsPerStage(Math.max(GEMM_GRAIN, Math.floor(STAGE_FLOATS / Math.max(cin, cout) / GEMM_GRAIN) * GEMM_GRAIN));
  const px = s.alloc(Math.min(step, rows) * cin);
  const py = s.alloc(Math.min(step, rows) * cout);
  const out = ops.outputs.output(rows * cout);
  each(rows, step, (start, count) => {
    s.stageIn(px, src, start * cin, count * cin);
    split.run(op, count, px, py, w);
    s.stageOut(py, out, start * cout, count * cout);
  });
  return out;
}

/**
 * dW[cin × cout] = Σ over rows of x[row]ᵀ·dy[row], a chunk of rows at a time; with threads, each thread sums
 * its whole kernel chunks of every staged chunk into its own dW, and those are added in thread order.
 */
export function gemmTNRows(ops: WasmOps, x: Float32Array, dy: Float32Array, rows: number, cin: number, cout: number): Float32Array {
  const { staging: s, split } = ops;
  const chunk = gemmTNChunk({ cin, cout });
  const accFloats = roundUp(cin * cout, PAD);
  const op = split.op(`gemmTN ${cin} ${cout}`, (m) => emitGemmTN(m, 'gemmTN', { cin, cout }), () => ({
    kind: 'split',
    grain: chunk,
    calls: [{ kernel: 'gemmTN', args: [{ pointer: 0, perUnit: cin * F32 }, { pointer: 2, perUnit: cout * F32 }, { pointer: 1, perPart: accFloats * F32 }], unitScale: 1 }],
  }));
  const step = split.rowsPerStage(chunk);
  const parts = split.parts(op, Math.min(step, rows));
  const dw = s.zeros(parts * accFloats);
  const px = s.alloc(Math.min(step, rows) * cin);
  const pg = s.alloc(Math.min(step, rows) * cout);
  each(rows, step, (start, count) => {
    s.stageIn(px, x, start * cin, count * cin);
    s.stageIn(pg, dy, start * cout, count * cout);
    split.run(op, count, px, dw, pg);
  });
  split.sumParts(dw, cin * cout, accFloats, parts);
  return s.read(dw, cin * cout);
}

/**
 * Runs a per-image split op over the batch a few images at a time (a few per thread): `src` holds `inPer` floats
 * per image, the result `outPer`; `third` is the op's third pointer (its weights); `zeroOut` clears the output
 * chunk first (accumulating kernels).
 */
export function perImage(ops: WasmOps, src: Float32Array, images: number, inPer: number, outPer: number, op: SplitOp, third: number, zeroOut = false): Float32Array {
  const { staging: s, split } = ops;
  const step = split.imagesPerStage(inPer + outPer);
  const pin = s.alloc(Math.min(step, images) * inPer);
  const pout = s.alloc(Math.min(step, images) * outPer);
  const out = ops.outputs.output(images * outPer);
  each(images, step, (start, count) => {
    s.stageIn(pin, src, start * inPer, count * inPer);
    if (zeroOut) s.heap().fill(0, pout >> 2, (pout >> 2) + count * outPer);
    split.run(op, count, pin, pout, third);
    s.stageOut(pout, out, start * outPer, count * outPer);
  });
  return out;
}

/** An element-wise kernel `run(inputs…, out, vectors)` over same-sized arrays, a chunk at a time. */
export function flatOp(ops: WasmOps, op: string, inputs: Float32Array[]): Float32Array {
  const s = ops.staging;
  const size = inputs[0].length;
  const k = ops.flat[op];
  const step = Math.min(STAGE_FLOATS, roundUp(Math.max(size, 1), LANES));
  const pins = inputs.map(() => s.alloc(step));
  const pout = s.alloc(step);
  const out = ops.outputs.output(size);
  each(size, step, (start, count) => {
    inputs.forEach((t, i) => s.stageIn(pins[i], t, start, count));
    k(...pins, pout, Math.ceil(count / LANES));
    s.stageOut(pout, out, start, count);
  });
  return out;
}

/** The per-channel kernels for `channels`, with the pixel block and chunk that suit that width. */
export function channelOps(ops: WasmOps, channels: number): { k: Record<string, Kernel>; spec: ChannelSpec; chunk: number; row: number } {
  const block = Math.min(256, Math.max(1, Math.floor(STAGE_FLOATS / channels)));
  const spec: ChannelSpec = { channels, block };
  const k = ops.cache.kernels(`channels ${channels} ${block}`, (m) => emitChannelKernels(m, '', spec));
  return { k, spec, chunk: block * Math.max(1, Math.floor(STAGE_FLOATS / (channels * block))), row: channelRow(spec) };
}

/** Runs `run(pointers, first, count)` on each staged chunk of pixels (see `pixelStreamer`). */
export type PixelStream = (run: (pointers: number[], first: number, count: number) => void) => void;

/**
 * Streams the pixels of NHWC tensors through wasm memory in chunks of whole blocks: `run(pointers, first, count)`
 * gets the staged chunk of each tensor in `tensors`; a single-chunk tensor is staged once and stays for later passes.
 */
export function pixelStreamer(ops: WasmOps, tensors: Float32Array[], channels: number, chunk: number): PixelStream {
  const s = ops.staging;
  const pixels = tensors[0].length / channels;
  const pointers = tensors.map(() => s.alloc(Math.min(chunk, pixels) * channels));
  let staged = -1;
  return (run) => {
    each(pixels, chunk, (start, count) => {
      if (staged !== start) tensors.forEach((t, i) => s.stageIn(pointers[i], t, start * channels, count * channels));
      staged = pixels <= chunk ? start : -1;
      run(pointers, start, count);
    });
  };
}

/** Float64 sums of the rows of per-block partial sums at `pointer`. */
export function sumRows(ops: WasmOps, pointer: number, spec: ChannelSpec, pixels: number): Float64Array {
  const row = channelRow(spec);
  const rows = channelBlocks(spec, pixels);
  const heap = ops.staging.heap();
  const out = new Float64Array(spec.channels);
  for (let r = 0, at = pointer >> 2; r < rows; r++, at += row) for (let i = 0; i < spec.channels; i++) out[i] += heap[at + i];
  return out;
}
