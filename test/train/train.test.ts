// The trainer: a run interrupted at any checkpoint and resumed reaches bit-identical weights and optimizer
// state; metrics worked by hand; fine-tuning freezes, swaps heads and embeds; the train/eval CLI end to end, and its messages.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, copyFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FIXTURES } from '../support/helpers.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import type { MobileNetV2Options } from '../../src/models/mobilenet-v2.js';
import { train } from '../../src/train/trainer.js';
import type { TrainConfig, TrainerState } from '../../src/train/trainer.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/train/checkpoint.js';
import type { Optimizer } from '../../src/train/optimizers.js';
import { MetricsAccumulator } from '../../src/train/metrics.js';
import { embed, freezeLayers, replaceHead } from '../../src/train/finetune.js';
import { subset } from '../../src/data/dataset.js';
import type { Dataset } from '../../src/data/dataset.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { main } from '../../src/cli/cli.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const FASHION = join(FIXTURES, 'data', 'fashion-mnist');
const OPTIONS: MobileNetV2Options = { alpha: 0.25, resolution: 28, inputChannels: 1, classes: 10, blocks: [[1, 8, 1, 1], [4, 16, 1, 2], [4, 24, 2, 2]], lastChannel: 64, seed: 1 };
const CONFIG: TrainConfig = {
  epochs: 2,
  batchSize: 16,
  seed: 7,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
  schedule: { kind: 'cosine', lr: 0.05, warmupEpochs: 1 },
  labelSmoothing: 0.1,
  augment: { padding: 2, flip: true, erasing: { p: 0.5 } },
  checkpointEvery: 2,
};

let data: { train: Dataset; test: Dataset } | null = null;
async function fashion(): Promise<{ train: Dataset; test: Dataset }> {
  if (data) return data;
  const all = await readIdxFolder(FASHION, { split: 'test', pixels: { mean: 0.5, std: 0.5 } });
  data = { train: subset(all, Int32Array.from({ length: 64 }, (_, i) => i)), test: subset(all, Int32Array.from({ length: 32 }, (_, i) => 100 + i)) };
  return data;
}

class Interrupted extends Error {}

describe('trainer', () => {
  it('interrupted at every checkpoint in turn and resumed, a run reaches bit-identical weights and optimizer state', async () => {
    const { train: trainData, test } = await fashion();
    const reference = mobilenetV2(OPTIONS);
    let finalOptimizer: Optimizer | null = null;
    const checkpoints: Uint8Array[] = [];
    await train(reference, trainData, test, CONFIG, {
      hooks: {
        checkpoint: async (state, optimizer) => {
          checkpoints.push(encodeCheckpoint(reference, optimizer, state, CONFIG));
          finalOptimizer = optimizer;
        },
      },
    });
    const expectedState = finalOptimizer!.state();
    // mid-epoch (every 2 steps) and end-of-epoch checkpoints: resume from each one, as after a kill -9
    assert.ok(checkpoints.length >= 4);
    for (const bytes of checkpoints.slice(0, -1)) {
      const saved = decodeCheckpoint(bytes);
      let resumedOptimizer: Optimizer | null = null;
      const end: TrainerState = await train(saved.model, trainData, test, saved.config, { hooks: { checkpoint: async (_, o) => void (resumedOptimizer = o) } }, { state: saved.state, optimizerState: saved.optimizerState });
      assert.equal(end.step, 8);
      for (const [name, t] of reference.weights()) assert.deepEqual(saved.model.weights().get(name)!.data, t.data, `${name} after resuming at step ${saved.state.step}`);
      for (const [name, t] of resumedOptimizer!.state()) assert.deepEqual(t.data, expectedState.get(name)!.data, `optimizer ${name}`);
    }
  });

  it('the training loss falls on a few hundred images', async () => {
    const all = await readIdxFolder(FASHION, { split: 'test', pixels: { mean: 0.5, std: 0.5 } });
    const few = subset(all, Int32Array.from({ length: 256 }, (_, i) => i));
    const model = mobilenetV2(OPTIONS);
    const state = await train(model, few, subset(all, Int32Array.from({ length: 32 }, (_, i) => 300 + i)), { ...CONFIG, epochs: 4, batchSize: 32, augment: undefined, schedule: { kind: 'constant', lr: 0.05 } });
    const losses = state.history.map((r) => r.trainLoss);
    assert.ok(losses[3] < 0.8 * losses[0], `train loss per epoch: ${losses.map((l) => l.toFixed(3)).join(', ')}`);
  });

  it('a hook that fails mid-run (a crash) leaves the last checkpoint to resume from', async () => {
    const { train: trainData, test } = await fashion();
    const model = mobilenetV2(OPTIONS);
    let last: Uint8Array | null = null;
    await assert.rejects(
      train(model, trainData, test, CONFIG, {
        hooks: {
          checkpoint: async (s, o) => void (last = encodeCheckpoint(model, o, s, CONFIG)),
          stepEnd: (_, __, s) => {
            if (s.step === 5) throw new Interrupted('killed');
          },
        },
      }),
      Interrupted,
    );
    assert.equal(decodeCheckpoint(last!).state.step, 4);
  });

  it('top-1, top-5, per-class accuracy and the confusion matrix, worked by hand', () => {
    const m = new MetricsAccumulator(6);
    // label 2 scores 9, the highest; label 4 scores 1 with four classes above (top-5, predicted 0);
    // label 1 scores 0 with five above (not top-5, predicted 0)
    m.add(new Float32Array([0, 1, 9, 2, 3, 4, 5, 4, 3, 2, 1, 0, 6, 0, 1, 2, 3, 4]), [2, 4, 1], 3);
    const r = m.result();
    assert.equal(r.top1, 1 / 3);
    assert.equal(r.top5, 2 / 3);
    assert.equal(r.loss, 1);
    assert.deepEqual(r.perClass, [0, 0, 1, 0, 0, 0]);
    assert.deepEqual(r.confusion[2], [0, 0, 1, 0, 0, 0]);
    assert.deepEqual(r.confusion[4], [1, 0, 0, 0, 0, 0]);
    assert.deepEqual(r.confusion[1], [1, 0, 0, 0, 0, 0]);
  });
});

describe('fine-tuning', () => {
  it('frozen layers get no gradients; a new head keeps every other weight; embed gives the pooled features', () => {
    const model = mobilenetV2(OPTIONS);
    const frozen = freezeLayers(model, { upTo: 'block_2' });
    assert.ok(frozen.includes('Conv1') && frozen.includes('block_2_project_BN') && !frozen.includes('block_3_expand'));
    const x = new Tensor([4, 28, 28, 1], new Random(2).fillUniform(new Float32Array(4 * 28 * 28), -1, 1));
    const { grads } = model.forwardBackward(x, [0, 1, 2, 3]);
    assert.ok(![...grads.keys()].some((k) => k.startsWith('Conv1.') || k.startsWith('block_1_')));
    assert.ok(grads.has('block_3_expand.kernel') && grads.has('predictions.kernel'));
    const five = replaceHead(model, 5);
    assert.deepEqual(five.outputShape, [5]);
    assert.deepEqual(five.getLayer('block_3_expand').param('kernel').data, model.getLayer('block_3_expand').param('kernel').data);
    const features = embed(model, x);
    assert.deepEqual([...features.shape], [4, 64]);
    assert.deepEqual(features.data, model.run(x, ['global_average_pooling2d']).get('global_average_pooling2d')!.data);
  });
});

describe('train and quantize messages', () => {
  const BUNDLED = join(dirname(FIXTURES), '..', 'data', 'fashion-mnist');
  const run = async (...argv: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await main(argv, { out: () => {}, err: (t) => err.push(t), isTTY: false });
    return { code, err: err.join('\n') };
  };

  for (const command of [['train', '--out', join(tmpdir(), 'mobilenet-never-written')], ['quantize', '--out', join(tmpdir(), 'never-written.safetensors')]]) {
    it(`${command[0]} on the bundled test-only folder points to --split test and the Debian package`, async () => {
      const r = await run(...command, '--data', BUNDLED);
      assert.equal(r.code, 2);
      assert.match(r.err, /ConfigError: data folder .*fashion-mnist has only the test split .*give --split test .*dataset-fashion-mnist, in \/usr\/share\/datasets\/fashion-mnist/);
    });
  }

  it('train on 28×28 images with the default stem suggests --stem-stride 1', async () => {
    const r = await run('train', '--data', BUNDLED, '--split', 'test', '--out', join(tmpdir(), 'mobilenet-never-written'), '--alpha', '0.25');
    assert.equal(r.code, 2);
    assert.match(r.err, /UsageError: mobilenet_v2: resolution 28×28 is too small.*give --stem-stride 1/);
  });
});

describe('train and eval commands', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  it('trains on an IDX folder, resumes, and evaluates the best model with --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mobilenet-train-'));
    dirs.push(dir);
    const dataDir = join(dir, 'fashion-mnist');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dataDir);
    for (const kind of ['images-idx3', 'labels-idx1']) {
      await copyFile(join(FASHION, `t10k-${kind}-ubyte.gz`), join(dataDir, `t10k-${kind}-ubyte.gz`));
      await copyFile(join(FASHION, `t10k-${kind}-ubyte.gz`), join(dataDir, `train-${kind}-ubyte.gz`));
    }
    const out = join(dir, 'run');
    const quiet = { out: () => {}, err: () => {}, isTTY: false };
    const args = ['train', '--data', dataDir, '--out', out, '--alpha', '0.25', '--stem-stride', '1', '--batch', '25', '--limit', '50', '--backend', 'reference', '--schedule', 'constant'];
    assert.equal(await main([...args, '--epochs', '1'], quiet), 0);
    assert.equal(await main([...args, '--epochs', '2', '--resume'], quiet), 0);
    const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { epoch: number });
    assert.deepEqual(log.map((r) => r.epoch), [1, 2]);
    assert.match(await readFile(join(out, 'curves.svg'), 'utf8'), /^<svg /);
    const lines: string[] = [];
    assert.equal(await main(['eval', '--model', join(out, 'best.safetensors'), '--data', dataDir, '--json'], { out: (t) => lines.push(t), err: () => {}, isTTY: false }), 0);
    const result = JSON.parse(lines[0]) as { top1: number; top5: number; images: number; imagesPerSecond: number };
    assert.equal(result.images, 500);
    assert.ok(result.top1 >= 0 && result.top1 <= result.top5 && result.top5 <= 1 && result.imagesPerSecond > 0);
  });
});
