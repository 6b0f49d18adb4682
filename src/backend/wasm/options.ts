// The options every WebAssembly runtime of ours checks the same way (the engine and the training backends):
// SIMD present, relaxed SIMD where asked for or detected, and the threads that can really run.

import { ConfigError } from '../../errors.js';
import { relaxedSimdSupported, simdSupported } from './assembler.js';
import { threadsUnavailable } from './threads.js';

/** What the caller asked for. */
export interface WasmFeatureOptions {
  relaxedSimd?: boolean;
  threads?: number;
}

/** What runs: relaxed SIMD or not, the thread count, and why fewer threads run than were asked for (null when all do). */
export interface WasmFeatures {
  relaxedSimd: boolean;
  threads: number;
  threadsNote: string | null;
}

/**
 * Checks `options` against this runtime for `who` (named in the errors): throws a ConfigError without SIMD, for
 * relaxed SIMD asked for where it does not validate, and for a thread count that is not a positive integer; falls
 * back to one thread, with a note, where memory cannot be shared.
 */
export function resolveWasmFeatures(who: string, options: WasmFeatureOptions): WasmFeatures {
  if (!simdSupported()) throw new ConfigError(`${who}: WebAssembly SIMD does not validate in this runtime; use the reference backend`);
  const relaxedSimd = options.relaxedSimd ?? relaxedSimdSupported();
  if (relaxedSimd && !relaxedSimdSupported()) {
    throw new ConfigError('relaxed SIMD was requested but this runtime does not validate it (Node 20: call enableWasmFeatures() first, or start node with --experimental-wasm-relaxed-simd)');
  }
  const requested = options.threads ?? 1;
  if (!Number.isInteger(requested) || requested < 1) throw new ConfigError(`threads must be a positive integer, got ${requested}`);
  const unavailable = requested > 1 ? threadsUnavailable() : null;
  return { relaxedSimd, threads: unavailable ? 1 : requested, threadsNote: unavailable && `threads: ${requested} requested, 1 used: ${unavailable}` };
}
