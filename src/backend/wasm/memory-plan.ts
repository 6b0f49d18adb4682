// Activation memory of a plan as the wasm engine runs it, planned without compiling anything: which chains
// stream row by row (and their row buffers), the scratch of those that cannot, and the arena layout per batch.

import { MobileNetError } from '../../errors.js';
import { placeBuffers, planRequests } from '../../graph/arena.js';
import type { ArenaLayout } from '../../graph/arena.js';
import type { ChainStep, Plan } from '../../graph/plan.js';
import { chainSpecOf, planChain } from './kernels/chain.js';
import type { ChainPlan } from './kernels/chain.js';

/** For each step: the row-streaming plan of a chain the row kernels cover; null otherwise. */
export function planChains(plan: Plan): (ChainPlan | null)[] {
  return plan.steps.map((step, i) => {
    if (step.op !== 'chain') return null;
    try {
      return planChain(chainSpecOf(step), { prefix: `step${i}` });
    } catch (e) {
      if (e instanceof MobileNetError) return null; // a shape the row kernels do not cover: it runs unfused
      throw e;
    }
  });
}

/** Floats of the intermediates of a chain run stage by stage, for `batch` images. */
export function unfusedChainFloats(step: ChainStep, batch: number): number {
  return batch * step.stages.slice(0, -1).reduce((sum, s) => sum + s.outShape[0] * s.outShape[1] * s.outShape[2], 0);
}

export interface PlannedMemory {
  layout: ArenaLayout;
  /** Tensors and unfused-chain scratch, in bytes. */
  arenaBytes: number;
  /** Row buffers of the streamed chains (shared: chains run one after another), per thread, times threads. */
  rowBufferBytes: number;
  totalBytes: number;
}

/**
 * The arena for `batch` images and the row buffers of `threads` threads (each runs chains with buffers of
 * its own). `staged`: streamed chains that run stage by stage this time (threads splitting an image), whose
 * intermediates then take arena scratch like an unfused chain's; their row buffers exist all the same.
 */
export function planMemory(plan: Plan, chains: readonly (ChainPlan | null)[], batch: number, threads = 1, staged: ReadonlySet<number> = new Set()): PlannedMemory {
  const layout = placeBuffers(
    planRequests(plan, batch, (i) => {
      const step = plan.steps[i];
      return step.op === 'chain' && (chains[i] === null || staged.has(i)) ? unfusedChainFloats(step, batch) : 0;
    }),
  );
  const rowBufferBytes = threads * Math.max(0, ...chains.map((c) => c?.scratchBytes ?? 0));
  return { layout, arenaBytes: 4 * layout.floats, rowBufferBytes, totalBytes: 4 * layout.floats + rowBufferBytes };
}
