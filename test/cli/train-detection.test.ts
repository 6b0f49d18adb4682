// `mobilenet train --task detection` end to end on a tiny COCO folder: exact resume, model files that carry the class
// names, preprocessing and detection head, --from a classifier's backbone, refusals of other tasks' flags.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encode } from 'fast-png';

import { defaultModelPath } from '../../src/cli/model-files.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { Random } from '../../src/tensor/random.js';
import { Interrupted, assertSameRun, runCli, runResult } from '../support/interrupted-run.js';

const SIZE = 32;
const CATEGORIES = ['red', 'green'];

/**
 * A COCO folder: `train` and `val` scenes of 32×32 noise with one or two squares (red: category 7, green: 9, ids not
 * 1..K so that the mapping by order shows), annotations.json and the split lists make-scenes writes.
 */
async function writeTinyCoco(dir: string, counts: { train: number; val: number }, seed: number): Promise<void> {
  for (const sub of ['JPEGImages', 'ImageSets/Segmentation']) await mkdir(join(dir, sub), { recursive: true });
  const random = new Random(seed);
  const coco = { images: [] as object[], annotations: [] as object[], categories: [{ id: 7, name: 'red' }, { id: 9, name: 'green' }] };
  for (const split of ['train', 'val'] as const) {
    const names = Array.from({ length: counts[split] }, (_, i) => `${split}-${i}`);
    for (const [i, name] of names.entries()) {
      const id = coco.images.length + 1;
      const rgb = new Uint8Array(SIZE * SIZE * 3).map(() => 60 + Math.floor(random.uniform() * 40));
      for (let k = 0; k < 1 + (i % 2); k++) {
        const side = 8 + Math.floor(random.uniform() * 10);
        const [top, left] = [Math.floor(random.uniform() * (SIZE - side)), Math.floor(random.uniform() * (SIZE - side))];
        const red = random.uniform() < 0.5;
        for (let y = top; y < top + side; y++) for (let x = left; x < left + side; x++) rgb.set(red ? [230, 30, 30] : [30, 200, 40], (y * SIZE + x) * 3);
        coco.annotations.push({ id: coco.annotations.length + 1, image_id: id, category_id: red ? 7 : 9, bbox: [left, top, side, side], area: side * side, iscrowd: 0 });
      }
      coco.images.push({ id, file_name: `${name}.png`, width: SIZE, height: SIZE });
      await writeFile(join(dir, 'JPEGImages', `${name}.png`), encode({ width: SIZE, height: SIZE, data: rgb, channels: 3, depth: 8 }));
    }
    await writeFile(join(dir, `ImageSets/Segmentation/${split}.txt`), `${names.join('\n')}\n`);
  }
  await writeFile(join(dir, 'annotations.json'), JSON.stringify(coco));
}

/** 8 training scenes at batch 2: 4 steps an epoch, a checkpoint after step 3, so a run stops mid-epoch; every augmentation on. */
const BASE = ['--task', 'detection', '--alpha', '0.35', '--resolution', '64', '--epochs', '2', '--batch', '2', '--checkpoint-every', '3', '--lr', '0.02', '--zoom-out', '2'];

let root = '';
let data = '';
let runs = 0;
const fresh = (): string => join(root, `run-${runs++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mobilenet-dettrain-'));
  data = join(root, 'coco');
  await writeTinyCoco(data, { train: 8, val: 4 }, 1);
});
after(async () => rm(root, { recursive: true, force: true }));

describe('train --task detection', () => {
  let reference = '';
  before(async () => {
    reference = fresh();
    const r = await runCli(['train', '--data', data, '--out', reference, ...BASE]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /training ssdlite_mobilenet_v2.* on 8 images \(4 val\), 2 epochs of 4 steps, batch 2/);
    assert.match(r.err, /epoch 2: train loss [\d.]+ anchor accuracy [\d.]+% \| test loss [\d.]+ mAP [\d.]+% AP50 [\d.]+% anchor accuracy [\d.]+%/);
    assert.match(r.out, /best val mAP [\d.]+% at epoch [12]/);
  });

  it('stopped mid-epoch and resumed with --out and --resume alone, ends bit-equal to the uninterrupted run', async () => {
    const interrupted = fresh();
    await assert.rejects(runCli(['train', '--data', data, '--out', interrupted, ...BASE], /^epoch 1: train loss/), Interrupted);
    const resumed = await runCli(['train', '--out', interrupted, '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.err, /resuming .*: epoch 1, batch 3, step 3\b/);
    assertSameRun(await runResult(interrupted), await runResult(reference), 'detection');
  });

  it('a --resume contradicting the run (--zoom-out, --photometric) is refused', async () => {
    const r = await runCli(['train', '--out', reference, '--resume', '--zoom-out', '3']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--zoom-out 3 contradicts the run being resumed .* which has --zoom-out 2/);
    const s = await runCli(['train', '--out', reference, '--resume', '--photometric', 'off']);
    assert.match(s.err, /--photometric off contradicts/);
  });

  it('the model files carry the class slots (categories by ascending id), the preprocessing, the detection head and the val mAP', async () => {
    for (const file of ['model.safetensors', 'best.safetensors']) {
      const loaded = decodeModelFile(new Uint8Array(await readFile(join(reference, file))));
      assert.deepEqual(loaded.classNames, ['background', ...CATEGORIES]);
      assert.deepEqual(loaded.preprocessing?.size, [64, 64]);
      assert.deepEqual(loaded.preprocessing?.pixels, { mean: 0.5, std: 0.5 });
      const head = loaded.model.metadata.detection;
      assert.ok(head, `${file}: a detection head`);
      assert.deepEqual(loaded.model.outputShapes.scores, [head.anchors.length / 4, 3]);
    }
    const best = decodeModelFile(new Uint8Array(await readFile(join(reference, 'best.safetensors'))));
    const test = best.extra?.test as { map?: unknown; ap50?: unknown };
    assert.ok(typeof test.map === 'number' && typeof test.ap50 === 'number', JSON.stringify(test));
    assert.match(await readFile(join(reference, 'curves.svg'), 'utf8'), /best test mAP .*test mAP/s);
  });

  it('eval --task detection on the best model file gives the val mAP and AP50 the run recorded for it (its own path: COCO pixels, the engine)', async () => {
    const file = join(reference, 'best.safetensors');
    const r = await runCli(['eval', '--task', 'detection', '--model', file, '--data', data, '--json']);
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as { map: number; ap50: number; images: number };
    const recorded = decodeModelFile(new Uint8Array(await readFile(file))).extra?.test as { map: number; ap50: number };
    assert.equal(result.images, 4);
    assert.ok(Math.abs(result.map - recorded.map) < 1e-3 && Math.abs(result.ap50 - recorded.ap50) < 1e-3, `eval ${JSON.stringify(result)}, recorded ${JSON.stringify(recorded)}`);
  });

  it('--from the bundled Fashion-MNIST classifier copies its backbone into a grey SSDLite of its width', async () => {
    const out = fresh();
    const r = await runCli(['train', '--data', data, '--out', out, '--task', 'detection', '--from', defaultModelPath(), '--resolution', '64', '--epochs', '1', '--batch', '4']);
    assert.equal(r.code, 0, r.err);
    const source = decodeModelFile(new Uint8Array(await readFile(defaultModelPath()))).model;
    const trained = decodeModelFile(new Uint8Array(await readFile(join(out, 'model.safetensors'))));
    // every classifier weight that the detector has under the same name and shape, i.e. all but the classifier's
    const shared = [...source.weights()].filter(([name, t]) => {
      const mine = trained.model.weights().get(name);
      return mine !== undefined && mine.shape.join() === t.shape.join();
    });
    assert.ok(shared.length > 100, `${shared.length} shared weights`);
    assert.match(r.err, new RegExp(`copied ${shared.length} weights of its backbone`));
    assert.deepEqual(trained.model.inputShape, [64, 64, 1]);
    assert.equal(trained.model.metadata.alpha, source.metadata.alpha);
  });

  it('--classification softmax trains a softmax loss and writes a head that converts its scores with a softmax; the new head starts at the prior, trained by Adam at 0.001', async () => {
    const out = fresh();
    const r = await runCli(['train', '--data', data, '--out', out, '--task', 'detection', '--alpha', '0.35', '--resolution', '64', '--classification', 'softmax', '--epochs', '1', '--batch', '4', '--limit', '4']);
    assert.equal(r.code, 0, r.err);
    const trained = decodeModelFile(new Uint8Array(await readFile(join(out, 'model.safetensors'))));
    assert.equal(trained.model.metadata.detection?.scoreConversion, 'softmax');
    const training = trained.extra?.training as { detectionLoss?: unknown; optimizer: { kind: string }; schedule: { lr: number } };
    assert.deepEqual(training.detectionLoss, { classification: 'softmax' });
    // the detection defaults, and one Adam step of at most about 0.001 from the softmax prior: ln ¾, then ln ⅛ per class
    assert.equal(training.optimizer.kind, 'adam');
    assert.equal(training.schedule.lr, 0.001);
    const bias = trained.model.weights().get('class_predictor_1.bias')!.data;
    bias.forEach((b, i) => assert.ok(Math.abs(b - Math.log(i % 3 === 0 ? 3 / 4 : 1 / 8)) < 2e-3, `class_predictor_1.bias[${i}] ${b}`));
  });

  it('refuses other tasks\' flags, a classifier architecture and --classes that do not match the data, naming them', async () => {
    for (const [flags, message] of [
      [['--scale', '1,2'], /--scale applies to --task segmentation, not to --task detection/],
      [['--label-smoothing', '0.1'], /--label-smoothing applies to classification, not to --task detection/],
      [['--arch', 'mobilenet_v2'], /--task detection trains ssdlite_mobilenet_v2 or .* \(anchor scores and boxes\), not mobilenet_v2/],
      [['--classes', '5'], /--classes 5: the data in .* has 2 categories \(red, green\); leave --classes out/],
      [['--zoom-out', '0.5'], /--zoom-out/],
    ] as const) {
      const r = await runCli(['train', '--data', data, '--out', fresh(), '--task', 'detection', ...flags]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
    }
    const classifier = await runCli(['train', '--data', data, '--out', fresh(), '--iou-crop', 'off']);
    assert.match(classifier.err, /--iou-crop applies to --task detection, not to classification/);
    const detector = await runCli(['train', '--data', data, '--out', fresh(), '--arch', 'ssdlite_mobilenet_v2']);
    assert.match(detector.err, /--arch ssdlite_mobilenet_v2 is a detector: give --task detection and a COCO --data/);
  });
});
