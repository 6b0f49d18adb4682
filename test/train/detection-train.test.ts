// Training a detector: a tiny two-output SSD on generated scenes of coloured squares learns (loss falls, anchors
// classified); a run stopped mid-epoch and resumed ends bit-equal to the uninterrupted run (augmentation on); refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, ShapeError } from '../../src/errors.js';
import { ssdAnchors } from '../../src/detect/anchors.js';
import type { DetectionHead } from '../../src/detect/types.js';
import { Model } from '../../src/graph/model.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { Conv2D } from '../../src/nn/conv.js';
import { Reshape, input } from '../../src/nn/core.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { detectionTargets } from '../../src/train/detection-targets.js';
import { evaluateDetectionSet, trainDetector } from '../../src/train/trainer.js';
import type { DetectionData, TrainConfig } from '../../src/train/trainer.js';
import { assertExactResume } from '../support/trainer-resume.js';

const SIZE = 16;
const CLASSES = ['background', 'red', 'green'];
const GRID = 4;
/** Anchors on the 4×4 map: scale 0.4 at ratios 1, 2, 1/2 and the interpolated √0.4 square: 4 per cell. */
const ANCHORS = ssdAnchors({ featureMaps: [[GRID, GRID]], scales: [0.4], aspectRatios: [1, 2, 0.5], reduceBoxesInLowestLayer: false });
const PER_CELL = 4;
const COUNT = GRID * GRID * PER_CELL;

/** An SSD in miniature: two strided convs with BN and ReLU6 to a 4×4 map, 1×1 class and box heads reshaped per anchor. */
function tinyDetector(seed = 1): Model {
  const x = input([SIZE, SIZE, 3]);
  let y = x;
  for (const name of ['features_1', 'features_2']) {
    y = new Conv2D(name, { filters: 8, kernelSize: 3, strides: 2, padding: 'same' }).apply(y);
    y = new ReLU6(`${name}_relu`).apply(new BatchNormalization(`${name}_bn`).apply(y));
  }
  const scores = new Reshape('scores', [COUNT, CLASSES.length]).apply(new Conv2D('class_head', { filters: PER_CELL * CLASSES.length, kernelSize: 1, useBias: true }).apply(y));
  const boxes = new Reshape('boxes', [COUNT, 4]).apply(new Conv2D('box_head', { filters: PER_CELL * 4, kernelSize: 1, useBias: true }).apply(y));
  const model = new Model(x, { scores, boxes }, { seed, name: 'tiny_ssd' });
  const head: DetectionHead = { anchors: ANCHORS, scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } };
  model.metadata.detection = head;
  return model;
}

/** `count` 16×16 scenes: noise, then one or two squares of 5–8 pixels, red (class 1) or green (class 2), their boxes normalized. */
function tinyScenes(count: number, seed: number): DetectionData {
  const random = new Random(seed);
  const images = new Tensor([count, SIZE, SIZE, 3]);
  const objects = [];
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < SIZE * SIZE * 3; p++) images.data[n * SIZE * SIZE * 3 + p] = 0.3 * random.uniform();
    const boxes: number[] = [];
    const classes: number[] = [];
    for (let k = 0; k < 1 + (n % 2); k++) {
      const side = 5 + Math.floor(random.uniform() * 4);
      const [top, left] = [Math.floor(random.uniform() * (SIZE - side)), Math.floor(random.uniform() * (SIZE - side))];
      const label = 1 + Math.floor(random.uniform() * 2);
      for (let yy = top; yy < top + side; yy++) for (let xx = left; xx < left + side; xx++) images.data.set(label === 1 ? [1, 0, 0] : [0, 1, 0], ((n * SIZE + yy) * SIZE + xx) * 3);
      boxes.push(top / SIZE, left / SIZE, (top + side) / SIZE, (left + side) / SIZE);
      classes.push(label);
    }
    objects.push({ boxes: Float32Array.from(boxes), classes: Int32Array.from(classes) });
  }
  return { images, objects, classNames: CLASSES };
}

const CONFIG: TrainConfig = {
  epochs: 2,
  batchSize: 4,
  seed: 5,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
  schedule: { kind: 'cosine', lr: 0.05 },
  detectionAugment: { flip: true, crop: { minIous: [0.3, null] }, expand: { p: 0.5, maxRatio: 2 }, photometric: true },
  checkpointEvery: 2,
};

describe('trainDetector', () => {
  const trainSet = tinyScenes(12, 1);
  const testSet = tinyScenes(4, 2);

  it('stopped mid-epoch and resumed from its checkpoint, ends bit-equal to the uninterrupted run (augmentation on)', async () => {
    const uninterrupted = await assertExactResume(tinyDetector, (model, options, resume) => trainDetector(model, trainSet, testSet, CONFIG, options, resume), 6);
    // the augmentation took part: without it, the same run ends elsewhere
    const plain = tinyDetector();
    await trainDetector(plain, trainSet, testSet, { ...CONFIG, detectionAugment: undefined });
    assert.notDeepEqual(plain.weights().get('box_head.kernel')!.data, uninterrupted.weights().get('box_head.kernel')!.data);
  });

  it('learns: the training loss falls to under half, the test loss well below the untrained model\'s', async () => {
    const model = tinyDetector();
    const before = await evaluateDetectionSet(model, testSet);
    const state = await trainDetector(model, trainSet, testSet, { ...CONFIG, epochs: 20, detectionAugment: undefined, schedule: { kind: 'constant', lr: 0.05 } });
    const losses = state.history.map((r) => r.trainLoss);
    const last = state.history[state.history.length - 1].test;
    assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `train loss ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
    assert.ok(last.loss < 0.8 * before.loss, `test loss ${before.loss} → ${last.loss}`);
    // the best epoch is the best test mAP
    const maps = state.history.map((r) => ('anchorAccuracy' in r.test ? r.test.map : NaN));
    assert.equal(state.bestTop1, Math.max(...maps));
    assert.equal(state.bestEpoch, maps.indexOf(Math.max(...maps)) + 1);
  });

  it('evaluation of perfect outputs (the targets themselves, logits ±10): mAP and AP50 1, the loss worked by hand', async () => {
    const model = tinyDetector();
    const head = model.metadata.detection!;
    const targets = testSet.objects.map((truth) => detectionTargets(head, truth));
    const predictOutputs = (x: Tensor): Record<string, Tensor> => {
      assert.equal(x.shape[0], 4, 'the whole set in one batch');
      const scores = new Tensor([4, COUNT, 3]);
      targets.forEach((t, n) => t.classes.forEach((c, a) => [0, 1, 2].forEach((k) => (scores.data[(n * COUNT + a) * 3 + k] = k === c ? 10 : -10))));
      return { scores, boxes: new Tensor([4, COUNT, 4], Float32Array.from(targets.flatMap((t) => [...t.boxCodes]))) };
    };
    const r = await evaluateDetectionSet(model, testSet, { batchSize: 4, predictOutputs });
    assert.equal(r.map, 1);
    assert.equal(r.ap50, 1);
    assert.equal(r.anchorAccuracy, 1);
    // every counted anchor (positives, and per image max(3, 3·positives) negatives) costs 3·log(1 + e⁻¹⁰); no box loss
    const positives = targets.map((t) => t.matches);
    const counted = targets.reduce((sum, t, n) => sum + positives[n] + Math.min(t.classes.filter((c) => c === 0).length, Math.max(3, 3 * positives[n])), 0);
    const total = positives.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(r.loss - (3 * Math.log1p(Math.exp(-10)) * counted) / total) < 1e-9, `loss ${r.loss}`);
  });

  it('refuses a model without a detection head, objects that do not cover the images, and class slots that differ', async () => {
    const plain = tinyDetector();
    plain.metadata = {};
    await assert.rejects(trainDetector(plain, trainSet, testSet, CONFIG), (e: Error) => e instanceof ConfigError && /tiny_ssd is not a detector/.test(e.message));
    const short = { ...trainSet, objects: trainSet.objects.slice(1) };
    await assert.rejects(trainDetector(tinyDetector(), short, testSet, CONFIG), (e: Error) => e instanceof ShapeError && /training set: 11 images' objects for 12 images/.test(e.message));
    const fewer = { ...testSet, classNames: CLASSES.slice(0, 2) };
    await assert.rejects(trainDetector(tinyDetector(), trainSet, fewer, CONFIG), (e: Error) => e instanceof ShapeError && /test set: 2 class slots .* the model scores 3/.test(e.message));
  });
});
