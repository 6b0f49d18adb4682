// The WebAssembly training backends on 2 and 3 threads: every split kernel forward and backward against the reference
// on awkward shapes, bit for bit against one thread where nothing is reduced; seeded runs, resume, the CLI, the pool's
// loads, the one-thread fallback, scope, dispose and exit.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { simdSupported } from '../../../src/backend/wasm/assembler.js';
import { ThreadError, ThreadPool, threadsUnavailable } from '../../../src/backend/wasm/threads.js';
import { shareOf } from '../../../src/backend/wasm/threads-work.js';
import type { SplitWork } from '../../../src/backend/wasm/threads-work.js';
import { WasmRuntime } from '../../../src/backend/wasm/runtime.js';
import { emitGemm, packGemmWeights } from '../../../src/backend/wasm/kernels/gemm.js';
import { createWasmTrainingBackends, type WasmTrainingBackends } from '../../../src/backend/wasm/ops-backend.js';
import { referenceBackend } from '../../../src/backend/reference.js';
import { referenceGradients } from '../../../src/backend/gradients.js';
import type { Conv2DParams } from '../../../src/ops/conv2d.js';
import { resolvePadding, type Padding4, type PaddingMode } from '../../../src/ops/geometry.js';
import { mobilenetV2 } from '../../../src/models/mobilenet-v2.js';
import type { MobileNetV2Options } from '../../../src/models/mobilenet-v2.js';
import { train } from '../../../src/train/trainer.js';
import type { TrainConfig } from '../../../src/train/trainer.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/train/checkpoint.js';
import { subset } from '../../../src/data/dataset.js';
import type { Dataset } from '../../../src/data/dataset.js';
import { readIdxFile, readIdxFolder } from '../../../src/node/idx-files.js';
import { encodeIdx } from '../../../src/data/idx.js';
import { ConfigError } from '../../../src/errors.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { FIXTURES, assertClose, randomBatch, runCli } from '../../support/helpers.js';

// relaxed SIMD (Node 20: behind a V8 flag) must be on before the first wasm validation in this process
enableWasmFeatures();

const skip = !simdSupported() ? 'WebAssembly SIMD is not supported by this runtime' : (threadsUnavailable() ?? false);

/** Against the reference, relative to max(1, max|reference|): as test/backend/wasm/wasm-training.test.ts. */
const TOL = 1e-5;

let seed = 1;
const random = (shape: number[]): Tensor => randomBatch(shape, seed++);

function convParams(xShape: number[], kernel: [number, number], strides: number, padding: PaddingMode | Padding4, groups = 1): Conv2DParams {
  const win = { kernel, strides: [strides, strides] as const, dilations: [1, 1] as const };
  return { strides: win.strides, dilations: win.dilations, padding: typeof padding === 'string' ? resolvePadding(padding, xShape[1], xShape[2], win) : padding, groups };
}

/** The same floats; ±0 count as equal. */
function assertSame(actual: Tensor, expected: Tensor, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let differing = 0;
  for (let i = 0; i < actual.size; i++) if (actual.data[i] !== expected.data[i]) differing++;
  assert.equal(differing, 0, `${what}: ${differing} of ${actual.size} values differ`);
}

/**
 * One op on threads: within TOL of the reference; `exact` (no reduction across threads): bit for bit one thread's;
 * otherwise the same bits when run again (a fixed split and summation order) and within TOL of one thread's.
 */
function check(threaded: () => Tensor, single: () => Tensor, reference: () => Tensor, exact: boolean, what: string): void {
  const t = threaded();
  assertClose(t, reference(), TOL, what);
  if (exact) assertSame(t, single(), `${what} against one thread`);
  else {
    assertSame(threaded(), t, `${what} run again`);
    assertClose(t, single(), TOL, `${what} against one thread`);
  }
}

function checkConv(w: WasmTrainingBackends, one: WasmTrainingBackends, xShape: number[], kernelShape: number[], p: Conv2DParams, withBias: boolean, what: string): void {
  const x = random(xShape);
  const kernel = random(kernelShape);
  const bias = withBias ? random([kernelShape[3]]).data : null;
  check(() => w.backend.conv2d(x, kernel, bias, p), () => one.backend.conv2d(x, kernel, bias, p), () => referenceBackend.conv2d(x, kernel, bias, p), true, `${what}: forward`);
  const dy = random([...referenceBackend.conv2d(x, kernel, bias, p).shape]);
  const g = (b: WasmTrainingBackends) => () => b.gradients.conv2dBackwardInput(dy, kernel, x.shape, p);
  check(g(w), g(one), () => referenceGradients.conv2dBackwardInput(dy, kernel, x.shape, p), true, `${what}: input gradient`);
  const k = (b: WasmTrainingBackends) => () => b.gradients.conv2dBackwardKernel(x, dy, kernel.shape, p);
  check(k(w), k(one), () => referenceGradients.conv2dBackwardKernel(x, dy, kernel.shape, p), false, `${what}: kernel gradient`);
}

describe('wasm training backends on threads', { skip }, () => {
  let one: WasmTrainingBackends;
  before(async () => {
    one = await createWasmTrainingBackends({ threads: 1 });
  });
  after(async () => {
    await one.dispose();
  });

  for (const threads of [2, 3]) {
    describe(`${threads} threads`, () => {
      let w: WasmTrainingBackends;
      before(async () => {
        w = await createWasmTrainingBackends({ threads });
        assert.equal(w.threads, threads);
        assert.equal(w.threadsNote, null);
      });
      after(async () => {
        await w.dispose();
      });

      it('1×1 convolutions and dense layers: the GEMMs split by rows (odd sizes, batch 1 and 3)', () => {
        for (const [xShape, cout] of [
          [[3, 7, 5, 13], 17],
          [[1, 9, 9, 6], 5],
          [[3, 15, 11, 24], 40],
          [[1, 1, 3, 5], 3],
        ] as [number[], number][]) {
          checkConv(w, one, xShape, [1, 1, xShape[3], cout], convParams(xShape, [1, 1], 1, 'valid'), cout % 2 === 1, `1×1 ${xShape.join('×')} → ${cout}`);
        }
        for (const [n, k, units] of [[3, 37, 10], [1, 8, 3], [64, 130, 13]]) {
          const x = random([n, k]);
          const kernel = random([k, units]);
          const bias = random([units]).data;
          const dy = random([n, units]);
          check(() => w.backend.dense(x, kernel, bias), () => one.backend.dense(x, kernel, bias), () => referenceBackend.dense(x, kernel, bias), true, `dense ${n}×${k}→${units}`);
          check(() => w.gradients.denseBackwardInput(dy, kernel), () => one.gradients.denseBackwardInput(dy, kernel), () => referenceGradients.denseBackwardInput(dy, kernel), true, `denseBackwardInput ${n}×${k}→${units}`);
          check(() => w.gradients.denseBackwardKernel(x, dy), () => one.gradients.denseBackwardKernel(x, dy), () => referenceGradients.denseBackwardKernel(x, dy), false, `denseBackwardKernel ${n}×${k}→${units}`);
        }
      });

      it('depthwise 3×3 and 5×5 split by images: strides 1 and 2, every padding, odd sizes, batch 1 and 3', () => {
        for (const [xShape, k] of [
          [[3, 9, 7, 13], 3],
          [[1, 11, 6, 13], 3],
          [[3, 10, 9, 7], 5],
          [[3, 24, 20, 30], 3],
        ] as [number[], number][]) {
          for (const stride of [1, 2]) {
            for (const padding of ['same', 'torch', 'valid'] as PaddingMode[]) {
              checkConv(w, one, xShape, [k, k, 1, xShape[3]], convParams(xShape, [k, k], stride, padding, xShape[3]), stride === 1, `depthwise ${k}×${k} ${xShape.join('×')} s${stride} ${padding}`);
            }
          }
        }
        // lopsided padding wider than the flipped-kernel path takes: the scatter kernel for the input gradient
        checkConv(w, one, [3, 6, 7, 6], [3, 3, 1, 6], convParams([3, 6, 7, 6], [3, 3], 1, [3, 0, 1, 2], 6), false, 'depthwise padding [3, 0, 1, 2]');
      });

      it('stems (direct kernel) and wide convolutions (im2col): forward and both gradients split by images', () => {
        for (const [xShape, k, cout, stride, padding] of [
          [[3, 9, 8, 1], 3, 16, 2, 'same'],
          [[3, 10, 11, 3], 3, 13, 2, 'torch'],
          [[1, 7, 7, 3], 3, 8, 1, 'valid'],
          [[3, 8, 7, 9], 3, 6, 2, 'same'],
          [[3, 6, 6, 12], 3, 10, 1, 'torch'],
          [[3, 7, 9, 6], 1, 5, 2, 'valid'],
        ] as [number[], number, number, number, PaddingMode][]) {
          checkConv(w, one, xShape, [k, k, xShape[3], cout], convParams(xShape, [k, k], stride, padding), true, `conv ${k}×${k} ${xShape.join('×')} → ${cout} s${stride} ${padding}`);
        }
        for (const shape of [[3, 5, 7, 13], [1, 2, 2, 40]]) {
          const x = random(shape);
          check(() => w.backend.globalAvgPool(x), () => one.backend.globalAvgPool(x), () => referenceBackend.globalAvgPool(x), true, `globalAvgPool ${shape}`);
        }
        assert.deepEqual(w.coverage().reference, {}, 'every op above on wasm kernels');
        assert.ok(w.stats().parallelCalls > 0, 'some calls were split across threads');
      });
    });
  }

  describe('training', () => {
    const OPTIONS: MobileNetV2Options = { alpha: 0.25, resolution: 28, inputChannels: 1, classes: 10, blocks: [[1, 8, 1, 1], [4, 16, 1, 2], [4, 24, 2, 2]], lastChannel: 64, seed: 1 };
    const CONFIG: TrainConfig = {
      epochs: 1,
      batchSize: 16,
      seed: 3,
      optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
      schedule: { kind: 'constant', lr: 0.05 },
      labelSmoothing: 0.1,
      augment: { padding: 2, flip: true },
      checkpointEvery: 1,
    };
    let data: { train: Dataset; test: Dataset };
    before(async () => {
      const all = await readIdxFolder(join(FIXTURES, 'data', 'fashion-mnist'), { split: 'test', pixels: { mean: 0.5, std: 0.5 } });
      data = { train: subset(all, Int32Array.from({ length: 48 }, (_, i) => i)), test: subset(all, Int32Array.from({ length: 16 }, (_, i) => 100 + i)) };
    });

    /** A seeded 3-step run on fresh backends, each step in their scope (as the CLI runs it); each checkpoint encoded as the CLI writes it. */
    async function run(threads: number, resume?: Uint8Array, scoped = true): Promise<{ weights: Map<string, Tensor>; checkpoints: Uint8Array[] }> {
      const w = await createWasmTrainingBackends({ threads });
      try {
        const saved = resume ? decodeCheckpoint(resume) : null;
        const model = saved?.model ?? mobilenetV2(OPTIONS);
        const checkpoints: Uint8Array[] = [];
        await train(
          model,
          data.train,
          data.test,
          CONFIG,
          { backend: w.backend, gradients: w.gradients, scope: scoped ? (body) => w.scope(body) : undefined, hooks: { checkpoint: async (state, optimizer) => void checkpoints.push(encodeCheckpoint(model, optimizer, state, CONFIG)) } },
          saved ? { state: saved.state, optimizerState: saved.optimizerState } : undefined,
        );
        return { weights: model.weights(), checkpoints };
      } finally {
        await w.dispose();
      }
    }

    it('a training step on 2 threads gives one thread’s loss and gradients within tolerance', async () => {
      const x = randomBatch([6, 28, 28, 1], 99);
      const labels = [0, 3, 9, 4, 4, 1];
      const step = async (threads: number) => {
        const w = await createWasmTrainingBackends({ threads });
        try {
          return mobilenetV2(OPTIONS).forwardBackward(x, labels, { backend: w.backend, gradients: w.gradients });
        } finally {
          await w.dispose();
        }
      };
      const [single, threaded] = [await step(1), await step(2)];
      const reference = mobilenetV2(OPTIONS).forwardBackward(x, labels);
      assert.ok(Math.abs(threaded.loss - single.loss) < 1e-6, `loss ${threaded.loss} vs ${single.loss}`);
      assert.ok(Math.abs(threaded.loss - reference.loss) < 1e-5, `loss ${threaded.loss} vs the reference's ${reference.loss}`);
      for (const [name, expected] of reference.grads) {
        // the golden README's per-tensor tolerance, as test/backend/wasm/wasm-training.test.ts: 5e-3·max|b| + 1e-4
        for (const [other, label] of [[single.grads.get(name)!, 'one thread'], [expected, 'the reference']] as const) {
          const actual = threaded.grads.get(name)!;
          let scale = 0;
          let worst = 0;
          for (let i = 0; i < other.size; i++) {
            scale = Math.max(scale, Math.abs(other.data[i]));
            worst = Math.max(worst, Math.abs(actual.data[i] - other.data[i]));
          }
          assert.ok(worst <= 5e-3 * scale + 1e-4, `${name} against ${label}: max |a − b| = ${worst.toExponential(3)}, scale ${scale.toExponential(3)}`);
        }
      }
    });

    it('two seeded runs on 2 threads give bit-identical weights, and so does a run resumed from its checkpoint', async () => {
      const first = await run(2);
      const second = await run(2);
      assert.ok(first.checkpoints.length >= 3);
      const resumed = await run(2, first.checkpoints[0]);
      const unscoped = await run(2, undefined, false);
      for (const [name, t] of first.weights) {
        assert.deepEqual(second.weights.get(name)!.data, t.data, `${name}: second run`);
        assert.deepEqual(resumed.weights.get(name)!.data, t.data, `${name}: resumed after step 1`);
        assert.deepEqual(unscoped.weights.get(name)!.data, t.data, `${name}: steps outside a scope (fresh output arrays)`);
      }
      // one thread: the same run up to the last bits of the kernel-gradient sums
      const single = await run(1);
      for (const [name, t] of first.weights) assertClose(single.weights.get(name)!, t, 1e-4, `${name}: one thread`);
    });

    it('mobilenet train --threads 2 records the count in its checkpoint, and --resume without the flag keeps it', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mobilenet-threads-'));
      try {
        // 48 training and 16 test images of the fixture, as IDX files
        const dataDir = join(dir, 'data');
        await mkdir(dataDir);
        for (const kind of ['images-idx3', 'labels-idx1']) {
          const all = await readIdxFile(join(FIXTURES, 'data', 'fashion-mnist', `t10k-${kind}-ubyte.gz`));
          const per = all.data.length / all.shape[0];
          for (const [split, from, count] of [['train', 0, 48], ['t10k', 100, 16]] as const) {
            const part = { dtype: all.dtype, shape: [count, ...all.shape.slice(1)], data: all.data.slice(from * per, (from + count) * per) };
            await writeFile(join(dataDir, `${split}-${kind}-ubyte`), encodeIdx(part));
          }
        }
        const args = (out: string): string[] => ['train', '--data', dataDir, '--out', join(dir, out), '--alpha', '0.25', '--stem-stride', '1', '--batch', '16', '--schedule', 'constant', '--lr', '0.02'];
        const first = await runCli(...args('run'), '--epochs', '1', '--threads', '2');
        assert.equal(first.code, 0, first.err);
        assert.match(first.err, /2 threads/);
        const checkpoint = decodeCheckpoint(new Uint8Array(await readFile(join(dir, 'run', 'checkpoint.safetensors'))));
        assert.equal(checkpoint.config.threads, 2);
        const resumed = await runCli(...args('run'), '--epochs', '2', '--resume');
        assert.equal(resumed.code, 0, resumed.err);
        assert.match(resumed.err, /resuming[^]*2 threads/);
        const bad = await runCli(...args('bad'), '--threads', '0');
        assert.notEqual(bad.code, 0);
        assert.match(bad.err, /--threads/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('the pool takes work after start: runs it on pointers per call, and reports a load that fails with the numbering kept', async () => {
    const runtime = new WasmRuntime({ shared: true });
    const mod = runtime.module();
    const [cin, cout, rows] = [6, 5, 23];
    emitGemm(mod, 'gemm', { cin, cout });
    const { module } = await runtime.instantiateWithModule(mod);
    const gemm = (kernel: string): SplitWork => ({ kind: 'split', grain: 4, calls: [{ kernel, args: [{ pointer: 0, perUnit: cin * 4 }, { pointer: 2 }, { pointer: 1, perUnit: cout * 4 }], unitScale: 1, tail: [0] }] });
    const pool = await ThreadPool.start(3, runtime.memory, module, []);
    try {
      const x = random([rows, cin]);
      const kernel = random([cin, cout]);
      const expected = referenceBackend.dense(x, kernel, null);
      const w = runtime.upload(packGemmWeights({ cin, cout }, kernel.data, null));
      const px = runtime.upload(x.data);
      const py = runtime.allocF32(rows * cout);
      assert.equal(pool.load(module, [gemm('gemm')]), 0);
      assert.throws(() => pool.load(module, [gemm('missing')]), (e: Error) => e instanceof ThreadError && /loading 1 steps: thread \d: .*no kernel 'missing'/.test(e.message));
      assert.equal(pool.load(module, [gemm('gemm')]), 2);
      for (const step of [0, 2]) {
        runtime.f32(py, rows * cout).fill(0);
        // the calling thread's part is left undone: the workers' parts land, part 0's rows stay zero
        pool.runAt(step, px, py, w, rows, 3, () => {});
        const y = new Tensor([rows, cout], runtime.read(py, rows * cout));
        const start = shareOf(rows, 1, 3, 4)[0];
        assertClose(new Tensor([rows - start, cout], y.data.slice(start * cout)), new Tensor([rows - start, cout], expected.data.slice(start * cout)), TOL, `step ${step}`);
        assert.ok(y.data.slice(0, start * cout).every((v) => v === 0));
      }
      assert.throws(() => pool.runAt(1, px, py, w, rows, 3, () => {}), (e: Error) => e instanceof ThreadError && /step 1 has no work/.test(e.message));
      assert.throws(() => pool.runAt(3, px, py, w, rows, 3, () => {}), /no step 3 \(3 steps\)/);
    } finally {
      await pool.dispose();
    }
    assert.throws(() => pool.load(module, [gemm('gemm')]), /disposed/);
  });

  it('scope: op outputs reuse the arrays an earlier scope gave back, with every value rewritten; only inside a scope', () => {
    const p = convParams([3, 9, 7, 13], [1, 1], 1, 'valid');
    const kernel = random([1, 1, 13, 17]);
    const [x1, x2] = [random([3, 9, 7, 13]), random([3, 9, 7, 13])];
    const first = one.scope(() => one.backend.conv2d(x1, kernel, null, p).data);
    one.scope(() => {
      // nested scopes belong to the outermost one
      const y = one.scope(() => one.backend.conv2d(x2, kernel, null, p));
      assert.equal(y.data, first, 'the array of the first scope');
      assertClose(y, referenceBackend.conv2d(x2, kernel, null, p), TOL, 'a reused output');
      assert.notEqual(one.backend.conv2d(x2, kernel, null, p).data, first, 'in use in this scope');
    });
    const outside = one.backend.conv2d(x1, kernel, null, p);
    assert.ok(outside.data !== first && one.backend.conv2d(x1, kernel, null, p).data !== outside.data, 'fresh arrays outside a scope');
    assert.throws(() => one.scope(async () => one.backend.conv2d(x1, kernel, null, p)), (e: unknown) => e instanceof ConfigError && /synchronous/.test(e.message));
    assert.throws(() => one.scope(() => { throw new RangeError('inside'); }), RangeError);
  });

  it('a thread count that is not a positive integer is a ConfigError; where memory cannot be shared, one thread runs without error', async () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) await assert.rejects(createWasmTrainingBackends({ threads }), (e: unknown) => e instanceof ConfigError && /threads must be a positive integer/.test(e.message));
    assert.equal(one.threads, 1);
    assert.equal(one.threadsNote, null);
    // a page without cross-origin isolation, as a browser reports it
    const scope = globalThis as { crossOriginIsolated?: boolean };
    scope.crossOriginIsolated = false;
    let w: WasmTrainingBackends;
    try {
      w = await createWasmTrainingBackends({ threads: 2 });
    } finally {
      delete scope.crossOriginIsolated;
    }
    try {
      assert.equal(w.threads, 1);
      assert.match(w.threadsNote ?? '', /threads: 2 requested, 1 used: .*cross-origin isolated/);
      const x = random([3, 6, 5, 4]);
      const kernel = random([1, 1, 4, 6]);
      const p = convParams([3, 6, 5, 4], [1, 1], 1, 'valid');
      assertSame(w.backend.conv2d(x, kernel, null, p), one.backend.conv2d(x, kernel, null, p), 'one thread');
    } finally {
      await w.dispose();
    }
  });

  it('refuses ops after dispose and lets the process exit, disposed or not', async () => {
    const w = await createWasmTrainingBackends({ threads: 2 });
    const x = random([3, 5, 5, 8]);
    const kernel = random([1, 1, 8, 8]);
    const p = convParams(x.shape as number[], [1, 1], 1, 'valid');
    w.backend.conv2d(x, kernel, null, p);
    await w.dispose();
    assert.throws(() => w.backend.conv2d(x, kernel, null, p), /after dispose/);
    const backends = fileURLToPath(new URL('../../../src/backend/wasm/ops-backend.ts', import.meta.url));
    const tensor = fileURLToPath(new URL('../../../src/tensor/tensor.ts', import.meta.url));
    const script = `
      const { createWasmTrainingBackends } = await import(${JSON.stringify(backends)});
      const { Tensor } = await import(${JSON.stringify(tensor)});
      const p = { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 };
      const use = (w) => w.gradients.conv2dBackwardKernel(new Tensor([3, 40, 40, 8]), new Tensor([3, 40, 40, 8]), [1, 1, 8, 8], p);
      const disposed = await createWasmTrainingBackends({ threads: 2 });
      use(disposed);
      await disposed.dispose();
      const kept = await createWasmTrainingBackends({ threads: 3 });
      use(kept);
      console.log(kept.stats().parallelCalls > 0 ? 'done' : 'not split');`;
    const started = Date.now();
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20000 }, (error, out) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: out }));
    });
    assert.equal(stdout.trim(), 'done');
    assert.equal(code, 0, `exit code ${code} after ${Date.now() - started} ms`);
  });
});
