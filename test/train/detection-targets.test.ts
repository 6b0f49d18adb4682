// The SSD matcher and targets against hand-worked IoUs: five anchors on a unit image (four quadrants and the whole),
// boxes matched by threshold, forced onto their best anchor (TF's first-box-wins rule), ignored between thresholds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, ShapeError } from '../../src/errors.js';
import { boxAreas, iou } from '../../src/detect/nms.js';
import { BACKGROUND, IGNORED, anchorCorners, detectionTargets, matchAnchors } from '../../src/train/detection-targets.js';
import type { GroundTruth } from '../../src/train/detection-targets.js';

// (ycenter, xcenter, h, w): the four quadrants, then the whole image
const ANCHORS = Float32Array.from([0.25, 0.25, 0.5, 0.5, 0.25, 0.75, 0.5, 0.5, 0.75, 0.25, 0.5, 0.5, 0.75, 0.75, 0.5, 0.5, 0.5, 0.5, 1, 1]);
const HEAD = { anchors: ANCHORS, scaleFactors: [10, 10, 5, 5] as [number, number, number, number] };
// box 0 covers 0.8 of the top-left quadrant (IoU 0.2/0.25 = 0.8; with the whole image 0.2);
// box 1 a quarter of the bottom-right quadrant (IoU 0.0625/0.25 = 0.25; with the whole image 0.0625)
const TRUTH: GroundTruth = { boxes: Float32Array.from([0, 0, 0.5, 0.4, 0.5, 0.5, 0.75, 0.75]), classes: Int32Array.from([2, 1]) };

describe('detection targets', () => {
  it('anchors become corner boxes, and IoUs are the hand-worked ones', () => {
    assert.deepEqual([...anchorCorners(ANCHORS)], [0, 0, 0.5, 0.5, 0, 0.5, 0.5, 1, 0.5, 0, 1, 0.5, 0.5, 0.5, 1, 1, 0, 0, 1, 1]);
    const corners = anchorCorners(ANCHORS, 2);
    corners.set(TRUTH.boxes, ANCHORS.length);
    const set = { boxes: corners, areas: boxAreas(corners) };
    const overlap = (a: number, g: number): number => iou(set, a, 5 + g);
    assert.ok(Math.abs(overlap(0, 0) - 0.8) < 1e-7);
    assert.ok(Math.abs(overlap(4, 0) - 0.2) < 1e-7);
    assert.equal(overlap(1, 0), 0);
    assert.equal(overlap(3, 1), 0.25);
    assert.equal(overlap(4, 1), 0.0625);
    assert.equal(overlap(2, 1), 0); // touching edges only
  });

  it('an anchor matches its best box at IoU ≥ 0.5; every box is forced onto its best anchor; the rest is background', () => {
    assert.deepEqual([...matchAnchors(ANCHORS, TRUTH)], [0, BACKGROUND, BACKGROUND, 1, BACKGROUND]);
    assert.deepEqual([...matchAnchors(ANCHORS, TRUTH, { forceMatch: false })], [0, BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND]);
    // the whole-image anchor's best IoU, 0.2, lies between 0.15 and 0.5: ignored
    assert.deepEqual([...matchAnchors(ANCHORS, TRUTH, { unmatchedThreshold: 0.15 })], [0, BACKGROUND, BACKGROUND, 1, IGNORED]);
    // at threshold 0.2 the whole-image anchor matches box 0 (IoU exactly 0.2 counts)
    assert.deepEqual([...matchAnchors(ANCHORS, TRUTH, { matchedThreshold: 0.2 })], [0, BACKGROUND, BACKGROUND, 1, 0]);
  });

  it('where two boxes claim the same anchor the first keeps it (TF), and a box overlapping nothing claims nothing', () => {
    // box 1, [0, 0, 0.3, 0.3], overlaps the top-left quadrant most (0.09/0.25 = 0.36) — which box 0 claims too
    const truth = { boxes: Float32Array.from([0, 0, 0.5, 0.4, 0, 0, 0.3, 0.3, 2, 2, 3, 3]), classes: Int32Array.from([1, 2, 3]) };
    assert.deepEqual([...matchAnchors(ANCHORS, truth)], [0, BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND]);
    const reversed = { boxes: Float32Array.from([0, 0, 0.3, 0.3, 0, 0, 0.5, 0.4]), classes: Int32Array.from([2, 1]) };
    assert.deepEqual([...matchAnchors(ANCHORS, reversed)], [0, BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND]);
  });

  it('an image without boxes is all background', () => {
    const t = detectionTargets(HEAD, { boxes: new Float32Array(0), classes: new Int32Array(0) });
    assert.deepEqual([...t.classes], [0, 0, 0, 0, 0]);
    assert.equal(t.matches, 0);
    assert.ok(t.boxCodes.every((v) => v === 0));
  });

  it('targets: the matched box class and its codes (scales 10, 10, 5, 5) worked by hand; zeros elsewhere', () => {
    const t = detectionTargets(HEAD, TRUTH, { unmatchedThreshold: 0.15 });
    assert.deepEqual([...t.classes], [2, 0, 0, 1, -1]);
    assert.equal(t.matches, 2);
    // anchor 0 (0.25, 0.25, 0.5, 0.5) ← box 0, center (0.25, 0.2), size 0.5 × 0.4: ty 0, tx (0.2 − 0.25)/0.5·10, th 0, tw 5·ln 0.8
    // anchor 3 (0.75, 0.75, 0.5, 0.5) ← box 1, center (0.625, 0.625), size 0.25: ty = tx = −0.125/0.5·10, th = tw = 5·ln 0.5
    const expected = [0, -1, 0, 5 * Math.log(0.8), 0, 0, 0, 0, 0, 0, 0, 0, -2.5, -2.5, 5 * Math.log(0.5), 5 * Math.log(0.5), 0, 0, 0, 0];
    t.boxCodes.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `code ${i}: ${v}, expected ${expected[i]}`));
  });

  it('refuses boxes with a negative size, a class outside 1..K, mismatched arrays and thresholds outside [0, 1]', () => {
    assert.throws(() => matchAnchors(ANCHORS, { boxes: Float32Array.from([0.5, 0, 0.2, 1]), classes: Int32Array.from([1]) }), (e: unknown) => e instanceof ShapeError && /box 0 \[0\.5, 0, 0\.2.*negative size/.test(e.message));
    assert.throws(() => detectionTargets(HEAD, { boxes: Float32Array.from([0, 0, 0.5, 0.5]), classes: Int32Array.from([0]) }), (e: unknown) => e instanceof ShapeError && /box 0 has class 0/.test(e.message));
    assert.throws(() => matchAnchors(ANCHORS, { boxes: Float32Array.from([0, 0, 1]), classes: Int32Array.from([1]) }), ShapeError);
    assert.throws(() => matchAnchors(ANCHORS, TRUTH, { matchedThreshold: 1.5 }), (e: unknown) => e instanceof ConfigError && /matchedThreshold must be in \[0, 1\], got 1\.5/.test(e.message));
    assert.throws(() => matchAnchors(ANCHORS, TRUTH, { unmatchedThreshold: 0.7 }), ConfigError);
  });
});
