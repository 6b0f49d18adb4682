// The CLI on .tflite: convert to and from it (float, float16 weights, an int8 plan), inspect, classify and infer, each
// checked against LiteRT.js running the written file, the source model's own predictions, or the plan reference.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { runPlanOutputs } from '../../src/backend/plan-reference.js';
import { decodeImage } from '../../src/data/image.js';
import { preprocessImage } from '../../src/data/preprocess.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { decodeNpy } from '../../src/io/npy.js';
import { importTflite } from '../../src/io/tflite/import.js';
import { writeFileAtomic, writeNpyFile } from '../../src/node/files.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { QuantizedModel } from '../../src/quant/quantized-model.js';
import { encodeTflite } from '../../src/io/tflite/write.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, assertClose, randomBatch, runCli } from '../support/helpers.js';
import { runTflite } from '../support/litert.js';

const ROOT = join(FIXTURES, '..', '..');
const BUNDLED = join(ROOT, 'models', 'fashion-mnist.safetensors');
const SAMPLES = join(ROOT, 'data', 'fashion-mnist', 'samples');
const V2 = join(ROOT, '..', 'shared', 'models', 'mobilenet_v2_quantized_1x3x224x224.tflite');
const skipReal = existsSync(V2) ? false : `the real MobileNetV2 .tflite is not in ${join(ROOT, '..', 'shared', 'models')} (it sits beside the repository, not in a clone)`;

const dir = mkdtempSync(join(tmpdir(), 'mnts-tflite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The bundled model's input for one sample image: its stored preprocessing applied. */
function sample(file: string): Tensor {
  const { model, preprocessing } = decodeModelFile(readFileSync(BUNDLED));
  const image = decodeImage(new Uint8Array(readFileSync(join(SAMPLES, file))), { channels: model.inputShape[2] as 1 | 3 });
  return new Tensor([1, ...model.inputShape], preprocessImage(image.pixels, image.shape, preprocessing));
}

describe('mobilenet convert to and from .tflite', () => {
  it('the bundled model to .tflite: LiteRT.js gives its logits within 1e-5; classify on the file names the same classes', async () => {
    const out = join(dir, 'fm.tflite');
    const r = await runCli('convert', BUNDLED, out);
    assert.equal(r.code, 0, r.err);
    const { model } = decodeModelFile(readFileSync(BUNDLED));
    const x = sample('0002-trouser.png');
    const [litert] = await runTflite(new Uint8Array(readFileSync(out)), [x.data]);
    const expected = model.predict(x);
    assertClose(new Tensor(expected.shape, litert as Float32Array), expected, 1e-5, 'LiteRT.js on the converted file');
    const c = await runCli('classify', '--model', out, '--json', join(SAMPLES, '0002-trouser.png'), join(SAMPLES, '0006-coat.png'));
    assert.equal(c.code, 0, c.err);
    assert.deepEqual((JSON.parse(c.out).results as { top: { class: string }[] }[]).map((t) => t.top[0].class), ['Trouser', 'Coat']);
    // and back to our model file, which keeps the class names the .tflite stored
    const back = join(dir, 'fm-back.safetensors');
    const b = await runCli('convert', out, back);
    assert.equal(b.code, 0, b.err);
    const again = decodeModelFile(readFileSync(back));
    assert.equal(again.classNames?.[1], 'Trouser');
    assertClose(again.model.predict(x), expected, 1e-5, 'read back');
  });

  it('--fp16 writes float16 weights (half the file) that LiteRT.js and we run alike', async () => {
    const out = join(dir, 'fm16.tflite');
    const r = await runCli('convert', BUNDLED, out, '--fp16');
    assert.equal(r.code, 0, r.err);
    const bytes = new Uint8Array(readFileSync(out));
    assert.ok(bytes.length < 0.6 * readFileSync(join(dir, 'fm.tflite')).length);
    const x = sample('0006-coat.png');
    const [litert] = await runTflite(bytes, [x.data]);
    const ours = (importTflite(bytes).model as { predict(x: Tensor): Tensor }).predict(x);
    assertClose(ours, new Tensor(ours.shape, litert as Float32Array), 1e-5, 'float16 weights');
  });

  it('an int8 plan to .tflite: LiteRT.js reads it and agrees with our plan within a step or two, top class for class', async () => {
    const { model } = decodeModelFile(readFileSync(BUNDLED));
    const q = QuantizedModel.quantize(model, [randomBatch([8, ...model.inputShape], 4).reshape([8, ...model.inputShape])]);
    const bytes = encodeTflite(q);
    // the plan quantizes its float input and dequantizes its logits: the written file too (QUANTIZE, DEQUANTIZE)
    const logits = q.plan.tensors[q.plan.steps.at(-1)!.inputs[0]].quant!;
    for (const file of ['0002-trouser.png', '0009-sneaker.png', '0013-dress.png']) {
      const x = sample(file);
      const [litert] = await runTflite(bytes, [x.data]);
      const ours = runPlanOutputs(q.plan, x)[0].data;
      // XNNPACK (under LiteRT.js) requantizes in float32, TFLite's reference and we in fixed point: a step apart here and there
      for (let k = 0; k < ours.length; k++) assert.ok(Math.abs(ours[k] - litert[k]) <= 3 * logits.scale + 1e-6, `${file}: logit ${k} is ${ours[k]} here, ${litert[k]} in LiteRT.js`);
      const argmax = (a: ArrayLike<number>): number => Array.from(a).indexOf(Math.max(...Array.from(a)));
      assert.equal(argmax(ours), argmax(litert), file);
    }
  });
});

describe('mobilenet classify --labels imagenet on a 1001-class .tflite', () => {
  it('names slot 0 background and slot k ImageNet class k − 1, as TF-slim models have them', async () => {
    const out = join(dir, 'slim.tflite');
    const x = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 1001 });
    await writeFileAtomic(out, encodeTflite(x));
    const c = await runCli('classify', '--model', out, '--labels', 'imagenet', '--top', '1001', '--json', join(SAMPLES, '0006-coat.png'));
    assert.equal(c.code, 0, c.err);
    const top = (JSON.parse(c.out).results as { top: { class: string; index: number }[] }[])[0].top;
    assert.equal(top.find((t) => t.index === 0)?.class, 'background');
    assert.equal(top.find((t) => t.index === 1)?.class, 'tench');
    assert.equal(top.find((t) => t.index === 1000)?.class, 'toilet tissue');
  });
});

describe('mobilenet inspect, classify and infer on the real int8 MobileNetV2 .tflite', { skip: skipReal }, () => {
  it('inspect lists its int8 plan; classify with --labels imagenet --preprocess torchvision names ImageNet classes', async () => {
    const i = await runCli('inspect', V2, '--json');
    assert.equal(i.code, 0, i.err);
    const listing = JSON.parse(i.out) as { format: string; metadata: { inputLayout: string }; steps: { runs: string }[] };
    assert.equal(listing.format, 'tflite');
    assert.equal(listing.metadata.inputLayout, 'NCHW');
    assert.equal(listing.steps.length, 64);
    assert.equal(listing.steps[0].runs, 'int8 standard');
    const c = await runCli('classify', '--model', V2, '--labels', 'imagenet', '--preprocess', 'torchvision', '--top', '3', '--json', join(FIXTURES, 'photos', 'grace_hopper.jpg'));
    assert.equal(c.code, 0, c.err);
    const top = (JSON.parse(c.out).results as { top: { class: string }[] }[])[0].top.map((t) => t.class);
    assert.ok(top.includes('military uniform') && top.includes('bow tie'), top.join(', '));
  });

  it('infer quantizes a float input with the model’s parameters and writes the outputs dequantized', async () => {
    const imported = importTflite(new Uint8Array(readFileSync(V2)));
    const x = randomBatch([1, 224, 224, 3], 9);
    await writeNpyFile(join(dir, 'x.npy'), x);
    const r = await runCli('infer', '--model', V2, '--input', join(dir, 'x.npy'), '--layout', 'nhwc', '--output', join(dir, 'y.npy'));
    assert.equal(r.code, 0, r.err);
    const expected = runPlanOutputs((imported.model as QuantizedModel).plan, x)[0];
    assert.deepEqual([...decodeNpy(readFileSync(join(dir, 'y.npy'))).data], [...expected.data]);
  });
});
