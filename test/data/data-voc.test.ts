// VOC segmentation folders: a hand-made folder read back pixel for pixel (images 0..1, masks exact), nearest
// resizing of masks on hand-worked grids, the refusals (mask of another size, mixed sizes, bad labels), and the
// page's reader of dropped File objects (a folder drop, loose pairs).

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
import { readVocFiles } from '../../src/browser/voc-files.js';
import jpeg from 'jpeg-js';

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
  await assert.rejects(readVocFolder(join(dir, 'nowhere')), (e: unknown) => e instanceof ConfigError && /nowhere does not exist/.test(e.message));
  await rm(join(dir, 'JPEGImages', 'q.png'));
  await assert.rejects(readVocFolder(dir), (e: unknown) => e instanceof ConfigError && /no JPEGImages\/q/.test(e.message));
});

/** A File as a folder drop gives it: `webkitRelativePath` is its path inside the dropped folder. */
function dropped(path: string, bytes: Uint8Array | string): File {
  const file = new File([typeof bytes === 'string' ? bytes : Uint8Array.from(bytes)], path.slice(path.lastIndexOf('/') + 1));
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

test('dropped files: a VOC folder drop reads like the folder on disk, its split list and classes included', async () => {
  const categories = FASHION_SCENE_CLASSES.slice(1).map((name, i) => ({ id: i + 1, name }));
  const files = [
    dropped('scenes/JPEGImages/b.png', rgbPng(3, 2)),
    dropped('scenes/JPEGImages/a.png', rgbPng(3, 2)),
    dropped('scenes/JPEGImages/stray.png', rgbPng(5, 5)),
    dropped('scenes/SegmentationClass/b.png', mask(3, 2, [0, 1, 2, 255, 0, 10])),
    dropped('scenes/SegmentationClass/a.png', mask(3, 2, [5, 5, 5, 0, 0, 0])),
    dropped('scenes/ImageSets/Segmentation/val.txt', 'b\na\n'),
    dropped('scenes/annotations.json', JSON.stringify({ images: [], annotations: [], categories })),
  ];
  const set = await readVocFiles(files, { split: 'val' });
  assert.deepEqual(set.names, ['b', 'a']);
  assert.deepEqual(set.classNames, FASHION_SCENE_CLASSES);
  assert.deepEqual([...set.masks], [0, 1, 2, 255, 0, 10, 5, 5, 5, 0, 0, 0]);
  assert.equal(Math.round(set.images.data[(6 + 4) * 3 + 1] * 255), 8);
  // without a list, every image that has a mask, sorted by name (stray.png has none)
  const unlisted = await readVocFiles(files.filter((f) => !f.name.endsWith('.txt')), { split: 'train' });
  assert.deepEqual(unlisted.names, ['a', 'b']);
});

test('dropped files: loose NAME.jpg + NAME.png pairs, and refusals naming what is wrong', async () => {
  const grey = Uint8Array.from(jpeg.encode({ data: new Uint8Array(4 * 4 * 4).fill(200), width: 4, height: 4 }, 100).data);
  const set = await readVocFiles([new File([grey], 'cat.JPG'), new File([Uint8Array.from(mask(4, 4, new Array(16).fill(1)))], 'cat.png'), new File(['x'], 'notes.txt')]);
  assert.deepEqual(set.names, ['cat']);
  assert.deepEqual(set.images.shape, [1, 4, 4, 3]);
  assert.ok(Math.abs(set.images.data[0] - 200 / 255) < 3 / 255, 'JPEG grey 200 decodes within 3 levels');
  assert.deepEqual([...set.masks], new Array(16).fill(1));
  await assert.rejects(readVocFiles([]), FormatError);
  await assert.rejects(readVocFiles([new File([grey], 'cat.jpg')]), (e: unknown) => e instanceof FormatError && /no image with a mask among 1 files/.test(e.message));
  const small = [dropped('d/JPEGImages/p.png', rgbPng(3, 2)), dropped('d/SegmentationClass/p.png', mask(2, 2, [0, 0, 0, 0]))];
  await assert.rejects(readVocFiles(small), (e: unknown) => e instanceof ShapeError && /d\/SegmentationClass\/p\.png is 2×2 but its image d\/JPEGImages\/p\.png is 3×2/.test(e.message));
});
