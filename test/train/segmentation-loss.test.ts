// The segmentation loss against hand-worked values and torch's CrossEntropyLoss(weight, ignore_index=255) definition
// written out in float64, and its gradient against central differences; the refusals name the pixel or the weight.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, ShapeError } from '../../src/errors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Random } from '../../src/tensor/random.js';
import { segmentationCrossEntropy } from '../../src/train/segmentation-loss.js';
import { assertGradient, numericGradient, operand } from '../support/gradient-check.js';

const LN2 = Math.log(2);
/** Two pixels of two classes: z = (0, 0) labelled 0 (p = ½), z = (ln 3, 0) labelled 1 (p = ¼); a third, ignored pixel. */
const LOGITS = new Tensor([1, 1, 3, 2], Float32Array.from([0, 0, Math.log(3), 0, 5, -2]));
const LABELS = [0, 1, 255];

const close = (actual: ArrayLike<number>, expected: number[], what: string, tol = 1e-6): void => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

/** torch's definition, mean reduction: Σ w[y]·(−log softmax(z)[y]) / Σ w[y] over pixels whose label is not 255. */
function torchDefinition(z: Float64Array, k: number, labels: readonly number[], weights: readonly number[]): number {
  let num = 0;
  let den = 0;
  labels.forEach((y, p) => {
    if (y === 255) return;
    const row = z.subarray(p * k, (p + 1) * k);
    const logp = row[y] - Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    num += -weights[y] * logp;
    den += weights[y];
  });
  return num / den;
}

describe('segmentationCrossEntropy', () => {
  it('is the mean over counted pixels, ignored pixels giving neither loss nor gradient (worked by hand)', () => {
    const { loss, gradient, pixels } = segmentationCrossEntropy(LOGITS, LABELS);
    // (ln 2 + ln 4) / 2; gradient (softmax − one-hot) / 2 per pixel
    assert.ok(Math.abs(loss - 1.5 * LN2) < 1e-7, `loss ${loss}`);
    assert.equal(pixels, 2);
    assert.deepEqual(gradient.shape, [1, 1, 3, 2]);
    close(gradient.data, [-0.25, 0.25, 0.375, -0.375, 0, 0], 'gradient');
  });

  it('with class weights is the weighted mean, as torch divides by the summed weights (worked by hand)', () => {
    const { loss, gradient } = segmentationCrossEntropy(LOGITS, LABELS, { classWeights: [1, 3] });
    // (1·ln 2 + 3·ln 4) / (1 + 3) = 7/4 ln 2
    assert.ok(Math.abs(loss - 1.75 * LN2) < 1e-7, `loss ${loss}`);
    close(gradient.data, [-0.125, 0.125, 0.5625, -0.5625, 0, 0], 'gradient');
  });

  it('gives 0 and a zero gradient when every pixel is ignored (torch: NaN)', () => {
    const { loss, gradient, pixels } = segmentationCrossEntropy(LOGITS, [255, 255, 255]);
    assert.equal(loss, 0);
    assert.equal(pixels, 0);
    assert.ok(gradient.data.every((v) => v === 0));
  });

  it('matches torch\'s definition and its gradient matches central differences on random logits', () => {
    const shape = [2, 3, 4, 5];
    const k = 5;
    const z = operand(shape, 11, -3, 3);
    const random = new Random(5);
    const labels = Array.from({ length: 2 * 3 * 4 }, () => (random.uniform() < 0.2 ? 255 : Math.floor(random.uniform() * k)));
    const weights = [0.5, 1, 2, 0.25, 1.5];
    for (const classWeights of [undefined, weights]) {
      const w = classWeights ?? [1, 1, 1, 1, 1];
      const { loss, gradient } = segmentationCrossEntropy(z.t, labels, { classWeights });
      const reference = torchDefinition(z.d, k, labels, w);
      assert.ok(Math.abs(loss - reference) < 1e-6 * Math.max(1, reference), `loss ${loss} vs ${reference}`);
      const numeric = numericGradient(() => torchDefinition(z.d, k, labels, w), z.d);
      assertGradient(gradient, numeric, classWeights ? 'weighted gradient' : 'gradient', 1e-5);
    }
  });

  it('refuses labels outside the classes, masks of another size and bad weights, naming what is wrong', () => {
    assert.throws(() => segmentationCrossEntropy(LOGITS, [0, 2, 255]), (e: Error) => e instanceof ConfigError && /label 2 at sample 0, pixel \(y 0, x 1\) is neither a class in \[0, 2\) nor the ignore label 255/.test(e.message));
    assert.throws(() => segmentationCrossEntropy(LOGITS, [0, 1]), (e: Error) => e instanceof ShapeError && /2 mask labels for logits \[1, 1, 3, 2\], which need N·H·W = 3/.test(e.message));
    assert.throws(() => segmentationCrossEntropy(new Tensor([3, 2]), [0, 1, 0]), (e: Error) => e instanceof ShapeError && /\[N, H, W, classes\]/.test(e.message));
    assert.throws(() => segmentationCrossEntropy(LOGITS, LABELS, { classWeights: [1] }), (e: Error) => e instanceof ConfigError && /1 weights for 2 classes/.test(e.message));
    assert.throws(() => segmentationCrossEntropy(LOGITS, LABELS, { classWeights: [1, -1] }), (e: Error) => e instanceof ConfigError && /weight of class 1 is -1/.test(e.message));
  });
});
