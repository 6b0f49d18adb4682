// Anchor generators against independent references: the golden SSDLite case's anchors.npy (made by the
// TF Object Detection API's rules in numpy) and torchvision's DefaultBoxGenerator worked out by hand.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { defaultBoxes, defaultBoxesPerLocation, readAnchors, ssdAnchors, ssdAnchorsPerLocation } from '../../src/detect/anchors.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../support/helpers.js';

const CASE = join(FIXTURES, 'golden/apps/ssdlite_mnv2_a050_r160_k5_b2');
const info = JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { grids: [number, number][]; anchors: number };

function assertRows(actual: Float32Array, expected: number[][], tol: number): void {
  assert.equal(actual.length, expected.length * 4, 'anchor count');
  expected.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(actual[i * 4 + j] - v) <= tol, `row ${i} col ${j}: ${actual[i * 4 + j]} vs ${v}`)));
}

describe('ssdAnchors (TF ssd_anchor_generator)', () => {
  test('equals the golden SSDLite anchors.npy within 1e-6', () => {
    const golden = decodeNpy(readFileSync(join(CASE, 'anchors.npy')), 'anchors.npy');
    const anchors = ssdAnchors({ featureMaps: info.grids, minScale: 0.2, maxScale: 0.95 });
    assert.deepEqual([...golden.shape], [info.anchors, 4]);
    assert.equal(anchors.length, golden.size);
    let worst = 0;
    for (let i = 0; i < anchors.length; i++) worst = Math.max(worst, Math.abs(anchors[i] - golden.data[i]));
    assert.ok(worst <= 1e-6, `max |Δ| = ${worst}`);
  });

  test('3 boxes per location on the reduced lowest layer, 6 elsewhere', () => {
    assert.deepEqual(ssdAnchorsPerLocation({ featureMaps: info.grids }), [3, 6, 6, 6, 6, 6]);
    assert.deepEqual(ssdAnchorsPerLocation({ featureMaps: info.grids, reduceBoxesInLowestLayer: false, interpolatedScaleAspectRatio: 0 }), [5, 5, 5, 5, 5, 5]);
  });

  test('explicit scales, ratios and a non-square image (hand-worked)', () => {
    // One 1×2 map, scale 0.5, ratios 1 and 4: h = s/√r, w = s·√r; a 100×200 image halves the base width.
    const anchors = ssdAnchors({ featureMaps: [[1, 2]], scales: [0.5], aspectRatios: [1, 4], reduceBoxesInLowestLayer: false, interpolatedScaleAspectRatio: 0, imageSize: [100, 200] });
    assertRows(anchors, [[0.5, 0.25, 0.5, 0.25], [0.5, 0.25, 0.25, 0.5], [0.5, 0.75, 0.5, 0.25], [0.5, 0.75, 0.25, 0.5]], 1e-7);
  });

  test('the interpolated box of the last layer uses the next scale 1.0 (hand-worked)', () => {
    const anchors = ssdAnchors({ featureMaps: [[1, 1], [1, 1]], scales: [0.3, 0.64], aspectRatios: [1], reduceBoxesInLowestLayer: false });
    // layer 0: 0.3 and √(0.3·0.64) = 0.438178; layer 1: 0.64 and √0.64 = 0.8
    assertRows(anchors, [[0.5, 0.5, 0.3, 0.3], [0.5, 0.5, 0.438178, 0.438178], [0.5, 0.5, 0.64, 0.64], [0.5, 0.5, 0.8, 0.8]], 1e-6);
  });

  test('bad options are ConfigErrors naming the option', () => {
    assert.throws(() => ssdAnchors({ featureMaps: [] }), (e) => e instanceof ConfigError && /featureMaps/.test(e.message));
    assert.throws(() => ssdAnchors({ featureMaps: [[2, 0]] }), (e) => e instanceof ConfigError && /\[2, 0\]/.test(e.message));
    assert.throws(() => ssdAnchors({ featureMaps: [[2, 2]], scales: [0.2, 0.3] }), (e) => e instanceof ConfigError && /scales has 2 entries for 1/.test(e.message));
    assert.throws(() => ssdAnchors({ featureMaps: [[2, 2]], aspectRatios: [1, -2] }), (e) => e instanceof ConfigError && /aspectRatios/.test(e.message));
  });
});

describe('defaultBoxes (torchvision DefaultBoxGenerator)', () => {
  test('two levels by hand: ramp 0.2 → 0.9, ratio pairs, clipped sizes, (y, x, pair) order', () => {
    // scales [0.2, 0.9, 1.0]; level 0 (2×2, ratio 2): (0.2, 0.2), s′ = √0.18 = 0.424264, (w, h) = (0.282843, 0.141421) and swapped;
    // level 1 (1×1, ratio 3): (0.9, 0.9), s′ = √0.9 = 0.948683, (w, h) = (1.558846 → 1, 0.519615) and swapped. Rows (cy, cx, h, w).
    const boxes = defaultBoxes({ featureMaps: [[2, 2], [1, 1]], aspectRatios: [[2], [3]], minRatio: 0.2, maxRatio: 0.9 });
    const level0 = (cy: number, cx: number): number[][] => [[cy, cx, 0.2, 0.2], [cy, cx, 0.424264, 0.424264], [cy, cx, 0.141421, 0.282843], [cy, cx, 0.282843, 0.141421]];
    assertRows(boxes, [...level0(0.25, 0.25), ...level0(0.25, 0.75), ...level0(0.75, 0.25), ...level0(0.75, 0.75), [0.5, 0.5, 0.9, 0.9], [0.5, 0.5, 0.948683, 0.948683], [0.5, 0.5, 0.519615, 1], [0.5, 0.5, 1, 0.519615]], 1e-6);
    assert.deepEqual(defaultBoxesPerLocation([[2], [3]]), [4, 4]);
    assert.deepEqual(defaultBoxesPerLocation([[2, 3], [2, 3]]), [6, 6]);
  });

  test('explicit scales, steps and no clipping (hand-worked)', () => {
    // 300-pixel input, step 100: 3 cells per side, so a 2×2 map's centers are at 0.5/3 and 1.5/3.
    const boxes = defaultBoxes({ featureMaps: [[2, 2]], aspectRatios: [[]], scales: [1.2, 1.5], steps: [100], imageSize: [300, 300], clip: false });
    const s = Math.sqrt(1.2 * 1.5);
    const at = (cy: number, cx: number): number[][] => [[cy, cx, 1.2, 1.2], [cy, cx, s, s]];
    assertRows(boxes, [...at(1 / 6, 1 / 6), ...at(1 / 6, 0.5), ...at(0.5, 1 / 6), ...at(0.5, 0.5)], 1e-6);
  });

  test("steps on a non-square input keep torchvision's axis swap (x spacing from the height)", () => {
    // image_size = (H, W) = (300, 600), step 100: torchvision's x_f_k = 300/100 = 3 cells, y_f_k = 600/100 = 6 cells.
    const boxes = defaultBoxes({ featureMaps: [[1, 2]], aspectRatios: [[]], scales: [0.5, 0.5], steps: [100], imageSize: [300, 600] });
    assertRows(boxes, [[1 / 12, 1 / 6, 0.5, 0.5], [1 / 12, 1 / 6, 0.5, 0.5], [1 / 12, 0.5, 0.5, 0.5], [1 / 12, 0.5, 0.5, 0.5]], 1e-6);
  });

  test('mismatched per-level lists are ConfigErrors', () => {
    assert.throws(() => defaultBoxes({ featureMaps: [[2, 2], [1, 1]], aspectRatios: [[2]] }), ConfigError);
    assert.throws(() => defaultBoxes({ featureMaps: [[2, 2]], aspectRatios: [[2]], scales: [0.2] }), /scales/);
    assert.throws(() => defaultBoxes({ featureMaps: [[2, 2]], aspectRatios: [[2]], steps: [8] }), /imageSize/);
  });
});

describe('readAnchors', () => {
  test('accepts [A, 4] and returns its rows', () => {
    const t = new Tensor([2, 4], new Float32Array([0.5, 0.5, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4]));
    assert.equal(readAnchors(t, 2, 'a.npy'), t.data);
    assert.equal(readAnchors(t, undefined, 'a.npy').length, 8);
  });

  test('a wrong shape or a count that does not match the outputs is a ShapeError naming both', () => {
    assert.throws(() => readAnchors(new Tensor([3, 5]), 3, 'a.npy'), (e) => e instanceof ShapeError && /a\.npy/.test(e.message) && /\[3, 5\]/.test(e.message));
    assert.throws(() => readAnchors(new Tensor([1917, 4]), 540, 'coco.npy'), (e) => e instanceof ShapeError && /1917 anchors/.test(e.message) && /540/.test(e.message));
    assert.throws(() => readAnchors(new Tensor([1, 4], new Float32Array([0.5, 0.5, -1, 1])), 1, 'neg.npy'), (e) => e instanceof ShapeError && /anchor 0/.test(e.message));
  });
});
