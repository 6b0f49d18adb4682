// Lowering (BN folding, activation/residual/padding fusion, chains) and arena planning: lowered plans
// run with the reference kernels must match the golden PyTorch outputs and the unlowered reference path.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, goldenCase, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { lowerModel } from '../../src/graph/lower.js';
import { placeBuffers, planRequests } from '../../src/graph/arena.js';
import type { ArenaRequest } from '../../src/graph/arena.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { Model } from '../../src/graph/model.js';
import { input, ZeroPadding2D, Dense, Flatten } from '../../src/nn/core.js';
import { AveragePooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import { Concatenate } from '../../src/nn/extra.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { Conv2D } from '../../src/nn/conv.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { resnetBottleneck } from '../../src/blocks/resnet-bottleneck.js';
import { invertedResidualBlock } from '../../src/blocks/seed-blocks.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { Random } from '../../src/tensor/random.js';
import { toLayout } from '../../src/tensor/tensor.js';

enableWasmFeatures();

describe('lowering', () => {
  it('tiny MobileNetV2: the plan (fused and not) reproduces PyTorch within 5e-5', () => {
    const c = goldenCase('models/mnv2_035_32_c10');
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    loadTorchStateDict(model, c.weights);
    const x = toLayout(c.input, 'NCHW', 'NHWC');
    for (const fuseBlocks of [false, true]) assertClose(runPlanReference(lowerModel(model, { fuseBlocks }), x, model.outputShape), c.output, 5e-5, `fuseBlocks ${fuseBlocks}`);
  });

  it('MobileNetV2 1.0-224: every BN, ReLU6 and residual add is fused; 17 chains with the stem in the first', () => {
    const model = mobilenetV2();
    const flat = lowerModel(model, { fuseBlocks: false });
    const count = (op: string) => flat.steps.filter((s) => s.op === op).length;
    assert.equal(count('conv'), 52);
    assert.equal(flat.steps.filter((s) => s.op === 'conv' && s.residual !== null).length, 10);
    assert.deepEqual([count('affine'), count('clamp'), count('add')], [0, 0, 0]);
    const fused = lowerModel(model);
    const chains = fused.steps.filter((s) => s.op === 'chain');
    assert.equal(chains.length, 17);
    assert.deepEqual(chains[0].op === 'chain' && chains[0].stages.map((s) => s.layers[0]), ['Conv1', 'expanded_conv_depthwise', 'expanded_conv_project']);
    assert.deepEqual(fused.steps.map((s) => s.op).slice(-3), ['conv', 'globalAvgPool', 'dense']);
  });

  it('ResNet bottleneck (ReLU after the add): residual fused before the clamp, matches PyTorch', () => {
    const c = goldenCase('blocks/bottleneck_32_16_64_s2_proj');
    const [, ch, h, w] = c.info.input_shape;
    const x = input([h, w, ch]);
    const model = new Model(x, resnetBottleneck(x, { squeeze: 16, expand: 64, stride: 2, name: 'b', torchPrefix: 'block.', bnEpsilon: 1e-5 }));
    loadTorchStateDict(model, new Map([...c.weights].map(([k, v]) => [`block.${k}`, v])));
    const plan = lowerModel(model);
    assert.equal(plan.steps.filter((s) => s.op === 'conv' && s.residual !== null && s.clamp !== null).length, 1);
    const out = runPlanReference(plan, toLayout(c.input, 'NCHW', 'NHWC'), model.outputShape);
    assertClose(toLayout(out, 'NHWC', 'NCHW'), c.output, 1e-5);
  });

  it('ZeroPadding2D + valid conv merge into one padded conv; a clamp before an add stays a separate add', () => {
    const x = input([9, 8, 5]);
    let y = new ZeroPadding2D('pad', [0, 1, 1, 0]).apply(x);
    y = new Conv2D('conv', { filters: 6, kernelSize: 3, strides: 2 }).apply(y);
    y = new BatchNormalization('bn').apply(y);
    y = new ReLU6('relu').apply(y);
    y = invertedResidualBlock(y, { expand: 12, squeeze: 6, name: 'seed' });
    y = new Dense('fc', { units: 3 }).apply(new Flatten('flat').apply(y));
    const model = new Model(x, y, { seed: 4 });
    randomiseBatchNorm(model);
    const plan = lowerModel(model);
    assert.ok(!plan.steps.some((s) => s.op === 'pad'));
    assert.equal(plan.steps.filter((s) => s.op === 'add').length, 1);
    const batch = randomBatch([3, 9, 8, 5], 3);
    assertClose(runPlanReference(plan, batch, model.outputShape), model.predict(batch), 1e-5);
  });

  it('MobileNetV1 (Keras padding, BN ε 1e-3, random statistics): the plan matches the layer-by-layer reference', () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 64, classes: 7 });
    randomiseBatchNorm(model);
    const batch = randomBatch([2, 64, 64, 3], 3);
    assertClose(runPlanReference(lowerModel(model), batch, model.outputShape), model.predict(batch), 1e-5);
  });
});

describe('whole-window pooling', () => {
  it('AveragePooling2D and MaxPooling2D over the whole 5×6 image (valid) lower to global pools and match the reference layers', async () => {
    const x = input([5, 6, 7], 'image');
    const conv = new Conv2D('conv', { filters: 7, kernelSize: 1 }).apply(x);
    const avg = new AveragePooling2D('avg', { poolSize: [5, 6], padding: 'valid' }).apply(conv);
    const max = new MaxPooling2D('max', { poolSize: [5, 6], strides: 3, padding: 'valid' }).apply(conv);
    const partial = new AveragePooling2D('partial', { poolSize: [5, 5], padding: 'valid' }).apply(conv);
    // [1, 1, 7], [1, 1, 7] and [1, 2, 7] side by side
    const joined = new Concatenate('joined', 1, 3).apply([avg, max, partial]);
    const model = new Model(x, new Flatten('flat').apply(joined));
    model.initialize(4);
    const plan = lowerModel(model);
    assert.deepEqual(['avg', 'max', 'partial'].map((n) => plan.steps.find((s) => s.layers.includes(n))?.op), ['globalAvgPool', 'globalMaxPool', 'avgPool']);
    const batch = randomBatch([3, 5, 6, 7], 12);
    assertClose(runPlanReference(plan, batch, model.outputShape), model.predict(batch), 1e-6, 'plan vs layers');
    if (!WasmEngine.supported()) return;
    const engine = await WasmEngine.create(model);
    try {
      assertClose(engine.predict(batch), model.predict(batch), 1e-6, 'WasmEngine vs layers');
    } finally {
      await engine.dispose();
    }
  });
});

describe('arena planning', () => {
  it('reuses memory between buffers whose lifetimes do not overlap (hand-worked)', () => {
    const layout = placeBuffers([
      { key: 'a', floats: 100, first: 0, last: 1 },
      { key: 'b', floats: 50, first: 1, last: 2 },
      { key: 'c', floats: 100, first: 2, last: 3 },
    ]);
    // a and c never live together: both at 0; b overlaps both: after a's 112 aligned floats
    assert.deepEqual([layout.offsets.get('a'), layout.offsets.get('c'), layout.offsets.get('b')], [0, 0, 112]);
    assert.equal(layout.floats, 112 + 64);
  });

  it('never overlaps two buffers alive at the same time (random requests)', () => {
    const rng = new Random(11);
    for (let trial = 0; trial < 50; trial++) {
      const requests: ArenaRequest[] = Array.from({ length: 20 }, (_, i) => {
        const first = Math.floor(rng.uniform() * 30);
        return { key: `r${i}`, floats: 1 + Math.floor(rng.uniform() * 500), first, last: first + Math.floor(rng.uniform() * 6) };
      });
      const { offsets, floats } = placeBuffers(requests);
      for (const a of requests) {
        const oa = offsets.get(a.key)!;
        assert.ok(oa % 16 === 0 && oa + a.floats <= floats);
        for (const b of requests) {
          if (a === b || a.last < b.first || b.last < a.first) continue;
          const ob = offsets.get(b.key)!;
          assert.ok(oa + a.floats <= ob || ob + b.floats <= oa, `${a.key} and ${b.key} overlap`);
        }
      }
    }
  });

  it('MobileNetV2 1.0-224 batch 1: the unfused arena holds the largest expanded tensor and its neighbours', () => {
    const plan = lowerModel(mobilenetV2(), { fuseBlocks: false });
    const { floats } = placeBuffers(planRequests(plan, 1));
    // block_1's expanded 112²×96 (4.82 MB) must coexist with its input 112²×16 and its depthwise output 56²×96
    assert.ok(floats >= 112 * 112 * 96 + 56 * 56 * 96 && floats * 4 < 8e6, `arena ${floats * 4} bytes`);
  });
});
