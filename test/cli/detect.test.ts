// `mobilenet detect` against hand-worked answers: the tiny detector's file (test/support/tiny-detector.ts) on a
// half-red PNG, resized and letterboxed; JSON and table; boxes drawn into PNGs; a .npy batch; the golden SSDLite's
// ONNX against its detections.json; face-api's manifest against face-api on a photo; bad flags and anchors.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { decode as decodePng, encode as encodePng } from 'fast-png';

import { detect } from '../../src/api/detect.js';
import { decodeImage } from '../../src/data/image.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { ssdLite } from '../../src/models/ssd.js';
import { encodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FACEAPI_SSD_MANIFEST, faceApiModelFolder, loadFaceApi } from '../support/faceapi.js';
import { FIXTURES, runCli } from '../support/helpers.js';
import { TINY_ANCHORS, TINY_DETECTOR_CLASSES, redWhere, tinyDetector } from '../support/tiny-detector.js';

const faceApiSkip = faceApiModelFolder() ? false : 'face-api is not installed (dev dependencies @vladmandic/face-api, @tensorflow/tfjs, @tensorflow/tfjs-backend-wasm)';
const GOLDEN_CASE = join(FIXTURES, 'golden/apps/ssdlite_mnv2_a050_r160_k5_b2');
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
let dir = '';
let bare = '';
let anchors = '';
let image = '';
let large = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-detect-'));
  bare = join(dir, 'tiny.safetensors');
  anchors = join(dir, 'anchors.npy');
  image = join(dir, 'half.png');
  large = join(dir, 'large.png');
  // the file keeps no head: graphs imported from other formats have none either, and --anchors gives them
  await writeFile(bare, encodeModelFile(tinyDetector({ head: false }), { classNames: TINY_DETECTOR_CLASSES.slice(1), preprocessing: { pixels: 'unit' } }));
  await writeFile(anchors, encodeNpy(new Tensor([4, 4], TINY_ANCHORS)));
  await writeFile(image, encodePng({ ...redWhere(16, 8, (x) => x < 8), channels: 3, depth: 8 }));
  await writeFile(large, encodePng({ ...redWhere(64, 32, (x) => x < 32), channels: 3, depth: 8 }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Json {
  images: { source: string; width: number; height: number; detections: { class: number; label: string; score: number; box: number[] }[] }[];
}

function assertClose(actual: Json['images'][number]['detections'], expected: { class: number; label: string; score: number; box: number[] }[]): void {
  assert.equal(actual.length, expected.length, JSON.stringify(actual));
  actual.forEach((d, i) => {
    assert.deepEqual(Object.keys(d), ['class', 'label', 'score', 'box']);
    assert.deepEqual([d.class, d.label], [expected[i].class, expected[i].label]);
    assert.ok(Math.abs(d.score - expected[i].score) < 1e-6, `score ${d.score}`);
    d.box.forEach((v, k) => assert.ok(Math.abs(v - expected[i].box[k]) < 1e-5, `box ${d.box} vs ${expected[i].box}`));
  });
}

describe('mobilenet detect', () => {
  it("--json: the issue's shape, boxes in the image's pixels; K names in the file take slot 0 as background", async () => {
    const r = await runCli('detect', '--model', bare, '--anchors', anchors, '--json', image);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Json;
    assert.deepEqual(Object.keys(j), ['images']);
    assert.deepEqual([j.images[0].source, j.images[0].width, j.images[0].height], [image, 16, 8]);
    assertClose(j.images[0].detections, [
      { class: 1, label: 'redthing', score: sigmoid(15), box: [0.4, 1.2, 4.4, 5.2] },
      { class: 1, label: 'redthing', score: sigmoid(15), box: [4.4, 1.2, 8, 5.2] },
    ]);
  });

  it('--letterbox maps boxes back through the offset and scale; --max and --score cap and filter; a table without --json', async () => {
    const boxed = await runCli('detect', '--model', bare, '--anchors', anchors, '--letterbox', '--json', '--backend', 'reference', image);
    assert.equal(boxed.code, 0, boxed.err);
    assertClose((JSON.parse(boxed.out) as Json).images[0].detections, [
      { class: 1, label: 'redthing', score: sigmoid(5), box: [0, 1.2, 4.8, 5.2] },
      { class: 1, label: 'redthing', score: sigmoid(5), box: [4.8, 1.2, 8, 5.2] },
    ]);
    const strict = await runCli('detect', '--model', bare, '--anchors', anchors, '--letterbox', '--score', '0.999', '--json', image);
    assert.deepEqual((JSON.parse(strict.out) as Json).images[0].detections, []);
    const table = await runCli('detect', '--model', bare, '--anchors', anchors, '--max', '1', image);
    assert.equal(table.code, 0, table.err);
    assert.deepEqual(table.out.split('\n'), [`${image} (16×8): 1 detection`, '  1.000  redthing         [0.4, 1.2, 4.4, 5.2]']);
  });

  it('--out draws the boxes in VOC red over the image, with labels, as PNG', async () => {
    const out = join(dir, 'drawn');
    const r = await runCli('detect', '--model', bare, '--anchors', anchors, '--out', out, large);
    assert.equal(r.code, 0, r.err);
    const png = decodePng(await readFile(join(out, 'large.detections.png')));
    assert.deepEqual([png.width, png.height, png.channels], [64, 32, 4]);
    const at = (x: number, y: number): number[] => Array.from(png.data.slice((y * 64 + x) * 4, (y * 64 + x) * 4 + 4));
    // anchor 0's box [1.6, 4.8, 17.6, 20.8] rounds to rows 2..17, columns 5..20; its right edge between the two tabs
    assert.deepEqual(at(20, 9), [128, 0, 0, 255]);
    assert.deepEqual(at(5, 9), [128, 0, 0, 255]);
    assert.deepEqual(at(12, 9), [255, 0, 0, 255], 'inside the box: the image');
    // anchor 2's box [17.6, 4.8, 32, 20.8]: bottom row 31
    assert.deepEqual(at(12, 31), [128, 0, 0, 255]);
    assert.deepEqual(at(25, 31), [255, 0, 0, 255], 'right of the box: the image');
    assert.deepEqual(at(40, 31), [0, 0, 0, 255]);
  });

  it('--input X.npy (NCHW): one entry per batch item, boxes normalized', async () => {
    const x = new Float32Array(2 * 3 * 8 * 8);
    for (let y = 0; y < 4; y++) for (let c = 0; c < 4; c++) x[64 + y * 8 + c] = 1; // item 0, green plane, top-left quadrant
    await writeFile(join(dir, 'x.npy'), encodeNpy(new Tensor([2, 3, 8, 8], x)));
    const r = await runCli('detect', '--model', bare, '--anchors', anchors, '--input', join(dir, 'x.npy'), '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Json;
    assert.deepEqual(j.images.map((i) => [i.source, i.width, i.height]), [[`${join(dir, 'x.npy')}[0]`, 8, 8], [`${join(dir, 'x.npy')}[1]`, 8, 8]]);
    assertClose(j.images[0].detections, [{ class: 2, label: 'greenthing', score: sigmoid(15), box: [0.05, 0.075, 0.55, 0.325] }]);
    assert.deepEqual(j.images[1].detections, []);
  });

  it('an ssdLite model file keeps its head: no --anchors needed; the CLI gives what detect() gives on the model it saved', async () => {
    const model = ssdLite({ alpha: 0.35, resolution: 96, classes: 2, seed: 4 });
    const file = join(dir, 'ssdlite.safetensors');
    await writeFile(file, encodeModelFile(model, { classNames: ['cat', 'dog'], preprocessing: { pixels: 'symmetric' } }));
    const r = await runCli('detect', '--model', file, '--score', '0', '--max', '5', '--backend', 'reference', '--json', large);
    assert.equal(r.code, 0, r.err);
    const [expected] = await detect(model, redWhere(64, 32, (x) => x < 32), { preprocessing: { pixels: 'symmetric' }, classNames: ['cat', 'dog'], scoreThreshold: 0, maxDetections: 5 });
    const [shown] = (JSON.parse(r.out) as Json).images;
    assert.equal(shown.detections.length, 5);
    assertClose(shown.detections, expected.detections.map((d) => ({ class: d.class, label: d.label!, score: d.score, box: d.box })));
  });

  it("the golden SSDLite's ONNX, --anchors ssd-tf, on its input.npy: the golden detections.json (numpy's post-processing)", async () => {
    const golden = JSON.parse(await readFile(join(GOLDEN_CASE, 'detections.json'), 'utf8')) as { images: { class: number; score: number; box: number[] }[][] };
    const r = await runCli('detect', '--model', join(GOLDEN_CASE, 'model.onnx'), '--anchors', 'ssd-tf', '--input', join(GOLDEN_CASE, 'input.npy'), '--score', '0.1', '--iou', '0.6', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Json;
    assert.equal(j.images.length, 2);
    j.images.forEach((image, n) => {
      assert.deepEqual([image.width, image.height], [160, 160]);
      // the ONNX outputs match PyTorch's to 5e-5: scores and boxes to 1e-4
      assert.deepEqual(image.detections.map((d) => [d.class, d.label]), golden.images[n].map((d) => [d.class, `class ${d.class}`]), `image ${n}: classes in order`);
      image.detections.forEach((d, i) => {
        const e = golden.images[n][i];
        assert.ok(Math.abs(d.score - e.score) < 1e-4, `image ${n} #${i}: score ${d.score} vs ${e.score}`);
        d.box.forEach((v, k) => assert.ok(Math.abs(v - e.box[k]) < 1e-4, `image ${n} #${i}: box ${d.box} vs ${e.box}`));
      });
    });
  });

  it("face-api's manifest on a photo, thresholds left to the detector's own: face-api's detections, in the photos' pixels", { skip: faceApiSkip }, async () => {
    const api = await loadFaceApi('cpu');
    // one photo, padded on the right to a square (test/io/faceapi.test.ts covers the others): face-api on TF.js's cpu is slow
    const photos = [join(FIXTURES, 'photos', 'grace_hopper.jpg')];
    const out = join(dir, 'faces');
    const r = await runCli('detect', '--model', join(faceApiModelFolder()!, FACEAPI_SSD_MANIFEST), '--json', '--out', out, ...photos);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Json;
    for (const [n, file] of photos.entries()) {
      const decoded = decodeImage(await readFile(file), { channels: 3, source: file });
      const image = api.tf.tensor3d(Int32Array.from(decoded.pixels), [...decoded.shape], 'int32');
      const theirs = await api.detectAllFaces(image, new api.SsdMobilenetv1Options({}));
      image.dispose();
      assert.ok(theirs.length >= 1, `${file}: face-api finds a face`);
      assert.deepEqual([j.images[n].width, j.images[n].height], [decoded.shape[1], decoded.shape[0]]);
      const ours = j.images[n].detections;
      assert.equal(ours.length, theirs.length, `${file}: count`);
      ours.forEach((d, i) => {
        const { x, y, width, height } = theirs[i].box;
        assert.deepEqual([d.class, d.label], [1, 'face']);
        assert.ok(Math.abs(d.score - theirs[i].score) <= 1e-3, `${file} #${i}: score ${d.score} vs ${theirs[i].score}`);
        [y, x, y + height, x + width].forEach((v, k) => assert.ok(Math.abs(d.box[k] - v) <= 0.5, `${file} #${i}: box ${d.box} vs ${[y, x, y + height, x + width]}`));
      });
      const drawn = decodePng(await readFile(join(out, `${basename(file, '.jpg')}.detections.png`)));
      assert.deepEqual([drawn.width, drawn.height], [decoded.shape[1], decoded.shape[0]]);
    }
  });

  it('refuses thresholds outside [0, 1], a model without anchors, anchors of another count, and images with --input; --help', async () => {
    for (const [flag, value] of [['--score', '1.5'], ['--iou', '-0.1']]) {
      const r = await runCli('detect', '--model', bare, '--anchors', anchors, flag, value, image);
      assert.equal(r.code, 2);
      assert.match(r.err, new RegExp(`UsageError: ${flag} must be a number in \\[0, 1\\]`));
    }
    const none = await runCli('detect', '--model', bare, image);
    assert.equal(none.code, 2);
    assert.match(none.err, /ConfigError: model tiny_detector \(.*tiny\.safetensors\) has no detection head.*--anchors ssd-tf \| ssd-torchvision \| FILE\.npy/);
    const classifier = await runCli('detect', '--model', 'models/fashion-mnist.safetensors', image);
    assert.equal(classifier.code, 2);
    assert.match(classifier.err, /ConfigError: model .* outputs predictions \[10\]: not a detector's scores \[N, A, classes\] and boxes \[N, A, 4\]/);
    await writeFile(join(dir, 'two.npy'), encodeNpy(new Tensor([2, 4], TINY_ANCHORS.slice(0, 8))));
    const two = await runCli('detect', '--model', bare, '--anchors', join(dir, 'two.npy'), image);
    assert.equal(two.code, 2);
    assert.match(two.err, /ShapeError: 2 anchors given, but model tiny_detector \(.*\)'s output "scores" \[4, 3\] has 4/);
    const generated = await runCli('detect', '--model', bare, '--anchors', 'ssd-tf', image);
    assert.match(generated.err, /ShapeError: anchors ssd-tf for a 8×8 input are 1×1×3 \+ .* = 33, but model tiny_detector \(.*\)'s outputs have 4 anchors/);
    const both = await runCli('detect', '--model', bare, '--input', join(dir, 'x.npy'), image);
    assert.match(both.err, /give image files or --input X\.npy, not both/);
    const text = await runCli('detect', '--model', bare, '--anchors', 'anchors.txt', image);
    assert.match(text.err, /--anchors must be ssd-tf, ssd-torchvision or a FILE\.npy/);
    assert.match((await runCli('--help')).out, /^ {2}detect +objects in images/m);
    assert.match((await runCli('detect', '--help')).out, /^mobilenet detect --model FILE \(IMAGE… \| --input X\.npy\)/);
  });
});
