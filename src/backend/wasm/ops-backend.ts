// The WebAssembly training backends: the inference Backend and the GradientBackend on SIMD kernels emitted per shape
// on first use and cached; each op streams its tensors through a small, reused scratch arena, its heavy kernels split
// across worker threads where asked; the rest uses the reference.

import type { Backend } from '../backend.js';
import type { GradientBackend } from '../gradients.js';
import { referenceGradients } from '../gradients.js';
import { referenceBackend } from '../reference.js';
import type { ModuleBuilder } from './assembler.js';
import type { Kernel } from './runtime.js';
import { WasmRuntime } from './runtime.js';
import { type ConvSpec, convOutputSize, emitConv, packConvWeights } from './kernels/conv.js';
import { type DepthwiseSpec, depthwiseOutputSize, emitDepthwise, packDepthwiseWeights } from './kernels/depthwise.js';
import { depthwiseGradientLength, emitDepthwiseBackwardInput, emitDepthwiseBackwardKernel, unpackDepthwiseGradient } from './kernels/depthwise-backward.js';
import { type ChannelSpec, channelBlocks, channelRow, emitChannelKernels } from './kernels/channels.js';
import { emitElementwiseKernels } from './kernels/elementwise.js';
import { emitGemm, gemmPackedLength, packGemmWeights } from './kernels/gemm.js';
import { emitGemmTN, gemmTNChunk } from './kernels/gemm-tn.js';
import { type Im2colSpec, emitCol2im, emitIm2col } from './kernels/im2col.js';
import { emitGlobalAvgPool } from './kernels/pool.js';
import { F32, LANES, roundUp } from './kernels/common.js';
import { resolveWasmFeatures } from './options.js';
import { ThreadPool } from './threads.js';
import { GEMM_GRAIN, bindWork, usefulParts } from './threads-work.js';
import type { CallArg, PartRunner, SplitWork } from './threads-work.js';
import { ConfigError } from '../../errors.js';
import type { Activation } from '../../ops/activation.js';
import type { Conv2DParams } from '../../ops/conv2d.js';
import { conv2dOutputShape } from '../../ops/conv2d.js';
import type { BatchNormParams, BatchStatistics } from '../../ops/normalization.js';
import { Tensor, sameShape } from '../../tensor/tensor.js';

export interface WasmTrainingOptions {
  /** Fused multiply-add through relaxed SIMD; default where it validates (Node 20: after `enableWasmFeatures()`). */
  relaxedSimd?: boolean;
  /** Growth limit of the wasm memory; default 1 GiB. */
  maximumBytes?: number;
  /**
   * Threads that share the heavy kernels — GEMMs (1×1 convolutions, dense layers) forward and both gradients,
   * depthwise and stem convolutions forward and both gradients — by rows or by images: the calling thread
   * and `threads − 1` workers over one shared memory. Default 1. Where memory cannot be shared (no
   * SharedArrayBuffer; a page without cross-origin isolation) 1 is used, without error (`threadsNote` says why).
   * Kernel gradients are summed per thread over a split fixed by the shapes and the thread count, then across
   * threads in thread order: a seeded run gives the same weights every time at a given count, while counts differ
   * in the last bits of those sums. All other results are bit-identical at every count.
   */
  threads?: number;
}

/** Per op name: calls that ran on wasm kernels and calls that went to the reference. */
export interface WasmCoverage {
  wasm: Record<string, number>;
  reference: Record<string, number>;
}

export interface WasmTrainingBackends {
  backend: Backend;
  gradients: GradientBackend;
  readonly relaxedSimd: boolean;
  /** Threads the kernels run on (1 where more were asked for but memory cannot be shared). */
  readonly threads: number;
  /** Why fewer threads run than were asked for; null when all did. */
  readonly threadsNote: string | null;
  /** Which ops ran where so far. */
  coverage(): WasmCoverage;
  /**
   * Modules compiled so far, the milliseconds spent emitting and compiling them, the wasm memory's size, and
   * the kernel calls split across more than one thread.
   */
  stats(): { modules: number; compileMilliseconds: number; memoryBytes: number; parallelCalls: number };
  /**
   * Runs `body` (synchronous: a training step's forward, backward and update) and then keeps the arrays of the op
   * outputs made inside it for later ops of the same sizes, so that a step reuses the previous step's activations'
   * memory instead of allocating (and zeroing) it again. Tensors the backends returned inside `body` must not be
   * used after it returns: copy what you keep. Nested scopes are part of the outermost one.
   */
  scope<T>(body: () => T): T;
  /** Drops the compiled kernels and terminates the workers; every op of both backends throws afterwards. */
  dispose(): Promise<void>;
}

/**
 * Both training interfaces on WebAssembly SIMD. Covered: 1×1 convolutions and dense layers (GEMMs, forward and
 * both gradients), depthwise convolutions with depth multiplier 1 (any kernel, stride, padding), other groups-1
 * convolutions (the stem: direct kernel forward, im2col GEMMs backward), BatchNorm in both modes and its backward,
 * ReLU/ReLU6 and their backward, add, dropout masks, global average pooling, bias sums. Everything else (dilation,
 * other groups, windowed pooling, padding layers, softmax) runs on the reference kernels, through the same interface.
 * With `threads`, the convolutions, GEMMs and pooling split across workers (see the option); `scope` reuses a
 * step's output arrays.
 */
export async function createWasmTrainingBackends(options: WasmTrainingOptions = {}): Promise<WasmTrainingBackends> {
  const { relaxedSimd, threads, threadsNote } = resolveWasmFeatures('wasm training backends', options);
  const rt = new WasmRuntime({ maximumBytes: options.maximumBytes, shared: threads > 1 });
  const flat = rt.module({ relaxedSimd });
  emitElementwiseKernels(flat);
  const { module, kernels } = await rt.instantiateWithModule(flat);
  // the workers start with no work: each split op's module is loaded into them on the op's first use
  const pool = threads > 1 ? await ThreadPool.start(threads, rt.memory, module, []) : null;
  const ops = new WasmOps(rt, relaxedSimd, kernels, pool);
  const disposed = (): boolean => ops.disposed;
  return {
    backend: guarded(ops.backend(), disposed),
    gradients: guarded(ops.gradients(), disposed),
    relaxedSimd,
    threads,
    threadsNote,
    coverage: () => ops.coverage(),
    scope: (body) => {
      if (ops.disposed) throw new ConfigError('wasm training backends: scope after dispose()');
      return ops.scope(body);
    },
    stats: () => ({ modules: ops.modules.size, compileMilliseconds: ops.compileMs, memoryBytes: rt.memory.buffer.byteLength, parallelCalls: ops.parallelCalls }),
    dispose: async () => {
      ops.dispose();
      await pool?.dispose();
    },
  };
}

/** Floats a scratch buffer is rounded up to: whole vectors, with room for a kernel's last vector to spill. */
const PAD = 16;

/** An op's kernels over a leading axis as split work: bound on this thread, and its step in the pool's workers. */
interface SplitOp {
  work: SplitWork;
  runner: PartRunner;
  step: number | null;
}

class WasmOps {
  readonly modules = new Map<string, { module: WebAssembly.Module; kernels: Record<string, Kernel> }>();
  private readonly splits = new Map<string, SplitOp>();
  /** Op output arrays by length that finished scopes gave back. */
  private readonly freeOutputs = new Map<number, Float32Array[]>();
  /** The outputs handed out in the current scope; null outside one. */
  private scoped: Float32Array[] | null = null;
  compileMs = 0;
  parallelCalls = 0;
  private readonly base: number;
  private readonly wasmCalls: Record<string, number> = {};
  private readonly referenceCalls: Record<string, number> = {};
  private heapView: Float32Array;
  disposed = false;

  constructor(
    private readonly rt: WasmRuntime,
    private readonly relaxedSimd: boolean,
    private readonly flat: Record<string, Kernel>,
    private readonly pool: ThreadPool | null,
  ) {
    this.base = rt.used;
    this.heapView = new Float32Array(rt.memory.buffer);
  }

  coverage(): WasmCoverage {
    return { wasm: { ...this.wasmCalls }, reference: { ...this.referenceCalls } };
  }

  dispose(): void {
    this.disposed = true;
    this.modules.clear();
    this.splits.clear();
    this.freeOutputs.clear();
  }

  // ---- op outputs ----

  /** An op's output, every float of which the op writes: inside a scope, an array a finished scope gave back. */
  private output(length: number): Float32Array {
    if (this.scoped === null) return new Float32Array(length);
    const out = this.freeOutputs.get(length)?.pop() ?? new Float32Array(length);
    this.scoped.push(out);
    return out;
  }

  scope<T>(body: () => T): T {
    if (this.scoped !== null) return body();
    const handed: Float32Array[] = [];
    this.scoped = handed;
    let result: T;
    try {
      result = body();
    } catch (e) {
      this.scoped = null;
      this.recycle(handed);
      throw e;
    }
    this.scoped = null;
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      // its outputs may still be in use: they are left to the garbage collector
      throw new ConfigError('wasm training backends: scope() needs a synchronous body (it returned a promise)');
    }
    this.recycle(handed);
    return result;
  }

  private recycle(arrays: Float32Array[]): void {
    for (const a of arrays) {
      let free = this.freeOutputs.get(a.length);
      if (!free) this.freeOutputs.set(a.length, (free = []));
      free.push(a);
    }
  }

  // ---- kernels, threads and scratch memory ----

  /** The module for `key`, emitted and compiled on first use (small modules compile synchronously everywhere). */
  private compiled(key: string, emit: (m: ModuleBuilder) => void): { module: WebAssembly.Module; kernels: Record<string, Kernel> } {
    let k = this.modules.get(key);
    if (!k) {
      const start = performance.now();
      const m = this.rt.module({ relaxedSimd: this.relaxedSimd });
      emit(m);
      k = this.rt.instantiateSyncWithModule(m);
      this.compileMs += performance.now() - start;
      this.modules.set(key, k);
    }
    return k;
  }

  private kernels(key: string, emit: (m: ModuleBuilder) => void): Record<string, Kernel> {
    return this.compiled(key, emit).kernels;
  }

  private get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** The split op `key` (its work a function of the key alone): compiled, bound here, and loaded into the workers on first use. */
  private splitOp(key: string, emit: (m: ModuleBuilder) => void, work: () => SplitWork): SplitOp {
    let op = this.splits.get(key);
    if (!op) {
      const { module, kernels } = this.compiled(key, emit);
      const w = work();
      op = { work: w, runner: bindWork(w, kernels, this.rt, 0), step: this.pool ? this.pool.load(module, [w]) : null };
      this.splits.set(key, op);
    }
    return op;
  }

  /** Parts `units` units of `op` split into: a function of the shapes and the thread count only, never of timing. */
  private partsOf(op: SplitOp, units: number): number {
    return this.pool ? usefulParts(op.work, units, this.pool.threads) : 1;
  }

  /** Runs `op` over `units` units on its three pointers, across the threads where it splits. */
  private runSplit(op: SplitOp, units: number, input: number, output: number, third: number): void {
    const parts = this.partsOf(op, units);
    if (parts > 1) {
      this.parallelCalls++;
      this.pool!.runAt(op.step!, input, output, third, units, parts, op.runner);
    } else op.runner(input, output, third, units, 0, 1);
  }

  /** Adds the per-part accumulators of `floats` floats at `pointer` (`stride` floats apart) into the first, in part order. */
  private sumParts(pointer: number, floats: number, stride: number, parts: number): void {
    for (let p = 1; p < parts; p++) this.flat.add(pointer, pointer + p * stride * F32, pointer, roundUp(floats, LANES) / LANES);
  }

  /** Images per staged chunk of a per-image op that moves `floats` floats per image: a cache-sized share per thread. */
  private imagesPerStage(floats: number): number {
    return imagesPerChunk(floats) * this.threads;
  }

  /**
   * Rows per staged chunk of a GEMM whose one-thread chunk is `rows`: with threads, `ROW_CHUNKS_PER_THREAD` such
   * chunks per thread, so that each dispatch's fixed cost is spread over more work.
   */
  private rowsPerStage(rows: number): number {
    return this.threads === 1 ? rows : rows * this.threads * ROW_CHUNKS_PER_THREAD;
  }

  /** Starts an op: all scratch of the previous op is free again, so memory stays at the largest op's need. */
  private begin(op: string): void {
    this.rt.reset(this.base);
    this.wasmCalls[op] = (this.wasmCalls[op] ?? 0) + 1;
  }

  private alloc(floats: number): number {
    return this.rt.allocF32(roundUp(Math.max(floats, 1), PAD));
  }

  /** All of wasm memory as floats; re-made after the memory grew (growth detaches the old view). */
  private heap(): Float32Array {
    if (this.heapView.buffer !== this.rt.memory.buffer) this.heapView = new Float32Array(this.rt.memory.buffer);
    return this.heapView;
  }

  private put(data: Float32Array): number {
    const p = this.alloc(data.length);
    this.heap().set(data, p >> 2);
    return p;
  }

  private zeros(floats: number): number {
    const p = this.alloc(floats);
    this.heap().fill(0, p >> 2, (p >> 2) + roundUp(Math.max(floats, 1), PAD));
    return p;
  }

  /** A per-channel parameter row, zero-padded to whole vectors. */
  private putRow(values: ArrayLike<number>): number {
    const p = this.alloc(values.length);
    this.writeRow(p, values);
    return p;
  }

  private writeRow(pointer: number, values: ArrayLike<number>): void {
    const heap = this.heap();
    const at = pointer >> 2;
    heap.fill(0, at, at + roundUp(values.length, LANES));
    for (let i = 0; i < values.length; i++) heap[at + i] = values[i];
  }

  /** Copies `count` floats of `src` from `from` into wasm memory at `pointer`. */
  private stageIn(pointer: number, src: Float32Array, from: number, count: number): void {
    this.heap().set(src.subarray(from, from + count), pointer >> 2);
  }

  /** Copies `count` floats at `pointer` into `dst` at `at`. */
  private stageOut(pointer: number, dst: Float32Array, at: number, count: number): void {
    const p = pointer >> 2;
    dst.set(this.heap().subarray(p, p + count), at);
  }

  /** A copy out of wasm memory. */
  private read(pointer: number, floats: number): Float32Array {
    const out = new Float32Array(floats);
    this.stageOut(pointer, out, 0, floats);
    return out;
  }

  private fallback<T>(op: string, run: () => T): T {
    this.referenceCalls[op] = (this.referenceCalls[op] ?? 0) + 1;
    return run();
  }

  // ---- streaming through wasm memory ----

  /** out[rows × cout] = src[rows × cin]·W + bias (W row-major [cin × cout]), a chunk of rows at a time. */
  private gemmRows(src: Float32Array, rows: number, cin: number, cout: number, kernel: Float32Array, bias: Float32Array | null): Float32Array {
    const op = this.splitOp(`gemm ${cin} ${cout}`, (m) => emitGemm(m, 'gemm', { cin, cout }), () => ({
      kind: 'split',
      grain: GEMM_GRAIN,
      calls: [{ kernel: 'gemm', args: [{ pointer: 0, perUnit: cin * F32 }, { pointer: 2 }, { pointer: 1, perUnit: cout * F32 }], unitScale: 1, tail: [0] }],
    }));
    const w = this.put(packGemmWeights({ cin, cout }, kernel, bias));
    const step = this.rowsPerStage(Math.max(GEMM_GRAIN, Math.floor(STAGE_FLOATS / Math.max(cin, cout) / GEMM_GRAIN) * GEMM_GRAIN));
    const px = this.alloc(Math.min(step, rows) * cin);
    const py = this.alloc(Math.min(step, rows) * cout);
    const out = this.output(rows * cout);
    each(rows, step, (start, count) => {
      this.stageIn(px, src, start * cin, count * cin);
      this.runSplit(op, count, px, py, w);
      this.stageOut(py, out, start * cout, count * cout);
    });
    return out;
  }

  /**
   * dW[cin × cout] = Σ over rows of x[row]ᵀ·dy[row], a chunk of rows at a time; with threads, each thread sums
   * its whole kernel chunks of every staged chunk into its own dW, and those are added in thread order.
   */
  private gemmTNRows(x: Float32Array, dy: Float32Array, rows: number, cin: number, cout: number): Float32Array {
    const chunk = gemmTNChunk({ cin, cout });
    const accFloats = roundUp(cin * cout, PAD);
    const op = this.splitOp(`gemmTN ${cin} ${cout}`, (m) => emitGemmTN(m, 'gemmTN', { cin, cout }), () => ({
      kind: 'split',
      grain: chunk,
      calls: [{ kernel: 'gemmTN', args: [{ pointer: 0, perUnit: cin * F32 }, { pointer: 2, perUnit: cout * F32 }, { pointer: 1, perPart: accFloats * F32 }], unitScale: 1 }],
    }));
    const step = this.rowsPerStage(chunk);
    const parts = this.partsOf(op, Math.min(step, rows));
    const dw = this.zeros(parts * accFloats);
    const px = this.alloc(Math.min(step, rows) * cin);
    const pg = this.alloc(Math.min(step, rows) * cout);
    each(rows, step, (start, count) => {
      this.stageIn(px, x, start * cin, count * cin);
      this.stageIn(pg, dy, start * cout, count * cout);
      this.runSplit(op, count, px, dw, pg);
    });
    this.sumParts(dw, cin * cout, accFloats, parts);
    return this.read(dw, cin * cout);
  }

  /**
   * Runs a per-image split op over the batch a few images at a time (a few per thread): `src` holds `inPer` floats
   * per image, the result `outPer`; `third` is the op's third pointer (its weights); `zeroOut` clears the output
   * chunk first (accumulating kernels).
   */
  private perImage(src: Float32Array, images: number, inPer: number, outPer: number, op: SplitOp, third: number, zeroOut = false): Float32Array {
    const step = this.imagesPerStage(inPer + outPer);
    const pin = this.alloc(Math.min(step, images) * inPer);
    const pout = this.alloc(Math.min(step, images) * outPer);
    const out = this.output(images * outPer);
    each(images, step, (start, count) => {
      this.stageIn(pin, src, start * inPer, count * inPer);
      if (zeroOut) this.heap().fill(0, pout >> 2, (pout >> 2) + count * outPer);
      this.runSplit(op, count, pin, pout, third);
      this.stageOut(pout, out, start * outPer, count * outPer);
    });
    return out;
  }

  /** An element-wise kernel `run(inputs…, out, vectors)` over same-sized arrays, a chunk at a time. */
  private flatOp(op: string, inputs: Float32Array[]): Float32Array {
    const size = inputs[0].length;
    const k = this.flat[op];
    const step = Math.min(STAGE_FLOATS, roundUp(Math.max(size, 1), LANES));
    const pins = inputs.map(() => this.alloc(step));
    const pout = this.alloc(step);
    const out = this.output(size);
    each(size, step, (start, count) => {
      inputs.forEach((t, i) => this.stageIn(pins[i], t, start, count));
      k(...pins, pout, Math.ceil(count / LANES));
      this.stageOut(pout, out, start, count);
    });
    return out;
  }

  /** The per-channel kernels for `channels`, with the pixel block and chunk that suit that width. */
  private channelOps(channels: number): { k: Record<string, Kernel>; spec: ChannelSpec; chunk: number; row: number } {
    const block = Math.min(256, Math.max(1, Math.floor(STAGE_FLOATS / channels)));
    const spec: ChannelSpec = { channels, block };
    const k = this.kernels(`channels ${channels} ${block}`, (m) => emitChannelKernels(m, '', spec));
    return { k, spec, chunk: block * Math.max(1, Math.floor(STAGE_FLOATS / (channels * block))), row: channelRow(spec) };
  }

  /**
   * Streams the pixels of NHWC tensors through wasm memory in chunks of whole blocks: `run(pointers, first, count)`
   * gets the staged chunk of each tensor in `tensors`; a single-chunk tensor is staged once and stays for later passes.
   */
  private pixelStreamer(tensors: Float32Array[], channels: number, chunk: number): (run: (pointers: number[], first: number, count: number) => void) => void {
    const pixels = tensors[0].length / channels;
    const pointers = tensors.map(() => this.alloc(Math.min(chunk, pixels) * channels));
    let staged = -1;
    return (run) => {
      each(pixels, chunk, (start, count) => {
        if (staged !== start) tensors.forEach((t, i) => this.stageIn(pointers[i], t, start * channels, count * channels));
        staged = pixels <= chunk ? start : -1;
        run(pointers, start, count);
      });
    };
  }

  /** Float64 sums of the rows of per-block partial sums at `pointer`. */
  private sumRows(pointer: number, spec: ChannelSpec, pixels: number): Float64Array {
    const row = channelRow(spec);
    const rows = channelBlocks(spec, pixels);
    const heap = this.heap();
    const out = new Float64Array(spec.channels);
    for (let r = 0, at = pointer >> 2; r < rows; r++, at += row) for (let i = 0; i < spec.channels; i++) out[i] += heap[at + i];
    return out;
  }

  // ---- the inference Backend ----

  backend(): Backend {
    return {
      name: 'wasm',
      conv2d: (x, kernel, bias, p) => this.conv2d(x, kernel, bias, p),
      batchNorm: (x, p) => this.batchNorm(x, p),
      activation: (x, activation) => this.activation(x, activation),
      add: (a, b) => this.binary('add', a, b, () => referenceBackend.add(a, b)),
      zeroPad2d: (x, pad) => this.fallback('zeroPad2d', () => referenceBackend.zeroPad2d(x, pad)),
      globalAvgPool: (x) => this.globalAvgPool(x),
      globalMaxPool: (x) => this.fallback('globalMaxPool', () => referenceBackend.globalMaxPool(x)),
      avgPool2d: (x, p) => this.fallback('avgPool2d', () => referenceBackend.avgPool2d(x, p)),
      maxPool2d: (x, p) => this.fallback('maxPool2d', () => referenceBackend.maxPool2d(x, p)),
      dense: (x, kernel, bias) => this.dense(x, kernel, bias),
      softmax: (x) => this.fallback('softmax', () => referenceBackend.softmax(x)),
    };
  }

  private conv2d(x: Tensor, kernel: Tensor, bias: Float32Array | null, p: Conv2DParams): Tensor {
    const [n, oh, ow, cout] = conv2dOutputShape(x.shape, kernel.shape, bias, p);
    const [, h, w, c] = x.shape as [number, number, number, number];
    const [kh, kw] = kernel.shape as [number, number, number, number];
    const kind = convKind(x.shape, kernel.shape, p);
    const outShape = [n, oh, ow, cout];
    if (kind === 'pointwise') {
      this.begin('conv2d');
      return new Tensor(outShape, this.gemmRows(x.data, n * h * w, c, cout, kernel.data, bias));
    }
    if (kind === 'depthwise') {
      this.begin('conv2d');
      const spec = depthwiseSpec(x.shape, kernel.shape, p);
      const op = this.splitOp(`depthwise ${specKey(spec)}`, (m) => emitDepthwise(m, 'depthwise', spec), () => imageWork('depthwise', h * w * c, oh * ow * c));
      const pw = this.put(packDepthwiseWeights(spec, kernel.data, bias));
      return new Tensor(outShape, this.perImage(x.data, n, h * w * c, oh * ow * c, op, pw));
    }
    if (kind === 'general') {
      this.begin('conv2d');
      if (kh * kw * c <= DIRECT_CONV_TAPS) {
        const spec: ConvSpec = { height: h, width: w, cin: c, cout, kernel: [kh, kw], strides: p.strides, padding: p.padding };
        convOutputSize(spec);
        const op = this.splitOp(`conv ${specKey(spec)}`, (m) => emitConv(m, 'conv', spec), () => imageWork('conv', h * w * c, oh * ow * cout));
        const pw = this.put(packConvWeights(spec, kernel.data, bias));
        return new Tensor(outShape, this.perImage(x.data, n, h * w * c, oh * ow * cout, op, pw));
      }
      // im2col then the GEMM, image by image: the packed weights, then each staged image's window rows
      const taps = kh * kw * c;
      const spec = im2colSpec(x.shape, kernel.shape, p);
      const weightFloats = roundUp(gemmPackedLength({ cin: taps, cout }), PAD);
      const col: CallArg = { pointer: 2, offset: weightFloats * F32, perUnit: oh * ow * taps * F32 };
      const op = this.splitOp(
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
      const pw = this.zeros(weightFloats + Math.min(this.imagesPerStage(h * w * c + oh * ow * cout), n) * oh * ow * taps);
      this.heap().set(packGemmWeights({ cin: taps, cout }, kernel.data, bias), pw >> 2);
      return new Tensor(outShape, this.perImage(x.data, n, h * w * c, oh * ow * cout, op, pw));
    }
    return this.fallback('conv2d', () => referenceBackend.conv2d(x, kernel, bias, p));
  }

  private batchNorm(x: Tensor, p: BatchNormParams): Tensor {
    const c = x.shape[x.rank - 1];
    if (x.rank < 2 || c !== p.gamma.length || [p.beta, p.mean, p.variance].some((v) => v.length !== c)) {
      return this.fallback('batchNorm', () => referenceBackend.batchNorm(x, p));
    }
    this.begin('batchNorm');
    const scale = new Float64Array(c);
    for (let i = 0; i < c; i++) scale[i] = p.gamma[i] / Math.sqrt(p.variance[i] + p.epsilon);
    const { k, chunk } = this.channelOps(c);
    const stream = this.pixelStreamer([x.data], c, chunk);
    return new Tensor(x.shape, this.normalize(stream, k, x.size, c, chunk, this.putRow(p.mean), scale, p.beta));
  }

  /** y = (x − mean)·scale + shift per channel over the streamed x. */
  private normalize(stream: ReturnType<WasmOps['pixelStreamer']>, k: Record<string, Kernel>, size: number, c: number, chunk: number, mean: number, scale: ArrayLike<number>, shift: ArrayLike<number>): Float32Array {
    const pscale = this.putRow(scale);
    const pshift = this.putRow(shift);
    const py = this.alloc(Math.min(chunk, size / c) * c);
    const out = this.output(size);
    stream(([px], start, count) => {
      k.normalize(px, mean, pscale, pshift, py, count);
      this.stageOut(py, out, start * c, count * c);
    });
    return out;
  }

  private activation(x: Tensor, activation: Activation): Tensor {
    if (activation === 'linear') return x;
    this.begin('activation');
    return new Tensor(x.shape, this.flatOp(activation, [x.data]));
  }

  /** An element-wise op of two same-shaped tensors (`add`, `mul`); `reference` handles anything else. */
  private binary(op: 'add' | 'mul', a: Tensor, b: Tensor, reference: () => Tensor): Tensor {
    if (!sameShape(a.shape, b.shape)) return this.fallback(op, reference);
    this.begin(op);
    return new Tensor(a.shape, this.flatOp(op, [a.data, b.data]));
  }

  private globalAvgPool(x: Tensor): Tensor {
    if (x.rank !== 4 || x.size === 0) return this.fallback('globalAvgPool', () => referenceBackend.globalAvgPool(x));
    const [n, h, w, c] = x.shape as [number, number, number, number];
    this.begin('globalAvgPool');
    const op = this.splitOp(`globalAvgPool ${h * w} ${c}`, (m) => emitGlobalAvgPool(m, 'pool', { pixels: h * w, channels: c }), () => ({
      kind: 'split',
      grain: 1,
      calls: [{ kernel: 'pool', args: [{ pointer: 0, perUnit: h * w * c * F32 }, { pointer: 1, perUnit: c * F32 }], unitScale: 1 }],
    }));
    return new Tensor([n, c], this.perImage(x.data, n, h * w * c, c, op, 0));
  }

  private dense(x: Tensor, kernel: Tensor, bias: Float32Array | null): Tensor {
    if (!denseFits(x, kernel) || (bias && bias.length !== kernel.shape[1]) || x.size === 0) return this.fallback('dense', () => referenceBackend.dense(x, kernel, bias));
    const [n, k] = x.shape as [number, number];
    const units = kernel.shape[1];
    this.begin('dense');
    return new Tensor([n, units], this.gemmRows(x.data, n, k, units, kernel.data, bias));
  }

  // ---- the GradientBackend ----

  gradients(): GradientBackend {
    const ref = referenceGradients;
    return {
      name: 'wasm',
      conv2dBackwardInput: (dy, kernel, xShape, p) => this.conv2dBackwardInput(dy, kernel, xShape, p),
      conv2dBackwardKernel: (x, dy, kernelShape, p) => this.conv2dBackwardKernel(x, dy, kernelShape, p),
      sumToChannels: (dy) => this.sumToChannels(dy),
      batchNormTrain: (x, gamma, beta, epsilon) => this.batchNormTrain(x, gamma, beta, epsilon),
      batchNormBackward: (dy, x, gamma, mean, invStd, batchStatistics) => this.batchNormBackward(dy, x, gamma, mean, invStd, batchStatistics),
      activationBackward: (dy, y, activation) => this.activationBackward(dy, y, activation),
      softmaxBackward: (dy, y) => this.fallback('softmaxBackward', () => ref.softmaxBackward(dy, y)),
      zeroPad2dBackward: (dy, pad) => this.fallback('zeroPad2dBackward', () => ref.zeroPad2dBackward(dy, pad)),
      globalAvgPoolBackward: (dy, xShape) => this.globalAvgPoolBackward(dy, xShape),
      globalMaxPoolBackward: (dy, x) => this.fallback('globalMaxPoolBackward', () => ref.globalMaxPoolBackward(dy, x)),
      avgPool2dBackward: (dy, xShape, p) => this.fallback('avgPool2dBackward', () => ref.avgPool2dBackward(dy, xShape, p)),
      maxPool2dBackward: (dy, x, p) => this.fallback('maxPool2dBackward', () => ref.maxPool2dBackward(dy, x, p)),
      denseBackwardInput: (dy, kernel) => this.denseBackwardInput(dy, kernel),
      denseBackwardKernel: (x, dy) => this.denseBackwardKernel(x, dy),
      applyMask: (x, mask) => (mask.length === x.size ? this.binary('mul', x, new Tensor(x.shape, mask), () => ref.applyMask(x, mask)) : this.fallback('applyMask', () => ref.applyMask(x, mask))),
      // one pass that reads two tensors and writes one in place: staging both through wasm memory costs more than it saves
      addInPlace: (acc, x) => ref.addInPlace(acc, x),
    };
  }

  private conv2dBackwardInput(dy: Tensor, kernel: Tensor, xShape: readonly number[], p: Conv2DParams): Tensor {
    const kind = gradientFits(dy, xShape, kernel.shape, p) ? convKind(xShape, kernel.shape, p) : 'reference';
    const [n, h, w, c] = xShape as [number, number, number, number];
    const [kh, kw, , cout] = kernel.shape as [number, number, number, number];
    const [, oh, ow] = dy.shape as [number, number, number, number];
    if (kind === 'pointwise') {
      this.begin('conv2dBackwardInput');
      return new Tensor(xShape, this.gemmRows(dy.data, n * h * w, cout, c, transpose2d(kernel.data, c, cout), null));
    }
    if (kind === 'depthwise') {
      this.begin('conv2dBackwardInput');
      const spec = depthwiseSpec(xShape, kernel.shape, p);
      const [pt, pb, pl, pr] = p.padding;
      if (p.strides[0] === 1 && p.strides[1] === 1 && Math.max(pt, pb) < kh && Math.max(pl, pr) < kw) {
        // stride 1: the input gradient is the depthwise convolution of dy with the flipped kernel and complementary padding
        const flipped: DepthwiseSpec = { height: oh, width: ow, channels: c, kernel: [kh, kw], strides: [1, 1], padding: [kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr] };
        const [fh, fw] = depthwiseOutputSize(flipped);
        if (fh === h && fw === w) {
          const op = this.splitOp(`depthwise ${specKey(flipped)}`, (m) => emitDepthwise(m, 'depthwise', flipped), () => imageWork('depthwise', oh * ow * c, h * w * c));
          const pw = this.put(packDepthwiseWeights(flipped, flipKernel(kernel.data, kh, kw, c), null));
          return new Tensor(xShape, this.perImage(dy.data, n, oh * ow * c, h * w * c, op, pw));
        }
      }
      const op = this.splitOp(`depthwiseBackwardInput ${specKey(spec)}`, (m) => emitDepthwiseBackwardInput(m, 'backwardInput', spec), () => imageWork('backwardInput', oh * ow * c, h * w * c, true));
      const pw = this.put(packDepthwiseWeights(spec, kernel.data, null));
      return new Tensor(xShape, this.perImage(dy.data, n, oh * ow * c, h * w * c, op, pw, true));
    }
    if (kind === 'general') {
      // the GEMM of dy with the transposed kernel into window rows, then col2im adds them into dx, image by image
      this.begin('conv2dBackwardInput');
      const taps = kh * kw * c;
      const spec = im2colSpec(xShape, kernel.shape, p);
      const weights = packGemmWeights({ cin: cout, cout: taps }, transpose2d(kernel.data, taps, cout), null);
      const weightFloats = roundUp(weights.length, PAD);
      const dcol: CallArg = { pointer: 2, offset: weightFloats * F32, perUnit: oh * ow * taps * F32 };
      const op = this.splitOp(
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
      const pw = this.alloc(weightFloats + Math.min(this.imagesPerStage(oh * ow * cout + h * w * c), n) * oh * ow * taps);
      this.heap().set(weights, pw >> 2);
      return new Tensor(xShape, this.perImage(dy.data, n, oh * ow * cout, h * w * c, op, pw, true));
    }
    return this.fallback('conv2dBackwardInput', () => referenceGradients.conv2dBackwardInput(dy, kernel, xShape, p));
  }

  private conv2dBackwardKernel(x: Tensor, dy: Tensor, kernelShape: readonly number[], p: Conv2DParams): Tensor {
    const kind = gradientFits(dy, x.shape, kernelShape, p) ? convKind(x.shape, kernelShape, p) : 'reference';
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const [kh, kw, , cout] = kernelShape as [number, number, number, number];
    const [, oh, ow] = dy.shape as [number, number, number, number];
    if (kind === 'pointwise') {
      this.begin('conv2dBackwardKernel');
      return new Tensor(kernelShape, this.gemmTNRows(x.data, dy.data, n * h * w, c, cout));
    }
    if (kind === 'depthwise' || kind === 'general') {
      // per image chunk (a few images per thread): each thread sums its images into its own accumulator (output
      // pointer, one per part), and the accumulators are added in thread order
      this.begin('conv2dBackwardKernel');
      const inPer = h * w * c;
      const outPer = oh * ow * cout;
      const step = this.imagesPerStage(inPer + outPer);
      const x0: CallArg = { pointer: 0, perUnit: inPer * F32 };
      const dy0: CallArg = { pointer: 2, perUnit: outPer * F32 };
      const run = (op: SplitOp, accumulators: number, floats: number, stride: number): number => {
        const parts = this.partsOf(op, Math.min(step, n));
        const px = this.alloc(Math.min(step, n) * inPer);
        const pdy = this.alloc(Math.min(step, n) * outPer);
        each(n, step, (start, count) => {
          this.stageIn(px, x.data, start * inPer, count * inPer);
          this.stageIn(pdy, dy.data, start * outPer, count * outPer);
          this.runSplit(op, count, px, accumulators, pdy);
        });
        this.sumParts(accumulators, floats, stride, parts);
        return accumulators;
      };
      if (kind === 'depthwise') {
        const spec = depthwiseSpec(x.shape, kernelShape, p);
        const length = depthwiseGradientLength(spec);
        // per part: its total, then its per-image partial sums (the kernel leaves them zeroed)
        const stride = 2 * roundUp(length, PAD);
        const op = this.splitOp(`depthwiseBackwardKernel ${specKey(spec)}`, (m) => emitDepthwiseBackwardKernel(m, 'backwardKernel', spec), () => ({
          kind: 'split',
          grain: 1,
          calls: [{ kernel: 'backwardKernel', args: [x0, dy0, { pointer: 1, perPart: stride * F32 }, { pointer: 1, offset: (stride / 2) * F32, perPart: stride * F32 }], unitScale: 1 }],
        }));
        const total = run(op, this.zeros(this.threads * stride), length, stride);
        return new Tensor(kernelShape, unpackDepthwiseGradient(spec, this.read(total, length)));
      }
      // im2col of each image into its window rows (after every thread's accumulator), then their gemmTN with dy
      const taps = kh * kw * c;
      const spec = im2colSpec(x.shape, kernelShape, p);
      const stride = roundUp(taps * cout, PAD);
      const col: CallArg = { pointer: 1, offset: this.threads * stride * F32, perUnit: oh * ow * taps * F32 };
      const op = this.splitOp(
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
      const dw = run(op, this.zeros(this.threads * stride + Math.min(step, n) * oh * ow * taps), taps * cout, stride);
      return new Tensor(kernelShape, this.read(dw, taps * cout));
    }
    return this.fallback('conv2dBackwardKernel', () => referenceGradients.conv2dBackwardKernel(x, dy, kernelShape, p));
  }

  /** Per-channel sums of `t` ([…, channels]) in float64 over float32 block sums. */
  private channelSums(data: Float32Array, c: number): Float64Array {
    const { k, spec, chunk, row } = this.channelOps(c);
    const pixels = data.length / c;
    const partial = this.alloc(channelBlocks(spec, pixels) * row);
    const shift = sampleMean(data, c, spec.block!);
    const shiftRow = this.putRow(shift);
    this.pixelStreamer([data], c, chunk)(([px], start, count) => k.sums(px, shiftRow, partial + (start / spec.block!) * row * 4, count));
    const sums = this.sumRows(partial, spec, pixels);
    for (let i = 0; i < c; i++) sums[i] += pixels * shift[i];
    return sums;
  }

  private sumToChannels(dy: Tensor): Tensor {
    if (dy.rank < 1 || dy.size === 0) return this.fallback('sumToChannels', () => referenceGradients.sumToChannels(dy));
    const c = dy.shape[dy.rank - 1];
    this.begin('sumToChannels');
    return new Tensor([c], Float32Array.from(this.channelSums(dy.data, c)));
  }

  private batchNormTrain(x: Tensor, gamma: Float32Array, beta: Float32Array, epsilon: number): { y: Tensor; stats: BatchStatistics } {
    const c = x.shape[x.shape.length - 1];
    const count = x.size / c;
    if (x.rank < 2 || c !== gamma.length || beta.length !== c || !(count >= 2)) {
      return this.fallback('batchNormTrain', () => referenceGradients.batchNormTrain(x, gamma, beta, epsilon));
    }
    this.begin('batchNormTrain');
    const { k, spec, chunk, row } = this.channelOps(c);
    const stream = this.pixelStreamer([x.data], c, chunk);
    // one pass over x for both statistics: each chunk's sum (about a sample mean, so that float32 block sums stay
    // accurate when the mean is large against the spread) and its squares about its own mean, combined below
    const shift = sampleMean(x.data, c, spec.block!);
    const shiftRow = this.putRow(shift);
    const partial = this.alloc(channelBlocks(spec, Math.min(chunk, count)) * row);
    const centreRow = this.alloc(row);
    const deviation = new Float64Array(c);
    const chunks: { pixels: number; centre: Float32Array; centred: Float64Array; squares: Float64Array }[] = [];
    stream(([px], _start, pixels) => {
      k.sums(px, shiftRow, partial, pixels);
      const sum = this.sumRows(partial, spec, pixels);
      const centre = new Float32Array(c);
      const centred = new Float64Array(c);
      for (let i = 0; i < c; i++) {
        deviation[i] += sum[i];
        centre[i] = shift[i] + sum[i] / pixels;
        // Σ(x − centre) from Σ(x − shift)
        centred[i] = sum[i] + pixels * (shift[i] - centre[i]);
      }
      this.writeRow(centreRow, centre);
      k.sqdev(px, centreRow, partial, pixels);
      chunks.push({ pixels, centre, centred, squares: this.sumRows(partial, spec, pixels) });
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
    const pmean = this.putRow(mean);
    const y = this.normalize(stream, k, x.size, c, chunk, pmean, scale, beta);
    return { y: new Tensor(x.shape, y), stats: { mean, variance, invStd, count } };
  }

  private batchNormBackward(dy: Tensor, x: Tensor, gamma: Float32Array, mean: Float32Array, invStd: Float32Array, batchStatistics: boolean): { dx: Tensor; dGamma: Tensor; dBeta: Tensor } {
    const c = gamma.length;
    if (!sameShape(dy.shape, x.shape) || x.shape[x.rank - 1] !== c || mean.length !== c || invStd.length !== c || x.size === 0) {
      return this.fallback('batchNormBackward', () => referenceGradients.batchNormBackward(dy, x, gamma, mean, invStd, batchStatistics));
    }
    this.begin('batchNormBackward');
    const pixels = x.size / c;
    const { k, spec, chunk, row } = this.channelOps(c);
    const stream = this.pixelStreamer([dy.data, x.data], c, chunk);
    const pmean = this.putRow(mean);
    const rows = channelBlocks(spec, pixels) * row;
    const partialDy = this.alloc(rows);
    const partialDyX = this.alloc(rows);
    stream(([pdy, px], start, count) => {
      const at = (start / spec.block!) * row * 4;
      k.backsums(pdy, px, pmean, partialDy + at, partialDyX + at, count);
    });
    const sumDy = this.sumRows(partialDy, spec, pixels);
    const sumDyXhat = this.sumRows(partialDyX, spec, pixels);
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
    const p1 = this.putRow(k1);
    const p2 = this.putRow(k2);
    const p0 = this.putRow(k0);
    const pdx = this.alloc(Math.min(chunk, pixels) * c);
    const dx = this.output(x.size);
    stream(([pdy, px], start, count) => {
      k.backapply(pdy, px, pmean, p1, p2, p0, pdx, count);
      this.stageOut(pdx, dx, start * c, count * c);
    });
    return {
      dx: new Tensor(x.shape, dx),
      dGamma: new Tensor([c], Float32Array.from(sumDyXhat)),
      dBeta: new Tensor([c], Float32Array.from(sumDy)),
    };
  }

  private activationBackward(dy: Tensor, y: Tensor, activation: Activation): Tensor {
    if (!sameShape(dy.shape, y.shape)) return this.fallback('activationBackward', () => referenceGradients.activationBackward(dy, y, activation));
    this.begin('activationBackward');
    if (activation === 'linear') return dy;
    return new Tensor(dy.shape, this.flatOp(`${activation}Backward`, [dy.data, y.data]));
  }

  /** Each pixel gets its channel's gradient over H·W: one row computed, then copied by doubling. */
  private globalAvgPoolBackward(dy: Tensor, xShape: readonly number[]): Tensor {
    const [n, h, w, c] = xShape as [number, number, number, number];
    if (xShape.length !== 4 || !sameShape(dy.shape, [n, c])) return this.fallback('globalAvgPoolBackward', () => referenceGradients.globalAvgPoolBackward(dy, xShape));
    this.wasmCalls.globalAvgPoolBackward = (this.wasmCalls.globalAvgPoolBackward ?? 0) + 1;
    const area = h * w;
    const dx = this.output(n * area * c);
    for (let b = 0; b < n; b++) {
      const base = b * area * c;
      for (let i = 0; i < c; i++) dx[base + i] = dy.data[b * c + i] / area;
      for (let filled = c; filled < area * c; filled *= 2) dx.copyWithin(base + filled, base, base + Math.min(filled, area * c - filled));
    }
    return new Tensor(xShape, dx);
  }

  private denseBackwardInput(dy: Tensor, kernel: Tensor): Tensor {
    if (dy.rank !== 2 || kernel.rank !== 2 || dy.shape[1] !== kernel.shape[1] || dy.size === 0) {
      return this.fallback('denseBackwardInput', () => referenceGradients.denseBackwardInput(dy, kernel));
    }
    const [n, units] = dy.shape as [number, number];
    const k = kernel.shape[0];
    this.begin('denseBackwardInput');
    return new Tensor([n, k], this.gemmRows(dy.data, n, units, k, transpose2d(kernel.data, k, units), null));
  }

  private denseBackwardKernel(x: Tensor, dy: Tensor): Tensor {
    if (x.rank !== 2 || dy.rank !== 2 || x.shape[0] !== dy.shape[0] || x.size === 0 || dy.size === 0) {
      return this.fallback('denseBackwardKernel', () => referenceGradients.denseBackwardKernel(x, dy));
    }
    const [n, k] = x.shape as [number, number];
    const units = dy.shape[1];
    this.begin('denseBackwardKernel');
    return new Tensor([k, units], this.gemmTNRows(x.data, dy.data, n, k, units));
  }
}

/**
 * Floats of one tensor staged in wasm memory at a time: a chunk's inputs and outputs stay in L2, so each
 * element crosses main memory once in and once out (16 Ki measured best for element-wise ops).
 */
const STAGE_FLOATS = 16384;

/** `kernel(x, weights, y, images)` over images of `inFloats` and `outFloats` (`outputFirst`: `kernel(y, weights, x, images)`), split by images. */
function imageWork(kernel: string, inFloats: number, outFloats: number, outputFirst = false): SplitWork {
  const x: CallArg = { pointer: 0, perUnit: inFloats * F32 };
  const y: CallArg = { pointer: 1, perUnit: outFloats * F32 };
  return { kind: 'split', grain: 1, calls: [{ kernel, args: outputFirst ? [y, { pointer: 2 }, x] : [x, { pointer: 2 }, y], unitScale: 1 }] };
}

/**
 * One-thread GEMM chunks per thread in a staged chunk with threads. A one-thread chunk is 10–100 µs of work, a
 * dispatch a few µs; four per thread keep each thread's share in L2 (≤ 0.5 MiB). Per-image ops are not scaled:
 * their chunks are already an image or more per thread. (Chosen, not tuned: no quiet machine to time it on.)
 */
const ROW_CHUNKS_PER_THREAD = 4;

/** Images per chunk of a per-image kernel that moves `floats` floats per image (at least one). */
function imagesPerChunk(floats: number): number {
  return Math.max(1, Math.floor((2 * STAGE_FLOATS) / Math.max(floats, 1)));
}

/** The same methods, each refusing to run once `disposed()` holds. */
function guarded<T extends object>(methods: T, disposed: () => boolean): T {
  const out: Record<string, unknown> = { ...(methods as Record<string, unknown>) };
  for (const [key, value] of Object.entries(methods)) {
    if (typeof value !== 'function') continue;
    out[key] = (...args: unknown[]): unknown => {
      if (disposed()) throw new ConfigError(`wasm training backends: ${key} after dispose()`);
      return value(...args);
    };
  }
  return out as T;
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

/** Calls `body(start, count)` over [0, total) in steps of `step`. */
function each(total: number, step: number, body: (start: number, count: number) => void): void {
  for (let start = 0; start < total; start += step) body(start, Math.min(step, total - start));
}

/** Taps per output pixel up to which a groups-1 convolution runs on the direct (unrolled) kernel; im2col beyond. */
const DIRECT_CONV_TAPS = 64;

type ConvKind = 'pointwise' | 'depthwise' | 'general' | 'reference';

/** Which wasm path a convolution takes; shapes must already be checked by `conv2dOutputShape`. */
function convKind(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): ConvKind {
  const [n, , , c] = xShape;
  const [kh, kw, cPerGroup, cout] = kernelShape;
  if (p.dilations[0] !== 1 || p.dilations[1] !== 1 || n === 0 || c === 0 || cout === 0) return 'reference';
  if (p.groups === 1) {
    const unpadded = p.padding.every((v) => v === 0);
    return kh === 1 && kw === 1 && p.strides[0] === 1 && p.strides[1] === 1 && unpadded ? 'pointwise' : 'general';
  }
  return p.groups === c && cPerGroup === 1 && cout === c ? 'depthwise' : 'reference';
}

/** Whether a backward call's shapes are consistent (the reference reports the error otherwise). */
function gradientFits(dy: Tensor, xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): boolean {
  try {
    const out = conv2dOutputShape(xShape, kernelShape, null, p);
    return sameShape(dy.shape, out);
  } catch {
    return false;
  }
}

function denseFits(x: Tensor, kernel: Tensor): boolean {
  return x.rank === 2 && kernel.rank === 2 && kernel.shape[0] === x.shape[1];
}

function depthwiseSpec(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): DepthwiseSpec {
  return { height: xShape[1], width: xShape[2], channels: xShape[3], kernel: [kernelShape[0], kernelShape[1]], strides: p.strides, padding: p.padding };
}

function im2colSpec(xShape: readonly number[], kernelShape: readonly number[], p: Conv2DParams): Im2colSpec {
  return { height: xShape[1], width: xShape[2], cin: xShape[3], kernel: [kernelShape[0], kernelShape[1]], strides: p.strides, padding: p.padding };
}

/** A cache key from a spec's own fields, in a fixed order. */
function specKey(spec: object): string {
  return JSON.stringify(spec, Object.keys(spec).sort());
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
