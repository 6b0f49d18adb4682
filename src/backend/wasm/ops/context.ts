// What one pair of wasm training backends shares: the module cache, the thread split, the scratch arena, the
// output arrays, and the count of which ops ran on wasm kernels and which went to the reference.

import type { Kernel, WasmRuntime } from '../runtime.js';
import type { ThreadPool } from '../threads.js';
import { ModuleCache } from './module-cache.js';
import { OutputRecycler } from './outputs.js';
import { Staging } from './staging.js';
import { ThreadSplit } from './thread-split.js';

/** Per op name: calls that ran on wasm kernels and calls that went to the reference. */
export interface WasmCoverage {
  wasm: Record<string, number>;
  reference: Record<string, number>;
}

export class WasmOps {
  readonly cache: ModuleCache;
  readonly split: ThreadSplit;
  readonly staging: Staging;
  readonly outputs = new OutputRecycler();
  disposed = false;
  private readonly wasmCalls: Record<string, number> = {};
  private readonly referenceCalls: Record<string, number> = {};

  constructor(
    rt: WasmRuntime,
    relaxedSimd: boolean,
    /** The element-wise kernels, compiled once at start. */
    readonly flat: Record<string, Kernel>,
    pool: ThreadPool | null,
  ) {
    this.cache = new ModuleCache(rt, relaxedSimd);
    this.split = new ThreadSplit(this.cache, rt, flat, pool);
    // the scratch starts above the flat kernels' module
    this.staging = new Staging(rt);
  }

  /** Starts an op on wasm kernels: all scratch of the previous op is free again, so memory stays at the largest op's need. */
  begin(op: string): void {
    this.staging.reset();
    this.counted(op);
  }

  /** Counts a call of `op` on wasm; alone, for an op that needs no scratch. */
  counted(op: string): void {
    this.wasmCalls[op] = (this.wasmCalls[op] ?? 0) + 1;
  }

  /** Runs `op` on the reference kernels, counted as such. */
  fallback<T>(op: string, run: () => T): T {
    this.referenceCalls[op] = (this.referenceCalls[op] ?? 0) + 1;
    return run();
  }

  coverage(): WasmCoverage {
    return { wasm: { ...this.wasmCalls }, reference: { ...this.referenceCalls } };
  }

  dispose(): void {
    this.disposed = true;
    this.cache.clear();
    this.split.clear();
    this.outputs.clear();
  }
}
