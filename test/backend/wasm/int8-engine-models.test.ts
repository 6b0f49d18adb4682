// WasmEngine on whole int8 plans (QuantizedModel of MobileNetV2 and V1, the real TFLite MobileNets when shared/models is
// there): every step native, bit-equal to the plan reference runner with 1–3 threads, an int8 arena under ¼ of the float one.

import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, randomBatch } from '../../support/helpers.js';
import { decodeImage } from '../../../src/data/image.js';
import { preprocessImage } from '../../../src/data/preprocess.js';
import { applyPreset, torchvisionPreset } from '../../../src/data/preprocess-presets.js';
import { fuseInt8Chains, fuseInt8Residuals } from '../../../src/graph/passes/fuse-int8-chains.js';
import type { PlannedModel } from '../../../src/graph/plan.js';
import { importTflite } from '../../../src/io/tflite/import.js';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { runPlanOutputs, runPlanValues } from '../../../src/backend/plan-reference.js';
import { mobilenetV2 } from '../../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../../src/models/mobilenet-v1.js';
import { QuantizedModel } from '../../../src/quant/quantized-model.js';
import { quantize } from '../../../src/quant/qparams.js';

enableWasmFeatures();

const skip = WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime';

describe('int8 engine: quantized MobileNets', { skip }, () => {
  const v2 = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 4 });
  const q2 = QuantizedModel.quantize(v2, [randomBatch([4, 32, 32, 3], 9)]);

  it('MobileNetV2: every step native (17 qchains row-streamed), bit-equal to the reference runner, 1–3 threads, batch 1 and 5', async () => {
    for (const batch of [1, 5]) {
      const x = randomBatch([batch, 32, 32, 3], 10 + batch);
      const reference = runPlanValues(q2.plan, x)[0];
      for (const threads of [1, 2, 3]) {
        const engine = await WasmEngine.create(q2, { threads });
        try {
          assert.deepEqual(engine.coverage.fallback, []);
          assert.deepEqual(engine.predictRaw(x.data, batch)[q2.outputNames[0]], reference.data, `batch ${batch}, ${threads} threads`);
        } finally {
          await engine.dispose();
        }
      }
    }
  });

  it('predict gives the reference runner’s dequantized logits; the plan stays whole for it', async () => {
    const x = randomBatch([3, 32, 32, 3], 21);
    const engine = await WasmEngine.create(q2);
    const y = engine.predict(x);
    await engine.dispose();
    assert.deepEqual(y.data, runPlanOutputs(q2.plan, x)[0].data);
    assert.deepEqual(y.shape, [3, 10]);
  });

  it('the int8 arena at batch 1 is at most a quarter of the float engine’s', async () => {
    const int8 = await WasmEngine.create(q2);
    const float = await WasmEngine.create(v2);
    const [a, b] = [int8.arenaBytes(1), float.arenaBytes(1)];
    await Promise.all([int8.dispose(), float.dispose()]);
    assert.ok(a <= b / 4, `int8 arena ${a} bytes, float ${b}`);
  });

  it('MobileNetV1 0.25 with an int8 input tensor: int8 in, int8 out, as the reference runs it', async () => {
    const v1 = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 5, seed: 3 });
    const q1 = QuantizedModel.quantize(v1, [randomBatch([4, 32, 32, 3], 8)]);
    // the same plan from its first int8 tensor on: the engine takes int8 input as it is
    const [quantizeStep, ...rest] = q1.plan.steps;
    assert.equal(quantizeStep.op, 'quantize');
    const plan = { ...q1.plan, steps: rest, input: quantizeStep.output };
    const x = randomBatch([5, 32, 32, 3], 30);
    const q = { shape: x.shape, data: quantize(x.data, plan.tensors[plan.input].quant!), params: plan.tensors[plan.input].quant! };
    const reference = runPlanValues(plan, q)[0];
    for (const threads of [1, 3]) {
      const engine = await WasmEngine.create({ plan, outputNames: q1.outputNames }, { threads });
      assert.deepEqual(engine.coverage.fallback, []);
      assert.deepEqual(engine.predictRaw(q.data, 5)[q1.outputNames[0]], reference.data);
      assert.deepEqual(engine.predict(x).data, runPlanOutputs(plan, x)[0].data);
      await engine.dispose();
    }
  });
});

const MODELS = join(FIXTURES, '..', '..', '..', 'shared', 'models');
const V2 = join(MODELS, 'mobilenet_v2_quantized_1x3x224x224.tflite');
const PERSON = join(MODELS, 'person_detect.tflite');
const realSkip = !WasmEngine.supported()
  ? 'WebAssembly SIMD is not available in this runtime'
  : existsSync(V2) && existsSync(PERSON)
    ? false
    : `the real TFLite models are not in ${MODELS} (they sit beside the repository, in shared/models/, and are not part of a clone)`;

describe('int8 engine: the real TFLite MobileNets', { skip: realSkip }, () => {
  it('MobileNetV2 1.0-224 (ImageNet) on a photo: as imported, and with its residuals and inverted residuals fused into qchains, bit-equal to the reference runner, 2 threads', async () => {
    const imported = importTflite(new Uint8Array(readFileSync(V2)), 'mobilenet_v2_quantized_1x3x224x224.tflite');
    const model = imported.model as PlannedModel;
    const image = decodeImage(new Uint8Array(readFileSync(join(FIXTURES, 'photos', 'grace_hopper.jpg'))), { channels: 3 });
    const x = quantize(applyPreset(image.pixels, image.shape, torchvisionPreset()).data, imported.inputQuant!);
    const reference = runPlanValues(model.plan, { shape: [1, 224, 224, 3], data: x, params: imported.inputQuant! })[0];
    const fused = fuseInt8Chains(fuseInt8Residuals(model.plan));
    assert.ok(fused.steps.filter((s) => s.op === 'qchain').length >= 16, fused.steps.map((s) => s.op).join());
    for (const plan of [model.plan, fused]) {
      const engine = await WasmEngine.create({ plan, outputNames: model.outputNames }, { threads: 2 });
      try {
        assert.deepEqual(engine.coverage.fallback, []);
        assert.deepEqual(engine.predictRaw(x, 1)[model.outputNames[0]], reference.data);
      } finally {
        await engine.dispose();
      }
    }
  });

  it('the person detector (MobileNetV1 0.25, int8 softmax) on a photo, bit-equal to the reference runner', async () => {
    const imported = importTflite(new Uint8Array(readFileSync(PERSON)), 'person_detect.tflite');
    const model = imported.model as PlannedModel;
    const image = decodeImage(new Uint8Array(readFileSync(join(FIXTURES, 'photos', 'astronaut.jpg'))), { channels: 1 });
    const x = quantize(preprocessImage(image.pixels, image.shape, { size: [96, 96], pixels: 'symmetric' }), imported.inputQuant!);
    const reference = runPlanValues(model.plan, { shape: [1, 96, 96, 1], data: x, params: imported.inputQuant! })[0];
    for (const threads of [1, 3]) {
      const engine = await WasmEngine.create(model, { threads });
      assert.deepEqual(engine.predictRaw(x, 1)[model.outputNames[0]], reference.data);
      await engine.dispose();
    }
  });
});
