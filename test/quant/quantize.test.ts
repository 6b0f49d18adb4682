// Int8 quantization: the number formats against hand-worked values, the int8 accumulation against the float reference
// convolution on the same integers, quantized plans step by step against float steps on their dequantized inputs, the
// bundled model's accuracy against its float self, the int8 file (old files too) and the CLI on int8 files.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose, goldenCase, randomBatch, runCli } from '../support/helpers.js';
import { affineParams, clampRange, dequantize, quantize, quantizeWeights, roundHalfEven } from '../../src/quant/qparams.js';
import { conv2dInt8Accumulate } from '../../src/quant/int8-ops.js';
import type { Int8Tensor } from '../../src/quant/int8-ops.js';
import { QuantizedModel } from '../../src/quant/quantized-model.js';
import { quantizationErrors } from '../../src/quant/error-report.js';
import { decodeInt8ModelFile, encodeInt8ModelFile } from '../../src/quant/int8-file.js';
import { runPlanOutputs, runPlanValues } from '../../src/backend/plan-reference.js';
import type { PlanValue } from '../../src/backend/plan-reference.js';
import { modelRunner } from '../../src/backend/model-runner.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { avgPool2d, maxPool2d } from '../../src/ops/pool.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { Conv2D } from '../../src/nn/conv.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { AveragePooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import { Concatenate } from '../../src/nn/extra.js';
import type { Conv2DParams } from '../../src/ops/conv2d.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { decodeAnyModel } from '../../src/io/any-model.js';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { loadBatch } from '../../src/data/dataset.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { FormatError, ShapeError, WeightsError } from '../../src/errors.js';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const BUNDLED = join(ROOT, 'models', 'fashion-mnist.safetensors');
const FASHION = join(ROOT, 'data', 'fashion-mnist');
const LEGACY = join(ROOT, 'test', 'fixtures', 'quant');

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

/** The float value of a tensor as a plan step left it: int8 dequantized. */
const real = (v: PlanValue): Tensor => (v instanceof Tensor ? v : new Tensor(v.shape, dequantize(v.data, v.params)));

describe('int8 models', () => {
  it('tiny MobileNetV2 (PyTorch weights): every int8 conv and add is the float step on its dequantized inputs and weights, within one step', () => {
    // Random weights saturate every ReLU6 here, so int8 errors grow from layer to layer (the output differs from
    // PyTorch's by ~40%): each step is checked on its own, from the int8 inputs the plan gave it.
    const c = goldenCase('models/mnv2_035_32_c10');
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    loadTorchStateDict(model, c.weights);
    const x = toLayout(c.input, 'NCHW', 'NHWC');
    const q = QuantizedModel.quantize(model, [x, randomBatch([8, 32, 32, 3], 3)]);
    const { unfused } = q;
    const floatSteps = new Map(q.parts.plan.steps.map((s) => [s.output, s]));
    const seen = new Map<number, PlanValue>([[unfused.input, x]]);
    runPlanValues(unfused, x, (s, out) => seen.set(s.output, out));
    const input = (id: number): Tensor => real(seen.get(id)!).reshape([2, ...unfused.tensors[id].shape]);
    let [convs, adds] = [0, 0];
    for (const s of unfused.steps) {
      let y: Tensor;
      if (s.op === 'qconv' || s.op === 'qdense') {
        const float = floatSteps.get(s.output)!;
        assert.ok(float.op === 'conv' || float.op === 'dense');
        const { weights, bias } = q.parts.weights.get(s.layers[0])!;
        const kernelShape = s.op === 'qconv' ? s.kernelShape : [1, 1, s.kernel.length / s.units, s.units];
        const w = new Tensor(kernelShape, Float32Array.from(s.kernel, (v, i) => v * weights.scales[i % weights.scales.length]));
        const xs = input(s.inputs[0]);
        y = conv2d(s.op === 'qconv' ? xs : xs.reshape([2, 1, 1, xs.size / 2]), w, bias, s.op === 'qconv' ? s.conv : { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 });
        if (float.clamp) y = new Tensor(y.shape, y.data.map((v) => Math.min(Math.max(v, float.clamp![0]), float.clamp![1])));
        convs++;
      } else if (s.op === 'qadd') {
        const [a, b] = s.inputs.map(input);
        y = new Tensor(a.shape, a.data.map((v, i) => v + b.data[i]));
        adds++;
      } else continue;
      const out = seen.get(s.output) as Int8Tensor;
      const expected = quantize(y.data, out.params);
      const worst = out.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
      assert.ok(worst <= 1, `${s.layers[0]}: int8 output differs from the float step by ${worst} steps`);
    }
    assert.deepEqual([convs, adds], [53, 10]); // 52 convolutions and the classifier; the blocks' residual adds
  });

  it('the plan engines run: residual adds fused into convs, inverted residuals into qchains, bit-equal to the unfused plan', async () => {
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 4 });
    const x = randomBatch([3, 32, 32, 3], 9);
    const q = QuantizedModel.quantize(model, [x]);
    const ops = q.plan.steps.map((s) => s.op);
    assert.deepEqual([ops[0], ...ops.slice(-3)], ['quantize', 'qglobalAvgPool', 'qdense', 'dequantize']);
    assert.equal(ops.filter((op) => op === 'qchain').length, 17); // the 17 blocks, the stem in the first
    assert.equal(ops.filter((op) => op === 'qadd').length, 0);
    const residual = q.plan.steps.filter((s) => s.op === 'qchain' && s.stages.at(-1)!.residual !== null);
    assert.equal(residual.length, 10);
    assert.ok(q.plan.tensors.every((t) => t.quant === undefined || Number.isInteger(t.quant.zeroPoint)));
    const reference = [...runPlanOutputs(q.unfused, x)[0].data];
    assert.deepEqual([...runPlanOutputs(q.plan, x)[0].data], reference);
    // and as the engine runs either plan (or the reference runner, for steps it has no kernel for: said in its notes)
    for (const planned of [q, { plan: q.unfused, outputNames: q.outputNames }]) {
      const runner = await modelRunner(planned);
      assert.deepEqual([...runner.predict(x).data], reference, `${runner.engine} ${runner.notes.join()}`);
      await runner.dispose();
    }
    assert.deepEqual([...q.outputNames], [...model.outputNames]);
    assert.deepEqual([...q.outputShape], [10]);
  });

  it('pools: max and Keras-style average pools run on int8 (the input\'s parameters), torch\'s padded divisor stays float; concat requantizes', () => {
    const x = input([7, 6, 3]);
    const a = new ReLU6('relu').apply(new Conv2D('conv', { filters: 5, kernelSize: 3, padding: 'same' }).apply(x));
    const max = new MaxPooling2D('max', { poolSize: 2, strides: 2, padding: 'same' }).apply(a);
    const keras = new AveragePooling2D('keras', { poolSize: 3, strides: 1, padding: 'same' }).apply(max);
    const torch = new AveragePooling2D('torch', { poolSize: 3, strides: 1, padding: 'same', countIncludePad: true }).apply(max);
    const model = new Model(x, new Concatenate('concat', -1, 2).apply([keras, new Conv2D('mix', { filters: 2, kernelSize: 1 }).apply(torch)]));
    for (const [i, [, w]] of [...model.weights()].entries()) w.data.set(randomBatch([w.size], 20 + i).data);
    const batch = randomBatch([2, 7, 6, 3], 5);
    const q = QuantizedModel.quantize(model, [batch]);
    const steps = q.unfused.steps.map((s) => `${s.op} ${s.layers[0]}`);
    assert.deepEqual(steps, ['quantize input', 'qconv conv', 'maxPool max', 'qavgPool keras', 'dequantize max', 'avgPool torch', 'quantize torch', 'qconv mix', 'requantize keras', 'requantize mix', 'concat concat', 'dequantize concat']);
    const { tensors } = q.unfused;
    const [maxStep, kerasStep] = [q.unfused.steps[2], q.unfused.steps[3]];
    assert.deepEqual([tensors[maxStep.output].quant, tensors[kerasStep.output].quant], [tensors[maxStep.inputs[0]].quant, tensors[maxStep.inputs[0]].quant]);
    // each int8 pool against the float pool on its dequantized input: the max exactly, the average within one step
    const seen = new Map<number, PlanValue>();
    runPlanValues(q.unfused, batch, (s, out) => seen.set(s.output, out));
    for (const [s, float, tolerance] of [[maxStep, maxPool2d, 0], [kerasStep, avgPool2d, 1]] as const) {
      const inValue = seen.get(s.inputs[0]) as Int8Tensor;
      const out = seen.get(s.output) as Int8Tensor;
      const pool = s.op === 'maxPool' || s.op === 'qavgPool' ? s.pool : assert.fail(s.op);
      const expected = quantize(float(real(inValue).reshape([2, ...tensors[s.inputs[0]].shape]), pool).data, out.params);
      assert.ok(out.data.every((v, i) => Math.abs(v - expected[i]) <= tolerance), `${s.layers[0]}`);
    }
    assertClose(runPlanOutputs(q.plan, batch)[0], model.predict(batch), 0.05, 'int8 pools and concat');
  });

  it('MobileNetV1 with a layer kept in float32: within 4% of the float model, that layer runs in float', () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 5, seed: 3 });
    const x = randomBatch([4, 32, 32, 3], 8);
    const q = QuantizedModel.quantize(model, [x], { keepFloat: ['conv1'] });
    assert.ok(q.floatLayers().includes('conv1'), q.floatLayers().join());
    assert.equal(q.plan.steps[0].op, 'conv'); // on the float input, then quantized for the next step
    assert.equal(q.plan.steps[1].op, 'quantize');
    const y = runPlanOutputs(q.plan, x)[0];
    assertClose(y, model.predict(x), 0.04, 'int8 MobileNetV1');
    // the error report: conv1 runs in float32 on the unquantized input (no error at all); the last step's ratio is
    // the one computed here from the float model's own output and the int8 model's
    const report = quantizationErrors(model, q, x);
    assert.deepEqual([report[0].layer, report[0].runs, report[0].sqnrDb], ['conv1', 'float32', Infinity]);
    const [f, i8] = [model.predict(x).data, y.data];
    const noise = f.reduce((n, v, k) => n + (v - i8[k]) ** 2, 0);
    const signal = f.reduce((n, v) => n + v * v, 0);
    assert.ok(Math.abs(report[report.length - 1].sqnrDb - 10 * Math.log10(signal / noise)) < 1e-3, JSON.stringify(report.at(-1)));
    // ranges clipped to the 99th percentile: no activation's step is wider than min/max's, some are narrower
    const [minmax, clipped] = [QuantizedModel.quantize(model, [x]), QuantizedModel.quantize(model, [x], { calibration: { method: 'percentile', percentile: 99 } })];
    const scales = (m: QuantizedModel): number[] => m.parts.params.map((p) => p.scale);
    assert.ok(scales(clipped).every((s, i) => s <= scales(minmax)[i]) && scales(clipped).some((s, i) => s < scales(minmax)[i]));
    assertClose(runPlanOutputs(clipped.plan, x)[0], model.predict(x), 0.1, 'int8 MobileNetV1, percentile ranges');
    assert.throws(() => QuantizedModel.quantize(model, [x], { keepFloat: ['nope'] }), /no layer nope/);
    assert.throws(() => QuantizedModel.quantize(model, []), /at least one calibration image/);
    assert.throws(() => runPlanOutputs(q.plan, randomBatch([1, 31, 32, 3], 1)), ShapeError);
  });

  it('the bundled Fashion-MNIST model: int8 top-1 at most 0.3 points under float on 200 test images, calibrated on 128 others', async () => {
    const { model, preprocessing } = decodeModelFile(readFileSync(BUNDLED));
    const test = await readIdxFolder(FASHION, { split: 'test', ...preprocessing });
    const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
    const calibration = (await loadBatch(test, range(1000, 128))).x;
    const q = QuantizedModel.quantize(model, [calibration]);
    const { x, labels } = await loadBatch(test, range(0, 200));
    // the plan on whatever runs it (the engine, or the reference runner for steps the engine has no kernel for)
    const runner = await modelRunner(q);
    const yq = runner.predict(x).data;
    await runner.dispose();
    const yf = model.predict(x).data;
    const top = (y: Float32Array, i: number): number => y.subarray(i * 10, i * 10 + 10).reduce((best, v, k, row) => (v > row[best] ? k : best), 0);
    let [float, int8, agree] = [0, 0, 0];
    for (let i = 0; i < 200; i++) {
      float += top(yf, i) === labels[i] ? 1 : 0;
      int8 += top(yq, i) === labels[i] ? 1 : 0;
      agree += top(yf, i) === top(yq, i) ? 1 : 0;
    }
    assert.ok(int8 / 200 >= float / 200 - 0.003, `top-1 float ${float}/200, int8 ${int8}/200`);
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
    assert.deepEqual(loaded.notes, []);
    assert.deepEqual(loaded.quantized.floatLayers(), q.floatLayers());
    assert.deepEqual([...runPlanOutputs(loaded.quantized.plan, x)[0].data], [...runPlanOutputs(q.plan, x)[0].data]);
  });

  it('decodeAnyModel gives the plan when asked for plans, and says how otherwise', async () => {
    await assert.rejects(decodeAnyModel({ bytes, source: 'q.safetensors' }), (e) => e instanceof FormatError && /an int8 model file .*planned: true/.test(e.message));
    const any = await decodeAnyModel({ bytes, source: 'q.safetensors' }, { planned: true });
    assert.ok(any.model instanceof QuantizedModel);
    assert.deepEqual(any.classNames, ['a', 'b', 'c', 'd']);
    assert.deepEqual([...runPlanOutputs(any.model.plan, x)[0].data], [...runPlanOutputs(q.plan, x)[0].data]);
  });

  it('an int8 file of the first format (residual adds fused before calibration) loads, with a note, and agrees with what it gave', () => {
    // made with the encoder of commit ad380a0 from the golden tiny MobileNetV2 (PyTorch weights), calibrated on the
    // golden input and randomBatch([8, 32, 32, 3], 3); legacy-int8-outputs.npy: that int8 model's outputs on the golden input
    const loaded = decodeInt8ModelFile(readFileSync(join(LEGACY, 'legacy-int8.safetensors')), 'legacy-int8.safetensors');
    assert.match(loaded.notes.join(), /first format/);
    const x = toLayout(goldenCase('models/mnv2_035_32_c10').input, 'NCHW', 'NHWC');
    const y = runPlanOutputs(loaded.quantized.plan, x)[0];
    const old = decodeNpy(readFileSync(join(LEGACY, 'legacy-int8-outputs.npy')));
    // the residual adds now requantize twice (TFLite's ADD), through compounding random-weight ReLU6s: the same top
    // class, each logit within half a unit (the logits span [−1.4, 0.8])
    const top = (t: Tensor, i: number): number => t.data.subarray(i * 10, i * 10 + 10).reduce((b, v, k, row) => (v > row[b] ? k : b), 0);
    assert.deepEqual([top(y, 0), top(y, 1)], [top(old, 0), top(old, 1)]);
    assertClose(y, old, 0.5, 'legacy int8 file');
  });

  it('refuses kernels out of int8 range, missing or extra tensors, bad activation parameters', () => {
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
    assert.throws(() => decodeInt8ModelFile(edit((_, m) => (m.int8Arithmetic = 'float64')), 'f'), (e) => e instanceof FormatError && /int8Arithmetic/.test(e.message));
  });
});

describe('mobilenet quantize, then classify, eval, infer and inspect with the int8 file', () => {
  it('bench --precision int8 quantizes the model on the fly; --backend int8 is its alias', async () => {
    for (const flags of [['--precision', 'int8'], ['--backend', 'int8', '--calibration', FASHION, '--input-channels', '1']]) {
      const r = await runCli('bench', ...flags, '--alpha', '0.35', '--resolution', '32', '--classes', '10', '--runs', '2', '--json');
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out);
      assert.equal(result.precision, 'int8');
      assert.ok(result.imagesPerSecond > 0 && result.arenaBytes > 0, r.out);
    }
  });

  it('writes an int8 model file that classify, eval, infer and inspect run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnts-int8-'));
    try {
      const out = join(dir, 'fm-int8.safetensors');
      const r = await runCli('quantize', '--data', FASHION, '--split', 'test', '--images', '64', '--calibration-method', 'percentile', '--eval', '64', '--report', '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out);
      assert.equal(result.calibrationImages, 64);
      assert.equal(result.calibration.method, 'percentile');
      assert.ok(existsSync(out) && result.fileBytes < 0.3 * result.floatWeightBytes, r.out);
      assert.ok(result.eval.agreement >= 0.95 && result.eval.images === 64, r.out);
      assert.equal(result.report.length, 64); // 52 convolutions, 10 residual adds, the pooling, the classifier
      assert.ok(result.report.every((s: { sqnrDb: number }) => s.sqnrDb > 10), r.out);
      const c = await runCli('classify', '--model', out, '--json', join(FASHION, 'samples', '0002-trouser.png'));
      assert.equal(c.code, 0, c.err);
      assert.equal(JSON.parse(c.out).results[0].top[0].class, 'Trouser');
      const e = await runCli('eval', '--model', out, '--data', FASHION, '--limit', '100', '--json');
      assert.equal(e.code, 0, e.err);
      const metrics = JSON.parse(e.out);
      assert.equal(metrics.images, 100);
      assert.ok(metrics.top1 > 0.85, e.out);
      // infer: float in, quantized by the input's parameters, dequantized out: the plan reference's numbers
      const { x } = await loadBatch(await readIdxFolder(FASHION, { split: 'test', ...decodeModelFile(readFileSync(BUNDLED)).preprocessing }), [0, 1]);
      const { writeNpyFile } = await import('../../src/node/files.js');
      await writeNpyFile(join(dir, 'x.npy'), x);
      const inf = await runCli('infer', '--model', out, '--input', join(dir, 'x.npy'), '--layout', 'nhwc', '--output', join(dir, 'y.npy'));
      assert.equal(inf.code, 0, inf.err);
      const expected = runPlanOutputs(decodeInt8ModelFile(readFileSync(out)).quantized.plan, x)[0];
      assert.deepEqual([...decodeNpy(readFileSync(join(dir, 'y.npy'))).data], [...expected.data]);
      const inspected = await runCli('inspect', out, '--json');
      assert.equal(inspected.code, 0, inspected.err);
      const steps = JSON.parse(inspected.out).steps as { layer: string; runs: string }[];
      assert.deepEqual(steps.slice(0, 2).map((s) => s.runs), ['int8 quantize', 'int8 chain of 3']);
      assert.deepEqual(steps.slice(-3).map((s) => s.runs), ['int8 globalAvgPool', 'int8 dense', 'dequantize']);
      // convert to QDQ ONNX: class names and preprocessing travel, and the file reads back as the same int8 arithmetic
      const onnx = join(dir, 'fm-int8.onnx');
      const conv = await runCli('convert', out, onnx);
      assert.equal(conv.code, 0, conv.err);
      const co = await runCli('classify', '--model', onnx, '--json', join(FASHION, 'samples', '0002-trouser.png'));
      assert.equal(co.code, 0, co.err);
      assert.equal(JSON.parse(co.out).results[0].top[0].class, 'Trouser');
      const io = await runCli('infer', '--model', onnx, '--input', join(dir, 'x.npy'), '--layout', 'nhwc', '--output', join(dir, 'yo.npy'));
      assert.equal(io.code, 0, io.err);
      assert.deepEqual([...decodeNpy(readFileSync(join(dir, 'yo.npy'))).data], [...expected.data]);
      const refused = await runCli('convert', out, join(dir, 'fm-int8.pt'));
      assert.equal(refused.code, 2);
      assert.match(refused.err, /written as ONNX \(QDQ\) or \.tflite/);
      const bad = await runCli('quantize', '--data', FASHION, '--split', 'test', '--keep-float', 'nope', '--out', out);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /has no layer "nope"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
