// A new SSD head at the class prior: the prior's logits worked by hand, a new SSDLite whose every anchor scores them
// and whose first loss is the prior's (worked by hand), the kernels' draw, refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError } from '../../src/errors.js';
import { ssdLite } from '../../src/models/ssd.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { classPriorLogits, initDetectionHead } from '../../src/train/detection-init.js';
import { detectionLoss } from '../../src/train/detection-loss.js';
import { detectionTargets } from '../../src/train/detection-targets.js';

/** An SSDLite on 64×64 grey images with 2 classes (3 slots). */
const detector = () => ssdLite({ backbone: 'mobilenet_v2', alpha: 0.35, resolution: 64, inputChannels: 1, classes: 2, seed: 3 });

/** Two images, one object each: boxes the matcher surely matches (large, centred) and classes 1 and 2. */
const TRUTHS = [
  { boxes: Float32Array.from([0.2, 0.2, 0.8, 0.8]), classes: Int32Array.from([1]) },
  { boxes: Float32Array.from([0.1, 0.3, 0.6, 0.7]), classes: Int32Array.from([2]) },
];

describe('detection head init', () => {
  it('the prior logits: background 3/4 and each class 1/(4K) of the counted anchors (3:1 mining)', () => {
    // 2 classes: probabilities 3/4, 1/8, 1/8
    assert.deepEqual(Array.from(classPriorLogits(3)), [Math.log(3), Math.log(1 / 7), Math.log(1 / 7)].map(Math.fround));
    assert.deepEqual(Array.from(classPriorLogits(3, { classification: 'softmax' })), [Math.log(3 / 4), Math.log(1 / 8), Math.log(1 / 8)].map(Math.fround));
    // 1:1 mining, 10 classes: background 1/2, each class 1/20
    assert.deepEqual(Array.from(classPriorLogits(11, { negativesPerPositive: 1 })).slice(0, 2), [0, Math.log(1 / 19)].map(Math.fround));
    assert.throws(() => classPriorLogits(1), ConfigError);
    assert.throws(() => classPriorLogits(3, { negativesPerPositive: 0 }), ConfigError);
  });

  it('a new SSDLite scores the prior at every anchor, and its first loss is the prior\'s', () => {
    const x = new Tensor([2, 64, 64, 1], new Random(1).fillUniform(new Float32Array(2 * 64 * 64), -1, 1));
    const lossOf = (model: ReturnType<typeof detector>): number => {
      const head = model.metadata.detection!;
      const outputs = model.predictOutputs(x);
      return detectionLoss(outputs.scores, outputs.boxes, TRUTHS.map((t) => detectionTargets(head, t))).loss;
    };
    const model = detector();
    const names = initDetectionHead(model, { kernelStd: 0 });
    assert.ok(names.includes('class_predictor_0.bias') && names.includes('box_predictor_5.kernel'), names.join(', '));
    const scores = model.predictOutputs(x).scores;
    for (let i = 0; i < scores.data.length; i += 3) assert.deepEqual(Array.from(scores.data.subarray(i, i + 3)), Array.from(classPriorLogits(3)), `anchor ${i / 3}`);
    // per positive: −ln(1/8) − ln(1 − 3/4) − ln(1 − 1/8); per negative (3 each): −ln(3/4) − 2·ln(1 − 1/8); box codes all 0
    const head = model.metadata.detection!;
    const targets = TRUTHS.map((t) => detectionTargets(head, t));
    const boxTerm = targets.reduce((sum, t) => sum + t.boxCodes.reduce((s, c) => s + (Math.abs(c) < 1 ? 0.5 * c * c : Math.abs(c) - 0.5), 0), 0);
    const matches = targets.reduce((sum, t) => sum + t.matches, 0);
    const prior = Math.log(8) + Math.log(4) + Math.log(8 / 7) + 3 * (Math.log(4 / 3) + 2 * Math.log(8 / 7));
    const initial = lossOf(model);
    assert.ok(Math.abs(initial - (prior + boxTerm / matches)) < 1e-5, `loss ${initial}, the prior's ${prior} + box ${boxTerm / matches}`);
  });

  it('draws the kernels from N(0, kernelStd²), seeded', () => {
    const [a, b] = [detector(), detector()];
    initDetectionHead(a, { seed: 4 });
    initDetectionHead(b, { seed: 4 });
    const kernel = a.weights().get('class_predictor_1.kernel')!.data;
    assert.deepEqual(kernel, b.weights().get('class_predictor_1.kernel')!.data);
    const std = Math.sqrt(kernel.reduce((s, v) => s + v * v, 0) / kernel.length);
    assert.ok(Math.abs(std - 0.03) < 0.003, `std ${std}`);
  });

  it('refuses a model that is not an SSD', () => {
    assert.throws(() => initDetectionHead(mobilenetV2({ alpha: 0.35, resolution: 32, classes: 3 })), (e: Error) => e instanceof ConfigError && /is not a detector/.test(e.message));
  });
});
