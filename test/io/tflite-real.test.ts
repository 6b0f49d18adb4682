// The two real int8 TFLite networks of ../shared/models/ (MobileNetV2 1.0-224 ImageNet, NCHW input; the MobileNetV1
// person detector) imported as int8 plans and run on real photos against LiteRT.js, op by op and end to end.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ByteBuffer } from 'flatbuffers';

import { runPlanValues } from '../../src/backend/plan-reference.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { ConfigError } from '../../src/errors.js';
import type { PlanValue } from '../../src/backend/plan-reference.js';
import { decodeImage } from '../../src/data/image.js';
import { IMAGENET_CLASSES } from '../../src/data/imagenet-classes.js';
import { preprocessImage } from '../../src/data/preprocess.js';
import { applyPreset, torchvisionPreset } from '../../src/data/preprocess-presets.js';
import type { PlannedModel, Step } from '../../src/graph/plan.js';
import { importTflite } from '../../src/io/tflite/import.js';
import { decodeTflite } from '../../src/io/tflite/read.js';
import type { TfliteGraph } from '../../src/io/tflite/read.js';
import { encodeTflite } from '../../src/io/tflite/write.js';
import { conv2dInt8Accumulate } from '../../src/quant/int8-ops.js';
import { quantize } from '../../src/quant/qparams.js';
import { FIXTURES } from '../support/helpers.js';
import { runTflite } from '../support/litert.js';

const MODELS = join(FIXTURES, '..', '..', '..', 'shared', 'models');
const V2 = join(MODELS, 'mobilenet_v2_quantized_1x3x224x224.tflite');
const PERSON = join(MODELS, 'person_detect.tflite');
const skip = existsSync(V2) && existsSync(PERSON) ? false : `the real TFLite models are not in ${MODELS} (they sit beside the repository, in shared/models/, and are not part of a clone)`;
const PHOTOS = ['grace_hopper.jpg', 'astronaut.jpg'];

/** A photo as torchvision preprocesses it for ImageNet (shorter side 256, centre crop 224, mean and std), NHWC floats. */
function imagenetInput(file: string): Float32Array {
  const image = decodeImage(new Uint8Array(readFileSync(join(FIXTURES, 'photos', file))), { channels: 3 });
  return applyPreset(image.pixels, image.shape, torchvisionPreset()).data;
}

function nhwcToNchw(x: Int8Array, h: number, w: number, c: number): Int8Array {
  const out = new Int8Array(x.length);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) out[k * h * w + p] = x[p * c + k];
  return out;
}

/** Every step's int8 output, running the plan on the reference kernels. */
function stepOutputs(model: PlannedModel, x: Int8Array, shape: number[]): Map<number, Int8Array> {
  const { plan } = model;
  const values = new Map<number, Int8Array>([[plan.input, x]]);
  const input: PlanValue = { shape, data: x, params: plan.tensors[plan.input].quant! };
  runPlanValues(plan, input, (s, y) => values.set(s.output, (y as { data: Int8Array }).data));
  return values;
}

const top = (scores: ArrayLike<number>, k: number): number[] => Array.from(scores, (v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, i]) => i);

describe('the real MobileNetV2 1.0-224 int8 TFLite model (PyTorch → TFLite, NCHW input)', { skip }, () => {
  const bytes = skip ? new Uint8Array(0) : new Uint8Array(readFileSync(V2));
  const imported = skip ? null : importTflite(bytes, 'mobilenet_v2_quantized_1x3x224x224.tflite');
  const model = imported?.model as PlannedModel;
  const graph = skip ? null! : decodeTflite(bytes).subgraphs[0];

  it('imports as an int8 plan taking NHWC (the leading TRANSPOSE dropped, 18 PADs folded into their convolutions)', () => {
    assert.equal(imported!.inputLayout, 'NCHW');
    assert.deepEqual(imported!.inputShape, [224, 224, 3]);
    assert.deepEqual(imported!.inputQuant, { scale: Math.fround(0.018631115555763245), zeroPoint: -14 });
    const ops = model.plan.steps.map((s) => s.op);
    assert.deepEqual({ qconv: ops.filter((o) => o === 'qconv').length, qadd: ops.filter((o) => o === 'qadd').length, other: ops.filter((o) => o !== 'qconv' && o !== 'qadd') }, { qconv: 52, qadd: 10, other: ['qglobalAvgPool', 'qdense'] });
  });

  it('written back as .tflite, LiteRT.js runs our file to the same int8 outputs as the original, bit for bit', async () => {
    const x = quantize(imagenetInput(PHOTOS[0]), imported!.inputQuant!);
    const [original] = await runTflite(bytes, [nhwcToNchw(x, 224, 224, 3)]);
    const [ours] = await runTflite(encodeTflite(model), [x]);
    assert.deepEqual(Array.from(ours), Array.from(original));
  });

  it('op by op on a real photo: each step within one int8 step of LiteRT.js, on few elements (XNNPACK requantizes in float32)', async () => {
    const x = quantize(imagenetInput(PHOTOS[0]), imported!.inputQuant!);
    const values = stepOutputs(model, x, [1, 224, 224, 3]);
    const { plan } = model;
    let worstShare = 0;
    for (const s of plan.steps) {
      if (s.inputs.length !== 1) continue; // qadd reads two tensors; its operands are checked as the convs' outputs
      const one: PlannedModel = { plan: { tensors: [{ ...plan.tensors[s.inputs[0]], id: 0 }, { ...plan.tensors[s.output], id: 1 }], steps: [{ ...s, inputs: [0], output: 1 } as Step], input: 0, outputs: [1] }, outputNames: ['y'] };
      const [litert] = await runTflite(encodeTflite(one), [values.get(s.inputs[0])!]);
      const ours = values.get(s.output)!;
      let differ = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i] - litert[i]);
        assert.ok(d <= 1, `${s.op} ${s.layers[0]}: element ${i} is ${ours[i]} here, ${litert[i]} in LiteRT.js`);
        differ += d;
      }
      worstShare = Math.max(worstShare, differ / ours.length);
      if (s.op === 'qconv') {
        // the whole difference is the requantization: XNNPACK's round-half-even of acc·(sx·sw/sy in float32) gives LiteRT.js's every value
        const { acc } = conv2dInt8Accumulate({ shape: [1, ...s.inShape], data: values.get(s.inputs[0])!, params: { scale: plan.tensors[s.inputs[0]].quant!.scale, zeroPoint: s.inputZeroPoint } }, s.kernel, s.kernelShape, s.conv);
        const y = plan.tensors[s.output].quant!;
        const scales = xnnpackScales(graph, s.layers[0], plan.tensors[s.inputs[0]].quant!.scale, y.scale);
        const f = Math.fround;
        const channels = s.kernelShape[3];
        for (let i = 0; i < acc.length; i++) {
          const c = i % channels;
          const v = Math.min(Math.max(f(f(acc[i] + s.bias[c]) * scales[scales.length > 1 ? c : 0]), s.requant.range[0] - y.zeroPoint), s.requant.range[1] - y.zeroPoint);
          const r = Math.round(v);
          const even = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
          if (even + y.zeroPoint !== litert[i]) assert.fail(`${s.layers[0]}: XNNPACK's float requantization gives ${even + y.zeroPoint} at ${i}, LiteRT.js ${litert[i]}`);
        }
      }
    }
    assert.ok(worstShare < 0.03, `a step differs from LiteRT.js on ${(worstShare * 100).toFixed(2)}% of its elements`);
  });

  it('WasmEngine (1 and 2 threads) gives the plan reference’s int8 logits exactly', async (t) => {
    const x = quantize(imagenetInput(PHOTOS[1]), imported!.inputQuant!);
    const expected = stepOutputs(model, x, [1, 224, 224, 3]).get(model.plan.outputs[0])!;
    for (const threads of [1, 2]) {
      let engine: WasmEngine;
      try {
        engine = await WasmEngine.create(model, { threads });
      } catch (e) {
        if (e instanceof ConfigError && /no kernel/.test(e.message)) return t.skip(`the engine does not run this plan yet: ${e.message}`);
        throw e;
      }
      try {
        assert.deepEqual(Array.from(engine.predictRaw(x, 1)[model.outputNames[0]]), Array.from(expected), `${threads} thread(s)`);
      } finally {
        await engine.dispose();
      }
    }
  });

  for (const photo of PHOTOS) {
    it(`${photo}: the same top-1 ImageNet class as LiteRT.js, and top-5 sets that overlap`, async () => {
      const x = quantize(imagenetInput(photo), imported!.inputQuant!);
      const [litert] = await runTflite(bytes, [nhwcToNchw(x, 224, 224, 3)]);
      const ours = stepOutputs(model, x, [1, 224, 224, 3]).get(model.plan.outputs[0])!;
      const [ourTop, theirTop] = [top(ours, 5), top(litert, 5)];
      assert.equal(IMAGENET_CLASSES[ourTop[0]], IMAGENET_CLASSES[theirTop[0]]);
      assert.ok(ourTop.filter((c) => theirTop.includes(c)).length >= 3, `top-5 ${ourTop} against LiteRT.js's ${theirTop}`);
    });
  }
});

describe('the real person detector (MobileNetV1 α 0.25, 96×96 grey, int8 softmax)', { skip }, () => {
  const bytes = skip ? new Uint8Array(0) : new Uint8Array(readFileSync(PERSON));

  for (const photo of [...PHOTOS, 'astronaut-wide.jpg']) {
    it(`${photo}: (no person, person) equal to LiteRT.js's within one step`, async () => {
      const imported = importTflite(bytes, 'person_detect.tflite');
      const model = imported.model as PlannedModel;
      const image = decodeImage(new Uint8Array(readFileSync(join(FIXTURES, 'photos', photo))), { channels: 1 });
      // the detector's input: grey 0..255 as int8 (q = pixel − 128, scale 1/127.5 around −1)
      const x = quantize(preprocessImage(image.pixels, image.shape, { size: [96, 96], pixels: 'symmetric' }), imported.inputQuant!);
      const [litert] = await runTflite(liteRtLoadablePersonDetector(bytes), [x]);
      const ours = stepOutputs(model, x, [1, 96, 96, 1]).get(model.plan.outputs[0])!;
      for (let k = 0; k < 2; k++) assert.ok(Math.abs(ours[k] - litert[k]) <= 1, `score ${k}: ${ours[k]} here, ${litert[k]} in LiteRT.js`);
      assert.ok(ours[1] > ours[0], `${photo} shows a person: scores ${ours[0]}, ${ours[1]}`);
    });
  }
});

/** XNNPACK's per-channel requantization scale, fl(fl(sx·sw[c]) / sy), from the filter scales the file stores for the conv writing `output`. */
function xnnpackScales(graph: TfliteGraph, output: string, sx: number, sy: number): number[] {
  const op = graph.operators.find((o) => graph.tensors[o.outputs[0]].name === output)!;
  const f = Math.fround;
  return graph.tensors[op.inputs[1]].quantization!.scale.map((sw) => f(f(f(sx) * f(sw)) / f(sy)));
}

/**
 * The person detector with each 1-D bias's quantized_dimension set to 0 (TFLite Micro's converter left the kernel's 3
 * there; TFLite's interpreter accepts it, LiteRT.js refuses it): the field is overwritten in place.
 */
function liteRtLoadablePersonDetector(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const bb = new ByteBuffer(out);
  const field = (table: number, slot: number): number => {
    const o = bb.__offset(table, 4 + 2 * slot);
    return o === 0 ? 0 : table + o;
  };
  const target = (table: number, slot: number): number => {
    const at = field(table, slot);
    return at + bb.readUint32(at);
  };
  const root = bb.readUint32(0);
  const graphs = target(root, 2);
  const graph = graphs + 4 + bb.readUint32(graphs + 4);
  const tensors = target(graph, 0);
  for (let i = 0; i < bb.readUint32(tensors); i++) {
    const at = tensors + 4 + 4 * i;
    const tensor = at + bb.readUint32(at);
    const shape = target(tensor, 0);
    const quant = field(tensor, 4) && target(tensor, 4);
    const dimension = quant && field(quant, 6);
    if (dimension && bb.readUint32(shape) === 1) bb.writeInt32(dimension, 0);
  }
  return out;
}
