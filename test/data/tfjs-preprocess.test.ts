// Preprocessing presets: bilinear resize in the three coordinate conventions against tfjs-core's
// resizeBilinear, torchvision's shorter-side resize and centre-crop offsets, input ranges and PreprocessOptions.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { applyPreset, centerCrop, kerasPreset, resizeBilinearWith, scaleToRange, shorterSideSize, tfjsPreset, toPreprocessOptions, torchvisionPreset } from '../../src/data/preprocess-presets.js';
import type { ResizeCoordinates } from '../../src/data/preprocess-presets.js';
import { preprocessImage } from '../../src/data/preprocess.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../support/helpers.js';
import { ready, tf } from '../support/tfjs-reference.js';

function image(h: number, w: number, c: number, seed: number): Float32Array {
  const data = new Float32Array(h * w * c);
  new Random(seed).fillUniform(data, 0, 255);
  return data.map(Math.round);
}

describe('preprocessing presets', () => {
  before(ready);

  test('bilinear resize matches tfjs-core for half-pixel, align-corners and asymmetric coordinates, up and down', () => {
    const conventions: [ResizeCoordinates, boolean, boolean][] = [['half-pixel', false, true], ['align-corners', true, false], ['asymmetric', false, false]];
    for (const [h, w, th, tw] of [[7, 9, 16, 13], [20, 17, 6, 5], [5, 5, 1, 3]]) {
      const pixels = image(h, w, 3, h);
      for (const [coordinates, alignCorners, halfPixelCenters] of conventions) {
        const ours = new Tensor([th, tw, 3], resizeBilinearWith(pixels, [h, w, 3], [th, tw], coordinates));
        const theirs = tf.image.resizeBilinear(tf.tensor3d(pixels, [h, w, 3]), [th, tw], alignCorners, halfPixelCenters);
        assertClose(ours, new Tensor([th, tw, 3], theirs.dataSync() as Float32Array), 1e-6, `${coordinates} ${h}×${w}→${th}×${tw}`);
        theirs.dispose();
      }
    }
  });

  test("torchvision: shorter side to 256, centre crop with Python's round-half-even offsets, ImageNet mean/std", () => {
    assert.deepEqual(shorterSideSize([480, 640, 3], 256), [256, 341]);
    assert.deepEqual(shorterSideSize([500, 375, 3], 256), [341, 256]);
    // offsets round(1.5) = 2 and round(0.5) = 0
    const pixels = Float32Array.from({ length: 6 * 5 }, (_, i) => i);
    assert.deepEqual([...centerCrop(pixels, [6, 5, 1], [3, 4])], [10, 11, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23]);
    const { data, shape } = applyPreset(image(300, 400, 3, 1), [300, 400, 3], torchvisionPreset());
    assert.deepEqual(shape, [224, 224, 3]);
    assert.equal(data.length, 224 * 224 * 3);
    assert.equal(toPreprocessOptions(torchvisionPreset()), undefined, 'a crop is beyond PreprocessOptions');
  });

  test('Keras: x/127.5 − 1 after a half-pixel resize, the same as preprocessImage with the equivalent options', () => {
    const pixels = image(40, 30, 3, 2);
    const preset = kerasPreset(32);
    const options = toPreprocessOptions(preset)!;
    assert.deepEqual(options, { size: [32, 32], fit: 'bilinear', pixels: 'symmetric' });
    assert.deepEqual(applyPreset(pixels, [40, 30, 3], preset).data, preprocessImage(pixels, [40, 30, 3], options));
  });

  test('TF.js inputRange: x·(max − min)/255 + min in float32, as tfjs models normalise', () => {
    const pixels = image(4, 4, 3, 3);
    for (const range of [[-1, 1], [0, 1], [-0.5, 2]] as [number, number][]) {
      const ours = scaleToRange(pixels.slice(), range);
      const theirs = tf.add(tf.mul(tf.tensor1d(pixels), (range[1] - range[0]) / 255), range[0]).dataSync();
      assert.deepEqual(ours, theirs, `range ${range}`);
    }
    const preset = tfjsPreset(16, [0, 1]);
    assert.equal(toPreprocessOptions(preset), undefined, 'align-corners is beyond PreprocessOptions');
    assert.deepEqual(toPreprocessOptions({ ...preset, coordinates: 'half-pixel' }), { size: [16, 16], fit: 'bilinear', pixels: 'unit' });
    const mapped = toPreprocessOptions({ resize: { size: [4, 4] }, pixels: { inputRange: [-0.5, 2] } })!;
    assertClose(new Tensor([48], preprocessImage(pixels, [4, 4, 3], mapped)), new Tensor([48], scaleToRange(pixels.slice(), [-0.5, 2])), 1e-6, 'range as mean/std');
  });
});
