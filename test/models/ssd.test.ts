// SSDLite against the PyTorch-made golden case (α 0.5, 160×160, 5 classes): scores, boxes and anchors through the
// reference kernels and the wasm engine; the SSD-MobileNetV1 layout against face-api's weight shapes; model files; refusals.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { ssd, ssdLite } from '../../src/models/ssd.js';
import { buildModel } from '../../src/models/registry.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { ANCHORS_TENSOR, decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { ConfigError, FormatError, ShapeError } from '../../src/errors.js';
import type { Model } from '../../src/graph/model.js';
import { Tensor } from '../../src/tensor/tensor.js';

const DIR = join(GOLDEN, 'apps/ssdlite_mnv2_a050_r160_k5_b2');
const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DIR, file)), file);
const CASE = JSON.parse(readFileSync(join(DIR, 'case.json'), 'utf8')) as { grids: [number, number][]; anchors: number };

function goldenModel(): Model {
  const model = ssdLite({ alpha: 0.5, resolution: 160, classes: 5 });
  loadTorchStateDict(model, decodeSafetensors(readFileSync(join(DIR, 'weights.safetensors'))).tensors);
  return model;
}

function assertGolden(outputs: Record<string, Tensor>, what: string): void {
  assert.deepEqual(Object.keys(outputs), ['scores', 'boxes'], `${what}: output names`);
  assertClose(outputs.scores, npy('scores.npy'), 5e-5, `${what}: scores`);
  assertClose(outputs.boxes, npy('boxes.npy'), 5e-5, `${what}: boxes`);
}

/** Per-sample output shape of a layer. */
const shapeOf = (model: Model, layer: string): number[] => [...model.getLayer(layer).outputShape];

describe('ssdLite: the golden SSDLite-MobileNetV2 (PyTorch, torchvision 0.14 backbone)', () => {
  it('reproduces scores and boxes through model.predictOutputs (NCHW batch of 2)', () => {
    const outputs = goldenModel().predictOutputs(npy('input.npy'), { layout: 'NCHW' });
    assert.deepEqual([...outputs.scores.shape], [2, 540, 6]);
    assertGolden(outputs, 'reference kernels');
  });

  it('reproduces them on the wasm engine', async () => {
    const engine = await WasmEngine.create(goldenModel());
    try {
      assertGolden(engine.predictOutputs(npy('input.npy'), { layout: 'NCHW' }), 'wasm engine');
    } finally {
      await engine.dispose();
    }
  });

  it('its anchors equal anchors.npy and its maps are the golden grids', () => {
    const model = ssdLite({ alpha: 0.5, resolution: 160, classes: 5 });
    const head = model.metadata.detection!;
    const golden = npy('anchors.npy');
    assert.deepEqual([...golden.shape], [CASE.anchors, 4]);
    assert.equal(head.anchors.length, golden.data.length);
    head.anchors.forEach((v, i) => assert.ok(Math.abs(v - golden.data[i]) <= 1e-6, `anchor value ${i}: ${v} vs ${golden.data[i]}`));
    assert.deepEqual(CASE.grids.map((_, m) => shapeOf(model, `class_predictor_${m}`).slice(0, 2)), CASE.grids);
    assert.deepEqual({ ...head, anchors: null }, { anchors: null, scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } });
  });

  it('taps the first 160-channel block\'s expansion (stride 16) and the 1280-channel conv (stride 32)', () => {
    const model = ssdLite({ alpha: 0.5, resolution: 160, classes: 5 });
    // golden weights: features.14.conv.0.0 is [288, 48, 1, 1], cls.0.0.0 [288, 1, 3, 3], cls.1.0.0 [1280, 1, 3, 3]
    assert.deepEqual(shapeOf(model, 'block_13_expand_relu'), [10, 10, 288]);
    assert.deepEqual(model.getLayer('class_predictor_0_depthwise').node?.inputs[0].node?.layer.name, 'block_13_expand_relu');
    assert.deepEqual(model.getLayer('class_predictor_1_depthwise').node?.inputs[0].node?.layer.name, 'out_relu');
    assert.deepEqual(shapeOf(model, 'out_relu'), [5, 5, 1280]);
  });
});

/**
 * face-api 1.7.15's `ssd_mobilenetv1_model-weights_manifest.json` (the SSD-MobileNetV1 face detector, 512×512,
 * 2 classes + background): the shapes past the backbone, keyed by the layer of ours that takes them.
 */
const FACE_API_SHAPES: Record<string, number[]> = {
  'conv_pw_11.kernel': [1, 1, 512, 512],
  'conv_pw_13.kernel': [1, 1, 1024, 1024],
  'extra_0_1x1.kernel': [1, 1, 1024, 256], // Prediction/Conv2d_0_pointwise/weights
  'extra_0_3x3.kernel': [3, 3, 256, 512], // Prediction/Conv2d_1_pointwise/weights
  'extra_1_1x1.kernel': [1, 1, 512, 128],
  'extra_1_3x3.kernel': [3, 3, 128, 256],
  'extra_2_1x1.kernel': [1, 1, 256, 128],
  'extra_2_3x3.kernel': [3, 3, 128, 256],
  'extra_3_1x1.kernel': [1, 1, 256, 64],
  'extra_3_3x3.kernel': [3, 3, 64, 128],
  'class_predictor_0.kernel': [1, 1, 512, 9], // Prediction/BoxPredictor_0/ClassPredictor/weights
  'class_predictor_0.bias': [9],
  'class_predictor_1.kernel': [1, 1, 1024, 18],
  'class_predictor_2.kernel': [1, 1, 512, 18],
  'class_predictor_3.kernel': [1, 1, 256, 18],
  'class_predictor_4.kernel': [1, 1, 256, 18],
  'class_predictor_5.kernel': [1, 1, 128, 18],
  'box_predictor_0.kernel': [1, 1, 512, 12], // Prediction/BoxPredictor_0/BoxEncodingPredictor/weights
  'box_predictor_1.kernel': [1, 1, 1024, 24],
  'box_predictor_2.kernel': [1, 1, 512, 24],
  'box_predictor_3.kernel': [1, 1, 256, 24],
  'box_predictor_4.kernel': [1, 1, 256, 24],
  'box_predictor_5.kernel': [1, 1, 128, 24],
  'box_predictor_5.bias': [24],
};

describe('training a detector', () => {
  it('gradients of a loss on both outputs match central differences: heads, extras, the tapped expansion and the block under it', () => {
    const model = ssdLite({ alpha: 0.35, resolution: 64, classes: 1, seed: 2 });
    randomiseBatchNorm(model);
    const x = randomBatch([2, 64, 64, 3], 3);
    // L = Σ w·scores + Σ v·boxes with fixed random w, v: dL/d(outputs) = (w, v)
    const dScores = randomBatch([2, ...model.outputShapes.scores], 7);
    const dBoxes = randomBatch([2, ...model.outputShapes.boxes], 8);
    const dot = (a: Tensor, b: Tensor): number => a.data.reduce((sum, v, i) => sum + v * b.data[i], 0);
    const loss = (o: Record<string, Tensor>): number => dot(o.scores, dScores) + dot(o.boxes, dBoxes);
    const grads = model.forwardTrainOutputs(x, { training: false }).backward({ scores: dScores, boxes: dBoxes }).params;
    for (const name of ['block_13_expand.kernel', 'block_12_project.kernel', 'class_predictor_0.bias', 'box_predictor_5.kernel', 'extra_2_depthwise.depthwise_kernel', 'extra_3_pointwise_BN.gamma']) {
      const analytic = grads.get(name)!.data;
      const at = analytic.reduce((best, v, i) => (Math.abs(v) > Math.abs(analytic[best]) ? i : best), 0);
      const param = model.weights().get(name)!.data;
      const original = param[at];
      const h = 1e-2;
      param[at] = original + h;
      const up = loss(model.predictOutputs(x));
      param[at] = original - h;
      const down = loss(model.predictOutputs(x));
      param[at] = original;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(analytic[at] - numeric) <= 1e-2 * Math.abs(numeric) + 1e-4, `${name}[${at}]: backward ${analytic[at]} vs central difference ${numeric}`);
    }
  });
});

describe('ssd: the SSD-MobileNetV1 layout face-api\'s face detector uses', () => {
  const model = ssd({ backbone: 'mobilenet_v1', resolution: 512, classes: 2 });

  it('has face-api\'s weight shapes and its 5118 anchors (Output/extra_dim [1, 5118, 4])', () => {
    const weights = model.weights();
    for (const [name, shape] of Object.entries(FACE_API_SHAPES)) assert.deepEqual([...weights.get(name)!.shape], shape, name);
    assert.equal(model.metadata.detection!.anchors.length, 5118 * 4);
    assert.deepEqual(model.outputShapes, { scores: [5118, 3], boxes: [5118, 4] });
  });

  it('runs TF SAME padding, BN ε 1e-3 and ReLU6 everywhere, stride 2 in the backbone at blocks 2, 4, 6, 12 and in every 3×3 extra', () => {
    assert.equal(model.metadata.padding, 'same');
    assert.deepEqual([32, 16, 8, 4, 2, 1].map((_, m) => shapeOf(model, `box_predictor_${m}`).slice(0, 2)), [32, 16, 8, 4, 2, 1].map((s) => [s, s]));
    for (const layer of model.layers) {
      if (layer.kind === 'BatchNormalization') assert.equal((layer.config() as { epsilon: number }).epsilon, 1e-3, layer.name);
    }
    assert.ok(model.layers.filter((l) => l.kind === 'ReLU6').length === 27 + 8, 'stem, 13 × 2 in the backbone, 8 in the extras');
  });

  it('runs on the wasm engine as on the reference kernels (α 0.25, 96×128, random BN statistics, batch of 2)', async () => {
    const small = ssd({ backbone: 'mobilenet_v1', alpha: 0.25, resolution: [96, 128], classes: 2, seed: 3 });
    randomiseBatchNorm(small);
    const x = randomBatch([2, 96, 128, 3], 8);
    const reference = small.predictOutputs(x);
    const engine = await WasmEngine.create(small);
    try {
      const fast = engine.predictOutputs(x);
      for (const name of ['scores', 'boxes']) assertClose(fast[name], reference[name], 1e-4, name);
    } finally {
      await engine.dispose();
    }
  });

  it('is registered as ssd_mobilenet_v1; ssdlite_mobilenet_v1 has the separable extras and heads', () => {
    const again = buildModel('ssd_mobilenet_v1', { resolution: 512, classes: 2 });
    assert.deepEqual([...again.weights().keys()], [...model.weights().keys()]);
    const lite = buildModel('ssdlite_mobilenet_v1', { resolution: 300, classes: 90 });
    assert.deepEqual(shapeOf(lite, 'extra_0_depthwise'), [5, 5, 256]);
    assert.deepEqual(lite.outputShapes, { scores: [1917, 91], boxes: [1917, 4] }); // TF's ssdlite_mobilenet_v1_coco at 300
  });
});

describe('detector model files', () => {
  it('keep the anchors bit for bit and rebuild a detector that predicts what the original did', () => {
    const model = ssdLite({ alpha: 0.35, resolution: [96, 128], classes: 3, seed: 4 });
    const loaded = decodeModelFile(encodeModelFile(model), 'ssd.safetensors').model;
    assert.equal(loaded.metadata.architecture, 'ssdlite_mobilenet_v2');
    assert.deepEqual(loaded.metadata.detection, model.metadata.detection);
    const x = new Tensor([1, 96, 128, 3], Float32Array.from({ length: 96 * 128 * 3 }, (_, i) => Math.sin(i)));
    const [a, b] = [model.predictOutputs(x), loaded.predictOutputs(x)];
    assert.deepEqual([...b.scores.data], [...a.scores.data]);
    assert.deepEqual([...b.boxes.data], [...a.boxes.data]);
  });

  it('a detector with no architecture of ours (an imported graph) keeps its head and anchors through the graph entry', () => {
    const model = ssdLite({ alpha: 0.35, resolution: 64, classes: 1 });
    const { architecture: _architecture, options: _options, ...imported } = model.metadata;
    model.metadata = imported;
    const loaded = decodeModelFile(encodeModelFile(model), 'graph.safetensors').model;
    assert.deepEqual(loaded.outputNames, ['scores', 'boxes']);
    assert.deepEqual(loaded.metadata.detection, model.metadata.detection);
  });

  it('a file\'s anchors win over the builder\'s; a missing half or a wrong count is refused by name', () => {
    const model = ssdLite({ alpha: 0.35, resolution: 64, classes: 1 });
    const { tensors, metadata } = decodeSafetensors(encodeModelFile(model));
    const anchors = tensors.get(ANCHORS_TENSOR)!;
    const moved = new Tensor([...anchors.shape], anchors.data.map((v, i) => (i % 4 === 0 ? v + 0.01 : v)));
    const reread = decodeModelFile(encodeSafetensors(new Map([...tensors, [ANCHORS_TENSOR, moved]]), metadata), 'moved.safetensors').model;
    assert.deepEqual([...reread.metadata.detection!.anchors], [...moved.data]);

    const without = new Map(tensors);
    without.delete(ANCHORS_TENSOR);
    assert.throws(() => decodeModelFile(encodeSafetensors(without, metadata), 'a.safetensors'), (e: unknown) => e instanceof FormatError && /a\.safetensors.*detection.*only the entry/.test(e.message));
    const short = new Tensor([anchors.shape[0] - 1, 4], anchors.data.slice(4));
    assert.throws(() => decodeModelFile(encodeSafetensors(new Map([...tensors, [ANCHORS_TENSOR, short]]), metadata), 'b.safetensors'), (e: unknown) => e instanceof ShapeError && /b\.safetensors.*anchors/.test(e.message));
    const badHead = { ...metadata, detection: JSON.stringify({ ...JSON.parse(metadata.detection), scoreConversion: 'tanh' }) };
    assert.throws(() => decodeModelFile(encodeSafetensors(tensors, badHead), 'c.safetensors'), (e: unknown) => e instanceof FormatError && /c\.safetensors: metadata entry detection scoreConversion/.test(e.message));
  });
});

describe('detector options', () => {
  it('anchor settings shape the heads: three aspect ratios and no interpolated box give 3 anchors per location on every map', () => {
    const model = ssdLite({ alpha: 0.35, resolution: 64, classes: 2, anchors: { aspectRatios: [1, 2, 0.5], interpolatedScaleAspectRatio: 0, reduceBoxesInLowestLayer: false } });
    const cells = [4 * 4, 2 * 2, 1, 1, 1, 1].reduce((a, b) => a + b, 0);
    assert.deepEqual(model.outputShapes, { scores: [3 * cells, 3], boxes: [3 * cells, 4] });
    assert.equal(model.metadata.detection!.anchors.length, 4 * 3 * cells);
  });

  it('bad options are ConfigErrors naming the option', () => {
    const refuses = (build: () => unknown, pattern: RegExp): void => assert.throws(build, (e: unknown) => e instanceof ConfigError && pattern.test(e.message), String(pattern));
    refuses(() => ssd({ backbone: 'resnet50' as 'mobilenet_v1' }), /backbone must be 'mobilenet_v2' or 'mobilenet_v1', got "resnet50"/);
    refuses(() => ssd({ head: 'dense' as 'conv' }), /head must be 'separable' or 'conv'/);
    refuses(() => ssdLite({ classes: 0 }), /ssdlite_mobilenet_v2: classes must be a positive integer, got 0/);
    refuses(() => ssdLite({ resolution: 16 }), /too small/);
    refuses(() => ssdLite({ padding: 'valid' as 'same' }), /padding must be 'torch' or 'same'/);
    refuses(() => ssdLite({ anchors: { featureMaps: [[1, 1]] } as object }), /anchors\.featureMaps is not an option/);
    refuses(() => ssdLite({ anchors: { minScale: -1 } }), /scales must be positive/);
    refuses(() => buildModel('ssdlite_mobilenet_v2', { includeTop: false }), /ssdlite_mobilenet_v2: options includeTop do not apply/);
  });
});
