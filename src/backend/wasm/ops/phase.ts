// The phases the wasm engine compiles plan steps into, and what compiling them shares: plain descriptions of where
// each phase's tensors live and how it runs (split across threads by its work, or whole on the calling thread).

import type { ChannelSlice } from '../../../graph/arena.js';
import type { Plan, Step } from '../../../graph/plan.js';
import type { ModuleBuilder } from '../assembler.js';
import type { Kernel, WasmRuntime } from '../runtime.js';
import { ConfigError } from '../../../errors.js';
import { LANES } from '../kernels/common.js';
import type { GemmTile } from '../kernels/gemm.js';
import { CHANNEL_SPLIT_PIXELS_PER_PART, channelShare } from '../threads-work.js';
import type { GemmWork, Work } from '../threads-work.js';

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

/** The GEMM's default tile (the chains' GEMMs use it too), named: a split by output channels needs its block width. */
export const GEMM_TILE: GemmTile = { pixels: 4, vectors: 2 };

/** What a channel split needs of a GEMM's spec (float or int8). */
interface SplitSpec {
  cout: number;
  outputStride?: number;
  residualStride?: number;
  tile?: GemmTile;
}

/**
 * Emits the GEMM kernels for splitting `spec` by output channels (one per channel count that a part of
 * 2…threads parts gets) where a batch of one image would split that way; null where none would. `emit`: the GEMM's
 * emitter (float or int8).
 */
export function channelSplit<S extends SplitSpec>(c: Compiler, name: string, spec: S, pixelsPerImage: number, emit: (mod: ModuleBuilder, name: string, spec: S) => void): GemmWork['channelSplit'] {
  if (c.threads === 1 || pixelsPerImage >= CHANNEL_SPLIT_PIXELS_PER_PART * c.threads) return null;
  if (spec.tile && (spec.tile.pixels !== GEMM_TILE.pixels || spec.tile.vectors !== GEMM_TILE.vectors)) throw new ConfigError(`threads: a channel split needs the GEMM's default tile, got ${spec.tile.pixels}×${spec.tile.vectors}`);
  const blockChannels = GEMM_TILE.vectors * LANES;
  const kernels: Record<number, string> = {};
  for (let parts = 2; parts <= c.threads; parts++) {
    for (let part = 0; part < parts; part++) {
      const [, count] = channelShare(spec.cout, blockChannels, part, parts);
      if (count === 0 || kernels[count]) continue;
      kernels[count] = `${name}_c${count}`;
      emit(c.mod, kernels[count], { ...spec, cout: count, outputStride: spec.outputStride ?? spec.cout, residualStride: spec.cout });
    }
  }
  return { blockChannels, kernels };
}

