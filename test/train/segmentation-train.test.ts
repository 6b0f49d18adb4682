// Training a segmenter: a run stopped mid-epoch and resumed ends bit-equal to the uninterrupted run (weights, optimizer
// state, log); the per-epoch evaluation against a hand-worked confusion matrix; it learns; the refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ShapeError } from '../../src/errors.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { Conv2D } from '../../src/nn/conv.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { Resize } from '../../src/nn/resize.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { evaluateSegmentation, trainSegmenter } from '../../src/train/trainer.js';
import type { SegmentationData, TrainConfig } from '../../src/train/trainer.js';
import { assertExactResume } from '../support/trainer-resume.js';

const SIZE = 8;
const CLASSES = ['background', 'red', 'green'];

/** A DeepLab in miniature: a strided conv, BN, ReLU6, 1×1 logits, bilinear resize back to the input. */
function tinySegmenter(seed = 1): Model {
  const x = input([SIZE, SIZE, 3]);
  let y = new Conv2D('features', { filters: 6, kernelSize: 3, strides: 2, padding: 'same' }).apply(x);
  y = new ReLU6('features_relu').apply(new BatchNormalization('features_bn').apply(y));
  y = new Conv2D('logits', { filters: CLASSES.length, kernelSize: 1, useBias: true }).apply(y);
  return new Model(x, new Resize('upsample', { size: [SIZE, SIZE] }).apply(y), { seed });
}

/** Scenes of `count` 8×8 images: a noisy background with a red and a green square, their pixels labelled 1 and 2, a void border. */
function tinyScenes(count: number, seed: number): SegmentationData {
  const random = new Random(seed);
  const images = new Tensor([count, SIZE, SIZE, 3]);
  const masks = new Uint8Array(count * SIZE * SIZE);
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) images.data[(n * SIZE * SIZE + p) * 3 + c] = 0.3 * (random.uniform() - 0.5);
    for (const label of [1, 2]) {
      const [top, left] = [Math.floor(random.uniform() * 5), Math.floor(random.uniform() * 5)];
      for (let y = top; y < top + 3; y++)
        for (let x = left; x < left + 3; x++) {
          const p = n * SIZE * SIZE + y * SIZE + x;
          masks[p] = label;
          images.data[p * 3 + label - 1] += 1;
        }
    }
    masks[n * SIZE * SIZE + SIZE * SIZE - 1] = 255;
  }
  return { images, masks, classNames: CLASSES };
}

const CONFIG: TrainConfig = {
  epochs: 2,
  batchSize: 4,
  seed: 3,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
  schedule: { kind: 'cosine', lr: 0.1 },
  classWeights: [0.5, 1, 2],
  segmentationAugment: { scale: [0.75, 1.5], flip: true },
  checkpointEvery: 2,
};

describe('trainSegmenter', () => {
  const trainSet = tinyScenes(12, 1);
  const testSet = tinyScenes(4, 2);

  it('stopped mid-epoch and resumed from its checkpoint, ends bit-equal to the uninterrupted run (scale and flip augmentation on)', async () => {
    const uninterrupted = await assertExactResume(tinySegmenter, (model, options, resume) => trainSegmenter(model, trainSet, testSet, CONFIG, options, resume), 6);
    // the augmentation took part: without it, the same run ends elsewhere
    const plain = tinySegmenter();
    await trainSegmenter(plain, trainSet, testSet, { ...CONFIG, segmentationAugment: undefined });
    assert.notDeepEqual(plain.weights().get('logits.kernel')!.data, uninterrupted.weights().get('logits.kernel')!.data);
  });

  it('learns: test mIoU and pixel accuracy rise over the run, and the best epoch is the best mIoU', async () => {
    const model = tinySegmenter();
    const before = await evaluateSegmentation(model, testSet);
    const state = await trainSegmenter(model, trainSet, testSet, { ...CONFIG, epochs: 8, classWeights: undefined, segmentationAugment: undefined });
    const last = state.history[state.history.length - 1].test;
    assert.ok('miou' in last);
    assert.ok(last.miou > before.miou + 0.2, `mIoU ${before.miou} → ${last.miou}`);
    assert.ok(last.pixelAccuracy > 0.8, `pixel accuracy ${last.pixelAccuracy}`);
    const scores = state.history.map((r) => ('miou' in r.test ? r.test.miou : NaN));
    assert.equal(state.bestTop1, Math.max(...scores));
    assert.equal(state.bestEpoch, scores.indexOf(Math.max(...scores)) + 1);
  });

  it('evaluates batch by batch to the hand-worked confusion matrix, mIoU and pixel accuracy', async () => {
    // two 2×2 images, logits one-hot on the predicted class; image 0's last pixel is void
    const truth = Uint8Array.from([0, 0, 1, 255, 2, 2, 1, 0]);
    const predicted = [0, 1, 1, 2, 2, 0, 1, 0];
    const data: SegmentationData = { images: new Tensor([2, 2, 2, 1], Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7])), masks: truth, classNames: CLASSES };
    const predict = (x: Tensor): Tensor => {
      const logits = new Tensor([x.shape[0], 2, 2, 3]);
      // each image's pixel values name its pixel index, so the logits depend on the batch's content, not its position
      x.data.forEach((v, i) => (logits.data[i * 3 + predicted[v]] = 1));
      return logits;
    };
    const r = await evaluateSegmentation({ outputShape: [2, 2, 3] }, data, { predict, batchSize: 1 });
    assert.deepEqual(r.confusion, [[2, 1, 0], [0, 2, 0], [1, 0, 1]]);
    assert.ok(Math.abs(r.miou - 5 / 9) < 1e-12 && Math.abs(r.pixelAccuracy - 5 / 7) < 1e-12, JSON.stringify(r));
  });

  it('refuses masks that do not cover the images and a model whose logits do not fit them', async () => {
    const short = { ...trainSet, masks: trainSet.masks.subarray(1) };
    await assert.rejects(trainSegmenter(tinySegmenter(), short, testSet, CONFIG), (e: Error) => e instanceof ShapeError && /training set: 767 mask labels for 12 images of 8×8, which need 768/.test(e.message));
    const fewer = { ...testSet, classNames: CLASSES.slice(0, 2) };
    await assert.rejects(trainSegmenter(tinySegmenter(), trainSet, fewer, CONFIG), (e: Error) => e instanceof ShapeError && /test set: 2 classes .* the model outputs 3/.test(e.message));
    const x = input([SIZE, SIZE, 3]);
    const classifier = new Model(x, new Conv2D('c', { filters: 3, kernelSize: 8, padding: 'valid' }).apply(x));
    await assert.rejects(trainSegmenter(classifier, trainSet, testSet, CONFIG), (e: Error) => e instanceof ShapeError && /per-pixel logits \[8, 8, classes\] for 8×8 images, the model's is \[1, 1, 3\]/.test(e.message));
  });
});
