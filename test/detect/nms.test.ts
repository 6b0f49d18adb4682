// Greedy NMS against hand-worked cases: IoU exactly at the threshold, ties, chains, zero-area boxes, caps.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { boxAreas, iou, nms } from '../../src/detect/nms.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

const select = (boxes: number[][], scores: number[], iouThreshold: number, extra = {}): number[] => [...nms(boxes.flat(), scores, { iouThreshold, ...extra })];

describe('nms', () => {
  test('IoU by hand: half overlap, disjoint, contained, zero area', () => {
    const boxes = [[0, 0, 1, 1], [0, 0, 1, 0.5], [2, 2, 3, 3], [0.2, 0.2, 0.2, 0.6]].flat();
    const set = { boxes, areas: boxAreas(boxes) };
    assert.equal(iou(set, 0, 1), 0.5);
    assert.equal(iou(set, 0, 2), 0);
    assert.equal(iou(set, 0, 3), 0);
    assert.equal(iou(set, 3, 3), 0);
  });

  test('IoU exactly at the threshold is kept; above it is suppressed', () => {
    const boxes = [[0, 0, 1, 1], [0, 0, 1, 0.5]]; // IoU 0.5
    assert.deepEqual(select(boxes, [0.9, 0.8], 0.5), [0, 1]);
    assert.deepEqual(select(boxes, [0.9, 0.8], 0.49), [0]);
  });

  test('equal scores: the lower index comes first and wins', () => {
    const same = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]];
    assert.deepEqual(select(same, [0.7, 0.7, 0.7], 0.5), [0]);
    const apart = [[2, 2, 3, 3], [0, 0, 1, 1], [4, 4, 5, 5]];
    assert.deepEqual(select(apart, [0.7, 0.7, 0.9], 0.5), [2, 0, 1]);
  });

  test('a suppressed box suppresses nothing (chain A–B–C keeps A and C)', () => {
    // IoU(A, B) = IoU(B, C) = 0.5 / 1.5 = 1/3, IoU(A, C) = 0
    const chain = [[0, 0, 1, 1], [0, 0.5, 1, 1.5], [0, 1, 1, 2]];
    assert.deepEqual(select(chain, [0.9, 0.8, 0.7], 0.3), [0, 2]);
    assert.deepEqual(select(chain, [0.9, 0.8, 0.7], 0.34), [0, 1, 2]);
  });

  test('zero-area boxes overlap nothing, so they are never suppressed', () => {
    const flat = [[0.2, 0.2, 0.2, 0.6], [0.2, 0.2, 0.2, 0.6], [0.5, 0.5, 0.4, 0.4]];
    assert.deepEqual(select(flat, [0.9, 0.8, 0.7], 0), [0, 1, 2]);
  });

  test('score threshold (inclusive), top-k before NMS and the output cap', () => {
    const boxes = [[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5], [6, 6, 7, 7]];
    const scores = [0.3, 0.9, 0.5, 0.7];
    assert.deepEqual(select(boxes, scores, 0.5, { scoreThreshold: 0.5 }), [1, 3, 2]);
    assert.deepEqual(select(boxes, scores, 0.5, { topK: 2 }), [1, 3]);
    assert.deepEqual(select(boxes, scores, 0.5, { maxOutput: 1 }), [1]);
    // top-k counts candidates before suppression: the second-best is suppressed, so only one survives
    assert.deepEqual(select([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]], [0.9, 0.8, 0.7], 0.5, { topK: 2 }), [0]);
  });

  test('bad thresholds, caps and shapes are typed errors naming the option', () => {
    assert.throws(() => select([[0, 0, 1, 1]], [1], 1.5), (e) => e instanceof ConfigError && /iouThreshold/.test(e.message));
    assert.throws(() => select([[0, 0, 1, 1]], [1], 0.5, { maxOutput: -1 }), (e) => e instanceof ConfigError && /maxOutput/.test(e.message));
    assert.throws(() => nms([0, 0, 1], [1], { iouThreshold: 0.5 }), ShapeError);
  });
});
