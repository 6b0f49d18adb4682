// The wasm engine on 2 and 3 threads (uneven splits): golden PyTorch models and awkward shapes against the
// reference, and bit for bit against one thread, fused (row bands and stage by stage) and unfused; fallback, dispose, exit.

import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertClose, goldenCase, randomBatch, randomiseBatchNorm } from '../../support/helpers.js';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import type { WasmEngineOptions } from '../../../src/backend/wasm/engine.js';
import { ThreadError, ThreadPool, threadsUnavailable } from '../../../src/backend/wasm/threads.js';
import { channelShare, shareOf } from '../../../src/backend/wasm/threads-work.js';
import type { Work } from '../../../src/backend/wasm/threads-work.js';
import { WasmRuntime } from '../../../src/backend/wasm/runtime.js';
import { emitGemm, packGemmWeights } from '../../../src/backend/wasm/kernels/gemm.js';
import { mobilenetV2 } from '../../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../../src/models/mobilenet-v1.js';
import { loadTorchStateDict } from '../../../src/io/torch-names.js';
import type { Model } from '../../../src/graph/model.js';
import { Tensor } from '../../../src/tensor/tensor.js';

// relaxed SIMD (Node 20: behind a V8 flag) must be on before the first wasm validation in this process
enableWasmFeatures();

const skip = !WasmEngine.supported() ? 'WebAssembly SIMD is not available in this runtime' : (threadsUnavailable() ?? false);


const batchOf = randomBatch;

/** The same floats (a split must not change any sum's order); ±0 count as equal. */
function assertSame(actual: Tensor, expected: Tensor, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let differing = 0;
  for (let i = 0; i < actual.size; i++) if (actual.data[i] !== expected.data[i]) differing++;
  assert.equal(differing, 0, `${what}: ${differing} of ${actual.size} values differ from one thread's`);
}

/** Runs `use` on a new engine and disposes it whatever happens. */
async function withEngine<T>(model: Model, options: WasmEngineOptions, use: (engine: WasmEngine) => T): Promise<T> {
  const engine = await WasmEngine.create(model, options);
  try {
    return use(engine);
  } finally {
    await engine.dispose();
  }
}

describe('work split', () => {
  it('shares tile the range in whole grains, and channel shares whole blocks with the tail last', () => {
    for (const [total, parts, grain] of [[49, 2, 4], [10, 3, 4], [5, 3, 1], [1, 3, 1], [0, 2, 4]]) {
      const shares = Array.from({ length: parts }, (_, p) => shareOf(total, p, parts, grain));
      assert.equal(shares[0][0], 0);
      assert.equal(shares[parts - 1][1], total);
      shares.forEach(([start, end], p) => {
        assert.ok(end >= start);
        if (p > 0) assert.equal(start, shares[p - 1][1]);
        if (end < total) assert.equal(end % grain, 0);
      });
    }
    assert.deepEqual([0, 1, 2].map((p) => channelShare(1000, 8, p, 3)), [[0, 328], [328, 336], [664, 336]]);
    assert.deepEqual([0, 1, 2].map((p) => channelShare(13, 8, p, 3)), [[0, 0], [0, 8], [8, 5]]);
  });
});

describe('wasm engine on threads', { skip }, () => {
  for (const threads of [2, 3]) {
    for (const fuseBlocks of [true, false]) {
      it(`tiny MobileNetV2, ${threads} threads, fuseBlocks ${fuseBlocks}: PyTorch's output at batch 1, one thread's at batch 5`, async () => {
        const c = goldenCase('models/mnv2_035_32_c10');
        const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
        loadTorchStateDict(model, c.weights);
        const x = batchOf([5, 32, 32, 3], 3);
        const single = await withEngine(model, { fuseBlocks }, (e) => ({ outputs: [e.predict(c.input, { layout: 'NCHW' }), e.predict(x)], arenaBytes: e.arenaBytes(1) }));
        await withEngine(model, { fuseBlocks, threads }, (engine) => {
          assert.equal(engine.threads, threads);
          assert.equal(engine.threadsNote, null);
          assert.deepEqual(engine.coverage.fallback, []);
          // each thread streams chains through row buffers of its own
          if (fuseBlocks) assert.ok(engine.arenaBytes(1) > single.arenaBytes, `${threads} threads plan ${engine.arenaBytes(1)} bytes, 1 thread ${single.arenaBytes}`);
          const golden = engine.predict(c.input, { layout: 'NCHW' });
          assertClose(golden, c.output, 5e-5);
          assertSame(golden, single.outputs[0], 'batch 1');
          assertSame(engine.predict(x), single.outputs[1], 'batch 5');
        });
      });
    }
  }

  it('MobileNetV2 1.0-224 on 2 threads vs PyTorch within 1e-4', async () => {
    const c = goldenCase('models/mnv2_100_224');
    const model = mobilenetV2();
    loadTorchStateDict(model, c.weights);
    await withEngine(model, { threads: 2 }, (engine) => assertClose(engine.predict(c.input, { layout: 'NCHW' }), c.output, 1e-4));
  });

  const awkward: [string, () => Model, number[], number][] = [
    ['V2 α 0.3, 45×37, Keras padding, 13 classes, batch 5', () => mobilenetV2({ alpha: 0.3, resolution: [45, 37], classes: 13, convention: 'keras' }), [5, 45, 37, 3], 2],
    ['V2 α 0.5, 33×33 torch padding, grey input, max pooling, batch 1', () => mobilenetV2({ alpha: 0.5, resolution: 33, classes: 5, inputChannels: 1, pooling: 'max' }), [1, 33, 33, 1], 3],
    ['V2 custom table (t 3, channels 7 and 13), stem stride 1, batch 2', () => mobilenetV2({ resolution: 28, classes: 10, inputChannels: 1, stemStride: 1, roundNearest: 1, blocks: [[1, 7, 1, 1], [3, 13, 2, 2], [4, 13, 1, 2]], lastChannel: 30 }), [2, 28, 28, 1], 3],
    ['V1 α 0.25, 64×64, depth multiplier 2 (a reference step), ReLU, batch 3', () => mobilenetV1({ alpha: 0.25, resolution: 64, classes: 9, depthMultiplier: 2, activation: 'relu' }), [3, 64, 64, 3], 2],
  ];
  for (const [what, build, shape, threads] of awkward) {
    it(`${what}, ${threads} threads: the reference's output, one thread's bit for bit`, async () => {
      const model = build();
      randomiseBatchNorm(model);
      const x = batchOf(shape, 9);
      const one = new Tensor([1, ...shape.slice(1)], x.data.slice(0, x.size / shape[0]));
      const expected = [model.predict(x), model.predict(one)];
      const variants: [string, WasmEngineOptions][] = [
        ['fused, row bands', { fuseBlocks: true, chainSplit: 'rows' }],
        ['fused, stage by stage', { fuseBlocks: true, chainSplit: 'stages' }],
        ['unfused', { fuseBlocks: false }],
      ];
      for (const [name, options] of variants) {
        const single = await withEngine(model, { fuseBlocks: options.fuseBlocks }, (e) => [e.predict(x), e.predict(one)]);
        await withEngine(model, { ...options, threads }, (engine) => {
          // batch `shape[0]`, then 1: the arena and its pointer table are planned again
          [x, one].forEach((input, i) => {
            const y = engine.predict(input);
            assertClose(y, expected[i], 1e-5, `${name}, batch ${input.shape[0]}`);
            assertSame(y, single[i], `${name}, batch ${input.shape[0]}`);
          });
        });
      }
    });
  }

  it('falls back to one thread, saying why, where SharedArrayBuffer is missing (a page without cross-origin isolation)', async () => {
    const saved = globalThis.SharedArrayBuffer;
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    const x = batchOf([2, 32, 32, 3], 4);
    try {
      (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
      await withEngine(model, { threads: 2 }, (engine) => {
        assert.equal(engine.threads, 1);
        assert.match(engine.threadsNote ?? '', /2 requested, 1 used: SharedArrayBuffer is unavailable/);
        assertClose(engine.predict(x), model.predict(x), 1e-5);
      });
    } finally {
      globalThis.SharedArrayBuffer = saved;
    }
  });

  it('refuses to predict after dispose, and disposes twice without harm', async () => {
    const engine = await WasmEngine.create(mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 }), { threads: 2 });
    await engine.dispose();
    await engine.dispose();
    assert.throws(() => engine.predict(batchOf([1, 32, 32, 3], 1)), /disposed/);
    await assert.rejects(WasmEngine.create(mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 }), { threads: 0 }), /threads must be a positive integer, got 0/);
  });

  it("reports a worker's failure: at start, and in a step", async () => {
    const runtime = new WasmRuntime({ shared: true });
    const mod = runtime.module();
    const spec = { cin: 3, cout: 5 };
    emitGemm(mod, 'gemm', spec);
    const weights = runtime.upload(packGemmWeights(spec, new Float32Array(15), null));
    const { module } = await runtime.instantiateWithModule(mod);
    const gemm = (kernel: string, pointer: number): Work => ({ kind: 'gemm', kernel, weights: pointer, cin: 3, cout: 5, pixels: 8, residual: false, channelSplit: null });
    await assert.rejects(ThreadPool.start(2, runtime.memory, module, [gemm('missing', weights)]), (e: Error) => e instanceof ThreadError && /worker failed to start: .*no kernel 'missing'/.test(e.message));
    // weights past the end of memory: the worker's part traps, the main thread's (none here) does not
    const pool = await ThreadPool.start(2, runtime.memory, module, [gemm('gemm', 2 ** 30)]);
    try {
      pool.pointers.set([runtime.allocF32(24), runtime.allocF32(40), 0], 0);
      assert.throws(() => pool.run(0, 1, 2, () => {}), (e: Error) => e instanceof ThreadError && /step 0: thread 1: RuntimeError: memory access out of bounds/.test(e.message));
      // the pool stays usable: the next dispatch reports only its own failures
      assert.throws(() => pool.run(0, 1, 2, () => {}), /thread 1/);
    } finally {
      await pool.dispose();
    }
  });

  it('lets the process exit, disposed or not', async () => {
    const engine = fileURLToPath(new URL('../../../src/backend/wasm/engine.ts', import.meta.url));
    const models = fileURLToPath(new URL('../../../src/models/mobilenet-v2.ts', import.meta.url));
    const script = `
      const { WasmEngine } = await import(${JSON.stringify(engine)});
      const { mobilenetV2 } = await import(${JSON.stringify(models)});
      const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
      const { Tensor } = await import(${JSON.stringify(fileURLToPath(new URL('../../../src/tensor/tensor.ts', import.meta.url)))});
      const disposed = await WasmEngine.create(model, { threads: 2 });
      disposed.predict(new Tensor([1, 32, 32, 3]));
      await disposed.dispose();
      const kept = await WasmEngine.create(model, { threads: 2 });
      kept.predict(new Tensor([1, 32, 32, 3]));
      console.log('done');`;
    const started = Date.now();
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 15000 }, (error, out) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: out }));
    });
    assert.equal(stdout.trim(), 'done');
    assert.equal(code, 0, `exit code ${code} after ${Date.now() - started} ms`);
  });
});
