// The SSD heads' layout ops through WasmEngine: NHWC reshapes to [H·W·anchors, values] planned as views and the
// concatenation along the anchors axis as native copies (in place where a 1×1 map's GEMM can write its slice),
// against model.predict on awkward shapes (odd channels, a 1×1 map, batch 2), 1 and 2 threads.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { concatSlices } from '../../../src/backend/wasm/memory-plan.js';
import { lowerModel } from '../../../src/graph/lower.js';
import { Model } from '../../../src/graph/model.js';
import { Conv2D } from '../../../src/nn/conv.js';
import { Reshape, input } from '../../../src/nn/core.js';
import { Concatenate } from '../../../src/nn/extra.js';
import { GlobalAveragePooling2D } from '../../../src/nn/pooling.js';
import type { SymbolicTensor } from '../../../src/graph/symbolic.js';
import { assertClose, randomBatch } from '../../support/helpers.js';
import { noSimd } from '../../support/wasm-modes.js';

const VALUES = 3;

/** A 1×1 conv with bias to anchors·VALUES, reshaped to [H·W·anchors, VALUES]. */
function head(x: SymbolicTensor, name: string, anchors: number): SymbolicTensor {
  const y = new Conv2D(name, { filters: anchors * VALUES, kernelSize: 1 }).apply(x);
  return new Reshape(`${name}_reshape`, [y.shape[0] * y.shape[1] * anchors, VALUES]).apply(y);
}

/** Three maps (5×7, 3×4, 1×1) with 2, 3 and 5 anchors, concatenated along the anchors axis (`axis` 0 or −2). */
function heads(axis: number): Model {
  const x = input([5, 7, 3]);
  const small = new Conv2D('down', { filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x);
  const pooled = new GlobalAveragePooling2D('pool', true).apply(small);
  const joined = new Concatenate('anchors', axis, 3).apply([head(x, 'head0', 2), head(small, 'head1', 3), head(pooled, 'head2', 5)]);
  return new Model(x, joined, { seed: 4 });
}

describe('SSD head layout ops on the wasm engine', () => {
  it('lowering: reshapes are views, the anchors concatenation one native step; only the 1×1 map is written in place', () => {
    const plan = lowerModel(heads(0));
    assert.deepEqual(plan.steps.map((s) => s.op), ['conv', 'conv', 'conv', 'globalAvgPool', 'conv', 'concat']);
    const concat = plan.steps.at(-1)!;
    assert.ok(concat.op === 'concat');
    // per sample each head is one run: 35·2·3, 12·3·3, 1·5·3 floats
    assert.deepEqual(concat.blocks, [210, 108, 15]);
    const slices = concatSlices(plan);
    assert.deepEqual(concat.inputs.map((t) => slices.get(t)?.offset), [undefined, undefined, 318]);
  });

  for (const axis of [0, -2]) {
    for (const threads of [1, 2]) {
      it(`axis ${axis}, ${threads} thread(s): no fallback steps, equal to model.predict for batch 2 and 1`, { skip: noSimd }, async () => {
        const model = heads(axis);
        const engine = await WasmEngine.create(model, { threads });
        try {
          assert.deepEqual(engine.coverage.fallback, []);
          for (const batch of [2, 1]) {
            const x = randomBatch([batch, 5, 7, 3], 9 + batch);
            const y = engine.predict(x);
            assert.deepEqual([...y.shape], [batch, 35 * 2 + 12 * 3 + 5, VALUES]);
            assertClose(y, model.predict(x), 1e-5, `batch ${batch}`);
          }
        } finally {
          await engine.dispose();
        }
      });
    }
  }
});
