// `mobilenet train --task segmentation` and `mobilenet eval --task segmentation` end to end on a tiny VOC folder: exact
// resume, model files that carry class names and preprocessing, eval against the model's own predictions, --from, refusals.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encode } from 'fast-png';

import { bundledSegmenterPath } from '../../src/cli/eval.js';
import { defaultModelPath } from '../../src/cli/model-files.js';
import { encodeMaskPng } from '../../src/data/mask-png.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { readVocFolder } from '../../src/node/voc-folder.js';
import { Random } from '../../src/tensor/random.js';
import { Interrupted, assertSameRun, runCli, runResult } from '../support/interrupted-run.js';

const SIZE = 32;
const CLASSES = ['background', 'red', 'green'];

/** A VOC folder of `train` and `val` scenes: a noisy grey background with a red and a green square (labels 1, 2), a void border row. */
async function writeTinyVoc(dir: string, counts: { train: number; val: number }, seed: number): Promise<void> {
  for (const sub of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) await mkdir(join(dir, sub), { recursive: true });
  const random = new Random(seed);
  for (const split of ['train', 'val'] as const) {
    const names = Array.from({ length: counts[split] }, (_, i) => `${split}_${i}`);
    for (const name of names) {
      const rgb = new Uint8Array(SIZE * SIZE * 3).map(() => 100 + Math.floor(random.uniform() * 40));
      const labels = new Uint8Array(SIZE * SIZE);
      for (const label of [1, 2]) {
        const [top, left] = [Math.floor(random.uniform() * 20), Math.floor(random.uniform() * 20)];
        for (let y = top; y < top + 12; y++)
          for (let x = left; x < left + 12; x++) {
            labels[y * SIZE + x] = label;
            rgb.set(label === 1 ? [230, 30, 30] : [30, 200, 40], (y * SIZE + x) * 3);
          }
      }
      labels.fill(255, 0, SIZE);
      await writeFile(join(dir, 'JPEGImages', `${name}.png`), encode({ width: SIZE, height: SIZE, data: rgb, channels: 3, depth: 8 }));
      await writeFile(join(dir, 'SegmentationClass', `${name}.png`), encodeMaskPng({ width: SIZE, height: SIZE, labels }));
    }
    await writeFile(join(dir, `ImageSets/Segmentation/${split}.txt`), `${names.join('\n')}\n`);
  }
  const categories = CLASSES.slice(1).map((name, i) => ({ id: i + 1, name }));
  await writeFile(join(dir, 'annotations.json'), JSON.stringify({ images: [], annotations: [], categories }));
}

const cli = runCli;

/** 8 training scenes at batch 2: 4 steps an epoch, a checkpoint after step 3, so a run stops mid-epoch; scaled and flipped. */
const BASE = ['--task', 'segmentation', '--alpha', '0.35', '--epochs', '2', '--batch', '2', '--checkpoint-every', '3', '--lr', '0.02', '--class-weights', '0.5,1,1.5', '--scale', '0.75,1.25'];

let root = '';
let data = '';
let runs = 0;
const fresh = (): string => join(root, `run-${runs++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mobilenet-segtrain-'));
  data = join(root, 'voc');
  await writeTinyVoc(data, { train: 8, val: 4 }, 1);
});
after(async () => rm(root, { recursive: true, force: true }));

describe('train --task segmentation', () => {
  let reference = '';
  before(async () => {
    reference = fresh();
    const r = await cli(['train', '--data', data, '--out', reference, ...BASE]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /training deeplabv3_mobilenet_v2.* on 8 images \(4 val\), 2 epochs of 4 steps, batch 2/);
    assert.match(r.err, /epoch 2: train loss [\d.]+ pixel accuracy [\d.]+% \| test loss [\d.]+ mIoU [\d.]+% pixel accuracy [\d.]+%/);
    assert.match(r.out, /best val mIoU [\d.]+% at epoch [12]/);
  });

  it('stopped mid-epoch and resumed with --out and --resume alone, ends bit-equal to the uninterrupted run', async () => {
    const interrupted = fresh();
    await assert.rejects(cli(['train', '--data', data, '--out', interrupted, ...BASE], /^epoch 1: train loss/), Interrupted);
    const resumed = await cli(['train', '--out', interrupted, '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.err, /resuming .*: epoch 1, batch 3, step 3\b/);
    assertSameRun(await runResult(interrupted), await runResult(reference), 'segmentation');
  });

  it('a --resume contradicting the run (--class-weights, --output-stride, --scale) is refused', async () => {
    const r = await cli(['train', '--out', reference, '--resume', '--class-weights', '1,1,1']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--class-weights 1,1,1 contradicts the run being resumed/);
    const s = await cli(['train', '--out', reference, '--resume', '--output-stride', '8']);
    assert.match(s.err, /--output-stride 8 contradicts/);
    const t = await cli(['train', '--out', reference, '--resume', '--scale', '1,1']);
    assert.match(t.err, /--scale 1,1 contradicts .* which has --scale 0\.75,1\.25/);
  });

  it('the model files carry the class names, the preprocessing and the val scores; the curves say mIoU', async () => {
    for (const file of ['model.safetensors', 'best.safetensors']) {
      const loaded = decodeModelFile(new Uint8Array(await readFile(join(reference, file))));
      assert.deepEqual(loaded.classNames, CLASSES);
      assert.deepEqual(loaded.preprocessing?.size, [SIZE, SIZE]);
      assert.deepEqual(loaded.preprocessing?.pixels, { mean: 0.5, std: 0.5 });
      assert.deepEqual(loaded.model.outputShape, [SIZE, SIZE, 3]);
    }
    const best = decodeModelFile(new Uint8Array(await readFile(join(reference, 'best.safetensors'))));
    assert.ok(typeof (best.extra?.test as { miou?: unknown }).miou === 'number', JSON.stringify(best.extra?.test));
    assert.match(await readFile(join(reference, 'curves.svg'), 'utf8'), /best test mIoU .*test mIoU/s);
  });

  it('eval --task segmentation --json reports the mIoU, per-class IoU and pixel accuracy of the model\'s own predictions', async () => {
    const file = join(reference, 'model.safetensors');
    const r = await cli(['eval', '--task', 'segmentation', '--model', file, '--data', data, '--json']);
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as { miou: number; perClassIou: (number | null)[]; pixelAccuracy: number; confusion: number[][]; images: number; split: string };
    // the reference: the model's logits on the reference kernels, argmax and IoU counted here
    const { model, preprocessing } = decodeModelFile(new Uint8Array(await readFile(file)));
    const set = await readVocFolder(data, { split: 'val', pixels: preprocessing!.pixels, classNames: CLASSES });
    const logits = model.predict(set.images).data;
    const confusion = CLASSES.map(() => CLASSES.map(() => 0));
    set.masks.forEach((label, p) => {
      if (label === 255) return;
      const row = [...logits.subarray(p * 3, p * 3 + 3)];
      confusion[label][row.indexOf(Math.max(...row))]++;
    });
    assert.deepEqual(result.confusion, confusion);
    const iou = confusion.map((row, k) => {
      const union = row.reduce((a, b) => a + b, 0) + confusion.reduce((a, r2) => a + r2[k], 0) - row[k];
      return union === 0 ? null : row[k] / union;
    });
    const present = iou.filter((v): v is number => v !== null);
    assert.deepEqual(result.perClassIou, iou);
    assert.ok(Math.abs(result.miou - present.reduce((a, b) => a + b, 0) / present.length) < 1e-12);
    assert.ok(Math.abs(result.pixelAccuracy - confusion.reduce((a, row, k) => a + row[k], 0) / (4 * SIZE * (SIZE - 1))) < 1e-12);
    assert.equal(result.images, 4);
    assert.equal(result.split, 'val');
    const text = await cli(['eval', '--task', 'segmentation', '--model', file, '--data', data]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /on .* \(val, 4 images, 32×32\): mIoU [\d.]+%, pixel accuracy [\d.]+%/);
    assert.match(text.out, /\n {2}2 green +([\d.]+%|—)\n?/);
  });

  it('eval --task segmentation without --model wants the bundled segmenter, and says when it is missing', { skip: existsSync(bundledSegmenterPath()) ? 'the bundled segmenter exists' : false }, async () => {
    const r = await cli(['eval', '--task', 'segmentation', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.err, /ConfigError: no --model given and the bundled segmenter .*scenes-deeplab\.safetensors does not exist \(yet\): give --model FILE/);
  });

  it('--from the bundled Fashion-MNIST classifier copies its backbone into a grey DeepLab of its width', async () => {
    const out = fresh();
    const r = await cli(['train', '--data', data, '--out', out, '--task', 'segmentation', '--from', defaultModelPath(), '--epochs', '1', '--batch', '4']);
    assert.equal(r.code, 0, r.err);
    // every backbone weight of the classifier up to block 16 fits: all but its last 1×1 conv, BN and classifier
    const source = decodeModelFile(new Uint8Array(await readFile(defaultModelPath()))).model;
    const backbone = [...source.weights().keys()].filter((k) => !/^(Conv_1|Conv_1_bn|predictions)\./.test(k));
    assert.match(r.err, new RegExp(`copied ${backbone.length} weights of its backbone`));
    const trained = decodeModelFile(new Uint8Array(await readFile(join(out, 'model.safetensors'))));
    assert.deepEqual(trained.model.inputShape, [SIZE, SIZE, 1]);
    assert.equal(trained.model.metadata.alpha, source.metadata.alpha);
  });

  it('refuses flags of the other task and a classifier architecture, naming them', async () => {
    for (const [flags, message] of [
      [['--label-smoothing', '0.1'], /--label-smoothing applies to classification, not to --task segmentation/],
      [['--arch', 'mobilenet_v2'], /--task segmentation trains deeplabv3_mobilenet_v2 \(per-pixel logits\), not mobilenet_v2/],
      [['--scale', '2,1'], /--scale must be MIN,MAX with 0 < MIN ≤ MAX, got 2,1/],
    ] as const) {
      const r = await cli(['train', '--data', data, '--out', fresh(), '--task', 'segmentation', ...flags]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
    }
    const weights = await cli(['train', '--data', data, '--out', fresh(), '--task', 'segmentation', '--class-weights', '1,2']);
    assert.match(weights.err, /ConfigError: class weights: 2 weights for 3 classes/);
    const classifier = await cli(['train', '--data', data, '--out', fresh(), '--class-weights', '1,2']);
    assert.match(classifier.err, /--class-weights applies to --task segmentation, not to classification/);
  });
});
