// `mobilenet segment` and `mobilenet infer` on a segmenter, against hand-worked answers: the tiny segmenter's file
// (test/support/tiny-segmenter.ts) on painted PNGs: mask PNG labels and palette, overlay blending, fractions, errors.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as decodePng, encode as encodePng } from 'fast-png';

import { VOC_CLASSES } from '../../src/data/label-maps.js';
import { decodeMaskPng } from '../../src/data/mask-png.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { deeplabV3 } from '../../src/models/deeplab-v3.js';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { runCli } from '../support/helpers.js';
import { BLACK, RED, TINY_PALETTE, WHITE, paint, sceneImage, sceneLabels, tinyScores, tinySegmenterFile } from '../support/tiny-segmenter.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let dir = '';
let model = '';
let scene = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-segment-'));
  model = join(dir, 'tiny.safetensors');
  scene = join(dir, 'scene.png');
  await writeFile(model, tinySegmenterFile());
  await writeFile(scene, encodePng({ ...sceneImage(), channels: 3, depth: 8 }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The overlay of sceneImage at opacity ½, by hand: ½·pixel + ½·colour, rounded half up. */
function expectedOverlay(x: number, y: number): number[] {
  if (y >= 12) return [0, 0, 32]; // black, background (0, 0, 64)
  if (x < 8) return [128, 255, 128]; // white, bright (0, 255, 0): 127.5 → 128
  return [255, 0, 128]; // red, red (255, 0, 255)
}

describe('mobilenet segment', () => {
  it('writes the mask as an indexed PNG in the file palette and the overlay blended by hand, and prints the fractions', async () => {
    const out = join(dir, 'out');
    const r = await runCli('segment', '--model', model, '--out', out, scene);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.split('\n').slice(1), ['   37.50%  bright', '   37.50%  red', '   25.00%  background']);
    const maskBytes = await readFile(join(out, 'scene.mask.png'));
    const mask = decodeMaskPng(maskBytes, 'scene.mask.png', 3);
    assert.deepEqual([mask.width, mask.height], [16, 16]);
    assert.deepEqual(mask.labels, sceneLabels());
    assert.deepEqual(decodePng(maskBytes).palette?.slice(0, 3), TINY_PALETTE);
    const overlay = decodePng(await readFile(join(out, 'scene.overlay.png')));
    assert.deepEqual([overlay.width, overlay.height, overlay.channels], [16, 16, 3]);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) assert.deepEqual(Array.from(overlay.data.slice((y * 16 + x) * 3, (y * 16 + x + 1) * 3)), expectedOverlay(x, y), `(${x}, ${y})`);
  });

  it('--json, --opacity, --backend reference and --labels: the same mask, the names from the flag', async () => {
    const out = join(dir, 'json');
    const labels = join(dir, 'labels.txt');
    await writeFile(labels, 'sky\nsnow\nfire\n');
    const r = await runCli('segment', '--model', model, '--out', out, '--json', '--opacity', '0.25', '--backend', 'reference', '--labels', labels, scene);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.engine, 'reference');
    assert.deepEqual(j.results[0].classes, [
      { class: 'snow', index: 1, fraction: 0.375 },
      { class: 'fire', index: 2, fraction: 0.375 },
      { class: 'sky', index: 0, fraction: 0.25 },
    ]);
    assert.equal(j.results[0].mask, join(out, 'scene.mask.png'));
    assert.deepEqual(decodeMaskPng(await readFile(j.results[0].mask), 'mask', 3).labels, sceneLabels());
    const overlay = decodePng(await readFile(j.results[0].overlay));
    // white under bright at ¼: 0.75·255 + 0.25·(0, 255, 0) = (191.25, 255, 191.25)
    assert.deepEqual(Array.from(overlay.data.slice(0, 3)), [191, 255, 191]);
    assert.match(r.err, /--labels .*replacing the 3 class names/);
  });

  it('a model file with a stride-2 convolution and a Resize back: the boundary stays where the 8×8 image has it', async () => {
    const os2 = join(dir, 'tiny-os2.safetensors');
    const half = join(dir, 'half.png');
    await writeFile(os2, tinySegmenterFile({ stride2: true }));
    await writeFile(half, encodePng({ ...paint(8, 8, (x) => (x < 4 ? WHITE : RED)), channels: 3, depth: 8 }));
    const r = await runCli('segment', '--model', os2, '--out', join(dir, 'os2'), '--json', half);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).results[0].classes.map((c: { class: string; fraction: number }) => [c.class, c.fraction]), [['bright', 0.5], ['red', 0.5]]);
    const mask = decodeMaskPng(await readFile(join(dir, 'os2', 'half.mask.png')), 'half.mask.png', 3);
    assert.deepEqual(mask.labels, Uint8Array.from({ length: 64 }, (_, p) => (p % 8 < 4 ? 1 : 2)));
  });

  it('a model file ending in ArgMax: the scores before it, said in a note', async () => {
    const labelled = join(dir, 'tiny-argmax.safetensors');
    await writeFile(labelled, tinySegmenterFile({ argmax: true }));
    const r = await runCli('segment', '--model', labelled, '--out', join(dir, 'argmax'), scene);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /ends in ArgMax/);
    assert.deepEqual(decodeMaskPng(await readFile(join(dir, 'argmax', 'scene.mask.png')), 'mask', 3).labels, sceneLabels());
  });

  it('refuses a classifier (naming its output shape), a missing --model, a bad --opacity and clashing names', async () => {
    const classifier = await runCli('segment', '--model', join(ROOT, 'models/fashion-mnist.safetensors'), '--out', dir, scene);
    assert.equal(classifier.code, 2);
    assert.match(classifier.err, /ShapeError: .*fashion-mnist\.safetensors outputs \[\?, 10\] per batch.*cannot segment/);
    assert.equal((await runCli('segment', scene)).code, 2);
    const opacity = await runCli('segment', '--model', model, '--opacity', '2', scene);
    assert.equal(opacity.code, 2);
    assert.match(opacity.err, /--opacity must be between 0 and 1/);
    await mkdir(join(dir, 'a'), { recursive: true });
    const clash = await runCli('segment', '--model', model, '--out', dir, scene, join(dir, 'a', 'scene.png'));
    assert.equal(clash.code, 2);
    assert.match(clash.err, /scene\.mask\.png/);
    const missing = await runCli('segment', '--model', model, '--out', dir, join(dir, 'nothing.png'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /nothing\.png/);
  });
});

describe('mobilenet segment and infer with a deeplabV3 model file (random weights: the plumbing)', () => {
  it("takes 21 unnamed classes as VOC's (a note says so), writes masks at the image's size, and infer keeps NCHW", async () => {
    const deeplab = join(dir, 'deeplab.safetensors');
    await writeFile(deeplab, encodeModelFile(deeplabV3({ alpha: 0.35, resolution: 33, classes: 21, seed: 3 })));
    const out = join(dir, 'deeplab');
    const r = await runCli('segment', '--model', deeplab, '--out', out, '--json', scene);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /no class names \(PASCAL VOC's when there are 21/);
    const [result] = JSON.parse(r.out).results;
    assert.deepEqual([result.width, result.height], [16, 16]);
    for (const c of result.classes) assert.equal(c.class, VOC_CLASSES[c.index]);
    assert.ok(Math.abs(result.classes.reduce((sum: number, c: { fraction: number }) => sum + c.fraction, 0) - 1) < 1e-9);
    const mask = decodeMaskPng(await readFile(result.mask), 'deeplab mask', 21);
    assert.deepEqual([mask.width, mask.height], [16, 16]);
    await writeFile(join(dir, 'x33.npy'), encodeNpy(new Tensor([1, 3, 33, 33], new Float32Array(3 * 33 * 33).fill(0.5))));
    const infer = await runCli('infer', '--model', deeplab, '--input', join(dir, 'x33.npy'), '--output', join(dir, 'y33.npy'));
    assert.equal(infer.code, 0, infer.err);
    assert.deepEqual(decodeNpy(await readFile(join(dir, 'y33.npy')), 'y33').shape, [1, 21, 33, 33]);
  });
});

describe('mobilenet infer on a segmenter', () => {
  it("writes the per-pixel scores in the input's layout: NCHW by default, NHWC with --layout nhwc", async () => {
    // a 8×8 batch: the left half white, the right half red, the bottom two rows black (0..1 values)
    const colourAt = (x: number, y: number): number[] => (y >= 6 ? BLACK : x < 4 ? WHITE : RED);
    const nhwc = new Float32Array(8 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) nhwc.set(colourAt(x, y).map((v) => v / 255), (y * 8 + x) * 3);
    const nchw = new Float32Array(8 * 8 * 3);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) nchw[c * 64 + p] = nhwc[p * 3 + c];
    for (const layout of ['nchw', 'nhwc'] as const) {
      const x = layout === 'nchw' ? new Tensor([1, 3, 8, 8], nchw) : new Tensor([1, 8, 8, 3], nhwc);
      await writeFile(join(dir, `x-${layout}.npy`), encodeNpy(x));
      const r = await runCli('infer', '--model', model, '--input', join(dir, `x-${layout}.npy`), '--output', join(dir, `y-${layout}.npy`), '--layout', layout);
      assert.equal(r.code, 0, r.err);
      const y = decodeNpy(await readFile(join(dir, `y-${layout}.npy`)), 'y');
      assert.deepEqual(y.shape, layout === 'nchw' ? [1, 3, 8, 8] : [1, 8, 8, 3]);
      for (let py = 0; py < 8; py++) {
        for (let px = 0; px < 8; px++) {
          const scores = tinyScores(colourAt(px, py));
          for (let k = 0; k < 3; k++) {
            const got = layout === 'nchw' ? y.data[k * 64 + py * 8 + px] : y.data[(py * 8 + px) * 3 + k];
            assert.ok(Math.abs(got - scores[k]) < 1e-6, `${layout} (${px}, ${py}) class ${k}: ${got} vs ${scores[k]}`);
          }
        }
      }
    }
  });
});
