// Augmentation: hand-worked crops and flips, crops against an explicit pad-then-crop, torchvision's
// RandomErasing rules (rectangle inside the image, area and ratio ranges, p), and determinism per seed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ConfigError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import {
  augmentBatch,
  cropImage,
  eraseImage,
  flipImage,
  randomCrop,
  randomErasing,
  randomHorizontalFlip,
  roundHalfEven,
} from '../../src/train/augment.js';

function ramp(shape: number[]): Tensor {
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = i + 1;
  return t;
}

/** torchvision's way, spelled out: zero-pad by p, then take the H×W window at (top, left). */
function padThenCrop(image: Float32Array, [h, w, c]: [number, number, number], p: number, top: number, left: number): number[] {
  const ph = h + 2 * p;
  const pw = w + 2 * p;
  const padded = new Float32Array(ph * pw * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) padded[((y + p) * pw + x + p) * c + k] = image[(y * w + x) * c + k];
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(padded[((y + top) * pw + x + left) * c + k]);
  return out;
}

describe('crop and flip, hand-worked', () => {
  test('crop shifted by (1, −1) of a 3×3 image', () => {
    // output(y, x) = input(y + 1, x − 1), zero outside: rows [0 4 5], [0 7 8], [0 0 0]
    const image = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    cropImage(image, [3, 3, 1], 1, -1);
    assert.deepEqual([...image], [0, 4, 5, 0, 7, 8, 0, 0, 0]);
  });

  test('crop with a fill value and two channels', () => {
    const image = Float32Array.from([1, 10, 2, 20, 3, 30, 4, 40]);
    cropImage(image, [2, 2, 2], 0, 1, -5);
    assert.deepEqual([...image], [2, 20, -5, -5, 4, 40, -5, -5]);
  });

  test('flip of a 2×3 two-channel image', () => {
    const image = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    flipImage(image, [2, 3, 2]);
    assert.deepEqual([...image], [5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8]);
  });

  test('erase a 2×2 rectangle at (1, 0) with per-channel values', () => {
    const image = new Float32Array(3 * 3 * 2).fill(9);
    eraseImage(image, [3, 3, 2], { top: 1, left: 0, height: 2, width: 2 }, [1, 2]);
    assert.deepEqual([...image], [9, 9, 9, 9, 9, 9, 1, 2, 1, 2, 9, 9, 1, 2, 1, 2, 9, 9]);
  });

  test('round half to even, like Python', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 2.4, 2.6, 3.5, 7].map(roundHalfEven), [0, 2, 2, 2, 3, 4, 7]);
  });
});

describe('random crop', () => {
  test('equals zero-pad-then-crop at torchvision’s offsets drawn from the same Random', () => {
    const shape: [number, number, number] = [5, 4, 3];
    const batch = ramp([6, ...shape]);
    const original = batch.clone();
    randomCrop(batch, 2, new Random(11));
    const draws = new Random(11);
    const size = 5 * 4 * 3;
    for (let n = 0; n < 6; n++) {
      const top = Math.floor(draws.uniform() * 5); // randint(0, 2·padding + 1)
      const left = Math.floor(draws.uniform() * 5);
      const expected = padThenCrop(original.data.subarray(n * size, (n + 1) * size), shape, 2, top, left);
      assert.deepEqual([...batch.data.subarray(n * size, (n + 1) * size)], expected, `image ${n}`);
    }
  });

  test('every offset in [−p, p]² occurs: a centre dot lands on each of the 9 places', () => {
    // output(y, x) = input(y + dy, x + dx), so the dot at (1, 1) moves to (1 − dy, 1 − dx)
    const batch = new Tensor([400, 3, 3, 1]);
    for (let n = 0; n < 400; n++) batch.data[n * 9 + 4] = 1;
    randomCrop(batch, 1, new Random(3));
    const places = new Set<number>();
    for (let n = 0; n < 400; n++) {
      const image = [...batch.data.subarray(n * 9, (n + 1) * 9)];
      assert.equal(image.filter((v) => v === 1).length, 1, 'the dot stays inside');
      places.add(image.indexOf(1));
    }
    assert.equal(places.size, 9);
  });
});

describe('random flip', () => {
  test('p = 1 flips every image, p = 0 none; p = 0.5 about half', () => {
    const batch = ramp([2, 1, 3, 1]);
    randomHorizontalFlip(batch, new Random(1), 1);
    assert.deepEqual([...batch.data], [3, 2, 1, 6, 5, 4]);
    randomHorizontalFlip(batch, new Random(1), 0);
    assert.deepEqual([...batch.data], [3, 2, 1, 6, 5, 4]);
    const many = ramp([1000, 1, 2, 1]);
    randomHorizontalFlip(many, new Random(5));
    let flipped = 0;
    for (let n = 0; n < 1000; n++) if (many.data[2 * n] > many.data[2 * n + 1]) flipped++;
    assert.ok(flipped > 430 && flipped < 570, `${flipped} of 1000 flipped`);
  });
});

describe('random erasing (torchvision semantics)', () => {
  test('p = 1: one rectangle of zeros strictly inside, area and aspect in range', () => {
    const [h, w] = [28, 28];
    const batch = new Tensor([200, h, w, 1]);
    batch.data.fill(1);
    randomErasing(batch, new Random(9), { p: 1 });
    for (let n = 0; n < 200; n++) {
      const image = batch.data.subarray(n * h * w, (n + 1) * h * w);
      const zeros: Array<[number, number]> = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (image[y * w + x] === 0) zeros.push([y, x]);
      if (zeros.length === 0) continue; // ten failed attempts leave the image as it was, as torchvision does
      const ys = zeros.map((z) => z[0]);
      const xs = zeros.map((z) => z[1]);
      const eh = Math.max(...ys) - Math.min(...ys) + 1;
      const ew = Math.max(...xs) - Math.min(...xs) + 1;
      assert.equal(zeros.length, eh * ew, 'the erased pixels form a rectangle');
      assert.ok(eh < h && ew < w, 'strictly smaller than the image');
      // h = round(√(area·r)), w = round(√(area/r)) with area in [0.02, 0.33]·784: rounding widens the range a little
      assert.ok(eh * ew >= 0.02 * 784 * 0.6 && eh * ew <= 0.33 * 784 * 1.4, `area ${eh * ew}`);
      assert.ok(eh / ew >= 0.3 * 0.6 && eh / ew <= 3.3 / 0.6, `ratio ${eh}/${ew}`);
    }
  });

  test('p = 0 changes nothing; p = 0.5 erases about half; random values are noise', () => {
    const batch = new Tensor([50, 8, 8, 1]);
    batch.data.fill(1);
    randomErasing(batch, new Random(2), { p: 0 });
    assert.ok(batch.data.every((v) => v === 1));
    const half = new Tensor([1000, 8, 8, 1]);
    half.data.fill(1);
    randomErasing(half, new Random(2), { p: 0.5, scale: [0.1, 0.2], ratio: [1, 1] });
    let erased = 0;
    for (let n = 0; n < 1000; n++) if (half.data.subarray(n * 64, (n + 1) * 64).some((v) => v !== 1)) erased++;
    assert.ok(erased > 430 && erased < 570, `${erased} of 1000 erased`);
    const noisy = new Tensor([1, 16, 16, 3]);
    noisy.data.fill(5);
    randomErasing(noisy, new Random(4), { p: 1, value: 'random', scale: [0.3, 0.3], ratio: [1, 1] });
    const changed = noisy.data.filter((v) => v !== 5);
    assert.ok(changed.length >= 3 * 64 && new Set(changed).size === changed.length, 'distinct normal draws');
  });

  test('options are checked', () => {
    const batch = new Tensor([1, 4, 4, 3]);
    assert.throws(() => randomErasing(batch, new Random(), { p: 2 }), ConfigError);
    assert.throws(() => randomErasing(batch, new Random(), { scale: [0.5, 0.1] }), ConfigError);
    assert.throws(() => randomErasing(batch, new Random(), { ratio: [0, 1] }), ConfigError);
    assert.throws(() => randomErasing(batch, new Random(), { value: [1, 2] }), /2 entries for 3 channels/);
    assert.throws(() => randomCrop(batch, -1, new Random()), ConfigError);
    assert.throws(() => augmentBatch(new Tensor([4, 4, 3]), new Random(), { flip: true }), /rank-4/);
  });
});

describe('determinism', () => {
  const options = { padding: 4, flip: true, erasing: { p: 0.5 } } as const;
  test('same seed, same result; another seed, another result', () => {
    const a = ramp([8, 32, 32, 3]);
    const b = ramp([8, 32, 32, 3]);
    const c = ramp([8, 32, 32, 3]);
    augmentBatch(a, new Random(42), options);
    augmentBatch(b, new Random(42), options);
    augmentBatch(c, new Random(43), options);
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, c.data);
  });

  test('the result depends on the Random’s state, so a resumed run continues identically', () => {
    const random = new Random(7);
    const first = augmentBatch(ramp([4, 6, 6, 1]), random, options);
    const second = augmentBatch(ramp([4, 6, 6, 1]), random, options);
    const replay = new Random(7);
    assert.deepEqual(augmentBatch(ramp([4, 6, 6, 1]), replay, options).data, first.data);
    assert.deepEqual(augmentBatch(ramp([4, 6, 6, 1]), replay, options).data, second.data);
    assert.notDeepEqual(first.data, second.data);
  });
});
