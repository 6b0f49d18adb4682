// Segmentation augmentation on hand-worked tiny images: a flip moves labels with their pixels, padding is 255
// (and the fill value in the image), a 2× scale duplicates labels, nearest never invents labels, images and
// masks stay aligned, and the same seed gives the same result.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { augmentSegmentation, augmentSegmentationBatch, type UniformSource } from '../../src/data/segmentation-augment.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

/** Uniform draws given in advance: the test decides the scale, offsets and flip. */
function scripted(...draws: number[]): UniformSource {
  return {
    uniform: () => {
      const next = draws.shift();
      assert.ok(next !== undefined, 'more draws than scripted');
      return next;
    },
  };
}

test('a flip moves each label with its pixel (2×3, one channel)', () => {
  const sample = { image: Float32Array.from([1, 2, 3, 4, 5, 6]), mask: Uint8Array.from([0, 1, 2, 3, 4, 5]), shape: [2, 3, 1] as const };
  // scale (off), row offset, column offset, flip draw 0 < 1
  const out = augmentSegmentation(sample, scripted(0, 0, 0, 0), { flip: 1 });
  assert.deepEqual([...out.image], [3, 2, 1, 6, 5, 4]);
  assert.deepEqual([...out.mask], [2, 1, 0, 5, 4, 3]);
  const kept = augmentSegmentation(sample, scripted(0, 0, 0, 0.7), { flip: 0.5 });
  assert.deepEqual([...kept.mask], [0, 1, 2, 3, 4, 5]);
});

test('cropping a 2×2 image to 3×4 pads the image with the fill and the mask with 255', () => {
  const sample = { image: Float32Array.from([10, 11, 20, 21, 30, 31, 40, 41]), mask: Uint8Array.from([1, 2, 3, 4]), shape: [2, 2, 2] as const };
  // offsets range over [−1, 0] for rows and [−2, 0] for columns: draws 0 → −1 and 0.5 → −1, so the image sits at row 1, column 1
  const out = augmentSegmentation(sample, scripted(0, 0, 0.5, 0.9), { crop: [3, 4], fill: [-1, -2] });
  const V = 255;
  assert.deepEqual([...out.mask], [V, V, V, V, V, 1, 2, V, V, 3, 4, V]);
  assert.deepEqual(out.shape, [3, 4, 2]);
  const pad = [-1, -2];
  assert.deepEqual([...out.image], [...pad, ...pad, ...pad, ...pad, ...pad, 10, 11, 20, 21, ...pad, ...pad, 30, 31, 40, 41, ...pad]);
});

test('a 2× scale duplicates each label into a 2×2 block; a crop takes a window of it', () => {
  const sample = { image: Float32Array.from([0, 1, 2, 3]), mask: Uint8Array.from([1, 2, 3, 255]), shape: [2, 2, 1] as const };
  // scale [2, 2]; the 4×4 scaled mask cropped to 3×3 at (1, 0)
  const out = augmentSegmentation(sample, scripted(0.3, 0.9, 0, 0.9), { scale: [2, 2], crop: [3, 3] });
  assert.deepEqual([...out.mask], [1, 1, 2, 3, 3, 255, 3, 3, 255]);
});

test('nearest never invents labels, and images stay aligned with their masks under scale, crop and flip', () => {
  // four constant quadrants of 8×8: label k has the image value 10·k, in both channels
  const labels = [0, 3, 7, 255];
  const image = new Float32Array(64 * 2);
  const mask = new Uint8Array(64);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const label = labels[(y < 4 ? 0 : 2) + (x < 4 ? 0 : 1)];
      mask[y * 8 + x] = label;
      image[(y * 8 + x) * 2] = image[(y * 8 + x) * 2 + 1] = 10 * label;
    }
  }
  const batch = new Tensor([1, 8, 8, 2], image);
  const random = new Random(4);
  for (let round = 0; round < 20; round++) {
    const out = augmentSegmentationBatch(batch, mask, random, { scale: [0.5, 2], crop: [7, 9], flip: true, fill: -5 });
    assert.deepEqual(out.images.shape, [1, 7, 9, 2]);
    for (const l of out.masks) assert.ok(labels.includes(l), `label ${l} was not in the input`);
    for (let y = 1; y < 6; y++) {
      for (let x = 1; x < 8; x++) {
        const l = out.masks[y * 9 + x];
        const around = [-1, 0, 1].flatMap((a) => [-1, 0, 1].map((b) => out.masks[(y + a) * 9 + x + b]));
        // away from region borders bilinear mixes equal values only; padding (255 around) holds the fill
        if (around.some((m) => m !== l)) continue;
        const expected = l === 255 ? [10 * 255, -5] : [10 * l];
        assert.ok(expected.some((v) => Math.abs(out.images.data[(y * 9 + x) * 2] - v) < 1e-3), `round ${round} (${y}, ${x}): image ${out.images.data[(y * 9 + x) * 2]} for label ${l}`);
      }
    }
  }
});

test('the same seed gives the same batch; bad options and shapes are typed errors', () => {
  const images = new Random(1).fillUniform(new Float32Array(2 * 5 * 6 * 3), 0, 1);
  const masks = Uint8Array.from({ length: 2 * 5 * 6 }, (_, i) => i % 4);
  const options = { scale: [0.75, 1.5] as const, crop: [4, 4] as const, flip: true };
  const a = augmentSegmentationBatch(new Tensor([2, 5, 6, 3], images), masks, new Random(9), options);
  const b = augmentSegmentationBatch(new Tensor([2, 5, 6, 3], images), masks, new Random(9), options);
  assert.deepEqual(a, b);
  const sample = { image: new Float32Array(4), mask: new Uint8Array(4), shape: [2, 2, 1] as const };
  assert.throws(() => augmentSegmentation(sample, new Random(0), { scale: [0, 1] }), ConfigError);
  assert.throws(() => augmentSegmentation(sample, new Random(0), { crop: [0, 2] }), ConfigError);
  assert.throws(() => augmentSegmentation(sample, new Random(0), { fill: [0, 0] }), ConfigError);
  assert.throws(() => augmentSegmentation({ ...sample, mask: new Uint8Array(3) }, new Random(0)), ShapeError);
  assert.throws(() => augmentSegmentationBatch(new Tensor([1, 2, 2, 1]), new Uint8Array(3), new Random(0)), ShapeError);
});
