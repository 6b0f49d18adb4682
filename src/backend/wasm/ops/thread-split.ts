// Thread splitting of the ops backend's kernels: each split op compiled once, bound on this thread and loaded into
// the workers; run over a leading axis (rows, images) in parts fixed by the shapes and the thread count.

import type { ModuleBuilder } from '../assembler.js';
import { F32, LANES, roundUp } from '../kernels/common.js';
import type { Kernel, WasmRuntime } from '../runtime.js';
import type { ThreadPool } from '../threads.js';
import { bindWork, usefulParts } from '../threads-work.js';
import type { CallArg, PartRunner, SplitWork } from '../threads-work.js';
import type { ModuleCache } from './module-cache.js';
import { STAGE_FLOATS } from './staging.js';

/** An op's kernels over a leading axis as split work: bound on this thread, and its step in the pool's workers. */
export interface SplitOp {
  work: SplitWork;
  runner: PartRunner;
  step: number | null;
}

/**
 * One-thread GEMM chunks per thread in a staged chunk with threads. A one-thread chunk is 10–100 µs of work, a
 * dispatch a few µs; four per thread keep each thread's share in L2 (≤ 0.5 MiB). Per-image ops are not scaled:
 * their chunks are already an image or more per thread. (Chosen, not tuned: no quiet machine to time it on.)
 */
const ROW_CHUNKS_PER_THREAD = 4;

export class ThreadSplit {
  /** Kernel calls split across more than one thread so far. */
  parallelCalls = 0;
  private readonly ops = new Map<string, SplitOp>();

  constructor(
    private readonly cache: ModuleCache,
    private readonly rt: WasmRuntime,
    /** The element-wise kernels (their `add` sums per-part accumulators). */
    private readonly flat: Record<string, Kernel>,
    private readonly pool: ThreadPool | null,
  ) {}

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** The split op `key` (its work a function of the key alone): compiled, bound here, and loaded into the workers on first use. */
  op(key: string, emit: (m: ModuleBuilder) => void, work: () => SplitWork): SplitOp {
    let op = this.ops.get(key);
    if (!op) {
      const { module, kernels } = this.cache.compiled(key, emit);
      const w = work();
      op = { work: w, runner: bindWork(w, kernels, this.rt, 0), step: this.pool ? this.pool.load(module, [w]) : null };
      this.ops.set(key, op);
    }
    return op;
  }

  /** Parts `units` units of `op` split into: a function of the shapes and the thread count only, never of timing. */
  parts(op: SplitOp, units: number): number {
    return this.pool ? usefulParts(op.work, units, this.pool.threads) : 1;
  }

  /** Runs `op` over `units` units on its three pointers, across the threads where it splits. */
  run(op: SplitOp, units: number, input: number, output: number, third: number): void {
    const parts = this.parts(op, units);
    if (parts > 1) {
      this.parallelCalls++;
      this.pool!.runAt(op.step!, input, output, third, units, parts, op.runner);
    } else op.runner(input, output, third, units, 0, 1);
  }

  /** Adds the per-part accumulators of `floats` floats at `pointer` (`stride` floats apart) into the first, in part order. */
  sumParts(pointer: number, floats: number, stride: number, parts: number): void {
    for (let p = 1; p < parts; p++) this.flat.add(pointer, pointer + p * stride * F32, pointer, roundUp(floats, LANES) / LANES);
  }

  /** Images per staged chunk of a per-image op that moves `floats` floats per image: a cache-sized share per thread. */
  imagesPerStage(floats: number): number {
    return imagesPerChunk(floats) * this.threads;
  }

  /**
   * Rows per staged chunk of a GEMM whose one-thread chunk is `rows`: with threads, `ROW_CHUNKS_PER_THREAD` such
   * chunks per thread, so that each dispatch's fixed cost is spread over more work.
   */
  rowsPerStage(rows: number): number {
    return this.threads === 1 ? rows : rows * this.threads * ROW_CHUNKS_PER_THREAD;
  }

  clear(): void {
    this.ops.clear();
  }
}

/** `kernel(x, weights, y, images)` over images of `inFloats` and `outFloats` (`outputFirst`: `kernel(y, weights, x, images)`), split by images. */
export function imageWork(kernel: string, inFloats: number, outFloats: number, outputFirst = false): SplitWork {
  const x: CallArg = { pointer: 0, perUnit: inFloats * F32 };
  const y: CallArg = { pointer: 1, perUnit: outFloats * F32 };
  return { kind: 'split', grain: 1, calls: [{ kernel, args: outputFirst ? [y, { pointer: 2 }, x] : [x, { pointer: 2 }, y], unitScale: 1 }] };
}

/** Images per chunk of a per-image kernel that moves `floats` floats per image (at least one). */
function imagesPerChunk(floats: number): number {
  return Math.max(1, Math.floor((2 * STAGE_FLOATS) / Math.max(floats, 1)));
}
