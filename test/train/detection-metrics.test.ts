// Detection metrics against hand-worked precision/recall curves (exact AP values worked out below), against
// pycocotools 2.0.11 and the VOC devkit's algorithm on a random case (test/fixtures/detection/make_coco_eval.py),
// and evaluateDetector on a COCO folder with a detector whose outputs are set by hand (stretched and letterboxed).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Box } from '../../src/detect/types.js';
import { ConfigError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { readCocoFolder } from '../../src/node/coco-folder.js';
import { COCO_IOU_THRESHOLDS, DetectionMetrics, evaluateDetections, evaluateDetector, type ScoredObject, type TruthObject } from '../../src/train/detection-metrics.js';
import { constantDetector, DETECTOR_CASE, writeCocoFolder } from '../support/constant-detector.js';

const close = (actual: number | null, expected: number | null, what: string, tolerance = 1e-12): void => {
  if (expected === null || actual === null) return assert.equal(actual, expected, what);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
};

/**
 * Class 1 — three objects in two images, four detections by score:
 *   .9 exact on image 1's first object (IoU 1), .8 on image 2's object with IoU exactly 0.5 (100 / 200),
 *   .7 on nothing, .6 exact on image 1's second object.
 * IoU 0.5: TP TP FP TP → recall 1/3 2/3 2/3 1, precision 1 1 2/3 3/4, made monotone 1 1 3/4 3/4; the 101
 *   recall points 0..0.66 (67 of them) read 1, 0.67..1 (34) read 3/4: AP50 = (67 + 25.5) / 101 = 92.5 / 101.
 * IoU 0.55..0.95 (9 thresholds): TP FP FP TP → recall 1/3 1/3 1/3 2/3, precision 1 1/2 1/3 1/2 → 1 1/2 1/2 1/2;
 *   points 0..0.33 (34) read 1, 0.34..0.66 (33) read 1/2, the rest 0: AP = 50.5 / 101 = 1/2.
 *   AP@[.5:.95] = (92.5/101 + 9 · 1/2) / 10.
 * VOC (IoU > 0.5): TP FP FP TP → steps at recall 1/3 (precision 1) and 2/3 (monotone precision 1/2): AP = 1/3 + 1/6 = 1/2.
 *
 * Class 2 — on image 1, an object A [0, 0, 10, 10] and a crowd C [0, 20, 20, 60] (area 800); detections by score:
 *   .95 [0, 20, 20, 50]: inside C (crowd IoU 600/600 = 1): ignored; VOC IoU 600/800 = .75 > .5 with a "difficult": ignored.
 *   .9 [0, 35, 10, 45]: inside C: ignored (a crowd matches any number); VOC IoU 100/800: a false positive.
 *   .8 exactly A: TP.  .7 exactly A again: A is taken and C does not overlap: FP.
 * COCO: – – TP FP → recall 0 0 1 1, precision 0 0 1 1/2 → monotone 1 1 1 1/2: every point reads 1, AP = 1 at every IoU.
 * VOC: FP TP FP → recall 0 1 1, precision 0 1/2 1/3: AP = 1 · 1/2 = 1/2.
 *
 * Class 3 — a detection and no object: no AP, left out of the means.
 */
function handWorked(): Array<{ truth: TruthObject[]; detections: ScoredObject[] }> {
  return [
    {
      truth: [
        { class: 1, box: [0, 0, 10, 10] },
        { class: 1, box: [20, 20, 30, 30] },
        { class: 2, box: [0, 0, 10, 10] },
        { class: 2, box: [0, 20, 20, 60], crowd: true },
      ],
      detections: [
        { class: 2, score: 0.7, box: [0, 0, 10, 10] },
        { class: 1, score: 0.6, box: [20, 20, 30, 30] },
        { class: 1, score: 0.9, box: [0, 0, 10, 10] },
        { class: 2, score: 0.95, box: [0, 20, 20, 50] },
        { class: 1, score: 0.7, box: [50, 50, 60, 60] },
        { class: 2, score: 0.8, box: [0, 0, 10, 10] },
        { class: 3, score: 0.5, box: [0, 0, 5, 5] },
        { class: 2, score: 0.9, box: [0, 35, 10, 45] },
      ],
    },
    { truth: [{ class: 1, box: [0, 0, 10, 10] }], detections: [{ class: 1, score: 0.8, box: [0, 0, 10, 20] }] },
  ];
}

describe('detection metrics', () => {
  it('gives the hand-worked AP@[.5:.95], AP50, AP75 and VOC AP50 per class and their means over classes with ground truth', () => {
    const result = evaluateDetections(handWorked(), { labels: ['background', 'one', 'two', 'three'] });
    const class1 = { ap: (92.5 / 101 + 9 * 0.5) / 10, ap50: 92.5 / 101, ap75: 0.5, vocAp50: 0.5 };
    const class2 = { ap: 1, ap50: 1, ap75: 1, vocAp50: 0.5 };
    assert.deepEqual(result.perClass.map((c) => [c.class, c.label, c.truth, c.detections]), [[1, 'one', 3, 4], [2, 'two', 1, 4], [3, 'three', 0, 1]]);
    for (const [k, expected] of [class1, class2].entries()) {
      for (const key of ['ap', 'ap50', 'ap75', 'vocAp50'] as const) close(result.perClass[k][key], expected[key], `class ${k + 1} ${key}`);
    }
    assert.deepEqual([result.perClass[2].ap, result.perClass[2].ap50, result.perClass[2].vocAp50], [null, null, null]);
    close(result.map, (class1.ap + 1) / 2, 'map');
    close(result.ap50, (class1.ap50 + 1) / 2, 'ap50');
    close(result.ap75, 0.75, 'ap75');
    close(result.vocAp50, 0.5, 'vocAp50');
    assert.equal(result.images, 2);
  });

  it('counts the best maxDetections per image and class, accumulates image by image, and reports only the given classes', () => {
    // FP .9, FP .8, TP .7: with all three, recall reaches 1 at precision 1/3 (every point reads 1/3); with two, never
    const image = {
      truth: [{ class: 4, box: [0, 0, 4, 4] as Box }],
      detections: [0.7, 0.9, 0.8].map((score) => ({ class: 4, score, box: (score === 0.7 ? [0, 0, 4, 4] : [10, 10, 12, 12]) as Box })),
    };
    close(evaluateDetections([image]).map, 1 / 3, 'all three');
    close(evaluateDetections([image], { maxDetections: 2 }).map, 0, 'best two');
    const metrics = new DetectionMetrics({ classes: [1, 5] });
    for (const { truth, detections } of handWorked()) metrics.add(truth, detections);
    const only = metrics.result();
    assert.deepEqual(only.perClass.map((c) => [c.class, c.ap === null]), [[1, false], [5, true]]);
    close(only.map, (92.5 / 101 + 4.5) / 10, 'class 1 alone');
    assert.throws(() => evaluateDetections([{ truth: [{ class: 1, box: [0, 0, 1, 1], crowd: true }], detections: [] }]), (e: unknown) => e instanceof ConfigError && /no class has ground truth in 1 images/.test(e.message));
    assert.throws(() => new DetectionMetrics({ maxDetections: 0 }), ConfigError);
  });

  it('uses pycocotools\' IoU thresholds (numpy linspace, 0.8999999999999999 included)', () => {
    assert.deepEqual(COCO_IOU_THRESHOLDS, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
  });

  it('equals pycocotools and the VOC devkit on a random case: crowds, score ties, a class without objects, 120 detections in an image', () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'detection', 'coco-eval-random.json'), 'utf8')) as {
      groundTruth: { images: Array<{ id: number }>; annotations: Array<{ image_id: number; category_id: number; bbox: number[]; iscrowd: number }>; categories: Array<{ id: number }> };
      detections: Array<{ image_id: number; category_id: number; bbox: number[]; score: number }>;
      pycocotools: { map: number; ap50: number; ap75: number; perClass: Record<string, { ap: number | null; ap50: number | null; ap75: number | null; vocAp50: number | null }> };
    };
    const corners = ([x, y, w, h]: number[]): Box => [y, x, y + h, x + w];
    const images = fixture.groundTruth.images.map(({ id }) => ({
      truth: fixture.groundTruth.annotations.filter((a) => a.image_id === id).map((a) => ({ class: a.category_id, box: corners(a.bbox), crowd: a.iscrowd === 1 })),
      detections: fixture.detections.filter((d) => d.image_id === id).map((d) => ({ class: d.category_id, score: d.score, box: corners(d.bbox) })),
    }));
    const result = evaluateDetections(images, { classes: fixture.groundTruth.categories.map((c) => c.id) });
    const reference = fixture.pycocotools;
    close(result.map, reference.map, 'map');
    close(result.ap50, reference.ap50, 'ap50');
    close(result.ap75, reference.ap75, 'ap75');
    for (const c of result.perClass) {
      for (const key of ['ap', 'ap50', 'ap75', 'vocAp50'] as const) close(c[key], reference.perClass[String(c.class)][key], `class ${c.class} ${key}`);
    }
  });
});

describe('evaluateDetector', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evaluate-detector-'));
    await writeCocoFolder(dir, DETECTOR_CASE.images, DETECTOR_CASE.categories);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('runs a detector over a COCO folder and scores its detections in each image\'s pixels (stretched and letterboxed)', async () => {
    const { model, head } = constantDetector(DETECTOR_CASE.size, DETECTOR_CASE.logits, DETECTOR_CASE.anchors);
    const data = await readCocoFolder(dir);
    const detector = { inputShape: model.inputShape, head, predictOutputs: (x: Tensor) => model.predictOutputs(x) };
    for (const [letterbox, expected] of [[false, DETECTOR_CASE.stretched], [true, DETECTOR_CASE.letterboxed]] as const) {
      const seen: number[] = [];
      const result = await evaluateDetector(detector, data, { preprocessing: { fit: letterbox ? 'letterbox' : 'bilinear' }, batchSize: 1, onBatch: (n) => seen.push(n) });
      for (const key of ['map', 'ap50', 'ap75', 'vocAp50'] as const) close(result[key], expected[key], `${letterbox ? 'letterboxed' : 'stretched'} ${key}`);
      assert.deepEqual(seen, [1, 2]);
      assert.deepEqual(result.perClass.map((c) => [c.label, c.truth, c.detections]), [['one', 2, 2], ['two', 2, 2]]);
    }
    // two boxes of class 1 with IoU .355/.645 ≈ .55: both kept at the evaluation's NMS IoU 0.6, one where the head's makers suppress at 0.5
    const pair = constantDetector(DETECTOR_CASE.size, [[0, 2, -10], [0, 1, -10]], [[0.5, 0.5, 0.5, 0.5], [0.5, 0.645, 0.5, 0.5]]);
    const run = (defaults: object) => evaluateDetector({ inputShape: pair.model.inputShape, head: { ...pair.head, defaults }, predictOutputs: (x) => pair.model.predictOutputs(x) }, data);
    assert.deepEqual([(await run({})).perClass[0].detections, (await run({ iouThreshold: 0.5, scoreThreshold: 0.9 })).perClass[0].detections], [4, 2]);
    const narrow = constantDetector(DETECTOR_CASE.size, [[0, 2], [0, -10]], DETECTOR_CASE.anchors);
    await assert.rejects(evaluateDetector({ inputShape: narrow.model.inputShape, head: narrow.head, predictOutputs: (x) => narrow.model.predictOutputs(x) }, data), (e: unknown) => e instanceof ConfigError && /category 2 \(two\) maps to class 2, but the detector scores classes 1\.\.1/.test(e.message));
  });
});
