// `mobilenet train --resume` is exact for every flag that defines a run: a run interrupted mid-epoch and resumed with
// only --out and --resume ends bit-equal to the uninterrupted run; contradicting flags and --epochs changes are refused.

import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { ConfigError } from '../../src/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { decodeCheckpoint } from '../../src/train/checkpoint.js';
import { train } from '../../src/train/trainer.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { subset } from '../../src/data/dataset.js';
import { FIXTURES } from '../support/helpers.js';
import { Interrupted, assertSameRun, runCli, runResult } from '../support/interrupted-run.js';
import type { Run } from '../support/interrupted-run.js';
import { writeTinyIdx } from '../support/tiny-idx.js';

/** 24 training and 16 test images: 6 steps an epoch at batch 4, a checkpoint after step 3, so runs stop mid-epoch. */
const BASE = ['--alpha', '0.25', '--stem-stride', '1', '--classes', '10', '--epochs', '1', '--batch', '4', '--checkpoint-every', '3'];
/** BASE and `flags`: MobileNetV1 has no stem stride to set (the flag is refused for it). */
const withBase = (flags: string[]): string[] => [...(flags.includes('mobilenet_v1') ? BASE.filter((f, i) => f !== '--stem-stride' && BASE[i - 1] !== '--stem-stride') : BASE), ...flags];

const train1 = (args: string[], stopAt?: RegExp): Promise<Run> => runCli(['train', ...args], stopAt);

let root = '';
let data = '';
let runs = 0;
const fresh = (): string => join(root, `run-${runs++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mobilenet-resume-'));
  data = join(root, 'data');
  await writeTinyIdx(data, { train: 24, test: 16, size: 16 });
});
after(async () => rm(root, { recursive: true, force: true }));

/** The uninterrupted run, and the same run stopped after epoch 1's evaluation (before its end checkpoint) and resumed. */
async function interruptedAndUninterrupted(flags: string[]): Promise<{ resumed: Run; reference: string; interrupted: string }> {
  const reference = fresh();
  const first = await train1(['--data', data, '--out', reference, ...withBase(flags)]);
  assert.equal(first.code, 0, first.err);
  const interrupted = fresh();
  await assert.rejects(train1(['--data', data, '--out', interrupted, ...withBase(flags)], /^epoch 1: train loss/), Interrupted);
  const resumed = await train1(['--out', interrupted, '--resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .*: epoch 1, batch [1-9], step [1-9]\b/, 'resumed mid-epoch');
  assertSameRun(await runResult(interrupted), await runResult(reference), flags.join(' ') || 'defaults');
  return { resumed, reference, interrupted };
}

describe('train --resume reproduces the uninterrupted run, the flags left out coming from the checkpoint', () => {
  const cases: Array<[string, string[]]> = [
    ['defaults (cosine, SGD, flips and crops), over 2 epochs', ['--epochs', '2']],
    ['--limit', ['--limit', '20']],
    ['--split test', ['--split', 'test']],
    ['--flip off', ['--flip', 'off']],
    ['--crop-padding', ['--crop-padding', '0']],
    ['--erasing', ['--erasing', '0.5']],
    ['--label-smoothing', ['--label-smoothing', '0']],
    ['--clip-norm', ['--clip-norm', '0.5']],
    ['--seed', ['--seed', '3']],
    ['--batch', ['--batch', '2']],
    ['--optimizer, --lr, --weight-decay', ['--optimizer', 'adam', '--lr', '0.002', '--weight-decay', '0']],
    ['--schedule step, --gamma, --warmup', ['--schedule', 'step', '--gamma', '0.5', '--warmup', '1']],
    ['--schedule exponential', ['--schedule', 'exponential', '--gamma', '0.9']],
    ['--freeze', ['--freeze', 'block_1']],
    ['--alpha', ['--alpha', '0.35']],
    ['--stem-stride and --resolution', ['--stem-stride', '2', '--resolution', '32']],
    ['--arch mobilenet_v1', ['--arch', 'mobilenet_v1', '--resolution', '32']],
    ['--convention keras', ['--convention', 'keras']],
    ['--backend reference', ['--backend', 'reference']],
    ['--threads 2', ['--threads', '2']],
  ];
  for (const [name, flags] of cases) it(name, async () => void (await interruptedAndUninterrupted(flags)));

  it('--limit leaving a partial batch says how many images sit each epoch out', async () => {
    const { resumed } = await interruptedAndUninterrupted(['--limit', '22']);
    assert.match(resumed.err, /training .* on 22 images .* 5 steps/);
    assert.match(resumed.err, /note: each epoch takes 5 full batches, so 2 of the 22 images \(others each epoch, as shuffled\) sit it out/);
  });

  it('--from (fine-tuning a model file) with --freeze', async () => {
    const base = fresh();
    assert.equal((await train1(['--data', data, '--out', base, ...BASE])).code, 0);
    const from = join(root, 'start.safetensors');
    await copyFile(join(base, 'model.safetensors'), from);
    await interruptedAndUninterrupted(['--from', from, '--freeze', 'block_2']);
  });

  it('flags given again with the checkpoint\'s values (or the defaults\' values) are accepted', async () => {
    const out = fresh();
    await assert.rejects(train1(['--data', data, '--out', out, ...BASE, '--limit', '20'], /^epoch 1: train loss/), Interrupted);
    const again = await train1(['--data', data, '--out', out, '--resume', ...BASE, '--limit', '20', '--lr', '0.05', '--flip', 'on']);
    assert.equal(again.code, 0, again.err);
  });
});

describe('train --resume refuses what would not continue the run', () => {
  let out = '';
  before(async () => {
    out = fresh();
    await assert.rejects(train1(['--data', data, '--out', out, ...BASE, '--epochs', '2', '--limit', '20', '--erasing', '0.5'], /^epoch 1: train loss/), Interrupted);
  });

  for (const [flags, message] of [
    [['--limit', '12'], /--limit 12 contradicts the run being resumed in .*, which has --limit 20/],
    [['--erasing', '0'], /--erasing 0 contradicts .* which has --erasing 0\.5/],
    [['--alpha', '0.5'], /--alpha 0\.5 contradicts .* which has --alpha 0\.25/],
    [['--split', 'test'], /--split test contradicts .* which has the default/],
    [['--seed', '1'], /--seed 1 contradicts/],
    [['--data', FIXTURES], /--data .*fixtures contradicts .* which has --data .*data/],
    [['--epochs', '3'], /--epochs 3: the run in .* decays its cosine schedule over 2 epochs.*resume without --epochs/],
  ] as const) {
    it(flags.join(' '), async () => {
      const r = await train1(['--out', out, '--resume', ...flags]);
      assert.equal(r.code, 2);
      assert.match(r.err, /UsageError: /);
      assert.match(r.err, message);
    });
  }

  const noSimd = WasmEngine.supported() ? false : 'WebAssembly SIMD is not available here: every run is on the reference kernels';
  it('--backend (and --threads) may change, with a note that the last bits will then differ', { skip: noSimd }, async () => {
    const moved = fresh();
    await assert.rejects(train1(['--data', data, '--out', moved, ...BASE], /^epoch 1: train loss/), Interrupted);
    const r = await train1(['--out', moved, '--resume', '--backend', 'reference']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /note: the run trained on wasm \(.*\) kernels, now on reference: .*last bits will differ from an uninterrupted run's/);
  });

  it('a checkpoint that does not record its run is refused, not resumed with guesses', async () => {
    const path = join(out, 'checkpoint.safetensors');
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(path)));
    const older = fresh();
    await mkdir(older);
    await writeFile(join(older, 'checkpoint.safetensors'), encodeSafetensors(tensors, { ...metadata, info: '{}' }));
    const r = await train1(['--out', older, '--resume', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.err, /ConfigError: .*does not record the flags that define its run/);
  });
});

describe('train --resume with another --epochs', () => {
  for (const schedule of [['--schedule', 'constant'], ['--schedule', 'step', '--gamma', '0.5']]) {
    it(`${schedule.join(' ')}: a finished 1-epoch run extended to 2 equals an uninterrupted 2-epoch run`, async () => {
      const reference = fresh();
      assert.equal((await train1(['--data', data, '--out', reference, ...BASE, ...schedule, '--epochs', '2'])).code, 0);
      const extended = fresh();
      assert.equal((await train1(['--data', data, '--out', extended, ...BASE, ...schedule])).code, 0);
      const r = await train1(['--out', extended, '--resume', '--epochs', '2']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /epochs 1 → 2: the (constant|step) schedule does not depend on the total/);
      assertSameRun(await runResult(extended), await runResult(reference), schedule.join(' '));
    });
  }

  it('the library refuses a resume on another training set, other settings or a re-planned cosine', async () => {
    const out = fresh();
    await assert.rejects(train1(['--data', data, '--out', out, ...BASE, '--epochs', '2'], /^epoch 1: train loss/), Interrupted);
    const saved = decodeCheckpoint(new Uint8Array(await readFile(join(out, 'checkpoint.safetensors'))));
    const all = await readIdxFolder(data, { pixels: { mean: 0.5, std: 0.5 } });
    const test = await readIdxFolder(data, { split: 'test', pixels: { mean: 0.5, std: 0.5 } });
    const resume = { state: saved.state, optimizerState: saved.optimizerState };
    await assert.rejects(train(saved.model, subset(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]), test, saved.config, {}, resume), (e: Error) => e instanceof ConfigError && /trained on 24 images per epoch, this training set has 16/.test(e.message));
    await assert.rejects(train(saved.model, all, test, { ...saved.config, epochs: 3 }, {}, resume), (e: Error) => e instanceof ConfigError && /cosine schedule was planned over 2 epochs/.test(e.message));
    await assert.rejects(train(saved.model, all, test, { ...saved.config, labelSmoothing: 0 }, {}, resume), (e: Error) => e instanceof ConfigError && /the run's labelSmoothing was 0\.1, this config's is 0;/.test(e.message));
    await assert.rejects(train(saved.model, all, test, { ...saved.config, augment: { ...saved.config.augment, flip: false } }, {}, resume), (e: Error) => e instanceof ConfigError && /the run's augment was \{.*"flip":true.*\}, this config's is \{.*"flip":false/.test(e.message));
  });
});
