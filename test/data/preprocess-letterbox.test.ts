// The 'letterbox' fit of PreprocessOptions (pad to the target's aspect at the top-left or centre, then resize):
// hand-worked pixels and canvases, and the options' checks. face-api's own padding is the reference in test/io/faceapi.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPreprocessOptions, letterboxCanvas, preprocessImage } from '../../src/data/preprocess.js';
import { ConfigError } from '../../src/errors.js';

describe("preprocessing's letterbox fit", () => {
  test('a 2×1 image at the top-left of a 2×2 canvas, resized to 4×4 with asymmetric coordinates (hand-worked)', () => {
    // canvas [[10, 0], [30, 0]]; rows and columns sample 0, 0.5, 1, 1.5 (the last clamps to the edge)
    const out = preprocessImage([10, 30], [2, 1, 1], { size: [4, 4], fit: 'letterbox', align: 'top-left', coordinates: 'asymmetric', pixels: 'raw' });
    assert.deepEqual([...out], [10, 5, 0, 0, 20, 10, 0, 0, 30, 15, 0, 0, 30, 15, 0, 0]);
  });

  test("centred on a square canvas the target's size: padding only, black before scaling (−1 after x/127.5 − 1)", () => {
    const out = preprocessImage([255, 0, 127.5], [1, 3, 1], { size: [3, 3], fit: 'letterbox', pixels: 'symmetric' });
    assert.deepEqual([...out], [-1, -1, -1, 1, -1, 0, -1, -1, -1]);
  });

  test('canvases: the longer side of a square target, the target aspect otherwise, offsets 0 or ⌊(canvas − image)/2⌋', () => {
    assert.deepEqual(letterboxCanvas([600, 512, 3], [512, 512], 'top-left'), { height: 600, width: 600, top: 0, left: 0 });
    assert.deepEqual(letterboxCanvas([320, 512, 3], [512, 512]), { height: 512, width: 512, top: 96, left: 0 });
    assert.deepEqual(letterboxCanvas([3, 3, 1], [2, 4]), { height: 3, width: 6, top: 0, left: 1 });
    assert.deepEqual(letterboxCanvas([5, 2, 1], [2, 4]), { height: 5, width: 10, top: 0, left: 4 });
    assert.throws(() => letterboxCanvas([0, 2, 1], [2, 2]), /empty 0×2 image/);
  });

  test('checkPreprocessOptions takes fit letterbox, align and coordinates, and names what is wrong', () => {
    const options = { size: [512, 512], fit: 'letterbox', align: 'top-left', coordinates: 'asymmetric', pixels: 'symmetric' };
    assert.deepEqual(checkPreprocessOptions(options, 'p.json'), options);
    assert.throws(() => checkPreprocessOptions({ fit: 'square' }, 'p.json'), (e: unknown) => e instanceof ConfigError && /p\.json: fit must be one of bilinear, pad, letterbox/.test(e.message));
    assert.throws(() => checkPreprocessOptions({ align: 'bottom' }, 'p.json'), /align must be 'center' or 'top-left'/);
    assert.throws(() => checkPreprocessOptions({ coordinates: 'nearest' }, 'p.json'), /coordinates must be one of half-pixel, align-corners, asymmetric/);
  });
});
