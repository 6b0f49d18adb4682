// Segmentation metrics against hand-worked confusion matrices: per-class IoU, mIoU by VOC's convention (classes
// with an empty union left out), pixel accuracy, ignored pixels skipped, batch-by-batch accumulation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, ShapeError } from '../../src/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { SegmentationMetrics } from '../../src/train/segmentation-metrics.js';

// two 2×2 images; image 0's last pixel is void (255)
const TRUTH = [0, 0, 1, 255, 2, 2, 1, 0];
const PREDICTED = [0, 1, 1, 2, 2, 0, 1, 0];
// by hand, rows true, columns predicted: class 0 → 0 twice, → 1 once; class 1 → 1 twice; class 2 → 2 once, → 0 once
const CONFUSION = [
  [2, 1, 0],
  [0, 2, 0],
  [1, 0, 1],
];

const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

describe('SegmentationMetrics', () => {
  it('counts the confusion matrix, IoU per class, mIoU and pixel accuracy (worked by hand)', () => {
    const m = new SegmentationMetrics(3);
    m.addPredictions(PREDICTED, TRUTH, [2, 2]);
    const r = m.result();
    assert.deepEqual(r.confusion, CONFUSION);
    // IoU = TP / (row + column − TP): 2/(3+3−2), 2/(2+3−2), 1/(2+1−1)
    assert.deepEqual(r.perClassIou, [0.5, 2 / 3, 0.5]);
    near(r.miou, 5 / 9, 'mIoU');
    near(r.pixelAccuracy, 5 / 7, 'pixel accuracy');
    assert.equal(r.pixels, 7);
    assert.equal(r.images, 2);
  });

  it('leaves classes in neither the truth nor the predictions out of the mean (VOC), reporting their IoU as null', () => {
    const m = new SegmentationMetrics(4);
    m.addPredictions(PREDICTED, TRUTH, [2, 2]);
    const r = m.result();
    assert.deepEqual(r.perClassIou, [0.5, 2 / 3, 0.5, null]);
    near(r.miou, 5 / 9, 'mIoU');
  });

  it('a class predicted but never true has IoU 0 and counts in the mean', () => {
    const m = new SegmentationMetrics(4);
    m.addPredictions([3, 0], [0, 0], [1, 2]);
    const r = m.result();
    // class 0: TP 1, union 2; class 3: TP 0, union 1
    assert.deepEqual(r.perClassIou, [0.5, null, null, 0]);
    near(r.miou, 0.25, 'mIoU');
  });

  it('accumulates batch by batch to the same result as one batch', () => {
    const m = new SegmentationMetrics(3);
    m.addPredictions(PREDICTED.slice(0, 4), TRUTH.slice(0, 4), [2, 2]);
    m.addPredictions(PREDICTED.slice(4), TRUTH.slice(4), [2, 2]);
    assert.deepEqual(m.result().confusion, CONFUSION);
    assert.equal(m.result().images, 2);
  });

  it('from logits: the argmax per pixel (the first class on a tie) and the mean cross-entropy over counted pixels', () => {
    const m = new SegmentationMetrics(2);
    // pixel 0: (0, 0) labelled 0 (tie → 0, loss ln 2); pixel 1: (ln 3, 0) labelled 1 (→ 0, loss ln 4); pixel 2 void
    m.addLogits(new Tensor([1, 1, 3, 2], Float32Array.from([0, 0, Math.log(3), 0, 9, 9])), [0, 1, 255]);
    const r = m.result();
    assert.deepEqual(r.confusion, [[1, 0], [1, 0]]);
    assert.deepEqual(r.perClassIou, [0.5, 0]);
    near(r.miou, 0.25, 'mIoU');
    near(r.pixelAccuracy, 0.5, 'pixel accuracy');
    assert.ok(Math.abs(r.loss - 1.5 * Math.log(2)) < 1e-7, `loss ${r.loss}`);
  });

  it('reports zeros, not NaN, when nothing counted', () => {
    const m = new SegmentationMetrics(2);
    m.addPredictions([0], [255], [1, 1]);
    assert.deepEqual({ ...m.result(), confusion: undefined }, { miou: 0, perClassIou: [null, null], pixelAccuracy: 0, loss: 0, images: 1, pixels: 0, confusion: undefined });
  });

  it('refuses labels outside the classes and mismatched sizes, naming the pixel', () => {
    const m = new SegmentationMetrics(3);
    assert.throws(() => m.addPredictions([0, 0], [0, 7], [1, 2]), (e: Error) => e instanceof ConfigError && /mask: label 7 at sample 0, pixel \(y 0, x 1\)/.test(e.message));
    assert.throws(() => m.addPredictions([0, 3], [0, 1], [1, 2]), (e: Error) => e instanceof ConfigError && /prediction: label 3/.test(e.message));
    assert.throws(() => m.addPredictions([0], [0, 1], [1, 2]), ShapeError);
    assert.throws(() => m.addLogits(new Tensor([1, 1, 2, 2]), [0, 1]), (e: Error) => e instanceof ShapeError && /\[N, H, W, 3\]/.test(e.message));
  });
});
