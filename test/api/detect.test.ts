// detect() against hand-worked answers: the tiny detector (test/support/tiny-detector.ts) on a 16×8 image, resized,
// centre-cropped and letterboxed, boxes mapped back to its pixels; batches; the engine; loadModel; golden anchors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';

import { detect, generatedAnchors, ssdFeatureMaps } from '../../src/api/detect.js';
import type { ImageDetections } from '../../src/api/detect.js';
import { loadModel } from '../../src/api/load-model.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { ssdLite } from '../../src/models/ssd.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../support/helpers.js';
import { TINY_ANCHORS, TINY_DETECTOR_CLASSES, redWhere, tinyDetector } from '../support/tiny-detector.js';

const GOLDEN = join(FIXTURES, 'golden/apps/ssdlite_mnv2_a050_r160_k5_b2');
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** The 16×8 image: its left half red. */
const LEFT_RED = redWhere(16, 8, (x) => x < 8);
const UNIT = { preprocessing: { pixels: 'unit' as const }, classNames: TINY_DETECTOR_CLASSES };

function assertDetections(actual: ImageDetections, expected: { class: number; label?: string; score: number; box: number[]; anchor: number }[], what: string): void {
  assert.equal(actual.detections.length, expected.length, `${what}: ${JSON.stringify(actual.detections)}`);
  actual.detections.forEach((d, i) => {
    const e = expected[i];
    assert.deepEqual([d.class, d.label, d.anchor], [e.class, e.label, e.anchor], `${what} #${i}`);
    assert.ok(Math.abs(d.score - e.score) < 1e-6, `${what} #${i}: score ${d.score} vs ${e.score}`);
    d.box.forEach((v, k) => assert.ok(Math.abs(v - e.box[k]) < 1e-5, `${what} #${i}: box ${d.box} vs ${e.box}`));
  });
}

describe('detect', () => {
  it('a plain resize of a 16×8 image: the red quadrants, boxes decoded and scaled back by (8, 16)', async () => {
    // anchors 0 and 2 (the left quadrants) are all red: logit 1.25·16 − 5 = 15; box = anchor moved (+0.05, −0.05), 0.5 × 0.25
    const [result] = await detect(tinyDetector(), LEFT_RED, UNIT);
    assert.deepEqual([result.width, result.height, result.units], [16, 8, 'pixels']);
    assertDetections(result, [
      { class: 1, label: 'redthing', score: sigmoid(15), box: [0.05 * 8, 0.075 * 16, 0.55 * 8, 0.325 * 16], anchor: 0 },
      { class: 1, label: 'redthing', score: sigmoid(15), box: [0.55 * 8, 0.075 * 16, 8, 0.325 * 16], anchor: 2 },
    ], 'resize');
  });

  it('letterboxed: half the image height in the middle rows, boxes mapped back through the offset and scale, clipped', async () => {
    // padded to a 16×16 canvas (rows 4..11), halved to 8×8: red at rows 2..5, so each left quadrant is half red (σ(5));
    // back: y = 16·y′ − 4, x = 16·x′
    const [result] = await detect(tinyDetector(), LEFT_RED, { ...UNIT, letterbox: true });
    assertDetections(result, [
      { class: 1, label: 'redthing', score: sigmoid(5), box: [0, 1.2, 4.8, 5.2], anchor: 0 },
      { class: 1, label: 'redthing', score: sigmoid(5), box: [4.8, 1.2, 8, 5.2], anchor: 2 },
    ], 'letterbox');
  });

  it("the preprocessing's pad fit (centre crop of the 16-wide image): x shifted back by 4", async () => {
    const [result] = await detect(tinyDetector(), LEFT_RED, { ...UNIT, preprocessing: { pixels: 'unit', fit: 'pad' } });
    assertDetections(result, [
      { class: 1, label: 'redthing', score: sigmoid(15), box: [0.4, 4.6, 4.4, 6.6], anchor: 0 },
      { class: 1, label: 'redthing', score: sigmoid(15), box: [4.4, 4.6, 8, 6.6], anchor: 2 },
    ], 'pad');
  });

  it('a batch of an image and a preprocessed tensor [2, 8, 8, 3]: one entry per item, tensor boxes normalized; thresholds and caps apply', async () => {
    const x = new Float32Array(2 * 8 * 8 * 3);
    for (let y = 0; y < 4; y++) for (let c = 0; c < 4; c++) x[(y * 8 + c) * 3 + 1] = 1; // item 0: the top-left quadrant green
    const results = await detect(tinyDetector(), [LEFT_RED, new Tensor([2, 8, 8, 3], x)], UNIT);
    assert.equal(results.length, 3);
    assert.deepEqual(results.map((r) => [r.width, r.height, r.units]), [[16, 8, 'pixels'], [8, 8, 'normalized'], [8, 8, 'normalized']]);
    assertDetections(results[1], [{ class: 2, label: 'greenthing', score: sigmoid(15), box: [0.05, 0.075, 0.55, 0.325], anchor: 0 }], 'tensor item 0');
    assertDetections(results[2], [], 'tensor item 1');
    const unset = await detect(tinyDetector(), LEFT_RED, { ...UNIT, scoreThreshold: undefined, iouThreshold: undefined });
    assert.equal(unset[0].detections.length, 2, 'knobs left undefined keep the defaults');
    const capped = await detect(tinyDetector(), LEFT_RED, { ...UNIT, maxDetections: 1 });
    assert.deepEqual(capped[0].detections.map((d) => d.anchor), [0]);
    const strict = await detect(tinyDetector(), LEFT_RED, { ...UNIT, letterbox: true, scoreThreshold: 0.999 });
    assert.deepEqual(strict[0].detections, []);
    await assert.rejects(detect(tinyDetector(), LEFT_RED, { ...UNIT, iouThreshold: 1.5 }), /iouThreshold must be in \[0, 1\]/);
  });

  it('a model without metadata.detection needs anchors (a ConfigError says so), unless its boxes are decoded; given, they must match the outputs', async () => {
    const bare = tinyDetector({ head: false });
    await assert.rejects(detect(bare, LEFT_RED, UNIT), (e: unknown) => e instanceof ConfigError && /tiny_detector has no detection head.*anchors/.test(e.message));
    const [result] = await detect(bare, LEFT_RED, { ...UNIT, anchors: TINY_ANCHORS });
    assert.deepEqual(result.detections.map((d) => [d.class, d.anchor]), [[1, 0], [1, 2]]);
    await assert.rejects(detect(bare, LEFT_RED, { ...UNIT, anchors: TINY_ANCHORS.subarray(0, 8) }), (e: unknown) => e instanceof ShapeError && /2 anchors given, but model tiny_detector's output "scores" .* has 4/.test(e.message));
    await assert.rejects(detect(bare, LEFT_RED, { ...UNIT, anchors: 'ssd-tf' }), (e: unknown) => e instanceof ShapeError && /1×1×3 .* = \d+, but model tiny_detector's outputs have 4 anchors/.test(e.message));
    // decoded boxes need no anchors: the codes (1, −1, 0, 5·ln ½) read as corners clip to [1, 0, 0, 0], ×(8, 16)
    const [corners] = await detect(bare, LEFT_RED, { ...UNIT, head: { boxFormat: 'corners' } });
    assert.deepEqual(corners.detections.map((d) => [d.anchor, d.box]), [[0, [8, 0, 0, 0]], [2, [8, 0, 0, 0]]]);
    const [unnamed] = await detect(tinyDetector(), LEFT_RED, { preprocessing: { pixels: 'unit' } });
    assert.equal(unnamed.detections[0].label, 'class 1');
  });

  it('on the WebAssembly engine (anchors given, as an engine keeps no metadata): the reference kernels\' detections', async (t) => {
    if (!WasmEngine.supported()) return t.skip('WebAssembly SIMD does not validate here');
    const engine = await WasmEngine.create(tinyDetector());
    try {
      const [fast] = await detect(engine, LEFT_RED, { ...UNIT, anchors: TINY_ANCHORS, letterbox: true });
      const [reference] = await detect(tinyDetector(), LEFT_RED, { ...UNIT, letterbox: true });
      assertDetections(fast, reference.detections, 'engine');
    } finally {
      await engine.dispose();
    }
  });
});

describe('loadModel(…).detect', () => {
  it("a model file without a head, given anchors: the file's labels (K names after background) and preprocessing, on both backends", async () => {
    const file = encodeModelFile(tinyDetector({ head: false }), { classNames: TINY_DETECTOR_CLASSES.slice(1), preprocessing: { pixels: 'unit' } });
    const png = encodePng({ ...LEFT_RED, channels: 3, depth: 8 });
    for (const backend of ['reference', 'wasm'] as const) {
      const loaded = await loadModel(file, { backend, detectionAnchors: TINY_ANCHORS });
      try {
        assert.ok(loaded.detection !== null);
        assert.deepEqual(loaded.labels, TINY_DETECTOR_CLASSES);
        const [resized, boxed] = [...(await loaded.detect(png)), ...(await detect(loaded, [png], { letterbox: true }))];
        assertDetections(resized, [
          { class: 1, label: 'redthing', score: sigmoid(15), box: [0.4, 1.2, 4.4, 5.2], anchor: 0 },
          { class: 1, label: 'redthing', score: sigmoid(15), box: [4.4, 1.2, 8, 5.2], anchor: 2 },
        ], `${backend}, resized`);
        assertDetections(boxed, [
          { class: 1, label: 'redthing', score: sigmoid(5), box: [0, 1.2, 4.8, 5.2], anchor: 0 },
          { class: 1, label: 'redthing', score: sigmoid(5), box: [4.8, 1.2, 8, 5.2], anchor: 2 },
        ], `${backend}, letterboxed`);
        await assert.rejects(loaded.classify(png), /it detects, it cannot classify/);
      } finally {
        await loaded.dispose();
      }
    }
    await assert.rejects(loadModel(file), (e: unknown) => e instanceof ConfigError && /no detection head/.test(e.message));
    await assert.rejects(loadModel(file, { detectionAnchors: TINY_ANCHORS, classNames: ['one'] }), /1 class names for model tiny_detector's 3 score slots/);
  });
});

describe('loadModel(…).detect on an ssdLite file', () => {
  it("uses the head, labels and preprocessing the file keeps: the saved model's own detections", async () => {
    const model = ssdLite({ alpha: 0.35, resolution: 96, classes: 2, seed: 4 });
    const loaded = await loadModel(encodeModelFile(model, { classNames: ['cat', 'dog'], preprocessing: { pixels: 'symmetric' } }), { backend: 'reference' });
    try {
      assert.deepEqual(loaded.labels, ['background', 'cat', 'dog']);
      const options = { scoreThreshold: 0.2, maxDetections: 10 };
      const [found] = await loaded.detect(LEFT_RED, options);
      const [expected] = await detect(model, LEFT_RED, { ...options, preprocessing: { pixels: 'symmetric' }, classNames: ['cat', 'dog'] });
      assert.ok(found.detections.length > 0);
      assertDetections(found, expected.detections, 'ssdLite file');
    } finally {
      await loaded.dispose();
    }
  });
});

describe('generated anchors', () => {
  it("SSD's feature maps by hand: ⌈size/16⌉, then halved rounding up", () => {
    assert.deepEqual(ssdFeatureMaps([300, 300], 6), [[19, 19], [10, 10], [5, 5], [3, 3], [2, 2], [1, 1]]);
    assert.deepEqual(ssdFeatureMaps([160, 320], 6), [[10, 20], [5, 10], [3, 5], [2, 3], [1, 2], [1, 1]]);
  });

  it("'ssd-tf' for the golden SSDLite (160×160, 540 anchors) equals its anchors.npy; torchvision's count is ssdlite320's 3,234", async () => {
    const golden = decodeNpy(await readFile(join(GOLDEN, 'anchors.npy')), 'anchors.npy');
    const anchors = generatedAnchors('ssd-tf', [160, 160], 540, 'the golden model');
    assert.equal(anchors.length, golden.data.length);
    const worst = anchors.reduce((m, v, i) => Math.max(m, Math.abs(v - golden.data[i])), 0);
    assert.ok(worst <= 1e-6, `max |difference| ${worst}`);
    assert.equal(generatedAnchors('ssd-torchvision', [320, 320], 3234, 'ssdlite320').length, 3234 * 4);
    assert.throws(() => generatedAnchors('ssd-tf', [160, 160], 600, 'model m'), /10×10×3 \+ 5×5×6 \+ 3×3×6 \+ 2×2×6 \+ 1×1×6 \+ 1×1×6 = 540, but model m's outputs have 600/);
  });
});
