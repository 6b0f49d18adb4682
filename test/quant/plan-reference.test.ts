// The int8 steps of the reference plan runner on small plans worked by hand in TFLite's arithmetic (ties of the
// doubling high multiply and of the rounding shift, saturation, clamps), and int8 moves on the zero point.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runPlanOutputs, runPlanValues } from '../../src/backend/plan-reference.js';
import type { Plan, PlanTensor, Step } from '../../src/graph/plan.js';
import { addRequantization, requantization } from '../../src/quant/fixed-point.js';
import type { Int8Tensor } from '../../src/quant/int8-ops.js';
import type { QParams } from '../../src/quant/qparams.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ConfigError } from '../../src/errors.js';

const tensor = (id: number, shape: number[], quant?: QParams): PlanTensor => ({ id, shape, size: shape.reduce((a, b) => a * b, 1), name: `t${id}`, ...(quant ? { quant } : {}) });
const int8 = (shape: number[], data: number[], params: QParams): Int8Tensor => ({ shape, data: Int8Array.from(data), params });
const UNPADDED = { strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], padding: [0, 0, 0, 0] as [number, number, number, number], groups: 1 };

describe('int8 plan steps (hand-worked)', () => {
  // input q − zp (zp 1) by rows: [2, 0], [4, 1], [0, −1]; the two 2×2 windows read (2, 0, 4, 1) and (4, 1, 0, −1)
  const x = { scale: 0.5, zeroPoint: 1 };
  const y = { scale: 1, zeroPoint: -3 };
  const conv: Step = {
    op: 'qconv',
    layers: ['conv'],
    inputs: [0],
    output: 1,
    // HWIO [2, 2, 1, 2]: channel 0 weighs the window (0, 0, 5, 1), channel 1 (0, 0, 10, 2)
    kernel: Int8Array.of(0, 0, 0, 0, 5, 10, 1, 2),
    kernelShape: [2, 2, 1, 2],
    bias: Int32Array.of(-10, -20),
    conv: UNPADDED,
    inShape: [3, 2, 1],
    outShape: [2, 1, 2],
    inputZeroPoint: 1,
    // channel 0 × 0.5 (multiplier 2^30, shift 0), channel 1 × 0.25 (2^30, shift −1); ReLU-like floor at −8
    requant: requantization([0.5, 0.25], -3, [-8, 127]),
    residual: null,
    add: null,
  };
  const convPlan: Plan = { tensors: [tensor(0, [3, 2, 1], x), tensor(1, [2, 1, 2], y)], steps: [conv], input: 0, outputs: [1] };

  it('a 2×2 conv: accumulators ±11 and ±22 meet ties, rounded as TFLite rounds them; the clamp and zero point apply', () => {
    // channel 0: 21 − 10 = 11 → SRDHM(11, 2^30) = ⌊(11·2^30 + 2^30) / 2^31⌋ = 6; −1 − 10 = −11 → (−11·2^30 + 1 − 2^30) / 2^31 truncated = −5
    // channel 1: 42 − 20 = 22 → SRDHM 11, then 11 / 2 rounded away from zero = 6; −22 → SRDHM −11, then −5.5 → −6
    // plus the zero point −3: [3, 3] and [−8, −9], the last clamped to −8
    const [out] = runPlanValues(convPlan, int8([1, 3, 2, 1], [3, 1, 5, 2, 1, 0], x));
    assert.ok(!(out instanceof Tensor));
    assert.deepEqual([...out.data], [3, 3, -8, -8]);
    assert.deepEqual(out.params, y);
  });

  it('runPlanOutputs quantizes a float input by the input tensor and dequantizes the output', () => {
    // reals (q − 1)·0.5 are exact: the same integers as above
    const real = new Tensor([1, 3, 2, 1], Float32Array.of(1, 0, 2, 0.5, 0, -0.5));
    const [out] = runPlanOutputs(convPlan, real);
    assert.deepEqual([...out.shape], [1, 2, 1, 2]);
    assert.deepEqual([...out.data], [6, 6, -5, -5]); // 1·(q + 3)
  });

  it('a residual add, as a qadd step or fused into the conv, is TFLite\'s ADD of the conv\'s int8 result', () => {
    // a second conv takes the window's first tap (channel 0) and last tap (channel 1) at multiplier 1: r = [2, 1, 4, −1]
    const r = { scale: 1, zeroPoint: 0 };
    const taps: Step = { ...conv, layers: ['taps'], output: 2, kernel: Int8Array.of(1, 0, 0, 0, 0, 0, 0, 1), bias: Int32Array.of(0, 0), requant: requantization([1, 1], 0) };
    // the sum of reals [6, 6, −5, −5] + [2, 1, 4, −1] = [8, 7, −1, −6] at scale 2: 4, 3.5 → 4, −0.5 → −1, −3 (TFLite's ADD rounds half away from zero)
    const out = { scale: 2, zeroPoint: 0 };
    const add = addRequantization(y, r, out);
    const tensors = [tensor(0, [3, 2, 1], x), tensor(1, [2, 1, 2], y), tensor(2, [2, 1, 2], r), tensor(3, [2, 1, 2], out)];
    const input = int8([1, 3, 2, 1], [3, 1, 5, 2, 1, 0], x);
    const apart: Plan = { tensors, steps: [conv, taps, { op: 'qadd', layers: ['add'], inputs: [1, 2], output: 3, add }], input: 0, outputs: [3] };
    const fused: Plan = { tensors, steps: [taps, { ...conv, inputs: [0, 2], output: 3, residual: 2, add }], input: 0, outputs: [3] };
    for (const plan of [apart, fused]) {
      const [sum] = runPlanValues(plan, input);
      assert.ok(!(sum instanceof Tensor));
      assert.deepEqual([...sum.data], [4, 4, -1, -3]);
    }
  });

  it('a global average pool: Σ (x − zx) × sx / (H·W·sy), its ties rounded as TFLite rounds them', () => {
    // per channel Σ (x − 1) over the 2×2 map: 7, 96, −7; × 2 / (4·1) = 3.5, 48, −3.5 → 4, 48, −3 (SRDHM's tie rules)
    const xq = { scale: 2, zeroPoint: 1 };
    const out = { scale: 1, zeroPoint: 0 };
    const pool: Step = { op: 'qglobalAvgPool', layers: ['pool'], inputs: [0], output: 1, inputZeroPoint: 1, requant: requantization([2 / 4], 0) };
    const plan: Plan = { tensors: [tensor(0, [2, 2, 3], xq), tensor(1, [3], out)], steps: [pool], input: 0, outputs: [1] };
    const [y] = runPlanValues(plan, int8([1, 2, 2, 3], [1, 10, 0, 2, 20, -1, 3, 30, -2, 5, 40, 0], xq));
    assert.ok(!(y instanceof Tensor));
    assert.deepEqual([...y.data], [4, 48, -3]);
  });

  it('int8 padding holds the zero point; a step with no int8 form refuses int8 input', () => {
    const p = { scale: 0.1, zeroPoint: -5 };
    const plan: Plan = { tensors: [tensor(0, [1, 1, 2], p), tensor(1, [1, 2, 2], p)], steps: [{ op: 'pad', layers: ['pad'], inputs: [0], output: 1, padding: [0, 0, 1, 0] }], input: 0, outputs: [1] };
    const [padded] = runPlanValues(plan, int8([1, 1, 1, 2], [7, -128], p));
    assert.ok(!(padded instanceof Tensor));
    assert.deepEqual([...padded.data], [-5, -5, 7, -128]);
    const softmax: Plan = { tensors: [tensor(0, [2], p), tensor(1, [2])], steps: [{ op: 'softmax', layers: ['softmax'], inputs: [0], output: 1, channels: 2 }], input: 0, outputs: [1] };
    assert.throws(() => runPlanValues(softmax, int8([1, 2], [1, 2], p)), (e) => e instanceof ConfigError && /softmax \(softmax\) has no int8 form/.test(e.message));
  });
});
