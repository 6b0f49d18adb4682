// The SSD heads' ops in WebAssembly: NHWC reshapes to [H·W·anchors, values] planned as views, the concatenation along
// the anchors axis as native copies (in place where a 1×1 map's GEMM can write its slice), sigmoid and softmax over the
// last axis, SSD's 3×3 extra layers as im2col + GEMM; kernels against the reference ops and models against
// model.predict on awkward shapes, 1 and 2 threads.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { concatSlices, im2colFloats } from '../../../src/backend/wasm/memory-plan.js';
import { lowerModel } from '../../../src/graph/lower.js';
import { Model } from '../../../src/graph/model.js';
import { Conv2D } from '../../../src/nn/conv.js';
import { Add, Reshape, input } from '../../../src/nn/core.js';
import { Concatenate, Sigmoid, Transpose } from '../../../src/nn/extra.js';
import { Softmax } from '../../../src/nn/activation.js';
import { WasmRuntime } from '../../../src/backend/wasm/runtime.js';
import { emitSigmoid, emitSoftmax } from '../../../src/backend/wasm/kernels/exponential.js';
import { softmax } from '../../../src/ops/activation.js';
import { sigmoid } from '../../../src/ops/pointwise.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { guarded } from '../../support/wasm-guard.js';
import { GlobalAveragePooling2D } from '../../../src/nn/pooling.js';
import type { SymbolicTensor } from '../../../src/graph/symbolic.js';
import { assertClose, randomBatch } from '../../support/helpers.js';
import { SIMD_MODES, noSimd } from '../../support/wasm-modes.js';

const VALUES = 3;

/** A 1×1 conv with bias to anchors·values, reshaped to [H·W·anchors, values]. */
function head(x: SymbolicTensor, name: string, anchors: number, values = VALUES): SymbolicTensor {
  const y = new Conv2D(name, { filters: anchors * values, kernelSize: 1 }).apply(x);
  return new Reshape(`${name}_reshape`, [y.shape[0] * y.shape[1] * anchors, values]).apply(y);
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

/** Values from −120 to 120 (past where e^x leaves float32's normal range), with 0 and the ends themselves. */
function spread(size: number, seed: number): Tensor {
  const t = randomBatch([size], seed);
  t.data.forEach((v, i) => (t.data[i] = [0, -120, 120, 88.5, -88.5][i] ?? v * (i % 3 === 0 ? 120 : 8)));
  return t;
}

/** |a − b| ≤ tol·(|b| + floor) element by element: sigmoid and softmax outputs are relative to their size, not to 1. */
function assertRelative(actual: Float32Array, expected: Float32Array, tol: number, floor: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol * (Math.abs(expected[i]) + floor), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe("SSD's regular 3×3 extra layers: im2col and a GEMM", () => {
  /** 3×3 stride 2 on 70 channels (630 taps: past the direct kernel), then a dilated 3×3 with a residual add, ReLU6. */
  function extras(): Model {
    const x = input([9, 7, 70]);
    const strided = new Conv2D('extra_3x3', { filters: 13, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }).apply(x);
    const dilated = new Conv2D('dilated', { filters: 13, kernelSize: 3, dilations: 2, padding: [2, 2, 2, 2] }).apply(strided);
    return new Model(x, new Add('sum').apply([dilated, strided]), { seed: 8 });
  }

  it('both lower to conv steps with im2col scratch (the second with its residual)', () => {
    const plan = lowerModel(extras());
    assert.deepEqual(plan.steps.map((s) => [s.op, s.op === 'conv' && s.residual !== null, im2colFloats(s)]), [
      ['conv', false, 5 * 4 * 9 * 70],
      ['conv', true, 5 * 4 * 9 * 13],
    ]);
  });

  for (const threads of [1, 2]) {
    it(`no fallback steps, equal to model.predict for batch 2 and 1 (${threads} thread(s))`, { skip: noSimd }, async () => {
      const model = extras();
      const engine = await WasmEngine.create(model, { threads });
      try {
        assert.deepEqual(engine.coverage.fallback, []);
        for (const batch of [2, 1]) {
          const x = randomBatch([batch, 9, 7, 70], 40 + batch);
          assertClose(engine.predict(x), model.predict(x), 1e-5, `batch ${batch}`);
          assertClose(engine.predict(x), model.predict(x), 1e-5, `batch ${batch}, again (the scratch zeroed anew)`);
        }
      } finally {
        await engine.dispose();
      }
    });
  }
});

describe('transposes that move no float are views', () => {
  it("an imported head's NHWC → NCHW → NHWC round on a 1×1 map plans no step; one on a 2×3 map stays a layer step", { skip: noSimd }, async () => {
    const x = input([2, 3, 5]);
    const pooled = new GlobalAveragePooling2D('pool', true).apply(x);
    // [1, 1, 5] → [5, 1, 1] (NCHW) → [1, 1, 5]: only size-1 axes move
    const roundTrip = new Transpose('to_nhwc', [1, 2, 0]).apply(new Transpose('to_nchw', [2, 0, 1]).apply(pooled));
    const moved = new Transpose('moved', [2, 0, 1]).apply(x);
    const model = new Model(x, { roundTrip, moved }, { seed: 2 });
    const plan = lowerModel(model);
    assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.layers[0]}`), ['globalAvgPool pool', 'layer moved']);
    assert.equal(plan.outputs[0], plan.steps[0].output, 'the round trip is the pool tensor itself');
    const engine = await WasmEngine.create(model);
    try {
      const batch = randomBatch([2, 2, 3, 5], 30);
      const [ours, reference] = [engine.predictOutputs(batch), model.predictOutputs(batch)];
      for (const name of model.outputNames) assertClose(ours[name], reference[name], 1e-6, name);
    } finally {
      await engine.dispose();
    }
  });
});

describe('wasm sigmoid and softmax kernels vs the reference ops', () => {
  for (const mode of SIMD_MODES) {
    it(`sigmoid on 1…9 and 91 floats per sample, batch 2, ±120 included (${mode.name})`, { skip: mode.skip }, async () => {
      const rt = new WasmRuntime();
      const mod = rt.module({ relaxedSimd: mode.relaxed });
      const sizes = [1, 2, 3, 4, 5, 6, 7, 9, 91];
      sizes.forEach((size) => emitSigmoid(mod, `sigmoid${size}`, size));
      const kernels = await rt.instantiate(mod);
      for (const size of sizes) {
        const x = spread(2 * size, size);
        const out = guarded(rt, 2 * size);
        kernels[`sigmoid${size}`](rt.upload(x.data), out.pointer, 2);
        // below e^−87 the kernel's e^x stays at float32's smallest normal: outputs under 1e-37 are 0 to within 1e-37
        assertRelative(out.read(), sigmoid(x).data, 2e-6, 1e-31, `sigmoid ${size}`);
      }
    });

    it(`softmax over rows of 1, 3, 4, 5, 8, 91 channels, 3 rows, logits up to ±120 (${mode.name})`, { skip: mode.skip }, async () => {
      const rt = new WasmRuntime();
      const mod = rt.module({ relaxedSimd: mode.relaxed });
      const channels = [1, 3, 4, 5, 8, 91];
      channels.forEach((c) => emitSoftmax(mod, `softmax${c}`, c));
      const kernels = await rt.instantiate(mod);
      for (const c of channels) {
        const x = spread(3 * c, 50 + c).reshape([3, c]);
        const out = guarded(rt, 3 * c);
        kernels[`softmax${c}`](rt.upload(x.data), out.pointer, 3);
        assertRelative(out.read(), softmax(x).data, 5e-6, 1e-30, `softmax ${c}`);
      }
    });
  }
});

describe('sigmoid and softmax heads through WasmEngine', () => {
  /** 2 anchors' scores for 7 classes through a sigmoid and (separately) a softmax: two outputs. */
  function scored(): Model {
    const x = input([5, 3, 4]);
    const logits = head(new Conv2D('features', { filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x), 'logits', 2, 7);
    return new Model(x, { sigmoid: new Sigmoid('sigmoid').apply(logits), softmax: new Softmax('softmax').apply(logits) }, { seed: 6 });
  }

  for (const threads of [1, 2]) {
    it(`no fallback steps, equal to model.predictOutputs, batch 2 (${threads} thread(s))`, { skip: noSimd }, async () => {
      const model = scored();
      assert.deepEqual(lowerModel(model).steps.map((s) => s.op).slice(-2), ['sigmoid', 'softmax']);
      const engine = await WasmEngine.create(model, { threads });
      try {
        assert.deepEqual(engine.coverage.fallback, []);
        const x = randomBatch([2, 5, 3, 4], 21);
        const [ours, reference] = [engine.predictOutputs(x), model.predictOutputs(x)];
        for (const name of model.outputNames) assertRelative(ours[name].data, reference[name].data, 1e-5, 1e-6, name);
      } finally {
        await engine.dispose();
      }
    });
  }
});
