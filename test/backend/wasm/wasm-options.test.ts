// The option checks shared by the wasm engine and the wasm training backends (relaxed SIMD, threads): hand-worked
// answers, the same refusals from both runtimes, and the one-thread fallback where memory cannot be shared.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { resolveWasmFeatures } from '../../../src/backend/wasm/options.js';
import { relaxedSimdSupported, simdSupported } from '../../../src/backend/wasm/assembler.js';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { createWasmTrainingBackends } from '../../../src/backend/wasm/ops-backend.js';
import { ConfigError } from '../../../src/errors.js';
import { mobilenetV1 } from '../../../src/models/mobilenet-v1.js';

// relaxed SIMD (Node 20: behind a V8 flag) must be on before the first wasm validation in this process
enableWasmFeatures();

const skip = simdSupported() ? false : 'WebAssembly SIMD is not available in this runtime';

describe('resolveWasmFeatures', { skip }, () => {
  it('defaults to one thread, no note, and relaxed SIMD where it validates', () => {
    assert.deepEqual(resolveWasmFeatures('test', {}), { relaxedSimd: relaxedSimdSupported(), threads: 1, threadsNote: null });
    assert.equal(resolveWasmFeatures('test', { relaxedSimd: false }).relaxedSimd, false);
  });

  it('falls back to one thread with a note where SharedArrayBuffer is missing', () => {
    const saved = globalThis.SharedArrayBuffer;
    try {
      (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
      const { threads, threadsNote } = resolveWasmFeatures('test', { threads: 4 });
      assert.equal(threads, 1);
      assert.match(threadsNote ?? '', /^threads: 4 requested, 1 used: SharedArrayBuffer is unavailable/);
    } finally {
      globalThis.SharedArrayBuffer = saved;
    }
  });

  it('refuses relaxed SIMD where it does not validate', { skip: relaxedSimdSupported() ? 'relaxed SIMD validates here' : false }, () => {
    assert.throws(() => resolveWasmFeatures('test', { relaxedSimd: true }), (e: unknown) => e instanceof ConfigError && /relaxed SIMD was requested/.test(e.message));
  });

  it('gives the engine and the training backends the same refusal of a bad thread count', async () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 10 });
    for (const threads of [0, 2.5]) {
      const expected = (e: unknown): boolean => e instanceof ConfigError && e.message === `threads must be a positive integer, got ${threads}`;
      assert.throws(() => resolveWasmFeatures('test', { threads }), expected);
      await assert.rejects(WasmEngine.create(model, { threads }), expected);
      await assert.rejects(createWasmTrainingBackends({ threads }), expected);
    }
  });
});
