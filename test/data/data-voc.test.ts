// VOC segmentation folders: a hand-made folder read back pixel for pixel (images 0..1, masks exact), nearest
// resizing of masks on hand-worked grids, and the refusals (mask of another size, mixed sizes, bad labels).

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encode } from 'fast-png';
import { ConfigError, FormatError, ShapeError } from '../../src/errors.js';
import { FASHION_SCENE_CLASSES, VOC_CLASSES } from '../../src/data/label-maps.js';
import { encodeMaskPng } from '../../src/data/mask-png.js';
import { resizeNearestLabels } from '../../src/data/segmentation-data.js';
import { readVocFolder } from '../../src/node/voc-folder.js';

const root = await mkdtemp(join(tmpdir(), 'voc-'));
after(() => rm(root, { recursive: true, force: true }));

/** An RGB PNG whose pixel i is (i, 2i, 3i). */
function rgbPng(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3).map((_, k) => Math.floor(k / 3) * ((k % 3) + 1));
  return encode({ width, height, data, channels: 3, depth: 8 });
}

interface Sample {
  name: string;
  image: Uint8Array;
  mask: Uint8Array;
}

async function writeVoc(dir: string, train: Sample[], extra: Record<string, string> = {}): Promise<string> {
  for (const sub of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) await mkdir(join(dir, sub), { recursive: true });
  for (const s of train) {
    await writeFile(join(dir, 'JPEGImages', `${s.name}.png`), s.image);
    await writeFile(join(dir, 'SegmentationClass', `${s.name}.png`), s.mask);
  }
  await writeFile(join(dir, 'ImageSets/Segmentation/train.txt'), `${train.map((s) => s.name).join('\n')}\n`);
  for (const [path, text] of Object.entries(extra)) await writeFile(join(dir, path), text);
  return dir;
}

const mask = (width: number, height: number, labels: number[]): Uint8Array => encodeMaskPng({ width, height, labels: Uint8Array.from(labels) });

test('a VOC folder reads back: images scaled to 0..1 in NHWC, masks label for label, names in list order', async () => {
  const dir = await writeVoc(join(root, 'plain'), [
    { name: 'b', image: rgbPng(3, 2), mask: mask(3, 2, [0, 1, 2, 255, 0, 20]) },
    { name: 'a', image: rgbPng(3, 2), mask: mask(3, 2, [5, 5, 5, 0, 0, 0]) },
  ]);
  const set = await readVocFolder(dir, { split: 'train' });
  assert.deepEqual(set.names, ['b', 'a']);
  assert.deepEqual(set.images.shape, [2, 2, 3, 3]);
  assert.equal(set.classNames, VOC_CLASSES);
  // pixel 4 of the second image: (4, 8, 12) / 255
  const at = (1 * 6 + 4) * 3;
  assert.deepEqual([...set.images.data.subarray(at, at + 3)].map((v) => Math.round(v * 255 * 1000) / 1000), [4, 8, 12]);
  assert.deepEqual([...set.masks], [0, 1, 2, 255, 0, 20, 5, 5, 5, 0, 0, 0]);
  const limited = await readVocFolder(dir, { limit: 1, pixels: 'raw' });
  assert.deepEqual(limited.names, ['b']);
  assert.equal(limited.images.data[5 * 3 + 2], 15);
});

test('class names come from annotations.json categories when the folder has one', async () => {
  const categories = FASHION_SCENE_CLASSES.slice(1).map((name, i) => ({ id: i + 1, name }));
  const dir = await writeVoc(join(root, 'coco'), [{ name: 'x', image: rgbPng(2, 2), mask: mask(2, 2, [0, 10, 3, 255]) }], {
    'annotations.json': JSON.stringify({ images: [], annotations: [], categories }),
  });
  const set = await readVocFolder(dir);
  assert.deepEqual(set.classNames, FASHION_SCENE_CLASSES);
});

test('nearest resizing of labels: hand-worked 2×2 → 4×4 and 4×4 → 2×2, never a new label', () => {
  assert.deepEqual([...resizeNearestLabels(Uint8Array.from([1, 2, 3, 4]), [2, 2], [4, 4])], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  const big = Uint8Array.from({ length: 16 }, (_, i) => i);
  // rows and columns 1 and 3: ⌊(i + ½)·4/2⌋
  assert.deepEqual([...resizeNearestLabels(big, [4, 4], [2, 2])], [5, 7, 13, 15]);
  assert.deepEqual([...resizeNearestLabels(Uint8Array.from([7, 255]), [1, 2], [2, 3])], [7, 255, 255, 7, 255, 255]); // columns ⌊(x + ½)·2/3⌋ = 0, 1, 1
});

test('images of different sizes are a ShapeError unless a size is given; then masks are resized nearest', async () => {
  const dir = await writeVoc(join(root, 'mixed'), [
    { name: 'small', image: rgbPng(2, 2), mask: mask(2, 2, [1, 2, 3, 4]) },
    { name: 'wide', image: rgbPng(4, 2), mask: mask(4, 2, [1, 1, 2, 2, 3, 3, 4, 4]) },
  ]);
  await assert.rejects(readVocFolder(dir), (e: unknown) => e instanceof ShapeError && /wide\.png is 4×2 but .*small\.png is 2×2/.test(e.message));
  const set = await readVocFolder(dir, { size: [4, 4] });
  assert.deepEqual(set.images.shape, [2, 4, 4, 3]);
  assert.deepEqual([...set.masks.subarray(0, 16)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.deepEqual([...set.masks.subarray(16)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
});

test('a mask of another size than its image is a ShapeError naming both files and sizes', async () => {
  const dir = await writeVoc(join(root, 'badsize'), [{ name: 'p', image: rgbPng(3, 2), mask: mask(2, 2, [0, 0, 0, 0]) }]);
  await assert.rejects(readVocFolder(dir), (e: unknown) => e instanceof ShapeError && /SegmentationClass\/p\.png is 2×2 but its image .*JPEGImages\/p\.png is 3×2/.test(e.message));
});

test('a label outside the classes (not 255) is a FormatError; a missing file or list is a ConfigError', async () => {
  const dir = await writeVoc(join(root, 'badlabel'), [{ name: 'q', image: rgbPng(2, 1), mask: mask(2, 1, [0, 21]) }]);
  await assert.rejects(readVocFolder(dir), (e: unknown) => e instanceof FormatError && /label 21 at pixel \(x 1, y 0\)/.test(e.message));
  await assert.rejects(readVocFolder(dir, { split: 'val' }), (e: unknown) => e instanceof ConfigError && /ImageSets\/Segmentation\/val\.txt/.test(e.message));
  await rm(join(dir, 'JPEGImages', 'q.png'));
  await assert.rejects(readVocFolder(dir), (e: unknown) => e instanceof ConfigError && /no JPEGImages\/q/.test(e.message));
});
