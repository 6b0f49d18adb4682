// Output buffers in wasm memory between guard bands of a sentinel value, for kernel tests: reading one back fails
// the test if the kernel wrote outside it.

import assert from 'node:assert/strict';
import type { WasmRuntime } from '../../src/backend/wasm/runtime.js';

const GUARD = 16;
export const SENTINEL = -7777.5;

/** An output buffer between guard bands; `read` fails if a kernel wrote outside it. */
export function guarded(rt: WasmRuntime, length: number): { pointer: number; read: () => Float32Array } {
  const base = rt.allocF32(length + 2 * GUARD);
  rt.write(base, new Float32Array(length + 2 * GUARD).fill(SENTINEL));
  return {
    pointer: base + 4 * GUARD,
    read: () => {
      const all = rt.read(base, length + 2 * GUARD);
      const outside = [...all.subarray(0, GUARD), ...all.subarray(GUARD + length)].filter((v) => v !== SENTINEL).length;
      assert.equal(outside, 0, `kernel wrote ${outside} floats outside its output`);
      return all.slice(GUARD, GUARD + length);
    },
  };
}
