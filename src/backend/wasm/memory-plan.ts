// Activation memory of a plan as the wasm engine runs it, planned without compiling anything: the chains' row
// buffers, the scratch of those that threads run stage by stage, and the arena layout per batch.

import { placeBuffers, planRequests } from '../../graph/arena.js';
import type { ArenaLayout, ChannelSlice } from '../../graph/arena.js';
import type { ChainStep, ConvStep, Plan, QConvStep, Step } from '../../graph/plan.js';
import { readerCounts } from '../../graph/passes/rewrite.js';
import { convKind } from '../../ops/conv-kind.js';
import { chainSpecOf, planChain } from './kernels/chain.js';
import type { ChainPlan } from './kernels/chain.js';
import { planInt8Chain } from './kernels/int8-chain.js';
import type { Int8ChainPlan } from './kernels/int8-chain.js';

/**
 * For each step: the row-streaming plan of a chain; null for other steps. The lowering fuses only chains the row
 * kernels take (`chainRoles`), so a chain they refuse is a bug, and throws.
 */
export function planChains(plan: Plan): (ChainPlan | Int8ChainPlan | null)[] {
  return plan.steps.map((step, i) => (step.op === 'qchain' ? planInt8Chain(step.stages, { prefix: `step${i}` }) : step.op === 'chain' ? planChain(chainSpecOf(step), { prefix: `step${i}` }) : null));
}

/** Floats of the intermediates of a chain run stage by stage, for `batch` images. */
export function unfusedChainFloats(step: ChainStep, batch: number): number {
  return batch * step.stages.slice(0, -1).reduce((sum, s) => sum + s.outShape[0] * s.outShape[1] * s.outShape[2], 0);
}

/** Taps per output pixel (kh·kw·cin) up to which an undilated standard convolution runs on the direct kernel (a stem's). */
export const DIRECT_CONV_MAX_TAPS = 512;

/**
 * Floats per image of the window rows that a standard convolution the direct kernel does not take (SSD's 3×3 extra
 * layers on hundreds of channels, a dilated one; every int8 one) is laid out in before its GEMM: im2col scratch. 0 for other steps.
 */
export function im2colFloats(step: Step): number {
  // every standard int8 convolution runs as im2col, its window rows a byte per value
  if (step.op === 'qconv') return convKind(step.kernelShape, step.conv) === 'standard' ? Math.ceil(windowValues(step) / 4) : 0;
  return step.op === 'conv' && runsAsIm2col(step) ? windowValues(step) : 0;
}

/** Values per image of a convolution's window rows: kh·kw·cin per output pixel. */
function windowValues(step: ConvStep | QConvStep): number {
  const [kh, kw, cin] = step.kernelShape;
  return step.outShape[0] * step.outShape[1] * kh * kw * cin;
}

function runsAsIm2col(step: ConvStep): boolean {
  const [kh, kw, cin] = step.kernelShape;
  const direct = step.conv.dilations.every((d) => d === 1) && kh * kw * cin <= DIRECT_CONV_MAX_TAPS;
  return convKind(step.kernelShape, step.conv) === 'standard' && !direct;
}

/** Steps whose engine kernels write a channel slice as well as a whole tensor: a resize, and a 1×1 convolution's GEMM with no residual. */
function writesSlices(step: Step): boolean {
  if (step.op === 'resize') return true;
  return step.op === 'conv' && step.residual === null && step.conv.dilations.every((d) => d === 1) && convKind(step.kernelShape, step.conv) === 'pointwise';
}

/**
 * The inputs of concatenations that their producers write straight into the output, so that nothing is copied:
 * those made by a step that can (`writesSlices`), read by the concatenation only, and whose pixels are the runs it
 * takes (its channels, on the channel axis; a 1×1 map's, on SSD's anchors axis). The others are copied in.
 */
export function concatSlices(plan: Plan): Map<number, ChannelSlice> {
  const readers = readerCounts(plan);
  const producers = new Map(plan.steps.map((s) => [s.output, s]));
  const slices = new Map<number, ChannelSlice>();
  for (const step of plan.steps) {
    if (step.op !== 'concat') continue;
    let offset = 0;
    const stride = step.blocks.reduce((a, b) => a + b, 0);
    step.inputs.forEach((t, k) => {
      const producer = producers.get(t);
      if (producer && readers.get(t) === 1 && plan.tensors[t].shape.at(-1) === step.blocks[k] && writesSlices(producer)) slices.set(t, { tensor: step.output, offset, stride });
      offset += step.blocks[k];
    });
  }
  return slices;
}

export interface PlannedMemory {
  layout: ArenaLayout;
  /** Tensors and the scratch of chains run stage by stage, in bytes. */
  arenaBytes: number;
  /** Row buffers of the streamed chains (shared: chains run one after another), per thread, times threads. */
  rowBufferBytes: number;
  totalBytes: number;
}

/**
 * The arena for `batch` images and the row buffers of `threads` threads (each runs chains with buffers of
 * its own). `staged`: streamed chains that run stage by stage this time (threads splitting an image), whose
 * intermediates then take arena scratch; their row buffers exist all the same. Convolutions run as im2col and a
 * GEMM take scratch for their window rows.
 */
export function planMemory(plan: Plan, chains: readonly (ChainPlan | Int8ChainPlan | null)[], batch: number, threads = 1, staged: ReadonlySet<number> = new Set()): PlannedMemory {
  const requests = planRequests(
    plan,
    batch,
    (i) => {
      const step = plan.steps[i];
      return step.op === 'chain' && staged.has(i) ? unfusedChainFloats(step, batch) : batch * im2colFloats(step);
    },
    concatSlices(plan),
  );
  // the arena counts in floats: an int8 tensor's bytes take a quarter as many (its offset stays 64-byte aligned)
  const layout = placeBuffers(requests.map((r) => (r.key.startsWith('t') && plan.tensors[Number(r.key.slice(1))].quant ? { ...r, floats: Math.ceil(r.floats / 4) } : r)));
  const rowBufferBytes = threads * Math.max(0, ...chains.map((c) => c?.scratchBytes ?? 0));
  return { layout, arenaBytes: 4 * layout.floats, rowBufferBytes, totalBytes: 4 * layout.floats + rowBufferBytes };
}
