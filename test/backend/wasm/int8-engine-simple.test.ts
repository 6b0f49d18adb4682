// WasmEngine on hand-built int8 plans of the simple steps (quantize, dequantize, clamp, pad, concat, max and average
// pools) on awkward shapes, batch 5 and 1–3 threads, against qparams' definitions and the float reference pools.

import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import type { PlanTensor, PlannedModel, Step } from '../../../src/graph/plan.js';
import { avgPool2d, maxPool2d } from '../../../src/ops/pool.js';
import type { Pool2DParams } from '../../../src/ops/pool.js';
import { zeroPad2d } from '../../../src/ops/pad.js';
import { clampRange, dequantize, quantize } from '../../../src/quant/qparams.js';
import type { QParams } from '../../../src/quant/qparams.js';
import { Random } from '../../../src/tensor/random.js';
import { Tensor } from '../../../src/tensor/tensor.js';

enableWasmFeatures();

const skip = WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime';
const rng = new Random(1717);

const tensor = (id: number, shape: number[], quant?: QParams): PlanTensor => ({ id, shape, size: shape.reduce((a, b) => a * b, 1), name: `t${id}`, quant });

/** A plan of `steps` over `tensors` (tensor 0 the input, the last the output). */
function planned(tensors: PlanTensor[], steps: Step[]): PlannedModel {
  return { plan: { tensors, steps, input: 0, outputs: [tensors.length - 1] }, outputNames: ['y'] };
}

function randomInt8(n: number): Int8Array {
  return Int8Array.from({ length: n }, () => Math.floor(rng.uniform() * 256) - 128);
}

/** Runs `model` on int8 data as it is, with 1 to 3 threads, and checks each run against `expected`. */
async function checkRaw(model: PlannedModel, input: Int8Array, batch: number, expected: Int8Array | Float32Array): Promise<void> {
  for (const threads of [1, 2, 3]) {
    const engine = await WasmEngine.create(model, { threads });
    try {
      assert.deepEqual(engine.coverage.fallback, []);
      assert.deepEqual(engine.predictRaw(input, batch).y, expected, `${threads} threads`);
    } finally {
      await engine.dispose();
    }
  }
}

const P: QParams = { scale: 0.0371, zeroPoint: -7 };

describe('int8 engine: simple steps', { skip }, () => {
  it('quantize and dequantize as qparams defines them, ties to even and saturation included', async () => {
    const shape = [3, 5, 19];
    const size = 3 * 5 * 19;
    const batch = 5;
    const x = new Float32Array(batch * size).map(() => (rng.uniform() - 0.5) * 14);
    // ties (k + 0.5 steps), beyond the range both ways, zero
    x.set([0.5 * P.scale, 1.5 * P.scale, -2.5 * P.scale, 1e9, -1e9, 0].map(Math.fround));
    // the wasm kernel quantizes after a (zero) pad; a first step quantizing the input itself is done on the way in
    const kernelModel = planned([tensor(0, shape), tensor(1, shape), tensor(2, shape, P), tensor(3, shape)], [
      { op: 'pad', layers: ['pad'], inputs: [0], output: 1, padding: [0, 0, 0, 0] },
      { op: 'quantize', layers: ['q'], inputs: [1], output: 2 },
      { op: 'dequantize', layers: ['d'], inputs: [2], output: 3 },
    ]);
    const doorModel = planned([tensor(0, shape), tensor(1, shape, P), tensor(2, shape)], [
      { op: 'quantize', layers: ['q'], inputs: [0], output: 1 },
      { op: 'dequantize', layers: ['d'], inputs: [1], output: 2 },
    ]);
    const expected = dequantize(quantize(x, P), P);
    for (const [model, steps] of [
      [kernelModel, ['pad', 'quantize', 'dequantize']],
      [doorModel, ['dequantize']],
    ] as const) {
      for (const threads of [1, 3]) {
        const engine = await WasmEngine.create(model, { threads });
        assert.deepEqual(engine.coverage.fallback, []);
        assert.deepEqual(engine.plan.steps.map((st) => st.op), steps);
        assert.deepEqual(engine.predictRaw(x, batch).y, expected);
        assert.deepEqual(engine.predict(new Tensor([batch, ...shape], x)).data, expected);
        await engine.dispose();
      }
    }
  });

  it('an int8 input is quantized by its parameters and an int8 output dequantized by predict', async () => {
    const shape = [2, 3, 17];
    const q: QParams = { scale: 0.05, zeroPoint: 3 };
    const model = planned([tensor(0, shape, q), tensor(1, shape, q)], [{ op: 'clamp', layers: ['relu6'], inputs: [0], output: 1, clamp: [0, 6] }]);
    const x = new Float32Array(2 * 102).map(() => (rng.uniform() - 0.3) * 9);
    const [lo, hi] = clampRange([0, 6], q);
    const expected = dequantize(quantize(x, q).map((v) => Math.min(Math.max(v, lo), hi)), q);
    const engine = await WasmEngine.create(model);
    assert.deepEqual(engine.predict(new Tensor([2, ...shape], x)).data, expected);
    assert.throws(() => engine.predictRaw(x, 2), /takes int8/);
    await engine.dispose();
  });

  for (const [h, w, c, pool] of [
    [7, 9, 3, { kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] }],
    [5, 5, 33, { kernel: [2, 3], strides: [1, 2], padding: [0, 1, 1, 0] }],
    [1, 1, 17, { kernel: [1, 1], strides: [1, 1], padding: [0, 0, 0, 0] }],
  ] as const) {
    const params: Pool2DParams = { kernel: [...pool.kernel], strides: [...pool.strides], dilations: [1, 1], padding: pool.padding, countIncludePad: false };
    const outH = Math.floor((h + pool.padding[0] + pool.padding[1] - pool.kernel[0]) / pool.strides[0]) + 1;
    const outW = Math.floor((w + pool.padding[2] + pool.padding[3] - pool.kernel[1]) / pool.strides[1]) + 1;
    const batch = 5;
    const x = randomInt8(batch * h * w * c);
    const asFloat = new Tensor([batch, h, w, c], Float32Array.from(x));

    it(`int8 max pool ${h}×${w}×${c}, window ${pool.kernel.join('×')} stride ${pool.strides.join('×')}: the float reference's maxima`, async () => {
      const model = planned([tensor(0, [h, w, c], P), tensor(1, [outH, outW, c], P)], [{ op: 'maxPool', layers: ['pool'], inputs: [0], output: 1, pool: params }]);
      await checkRaw(model, x, batch, Int8Array.from(maxPool2d(asFloat, params).data));
    });

    it(`int8 average pool ${h}×${w}×${c}, window ${pool.kernel.join('×')}: the float reference's means rounded half away from zero, clamped`, async () => {
      const range = [-100, 90] as const;
      const model = planned([tensor(0, [h, w, c], P), tensor(1, [outH, outW, c], P)], [{ op: 'qavgPool', layers: ['pool'], inputs: [0], output: 1, pool: params, range }]);
      const means = avgPool2d(asFloat, params).data;
      const expected = Int8Array.from(means, (m) => Math.min(Math.max(Math.sign(m) * Math.round(Math.abs(m)), range[0]), range[1]));
      await checkRaw(model, x, batch, expected);
    });
  }

  it('int8 global max pool over a 3×5 map of 18 channels', async () => {
    const x = randomInt8(5 * 3 * 5 * 18);
    const model = planned([tensor(0, [3, 5, 18], P), tensor(1, [18], P)], [{ op: 'globalMaxPool', layers: ['gmp'], inputs: [0], output: 1 }]);
    const expected = maxPool2d(new Tensor([5, 3, 5, 18], Float32Array.from(x)), { kernel: [3, 5], strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], countIncludePad: false });
    await checkRaw(model, x, 5, Int8Array.from(expected.data));
  });

  it('int8 pad fills the zero point; int8 concat joins channel runs', async () => {
    const [h, w, c] = [3, 4, 5];
    const padding = [1, 2, 0, 3] as const;
    const x = randomInt8(5 * h * w * c);
    const padded = [h + 3, w + 3, c];
    const model = planned(
      [tensor(0, [h, w, c], P), tensor(1, padded, P), tensor(2, padded, P), tensor(3, [h + 3, w + 3, 2 * c], P)],
      [
        { op: 'pad', layers: ['pad'], inputs: [0], output: 1, padding },
        { op: 'clamp', layers: ['relu'], inputs: [1], output: 2, clamp: [0, Infinity] },
        { op: 'concat', layers: ['cat'], inputs: [2, 1], output: 3, blocks: [c, c] },
      ],
    );
    const centred = new Tensor([5, h, w, c], Float32Array.from(x, (v) => v - P.zeroPoint));
    const pad = Int8Array.from(zeroPad2d(centred, padding).data, (v) => v + P.zeroPoint);
    const relu = pad.map((v) => Math.max(v, P.zeroPoint));
    const expected = new Int8Array(pad.length * 2);
    for (let i = 0; i < pad.length / c; i++) {
      expected.set(relu.subarray(i * c, (i + 1) * c), 2 * i * c);
      expected.set(pad.subarray(i * c, (i + 1) * c), (2 * i + 1) * c);
    }
    await checkRaw(model, x, 5, expected);
  });
});
