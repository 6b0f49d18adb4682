// Models with several named outputs (an SSD-like detector: a tap of a block's expansion, two heads per map reshaped
// and concatenated): predictOutputs, the plan runner and WasmEngine against a layer-by-layer reference, and training.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, randomBatch } from '../support/helpers.js';
import { numericGradient } from '../support/gradient-check.js';
import { noSimd } from '../support/wasm-modes.js';
import { Model } from '../../src/graph/model.js';
import { lowerModel } from '../../src/graph/lower.js';
import { runPlanOutputs, runPlanReference } from '../../src/backend/plan-reference.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { Reshape, input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';
import { clip } from '../../src/ops/activation.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { concat } from '../../src/ops/concat.js';
import { batchNorm } from '../../src/ops/normalization.js';
import type { Padding4 } from '../../src/ops/geometry.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { ConfigError } from '../../src/errors.js';

const CLASSES = 3;
const SAME: Padding4 = [1, 1, 1, 1];

/** conv → BN → ReLU6, as SSDLite's backbone and extra layers have them. */
function convBnRelu6(x: SymbolicTensor, name: string, layer: Conv2D | DepthwiseConv2D): SymbolicTensor {
  return new ReLU6(`${name}_relu`).apply(new BatchNormalization(`${name}_bn`, { epsilon: 1e-3 }).apply(layer.apply(x)));
}

/** A head: 3×3 depthwise + BN + ReLU6 (on `separable`), then a 1×1 conv with bias to anchors·values, reshaped to [H·W·anchors, values]. */
function head(x: SymbolicTensor, name: string, anchors: number, values: number, separable: boolean): SymbolicTensor {
  const features = separable ? convBnRelu6(x, `${name}_dw`, new DepthwiseConv2D(`${name}_dw`, { kernelSize: 3, padding: SAME, useBias: false })) : x;
  const y = new Conv2D(`${name}_pw`, { filters: anchors * values, kernelSize: 1 }).apply(features);
  return new Reshape(`${name}_reshape`, [(y.shape[0] * y.shape[1] * anchors), values]).apply(y);
}

/**
 * input [11, 9, 3] → stem 3×3/2 → block: expand 1×1 (the tap) → depthwise 3×3/2 → project 1×1 → 1×1 conv (the last map);
 * per map a class head and a box head; outputs { scores, boxes, tap }.
 */
function ssdLike(seed = 1): Model {
  const x = input([11, 9, 3]);
  const stem = convBnRelu6(x, 'stem', new Conv2D('stem', { filters: 8, kernelSize: 3, strides: 2, padding: SAME, useBias: false }));
  const tap = convBnRelu6(stem, 'expand', new Conv2D('expand', { filters: 12, kernelSize: 1, useBias: false }));
  const dw = convBnRelu6(tap, 'depthwise', new DepthwiseConv2D('depthwise', { kernelSize: 3, strides: 2, padding: SAME, useBias: false }));
  const project = new BatchNormalization('project_bn', { epsilon: 1e-3 }).apply(new Conv2D('project', { filters: 10, kernelSize: 1, useBias: false }).apply(dw));
  const last = convBnRelu6(project, 'last', new Conv2D('last', { filters: 14, kernelSize: 1, useBias: false }));
  const scores = new Concatenate('scores_concat', 0, 2).apply([head(tap, 'cls0', 2, CLASSES, true), head(last, 'cls1', 3, CLASSES, false)]);
  const boxes = new Concatenate('boxes_concat', 0, 2).apply([head(tap, 'box0', 2, 4, true), head(last, 'box1', 3, 4, false)]);
  const model = new Model(x, { scores, boxes, tap }, { name: 'ssd_like', seed });
  const rng = new Random(seed + 10);
  for (const [name, t] of model.weights()) {
    if (/(gamma|moving_variance)$/.test(name)) rng.fillUniform(t.data, 0.5, 1.5);
    else if (/(beta|moving_mean|bias)$/.test(name)) rng.fillUniform(t.data, -0.3, 0.3);
    else rng.fillUniform(t.data, -0.5, 0.5);
  }
  return model;
}

/** The same network computed op by op with the reference kernels, every padding and shape spelt out here. */
function referenceOutputs(model: Model, x: Tensor): Record<string, Tensor> {
  const w = model.weights();
  const p = (name: string): Tensor => w.get(name)!;
  const bn = (t: Tensor, name: string): Tensor => batchNorm(t, { gamma: p(`${name}_bn.gamma`).data, beta: p(`${name}_bn.beta`).data, mean: p(`${name}_bn.moving_mean`).data, variance: p(`${name}_bn.moving_variance`).data, epsilon: 1e-3 });
  const conv = (t: Tensor, name: string, stride: number, padding: Padding4, groups: number, bias: boolean): Tensor => {
    const kernel = p(`${name}.${groups > 1 ? 'depthwise_kernel' : 'kernel'}`);
    return conv2d(t, kernel, bias ? p(`${name}.bias`).data : null, { strides: [stride, stride], dilations: [1, 1], padding, groups });
  };
  const none: Padding4 = [0, 0, 0, 0];
  const block = (t: Tensor, name: string, stride: number, padding: Padding4, groups: number): Tensor => clip(bn(conv(t, name, stride, padding, groups, false), name), 0, 6);
  const stem = block(x, 'stem', 2, SAME, 1);
  const tap = block(stem, 'expand', 1, none, 1);
  const dw = block(tap, 'depthwise', 2, SAME, 12);
  const last = block(bn(conv(dw, 'project', 1, none, 1, false), 'project'), 'last', 1, none, 1);
  const batch = x.shape[0];
  const headOf = (t: Tensor, name: string, values: number, separable: boolean): Tensor => {
    const features = separable ? block(t, `${name}_dw`, 1, SAME, t.shape[3]) : t;
    const y = conv(features, `${name}_pw`, 1, none, 1, true);
    // NHWC [N, H, W, A·values] is [N, H·W·A, values] in memory
    return new Tensor([batch, y.size / batch / values, values], y.data);
  };
  return {
    scores: concat([headOf(tap, 'cls0', CLASSES, true), headOf(last, 'cls1', CLASSES, false)], 1),
    boxes: concat([headOf(tap, 'box0', 4, true), headOf(last, 'box1', 4, false)], 1),
    tap,
  };
}

const X = randomBatch([2, 11, 9, 3], 3);

function assertOutputs(actual: Record<string, Tensor>, expected: Record<string, Tensor>, tol: number, what: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${what}: output names in order`);
  for (const [name, t] of Object.entries(expected)) {
    assert.deepEqual([...actual[name].shape], [...t.shape], `${what}: ${name} shape`);
    assertClose(actual[name], t, tol, `${what}: ${name}`);
  }
}

describe('a model with several named outputs', () => {
  const model = ssdLike();
  const expected = referenceOutputs(model, X);

  it('names its outputs in order, with per-sample shapes; predict refuses and names predictOutputs', () => {
    assert.deepEqual(model.outputNames, ['scores', 'boxes', 'tap']);
    // 6×5 map × 2 anchors + 3×3 map × 3 anchors
    assert.deepEqual(model.outputShapes, { scores: [87, CLASSES], boxes: [87, 4], tap: [6, 5, 12] });
    assert.throws(() => model.predict(X), (e: unknown) => e instanceof ConfigError && /predictOutputs/.test(e.message));
    assert.throws(() => model.forwardTrain(X), (e: unknown) => e instanceof ConfigError && /forwardTrainOutputs/.test(e.message));
  });

  it('predictOutputs equals the op-by-op reference, NHWC and NCHW (the tap comes back in the input layout)', () => {
    assertOutputs(model.predictOutputs(X), expected, 1e-6, 'predictOutputs');
    const nchw = model.predictOutputs(toLayout(X, 'NHWC', 'NCHW'), { layout: 'NCHW' });
    assertOutputs(nchw, { ...expected, tap: toLayout(expected.tap, 'NHWC', 'NCHW') }, 1e-6, 'predictOutputs NCHW');
  });

  it('the plan, fused and not, keeps every output; the tapped expansion is written by one step and read by the block and both heads', () => {
    for (const fuseBlocks of [false, true]) {
      const plan = lowerModel(model, { fuseBlocks });
      const shapes = model.outputNames.map((name) => model.outputShapes[name]);
      const outputs = runPlanOutputs(plan, X, shapes);
      assertOutputs(Object.fromEntries(model.outputNames.map((name, k) => [name, outputs[k]])), expected, 1e-5, `plan (fuseBlocks ${fuseBlocks})`);
      const tap = plan.outputs[2];
      assert.equal(plan.steps.filter((s) => s.output === tap).length, 1, 'one step writes the tap');
      assert.equal(plan.steps.filter((s) => s.inputs.includes(tap)).length, 3, 'the depthwise and the two heads read it');
      assert.throws(() => runPlanReference(plan, X, shapes[0]), ConfigError);
    }
    const chains = lowerModel(model).steps.filter((s) => s.op === 'chain');
    // the block streams from its depthwise on (the expansion is no chain stage); the separable heads are chains of their own
    assert.deepEqual(chains.map((s) => s.layers[0]), ['cls0_dw', 'depthwise', 'box0_dw']);
  });

  for (const threads of [1, 2]) {
    it(`WasmEngine, ${threads} thread(s): every output equals the reference, predict refuses`, { skip: noSimd }, async () => {
      const engine = await WasmEngine.create(model, { threads });
      try {
        assertOutputs(engine.predictOutputs(X), expected, 1e-5, `WasmEngine ${threads}`);
        const one = new Tensor([1, 11, 9, 3], X.data.slice(0, 11 * 9 * 3));
        assertOutputs(engine.predictOutputs(one), referenceOutputs(model, one), 1e-5, `WasmEngine ${threads}, batch 1`);
        assert.throws(() => engine.predict(X), (e: unknown) => e instanceof ConfigError && /predictOutputs/.test(e.message));
      } finally {
        await engine.dispose();
      }
    });
  }

  it('forwardTrainOutputs: inference-mode outputs equal predictOutputs; gradients of a loss on two outputs match central differences', () => {
    const small = ssdLike(2);
    const x = randomBatch([2, 11, 9, 3], 4);
    const weightsOf = (name: string, seed: number): Tensor => {
      const shape = [2, ...small.outputShapes[name]];
      return new Tensor(shape, new Random(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b)), -1, 1));
    };
    // loss = Σ scores·A + Σ tap·B (boxes left out: a zero gradient)
    const dOutputs = { scores: weightsOf('scores', 5), tap: weightsOf('tap', 6) };
    const loss = (): number => {
      const y = small.predictOutputs(x);
      let sum = 0;
      for (const [name, d] of Object.entries(dOutputs)) y[name].data.forEach((v, i) => (sum += v * d.data[i]));
      return sum;
    };
    const f = small.forwardTrainOutputs(x, { training: false, inputGradient: true });
    assertOutputs(f.outputs, small.predictOutputs(x), 0, 'forwardTrainOutputs vs predictOutputs');
    const grads = f.backward(dOutputs);
    assert.throws(() => f.backward(dOutputs), ConfigError, 'backward runs once');
    const targets: [string, Float32Array, Tensor][] = [...small.trainableWeights()].map(([name, t]) => [name, t.data, grads.params.get(name)!]);
    targets.push(['input', x.data, grads.input!]);
    for (const [name, values, grad] of targets) {
      assert.ok(grad, `no gradient for ${name}`);
      let scale = 0;
      for (const v of grad.data) scale = Math.max(scale, Math.abs(v));
      const picked = [0, 1, 2].map((k) => Math.floor((k * 0.618034 + 0.1) * values.length) % values.length);
      const numeric = numericGradient(loss, values, 1e-3, picked);
      for (const i of picked) assert.ok(Math.abs(grad.data[i] - numeric[i]) <= 3e-3 * scale + 3e-4, `${name}[${i}]: ours ${grad.data[i]}, numeric ${numeric[i]} (max |g| ${scale})`);
    }
    const boxHead = grads.params.get('box1_pw.kernel')!;
    assert.ok(boxHead.data.every((v) => v === 0), 'no gradient reaches a head whose output was left out');
    assert.throws(() => small.forwardTrainOutputs(x).backward({ logits: dOutputs.scores }), ConfigError, 'an unknown output name');
  });
});
