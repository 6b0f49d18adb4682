// WasmEngine on hand-built int8 plans of the fixed-point steps (qconv 1×1 with and without a fused residual, qdense,
// requantize, qadd, qglobalAvgPool) against the reference int8 ops of src/quant/int8-ops.ts: bit for bit, 1–3 threads.

import { enableWasmFeatures } from '../../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { relaxedSimdSupported } from '../../../src/backend/wasm/assembler.js';
import type { PlanTensor, PlannedModel, QConvStep, Step } from '../../../src/graph/plan.js';
import type { Conv2DParams } from '../../../src/ops/conv2d.js';
import { addRequantization, requantization } from '../../../src/quant/fixed-point.js';
import type { Requantization } from '../../../src/quant/fixed-point.js';
import { addFixed, conv2dInt8Accumulate, requantizeFixed } from '../../../src/quant/int8-ops.js';
import type { QParams } from '../../../src/quant/qparams.js';
import { Random } from '../../../src/tensor/random.js';

enableWasmFeatures();

const skip = WasmEngine.supported() ? false : 'WebAssembly SIMD is not available in this runtime';
const rng = new Random(1718);
const int = (lo: number, hi: number): number => lo + Math.floor(rng.uniform() * (hi - lo + 1));
const randomInt8 = (n: number, lo = -128, hi = 127): Int8Array => Int8Array.from({ length: n }, () => int(lo, hi));
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const tensor = (id: number, shape: number[], quant?: QParams): PlanTensor => ({ id, shape, size: size(shape), name: `t${id}`, quant });
const params = (): QParams => ({ scale: Math.fround(0.01 + rng.uniform() * 0.05), zeroPoint: int(-30, 30) });

/** A requantization of accumulators over `taps` products to int8: multipliers around 1 / (√taps · 2000), one per channel or one. */
function randomRequant(channels: number, taps: number, perChannel: boolean): Requantization {
  const m = Array.from({ length: perChannel ? channels : 1 }, () => Math.fround((0.3 + rng.uniform()) / (Math.sqrt(taps) * 2000)));
  const zeroPoint = int(-20, 20);
  // some with a fused ReLU6-like interval, some over the whole int8 range
  return requantization(m, zeroPoint, rng.uniform() < 0.5 ? [zeroPoint, Math.min(127, zeroPoint + 90)] : [-128, 127]);
}

/** A random int8 convolution step with `inShape`, `kernel` taps and `cout` outputs (depthwise where `depthwise`). */
function randomQConv(input: number, output: number, inShape: [number, number, number], outShape: [number, number, number], kernelShape: [number, number, number, number], conv: Conv2DParams, residual: number | null): QConvStep {
  const [kh, kw, cPerGroup, cout] = kernelShape;
  const taps = kh * kw * cPerGroup;
  const requant = randomRequant(cout, taps, rng.uniform() < 0.7);
  const add = residual === null ? null : addRequantization({ scale: 0.05, zeroPoint: requant.zeroPoint }, params(), params());
  return {
    op: 'qconv',
    layers: [`conv${output}`],
    inputs: residual === null ? [input] : [input, residual],
    output,
    kernel: randomInt8(taps * cout, -127, 127),
    kernelShape,
    bias: Int32Array.from({ length: cout }, () => int(-20000, 20000)),
    conv,
    inShape,
    outShape,
    inputZeroPoint: int(-128, 127),
    requant,
    residual,
    add,
  };
}

/** The reference of a qconv step: exact accumulation, TFLite's requantization, then TFLite's ADD of the residual. */
function referenceQConv(step: QConvStep, x: Int8Array, batch: number, residual: Int8Array | null): Int8Array {
  const { acc } = conv2dInt8Accumulate({ shape: [batch, ...step.inShape], data: x, params: { scale: 1, zeroPoint: step.inputZeroPoint } }, step.kernel, step.kernelShape, step.conv);
  const y = requantizeFixed(acc, step.bias, step.requant);
  return residual ? addFixed(y, residual, step.add!) : y;
}

const pointwise: Conv2DParams = { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 };

function planned(tensors: PlanTensor[], steps: Step[]): PlannedModel {
  return { plan: { tensors, steps, input: 0, outputs: [tensors.length - 1] }, outputNames: ['y'] };
}

/** Runs `model` on int8 data as it is for each thread count and SIMD mode, checking every run against `expected`. */
async function check(model: PlannedModel, input: Int8Array, batch: number, expected: Int8Array, threads: readonly number[] = [1, 2, 3]): Promise<void> {
  for (const relaxedSimd of relaxedSimdSupported() ? [false, true] : [false]) {
    for (const t of threads) {
      const engine = await WasmEngine.create(model, { threads: t, relaxedSimd });
      try {
        assert.deepEqual(engine.coverage.fallback, []);
        const y = engine.predictRaw(input, batch).y as Int8Array;
        const wrong = y.findIndex((v, i) => v !== expected[i]);
        assert.equal(wrong, -1, `${t} threads, ${relaxedSimd ? 'relaxed' : 'portable'} SIMD: element ${wrong} is ${y[wrong]}, expected ${expected[wrong]}`);
      } finally {
        await engine.dispose();
      }
    }
  }
}

describe('int8 engine: fixed-point steps', { skip }, () => {
  for (const [h, w, cin, cout, batch] of [
    [5, 3, 17, 33, 5],
    [1, 1, 3, 16, 1],
    [7, 7, 40, 24, 2],
  ] as const) {
    it(`qconv 1×1 ${h}×${w}×${cin} → ${cout}, batch ${batch}, then one with a fused residual`, async () => {
      const conv = randomQConv(0, 1, [h, w, cin], [h, w, cout], [1, 1, cin, cout], pointwise, null);
      const fused = randomQConv(1, 2, [h, w, cout], [h, w, cout], [1, 1, cout, cout], pointwise, 1);
      const model = planned([tensor(0, [h, w, cin], params()), tensor(1, [h, w, cout], params()), tensor(2, [h, w, cout], params())], [conv, fused]);
      const x = randomInt8(batch * h * w * cin);
      const y1 = referenceQConv(conv, x, batch, null);
      await check(model, x, batch, referenceQConv(fused, y1, batch, y1));
    });
  }

  for (const [h, w, c, k, stride, padding, dilation, batch] of [
    [7, 9, 17, 3, 2, [1, 1, 1, 1], 1, 5],
    [6, 6, 33, 3, 1, [1, 1, 1, 1], 1, 2],
    [5, 5, 8, 3, 1, [2, 2, 2, 2], 2, 1],
    [1, 1, 20, 3, 1, [1, 1, 1, 1], 1, 3],
  ] as const) {
    const out = (n: number): number => Math.floor((n + padding[0] + padding[1] - (k - 1) * dilation - 1) / stride) + 1;
    const conv: Conv2DParams = { strides: [stride, stride], dilations: [dilation, dilation], padding, groups: c };
    it(`qconv depthwise ${k}×${k} stride ${stride} dilation ${dilation} on ${h}×${w}×${c}, batch ${batch}`, async () => {
      const step = randomQConv(0, 1, [h, w, c], [out(h), out(w), c], [k, k, 1, c], conv, null);
      const x = randomInt8(batch * h * w * c);
      await check(planned([tensor(0, [h, w, c], params()), tensor(1, [out(h), out(w), c], params())], [step]), x, batch, referenceQConv(step, x, batch, null));
    });
  }

  for (const [h, w, cin, cout, stride, batch] of [
    [9, 7, 3, 16, 2, 5],
    [4, 4, 5, 19, 1, 1],
  ] as const) {
    it(`qconv standard 3×3 stride ${stride} on ${h}×${w}×${cin} → ${cout} (im2col and the GEMM), batch ${batch}`, async () => {
      const conv: Conv2DParams = { strides: [stride, stride], dilations: [1, 1], padding: [1, 1, 1, 1], groups: 1 };
      const out = (n: number): number => Math.floor((n + 2 - 3) / stride) + 1;
      const step = randomQConv(0, 1, [h, w, cin], [out(h), out(w), cout], [3, 3, cin, cout], conv, null);
      const x = randomInt8(batch * h * w * cin);
      await check(planned([tensor(0, [h, w, cin], params()), tensor(1, [out(h), out(w), cout], params())], [step]), x, batch, referenceQConv(step, x, batch, null));
    });
  }

  it('qdense 37 → 10 with per-unit requantization, batch 5', async () => {
    const requant = randomRequant(10, 37, true);
    const step: Step = { op: 'qdense', layers: ['fc'], inputs: [0], output: 1, kernel: randomInt8(370, -127, 127), bias: Int32Array.from({ length: 10 }, () => int(-5000, 5000)), units: 10, inputZeroPoint: 9, requant };
    const x = randomInt8(5 * 37);
    const { acc } = conv2dInt8Accumulate({ shape: [5, 1, 1, 37], data: x, params: { scale: 1, zeroPoint: 9 } }, step.kernel, [1, 1, 37, 10], pointwise);
    await check(planned([tensor(0, [37], params()), tensor(1, [10], params())], [step]), x, 5, requantizeFixed(acc, step.bias, requant));
  });

  for (const perChannel of [false, true]) {
    it(`requantize a 3×5×19 tensor to other parameters (${perChannel ? 'per channel' : 'per tensor'}), batch 5`, async () => {
      const requant = requantization(Array.from({ length: perChannel ? 19 : 1 }, () => Math.fround(0.2 + 3 * rng.uniform())), -3, [-128, 127]);
      const step: Step = { op: 'requantize', layers: ['rq'], inputs: [0], output: 1, inputZeroPoint: 11, requant };
      const x = randomInt8(5 * 3 * 5 * 19);
      const centred = Int32Array.from(x, (v) => v - 11);
      await check(planned([tensor(0, [3, 5, 19], params()), tensor(1, [3, 5, 19], params())], [step]), x, 5, requantizeFixed(centred, new Int32Array(19), requant));
    });
  }

  it('qadd of two 5×5×21 tensors with different parameters (the second a requantized copy of the first), batch 5', async () => {
    const add = addRequantization({ scale: 0.02, zeroPoint: -5 }, { scale: 0.07, zeroPoint: 12 }, { scale: 0.05, zeroPoint: 3 }, [3, 127]);
    const requant = requantization([Math.fround(0.77)], 12);
    const x = randomInt8(5 * 525);
    const model = planned([tensor(0, [5, 5, 21], params()), tensor(1, [5, 5, 21], params()), tensor(2, [5, 5, 21], params())], [
      { op: 'requantize', layers: ['b'], inputs: [0], output: 1, inputZeroPoint: -5, requant },
      { op: 'qadd', layers: ['add'], inputs: [0, 1], output: 2, add },
    ]);
    const b = requantizeFixed(Int32Array.from(x, (v) => v + 5), new Int32Array(1), requant);
    await check(model, x, 5, addFixed(x, b, add));
  });

  it('qglobalAvgPool of 7×7×35 and 1×1×16 maps, batch 5', async () => {
    for (const [h, w, c] of [
      [7, 7, 35],
      [1, 1, 16],
    ] as const) {
      const requant = requantization([Math.fround(0.04 / (h * w * 0.03))], -7);
      const step: Step = { op: 'qglobalAvgPool', layers: ['gap'], inputs: [0], output: 1, inputZeroPoint: -10, requant };
      const x = randomInt8(5 * h * w * c);
      const sums = new Int32Array(5 * c);
      for (let i = 0; i < x.length; i++) sums[Math.floor(i / (h * w * c)) * c + (i % c)] += x[i] + 10;
      await check(planned([tensor(0, [h, w, c], params()), tensor(1, [c], params())], [step]), x, 5, requantizeFixed(sums, new Int32Array(c), requant));
    }
  });
});

describe('int8 engine: row-streamed qchains', { skip }, () => {
  /** An inverted residual [stem] [expand] depthwise project on `inShape`, its reference output, and the plan holding it as one qchain. */
  function chainCase(inShape: [number, number, number], o: { stem?: number; expand?: number; stride: number; out: number; residual: boolean }): { model: PlannedModel; reference: (x: Int8Array, batch: number) => Int8Array } {
    const stages: QConvStep[] = [];
    let shape = inShape;
    const next = (kernelShape: [number, number, number, number], conv: Conv2DParams, outShape: [number, number, number], residual: boolean): void => {
      stages.push(randomQConv(100 + stages.length, 101 + stages.length, shape, outShape, kernelShape, conv, residual ? 100 : null));
      shape = outShape;
    };
    const down = (n: number, stride: number): number => Math.floor((n + 2 - 3) / stride) + 1;
    if (o.stem) next([3, 3, shape[2], o.stem], { strides: [2, 2], dilations: [1, 1], padding: [1, 1, 1, 1], groups: 1 }, [down(shape[0], 2), down(shape[1], 2), o.stem], false);
    if (o.expand) next([1, 1, shape[2], o.expand], pointwise, [shape[0], shape[1], o.expand], false);
    const c = shape[2];
    next([3, 3, 1, c], { strides: [o.stride, o.stride], dilations: [1, 1], padding: [1, 1, 1, 1], groups: c }, [down(shape[0], o.stride), down(shape[1], o.stride), c], false);
    next([1, 1, c, o.out], pointwise, [shape[0], shape[1], o.out], o.residual);
    const step: Step = { op: 'qchain', layers: ['block'], inputs: [0], output: 1, stages };
    const reference = (x: Int8Array, batch: number): Int8Array => stages.reduce((y, s, i) => referenceQConv(s, y, batch, i === stages.length - 1 && o.residual ? x : null), x);
    return { model: planned([tensor(0, inShape, params()), tensor(1, shape, params())], [step]), reference };
  }

  for (const [name, inShape, o, batch] of [
    ['expand 6×, stride 1 with the residual', [7, 5, 16], { expand: 96, stride: 1, out: 16, residual: true }, 5],
    ['expand, stride 2 on odd sizes, 17 → 24 channels', [9, 7, 17], { expand: 40, stride: 2, out: 24, residual: false }, 2],
    ['no expansion (MobileNetV2 block 0 after the stem)', [6, 6, 8], { stride: 1, out: 12, residual: false }, 1],
    ['a stem, depthwise and projection', [11, 9, 3], { stem: 16, stride: 1, out: 8, residual: false }, 3],
    ['a 1×1 map with the residual', [1, 1, 24], { expand: 72, stride: 1, out: 24, residual: true }, 5],
  ] as const) {
    it(`${name}: ${inShape.join('×')}, batch ${batch}, bit-equal to the stages one by one`, async () => {
      const { model, reference } = chainCase([...inShape], o);
      const x = randomInt8(batch * size(inShape));
      await check(model, x, batch, reference(x, batch));
      // the expansion streams through row buffers: the arena holds less than the expanded tensor would take
      const expanded = 'expand' in o ? batch * inShape[0] * inShape[1] * o.expand : 0;
      const engine = await WasmEngine.create(model);
      if (expanded > 10000) assert.ok(engine.arenaBytes(batch) < expanded, `arena ${engine.arenaBytes(batch)} bytes, expanded tensor ${expanded}`);
      await engine.dispose();
    });
  }
});
