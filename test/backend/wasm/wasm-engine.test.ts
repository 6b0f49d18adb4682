// The WebAssembly engine end to end: golden PyTorch models and awkward shapes (odd sizes, channels not a
// multiple of 4, both paddings, batch 1 and 5), fused and unfused, against the golden files and the reference.

import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, goldenCase, randomBatch, randomiseBatchNorm } from '../../support/helpers.js';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { mobilenetV2 } from '../../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../../src/models/mobilenet-v1.js';
import { loadTorchStateDict } from '../../../src/io/torch-names.js';
import type { Model } from '../../../src/graph/model.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { relaxedSimdSupported } from '../../../src/backend/wasm/assembler.js';

// relaxed SIMD (Node 20: behind a V8 flag) must be on before the first wasm validation in this process
enableWasmFeatures();

const skip = WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime';


const batchOf = randomBatch;

describe('wasm engine', { skip }, () => {
  const simd = relaxedSimdSupported() ? [false, true] : [false];
  for (const fuseBlocks of [true, false]) for (const relaxedSimd of simd) {
    it(`tiny MobileNetV2 vs PyTorch, every step native (fuseBlocks ${fuseBlocks}, ${relaxedSimd ? 'relaxed' : 'plain'} SIMD)`, async () => {
      const c = goldenCase('models/mnv2_035_32_c10');
      const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
      loadTorchStateDict(model, c.weights);
      const engine = await WasmEngine.create(model, { fuseBlocks, relaxedSimd });
      assert.equal(engine.relaxedSimd, relaxedSimd);
      assert.deepEqual(engine.coverage.fallback, []);
      assertClose(engine.predict(c.input, { layout: 'NCHW' }), c.output, 5e-5);
    });
  }

  it('MobileNetV2 1.0-224 vs PyTorch within 1e-4', async () => {
    const c = goldenCase('models/mnv2_100_224');
    const model = mobilenetV2();
    loadTorchStateDict(model, c.weights);
    const engine = await WasmEngine.create(model);
    assertClose(engine.predict(c.input, { layout: 'NCHW' }), c.output, 1e-4);
  });

  const awkward: [string, () => Model, number[]][] = [
    ['V2 α 0.3, 45×37, Keras padding, 13 classes, batch 5', () => mobilenetV2({ alpha: 0.3, resolution: [45, 37], classes: 13, convention: 'keras' }), [5, 45, 37, 3]],
    ['V2 α 0.5, 33×33 torch padding, grey input, max pooling, batch 1', () => mobilenetV2({ alpha: 0.5, resolution: 33, classes: 5, inputChannels: 1, pooling: 'max' }), [1, 33, 33, 1]],
    ['V2 custom table (t 3, channels 7 and 13), stem stride 1, batch 2', () => mobilenetV2({ resolution: 28, classes: 10, inputChannels: 1, stemStride: 1, roundNearest: 1, blocks: [[1, 7, 1, 1], [3, 13, 2, 2], [4, 13, 1, 2]], lastChannel: 30 }), [2, 28, 28, 1]],
    ['V1 α 0.25, 64×64, depth multiplier 2, ReLU, batch 3', () => mobilenetV1({ alpha: 0.25, resolution: 64, classes: 9, depthMultiplier: 2, activation: 'relu' }), [3, 64, 64, 3]],
    ['V2 without top: the feature map', () => mobilenetV2({ alpha: 0.35, resolution: 40, includeTop: false }), [2, 40, 40, 3]],
  ];
  for (const [what, build, shape] of awkward) {
    it(`${what}: equal to the reference backend`, async () => {
      const model = build();
      randomiseBatchNorm(model);
      const x = batchOf(shape, 9);
      const expected = model.predict(x);
      for (const fuseBlocks of [true, false]) {
        const engine = await WasmEngine.create(model, { fuseBlocks });
        assertClose(engine.predict(x), expected, 1e-5, `fuseBlocks ${fuseBlocks}`);
        // a different batch size re-plans the arena and still agrees
        assertClose(engine.predict(new Tensor([1, ...shape.slice(1)], x.data.slice(0, x.size / shape[0]))), model.predict(new Tensor([1, ...shape.slice(1)], x.data.slice(0, x.size / shape[0]))), 1e-5, 'batch 1');
      }
    });
  }

  it('refuses a batch of the wrong shape with a ShapeError', async () => {
    const engine = await WasmEngine.create(mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 }));
    assert.throws(() => engine.predict(batchOf([1, 31, 32, 3], 1)), /expected input \[\?, 32, 32, 3\]/);
  });
});
