// Post-processing against the golden SSDLite case (numpy's TF-style post-processing of the same raw outputs)
// and hand-worked cases: softmax, sigmoid at the threshold, clipping, class-agnostic NMS, caps, typed errors.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { postprocess, postprocessAsync } from '../../src/detect/postprocess.js';
import type { Detection, DetectionHead } from '../../src/detect/types.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../support/helpers.js';

const CASE = join(FIXTURES, 'golden/apps/ssdlite_mnv2_a050_r160_k5_b2');
const npy = (name: string): Tensor => decodeNpy(readFileSync(join(CASE, name)), name);
const golden = JSON.parse(readFileSync(join(CASE, 'detections.json'), 'utf8')) as {
  postprocess: { score_threshold: number; iou_threshold: number; per_class: number; total: number };
  images: Detection[][];
};
const goldenHead: DetectionHead = { anchors: npy('anchors.npy').data, scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } };
const goldenOptions = { scoreThreshold: golden.postprocess.score_threshold, iouThreshold: golden.postprocess.iou_threshold, maxPerClass: golden.postprocess.per_class, maxDetections: golden.postprocess.total };

function assertMatchesGolden(actual: Detection[][]): void {
  assert.equal(actual.length, golden.images.length, 'images');
  golden.images.forEach((expected, n) => {
    assert.equal(actual[n].length, expected.length, `image ${n}: detection count`);
    expected.forEach((e, i) => {
      const a = actual[n][i];
      assert.deepEqual([a.class, a.anchor], [e.class, e.anchor], `image ${n} detection ${i}: class and anchor`);
      assert.ok(Math.abs(a.score - e.score) <= 1e-5, `image ${n} detection ${i}: score ${a.score} vs ${e.score}`);
      e.box.forEach((v, j) => assert.ok(Math.abs(a.box[j] - v) <= 1e-5, `image ${n} detection ${i}: box[${j}] ${a.box[j]} vs ${v}`));
    });
  });
}

/** A head over hand-made corner boxes, so expected detections can be worked out without decoding. */
function cornersHead(anchorCount: number, scoreConversion: DetectionHead['scoreConversion'], background: boolean): DetectionHead {
  return { anchors: new Float32Array(anchorCount * 4), scaleFactors: [10, 10, 5, 5], scoreConversion, background, outputs: { scores: 'scores', boxes: 'boxes' }, boxFormat: 'corners' };
}

describe('postprocess', () => {
  test('the golden raw scores and boxes give the golden detections.json (classes, order, scores, boxes)', () => {
    assertMatchesGolden(postprocess(npy('scores.npy'), npy('boxes.npy'), goldenHead, goldenOptions));
  });

  test('postprocessAsync gives the same detections and lets timers run between slices', async () => {
    let timerRan = false;
    setTimeout(() => (timerRan = true), 0);
    assertMatchesGolden(await postprocessAsync(npy('scores.npy'), npy('boxes.npy'), goldenHead, goldenOptions, { sliceMs: 0 }));
    assert.ok(timerRan, 'the event loop ran while post-processing');
    await assert.rejects(postprocessAsync(npy('scores.npy'), npy('boxes.npy'), goldenHead, goldenOptions, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  test('softmax over the slots, background dropped, sorted by score (hand-worked)', () => {
    // logits (0, ln 2, ln 3) → softmax (1/6, 2/6, 3/6); slot 0 is background.
    const scores = new Tensor([1, 3], new Float32Array([0, Math.log(2), Math.log(3)]));
    const boxes = new Tensor([1, 4], new Float32Array([0.1, 0.2, 0.3, 0.4]));
    const [found] = postprocess(scores, boxes, cornersHead(1, 'softmax', true), { scoreThreshold: 0.3, labels: ['background', 'cat', 'dog'] });
    assert.deepEqual(found.map((d) => [d.class, d.label, d.anchor]), [[2, 'dog', 0], [1, 'cat', 0]]);
    assert.ok(Math.abs(found[0].score - 0.5) < 1e-6 && Math.abs(found[1].score - 1 / 3) < 1e-6);
    assert.ok(found[0].box.every((v, j) => Math.abs(v - [0.1, 0.2, 0.3, 0.4][j]) < 1e-6));
  });

  test('sigmoid: a score exactly at the threshold is kept; boxes are clipped to [0, 1]', () => {
    const scores = new Tensor([2, 1], new Float32Array([0, -0.01])); // sigmoid 0.5 and just below
    const boxes = new Tensor([2, 4], new Float32Array([-0.1, 0.2, 0.5, 1.3, 0.6, 0.6, 0.9, 0.9]));
    const [found] = postprocess(scores, boxes, cornersHead(2, 'sigmoid', false), { scoreThreshold: 0.5 });
    assert.deepEqual(found, [{ class: 0, score: 0.5, box: [0, Math.fround(0.2), Math.fround(0.5), 1], anchor: 0 }]);
  });

  test('per-class NMS keeps overlapping boxes of different classes; class-agnostic keeps one', () => {
    // Two anchors on the same box: anchor 0 is class 1 (0.9), anchor 1 is class 2 (0.8); identity scores.
    const scores = new Tensor([2, 3], new Float32Array([0, 0.9, 0.1, 0, 0.2, 0.8]));
    const boxes = new Tensor([2, 4], new Float32Array([0.1, 0.1, 0.5, 0.5, 0.1, 0.1, 0.5, 0.5]));
    const head = cornersHead(2, 'identity', true);
    const perClass = postprocess(scores, boxes, head, { scoreThreshold: 0.15 })[0];
    // class 1: anchor 1 (0.2) sits on anchor 0's box and goes; class 2: anchor 0 (0.1) is under the threshold
    assert.deepEqual(perClass.map((d) => [d.class, d.anchor, d.score]), [[1, 0, Math.fround(0.9)], [2, 1, Math.fround(0.8)]]);
    const agnostic = postprocess(scores, boxes, head, { scoreThreshold: 0.15, classAgnostic: true })[0];
    assert.deepEqual(agnostic.map((d) => [d.class, d.anchor]), [[1, 0]]);
  });

  test('clipping before NMS (TF) or after it (face-api) decides what overlaps (hand-worked)', () => {
    // A = [−0.5, 0, 0.5, 1] clips onto B = [0, 0, 0.5, 1]: IoU 1 once clipped, 0.5 / 1 = 0.5 as decoded.
    const scores = new Tensor([2, 1], new Float32Array([0.9, 0.8]));
    const boxes = new Tensor([2, 4], new Float32Array([-0.5, 0, 0.5, 1, 0, 0, 0.5, 1]));
    const head = cornersHead(2, 'identity', false);
    const before = postprocess(scores, boxes, head, { scoreThreshold: 0.1, iouThreshold: 0.6 })[0];
    assert.deepEqual(before.map((d) => [d.anchor, d.box]), [[0, [0, 0, 0.5, 1]]]);
    const after = postprocess(scores, boxes, head, { scoreThreshold: 0.1, iouThreshold: 0.6, clipBoxes: 'after-nms' })[0];
    assert.deepEqual(after.map((d) => [d.anchor, d.box]), [[0, [0, 0, 0.5, 1]], [1, [0, 0, 0.5, 1]]]);
  });

  test('per-class and total caps', () => {
    // Four disjoint boxes, two classes with identity scores.
    const scores = new Tensor([4, 2], new Float32Array([0.9, 0.2, 0.8, 0.7, 0.6, 0.95, 0.5, 0.4]));
    const boxes = new Tensor([4, 4], new Float32Array([0, 0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.6, 0.6, 0.7, 0.7]));
    const head = cornersHead(4, 'identity', false);
    const capped = postprocess(scores, boxes, head, { scoreThreshold: 0.3, maxPerClass: 2 })[0];
    assert.deepEqual(capped.map((d) => [d.class, d.anchor]), [[1, 2], [0, 0], [0, 1], [1, 1]]);
    const total = postprocess(scores, boxes, head, { scoreThreshold: 0.3, maxDetections: 3 })[0];
    assert.deepEqual(total.map((d) => [d.class, d.anchor]), [[1, 2], [0, 0], [0, 1]]);
  });

  test('thresholds outside [0, 1], negative caps and shapes that disagree with the anchors are typed errors', () => {
    const scores = npy('scores.npy');
    const boxes = npy('boxes.npy');
    assert.throws(() => postprocess(scores, boxes, goldenHead, { scoreThreshold: 1.5 }), (e) => e instanceof ConfigError && /scoreThreshold/.test(e.message) && /1\.5/.test(e.message));
    assert.throws(() => postprocess(scores, boxes, goldenHead, { iouThreshold: -0.1 }), (e) => e instanceof ConfigError && /iouThreshold/.test(e.message));
    assert.throws(() => postprocess(scores, boxes, goldenHead, { maxPerClass: -1 }), (e) => e instanceof ConfigError && /maxPerClass/.test(e.message));
    assert.throws(() => postprocess(scores, boxes, goldenHead, { clipBoxes: 'never' as 'after-nms' }), (e) => e instanceof ConfigError && /clipBoxes/.test(e.message));
    assert.throws(() => postprocess(new Tensor([2, 539, 6]), boxes, goldenHead), (e) => e instanceof ShapeError && /"scores"/.test(e.message) && /\[2, 539, 6\]/.test(e.message) && /540/.test(e.message));
    assert.throws(() => postprocess(scores, new Tensor([1, 540, 4]), goldenHead), (e) => e instanceof ShapeError && /"boxes"/.test(e.message) && /\[1, 540, 4\]/.test(e.message));
    assert.throws(() => postprocess(new Tensor([2, 540, 1]), boxes, goldenHead), (e) => e instanceof ShapeError && /classes \+ 1/.test(e.message));
  });
});
