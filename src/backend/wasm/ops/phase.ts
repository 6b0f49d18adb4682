// The phases the wasm engine compiles plan steps into, and what compiling them shares: plain descriptions of where
// each phase's tensors live and how it runs (split across threads by its work, or whole on the calling thread).

import type { ChannelSlice } from '../../../graph/arena.js';
import type { Plan, Step } from '../../../graph/plan.js';
import type { ModuleBuilder } from '../assembler.js';
import type { Kernel, WasmRuntime } from '../runtime.js';
import type { Work } from '../threads-work.js';

/** Byte pointers of plan tensors in the arena, for one batch size. */
export type Pointers = (tensor: number) => number;

/** Where a phase's tensor lives: a plan tensor in the arena, or a slice of its step's scratch (the intermediates of a chain run stage by stage). */
export type Place = { tensor: number } | { scratchOf: number; floatsPerImage: number };

/**
 * What the engine runs, in order: a step, or one stage of a chain that threads run stage by stage. Phases with `work` are split
 * across threads (the workers hold the same work); the others run whole on the calling thread.
 */
export interface Phase {
  step: number;
  /** Input, output and residual (null: none). */
  places: readonly [Place, Place, Place | null];
  /** The plan tensors the input and output places stand for, as a whole-step run names them. */
  tensors: readonly [number, number];
  work: Work | null;
  /** For phases without work, given the module's kernels: the run on the calling thread. */
  serial: ((kernels: Record<string, Kernel>) => SerialRun) | null;
  /** False for a reference fallback on memory views. */
  native: boolean;
}

export type SerialRun = (at: Pointers, batch: number) => void;

/** What compiling steps shares: the module being emitted, the memory the weights go to, and the thread-related buffers. */
export interface Compiler {
  mod: ModuleBuilder;
  runtime: WasmRuntime;
  plan: Plan;
  threads: number;
  /** Emit row kernels beside the whole-image ones, so parts can hold part of an image (threads > 1). */
  rowKernels: boolean;
  zeroRow: number;
  chainScratch: number;
  rowBytesPerThread: number;
  /** Concatenation inputs their producers write straight into the output's channels (`concatSlices`). */
  slices: ReadonlyMap<number, ChannelSlice>;
}

/** A phase's places when it reads its step's first input and writes its output (and reads `residual`, if any). */
export const tensorPlaces = (step: Step, residual: number | null = null): Phase['places'] => [{ tensor: step.inputs[0] }, { tensor: step.output }, residual === null ? null : { tensor: residual }];
