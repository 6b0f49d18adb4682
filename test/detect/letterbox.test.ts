// Image ↔ model box mappings on non-square images, hand-worked both ways (stretch, letterbox centered and
// top-left, pad-then-resize), and the letterboxed input's pixels worked out by hand.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { letterbox, letterboxImage, mapDetections, resizeMapping, toModelBox, toSourceBox } from '../../src/detect/letterbox.js';
import type { Box } from '../../src/detect/types.js';
import { ConfigError } from '../../src/errors.js';

const PHOTO = { width: 640, height: 480 };
const SQUARE_300 = { width: 300, height: 300 };

function assertBox(actual: Box, expected: readonly number[], what: string, tol = 1e-9): void {
  expected.forEach((v, i) => assert.ok(Math.abs(actual[i] - v) <= tol, `${what}[${i}]: ${actual[i]} vs ${v}`));
}

describe('resize mappings', () => {
  test('stretch: 640×480 into 300×300, both ways', () => {
    const m = resizeMapping(PHOTO, SQUARE_300); // x · 300/640 = 0.46875, y · 300/480 = 0.625
    assertBox(toSourceBox(m, [0.1, 0.2, 0.5, 0.6]), [48, 128, 240, 384], 'to source');
    assertBox(toModelBox(m, [48, 128, 240, 384]), [0.1, 0.2, 0.5, 0.6], 'to model');
  });

  test('letterbox, centered: 640×480 into 300×300 is a 300×225 image 37 px from the top', () => {
    const m = letterbox(PHOTO, SQUARE_300); // scale 0.46875, pad (300 − 225)/2 → 37 above, 38 below
    assert.deepEqual(m.region, { left: 0, top: 37, width: 300, height: 225 });
    // y: (u·300 − 37)/0.46875, x: u·300/0.46875
    assertBox(toSourceBox(m, [0.2, 0.1, 0.8, 0.5]), [23 / 0.46875, 64, 203 / 0.46875, 320], 'to source');
    assertBox(toModelBox(m, [23 / 0.46875, 64, 203 / 0.46875, 320]), [0.2, 0.1, 0.8, 0.5], 'to model');
  });

  test('letterbox, top-left: boxes in the padding clip to the image unless asked not to', () => {
    const m = letterbox(PHOTO, SQUARE_300, { align: 'top-left' });
    assertBox(toSourceBox(m, [0.2, 0.1, 0.8, 0.5]), [128, 64, 480, 320], 'clipped'); // ymax 240/0.46875 = 512 → 480
    assertBox(toSourceBox(m, [0.2, 0.1, 0.8, 0.5], false), [128, 64, 512, 320], 'unclipped');
  });

  test('letterbox rounds the image to whole model pixels and maps with the rounded size', () => {
    // 500×333 into 512: scale 1.024, height 340.992 → 341 px, 85 px above; its bottom edge (85 + 341)/512 is source row 333.
    const m = letterbox({ width: 500, height: 333 }, { width: 512, height: 512 });
    assert.deepEqual(m.region, { left: 0, top: 85, width: 512, height: 341 });
    assertBox(toSourceBox(m, [85 / 512, 0, 426 / 512, 1]), [0, 0, 333, 500], 'whole image', 1e-9);
  });

  test('pad-then-resize (face-api): square padding in source pixels, then one scale', () => {
    const square = letterbox({ width: 500, height: 333 }, { width: 512, height: 512 }, { order: 'pad-then-resize', align: 'top-left' });
    assert.deepEqual(square.region, { left: 0, top: 0, width: 500, height: 500 });
    assertBox(toSourceBox(square, [0.25, 0.5, 0.5, 1]), [125, 250, 250, 500], 'to source'); // u · 500
    // 100×100 into a 320×240 input: padded to 133×100 (100·4/3 rounded), 16 px on the left.
    const wide = letterbox({ width: 100, height: 100 }, { width: 320, height: 240 }, { order: 'pad-then-resize' });
    assert.deepEqual(wide.region, { left: 16, top: 0, width: 133, height: 100 });
    assertBox(toSourceBox(wide, [0, (16 * 320) / 133 / 320, 1, (116 * 320) / 133 / 320]), [0, 0, 100, 100], 'whole image', 1e-9);
    assertBox(toModelBox(wide, [0, 0, 100, 100]), [0, 16 / 133, 1, 116 / 133], 'to model', 1e-12);
  });

  test('mapDetections maps every box and keeps the rest', () => {
    const [d] = mapDetections([{ class: 3, label: 'dog', score: 0.9, box: [0.1, 0.2, 0.5, 0.6], anchor: 7 }], resizeMapping(PHOTO, SQUARE_300));
    assert.deepEqual({ ...d, box: [] }, { class: 3, label: 'dog', score: 0.9, box: [], anchor: 7 });
    assertBox(d.box, [48, 128, 240, 384], 'box');
  });

  test('sizes that are not positive integers are ConfigErrors naming them', () => {
    assert.throws(() => letterbox({ width: 0, height: 10 }, SQUARE_300), (e) => e instanceof ConfigError && /source image/.test(e.message) && /0×10/.test(e.message));
    assert.throws(() => resizeMapping(PHOTO, { width: 300.5, height: 300 }), (e) => e instanceof ConfigError && /model input/.test(e.message));
  });
});

describe('letterboxImage', () => {
  test('letterbox: a 2×1 image [0, 100] into 4×4 is resized to 4×2 (half-pixel) between pad rows', () => {
    const m = letterbox({ width: 2, height: 1 }, { width: 4, height: 4 }); // scale 2, 4×2 image, 1 row above
    const out = letterboxImage([0, 100], [1, 2, 1], m, { padValue: 7 });
    // half-pixel: x_src = (i + ½)/2 − ½ → 0 (clamped), 0.25, 0.75, 1.25 (clamped to the last pixel)
    assert.deepEqual([...out], [7, 7, 7, 7, 0, 25, 75, 100, 0, 25, 75, 100, 7, 7, 7, 7]);
  });

  test('pad-then-resize: pad to square first, then resize (asymmetric, as TF.js)', () => {
    const m = letterbox({ width: 2, height: 1 }, { width: 4, height: 4 }, { order: 'pad-then-resize', align: 'top-left' });
    const out = letterboxImage([0, 100], [1, 2, 1], m, { padValue: 20, coordinates: 'asymmetric' });
    // canvas [[0, 100], [20, 20]]; asymmetric samples at 0, 0.5, 1, 1.5 (clamped) on both axes
    assert.deepEqual([...out], [0, 50, 100, 100, 10, 35, 60, 60, 20, 20, 20, 20, 20, 20, 20, 20]);
  });

  test('stretch, per-channel padding check, and a mapping made for another size', () => {
    const m = resizeMapping({ width: 1, height: 1 }, { width: 2, height: 2 });
    assert.deepEqual([...letterboxImage([9, 8, 7], [1, 1, 3], m)], [9, 8, 7, 9, 8, 7, 9, 8, 7, 9, 8, 7]);
    const box = letterbox({ width: 2, height: 1 }, { width: 2, height: 2 });
    assert.throws(() => letterboxImage([1, 2, 3, 4, 5, 6], [1, 2, 3], box, { padValue: [0, 0] }), (e) => e instanceof ConfigError && /padValue has 2 values for 3 channels/.test(e.message));
    assert.throws(() => letterboxImage([1, 2], [2, 1, 1], box), (e) => e instanceof ConfigError && /1×2/.test(e.message) && /2×1/.test(e.message));
  });
});
