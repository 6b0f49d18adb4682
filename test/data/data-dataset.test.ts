// The Dataset helpers a trainer uses: seeded shuffling, batch slicing, loadBatch from synchronous and
// asynchronous data sets (into a preallocated tensor too), subsets and class counts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { batchIndices, classCounts, loadBatch, shuffledIndices, subset, type Dataset } from '../../src/data/dataset.js';
import { decodeIdxDataset } from '../../src/data/idx-dataset.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../support/helpers.js';

const SUBSET = join(FIXTURES, 'data', 'fashion-mnist');
const fashion = decodeIdxDataset(
  readFileSync(join(SUBSET, 't10k-images-idx3-ubyte.gz')),
  readFileSync(join(SUBSET, 't10k-labels-idx1-ubyte.gz')),
  { pixels: 'raw' },
);

/** An asynchronous data set whose examples resolve out of order: image i is filled with i. */
function slowDataset(size: number): Dataset {
  return {
    size,
    classes: ['even', 'odd'],
    shape: [2, 2, 1],
    label: (i) => i % 2,
    get: (i) => new Promise((resolve) => setTimeout(() => resolve({ image: new Float32Array(4).fill(i), label: i % 2 }), (size - i) % 5)),
  };
}

describe('shuffling and batches', () => {
  test('a permutation, the same for the same seed', () => {
    const a = shuffledIndices(100, new Random(1));
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(shuffledIndices(100, new Random(1)), a);
    assert.notDeepEqual(shuffledIndices(100, new Random(2)), a);
    assert.notDeepEqual([...a], Array.from({ length: 100 }, (_, i) => i));
  });

  test('batches of the order, the last shorter or dropped', () => {
    const order = [4, 2, 0, 1, 3];
    assert.deepEqual(batchIndices(order, 2).map((b) => [...b]), [[4, 2], [0, 1], [3]]);
    assert.deepEqual(batchIndices(order, 2, { dropLast: true }).map((b) => [...b]), [[4, 2], [0, 1]]);
    assert.throws(() => batchIndices(order, 0), ConfigError);
  });
});

describe('loadBatch', () => {
  test('IDX (synchronous): images and labels in the order asked', async () => {
    const batch = await loadBatch(fashion, [1, 0, 499]);
    assert.deepEqual([...batch.x.shape], [3, 28, 28, 1]);
    assert.deepEqual([...batch.labels], [2, 9, 0]);
    // values read with Python: image 1 pixel (5, 12) = 228, image 0 pixel (14, 14) = 110
    assert.equal(batch.x.data[5 * 28 + 12], 228);
    assert.equal(batch.x.data[784 + 14 * 28 + 14], 110);
  });

  test('asynchronous: order kept whatever order the reads finish in; concurrency 1 works too', async () => {
    for (const concurrency of [1, 3, 8]) {
      const batch = await loadBatch(slowDataset(10), [9, 3, 4, 0, 7], { concurrency });
      assert.deepEqual([...batch.labels], [1, 1, 0, 0, 1]);
      assert.deepEqual([0, 1, 2, 3, 4].map((slot) => batch.x.data[slot * 4]), [9, 3, 4, 0, 7]);
    }
  });

  test("into: fills the given tensor; a wrong shape or index is refused", async () => {
    const into = new Tensor([2, 28, 28, 1]);
    const batch = await loadBatch(fashion, [0, 1], { into });
    assert.equal(batch.x, into);
    await assert.rejects(loadBatch(fashion, [0, 1, 2], { into }), ShapeError);
    await assert.rejects(loadBatch(fashion, [500]), RangeError);
    await assert.rejects(loadBatch(fashion, [1.5]), RangeError);
  });
});

describe('subset and class counts', () => {
  test('a subset maps indices and keeps the synchronous path', async () => {
    const part = subset(fashion, [499, 1]);
    assert.equal(part.size, 2);
    assert.deepEqual([part.label(0), part.label(1)], [0, 2]);
    assert.ok(part.getSync);
    const batch = await loadBatch(part, [1, 0]);
    assert.deepEqual([...batch.labels], [2, 0]);
    assert.deepEqual(classCounts(part), [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => part.label(2), RangeError);
    assert.throws(() => subset(fashion, [500]), RangeError);
  });

  test('an asynchronous subset', async () => {
    const part = subset(slowDataset(6), [5, 2]);
    assert.equal(part.getSync, undefined);
    assert.deepEqual([...(await loadBatch(part, [0, 1])).labels], [1, 0]);
  });
});
