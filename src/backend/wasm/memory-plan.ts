// Activation memory of a plan as the wasm engine runs it, planned without compiling anything: the chains' row
// buffers, the scratch of those that threads run stage by stage, and the arena layout per batch.

import { placeBuffers, planRequests } from '../../graph/arena.js';
import type { ArenaLayout } from '../../graph/arena.js';
import type { ChainStep, Plan } from '../../graph/plan.js';
import { chainSpecOf, planChain } from './kernels/chain.js';
import type { ChainPlan } from './kernels/chain.js';

/**
 * For each step: the row-streaming plan of a chain; null for other steps. The lowering fuses only chains the row
 * kernels take (`chainRoles`), so a chain they refuse is a bug, and throws.
 */
export function planChains(plan: Plan): (ChainPlan | null)[] {
  return plan.steps.map((step, i) => (step.op === 'chain' ? planChain(chainSpecOf(step), { prefix: `step${i}` }) : null));
}

/** Floats of the intermediates of a chain run stage by stage, for `batch` images. */
export function unfusedChainFloats(step: ChainStep, batch: number): number {
  return batch * step.stages.slice(0, -1).reduce((sum, s) => sum + s.outShape[0] * s.outShape[1] * s.outShape[2], 0);
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
 * intermediates then take arena scratch; their row buffers exist all the same.
 */
export function planMemory(plan: Plan, chains: readonly (ChainPlan | null)[], batch: number, threads = 1, staged: ReadonlySet<number> = new Set()): PlannedMemory {
  const layout = placeBuffers(
    planRequests(plan, batch, (i) => {
      const step = plan.steps[i];
      return step.op === 'chain' && staged.has(i) ? unfusedChainFloats(step, batch) : 0;
    }),
  );
  const rowBufferBytes = threads * Math.max(0, ...chains.map((c) => c?.scratchBytes ?? 0));
  return { layout, arenaBytes: 4 * layout.floats, rowBufferBytes, totalBytes: 4 * layout.floats + rowBufferBytes };
}
