// SSD augmentation: boxes after zoom-out, crop (centre rule, clipping) and flip against hand-worked values; the pixels at
// the boxes' corners move with them; photometric steps on hand-worked pixels; the drawn crops keep their constraints.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyDetectionAugment, augmentDetectionBatch, drawDetectionAugment, moveBoxes, shiftHue } from '../../src/data/detection-augment.js';
import type { DetectionAugmentPlan, DetectionSample } from '../../src/data/detection-augment.js';
import { ConfigError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const plan = (window: DetectionAugmentPlan['window'], centreRule = false, flip = false): DetectionAugmentPlan => ({ window, centreRule, flip, photometric: [] });
const near = (actual: ArrayLike<number>, expected: readonly number[], what: string): void => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) < 1e-6, `${what}[${i}]: ${actual[i]}, expected ${expected[i]}`);
};

/** 16×16 RGB, grey 0.2 with a red (1, 0, 0) rectangle over rows 4–7 and columns 2–9: box [4, 2, 8, 10]/16. */
function redRectangle(): DetectionSample {
  const image = new Float32Array(16 * 16 * 3).fill(0.2);
  for (let y = 4; y < 8; y++) for (let x = 2; x < 10; x++) image.set([1, 0, 0], (y * 16 + x) * 3);
  return { image, shape: [16, 16, 3], boxes: Float32Array.from([4 / 16, 2 / 16, 8 / 16, 10 / 16]), classes: Int32Array.from([1]) };
}

/** The output pixels that are exactly red, as [rowMin, colMin, rowMax + 1, colMax + 1]. */
function redExtent(image: Float32Array, size = 16): number[] {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      if (Math.abs(image[p] - 1) < 1e-6 && Math.abs(image[p + 1]) < 1e-6) rows.push(y), cols.push(x);
    }
  return [Math.min(...rows), Math.min(...cols), Math.max(...rows) + 1, Math.max(...cols) + 1];
}

describe('detection augmentation', () => {
  it('boxes: zoom out ×2 centred, a crop with the centre rule and clipping, a flip — hand-worked', () => {
    const truth = { boxes: Float32Array.from([0, 0, 0.5, 0.4]), classes: Int32Array.from([3]) };
    near(moveBoxes(truth, plan([-0.5, -0.5, 1.5, 1.5])).boxes, [0.25, 0.25, 0.5, 0.45], 'zoomed out');
    // crop [0.25, 0, 0.75, 0.5]: A's centre (0.4, 0.2) is inside, clipped at the top; B's (0.8, 0.75) is not;
    // C's (0.7, 0.45) is inside, clipped at the bottom and right
    const three = { boxes: Float32Array.from([0.2, 0.1, 0.6, 0.3, 0.7, 0.6, 0.9, 0.9, 0.5, 0.3, 0.9, 0.6]), classes: Int32Array.from([1, 2, 3]) };
    const cropped = moveBoxes(three, plan([0.25, 0, 0.75, 0.5], true));
    near(cropped.boxes, [0, 0.2, 0.7, 0.6, 0.5, 0.6, 1, 1], 'cropped');
    assert.deepEqual([...cropped.classes], [1, 3]);
    near(moveBoxes({ boxes: Float32Array.from([0, 0.2, 0.7, 0.6]), classes: Int32Array.from([1]) }, plan([0, 0, 1, 1], false, true)).boxes, [0, 0.4, 0.7, 0.8], 'flipped');
  });

  it('pixels: the red rectangle lands exactly in its moved box (zoom out, flip), the canvas takes the fill', () => {
    const sample = redRectangle();
    const zoomed = applyDetectionAugment(sample, plan([-0.5, -0.5, 1.5, 1.5]), { fill: 0.25 });
    // box [4, 2, 8, 10]/16 → ([4, 2, 8, 10]/16 + 0.5)/2 = [6, 5, 8, 9]/16: output row i samples source row 2i − 7.5
    near(zoomed.boxes, [6 / 16, 5 / 16, 8 / 16, 9 / 16], 'box');
    assert.deepEqual(redExtent(zoomed.image), [6, 5, 8, 9]);
    near(zoomed.image.subarray(0, 3), [0.25, 0.25, 0.25], 'canvas corner');
    near(zoomed.image.subarray((8 * 16 + 8) * 3, (8 * 16 + 8) * 3 + 3), [0.2, 0.2, 0.2], 'inside the image, off the box');
    const flipped = applyDetectionAugment(sample, plan([0, 0, 1, 1], false, true));
    near(flipped.boxes, [4 / 16, 6 / 16, 8 / 16, 14 / 16], 'flipped box');
    assert.deepEqual(redExtent(flipped.image), [4, 6, 8, 14]);
    // the identity plan copies the image exactly
    assert.deepEqual(applyDetectionAugment(sample, plan([0, 0, 1, 1])).image, sample.image);
  });

  it('pixels: a 2× crop keeps red one pixel inside each corner of the moved box and none two pixels outside', () => {
    const cropped = applyDetectionAugment(redRectangle(), plan([0.25, 0, 0.75, 0.5], true));
    // box [4, 2, 8, 10]/16 clipped to rows 4–12, columns 0–8 and doubled: [0, 4, 8, 16]/16
    near(cropped.boxes, [0, 0.25, 0.5, 1], 'box');
    const pixel = (y: number, x: number): number[] => [...cropped.image.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3)];
    for (const [y, x] of [[1, 5], [1, 14], [6, 5], [6, 14]]) near(pixel(y, x), [1, 0, 0], `inside (${y}, ${x})`);
    for (const [y, x] of [[9, 8], [3, 2]]) near(pixel(y, x), [0.2, 0.2, 0.2], `outside (${y}, ${x})`);
  });

  it('photometric steps on the 0..1 scale, hand-worked, clamped; and through a −1..1 pixel scaling', () => {
    const sample: DetectionSample = { image: Float32Array.from([0.5, 0.95, 0.2, 1, 0, 0]), shape: [1, 2, 3], boxes: new Float32Array(0), classes: new Int32Array(0) };
    const run = (kind: 'brightness' | 'contrast' | 'saturation' | 'hue', factor: number, s = sample, pixels?: 'symmetric'): Float32Array => applyDetectionAugment(s, { ...plan([0, 0, 1, 1]), photometric: [{ kind, factor }] }, { pixels }).image;
    near(run('brightness', 1.1), [0.55, 1, 0.22, 1, 0, 0], 'brightness 1.1');
    // grey levels 0.299·0.5 + 0.587·0.95 + 0.114·0.2 = 0.72995 and 0.299: mean 0.514475
    const mean = (0.72995 + 0.299) / 2;
    near(run('contrast', 0.5), [0.5, 0.95, 0.2, 1, 0, 0].map((v) => 0.5 * v + 0.5 * mean), 'contrast 0.5');
    near(run('saturation', 0), [0.72995, 0.72995, 0.72995, 0.299, 0.299, 0.299], 'saturation 0');
    near(run('hue', 1 / 3).subarray(3), [0, 1, 0], 'red shifted a third of a turn');
    near(shiftHue(0.5, 0.95, 0.2, -1 / 3), [0.95, 0.2, 0.5], 'a third of a turn back');
    const symmetric = { ...sample, image: Float32Array.from([0, 0.9, -0.6, 1, -1, -1]) };
    near(run('brightness', 1.1, symmetric, 'symmetric'), [0.1, 1, -0.56, 1, -1, -1], 'brightness on −1..1');
  });

  it('drawn plans: the same seed draws the same plan; crops keep a centre and reach the IoU; zoom-out stays within 4×', () => {
    const sample = redRectangle();
    const options = { expand: { p: 0.5 }, crop: { minIous: [0.5] }, flip: true, photometric: true } as const;
    assert.deepEqual(drawDetectionAugment(sample, new Random(5), options), drawDetectionAugment(sample, new Random(5), options));
    let crops = 0;
    for (let seed = 0; seed < 200; seed++) {
      const p = drawDetectionAugment(sample, new Random(seed), { crop: { minIous: [0.5] } });
      if (!p.centreRule) continue;
      crops++;
      const [y0, x0, y1, x1] = p.window;
      assert.ok(y0 >= 0 && x0 >= 0 && y1 <= 1 && x1 <= 1, `seed ${seed}: window inside the image`);
      assert.ok(y1 - y0 >= 0.3 - 1e-9 && x1 - x0 >= 0.3 - 1e-9, `seed ${seed}: scale ≥ 0.3`);
      const aspect = (x1 - x0) / (y1 - y0);
      assert.ok(aspect >= 0.5 && aspect <= 2, `seed ${seed}: aspect ${aspect}`);
      // the IoU worked here: the rectangle [0.25, 0.125, 0.5, 0.625] against the window
      const inter = Math.max(0, Math.min(0.5, y1) - Math.max(0.25, y0)) * Math.max(0, Math.min(0.625, x1) - Math.max(0.125, x0));
      assert.ok(inter / (0.125 + (y1 - y0) * (x1 - x0) - inter) >= 0.5, `seed ${seed}: IoU`);
      assert.equal(moveBoxes(sample, p).classes.length, 1);
    }
    assert.ok(crops > 20, `${crops} crops in 200 draws`);
    for (let seed = 0; seed < 50; seed++) {
      const [y0, x0, y1, x1] = drawDetectionAugment(sample, new Random(seed), { expand: { p: 1 } }).window;
      assert.ok(y0 <= 0 && x0 <= 0 && y1 >= 1 && x1 >= 1 && y1 - y0 <= 4 && Math.abs(y1 - y0 - (x1 - x0)) < 1e-12, `seed ${seed}: [${[y0, x0, y1, x1].join(', ')}]`);
    }
  });

  it('a batch: each image with its own boxes, nothing drawn when every option is off; bad options refused', () => {
    const a = redRectangle();
    const images = new Tensor([2, 16, 16, 3], Float32Array.from([...a.image, ...a.image]));
    const same = augmentDetectionBatch(images, [a, { boxes: new Float32Array(0), classes: new Int32Array(0) }], new Random(1));
    assert.deepEqual(same.images.data, images.data);
    assert.equal(same.truths[1].classes.length, 0);
    const flipped = augmentDetectionBatch(images, [a, a], new Random(1), { flip: 1 });
    near(flipped.truths[1].boxes, [4 / 16, 6 / 16, 8 / 16, 14 / 16], 'second image flipped');
    assert.throws(() => drawDetectionAugment(a, new Random(1), { flip: 2 }), (e: unknown) => e instanceof ConfigError && /flip probability must be in \[0, 1\], got 2/.test(e.message));
    assert.throws(() => drawDetectionAugment(a, new Random(1), { crop: { minIous: [1.5] } }), ConfigError);
    assert.throws(() => drawDetectionAugment(a, new Random(1), { expand: { maxRatio: 0.5 } }), ConfigError);
  });
});
