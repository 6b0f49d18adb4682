// Int8 quantization: the number formats against hand-worked values, the int8 kernels against the float reference
// convolution on the same integers, whole models against PyTorch's float outputs and the bundled model's accuracy.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose, goldenCase, randomBatch, runCli } from '../support/helpers.js';
import { affineParams, clampRange, dequantize, quantize, quantizeWeights, roundHalfEven } from '../../src/quant/qparams.js';
import { addInt8, conv2dInt8Accumulate, globalAvgPoolInt8, requantize } from '../../src/quant/int8-ops.js';
import type { Int8Tensor } from '../../src/quant/int8-ops.js';
import { QuantizedModel } from '../../src/quant/quantized-model.js';
import { quantizationErrors } from '../../src/quant/error-report.js';
import type { Int8ConvStep } from '../../src/quant/quantized-model.js';
import { WasmInt8Kernels } from '../../src/quant/wasm-int8.js';
import { decodeInt8ModelFile, encodeInt8ModelFile } from '../../src/quant/int8-file.js';
import { conv2d } from '../../src/ops/conv2d.js';
import type { Conv2DParams } from '../../src/ops/conv2d.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { decodeAnyModel } from '../../src/io/any-model.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { loadBatch } from '../../src/data/dataset.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { FormatError, ShapeError, WeightsError } from '../../src/errors.js';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const BUNDLED = join(ROOT, 'models', 'fashion-mnist.safetensors');
const FASHION = join(ROOT, 'data', 'fashion-mnist');

describe('int8 number formats (hand-worked)', () => {
  it('rounds half to even, as ONNX QuantizeLinear does', () => {
    assert.deepEqual([2.5, 3.5, -2.5, -3.5, 2.4, -2.6, 0.5].map(roundHalfEven), [2, 4, -2, -4, 2, -3, 0]);
  });

  it('affine parameters: [−1, 3] → scale 4/255, zero point −64; [0, 6] → 6/255, −128; ranges widen to hold 0', () => {
    assert.deepEqual(affineParams(-1, 3), { scale: 4 / 255, zeroPoint: -64 }); // −128 + 1/(4/255) = −64.25 → −64
    assert.deepEqual(affineParams(0, 6), { scale: 6 / 255, zeroPoint: -128 });
    assert.deepEqual(affineParams(2, 5), { scale: 5 / 255, zeroPoint: -128 });
    assert.deepEqual(affineParams(-4, -1), { scale: 4 / 255, zeroPoint: 127 });
    assert.deepEqual(affineParams(0, 0), { scale: 1, zeroPoint: 0 });
    assert.throws(() => affineParams(Infinity, -Infinity, 'tensor x'), /int8 range of tensor x/);
  });

  it('quantize and dequantize: 0 is exact, values saturate at the ends', () => {
    const p = { scale: 0.5, zeroPoint: -10 };
    assert.deepEqual([...quantize(Float32Array.of(0, 1, 1.25, -3, 1000, -1000), p)], [-10, -8, -8, -16, 127, -128]);
    assert.deepEqual([...dequantize(Int8Array.of(-10, -8, 127), p)], [0, 1, 68.5]);
  });

  it('weights: symmetric per output channel (the last axis), ±127', () => {
    // channel 0 holds 0.5 and 1 (scale 1/127), channel 1 holds −1 and 0.25; channel 2 is all zero
    const { q, scales } = quantizeWeights(Float32Array.of(0.5, -1, 0, 1, 0.25, 0), 3);
    assert.deepEqual([...q], [64, -127, 0, 127, 32, 0]); // 63.5 → 64 (half to even), 31.75 → 32
    assert.deepEqual([...scales], [Math.fround(1 / 127), Math.fround(1 / 127), 1]);
  });

  it('a fused ReLU6 is the int8 interval [zero point, q(6)]', () => {
    assert.deepEqual(clampRange([0, 6], { scale: 8 / 255, zeroPoint: -128 }), [-128, 63]); // 6·255/8 = 191.25 → 191
    assert.deepEqual(clampRange(null, { scale: 1, zeroPoint: 0 }), [-128, 127]);
  });
});

function int8Tensor(shape: number[], seed: number, zeroPoint: number): Int8Tensor {
  const rng = new Random(seed);
  const data = Int8Array.from({ length: shape.reduce((a, b) => a * b) }, () => Math.floor(-128 + 256 * rng.uniform()));
  return { shape, data, params: { scale: 0.1, zeroPoint } };
}

describe('int8 convolution against the float reference on the same integers', () => {
  const cases: { name: string; x: number[]; k: number[]; p: Conv2DParams }[] = [
    { name: 'pointwise, 13 → 7 channels, batch 2', x: [2, 5, 3, 13], k: [1, 1, 13, 7], p: { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 } },
    { name: '3×3 stride 2, asymmetric padding', x: [1, 7, 6, 3], k: [3, 3, 3, 5], p: { strides: [2, 2], dilations: [1, 1], padding: [0, 1, 1, 0], groups: 1 } },
    { name: 'depthwise 3×3, 9 channels, pad 1', x: [2, 6, 5, 9], k: [3, 3, 1, 9], p: { strides: [1, 1], dilations: [1, 1], padding: [1, 1, 1, 1], groups: 9 } },
    { name: 'depthwise stride 2, dilation 2', x: [1, 9, 9, 4], k: [3, 3, 1, 4], p: { strides: [2, 2], dilations: [2, 2], padding: [2, 2, 2, 2], groups: 4 } },
    { name: 'grouped: 2 groups of 3 → 4', x: [1, 4, 4, 6], k: [2, 2, 3, 8], p: { strides: [1, 1], dilations: [1, 1], padding: [0, 1, 0, 1], groups: 2 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const zx = 7;
      const x = int8Tensor(c.x, 1, zx);
      const k = int8Tensor(c.k, 2, 0).data.map((v) => Math.max(v, -127));
      const { acc, shape } = conv2dInt8Accumulate(x, k, c.k, c.p);
      // padding is real 0: the float conv of (x − zx) pads with 0 too; every product and sum is an exact integer
      const expected = conv2d(new Tensor(c.x, Float32Array.from(x.data, (v) => v - zx)), new Tensor(c.k, Float32Array.from(k)), null, c.p);
      assert.deepEqual([...shape], [...expected.shape]);
      assert.deepEqual([...acc], [...expected.data]);
    });
  }

  it('refuses a kernel that does not fit', () => {
    assert.throws(() => conv2dInt8Accumulate(int8Tensor([1, 2, 2, 3], 1, 0), new Int8Array(5), [1, 1, 3, 2], cases[0].p), ShapeError);
  });
});

describe('int8 epilogues (hand-worked)', () => {
  it('requantize: (acc + bias)·multiplier, rounded half to even, plus the zero point, clamped', () => {
    const out = { scale: 1, zeroPoint: -3 };
    const r = { bias: Int32Array.of(20, -5), multipliers: Float64Array.of(0.05, 0.5), out, range: [-128, 2] as const };
    // channel 0: (100 + 20)·0.05 = 6 → 3 → clamped to 2; (30 + 20)·0.05 = 2.5 → 2 → −1. channel 1: (9 − 5)·0.5 = 2 → −1; (−1000 − 5)·0.5 → −128
    const y = requantize(Int32Array.of(100, 9, 30, -1000), [1, 1, 2, 2], r, null);
    assert.deepEqual([...y.data], [2, -1, -1, -128]);
    const residual: Int8Tensor = { shape: [1, 1, 2, 2], data: Int8Array.of(10, 0, 0, 0), params: { scale: 0.5, zeroPoint: 4 } };
    // a residual of (10 − 4)·0.5 = 3 real, at multiplier 0.5/1: 6·0.5 = 3 more steps on the first element: (120·0.05 − 3 ... ) → clamp
    const withResidual = requantize(Int32Array.of(-100, 9, 30, -1000), [1, 1, 2, 2], { ...r, residualMultiplier: 0.5 }, residual);
    // (−100 + 20)·0.05 + 3 = −1 → −4; the others get (0 − 4)·0.5 = −2: 2 − 2 = 0 → −3; 2.5 − 2 = 0.5 → 0 → −3
    assert.deepEqual([...withResidual.data], [-4, -3, -3, -128]);
  });

  it('global average pool and add', () => {
    const x: Int8Tensor = { shape: [1, 2, 2, 2], data: Int8Array.of(1, 10, 2, 20, 3, 30, 5, 40), params: { scale: 2, zeroPoint: 1 } };
    // channel 0: Σ(x − 1) = 7, mean 1.75, real 3.5 → at scale 1, zp 0: 4 (3.5 → 4 half to even); channel 1: Σ = 96, mean 24, real 48
    assert.deepEqual([...globalAvgPoolInt8(x, { scale: 1, zeroPoint: 0 }).data], [4, 48]);
    const a: Int8Tensor = { shape: [3], data: Int8Array.of(0, 10, -100), params: { scale: 1, zeroPoint: 0 } };
    const b: Int8Tensor = { shape: [3], data: Int8Array.of(4, 4, 4), params: { scale: 0.5, zeroPoint: 2 } };
    assert.deepEqual([...addInt8(a, b, { scale: 2, zeroPoint: 1 }, [0, 127]).data], [1, 7, 0]); // (0+1)/2 = 0.5 → 0, +1; (10+1)/2 = 5.5 → 6, +1; −49.5 → −50, +1, clamped to 0
  });
});

describe('int8 models', () => {
  it('tiny MobileNetV2 (PyTorch weights): every int8 step is the float reference on its dequantized input and weights, within one step', () => {
    // Random weights saturate every ReLU6 here, so int8 errors grow from layer to layer (the output differs from
    // PyTorch's by ~40%): each step is checked on its own, from the int8 input the model gave it.
    const c = goldenCase('models/mnv2_035_32_c10');
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    loadTorchStateDict(model, c.weights);
    const x = toLayout(c.input, 'NCHW', 'NHWC');
    const q = QuantizedModel.quantize(model, [x, randomBatch([8, 32, 32, 3], 3)]);
    const { plan, params } = q.parts;
    const seen = new Map<number, Int8Tensor>([[plan.input, { shape: x.shape, data: quantize(x.data, params[plan.input]), params: params[plan.input] }]]);
    q.predict(x, { onStep: (s, out) => {
      if ('data' in out && out.data instanceof Int8Array) seen.set(s.op === 'int8conv' ? s.output : s.step.output, out as Int8Tensor);
    } });
    const real = (id: number, shape: readonly number[]): Tensor => new Tensor(shape, dequantize(seen.get(id)!.data, params[id]));
    let checked = 0;
    for (const s of q.steps) {
      if (s.op !== 'int8conv') continue;
      const inShape = s.dense ? [2, 1, 1, s.kernelShape[2]] : [2, ...plan.tensors[s.inputs[0]].shape];
      const w = new Tensor(s.kernelShape, Float32Array.from(s.weights.q, (v, i) => v * s.weights.scales[i % s.kernelShape[3]]));
      let y = conv2d(real(s.inputs[0], inShape), w, s.bias, s.conv);
      if (s.residual !== null) y = new Tensor(y.shape, y.data.map((v, i) => v + real(s.residual!, y.shape).data[i]));
      if (s.clamp) y = new Tensor(y.shape, y.data.map((v) => Math.min(Math.max(v, s.clamp![0]), s.clamp![1])));
      const expected = quantize(y.data, params[s.output]);
      const actual = seen.get(s.output)!.data;
      const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
      assert.ok(worst <= 1, `${s.layers[0]}: int8 output differs from the float reference by ${worst} steps`);
      checked++;
    }
    assert.equal(checked, 53); // 52 convolutions and the classifier
  });

  it('MobileNetV1 with a layer kept in float32: within 4% of the float model, that layer runs in float', () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 5, seed: 3 });
    const x = randomBatch([4, 32, 32, 3], 8);
    const q = QuantizedModel.quantize(model, [x], { keepFloat: ['conv1'] });
    assert.ok(q.floatLayers().includes('conv1'), q.floatLayers().join());
    assertClose(q.predict(x), model.predict(x), 0.04, 'int8 MobileNetV1');
    // the error report: conv1 runs in float32 on the unquantized input (no error at all); the last step's ratio is
    // the one computed here from the float model's own output and the int8 model's
    const report = quantizationErrors(model, q, x);
    assert.deepEqual([report[0].layer, report[0].runs, report[0].sqnrDb], ['conv1', 'float32', Infinity]);
    const [f, i8] = [model.predict(x).data, q.predict(x).data];
    const noise = f.reduce((n, v, k) => n + (v - i8[k]) ** 2, 0);
    const signal = f.reduce((n, v) => n + v * v, 0);
    assert.ok(Math.abs(report[report.length - 1].sqnrDb - 10 * Math.log10(signal / noise)) < 1e-3, JSON.stringify(report.at(-1)));
    assert.throws(() => QuantizedModel.quantize(model, [x], { keepFloat: ['nope'] }), /no layer nope/);
    assert.throws(() => QuantizedModel.quantize(model, []), /at least one calibration image/);
    assert.throws(() => q.predict(randomBatch([1, 31, 32, 3], 1)), ShapeError);
  });

  it('the bundled Fashion-MNIST model: int8 top-1 within 1 point of float on 200 test images, calibrated on 128 others', async () => {
    const { model, preprocessing } = decodeModelFile(readFileSync(BUNDLED));
    const test = await readIdxFolder(FASHION, { split: 'test', ...preprocessing });
    const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
    const calibration = (await loadBatch(test, range(1000, 128))).x;
    const q = QuantizedModel.quantize(model, [calibration]);
    const { x, labels } = await loadBatch(test, range(0, 200));
    const [yf, yq] = [model.predict(x).data, q.predict(x).data];
    const top = (y: Float32Array, i: number): number => y.subarray(i * 10, i * 10 + 10).reduce((best, v, k, row) => (v > row[best] ? k : best), 0);
    let [float, int8, agree] = [0, 0, 0];
    for (let i = 0; i < 200; i++) {
      float += top(yf, i) === labels[i] ? 1 : 0;
      int8 += top(yq, i) === labels[i] ? 1 : 0;
      agree += top(yf, i) === top(yq, i) ? 1 : 0;
    }
    assert.ok(Math.abs(float - int8) <= 2, `top-1 float ${float}/200, int8 ${int8}/200`);
    assert.ok(agree >= 194, `same top class on ${agree}/200`);
    assert.ok(q.weightBytes() < 0.3 * 4 * [...model.weights().values()].reduce((n, t) => n + t.size, 0));
  });
});

describe('int8 model file', () => {
  const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 4, seed: 1 });
  const x = randomBatch([2, 32, 32, 3], 4);
  const q = QuantizedModel.quantize(model, [x], { keepFloat: ['predictions'] });
  const bytes = encodeInt8ModelFile(model, q, { classNames: ['a', 'b', 'c', 'd'] });

  it('round-trips: I8 kernels, the same outputs, float layers kept float, class names', () => {
    const { tensors } = decodeSafetensors(bytes);
    assert.ok(tensors.has('Conv1.kernel') && tensors.has('Conv1.scales') && !tensors.has('predictions.scales'));
    assert.ok(bytes.length < 0.4 * encodeSafetensors(model.weights()).length, `${bytes.length} bytes`);
    const loaded = decodeInt8ModelFile(bytes, 'm.safetensors');
    assert.deepEqual(loaded.classNames, ['a', 'b', 'c', 'd']);
    assert.deepEqual(loaded.quantized.floatLayers(), q.floatLayers());
    assert.deepEqual([...loaded.quantized.predict(x).data], [...q.predict(x).data]);
  });

  it('refuses kernels out of int8 range, missing or extra tensors, bad activation parameters; other readers name it', async () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    const edit = (change: (t: Map<string, Tensor>, m: Record<string, string>) => void): Uint8Array => {
      const t = new Map([...tensors].map(([k, v]) => [k, v.clone()]));
      const m = { ...metadata };
      change(t, m);
      return encodeSafetensors(t, m);
    };
    assert.throws(() => decodeInt8ModelFile(edit((t) => (t.get('Conv1.kernel')!.data[3] = 200)), 'f'), (e) => e instanceof FormatError && /Conv1.kernel\[3\] is 200/.test(e.message));
    assert.throws(() => decodeInt8ModelFile(edit((t) => t.delete('Conv1.bias')), 'f'), WeightsError);
    assert.throws(() => decodeInt8ModelFile(edit((t) => t.set('extra', new Tensor([1]))), 'f'), /does not use: extra/);
    assert.throws(() => decodeInt8ModelFile(edit((_, m) => (m.activations = '[[1, 0]]')), 'f'), /activations must list/);
    assert.throws(() => decodeInt8ModelFile(edit((_, m) => (m.activations = m.activations.replace(/^\[\[[^\]]*\]/, '[[0.5, 300]'))), 'f'), /activations\[0\]/);
    assert.throws(() => decodeInt8ModelFile(edit((t) => t.get('Conv1.scales')!.data.fill(0)), 'f'), /Conv1.scales\[0\] is 0/);
    await assert.rejects(decodeAnyModel({ bytes, source: 'q.safetensors' }), /an int8 model file/);
  });
});

describe('mobilenet quantize, then classify and eval with the int8 file', () => {
  it('bench --backend int8 times the quantized model on the int8 kernels', async () => {
    const r = await runCli('bench', '--backend', 'int8', '--alpha', '0.35', '--resolution', '32', '--classes', '10', '--runs', '2', '--json');
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out);
    assert.equal(result.backend, 'int8');
    assert.ok(result.imagesPerSecond > 0 && result.arenaBytes > 0, r.out);
  });

  it('writes an int8 model file that classify and eval run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnts-int8-'));
    try {
      const out = join(dir, 'fm-int8.safetensors');
      const r = await runCli('quantize', '--data', FASHION, '--split', 'test', '--images', '64', '--eval', '64', '--report', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out);
      assert.equal(result.calibrationImages, 64);
      assert.ok(existsSync(out) && result.fileBytes < 0.3 * result.floatWeightBytes, r.out);
      assert.ok(result.eval.agreement >= 0.95 && result.eval.images === 64, r.out);
      assert.equal(result.report.length, 54); // 52 convolutions, the pooling, the classifier
      assert.ok(result.report.every((s: { sqnrDb: number }) => s.sqnrDb > 10), r.out);
      const c = await runCli('classify', '--model', out, '--json', join(FASHION, 'samples', '0002-trouser.png'));
      assert.equal(c.code, 0, c.err);
      assert.equal(JSON.parse(c.out).results[0].top[0].class, 'Trouser');
      assert.equal(JSON.parse(c.out).engine, 'int8 wasm');
      const e = await runCli('eval', '--model', out, '--data', FASHION, '--limit', '100', '--json');
      assert.equal(e.code, 0, e.err);
      const metrics = JSON.parse(e.out);
      assert.equal(metrics.engine, 'int8 wasm');
      assert.equal(metrics.images, 100);
      assert.ok(metrics.top1 > 0.85, e.out);
      const inspected = await runCli('inspect', out, '--json');
      assert.equal(inspected.code, 0, inspected.err);
      const steps = JSON.parse(inspected.out).steps as { layer: string; runs: string }[];
      assert.deepEqual(steps.slice(0, 2).map((s) => s.runs), ['int8 conv', 'int8 depthwise']);
      assert.deepEqual(steps.slice(-2).map((s) => s.runs), ['int8 globalAvgPool', 'int8 dense']);
      const bad = await runCli('quantize', '--data', FASHION, '--split', 'test', '--keep-float', 'nope', '--out', out);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /has no layer "nope"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('WebAssembly int8 kernels equal the reference kernels', () => {
  const rng = new Random(11);
  const ints = (n: number, lo: number, hi: number): number[] => Array.from({ length: n }, () => lo + Math.floor(rng.uniform() * (hi - lo + 1)));
  /** An int8 convolution step with random weights, biases, multipliers, zero points and a clamp. */
  const step = (kernelShape: [number, number, number, number], conv: Conv2DParams, options: { residual?: boolean; dense?: boolean; clamp?: boolean } = {}): Int8ConvStep => {
    const cout = kernelShape[3];
    const out = { scale: 0.05, zeroPoint: -20 };
    return {
      op: 'int8conv',
      layers: ['s'],
      inputs: [0],
      output: 1,
      residual: options.residual ? 2 : null,
      dense: options.dense ?? false,
      kernelShape,
      conv,
      weights: { q: Int8Array.from(ints(kernelShape.reduce((a, b) => a * b), -127, 127)), scales: new Float32Array(cout).fill(0.01) },
      bias: new Float32Array(cout),
      clamp: null,
      requantize: {
        bias: Int32Array.from(ints(cout, -5000, 5000)),
        multipliers: Float64Array.from({ length: cout }, () => 0.0005 + rng.uniform() * 0.004),
        out,
        range: options.clamp ? [-20, 100] : [-128, 127],
        residualMultiplier: options.residual ? 0.7 : undefined,
      },
    };
  };
  const p = (strides: [number, number], padding: [number, number, number, number], groups = 1, dilations: [number, number] = [1, 1]): Conv2DParams => ({ strides, dilations, padding, groups });
  const cases: { name: string; x: number[]; s: Int8ConvStep }[] = [
    { name: 'pointwise 13 → 7 with a residual and ReLU6-like clamp, 3×5 pixels, batch 2', x: [2, 3, 5, 13], s: step([1, 1, 13, 7], p([1, 1], [0, 0, 0, 0]), { residual: true, clamp: true }) },
    { name: 'pointwise 16 → 24, one pixel', x: [1, 1, 1, 16], s: step([1, 1, 16, 24], p([1, 1], [0, 0, 0, 0])) },
    { name: 'dense 37 → 10, batch 3', x: [3, 1, 1, 37], s: step([1, 1, 37, 10], p([1, 1], [0, 0, 0, 0]), { dense: true }) },
    { name: 'standard 3×3 stride 2, asymmetric padding, 3 → 5 (im2col)', x: [2, 7, 6, 3], s: step([3, 3, 3, 5], p([2, 2], [0, 1, 1, 0])) },
    { name: 'depthwise 3×3, 12 channels, pad 1, clamp', x: [2, 6, 5, 12], s: step([3, 3, 1, 12], p([1, 1], [1, 1, 1, 1], 12), { clamp: true }) },
    { name: 'depthwise 3×3 stride 2, dilation 2, 20 channels', x: [1, 9, 8, 20], s: step([3, 3, 1, 20], p([2, 2], [2, 1, 2, 1], 20, [2, 2])) },
    { name: 'depthwise 5×5 stride 2, torch padding, 8 channels', x: [1, 11, 11, 8], s: step([5, 5, 1, 8], p([2, 2], [2, 2, 2, 2], 8)) },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const perSample = c.s.dense ? [c.x[3]] : c.x.slice(1);
      const kernels = await WasmInt8Kernels.create({ int8ConvSteps: [c.s], parts: { plan: { tensors: [{ shape: perSample }] } } });
      assert.equal(kernels.size, 1);
      const x = int8Tensor(c.x, 5, -7);
      const outShape = conv2d(new Tensor(c.x), new Tensor(c.s.kernelShape), null, c.s.conv).shape;
      const residual = c.s.residual === null ? null : { ...int8Tensor([...outShape], 6, 3), params: { scale: 0.035, zeroPoint: 3 } };
      const { acc, shape } = conv2dInt8Accumulate(x, c.s.weights.q, c.s.kernelShape, c.s.conv);
      const expected = requantize(acc, shape, c.s.requantize, residual);
      const actual = kernels.conv(c.s, x, residual)!;
      assert.deepEqual([...actual.shape], [...expected.shape]);
      assert.deepEqual([...actual.data], [...expected.data]);
    });
  }

  it('a depthwise kernel refuses an input of another size than it was made for', async () => {
    const s = step([3, 3, 1, 8], p([2, 2], [1, 1, 1, 1], 8));
    const kernels = await WasmInt8Kernels.create({ int8ConvSteps: [s], parts: { plan: { tensors: [{ shape: [8, 8, 8] }] } } });
    assert.throws(() => kernels.conv(s, int8Tensor([1, 9, 8, 8], 1, 0), null), (e) => e instanceof ShapeError && /not the size its kernel was made for/.test(e.message));
  });

  it('grouped convolutions stay with the reference', async () => {
    const s = step([2, 2, 3, 8], p([1, 1], [0, 1, 0, 1], 2));
    const kernels = await WasmInt8Kernels.create({ int8ConvSteps: [s], parts: { plan: { tensors: [{ shape: [4, 4, 6] }] } } });
    assert.equal(kernels.size, 0);
    assert.equal(kernels.conv(s, int8Tensor([1, 4, 4, 6], 1, 0), null), null);
  });

  it('whole models: MobileNetV2 and V1 give the same outputs on either kernels', async () => {
    for (const model of [mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 4 }), mobilenetV1({ alpha: 0.25, resolution: 32, classes: 5, seed: 3 })]) {
      const x = randomBatch([3, 32, 32, 3], 9);
      const q = QuantizedModel.quantize(model, [x]);
      const kernels = await WasmInt8Kernels.create(q);
      assert.equal(kernels.size, q.int8ConvSteps.length);
      assert.deepEqual([...q.predict(x, { kernels }).data], [...q.predict(x).data]);
    }
  });
});
