// Whole-model training forward and backward: PyTorch's golden training step of the tiny MobileNetV2 (loss,
// logits, every gradient, BN running statistics), and finite differences through a small graph with residual fan-out.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../src/graph/model.js';
import type { TrainOptions } from '../../src/graph/model.js';
import { loadTorchStateDict, torchParams } from '../../src/io/torch-names.js';
import { decodeNpy } from '../../src/io/npy.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { ReLU, Softmax } from '../../src/nn/activation.js';
import { Add, Dense, Dropout, Flatten, Reshape, ZeroPadding2D, input } from '../../src/nn/core.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { AveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, toLayout, transpose } from '../../src/tensor/tensor.js';
import { numericGradient } from '../support/gradient-check.js';
import { GOLDEN, goldenTensors } from '../support/helpers.js';

const TRAIN = 'train/mnv2_035_32_c10';

/** |a − b| ≤ tol·max|b| + floor over a tensor; returns the error relative to max|b|. */
function gradientError(actual: Tensor, expected: Tensor, what: string, tol: number, floor: number): number {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shape`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.size; i++) {
    scale = Math.max(scale, Math.abs(expected.data[i]));
    const d = Math.abs(actual.data[i] - expected.data[i]);
    if (!(d <= worst)) worst = d;
  }
  assert.ok(worst <= tol * scale + floor, `${what}: max |a − b| = ${worst.toExponential(3)} > ${tol}·${scale.toExponential(3)} + ${floor}`);
  return scale > 0 ? worst / scale : worst;
}

describe('golden training step: torchvision mobilenet_v2(0.35), 32×32, 10 classes, batch 4, train mode', () => {
  const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, dropout: 0 });
  loadTorchStateDict(model, goldenTensors(`models/mnv2_035_32_c10/weights.safetensors`) /* byte-identical to the train case's weights_init */);
  const read = (f: string): Buffer => readFileSync(join(GOLDEN, TRAIN, f));
  const x = decodeNpy(read('input.npy'), 'input.npy');
  const labels: number[] = JSON.parse(read('labels.json').toString()).labels;
  const step = model.forwardBackward(x, labels, { layout: 'NCHW' });
  const params = torchParams(model);

  it('loss and logits', () => {
    const expected = JSON.parse(read('loss.json').toString()).loss;
    // float32 noise: a 1-ulp change of the input moves this loss by ~5e-5 (BatchNorm over 4 values from features.14 on)
    assert.ok(Math.abs(step.loss - expected) < 2e-4, `loss ${step.loss} vs ${expected}`);
    gradientError(step.logits, decodeNpy(read('logits_train.npy'), 'logits_train.npy'), 'logits', 1e-3, 0);
  });

  it("every parameter's gradient within the README's per-tensor tolerance", () => {
    const grads = goldenTensors(`${TRAIN}/grads.safetensors`);
    const zeroInTheory = new Set<string>(JSON.parse(read('case.json').toString()).verification.grads_mathematically_zero_in_f64);
    const trained = params.filter((p) => !/running_(mean|var)$/.test(p.torch));
    assert.equal(step.grads.size, trained.length, 'a gradient for every trainable parameter');
    assert.equal(grads.size, trained.length);
    for (const p of trained) {
      const ours = step.grads.get(p.ours);
      assert.ok(ours, `no gradient for ${p.ours}`);
      const asTorch = p.toTorch ? transpose(ours, p.toTorch) : ours;
      // projection BN β: exactly zero in exact arithmetic, so only rounding noise on both sides
      if (zeroInTheory.has(p.torch)) gradientError(asTorch, grads.get(p.torch)!, p.torch, 0, 1e-4);
      else gradientError(asTorch, grads.get(p.torch)!, `${p.torch} (${p.ours})`, 5e-3, 1e-4);
    }
  });

  it('BatchNorm running statistics after the forward (momentum 0.1, unbiased variance)', () => {
    const running = goldenTensors(`${TRAIN}/bn_running_after_forward.safetensors`);
    const own = model.weights();
    const stats = params.filter((p) => /running_(mean|var)$/.test(p.torch));
    assert.equal(stats.length, running.size);
    for (const p of stats) {
      const expected = running.get(p.torch)!;
      let scale = 1;
      for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
      gradientError(own.get(p.ours)!, expected, p.torch, 0, 1e-4 * scale);
    }
  });
});

/** input → conv → BN → add(input) → add(1×1 conv of input) → pad → depthwise ×2 stride 2 → BN → avg pool → flatten → dropout → dense. */
function smallGraph(withSoftmax = false): Model {
  const x = input([5, 6, 4]);
  const a = new BatchNormalization('bn_a', { epsilon: 1e-3, momentum: 0.9 }).apply(new Conv2D('conv_a', { filters: 4, kernelSize: 3, padding: 'same' }).apply(x));
  const sum1 = new Add('add_1').apply([x, a]);
  const sum2 = new Add('add_2').apply([sum1, new Conv2D('conv_b', { filters: 4, kernelSize: 1, useBias: false }).apply(x)]);
  const padded = new ZeroPadding2D('pad', [0, 1, 1, 0]).apply(sum2);
  const dw = new DepthwiseConv2D('dw', { kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'valid' }).apply(padded);
  const pooled = new AveragePooling2D('avg', { poolSize: 2, strides: 1, padding: 'same' }).apply(new BatchNormalization('bn_b').apply(dw));
  let y = new Dense('dense', { units: 3 }).apply(new Dropout('dropout', 0.25).apply(new Flatten('flatten').apply(pooled)));
  if (withSoftmax) y = new Softmax('softmax').apply(y);
  const model = new Model(x, y, { seed: 3 });
  // non-trivial BN parameters and moving statistics
  const rng = new Random(4);
  for (const [name, t] of model.weights()) {
    if (/(gamma|moving_variance)$/.test(name)) rng.fillUniform(t.data, 0.5, 1.5);
    else if (/(beta|moving_mean|bias)$/.test(name)) rng.fillUniform(t.data, -0.5, 0.5);
  }
  return model;
}

/** input → conv 3×3 with fused ReLU6 → max pool → ReLU → 1×1 conv → global max pool (keepDims) → reshape → dense. */
function piecewiseGraph(): Model {
  const x = input([6, 7, 3]);
  let y = new Conv2D('conv_1', { filters: 5, kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(x);
  y = new ReLU('relu').apply(new MaxPooling2D('max', { poolSize: 2, strides: 2, padding: 'same' }).apply(y));
  y = new GlobalMaxPooling2D('global_max', true).apply(new Conv2D('conv_2', { filters: 4, kernelSize: 1 }).apply(y));
  y = new Dense('dense', { units: 3 }).apply(new Reshape('reshape', [4]).apply(y));
  const model = new Model(x, y, { seed: 5 });
  for (const t of model.weights().values()) new Random(t.size).fillUniform(t.data, -1, 1);
  return model;
}

const X = new Tensor([3, 5, 6, 4], new Random(8).fillUniform(new Float32Array(3 * 5 * 6 * 4), -1, 1));
const LABELS = [2, 0, 1];

/** Central differences of the loss (float32 forward, eps 3e-3) at a few entries of every parameter and of the input. */
function checkAgainstFiniteDifferences(model: Model, options: TrainOptions & { labelSmoothing?: number }, x = X, eps = 3e-3): void {
  const run = (): number => model.forwardBackward(x, LABELS, { ...options, rng: new Random(9) }).loss;
  const step = model.forwardBackward(x, LABELS, { ...options, rng: new Random(9), inputGradient: true });
  const targets: [string, Float32Array, Tensor][] = [...model.trainableWeights()].map(([name, t]) => [name, t.data, step.grads.get(name)!]);
  targets.push(['input', x.data, step.input!]);
  for (const [name, values, grad] of targets) {
    assert.ok(grad, `no gradient for ${name}`);
    let scale = 0;
    for (const v of grad.data) scale = Math.max(scale, Math.abs(v));
    const picked = [0, 1, 2, 3, 4].map((k) => Math.floor((k * 0.618034 + 0.1) * values.length) % values.length);
    const numeric = numericGradient(run, values, eps, picked);
    for (const i of picked) {
      assert.ok(Math.abs(grad.data[i] - numeric[i]) <= 2e-3 * scale + 2e-4, `${name}[${i}]: ours ${grad.data[i]}, numeric ${numeric[i]} (max |g| ${scale})`);
    }
  }
}

describe('model backward through a small graph (fan-out of 3, two adds, padding, depthwise ×2, BN, pooling, flatten, dropout)', () => {
  it('training mode with label smoothing 0.1: every parameter and the input vs central differences', () => {
    const model = smallGraph();
    checkAgainstFiniteDifferences(model, { labelSmoothing: 0.1 });
  });

  it('frozen layers: no parameter gradients, input gradients still flow, frozen BatchNorm in inference mode', () => {
    const model = smallGraph();
    for (const name of ['conv_a', 'bn_a', 'dense']) model.getLayer(name).trainable = false;
    const frozenMean = model.getLayer('bn_a').param('moving_mean').data.slice();
    const trainedMean = model.getLayer('bn_b').param('moving_mean').data.slice();
    const step = model.forwardBackward(X, LABELS, { rng: new Random(9) });
    assert.deepEqual([...step.grads.keys()].sort(), ['bn_b.beta', 'bn_b.gamma', 'conv_b.kernel', 'dw.bias', 'dw.depthwise_kernel']);
    assert.deepEqual([...model.trainableWeights().keys()].sort(), [...step.grads.keys()].sort());
    assert.deepEqual(model.getLayer('bn_a').param('moving_mean').data, frozenMean, 'a frozen BN keeps its moving statistics');
    assert.notDeepEqual(model.getLayer('bn_b').param('moving_mean').data, trainedMean, 'a trainable BN moves them');
    checkAgainstFiniteDifferences(model, {});
  });

  it('inference mode (training: false): moving statistics used and kept, dropout off, still differentiable', () => {
    const model = smallGraph();
    const before = new Map([...model.weights()].map(([k, t]) => [k, t.data.slice()]));
    const step = model.forwardBackward(X, LABELS, { training: false });
    for (const [k, t] of model.weights()) assert.deepEqual(t.data, before.get(k), `${k} unchanged`);
    assert.deepEqual(step.logits.data, model.predict(X).data, 'same logits as predict');
    checkAgainstFiniteDifferences(model, { training: false });
  });

  it('training mode moves the moving statistics and applies dropout', () => {
    const model = smallGraph();
    const before = model.getLayer('bn_b').param('moving_variance').data.slice();
    const a = model.forwardTrain(X, { rng: new Random(1) }).output;
    const b = model.forwardTrain(X, { rng: new Random(2) }).output;
    assert.notDeepEqual(a.data, b.data, 'different dropout masks');
    assert.notDeepEqual(model.getLayer('bn_b').param('moving_variance').data, before);
  });

  it('a final Softmax layer is differentiated through its logits; a repeated step gives the same gradients', () => {
    const plain = smallGraph();
    const soft = smallGraph(true);
    const a = plain.forwardBackward(X, LABELS, { rng: new Random(9) });
    const b = soft.forwardBackward(X, LABELS, { rng: new Random(9) });
    const c = soft.forwardBackward(X, LABELS, { rng: new Random(9) });
    assert.deepEqual(b.logits.data, a.logits.data);
    assert.equal(b.loss, a.loss);
    for (const [k, g] of a.grads) {
      assert.deepEqual(b.grads.get(k)!.data, g.data, k);
      assert.deepEqual(c.grads.get(k)!.data, g.data, `${k} again`);
    }
  });

  it('piecewise-linear layers (fused ReLU6, max pooling, ReLU, global max pooling with keepDims, reshape) vs central differences', () => {
    const x = new Tensor([3, 6, 7, 3], new Random(12).fillUniform(new Float32Array(3 * 6 * 7 * 3), -2, 4));
    checkAgainstFiniteDifferences(piecewiseGraph(), {}, x, 1e-3);
  });

  it('forwardTrain/backward from any output gradient, NCHW in and out', () => {
    const model = smallGraph();
    const nchw = toLayout(X, 'NHWC', 'NCHW');
    const dOut = new Tensor([3, 3], new Random(3).fillUniform(new Float32Array(9), -1, 1));
    const keep = dOut.data.slice();
    const f = model.forwardTrain(nchw, { layout: 'NCHW', inputGradient: true, rng: new Random(9) });
    const g = f.backward(dOut);
    assert.deepEqual(dOut.data, keep, 'the output gradient is not modified');
    assert.throws(() => f.backward(dOut), /once/);
    const h = model.forwardTrain(X, { inputGradient: true, rng: new Random(9) }).backward(dOut);
    assert.deepEqual([...g.input!.shape], [3, 4, 5, 6]);
    assert.deepEqual(g.input!.data, toLayout(h.input!, 'NHWC', 'NCHW').data);
    assert.equal(h.params.size, model.trainableWeights().size);
  });
});
