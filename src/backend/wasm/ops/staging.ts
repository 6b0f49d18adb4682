// The ops backend's scratch arena in wasm memory: each op starts it afresh above the flat kernels, allocates its
// staging buffers and weights, and copies tensors in and out a chunk at a time.

import { LANES, roundUp } from '../kernels/common.js';
import type { WasmRuntime } from '../runtime.js';

/** Floats a scratch buffer is rounded up to: whole vectors, with room for a kernel's last vector to spill. */
export const PAD = 16;

/**
 * Floats of one tensor staged in wasm memory at a time: a chunk's inputs and outputs stay in L2, so each
 * element crosses main memory once in and once out (16 Ki measured best for element-wise ops).
 */
export const STAGE_FLOATS = 16384;

/** Calls `body(start, count)` over [0, total) in steps of `step`. */
export function each(total: number, step: number, body: (start: number, count: number) => void): void {
  for (let start = 0; start < total; start += step) body(start, Math.min(step, total - start));
}

export class Staging {
  /** Where the scratch starts: above what was allocated before (the flat kernels' module). */
  private readonly base: number;
  private heapView: Float32Array;

  constructor(private readonly rt: WasmRuntime) {
    this.base = rt.used;
    this.heapView = new Float32Array(rt.memory.buffer);
  }

  /** Frees all scratch of the previous op, so that memory stays at the largest op's need. */
  reset(): void {
    this.rt.reset(this.base);
  }

  alloc(floats: number): number {
    return this.rt.allocF32(roundUp(Math.max(floats, 1), PAD));
  }

  /** All of wasm memory as floats; re-made after the memory grew (growth detaches the old view). */
  heap(): Float32Array {
    if (this.heapView.buffer !== this.rt.memory.buffer) this.heapView = new Float32Array(this.rt.memory.buffer);
    return this.heapView;
  }

  put(data: Float32Array): number {
    const p = this.alloc(data.length);
    this.heap().set(data, p >> 2);
    return p;
  }

  zeros(floats: number): number {
    const p = this.alloc(floats);
    this.heap().fill(0, p >> 2, (p >> 2) + roundUp(Math.max(floats, 1), PAD));
    return p;
  }

  /** A per-channel parameter row, zero-padded to whole vectors. */
  putRow(values: ArrayLike<number>): number {
    const p = this.alloc(values.length);
    this.writeRow(p, values);
    return p;
  }

  writeRow(pointer: number, values: ArrayLike<number>): void {
    const heap = this.heap();
    const at = pointer >> 2;
    heap.fill(0, at, at + roundUp(values.length, LANES));
    for (let i = 0; i < values.length; i++) heap[at + i] = values[i];
  }

  /** Copies `count` floats of `src` from `from` into wasm memory at `pointer`. */
  stageIn(pointer: number, src: Float32Array, from: number, count: number): void {
    this.heap().set(src.subarray(from, from + count), pointer >> 2);
  }

  /** Copies `count` floats at `pointer` into `dst` at `at`. */
  stageOut(pointer: number, dst: Float32Array, at: number, count: number): void {
    const p = pointer >> 2;
    dst.set(this.heap().subarray(p, p + count), at);
  }

  /** A copy out of wasm memory. */
  read(pointer: number, floats: number): Float32Array {
    const out = new Float32Array(floats);
    this.stageOut(pointer, out, 0, floats);
    return out;
  }
}
