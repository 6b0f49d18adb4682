// Runs a fused chain — [stem conv] [expand 1×1] → depthwise (dilated or not) → project 1×1 (+ residual) — row by row, so the
// expanded tensor and the stem's output never exist whole (MobileNetV2 §5.1). Plan once, pack once, a runner per thread.

import type { ModuleBuilder } from '../assembler.js';
import type { Kernel, WasmRuntime } from '../runtime.js';
import type { ChainStep } from '../../../graph/plan.js';
import { type ChainRoles, type ChainStageShape, chainRoles } from '../../../graph/chain-stages.js';
import { ConfigError } from '../../../errors.js';
import { type Clamp, F32, roundUp } from './common.js';
import { type ConvSpec, packConvWeights } from './conv.js';
import { type GemmSpec, emitGemm, packGemmWeights } from './gemm.js';
import { type DepthwiseRowSpec, emitConvRows, emitDepthwiseRow, packDepthwiseRowWeights } from './rows.js';

/** One convolution of a chain, BatchNorm folded: the fields of a plan's ConvStep that the chain needs. */
export interface ChainStage extends ChainStageShape {
  /** HWIO, as `kernelShape` says. */
  kernel: Float32Array;
  bias: Float32Array | null;
  clamp: Clamp | null;
}

export interface ChainSpec {
  /** [stem]? [expand 1×1]? depthwise, project 1×1. */
  stages: readonly ChainStage[];
  /** Add the chain's input to the project stage's output (before its clamp). */
  residual: boolean;
}

/** A plan's ChainStep as a ChainSpec: the residual, when there is one, is the chain's input. */
export function chainSpecOf(step: ChainStep): ChainSpec {
  return { stages: step.stages, residual: step.stages[step.stages.length - 1].residual !== null };
}

/**
 * How a chain streams, whatever its precision: kernel export names, row geometry and the per-runner scratch layout. Plain
 * data (no weights, no functions), so it can be posted to workers.
 */
export interface ChainRows {
  /**
   * Export names of the chain's kernels. `stemWindows`: where the stem runs as window rows and a GEMM (int8), the kernel
   * `(image, windows, firstRow, rowCount)` laying out the windows of stem output rows; the stem is then that GEMM.
   */
  names: { stem: string | null; stemWindows: string | null; expand: string | null; depthwise: string; project: string };
  residual: boolean;
  /** Bytes per tensor element: 4 (float32) or 1 (int8). */
  elementBytes: number;
  /** The chain's per-sample input (the stem's, if any) and output, [H, W, C]. */
  inShape: [number, number, number];
  outShape: [number, number, number];
  /**
   * The depthwise stage's input rows: [height, width, channels], and how output rows map onto them: output row
   * oy reads input rows oy·stride − padTop + ky·dilation for ky in [0, kernelHeight).
   */
  rows: { height: number; width: number; channels: number; kernelHeight: number; stride: number; dilation: number; padTop: number };
  /** Output rows made per step: their expand and project each run as one GEMM over all their pixels. */
  rowsPerStep: number;
  /**
   * Expanded (or stem) rows kept in the ring, min((kh − 1)·dilation + 1 + (rowsPerStep − 1)·stride, height): a
   * step's windows span that many rows; 0 when the depthwise reads the chain's input rows.
   */
  ringRows: number;
  /**
   * Byte offsets into a runner's scratch, each 64-byte aligned; -1 where a chain has no such buffer. Rows
   * inside a buffer are packed with no gap, so consecutive rows are one run of pixels for the GEMM.
   */
  scratch: { ring: number; stemRows: number; stemWindows: number; depthwiseRows: number };
  /** Bytes each runner needs for its row buffers (a multiple of 64). */
  scratchBytes: number;
  /** Elements of the shared row that stands for rows in the vertical padding. */
  zeroRowFloats: number;
}

/** Everything decided before data flows for a float chain: its rows and its kernels' specs. */
export interface ChainPlan extends ChainRows {
  stem: ConvSpec | null;
  expand: GemmSpec | null;
  depthwise: DepthwiseRowSpec;
  project: GemmSpec;
}

const ALIGN = 64;

/** Input rows one depthwise window spans: its first tap row to its last, (kh − 1)·dilation + 1. */
function windowRows(kernelHeight: number, dilation: number): number {
  return (kernelHeight - 1) * dilation + 1;
}

/**
 * The GEMM runs 4-pixel tiles and then single pixels, which cost about as much as a tile each: a step
 * gets at least this many output pixels, and a multiple of 4 where the image has the rows for it.
 */
const STEP_PIXELS = 32;
const TILE_PIXELS = 4;

function defaultRowsPerStep(outHeight: number, outWidth: number): number {
  let rows = Math.ceil(STEP_PIXELS / outWidth);
  while ((rows * outWidth) % TILE_PIXELS !== 0 && rows < outHeight) rows++;
  return Math.min(rows, outHeight);
}

export interface ChainOptions {
  /** Prefix of the kernels' export names, unique within a module. Default 'chain'. */
  prefix?: string;
  /** Output rows per step; default: enough rows for 32 output pixels, a multiple of 4 where possible. */
  rowsPerStep?: number;
}

/**
 * Checks a chain and plans it: which kernels, their names (`prefix` + stage), the rows and the scratch.
 * Throws ConfigError for a chain these kernels do not run, ShapeError for inconsistent shapes.
 */
export function planChain(spec: ChainSpec, options: ChainOptions = {}): ChainPlan {
  const roles = chainRoles(spec.stages, spec.residual);
  const { stem, expand, depthwise, project } = roles;
  const rows = planChainRows(roles, spec.residual, F32, options);
  const { width, channels } = rows.rows;
  const [kh, kw] = depthwise.kernelShape;
  const [, , padLeft, padRight] = depthwise.conv.padding;
  const dwSpec: DepthwiseRowSpec = { width, channels, kernel: [kh, kw], stride: depthwise.conv.strides[1], dilation: depthwise.conv.dilations[1], padLeft, padRight, clamp: depthwise.clamp };
  const stemSpec: ConvSpec | null = stem && {
    height: stem.inShape[0],
    width: stem.inShape[1],
    cin: stem.inShape[2],
    cout: stem.outShape[2],
    kernel: [stem.kernelShape[0], stem.kernelShape[1]],
    strides: stem.conv.strides,
    padding: stem.conv.padding,
    clamp: stem.clamp,
  };
  const expandSpec: GemmSpec | null = expand && { cin: expand.inShape[2], cout: channels, clamp: expand.clamp };
  const projectSpec: GemmSpec = { cin: channels, cout: rows.outShape[2], clamp: project.clamp, residual: spec.residual };
  return { ...rows, stem: stemSpec, expand: expandSpec, depthwise: dwSpec, project: projectSpec };
}

/**
 * The rows, names and scratch of a chain of these stages (`chainRoles`' roles), its tensors `elementBytes` bytes per element;
 * `stemWindows`: the stem runs as window rows (kh·kw·cin elements per output pixel) and a GEMM.
 */
export function planChainRows(roles: ChainRoles<ChainStageShape>, residual: boolean, elementBytes: number, options: ChainOptions & { stemWindows?: boolean } = {}): ChainRows {
  const { stem, expand, depthwise, project } = roles;
  const inShape = [...(stem ?? expand ?? depthwise).inShape] as [number, number, number];
  const outShape = [...project.outShape] as [number, number, number];
  const [height, width, channels] = depthwise.inShape;
  const [kh] = depthwise.kernelShape;
  const [padTop] = depthwise.conv.padding;
  const [dilation] = depthwise.conv.dilations;
  const [outHeight, outWidth] = outShape;
  const rowsPerStep = options.rowsPerStep ?? defaultRowsPerStep(outHeight, outWidth);
  if (!Number.isInteger(rowsPerStep) || rowsPerStep < 1) throw new ConfigError(`chain: rowsPerStep must be a positive integer, got ${rowsPerStep}`);
  const stride = depthwise.conv.strides[0];
  const ringRows = stem || expand ? Math.min(windowRows(kh, dilation) + (rowsPerStep - 1) * stride, height) : 0;
  let top = 0;
  const take = (bytes: number): number => {
    const at = top;
    top += roundUp(bytes, ALIGN);
    return at;
  };
  const ring = ringRows > 0 ? take(ringRows * width * channels * elementBytes) : -1;
  const stemRows = stem && expand ? take(ringRows * width * stem.outShape[2] * elementBytes) : -1;
  const windows = stem && options.stemWindows ? take(ringRows * width * stem.kernelShape[0] * stem.kernelShape[1] * stem.inShape[2] * elementBytes) : -1;
  const depthwiseRows = take(rowsPerStep * outWidth * channels * elementBytes);
  const prefix = options.prefix ?? 'chain';
  return {
    names: {
      stem: stem && `${prefix}_stem`,
      stemWindows: stem && options.stemWindows ? `${prefix}_stem_windows` : null,
      expand: expand && `${prefix}_expand`,
      depthwise: `${prefix}_depthwise`,
      project: `${prefix}_project`,
    },
    residual,
    elementBytes,
    inShape,
    outShape,
    rows: { height, width, channels, kernelHeight: kh, stride, dilation, padTop },
    rowsPerStep,
    ringRows,
    scratch: { ring, stemRows, stemWindows: windows, depthwiseRows },
    scratchBytes: top,
    zeroRowFloats: width * channels,
  };
}

/** Emits the chain's kernels into `mod` (which may hold other kernels too), under `plan.names`. */
export function emitChainKernels(mod: ModuleBuilder, plan: ChainPlan): void {
  if (plan.stem && plan.names.stem) emitConvRows(mod, plan.names.stem, plan.stem);
  if (plan.expand && plan.names.expand) emitGemm(mod, plan.names.expand, plan.expand);
  emitDepthwiseRow(mod, plan.names.depthwise, plan.depthwise);
  emitGemm(mod, plan.names.project, plan.project);
}

/** Packed weights and the zero row in the runtime's memory, shared read-only by every runner of the chain. Plain data. */
export interface ChainWeights {
  plan: ChainRows;
  /** Byte pointers; 0 for a stage the chain lacks. */
  stem: number;
  expand: number;
  depthwise: number;
  project: number;
  zeroRow: number;
  /** Bytes these take in the memory (alignment included). */
  bytes: number;
}

/** Packs the stages' weights into `runtime`'s memory for the kernels `plan` names. */
export function packChain(runtime: WasmRuntime, plan: ChainPlan, spec: ChainSpec): ChainWeights {
  const start = runtime.used;
  const stages = spec.stages;
  const at = (fromEnd: number): ChainStage => stages[stages.length - fromEnd];
  const upload = (data: Float32Array): number => runtime.upload(data);
  const stem = plan.stem ? upload(packConvWeights(plan.stem, stages[0].kernel, stages[0].bias)) : 0;
  const expand = plan.expand ? upload(packGemmWeights(plan.expand, at(3).kernel, at(3).bias)) : 0;
  const depthwise = upload(packDepthwiseRowWeights(plan.depthwise, at(2).kernel, at(2).bias));
  const project = upload(packGemmWeights(plan.project, at(1).kernel, at(1).bias));
  // written, not assumed: memory the allocator hands out again after a reset is not zero
  const zeroRow = upload(new Float32Array(plan.zeroRowFloats));
  return { plan, stem, expand, depthwise, project, zeroRow, bytes: runtime.used - start };
}

export interface ChainRunner {
  /** Byte pointer of this runner's row buffers, and their size (`plan.scratchBytes`). */
  readonly scratch: number;
  readonly scratchBytes: number;
  /** The whole chain over `batch` NHWC images: input and output are byte pointers to whole tensors. */
  run(input: number, output: number, batch: number): void;
  /**
   * Output rows [firstRow, firstRow + rowCount) of image `batchIndex`; `input` and `output` point at the
   * whole tensors. Bands recompute their halo rows, so bands that tile the output give `run`'s result.
   */
  runRows(input: number, output: number, batchIndex: number, firstRow: number, rowCount: number): void;
}

function kernel(kernels: Record<string, Kernel>, name: string): Kernel {
  const k = kernels[name];
  if (typeof k !== 'function') throw new ConfigError(`chain: the module has no kernel '${name}'; emit the plan's kernels with emitChainKernels`);
  return k;
}

/**
 * A runner over shared weights with row buffers of its own: one per thread, each with the kernels of its
 * own instance of the module. `scratch` is a 64-byte-aligned block of `plan.scratchBytes` (allocated from
 * `runtime` when left out: in a worker, pass one the main thread allocated).
 */
export function createChainRunner(runtime: WasmRuntime, kernels: Record<string, Kernel>, weights: ChainWeights, scratch?: number): ChainRunner {
  const plan = weights.plan;
  const base = scratch ?? runtime.alloc(plan.scratchBytes, ALIGN);
  if (base % ALIGN !== 0) throw new ConfigError(`chain: scratch pointer ${base} is not ${ALIGN}-byte aligned`);
  const stem = plan.names.stem ? kernel(kernels, plan.names.stem) : null;
  const stemWindows = plan.names.stemWindows ? kernel(kernels, plan.names.stemWindows) : null;
  const expand = plan.names.expand ? kernel(kernels, plan.names.expand) : null;
  const depthwise = kernel(kernels, plan.names.depthwise);
  const project = kernel(kernels, plan.names.project);

  const [inH, inW, inC] = plan.inShape;
  const [outH, outW, outC] = plan.outShape;
  const element = plan.elementBytes;
  const inRowBytes = inW * inC * element;
  const outRowBytes = outW * outC * element;
  const { height, width, channels, kernelHeight, stride, dilation, padTop } = plan.rows;
  const span = windowRows(kernelHeight, dilation);
  const { rowsPerStep, ringRows } = plan;
  const ringRowBytes = width * channels * element;
  const ring = base + plan.scratch.ring;
  const stemRows = base + plan.scratch.stemRows;
  const windows = base + plan.scratch.stemWindows;
  const depthwiseRows = base + plan.scratch.depthwiseRows;
  const depthwiseRowBytes = outW * channels * element;
  // the depthwise kernel's arguments, reused: kh row pointers, weights, output row
  const args: number[] = new Array<number>(kernelHeight + 2).fill(0);
  args[kernelHeight] = weights.depthwise;

  /** Depthwise input rows [row, row + count) into consecutive ring slots: stem rows, then expand. */
  const produce = (image: number, row: number, count: number): void => {
    const target = ring + (row % ringRows) * ringRowBytes;
    let source = image + row * inRowBytes;
    if (stem) {
      source = expand ? stemRows : target;
      if (stemWindows) {
        stemWindows(image, windows, row, count);
        stem(windows, weights.stem, source, count * width, 0);
      } else stem(image, weights.stem, source, row, count);
    }
    if (expand) expand(source, weights.expand, target, count * width, 0);
  };

  const runRows = (input: number, output: number, batchIndex: number, firstRow: number, rowCount: number): void => {
    if (!(Number.isInteger(batchIndex) && batchIndex >= 0 && Number.isInteger(firstRow) && Number.isInteger(rowCount) && firstRow >= 0 && rowCount >= 0 && firstRow + rowCount <= outH)) {
      throw new ConfigError(`chain: rows [${firstRow}, ${firstRow + rowCount}) of image ${batchIndex} are not within the output's ${outH} rows`);
    }
    const image = input + batchIndex * inH * inRowBytes;
    const outImage = output + batchIndex * outH * outRowBytes;
    const end = firstRow + rowCount;
    // the lowest depthwise input row not yet in the ring: a band starts with an empty one
    let next = 0;
    for (let oy0 = firstRow; oy0 < end; oy0 += rowsPerStep) {
      const rows = Math.min(rowsPerStep, end - oy0);
      const lo = oy0 * stride - padTop;
      const hi = Math.min((oy0 + rows - 1) * stride - padTop + span, height);
      // new rows in at most two runs of consecutive slots: the ring wraps at most once per step
      for (let r = Math.max(next, lo, 0); r < hi; ) {
        const count = Math.min(hi - r, ringRows - (r % ringRows));
        produce(image, r, count);
        r += count;
      }
      next = Math.max(next, hi);
      for (let i = 0; i < rows; i++) {
        const windowTop = lo + i * stride;
        for (let ky = 0; ky < kernelHeight; ky++) {
          const r = windowTop + ky * dilation;
          args[ky] = r < 0 || r >= height ? weights.zeroRow : ringRows > 0 ? ring + (r % ringRows) * ringRowBytes : image + r * inRowBytes;
        }
        args[kernelHeight + 1] = depthwiseRows + i * depthwiseRowBytes;
        depthwise.apply(null, args);
      }
      project(depthwiseRows, weights.project, outImage + oy0 * outRowBytes, rows * outW, plan.residual ? image + oy0 * inRowBytes : 0);
    }
  };

  return {
    scratch: base,
    scratchBytes: plan.scratchBytes,
    run(input, output, batch) {
      for (let b = 0; b < batch; b++) runRows(input, output, b, 0, outH);
    },
    runRows,
  };
}

export interface BuiltChain {
  plan: ChainPlan;
  weights: ChainWeights;
  kernels: Record<string, Kernel>;
  runner: ChainRunner;
}

/** Plans, emits, instantiates and packs one chain in a module of its own, with one runner. */
export async function buildChain(runtime: WasmRuntime, spec: ChainSpec, options: ChainOptions & { relaxedSimd?: boolean } = {}): Promise<BuiltChain> {
  const plan = planChain(spec, options);
  const mod = runtime.module({ relaxedSimd: options.relaxedSimd });
  emitChainKernels(mod, plan);
  const kernels = await runtime.instantiate(mod);
  const weights = packChain(runtime, plan, spec);
  return { plan, weights, kernels, runner: createChainRunner(runtime, kernels, weights) };
}
