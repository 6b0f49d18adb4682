// segment() and overlayMask() against hand-worked answers (the tiny segmenter, test/support/tiny-segmenter.ts, on
// painted images through a Model, a WasmEngine and loadModel's object) and PyTorch's golden DeepLab; label maps, refusals.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';

import { loadModel, overlayMask, segment } from '../../src/index.js';
import { loadModel as loadBundled } from '../../src/node/index.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { VOC_CLASSES, vocPalette } from '../../src/data/label-maps.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { Model } from '../../src/graph/model.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { Conv2D } from '../../src/nn/conv.js';
import { Reshape, input } from '../../src/nn/core.js';
import { GlobalAveragePooling2D } from '../../src/nn/pooling.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { deeplabV3 } from '../../src/models/deeplab-v3.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { GOLDEN, assertClose } from '../support/helpers.js';
import { BLACK, RED, TINY_CLASSES, TINY_PALETTE, WHITE, paint, sceneImage, sceneLabels, tinyScores, tinySegmenter, tinySegmenterFile } from '../support/tiny-segmenter.js';

const DEEPLAB = join(GOLDEN, 'apps/deeplab_mnv2_a050_r129_k5_os16_b2');
const UNIT = { preprocessing: { pixels: 'unit' as const }, classNames: TINY_CLASSES };

/** A 1×1-conv model with `classes` outputs per pixel (weights as initialised). */
function segmenterWith(classes: number): Model {
  const x = input([4, 4, 3]);
  return new Model(x, new Conv2D('scores', { kernelSize: 1, filters: classes }).apply(x));
}

describe('segment: the tiny segmenter, worked by hand', () => {
  it("at the image's size: every pixel keeps its region's class, with the fractions of the regions", async () => {
    const [s] = await segment(tinySegmenter(), [sceneImage()], UNIT);
    assert.deepEqual([s.width, s.height], [16, 16]);
    assert.deepEqual(s.logits.shape, [16, 16, 3]);
    assert.deepEqual(s.mask, sceneLabels());
    assert.deepEqual(s.fractions, [0.25, 0.375, 0.375]);
    assert.deepEqual(s.classNames, TINY_CLASSES);
    assert.deepEqual(s.palette.slice(0, 3), vocPalette().slice(0, 3));
    assert.deepEqual(s.notes, []);
    // pixel (x 7, y 11): bilinear weights 0.5625 white, 0.1875 red, 0.25 black (half-pixel centres, 8 → 16)
    const at = (x: number, y: number): number[] => Array.from(s.logits.data.subarray((y * 16 + x) * 3, (y * 16 + x + 1) * 3));
    const mix = tinyScores(WHITE).map((w, k) => 0.5625 * w + 0.1875 * tinyScores(RED)[k] + 0.25 * tinyScores(BLACK)[k]);
    at(7, 11).forEach((v, k) => assert.ok(Math.abs(v - mix[k]) < 1e-6, `logit ${k}: ${v} vs ${mix[k]}`));
  });

  it("at the network's size (resizeTo 'input'): the fitted 8×8 image's scores, each pixel's own", async () => {
    const [s] = await segment(tinySegmenter(), [sceneImage()], { ...UNIT, resizeTo: 'input' });
    assert.deepEqual([s.width, s.height], [8, 8]);
    assert.deepEqual(s.mask, sceneLabels(8, 8));
    for (let p = 0; p < 64; p++) {
      const colour = p >= 48 ? BLACK : p % 8 < 4 ? WHITE : RED;
      tinyScores(colour).forEach((v, k) => assert.ok(Math.abs(s.logits.data[p * 3 + k] - v) < 1e-6, `pixel ${p} class ${k}`));
    }
  });

  it('a WasmEngine, a Model and loadModel on the model file give the same mask; the file brings names and palette', async (t) => {
    if (!WasmEngine.supported()) return t.skip('WebAssembly SIMD does not validate here');
    const engine = await WasmEngine.create(tinySegmenter());
    const loaded = await loadModel(tinySegmenterFile());
    try {
      const [byEngine] = await segment(engine, [sceneImage()], UNIT);
      assert.deepEqual(byEngine.mask, sceneLabels());
      const png = encodePng({ ...sceneImage(), channels: 3, depth: 8 });
      const [byFile] = await segment(loaded, [png]);
      assert.deepEqual(byFile.mask, sceneLabels());
      assert.deepEqual(byFile.fractions, [0.25, 0.375, 0.375]);
      assert.deepEqual(byFile.palette.slice(0, 3), TINY_PALETTE);
      assert.deepEqual(byFile.palette[3], vocPalette()[3]);
      assert.deepEqual(loaded.labels, TINY_CLASSES);
      assert.deepEqual(loaded.notes, []);
      await assert.rejects(loaded.classify(png), (e: unknown) => e instanceof ShapeError && /\[N, 8, 8, 3\].*segment instead/.test(e.message));
      await assert.rejects(loaded.embed(png), ShapeError);
    } finally {
      await engine.dispose();
      await loaded.dispose();
    }
  });

  it("in Node, loadModel's segmenter takes a PNG file's path", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mobilenet-segment-api-'));
    try {
      await writeFile(join(dir, 'tiny.safetensors'), tinySegmenterFile());
      await writeFile(join(dir, 'scene.png'), encodePng({ ...sceneImage(), channels: 3, depth: 8 }));
      const loaded = await loadBundled(join(dir, 'tiny.safetensors'));
      const [s] = await segment(loaded, [join(dir, 'scene.png')]);
      await loaded.dispose();
      assert.deepEqual(s.mask, sceneLabels());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a model ending in ArgMax (as TF.js DeepLab graphs do) segments with the scores before it, and says so', async () => {
    const [bare] = await segment(tinySegmenter({ argmax: true }), [sceneImage()], UNIT);
    assert.deepEqual(bare.mask, sceneLabels());
    assert.match(bare.notes[0], /ends in ArgMax \(labels\): segmenting with the class scores before it/);
    const loaded = await loadModel(tinySegmenterFile({ argmax: true }), { backend: 'reference' });
    const [s] = await segment(loaded, [{ data: sceneImage().data, width: 16, height: 16 }]);
    await loaded.dispose();
    assert.deepEqual(s.mask, sceneLabels());
    assert.deepEqual(s.palette.slice(0, 3), TINY_PALETTE);
    assert.match(loaded.notes.join('\n'), /ends in ArgMax/);
  });

  it('a stride-2 convolution and a bilinear Resize back: the boundary column stays where the image has it', async () => {
    const image = paint(8, 8, (x) => (x < 4 ? WHITE : RED));
    const [s] = await segment(tinySegmenter({ stride2: true }), [image], { ...UNIT, resizeTo: 'input' });
    assert.deepEqual(s.mask, Uint8Array.from({ length: 64 }, (_, p) => (p % 8 < 4 ? 1 : 2)));
    // x 3 reads the 4×4 map at 1.25: 0.75 white + 0.25 red → [0.5, 5/6, 0]
    const expected = [0.5, 5 / 6, 0];
    expected.forEach((v, k) => assert.ok(Math.abs(s.logits.data[3 * 3 + k] - v) < 1e-6, `class ${k}: ${s.logits.data[3 * 3 + k]} vs ${v}`));
  });

  it("a 'pad' fit maps back by the centred window, not by a resize", async () => {
    const image = paint(4, 4, (x) => (x < 2 ? WHITE : RED));
    const [s] = await segment(tinySegmenter(), [image], { ...UNIT, preprocessing: { pixels: 'unit', fit: 'pad' } });
    assert.deepEqual([s.width, s.height], [4, 4]);
    assert.deepEqual(s.mask, Uint8Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 1 : 2)));
    const [net] = await segment(tinySegmenter(), [image], { ...UNIT, preprocessing: { pixels: 'unit', fit: 'pad' }, resizeTo: 'input' });
    assert.equal(net.fractions[0], 48 / 64); // the black padding is background
  });

  it('takes a preprocessed tensor as it is, at the network size', async () => {
    const tensor = new Tensor([8, 8, 3], new Float32Array(192).fill(1));
    const [s] = await segment(tinySegmenter(), [tensor], UNIT);
    assert.deepEqual([s.width, s.height], [8, 8]);
    assert.deepEqual(s.fractions, [0, 1, 0]);
  });
});

describe('segment: the golden Mobile DeepLabv3 (PyTorch-made, α 0.5, 129×129, 5 classes)', () => {
  it("on the engine, gives PyTorch's logits and argmax mask for each image of the golden batch", async (t) => {
    if (!WasmEngine.supported()) return t.skip('WebAssembly SIMD does not validate here');
    const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DEEPLAB, file)), file);
    const model = deeplabV3({ alpha: 0.5, outputStride: 16, classes: 5, resolution: 129 });
    loadTorchStateDict(model, decodeSafetensors(readFileSync(join(DEEPLAB, 'weights.safetensors'))).tensors);
    const images = toLayout(npy('input.npy'), 'NCHW', 'NHWC');
    const logits = toLayout(npy('logits.npy'), 'NCHW', 'NHWC');
    const mask = npy('mask.npy');
    const plane = 129 * 129;
    const engine = await WasmEngine.create(model);
    try {
      const results = await segment(engine, [0, 1].map((b) => new Tensor([129, 129, 3], images.data.slice(b * plane * 3, (b + 1) * plane * 3))), { classNames: ['a', 'b', 'c', 'd', 'e'] });
      for (const [b, s] of results.entries()) {
        assert.deepEqual([s.width, s.height], [129, 129]);
        assert.deepEqual(Array.from(s.mask), Array.from(mask.data.subarray(b * plane, (b + 1) * plane)), `image ${b}: mask`);
        assertClose(s.logits, new Tensor([129, 129, 5], logits.data.slice(b * plane * 5, (b + 1) * plane * 5)), 5e-5, `image ${b}: logits`);
      }
    } finally {
      await engine.dispose();
    }
  });
});

describe('segment: the golden Mobile DeepLabv3 as its ONNX file, through loadModel', () => {
  it("gives PyTorch's mask for each image, with 5 unnamed classes named 'class k' (a note says so)", async () => {
    const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DEEPLAB, file)), file);
    const loaded = await loadModel(readFileSync(join(DEEPLAB, 'model.onnx')));
    try {
      assert.match(loaded.notes.join('\n'), /'background', 'class 1' … 'class 4'/);
      const images = toLayout(npy('input.npy'), 'NCHW', 'NHWC');
      const mask = npy('mask.npy');
      const plane = 129 * 129;
      for (const b of [0, 1]) {
        const [s] = await segment(loaded, [new Tensor([1, 129, 129, 3], images.data.slice(b * plane * 3, (b + 1) * plane * 3))]);
        assert.deepEqual(Array.from(s.mask), Array.from(mask.data.subarray(b * plane, (b + 1) * plane)), `image ${b}`);
      }
    } finally {
      await loaded.dispose();
    }
  });
});

describe('segment: label maps', () => {
  it("21 classes without names are VOC's, said in a note; other counts are 'class k'; the file's names win", async () => {
    const [voc] = await segment(segmenterWith(21), [paint(4, 4, () => WHITE)], { preprocessing: { pixels: 'unit' } });
    assert.deepEqual(voc.classNames, VOC_CLASSES);
    assert.match(voc.notes.join('\n'), /no class names: assuming PASCAL VOC's 21 classes/);
    const [five] = await segment(segmenterWith(5), [paint(4, 4, () => WHITE)]);
    assert.deepEqual(five.classNames, ['background', 'class 1', 'class 2', 'class 3', 'class 4']);
    assert.match(five.notes[0], /'background', 'class 1' … 'class 4'/);
    assert.match(five.notes[1], /no preprocessing given/);
    const file = encodeModelFile(segmenterWith(21), { classNames: VOC_CLASSES.map((c) => c.toUpperCase()) });
    const loaded = await loadModel(file, { backend: 'reference' });
    assert.equal(loaded.labels[1], 'AEROPLANE');
    assert.ok(!loaded.notes.some((n) => n.includes('VOC')));
    await loaded.dispose();
  });
});

describe('segment: refusals', () => {
  it('a classifier is not a segmenter (the shape is named); bad options are ConfigErrors', async () => {
    const x = input([4, 4, 3]);
    const classifier = new Model(x, new GlobalAveragePooling2D('pool').apply(new Conv2D('c', { kernelSize: 1, filters: 2 }).apply(x)));
    await assert.rejects(segment(classifier, [paint(4, 4, () => WHITE)]), (e: unknown) => e instanceof ShapeError && /outputs \[\?, 2\] per batch.*cannot segment/.test(e.message));
    await assert.rejects(segment(tinySegmenter(), [sceneImage()], { classNames: ['a'] }), ConfigError);
    await assert.rejects(segment(tinySegmenter(), [sceneImage()], { resizeTo: 'both' as 'input' }), ConfigError);
    await assert.rejects(segment(tinySegmenter(), [new Tensor([4, 4, 3], new Float32Array(48))]), ShapeError);
    const loaded = await loadBundled(undefined, { backend: 'reference' });
    await assert.rejects(loaded.segment(new Uint8Array(0)), (e: unknown) => e instanceof ShapeError && /\[N, 10\].*cannot segment/.test(e.message));
    await loaded.dispose();
    const flat = new Model(x, new Reshape('flat', [4, 4]).apply(new Conv2D('one', { kernelSize: 1, filters: 1 }).apply(x)));
    await assert.rejects(loadModel(encodeModelFile(flat), { backend: 'reference' }), (e: unknown) => e instanceof ShapeError && /outputs \[N, 4, 4\], neither class scores/.test(e.message));
  });
});

describe('overlayMask', () => {
  it('blends each label colour at the opacity, rounded; ignore pixels stay; grey becomes RGB; RGBA keeps alpha', () => {
    const palette = TINY_PALETTE;
    const rgb = overlayMask({ data: [100, 50, 200, 10, 20, 30], width: 2, height: 1 }, Uint8Array.from([1, 255]), palette, 0.25);
    // 0.75·(100, 50, 200) + 0.25·(0, 255, 0) = (75, 101.25, 150)
    assert.deepEqual([...rgb.data], [75, 101, 150, 10, 20, 30]);
    assert.equal(rgb.channels, 3);
    const grey = overlayMask({ data: [80], width: 1, height: 1 }, Uint8Array.from([2]), palette, 0.5);
    assert.deepEqual([...grey.data], [168, 40, 168]); // (80 + 255)/2 = 167.5 → 168
    const rgba = overlayMask({ data: [0, 0, 0, 77], width: 1, height: 1 }, Uint8Array.from([0]), palette, 1);
    assert.deepEqual([...rgba.data], [0, 0, 64, 77]);
    assert.throws(() => overlayMask({ data: [0, 0, 0], width: 1, height: 1 }, Uint8Array.from([0, 0]), palette), ShapeError);
    assert.throws(() => overlayMask({ data: [0, 0, 0], width: 1, height: 1 }, Uint8Array.from([0]), palette, 2), ConfigError);
    assert.throws(() => overlayMask({ data: [0, 0, 0], width: 1, height: 1 }, Uint8Array.from([7]), palette), /label 7 has no colour/);
  });
});
