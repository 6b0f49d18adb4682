// Segmentation label maps and mask PNGs: the VOC palette against the devkit's published colours, the indexed
// PNG round trip, and the refusals (labels outside the classes, non-mask PNGs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from 'fast-png';
import { FormatError, ShapeError } from '../../src/errors.js';
import { vocPalette } from '../../src/data/label-maps.js';
import { decodeMaskPng, encodeMaskPng } from '../../src/data/mask-png.js';

test('the VOC palette gives the devkit colours (background, aeroplane, bicycle, person, tvmonitor, void)', () => {
  const p = vocPalette();
  assert.equal(p.length, 256);
  assert.deepEqual(p[0], [0, 0, 0]);
  assert.deepEqual(p[1], [128, 0, 0]);
  assert.deepEqual(p[2], [0, 128, 0]);
  assert.deepEqual(p[15], [192, 128, 128]);
  assert.deepEqual(p[20], [0, 64, 128]);
  assert.deepEqual(p[255], [224, 224, 192]);
});

test('a mask goes to an indexed PNG and back, label for label', () => {
  const labels = Uint8Array.from([0, 1, 2, 255, 4, 0]);
  const bytes = encodeMaskPng({ width: 3, height: 2, labels });
  const back = decodeMaskPng(bytes, 'm.png', 5);
  assert.deepEqual([back.width, back.height], [3, 2]);
  assert.deepEqual([...back.labels], [...labels]);
});

test('a label outside the classes that is not 255 is a FormatError naming the pixel', () => {
  const bytes = encodeMaskPng({ width: 2, height: 2, labels: Uint8Array.from([0, 1, 0, 7]) });
  assert.throws(() => decodeMaskPng(bytes, 'm.png', 5), (e: unknown) => e instanceof FormatError && /label 7 at pixel \(x 1, y 1\)/.test(e.message));
});

test('an RGB PNG, a wrong label count or non-PNG bytes are refused', () => {
  const rgb = encode({ width: 1, height: 1, data: Uint8Array.from([1, 2, 3]), channels: 3, depth: 8 });
  assert.throws(() => decodeMaskPng(rgb, 'rgb.png'), (e: unknown) => e instanceof FormatError && /3 channel/.test(e.message));
  assert.throws(() => decodeMaskPng(Uint8Array.from([1, 2, 3]), 'x.png'), FormatError);
  assert.throws(() => encodeMaskPng({ width: 2, height: 2, labels: new Uint8Array(3) }), ShapeError);
});
