// The Faster R-CNN box coder against hand-worked codes (TF's formulas done on paper), both code orders,
// whole batches, and encode∘decode as the identity on seeded random boxes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { cornersToCenters, decodeBoxes, encodeBoxes } from '../../src/detect/box-coder.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';

const SCALES = [10, 10, 5, 5] as const;
const ANCHOR = new Float32Array([0.5, 0.5, 0.2, 0.4]);
// ty = 1 → yc = 0.1·0.2 + 0.5 = 0.52; tx = −2 → xc = −0.2·0.4 + 0.5 = 0.42; th = 5·ln 2 → h = 0.4; tw = 0 → w = 0.4.
const CODES_YXHW = [1, -2, 5 * Math.LN2, 0];
const BOX = [0.32, 0.22, 0.72, 0.62];

function assertNear(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((v, i) => assert.ok(Math.abs(actual[i] - v) <= tol, `${what}[${i}]: ${actual[i]} vs ${v}`));
}

describe('Faster R-CNN box coder', () => {
  test('decodes hand-worked codes in TF (ty, tx, th, tw) and torchvision (tx, ty, tw, th) order', () => {
    assertNear(decodeBoxes(CODES_YXHW, ANCHOR, SCALES), BOX, 1e-6, 'yxhw');
    const xywh = [CODES_YXHW[1], CODES_YXHW[0], CODES_YXHW[3], CODES_YXHW[2]];
    assertNear(decodeBoxes(xywh, ANCHOR, SCALES, 'xywh'), BOX, 1e-6, 'xywh');
    assertNear(decodeBoxes(CODES_YXHW, ANCHOR, SCALES, 'yxhw', new Float64Array(4)), BOX, 1e-7, 'float64 out');
  });

  test('encodes the hand-worked box back to its codes', () => {
    assertNear(encodeBoxes(BOX, ANCHOR, SCALES), CODES_YXHW, 1e-5, 'yxhw');
    assertNear(encodeBoxes(BOX, ANCHOR, SCALES, 'xywh'), [-2, 1, 0, 5 * Math.LN2], 1e-5, 'xywh');
  });

  test('encode then decode is the identity on a batch of random boxes', () => {
    const random = new Random(7);
    const between = (lo: number, hi: number): number => lo + (hi - lo) * random.uniform();
    const anchorCount = 13;
    const anchors = new Float32Array(anchorCount * 4);
    for (let i = 0; i < anchors.length; i += 4) anchors.set([between(0, 1), between(0, 1), between(0.05, 0.9), between(0.05, 0.9)], i);
    const boxes = new Float32Array(2 * anchorCount * 4); // a batch of two
    for (let i = 0; i < boxes.length; i += 4) {
      const y = between(-0.2, 0.9);
      const x = between(-0.2, 0.9);
      boxes.set([y, x, y + between(0.01, 0.8), x + between(0.01, 0.8)], i);
    }
    for (const order of ['yxhw', 'xywh'] as const) {
      assertNear(decodeBoxes(encodeBoxes(boxes, anchors, SCALES, order), anchors, SCALES, order), [...boxes], 1e-5, order);
    }
  });

  test('cornersToCenters turns (ymin, xmin, ymax, xmax) rows into (yc, xc, h, w)', () => {
    assertNear(cornersToCenters(BOX), [0.52, 0.42, 0.4, 0.4], 1e-7, 'centers');
  });

  test('codes that are not whole anchor rows, or bad scale factors, are typed errors', () => {
    assert.throws(() => decodeBoxes(new Float32Array(6), ANCHOR, SCALES), (e) => e instanceof ShapeError && /6 values/.test(e.message));
    assert.throws(() => encodeBoxes(BOX, ANCHOR, [10, 10, 0, 5]), ConfigError);
    assert.throws(() => decodeBoxes(CODES_YXHW, ANCHOR, SCALES, 'yxhw', new Float64Array(8)), ShapeError);
  });
});
