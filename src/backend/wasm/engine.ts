// The WebAssembly engine: lowers a model once, emits one module of kernels specialised to its shapes, packs the
// weights into linear memory, plans the arena per batch size, and runs each step whole or split across worker threads.

import { ConfigError, ShapeError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import { lowerModel } from '../../graph/lower.js';
import type { ChainStep, ConcatStep, ConvStep, Plan, PlannedModel, Step } from '../../graph/plan.js';
import { convKind } from '../../ops/conv-kind.js';
import type { Layout } from '../../tensor/tensor.js';
import { dequantize, quantize } from '../../quant/qparams.js';
import { Tensor, formatShape, sameShape, toLayout } from '../../tensor/tensor.js';
import { runPlanStep } from '../plan-reference.js';
import type { PlanValue } from '../plan-reference.js';
import { simdSupported } from './assembler.js';
import type { Kernel } from './runtime.js';
import { WasmRuntime } from './runtime.js';
import { emitConv, packConvWeights } from './kernels/conv.js';
import { emitDepthwise, packDepthwiseWeights } from './kernels/depthwise.js';
import { emitGemm, packGemmWeights } from './kernels/gemm.js';
import { emitIm2col } from './kernels/im2col.js';
import type { GemmSpec } from './kernels/gemm.js';
import { emitGlobalAvgPool } from './kernels/pool.js';
import { emitChannelSlice } from './kernels/concat.js';
import { emitSigmoid, emitSoftmax } from './kernels/exponential.js';
import { emitResize, emitResizeRows, packResizeTaps } from './kernels/resize.js';
import { emitConvRows, emitDepthwiseRow } from './kernels/rows.js';
import { chainSpecOf, emitChainKernels, packChain } from './kernels/chain.js';
import type { ChainPlan } from './kernels/chain.js';
import type { Int8ChainPlan } from './kernels/int8-chain.js';
import { DIRECT_CONV_MAX_TAPS, concatSlices, im2colFloats, planChains, planMemory, unfusedChainFloats } from './memory-plan.js';
import { resolveWasmFeatures } from './options.js';
import { POINTERS_PER_STEP, ThreadPool } from './threads.js';
import { GEMM_TILE, channelSplit, tensorPlaces } from './ops/phase.js';
import { compileInt8Step, touchesInt8 } from './ops/int8-steps.js';
import type { Compiler, Phase, Place, Pointers, SerialRun } from './ops/phase.js';
import { bindWork, usefulParts } from './threads-work.js';
import type { ChainWork, PartRunner, Work } from './threads-work.js';

export interface WasmEngineOptions {
  /** Fuse inverted residuals into row-streamed chains (paper §5.1). Default true. */
  fuseBlocks?: boolean;
  /** Use relaxed-SIMD fused multiply-add where the runtime validates it. Default: detect. */
  relaxedSimd?: boolean;
  /**
   * Threads sharing the work of each step: the calling thread and `threads − 1` workers over one shared
   * memory. Default 1. Where memory cannot be shared (a page without cross-origin isolation) 1 is used; see `threadsNote`.
   */
  threads?: number;
  /**
   * How threads share a row-streamed chain when the batch does not split into whole images per thread:
   * 'rows': bands of output rows, each recomputing its halo rows; 'stages': stage by stage (expand, depthwise,
   * project: no halo, but the expanded tensor exists whole in the arena); 'auto' (default): stages where that
   * tensor is small (late, low-resolution blocks, whose halos cost most), rows elsewhere.
   */
  chainSplit?: 'auto' | 'rows' | 'stages';
}


/** The phases of one step: as lowered, and for a streamed chain the stage-by-stage alternative threads may use. */
interface StepPhases {
  phases: number[];
  /** Phases running the chain's own kernels and weights stage by stage; null where there is no alternative. */
  stages: number[] | null;
  /** Floats per image of the alternative's intermediates (the expanded tensor and the depthwise output). */
  stageFloats: number;
}

interface Arena {
  batch: number;
  base: number;
  offsets: Map<string, number>;
  /** Indices of the phases to run, in order. */
  schedule: number[];
  /** Per phase without work: its tensors' pointers, its input and output mapped onto its places. */
  serialPointers: (Pointers | null)[];
}

/**
 * 'auto' runs a chain stage by stage across threads when its intermediates for the batch fit in this many
 * bytes (MobileNetV2 1.0-224 at batch 1: the 14×14 and 7×7 blocks, which then take 4–15% less time): a
 * cache-resident tensor costs less than the bands' halo rows, which grow as images shrink (two bands of
 * a 7-row output expand 9 rows, not 7). At batch 1 these blocks' tensors stay below the arena's peak.
 */
const STAGE_SPLIT_MAX_BYTES = 1024 * 1024;


export class WasmEngine {
  /** The plan it runs: the model's, less a first step that quantizes the float input (done on the way in, off the arena). */
  readonly plan: Plan;
  readonly relaxedSimd: boolean;
  /** Why fewer threads run than were asked for; null when all did. */
  readonly threadsNote: string | null;
  private readonly weightsEnd: number;
  private arena: Arena | null = null;
  /** Input, output and residual pointers of every phase for the current arena: the pool's control block, or a local table. */
  private readonly pointerTable: Int32Array;
  private disposed = false;

  private constructor(
    private readonly signature: Signature,
    plan: Plan,
    private readonly runtime: WasmRuntime,
    private readonly phases: Phase[],
    private readonly stepPhases: StepPhases[],
    private readonly chainSplit: 'auto' | 'rows' | 'stages',
    /** This thread's part runner of each phase with work; the run of each without. */
    private readonly runners: (PartRunner | null)[],
    private readonly serialRuns: (SerialRun | null)[],
    relaxedSimd: boolean,
    private readonly chains: (ChainPlan | Int8ChainPlan | null)[],
    private readonly pool: ThreadPool | null,
    threadsNote: string | null,
  ) {
    this.plan = plan;
    this.relaxedSimd = relaxedSimd;
    this.weightsEnd = runtime.used;
    this.threadsNote = threadsNote;
    this.pointerTable = pool?.pointers ?? new Int32Array(POINTERS_PER_STEP * phases.length);
  }

  /** Whether this JavaScript engine can run the WebAssembly backend at all. */
  static supported(): boolean {
    return simdSupported();
  }

  /**
   * Compiles `model` for this runtime: a float Model is lowered to its plan; a PlannedModel (an int8 plan, an imported
   * TFLite graph) brings its own plan, which the engine reads but does not change.
   */
  static async create(model: Model | PlannedModel, options: WasmEngineOptions = {}): Promise<WasmEngine> {
    const { relaxedSimd, threads, threadsNote } = resolveWasmFeatures('WasmEngine', options);
    const chainSplit = options.chainSplit ?? 'auto';
    if (!['auto', 'rows', 'stages'].includes(chainSplit)) throw new ConfigError(`chainSplit must be 'auto', 'rows' or 'stages', got '${chainSplit}'`);

    const lowered = model instanceof Model;
    const given = lowered ? lowerModel(model, { fuseBlocks: options.fuseBlocks ?? true }) : model.plan;
    const signature = signatureOf(model, given);
    const plan = withoutInputQuantize(given);
    const runtime = new WasmRuntime({ shared: threads > 1 });
    const mod = runtime.module({ relaxedSimd });
    const chains = planChains(plan);
    // chains run one after another, so they share one block of row buffers per thread
    const rowBytesPerThread = planMemory(plan, chains, 1, 1).rowBufferBytes;
    const chainScratch = rowBytesPerThread > 0 ? runtime.alloc(threads * rowBytesPerThread, 64) : 0;
    const zeroFloats = threads > 1 ? widestDepthwiseRow(plan) : 0;
    // written, not assumed: the allocator may hand out memory that held something before
    const zeroRow = zeroFloats > 0 ? runtime.upload(new Float32Array(zeroFloats)) : 0;
    const compiler: Compiler = { mod, runtime, plan, threads, rowKernels: threads > 1, zeroRow, chainScratch, rowBytesPerThread, slices: concatSlices(plan) };
    const phases: Phase[] = [];
    const add = (list: Phase[]): number[] => list.map((p) => phases.push(p) - 1);
    const stepPhases = plan.steps.map((step, i): StepPhases => {
      const chain = floatChain(chains[i]);
      const own = add(compileStep(step, i, compiler, chain));
      if (threads === 1 || step.op !== 'chain' || chain === null || chain.stem !== null) return { phases: own, stages: null, stageFloats: 0 };
      return { phases: own, stages: add(chainStagePhases(step, i, chain, phases[own[0]].work as ChainWork, compiler)), stageFloats: unfusedChainFloats(step, 1) };
    });
    const { module, kernels } = await runtime.instantiateWithModule(mod);
    const runners = phases.map((p) => p.work && bindWork(p.work, kernels, runtime, 0));
    const serialRuns = phases.map((p) => p.serial && p.serial(kernels));
    const pool = threads > 1 ? await ThreadPool.start(threads, runtime.memory, module, phases.map((p) => p.work)) : null;
    // packed copies now live in linear memory: drop the plan's float copies of every step that runs natively (a plan
    // that came with its model stays whole: its owner may run it again)
    plan.steps.forEach((step, i) => {
      if (lowered && stepPhases[i].phases.every((p) => phases[p].native)) releaseWeights(step);
    });
    return new WasmEngine(signature, plan, runtime, phases, stepPhases, chainSplit, runners, serialRuns, relaxedSimd, chains, pool, threadsNote);
  }

  /** Threads in use: the calling thread and its workers. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Steps that run as WebAssembly, and those that fall back to the reference kernels. */
  get coverage(): { native: number; fallback: string[] } {
    const fallback = this.plan.steps.filter((_, i) => this.stepPhases[i].phases.some((p) => !this.phases[p].native)).map((s) => `${s.op} ${s.layers[0]}`);
    return { native: this.plan.steps.length - fallback.length, fallback };
  }

  /** Planned activation memory for `batch` images, in bytes: the arena (tensors, step scratch) and every thread's row buffers. */
  arenaBytes(batch = 1): number {
    return planMemory(this.plan, this.chains, batch, this.threads, this.stagedChains(batch)).totalBytes;
  }

  /** Streamed chains that run stage by stage for `batch` images: where threads would split an image and `chainSplit` allows it. */
  private stagedChains(batch: number): Set<number> {
    const staged = new Set<number>();
    if (this.chainSplit === 'rows' || batch % this.threads === 0) return staged;
    this.stepPhases.forEach((s, i) => {
      if (s.stages && (this.chainSplit === 'stages' || 4 * batch * s.stageFloats <= STAGE_SPLIT_MAX_BYTES)) staged.add(i);
    });
    return staged;
  }

  /** Bytes of packed weights in linear memory (with the row buffers and zero row, which live beside them). */
  get weightBytes(): number {
    return this.weightsEnd;
  }

  /** Plans the arena for `batch` images and writes every phase's pointers for it. */
  private prepare(batch: number): Arena {
    if (this.arena?.batch === batch) return this.arena;
    const staged = this.stagedChains(batch);
    const { offsets, floats } = planMemory(this.plan, this.chains, batch, this.threads, staged).layout;
    this.runtime.reset(this.weightsEnd);
    const base = this.runtime.allocF32(floats);
    const slices = concatSlices(this.plan);
    const at: Pointers = (t) => {
      const slice = slices.get(t);
      return slice ? base + 4 * (offsets.get(`t${slice.tensor}`)! + slice.offset) : base + 4 * offsets.get(`t${t}`)!;
    };
    const place = (p: Place | null, step: number): number => (p === null ? 0 : 'tensor' in p ? at(p.tensor) : base + 4 * (offsets.get(`s${step}`)! + batch * p.floatsPerImage));
    const schedule = this.stepPhases.flatMap((s, i) => (staged.has(i) ? s.stages! : s.phases));
    const serialPointers: (Pointers | null)[] = this.phases.map(() => null);
    for (const i of schedule) {
      const phase = this.phases[i];
      const [input, output, residual] = phase.places.map((p) => place(p, phase.step));
      this.pointerTable.set([input, output, residual], i * POINTERS_PER_STEP);
      const [inputTensor, outputTensor] = phase.tensors;
      if (!phase.work) serialPointers[i] = (t: number) => (t === inputTensor ? input : t === outputTensor ? output : at(t));
    }
    this.arena = { batch, base, offsets, schedule, serialPointers };
    return this.arena;
  }

  /** Runs a batch (NHWC unless `layout` says NCHW) through a model with one output and returns it; several outputs: `predictOutputs`. */
  predict(x: Tensor, options: { layout?: Layout } = {}): Tensor {
    const { name, outputNames } = this.signature;
    if (outputNames.length > 1) throw new ConfigError(`model ${name} has ${outputNames.length} outputs (${outputNames.join(', ')}): predict returns one tensor, use predictOutputs`);
    return this.predictOutputs(x, options)[outputNames[0]];
  }

  /**
   * Runs a batch (NHWC unless `layout` says NCHW) and returns every model output by name, each copied out of the arena
   * once. Float in and out: an int8 input is quantized by its tensor's parameters, int8 outputs are dequantized.
   */
  predictOutputs(x: Tensor, options: { layout?: Layout } = {}): Record<string, Tensor> {
    const layout = options.layout ?? 'NHWC';
    const nhwc = x.rank === 4 ? toLayout(x, layout, 'NHWC') : x;
    const { name, inputShape, outputNames, outputShapes } = this.signature;
    if (nhwc.rank !== inputShape.length + 1 || !sameShape(nhwc.shape.slice(1), inputShape) || nhwc.shape[0] < 1) {
      throw new ShapeError(`model ${name}: expected input ${formatShape([-1, ...inputShape])} (NHWC), got ${formatShape(nhwc.shape)} (${layout === 'NCHW' ? 'after NCHW → NHWC' : 'NHWC'})`);
    }
    const batch = nhwc.shape[0];
    const { tensors, input, outputs } = this.plan;
    const raw = this.predictRaw(this.signature.inputType === 'int8' ? quantize(nhwc.data, tensors[input].quant!) : nhwc.data, batch);
    return Object.fromEntries(
      outputNames.map((name, k) => {
        const data = raw[name];
        const quant = tensors[outputs[k]].quant;
        const out = new Tensor([batch, ...outputShapes[k]], data instanceof Int8Array ? dequantize(data, quant!) : data);
        return [name, layout === 'NCHW' && out.rank === 4 ? toLayout(out, 'NHWC', 'NCHW') : out];
      }),
    );
  }

  /**
   * Runs `batch` NHWC samples given as the plan's input tensor holds them (int8 values for an int8 input, as they are)
   * and returns each output by name as its tensor holds it: int8 outputs as Int8Array, float ones as Float32Array.
   */
  predictRaw(input: Float32Array | Int8Array, batch: number): Record<string, Float32Array | Int8Array> {
    if (this.disposed) throw new ConfigError('this WasmEngine was disposed; create a new one to predict');
    const { tensors, outputs } = this.plan;
    const inputTensor = tensors[this.plan.input];
    const type = this.signature.inputType;
    if ((input instanceof Int8Array) !== (type === 'int8') || !Number.isInteger(batch) || batch < 1 || input.length !== batch * inputTensor.size) {
      throw new ShapeError(
        `model ${this.signature.name}: input ${inputTensor.name} takes ${type} ${formatShape([batch, ...inputTensor.shape])} (${batch * inputTensor.size} values), got ${input instanceof Int8Array ? 'int8' : 'float32'} data of ${input.length} values`,
      );
    }
    const arena = this.prepare(batch);
    const at: Pointers = (t) => arena.base + 4 * arena.offsets.get(`t${t}`)!;
    this.view(at(this.plan.input), input.length, inputTensor.quant !== undefined).set(input instanceof Float32Array && inputTensor.quant ? quantize(input, inputTensor.quant) : input);
    const table = this.pointerTable;
    for (const i of arena.schedule) {
      const runner = this.runners[i];
      if (runner === null) {
        this.serialRuns[i]!(arena.serialPointers[i]!, batch);
        continue;
      }
      const p = i * POINTERS_PER_STEP;
      const parts = this.pool ? usefulParts(this.phases[i].work!, batch, this.pool.threads) : 1;
      if (parts > 1) this.pool!.run(i, batch, parts, runner);
      else runner(table[p], table[p + 1], table[p + 2], batch, 0, 1);
    }
    return Object.fromEntries(this.signature.outputNames.map((name, k) => [name, this.view(at(outputs[k]), batch * tensors[outputs[k]].size, tensors[outputs[k]].quant !== undefined).slice()]));
  }

  /** A live view of `count` elements of linear memory at `pointer`: int8 or float32. */
  private view(pointer: number, count: number, int8: boolean): Float32Array | Int8Array {
    return int8 ? new Int8Array(this.runtime.memory.buffer, pointer, count) : this.runtime.f32(pointer, count);
  }

  /** Bytes of the engine's linear memory (weights, planned arenas), shared with its workers. */
  get memoryBytes(): number {
    return this.runtime.memory.buffer.byteLength;
  }

  /** Stops the workers; `predict` throws afterwards. Safe to call twice. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.pool?.dispose();
  }
}

/**
 * `plan` less a first step that quantizes its float input, where nothing else reads that input: the engine quantizes on
 * the way in (qparams' `quantize`, the step's definition), so the float input takes no arena.
 */
function withoutInputQuantize(plan: Plan): Plan {
  const [first, ...rest] = plan.steps;
  const quantizes = first?.op === 'quantize' && first.inputs[0] === plan.input;
  if (!quantizes || rest.some((s) => s.inputs.includes(plan.input)) || plan.outputs.includes(plan.input)) return plan;
  return { ...plan, steps: rest, input: first.output };
}

/** A float chain's plan; null for an int8 chain's (its step compiles it) and for other steps. */
function floatChain(plan: ChainPlan | Int8ChainPlan | null): ChainPlan | null {
  return plan === null || 'paddingValue' in plan ? null : plan;
}

/** What the engine needs of what it runs besides the plan: the names and per-sample shapes of its input and outputs. */
interface Signature {
  name: string;
  inputShape: readonly number[];
  /** What callers give `predictRaw`: the model's input tensor's type. */
  inputType: 'int8' | 'float32';
  outputNames: readonly string[];
  outputShapes: readonly (readonly number[])[];
}

function signatureOf(model: Model | PlannedModel, plan: Plan): Signature {
  const inputType = plan.tensors[plan.input].quant ? 'int8' : 'float32';
  if (model instanceof Model) {
    return { name: model.name, inputShape: model.inputShape, inputType, outputNames: model.outputNames, outputShapes: model.outputNames.map((n) => model.outputTensor(n).shape) };
  }
  if (model.outputNames.length !== plan.outputs.length) throw new ConfigError(`planned model: ${model.outputNames.length} output names (${model.outputNames.join(', ')}) for ${plan.outputs.length} plan outputs`);
  return { name: 'planned model', inputShape: plan.tensors[plan.input].shape, inputType, outputNames: model.outputNames, outputShapes: plan.outputs.map((t) => plan.tensors[t].shape) };
}


/** Channels of the tensor that `tensor` is a channel slice of (its pixel stride), or undefined where it is a tensor of its own. */
function sliceChannels(c: Compiler, tensor: number): number | undefined {
  return c.slices.get(tensor)?.stride;
}

/** Floats in the widest input row of any depthwise conv: the zero row that stands for padding rows must cover it. */
function widestDepthwiseRow(plan: Plan): number {
  const convs = plan.steps.flatMap((s) => (s.op === 'conv' ? [s] : s.op === 'chain' ? s.stages : []));
  return Math.max(0, ...convs.filter((s) => convKind(s.kernelShape, s.conv) === 'depthwise').map((s) => s.inShape[1] * s.inShape[2]));
}


function compileStep(step: Step, index: number, c: Compiler, chainPlan: ChainPlan | null): Phase[] {
  const name = `step${index}`;
  const tensors = [step.inputs[0], step.output] as const;
  if (touchesInt8(step, c) || step.op === 'pad') {
    const phases = compileInt8Step(step, index, c);
    if (phases) return phases;
  }
  if (step.op === 'conv') {
    if (im2colFloats(step) > 0) return compileIm2colConv(step, index, c);
    const work = compileConv(step, name, c);
    if (work) return [{ step: index, places: tensorPlaces(step, step.residual), tensors, work, serial: null, native: true }];
  } else if (step.op === 'chain') {
    return [compileChain(step, index, chainPlan!, c)]; // planChains planned every chain
  } else if (step.op === 'dense') {
    // the GEMM with images as pixels: large batches split by images, small ones by output channels
    const spec: GemmSpec = { cin: step.kernel.length / step.units, cout: step.units, clamp: step.clamp, tile: GEMM_TILE };
    emitGemm(c.mod, name, spec);
    const weights = c.runtime.upload(packGemmWeights(spec, step.kernel, step.bias));
    const work: Work = { kind: 'gemm', kernel: name, weights, cin: spec.cin, cout: spec.cout, pixels: 1, residual: false, channelSplit: channelSplit(c, name, spec, 1, emitGemm) };
    return [{ step: index, places: tensorPlaces(step), tensors, work, serial: null, native: true }];
  } else if (step.op === 'globalAvgPool') {
    // too little work to be worth waking the workers
    const [h, w, ch] = c.plan.tensors[step.inputs[0]].shape;
    emitGlobalAvgPool(c.mod, name, { pixels: h * w, channels: ch });
    const serial = (k: Record<string, Kernel>): SerialRun => (at, batch) => k[name](at(step.inputs[0]), at(step.output), batch);
    return [{ step: index, places: tensorPlaces(step), tensors, work: null, serial, native: true }];
  } else if (step.op === 'resize') {
    const outChannels = sliceChannels(c, step.output) ?? step.inShape[2];
    const spec = { inShape: step.inShape, size: step.size, coordinates: step.coordinates, outChannels };
    emitResize(c.mod, name, spec);
    // threads split images by output rows: each reads two input rows, so parts need nothing from each other
    const rowKernel = c.rowKernels ? `${name}_rows` : null;
    if (rowKernel) emitResizeRows(c.mod, rowKernel, spec);
    const weights = c.runtime.upload(packResizeTaps(spec));
    const work: Work = { kind: 'window', op: 'resize', kernel: name, rowKernel, weights, inShape: step.inShape, outShape: [...step.size, outChannels], kernelHeight: 0, strideHeight: 0, dilationHeight: 1, padTop: 0, zeroRow: 0 };
    return [{ step: index, places: tensorPlaces(step), tensors, work, serial: null, native: true }];
  } else if (step.op === 'concat') {
    return [{ step: index, places: tensorPlaces(step), tensors, work: null, serial: compileConcat(step, name, c), native: true }];
  } else if (step.op === 'sigmoid' || step.op === 'softmax') {
    // a head's scores: little work beside the network's, on the calling thread
    const size = c.plan.tensors[step.inputs[0]].size;
    if (step.op === 'sigmoid') emitSigmoid(c.mod, name, size);
    else emitSoftmax(c.mod, name, step.channels);
    const rowsPerImage = step.op === 'sigmoid' ? 1 : size / step.channels;
    const serial = (k: Record<string, Kernel>): SerialRun => (at, batch) => k[name](at(step.inputs[0]), at(step.output), batch * rowsPerImage);
    return [{ step: index, places: tensorPlaces(step), tensors, work: null, serial, native: true }];
  }
  return [fallbackPhase(step, index, c, tensorPlaces(step), tensors)];
}

/**
 * A copy into its slice of the output's runs per input that its producer did not write there itself, on the calling
 * thread: memory-bound, and a small part of the head that has it (DeepLab's 512 channels at output stride 16, SSD's
 * anchors).
 */
function compileConcat(step: ConcatStep, name: string, c: Compiler): (kernels: Record<string, Kernel>) => SerialRun {
  const outChannels = step.blocks.reduce((a, b) => a + b, 0);
  const pixels = c.plan.tensors[step.output].size / outChannels;
  let next = 0;
  const copies = step.blocks.flatMap((channels, k) => {
    const [tensor, offset] = [step.inputs[k], next];
    next += channels;
    if (c.slices.has(tensor)) return []; // its producer wrote it in place
    const kernel = `${name}_in${k}`;
    emitChannelSlice(c.mod, kernel, { channels, outChannels, offset });
    return [{ kernel, tensor }];
  });
  return (k) => (at, batch) => {
    for (const copy of copies) k[copy.kernel](at(copy.tensor), at(step.output), batch * pixels);
  };
}

/** Emits the kernels for a conv step when they fit (1×1 GEMM, depthwise, few-channel stem) and packs its weights; null otherwise. */
function compileConv(step: ConvStep, name: string, c: Compiler): Work | null {
  const [kh, kw, , cout] = step.kernelShape;
  const [h, w, cin] = step.inShape;
  const { strides, dilations, padding } = step.conv;
  const residual = step.residual;
  const kind = convKind(step.kernelShape, step.conv);
  if (kind === 'pointwise') {
    const outputStride = sliceChannels(c, step.output) ?? cout;
    const spec = { cin, cout, clamp: step.clamp, residual: residual !== null, tile: GEMM_TILE, outputStride };
    emitGemm(c.mod, name, spec);
    const weights = c.runtime.upload(packGemmWeights(spec, step.kernel, step.bias));
    return { kind: 'gemm', kernel: name, weights, cin, cout, pixels: h * w, residual: residual !== null, outputStride, channelSplit: channelSplit(c, name, spec, h * w, emitGemm) };
  }
  if (residual !== null) return null;
  const window = { inShape: step.inShape, outShape: step.outShape, kernelHeight: kh, strideHeight: strides[0], dilationHeight: dilations[0], padTop: padding[0], zeroRow: c.zeroRow };
  const rowKernel = c.rowKernels ? `${name}_rows` : null;
  if (kind === 'depthwise') {
    const spec = { height: h, width: w, channels: cin, kernel: [kh, kw] as const, strides, dilations, padding, clamp: step.clamp };
    emitDepthwise(c.mod, name, spec);
    // the row kernel reads the same packed weights: their layout depends on the taps and channels only
    if (rowKernel) emitDepthwiseRow(c.mod, rowKernel, { width: w, channels: cin, kernel: [kh, kw], stride: strides[1], dilation: dilations[1], padLeft: padding[2], padRight: padding[3], clamp: step.clamp });
    const weights = c.runtime.upload(packDepthwiseWeights(spec, step.kernel, step.bias));
    return { kind: 'window', op: 'depthwise', kernel: name, rowKernel, weights, ...window };
  }
  if (kind === 'standard' && dilations[0] === 1 && dilations[1] === 1 && kh * kw * cin <= DIRECT_CONV_MAX_TAPS) {
    const spec = { height: h, width: w, cin, cout, kernel: [kh, kw] as const, strides, padding, clamp: step.clamp };
    emitConv(c.mod, name, spec);
    if (rowKernel) emitConvRows(c.mod, rowKernel, spec);
    const weights = c.runtime.upload(packConvWeights(spec, step.kernel, step.bias));
    return { kind: 'window', op: 'conv', kernel: name, rowKernel, weights, ...window };
  }
  return null;
}

/**
 * A standard convolution the direct kernel does not take, in two phases: each output pixel's window laid out as a row
 * of kh·kw·cin floats in the step's scratch (zeroed first where padding taps stay zero), on the calling thread; then
 * the GEMM of those rows with the HWIO kernel, which is already [kh·kw·cin, cout], split across threads as any GEMM.
 */
function compileIm2colConv(step: ConvStep, index: number, c: Compiler): Phase[] {
  const name = `step${index}`;
  const [kh, kw, cin, cout] = step.kernelShape;
  const [h, w] = step.inShape;
  const { strides, dilations, padding } = step.conv;
  const taps = kh * kw * cin;
  const pixels = step.outShape[0] * step.outShape[1];
  emitIm2col(c.mod, `${name}_im2col`, { height: h, width: w, cin, kernel: [kh, kw], strides, dilations, padding });
  const outputStride = sliceChannels(c, step.output) ?? cout;
  const spec: GemmSpec = { cin: taps, cout, clamp: step.clamp, residual: step.residual !== null, tile: GEMM_TILE, outputStride };
  emitGemm(c.mod, name, spec);
  const weights = c.runtime.upload(packGemmWeights(spec, step.kernel, step.bias));
  const rows: Place = { scratchOf: index, floatsPerImage: 0 };
  const padded = padding.some((p) => p > 0);
  // the serial phase's output place is the scratch: `at(step.output)` points there during it
  const layout = (k: Record<string, Kernel>): SerialRun => (at, batch) => {
    if (padded) c.runtime.f32(at(step.output), batch * pixels * taps).fill(0);
    k[`${name}_im2col`](at(step.inputs[0]), at(step.output), batch);
  };
  const work: Work = { kind: 'gemm', kernel: name, weights, cin: taps, cout, pixels, residual: step.residual !== null, outputStride, channelSplit: channelSplit(c, name, spec, pixels, emitGemm) };
  const residual = step.residual === null ? null : { tensor: step.residual };
  return [
    { step: index, places: [{ tensor: step.inputs[0] }, rows, null], tensors: [step.inputs[0], step.output], work: null, serial: layout, native: true },
    { step: index, places: [rows, { tensor: step.output }, residual], tensors: [-1, -1], work, serial: null, native: true },
  ];
}

/** A chain streamed row by row (paper §5.1): its intermediates live only in each thread's row buffers. */
function compileChain(step: ChainStep, index: number, chainPlan: ChainPlan, c: Compiler): Phase {
  emitChainKernels(c.mod, chainPlan);
  const weights = packChain(c.runtime, chainPlan, chainSpecOf(step));
  const work: Work = { kind: 'chain', weights, scratch: c.chainScratch, scratchStride: c.rowBytesPerThread };
  return { step: index, places: tensorPlaces(step), tensors: [step.inputs[0], step.output], work, serial: null, native: true };
}

/**
 * A streamed chain stage by stage with its own kernels and packed weights (the expand and project GEMMs,
 * the depthwise row kernel over every row), its intermediates in the step's scratch: threads split each
 * stage without halo rows. Adds no kernels and no weights.
 */
function chainStagePhases(step: ChainStep, index: number, chain: ChainPlan, fused: ChainWork, c: Compiler): Phase[] {
  const { weights } = fused;
  const { height, width, channels, kernelHeight, stride, dilation, padTop } = chain.rows;
  const [outH, outW, outC] = chain.outShape;
  const expanded: Place = { scratchOf: index, floatsPerImage: 0 };
  const filtered: Place = { scratchOf: index, floatsPerImage: chain.expand ? height * width * channels : 0 };
  const input: Place = { tensor: step.inputs[0] };
  const phase = (places: Phase['places'], work: Work): Phase => ({ step: index, places, tensors: [-1, -1], work, serial: null, native: true });
  const phases: Phase[] = [];
  if (chain.expand && chain.names.expand) {
    const name = chain.names.expand;
    const work: Work = { kind: 'gemm', kernel: name, weights: weights.expand, cin: chain.expand.cin, cout: channels, pixels: height * width, residual: false, channelSplit: channelSplit(c, name, chain.expand, height * width, emitGemm) };
    phases.push(phase([input, expanded, null], work));
  }
  phases.push(
    phase([chain.expand ? expanded : input, filtered, null], {
      kind: 'window',
      op: 'depthwise',
      kernel: null,
      rowKernel: chain.names.depthwise,
      weights: weights.depthwise,
      inShape: [height, width, channels],
      outShape: [outH, outW, channels],
      kernelHeight,
      strideHeight: stride,
      dilationHeight: dilation,
      padTop,
      zeroRow: weights.zeroRow,
    }),
  );
  const name = chain.names.project;
  const project: Work = { kind: 'gemm', kernel: name, weights: weights.project, cin: channels, cout: outC, pixels: outH * outW, residual: chain.residual, channelSplit: channelSplit(c, name, chain.project, outH * outW, emitGemm) };
  phases.push(phase([filtered, { tensor: step.output }, chain.residual ? input : null], project));
  return phases;
}

/** Runs a step with the reference kernels (float32 or int8, as its tensors are) on views of linear memory, on the calling thread: exact, not fast. */
function fallbackPhase(step: Step, index: number, c: Compiler, places: Phase['places'], tensors: Phase['tensors']): Phase {
  const { runtime, plan } = c;
  const serial = (): SerialRun => (at, batch) => {
    const view = (t: number): PlanValue => {
      const { shape, size, quant } = plan.tensors[t];
      if (quant) return { shape: [batch, ...shape], data: new Int8Array(runtime.memory.buffer, at(t), batch * size), params: quant };
      return new Tensor([batch, ...shape], runtime.f32(at(t), batch * size));
    };
    const y = runPlanStep(plan, step, view);
    if (y instanceof Tensor) runtime.write(at(step.output), y.data);
    else new Int8Array(runtime.memory.buffer, at(step.output), y.data.length).set(y.data);
  };
  return { step: index, places, tensors, work: null, serial, native: false };
}

const RELEASED = new Float32Array(0);

/** Lets the garbage collector have a step's kernel and bias arrays (shapes stay for planning and reports). */
function releaseWeights(step: Step): void {
  const stages = step.op === 'chain' ? step.stages : step.op === 'conv' || step.op === 'dense' ? [step] : [];
  for (const s of stages) {
    s.kernel = RELEASED;
    s.bias = RELEASED;
  }
}
