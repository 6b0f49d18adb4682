// `mobilenet eval --task detection` end to end: a detector whose outputs are set by hand, saved as a model file, on
// a COCO folder with known boxes gives the hand-worked mAP, AP50, AP75 and VOC AP50 (stretched and letterboxed);
// a tiny ssdLite on make-scenes data gives the JSON's shape; missing or wrong models are refused by name.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { bundledDetectorPath } from '../../src/cli/eval.js';
import { FASHION_SCENE_CLASSES } from '../../src/data/label-maps.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { encodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ssdLite } from '../../src/models/ssd.js';
import { constantDetector, DETECTOR_CASE, writeCocoFolder } from '../support/constant-detector.js';
import { runCli } from '../support/helpers.js';

let dir = '';
let coco = '';
let detectorFile = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eval-detection-'));
  coco = join(dir, 'coco');
  await writeCocoFolder(coco, DETECTOR_CASE.images, DETECTOR_CASE.categories);
  const { model, head } = constantDetector(DETECTOR_CASE.size, DETECTOR_CASE.logits, DETECTOR_CASE.anchors);
  model.metadata.detection = head;
  detectorFile = join(dir, 'constant.safetensors');
  await writeFile(detectorFile, encodeModelFile(model, { classNames: ['background', ...DETECTOR_CASE.categories] }));
});
after(() => rm(dir, { recursive: true, force: true }));

interface EvalJson {
  map: number;
  ap50: number;
  ap75: number;
  vocAp50: number;
  images: number;
  split: string;
  perClass: Array<{ class: number; categoryId: number; label: string; ap: number | null; ap50: number | null; ap75: number | null; vocAp50: number | null; truth: number; detections: number }>;
}

const near = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

describe('mobilenet eval --task detection', () => {
  it('gives the hand-worked AP of a detector whose outputs are known, stretched, --letterbox or letterboxed by its file, as JSON and as a table', async () => {
    const { model, head } = constantDetector(DETECTOR_CASE.size, DETECTOR_CASE.logits, DETECTOR_CASE.anchors);
    model.metadata.detection = head;
    const letterboxFile = join(dir, 'letterbox.safetensors');
    await writeFile(letterboxFile, encodeModelFile(model, { classNames: ['background', ...DETECTOR_CASE.categories], preprocessing: { fit: 'letterbox', pixels: 'symmetric' } }));
    const runs = [[detectorFile, [], DETECTOR_CASE.stretched], [detectorFile, ['--letterbox'], DETECTOR_CASE.letterboxed], [letterboxFile, [], DETECTOR_CASE.letterboxed]] as const;
    for (const [file, flags, expected] of runs) {
      const r = await runCli('eval', '--task', 'detection', '--model', file, '--data', coco, '--json', ...flags);
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out) as EvalJson;
      for (const key of ['map', 'ap50', 'ap75', 'vocAp50'] as const) near(result[key], expected[key], `${file} ${flags.join(' ')} ${key}`);
      assert.equal(result.images, 2);
      assert.deepEqual(result.perClass.map((c) => [c.class, c.categoryId, c.label, c.truth, c.detections]), [[1, 1, 'one', 2, 2], [2, 2, 'two', 2, 2]]);
      near(result.perClass[1].ap!, 51 / 101, 'class two');
    }
    const table = await runCli('eval', '--task', 'detection', '--model', detectorFile, '--data', coco);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /on .*coco \(val, 2 images, 32×32\): mAP@\[\.5:\.95\] 45\.25%, AP50 75\.25%, AP75 25\.25%, VOC AP50 75\.00%/);
    assert.match(table.out, /\n\s+1 one\s+2\s+40\.00%\s+100\.00%\s+0\.00%\s+100\.00%\n\s+2 two\s+2\s+50\.50%\s+50\.50%\s+50\.50%\s+50\.00%/);
    assert.match(table.err, /has no ImageSets\/Segmentation\/val\.txt: every image of annotations\.json is read/);
  });

  it('takes --anchors for a graph without a head, and maps category ids to classes when the model has a class per id', async () => {
    const { model } = constantDetector(DETECTOR_CASE.size, DETECTOR_CASE.logits, DETECTOR_CASE.anchors);
    const bare = join(dir, 'bare.safetensors');
    await writeFile(bare, encodeModelFile(model));
    const anchors = join(dir, 'anchors.npy');
    await writeFile(anchors, encodeNpy(new Tensor([2, 4], Float32Array.from(DETECTOR_CASE.anchors.flat()))));
    // only category 2, the second of the model's 2 classes: by id it is class 2 (found: AP 51/101); by order it would be class 1 (AP 0)
    const only2 = join(dir, 'only2');
    await writeCocoFolder(only2, DETECTOR_CASE.images.map((i) => ({ ...i, objects: i.objects.filter(([c]) => c === 2) })), DETECTOR_CASE.categories);
    const json = JSON.parse(await readFile(join(only2, 'annotations.json'), 'utf8')) as { categories: unknown[] };
    await writeFile(join(only2, 'annotations.json'), JSON.stringify({ ...json, categories: [{ id: 2, name: 'two' }] }));
    const r = await runCli('eval', '--task', 'detection', '--model', bare, '--anchors', anchors, '--data', only2, '--json');
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as EvalJson;
    assert.deepEqual(result.perClass.map((c) => [c.class, c.categoryId, c.label]), [[2, 2, 'two']]);
    near(result.map, 51 / 101, 'map');
    assert.match(r.err, /1 categories with ids up to 2 for 2 classes: category id = class/);
    const none = await runCli('eval', '--task', 'detection', '--model', bare, '--data', only2);
    assert.match(none.err, /bare\.safetensors is not a detector \(no detection head.*or --anchors/);
  });

  it('runs a tiny ssdLite on make-scenes data: one entry per scene class, numbers in [0, 1]', async () => {
    const scenes = join(dir, 'scenes');
    const made = await runCli('make-scenes', '--out', scenes, '--images', '3', '--size', '48', '--split', 'test');
    assert.equal(made.code, 0, made.err);
    const model = ssdLite({ alpha: 0.35, resolution: 64, classes: 10 });
    const file = join(dir, 'ssdlite.safetensors');
    await writeFile(file, encodeModelFile(model, { classNames: [...FASHION_SCENE_CLASSES] }));
    const r = await runCli('eval', '--task', 'detection', '--model', file, '--data', scenes, '--json');
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as EvalJson;
    assert.deepEqual([result.images, result.split, result.perClass.map((c) => c.class)], [3, 'val', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
    assert.deepEqual(result.perClass.map((c) => c.label), FASHION_SCENE_CLASSES.slice(1));
    for (const v of [result.map, result.ap50, result.ap75, result.vocAp50, ...result.perClass.flatMap((c) => [c.ap, c.ap50, c.vocAp50])]) assert.ok(v === null || (v >= 0 && v <= 1), String(v));
    assert.ok(result.perClass.some((c) => c.ap !== null) && result.perClass.every((c) => (c.ap === null) === (c.truth === 0)));
  });

  it('refuses a model that is not a detector, a missing bundled detector, and --letterbox without detection', async () => {
    const classifier = await runCli('eval', '--task', 'detection', '--model', join(import.meta.dirname, '..', '..', 'models', 'fashion-mnist.safetensors'), '--data', coco);
    assert.notEqual(classifier.code, 0);
    assert.match(classifier.err, /fashion-mnist\.safetensors is not a detector \(no detection head/);
    const letterbox = await runCli('eval', '--letterbox', '--data', coco);
    assert.match(letterbox.err, /--letterbox applies to --task detection/);
    const anchors = await runCli('eval', '--task', 'segmentation', '--anchors', 'ssd-tf', '--data', coco);
    assert.match(anchors.err, /--anchors applies to --task detection/);
  });

  it('without --model, says the bundled detector is missing', { skip: existsSync(bundledDetectorPath()) ? 'the bundled detector exists: the test above covers eval on a detector file' : false }, async () => {
    const r = await runCli('eval', '--task', 'detection', '--data', coco);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /no --model given and the bundled detector .*scenes-ssdlite\.safetensors does not exist \(yet\)/);
  });
});
