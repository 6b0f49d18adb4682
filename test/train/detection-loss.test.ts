// The SSD loss against hand-worked values (softmax and sigmoid, hard negative mining 1:1 and its per-image minimum,
// normalisation by matches over the batch) and its gradients w.r.t. scores and box codes against central differences.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, ShapeError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { detectionLoss, smoothL1 } from '../../src/train/detection-loss.js';
import type { DetectionLossOptions } from '../../src/train/detection-loss.js';
import type { DetectionTargets } from '../../src/train/detection-targets.js';
import { assertGradient, numericGradient } from '../support/gradient-check.js';

const LN2 = Math.log(2);
const LN3 = Math.log(3);
const LN4 = Math.log(4);

/**
 * One image, five anchors, slots [background, 1, 2]: anchor 0 learns class 1, anchors 1–3 background, anchor 4 is
 * ignored (its big scores must not count). Softmax losses: anchor 0 ln 3, anchor 1 ln 3, anchor 2 ln(e + 2) − 1,
 * anchor 3 ln 4. Anchor 0's box codes miss by (0.5, −2, 0, −0.5): smooth-L1 0.125 + 1.5 + 0 + 0.125 = 1.75.
 */
const SCORES = new Tensor([1, 5, 3], Float32Array.from([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, LN2, 0, 5, -5, 9]));
const BOXES = new Tensor([1, 5, 4], Float32Array.from([0.5, -2, 0, 0.1, ...new Array<number>(16).fill(7)]));
const TARGETS: DetectionTargets = { classes: Int32Array.from([1, 0, 0, 0, -1]), boxCodes: Float32Array.from([0, 0, 0, 0.6, ...new Array<number>(16).fill(0)]), matches: 1 };

const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);

describe('detection loss', () => {
  it('smooth L1 is ½d² inside ±1 and |d| − ½ outside', () => {
    assert.deepEqual([0.5, -2, 0, 1, -0.5].map(smoothL1), [0.125, 1.5, 0, 0.5, 0.125]);
  });

  it('softmax, 1:1 mining: the positive, its worst negative (anchor 3, ln 4) and the box term, over one match', () => {
    const r = detectionLoss(SCORES, BOXES, [TARGETS], { classification: 'softmax', negativesPerPositive: 1, minNegatives: 0 });
    close(r.classLoss, LN3 + LN4, 'class loss');
    close(r.boxLoss, 1.75, 'box loss');
    close(r.loss, LN3 + LN4 + 1.75, 'loss');
    assert.equal(r.matches, 1);
    assert.equal(r.correct, 0); // anchor 0's scores tie: argmax is slot 0, not its class
    // the gradient: softmax − one-hot on the chosen anchors, zero on the unchosen and the ignored
    const g = [...r.scores.data];
    [1 / 3, -2 / 3, 1 / 3].forEach((v, k) => close(g[k], v, `dscore 0.${k}`));
    assert.deepEqual(g.slice(3, 9), [0, 0, 0, 0, 0, 0]);
    [0.25 - 1, 0.5, 0.25].forEach((v, k) => close(g[9 + k], v, `dscore 3.${k}`));
    assert.deepEqual(g.slice(12), [0, 0, 0]);
    assert.deepEqual([...r.boxes.data.slice(0, 4)].map((v) => Math.round(v * 1e6) / 1e6), [0.5, -1, 0, -0.5]);
    assert.ok(r.boxes.data.slice(4).every((v) => v === 0));
  });

  it('softmax, at least three negatives per image: anchors 1 and 2 join', () => {
    const r = detectionLoss(SCORES, BOXES, [TARGETS], { classification: 'softmax', negativesPerPositive: 1, minNegatives: 3 });
    close(r.classLoss, LN3 + LN4 + LN3 + Math.log(Math.E + 2) - 1, 'class loss');
  });

  it('sigmoid: Σ softplus − the target logit per anchor; worst negative anchor 3 (ln 2 + ln 3 + ln 2)', () => {
    const r = detectionLoss(SCORES, BOXES, [TARGETS], { classification: 'sigmoid', negativesPerPositive: 1, minNegatives: 0 });
    close(r.classLoss, 3 * LN2 + (2 * LN2 + LN3), 'class loss');
    close(r.loss, 3 * LN2 + 2 * LN2 + LN3 + 1.75, 'loss');
    [0.5, -0.5, 0.5].forEach((v, k) => close(r.scores.data[k], v, `dscore 0.${k}`));
    [-0.5, 2 / 3, 0.5].forEach((v, k) => close(r.scores.data[9 + k], v, `dscore 3.${k}`));
  });

  it('a batch normalises by its matches: an image with no objects adds its minimum of negatives; boxWeight scales the box term', () => {
    const empty: DetectionTargets = { classes: Int32Array.from([0, 0, 0, 0, 0]), boxCodes: new Float32Array(20), matches: 0 };
    const scores = new Tensor([2, 5, 3], Float32Array.from([...SCORES.data, ...SCORES.data]));
    const boxes = new Tensor([2, 5, 4], Float32Array.from([...BOXES.data, ...BOXES.data]));
    const r = detectionLoss(scores, boxes, [TARGETS, TARGETS], { classification: 'softmax', negativesPerPositive: 1, minNegatives: 0 });
    close(r.loss, LN3 + LN4 + 1.75, 'two identical images: the same mean');
    const s = detectionLoss(scores, boxes, [TARGETS, empty], { classification: 'softmax', negativesPerPositive: 1, minNegatives: 1, boxWeight: 2 });
    // image 2's worst of five negatives: the ignored-no-more anchor 4 ([5, −5, 9]: logsumexp − 5)
    const anchor4 = Math.log(Math.exp(5) + Math.exp(-5) + Math.exp(9)) - 5;
    close(s.loss, LN3 + LN4 + anchor4 + 2 * 1.75, 'loss');
    assert.equal(s.matches, 1);
    const none = detectionLoss(scores, boxes, [empty, empty], { classification: 'softmax', minNegatives: 1 });
    close(none.loss, 2 * anchor4, 'no matches: divided by 1');
  });

  for (const classification of ['softmax', 'sigmoid'] as const) {
    it(`${classification}: the gradients w.r.t. scores and box codes equal central differences`, () => {
      const [n, anchors, slots] = [2, 12, 4];
      const random = new Random(11);
      // multiples of 2⁻¹², nudged by 2⁻¹²: float32 holds every value exactly, so the differences are exact
      const grid = (v: number): number => Math.round(v * 4096) / 4096;
      const scores = new Tensor([n, anchors, slots], Float32Array.from({ length: n * anchors * slots }, () => grid(4 * random.uniform() - 2)));
      const boxes = new Tensor([n, anchors, 4], Float32Array.from({ length: n * anchors * 4 }, () => grid(6 * random.uniform() - 3)));
      const targets = Array.from({ length: n }, (): DetectionTargets => {
        const classes = Int32Array.from({ length: anchors }, () => [0, 0, 0, 0, 1, 2, 3, -1][Math.floor(random.uniform() * 8)]);
        const boxCodes = Float32Array.from({ length: anchors * 4 }, () => grid(2 * random.uniform() - 1));
        return { classes, boxCodes, matches: classes.filter((c) => c > 0).length };
      });
      const options: DetectionLossOptions = { classification, negativesPerPositive: 1, minNegatives: 2 };
      const result = detectionLoss(scores, boxes, targets, options);
      // no box code sits within a nudge of smooth-L1's kink at |d| = 1
      boxes.data.forEach((v, i) => {
        const d = Math.abs(v - targets[Math.floor(i / (anchors * 4))].boxCodes[i % (anchors * 4)]);
        assert.ok(Math.abs(d - 1) > 1e-3, `box value ${i} is at the kink`);
      });
      const loss = (): number => detectionLoss(scores, boxes, targets, options).loss;
      const eps = 2 ** -12;
      assertGradient(result.scores, numericGradient(loss, scores.data, eps), 'dLoss/dScores', 1e-4);
      assertGradient(result.boxes, numericGradient(loss, boxes.data, eps), 'dLoss/dBoxes', 1e-4);
      assert.ok(result.scores.data.some((v, i) => v !== 0 && targets[Math.floor(i / (anchors * slots))].classes[Math.floor((i % (anchors * slots)) / slots)] === 0), 'some negative was mined');
    });
  }

  it('refuses outputs and targets that do not fit, and bad options', () => {
    assert.throws(() => detectionLoss(SCORES, new Tensor([1, 4, 4]), [TARGETS]), (e: unknown) => e instanceof ShapeError && /boxes must be \[1, 5, 4\]/.test(e.message));
    assert.throws(() => detectionLoss(SCORES, BOXES, []), (e: unknown) => e instanceof ShapeError && /0 images' targets for a batch of 1/.test(e.message));
    const far = { ...TARGETS, classes: Int32Array.from([3, 0, 0, 0, 0]) };
    assert.throws(() => detectionLoss(SCORES, BOXES, [far]), (e: unknown) => e instanceof ShapeError && /anchor 0 learns class 3, the scores have 3 slots/.test(e.message));
    assert.throws(() => detectionLoss(SCORES, BOXES, [TARGETS], { negativesPerPositive: -1 }), ConfigError);
  });
});
