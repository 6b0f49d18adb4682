// The WebAssembly training backends: the inference Backend and the GradientBackend on SIMD kernels emitted per shape
// on first use and cached (the parts under ./ops/); this file makes a pair of them and guards them after dispose.

import type { Backend } from '../backend.js';
import type { GradientBackend } from '../gradients.js';
import { ConfigError } from '../../errors.js';
import { emitElementwiseKernels } from './kernels/elementwise.js';
import { resolveWasmFeatures } from './options.js';
import { WasmRuntime } from './runtime.js';
import { ThreadPool } from './threads.js';
import { type WasmCoverage, WasmOps } from './ops/context.js';
import { wasmGradients } from './ops/backward.js';
import { wasmBackend } from './ops/forward.js';

export type { WasmCoverage };

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
 * both gradients), depthwise convolutions with depth multiplier 1 (any kernel, stride, dilation, padding), other
 * groups-1 convolutions (forward: the direct kernel for small undilated ones such as the stem, im2col GEMMs for the
 * rest, atrous ones too; backward: im2col GEMMs), BatchNorm in both modes and its backward, ReLU/ReLU6 and their
 * backward, add, dropout masks, global average pooling, bias sums, bilinear resize (forward). Everything else (other groups, windowed pooling,
 * padding layers, softmax) runs on the reference kernels, through the same interface.
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
    backend: guarded(wasmBackend(ops), disposed),
    gradients: guarded(wasmGradients(ops), disposed),
    relaxedSimd,
    threads,
    threadsNote,
    coverage: () => ops.coverage(),
    scope: (body) => {
      if (ops.disposed) throw new ConfigError('wasm training backends: scope after dispose()');
      return ops.outputs.scope(body);
    },
    stats: () => ({ modules: ops.cache.size, compileMilliseconds: ops.cache.compileMs, memoryBytes: rt.memory.buffer.byteLength, parallelCalls: ops.split.parallelCalls }),
    dispose: async () => {
      ops.dispose();
      await pool?.dispose();
    },
  };
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
