// The ArgMax layer and its reference op against hand-worked label maps (ties to the first index), in a model by
// predict, the lowered plan and the Wasm engine, and its refusals: no gradient, no class axis.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { Model } from '../../src/graph/model.js';
import { ArgMax } from '../../src/nn/argmax.js';
import { Dense, input } from '../../src/nn/core.js';
import { argmaxLastAxis } from '../../src/ops/argmax.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';

enableWasmFeatures();

/** One image of 2×2 pixels and 3 classes; the labels worked by hand: 2, 0 (a tie of 0 and 1), 1, 0 (all equal). */
const logits = new Tensor([1, 2, 2, 3], Float32Array.from([0.1, -2, 3, 5, 5, 1, -1, 0.5, -3, 7, 7, 7]));
const labels = [2, 0, 1, 0];

describe('ArgMax', () => {
  test('the reference op: the first largest class at each pixel, as float32 [N, H, W]', () => {
    const y = argmaxLastAxis(logits);
    assert.deepEqual([...y.shape], [1, 2, 2]);
    assert.deepEqual([...y.data], labels);
  });

  test('in a model: predict and the Wasm engine give the hand-worked labels', { skip: WasmEngine.supported() ? false : 'WebAssembly SIMD is not available' }, async () => {
    const x = input([2, 2, 3]);
    const model = new Model(x, new ArgMax('labels').apply(x));
    assert.deepEqual([...model.outputShape], [2, 2]);
    assert.deepEqual([...model.predict(logits).data], labels);
    const engine = await WasmEngine.create(model);
    try {
      assert.deepEqual([...engine.predict(logits).data], labels);
    } finally {
      await engine.dispose();
    }
  });

  test('training through it is a typed error naming the layer; the op refuses a tensor without a class axis', () => {
    const x = input([3]);
    const model = new Model(x, new ArgMax('labels').apply(new Dense('fc', { units: 4 }).apply(x)));
    assert.throws(() => model.forwardTrain(new Tensor([2, 3])), (e: unknown) => e instanceof ConfigError && /labels \(ArgMax\): an argmax has no gradient/.test((e as Error).message));
    assert.throws(() => argmaxLastAxis(new Tensor([3])), ShapeError);
  });
});
