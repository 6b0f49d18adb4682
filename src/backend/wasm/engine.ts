// The WebAssembly engine: lowers a model once, emits one module of kernels specialised to its shapes,
// packs the weights into linear memory, plans the activation arena per batch size, and runs with no allocation.

import { ConfigError, ShapeError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { lowerModel } from '../../graph/lower.js';
import type { ChainStep, ConvStep, Plan, Step } from '../../graph/plan.js';
import type { Layout } from '../../tensor/tensor.js';
import { Tensor, formatShape, sameShape, toLayout } from '../../tensor/tensor.js';
import { runStep } from '../plan-reference.js';
import { relaxedSimdSupported, simdSupported } from './assembler.js';
import type { ModuleBuilder } from './assembler.js';
import type { Kernel } from './runtime.js';
import { WasmRuntime } from './runtime.js';
import { emitConv, packConvWeights } from './kernels/conv.js';
import { emitDepthwise, packDepthwiseWeights } from './kernels/depthwise.js';
import { emitDense, emitGemm, packGemmWeights } from './kernels/gemm.js';
import { emitGlobalAvgPool } from './kernels/pool.js';
import { chainSpecOf, createChainRunner, emitChainKernels, packChain } from './kernels/chain.js';
import type { ChainPlan } from './kernels/chain.js';
import { planChains, planMemory } from './memory-plan.js';

export interface WasmEngineOptions {
  /** Fuse inverted residuals into row-streamed chains (paper §5.1). Default true. */
  fuseBlocks?: boolean;
  /** Use relaxed-SIMD fused multiply-add where the runtime validates it. Default: detect. */
  relaxedSimd?: boolean;
  /** Threads sharing the work of each step. Default 1. */
  threads?: number;
}

/** Pointers of a step's tensors in the arena, for one batch size. */
type Pointers = (tensor: number) => number;

/** A compiled step: runs on byte pointers for a batch of `batch` images. */
interface CompiledStep {
  run(at: Pointers, batch: number): void;
  /** Whether the step runs in wasm (false: a reference fallback on memory views). */
  native: boolean;
}

const STEM_MAX_TAPS = 512;

export class WasmEngine {
  readonly plan: Plan;
  readonly relaxedSimd: boolean;
  private readonly runtime: WasmRuntime;
  private readonly steps: CompiledStep[];
  private readonly weightsEnd: number;
  private arena: { batch: number; base: number; offsets: Map<string, number>; floats: number } | null = null;

  private constructor(
    private readonly model: Model,
    plan: Plan,
    runtime: WasmRuntime,
    steps: CompiledStep[],
    relaxedSimd: boolean,
    private readonly chains: (ChainPlan | null)[],
  ) {
    this.plan = plan;
    this.runtime = runtime;
    this.steps = steps;
    this.relaxedSimd = relaxedSimd;
    this.weightsEnd = runtime.used;
  }

  /** Whether this JavaScript engine can run the WebAssembly backend at all. */
  static supported(): boolean {
    return simdSupported();
  }

  static async create(model: Model, options: WasmEngineOptions = {}): Promise<WasmEngine> {
    if (!simdSupported()) throw new ConfigError('the wasm backend needs WebAssembly SIMD, which this runtime does not validate; use the reference backend');
    const relaxedSimd = options.relaxedSimd ?? relaxedSimdSupported();
    if (relaxedSimd && !relaxedSimdSupported()) throw new ConfigError('relaxed SIMD was requested but this runtime does not validate it (Node 20 needs --experimental-wasm-relaxed-simd)');
    if ((options.threads ?? 1) !== 1) throw new ConfigError(`threads: only 1 is implemented so far, got ${options.threads}`);
    const plan = lowerModel(model, { fuseBlocks: options.fuseBlocks ?? true });
    const runtime = new WasmRuntime();
    const mod = runtime.module({ relaxedSimd });
    const chains = planChains(plan);
    const context: CompileContext = { chainScratch: 0 };
    const builders = plan.steps.map((step, i) => compileStep(step, i, mod, runtime, plan, chains[i], context));
    const kernels = await runtime.instantiate(mod);
    // chains run one after another, so they share one block of row buffers
    const rowBufferBytes = planMemory(plan, chains, 1).rowBufferBytes;
    if (rowBufferBytes > 0) context.chainScratch = runtime.alloc(rowBufferBytes, 64);
    return new WasmEngine(model, plan, runtime, builders.map((b) => b(kernels)), relaxedSimd, chains);
  }

  /** Steps that run as WebAssembly, and those that fall back to the reference kernels. */
  get coverage(): { native: number; fallback: string[] } {
    const fallback = this.plan.steps.filter((_, i) => !this.steps[i].native).map((s) => `${s.op} ${s.layers[0]}`);
    return { native: this.steps.length - fallback.length, fallback };
  }

  /** Planned activation memory for `batch` images, in bytes: the arena (tensors, step scratch) and the chains' row buffers. */
  arenaBytes(batch = 1): number {
    return planMemory(this.plan, this.chains, batch).totalBytes;
  }

  /** Bytes of packed weights in linear memory. */
  get weightBytes(): number {
    return this.weightsEnd;
  }

  private prepare(batch: number): NonNullable<WasmEngine['arena']> {
    if (this.arena?.batch === batch) return this.arena;
    const { offsets, floats } = planMemory(this.plan, this.chains, batch).layout;
    this.runtime.reset(this.weightsEnd);
    const base = this.runtime.allocF32(floats);
    this.arena = { batch, base, offsets, floats };
    return this.arena;
  }

  /** Runs a batch (NHWC unless `layout` says NCHW) and returns the model output. */
  predict(x: Tensor, options: { layout?: Layout } = {}): Tensor {
    const layout = options.layout ?? 'NHWC';
    const nhwc = x.rank === 4 ? toLayout(x, layout, 'NHWC') : x;
    if (nhwc.rank !== this.model.inputShape.length + 1 || !sameShape(nhwc.shape.slice(1), this.model.inputShape) || nhwc.shape[0] < 1) {
      throw new ShapeError(`model ${this.model.name}: expected input ${formatShape([-1, ...this.model.inputShape])} (NHWC), got ${formatShape(nhwc.shape)} (${layout === 'NCHW' ? 'after NCHW → NHWC' : 'NHWC'})`);
    }
    const batch = nhwc.shape[0];
    const arena = this.prepare(batch);
    const at: Pointers = (t) => arena.base + 4 * arena.offsets.get(`t${t}`)!;
    this.runtime.write(at(this.plan.input), nhwc.data);
    this.steps.forEach((s, i) => s.run((t) => (t < 0 ? arena.base + 4 * arena.offsets.get(`s${i}`)! : at(t)), batch));
    const out = new Tensor([batch, ...this.model.outputShape], this.runtime.read(at(this.plan.output), batch * this.plan.tensors[this.plan.output].size));
    return layout === 'NCHW' && out.rank === 4 ? toLayout(out, 'NHWC', 'NCHW') : out;
  }
}

/** Scratch pointers are asked for as negative tensor ids: -1 is the step's first scratch buffer. */
const SCRATCH = -1;

type StepBuilder = (kernels: Record<string, Kernel>) => CompiledStep;

/** Set after compiling, before the builders run: the address of the chains' shared row buffers. */
interface CompileContext {
  chainScratch: number;
}

function compileStep(step: Step, index: number, mod: ModuleBuilder, runtime: WasmRuntime, plan: Plan, chainPlan: ChainPlan | null, context: CompileContext): StepBuilder {
  const name = `step${index}`;
  if (step.op === 'conv') {
    const native = compileConv(step, name, mod, runtime);
    if (native) return native;
  } else if (step.op === 'chain') {
    return chainPlan ? compileChain(step, chainPlan, mod, runtime, context) : compileChainUnfused(step.stages, name, mod, runtime, plan);
  } else if (step.op === 'dense') {
    const spec = emitDense(mod, name, { inputs: step.kernel.length / step.units, units: step.units, clamp: step.clamp });
    const w = runtime.upload(packGemmWeights(spec, step.kernel, step.bias));
    return (k) => ({ native: true, run: (at, batch) => k[name](at(step.inputs[0]), w, at(step.output), batch, 0) });
  } else if (step.op === 'globalAvgPool') {
    const [h, w, c] = plan.tensors[step.inputs[0]].shape;
    emitGlobalAvgPool(mod, name, { pixels: h * w, channels: c });
    return (k) => ({ native: true, run: (at, batch) => k[name](at(step.inputs[0]), at(step.output), batch) });
  }
  return () => fallback(step, runtime, plan);
}

/** Emits the kernel for a conv step when one fits (1×1 GEMM, depthwise, few-channel stem); null otherwise. */
function compileConv(step: ConvStep, name: string, mod: ModuleBuilder, runtime: WasmRuntime): StepBuilder | null {
  const [kh, kw, cPerGroup, cout] = step.kernelShape;
  const [h, w, cin] = step.inShape;
  const { strides, dilations, padding, groups } = step.conv;
  if (dilations[0] !== 1 || dilations[1] !== 1) return null;
  const residual = step.residual;
  if (kh === 1 && kw === 1 && groups === 1 && strides[0] === 1 && strides[1] === 1 && padding.every((p) => p === 0)) {
    const spec = { cin, cout, clamp: step.clamp, residual: residual !== null };
    emitGemm(mod, name, spec);
    const wp = runtime.upload(packGemmWeights(spec, step.kernel, step.bias));
    const pixels = h * w;
    return (k) => ({ native: true, run: (at, batch) => k[name](at(step.inputs[0]), wp, at(step.output), batch * pixels, residual === null ? 0 : at(residual)) });
  }
  if (residual !== null) return null;
  if (groups === cin && cPerGroup === 1 && cout === cin) {
    const spec = { height: h, width: w, channels: cin, kernel: [kh, kw] as const, strides, padding, clamp: step.clamp };
    emitDepthwise(mod, name, spec);
    const wp = runtime.upload(packDepthwiseWeights(spec, step.kernel, step.bias));
    return (k) => ({ native: true, run: (at, batch) => k[name](at(step.inputs[0]), wp, at(step.output), batch) });
  }
  if (groups === 1 && kh * kw * cin <= STEM_MAX_TAPS) {
    const spec = { height: h, width: w, cin, cout, kernel: [kh, kw] as const, strides, padding, clamp: step.clamp };
    emitConv(mod, name, spec);
    const wp = runtime.upload(packConvWeights(spec, step.kernel, step.bias));
    return (k) => ({ native: true, run: (at, batch) => k[name](at(step.inputs[0]), wp, at(step.output), batch) });
  }
  return null;
}

/** A chain streamed row by row (paper §5.1): its intermediates live only in the shared row buffers. */
function compileChain(step: ChainStep, chainPlan: ChainPlan, mod: ModuleBuilder, runtime: WasmRuntime, context: CompileContext): StepBuilder {
  emitChainKernels(mod, chainPlan);
  const weights = packChain(runtime, chainPlan, chainSpecOf(step));
  return (k) => {
    const runner = createChainRunner(runtime, k, weights, context.chainScratch);
    return { native: true, run: (at, batch) => runner.run(at(step.inputs[0]), at(step.output), batch) };
  };
}

/** A chain run stage by stage through whole-tensor kernels, its intermediates in step scratch. */
function compileChainUnfused(stages: ConvStep[], name: string, mod: ModuleBuilder, runtime: WasmRuntime, plan: Plan): StepBuilder {
  const sizes = stages.slice(0, -1).map((s) => s.outShape[0] * s.outShape[1] * s.outShape[2]);
  const parts = stages.map((s, i) => {
    const b = compileConv(s, `${name}_${i}`, mod, runtime);
    return b ?? (() => fallback(s, runtime, plan));
  });
  return (k) => {
    const compiled = parts.map((b) => b(k));
    return {
      native: compiled.every((c) => c.native),
      run: (at, batch) => {
        const scratch = at(SCRATCH);
        const offsets = sizes.map((_, i) => scratch + 4 * batch * sizes.slice(0, i).reduce((a, b) => a + b, 0));
        stages.forEach((s, i) => {
          const input = i === 0 ? at(s.inputs[0]) : offsets[i - 1];
          const output = i === stages.length - 1 ? at(s.output) : offsets[i];
          compiled[i].run((t) => (t === s.inputs[0] ? input : t === s.output ? output : at(t)), batch);
        });
      },
    };
  };
}

/** Runs a step with the reference kernels on views of linear memory: exact, not fast. */
function fallback(step: Step, runtime: WasmRuntime, plan: Plan): CompiledStep {
  return {
    native: false,
    run: (at, batch) => {
      const view = (t: number): Tensor => new Tensor([batch, ...plan.tensors[t].shape], runtime.f32(at(t), batch * plan.tensors[t].size));
      const y = runStep(step, view);
      runtime.write(at(step.output), y.data);
    },
  };
}
