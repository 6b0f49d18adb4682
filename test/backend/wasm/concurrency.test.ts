// Concurrency and disposal of the wasm engine: two models used at once and one model called concurrently
// from async code give bit-identical results to sequential calls; dispose frees the engine's memory and
// ends its worker threads (counted from /proc on Linux).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';

import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { threadsUnavailable } from '../../../src/backend/wasm/threads.js';
import { ConfigError } from '../../../src/errors.js';
import { mobilenetV1 } from '../../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../../src/models/mobilenet-v2.js';
import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { randomBatch, randomiseBatchNorm } from '../../support/helpers.js';

enableWasmFeatures();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const skip = !WasmEngine.supported() ? 'WebAssembly SIMD is not available in this runtime' : (threadsUnavailable() ?? false);

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function sameBits(actual: Tensor, expected: Tensor, what: string): void {
  assert.deepEqual([...actual.shape], [...expected.shape], what);
  assert.ok(Buffer.from(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength).equals(Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength)), `${what}: differs from the sequential result`);
}

/** This process's OS threads (workers are threads), or null off Linux. */
function osThreads(): number | null {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  } catch {
    return null;
  }
}

describe('wasm engine concurrency and disposal', { skip }, () => {
  const modelA = mobilenetV2({ alpha: 0.35, resolution: 64, classes: 10, seed: 1 });
  const modelB = mobilenetV1({ alpha: 0.25, resolution: 64, classes: 7, seed: 2 });
  randomiseBatchNorm(modelA, 3);
  randomiseBatchNorm(modelB, 4);
  const inputs = [1, 8, 3, 1, 8, 2].map((batch, i) => randomBatch([batch, 64, 64, 3], 100 + i));

  it('two models on 2 threads each, used at once from async code, give the sequential results bit for bit', async () => {
    const a = await WasmEngine.create(modelA, { threads: 2 });
    const b = await WasmEngine.create(modelB, { threads: 2 });
    try {
      const expectedA = inputs.map((x) => a.predict(x));
      const expectedB = inputs.map((x) => b.predict(x));
      const interleaved = async (engine: WasmEngine, expected: Tensor[], name: string): Promise<void> => {
        for (let round = 0; round < 3; round++) {
          for (const [i, x] of inputs.entries()) {
            await yieldToLoop();
            sameBits(engine.predict(x), expected[i]!, `${name} input ${i} round ${round}`);
          }
        }
      };
      await Promise.all([interleaved(a, expectedA, 'model A'), interleaved(b, expectedB, 'model B'), interleaved(a, expectedA, 'model A again')]);
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });

  it('one engine on 2 threads called by many async callers at once (Promise.all) gives each its sequential result', async () => {
    const engine = await WasmEngine.create(modelA, { threads: 2 });
    try {
      const expected = inputs.map((x) => engine.predict(x));
      const results = await Promise.all(
        Array.from({ length: 24 }, async (_, k) => {
          await yieldToLoop();
          const i = (k * 5) % inputs.length; // batch sizes change between calls, so arenas are re-planned
          return { i, y: engine.predict(inputs[i]!) };
        }),
      );
      for (const { i, y } of results) sameBits(y, expected[i]!, `input ${i}`);
    } finally {
      await engine.dispose();
    }
  });

  it('dispose ends the worker threads and frees the engine memory; predict afterwards is a ConfigError', async () => {
    const big = mobilenetV2({ alpha: 1, resolution: 96, classes: 100, seed: 5 });
    const settle = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc();
      gc();
    };
    await settle();
    const threadsBefore = osThreads();
    const buffersBefore = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 5; i++) {
      const engine = await WasmEngine.create(big, { threads: 3 });
      const threadsRunning = osThreads();
      if (threadsBefore !== null) assert.ok(threadsRunning! >= threadsBefore + 2, `2 workers started (threads ${threadsBefore} → ${threadsRunning})`);
      engine.predict(randomBatch([2, 96, 96, 3], i));
      await engine.dispose();
      await engine.dispose(); // twice is fine
      assert.throws(() => engine.predict(randomBatch([1, 96, 96, 3], 0)), ConfigError);
      await settle();
      if (threadsBefore !== null) assert.equal(osThreads(), threadsBefore, 'the workers are gone after dispose');
    }
    // five engines of ~10 MB of weights and arenas each: after dispose none of it is left
    const growth = process.memoryUsage().arrayBuffers - buffersBefore;
    assert.ok(growth < 4 * 1024 * 1024, `array buffers grew by ${(growth / 2 ** 20).toFixed(1)} MiB over 5 engines created and disposed`);
  });
});
