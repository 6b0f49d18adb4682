// `mobilenet make-scenes` end to end: two runs with the same flags write the same bytes (hashed), the folder
// reads back as a VOC split with the scenes' classes, COCO boxes agree with the masks, both splits share a folder.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeIdx, encodeIdx } from '../../src/data/idx.js';
import { FASHION_SCENE_CLASSES } from '../../src/data/label-maps.js';
import type { CocoFile } from '../../src/data/scenes.js';
import { readVocFolder } from '../../src/node/voc-folder.js';
import { runCli } from '../support/helpers.js';

const BUNDLED = join(import.meta.dirname, '..', '..', 'data', 'fashion-mnist');
let dir = '';
let items = '';

/** sha256 of every file under `root`, by relative path. */
async function hashes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(root, path), createHash('sha256').update(await readFile(path)).digest('hex'));
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'make-scenes-'));
  // a train split for the test: the bundled folder has Fashion-MNIST's test items only; its first 60 serve as "train" items
  items = join(dir, 'items');
  await mkdir(items);
  const images = decodeIdx(await readFile(join(BUNDLED, 't10k-images-idx3-ubyte.gz')));
  const labels = decodeIdx(await readFile(join(BUNDLED, 't10k-labels-idx1-ubyte.gz')));
  await writeFile(join(items, 'train-images-idx3-ubyte'), encodeIdx({ dtype: 'uint8', shape: [60, 28, 28], data: images.data.slice(0, 60 * 784) }));
  await writeFile(join(items, 'train-labels-idx1-ubyte'), encodeIdx({ dtype: 'uint8', shape: [60], data: labels.data.slice(0, 60) }));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('mobilenet make-scenes', () => {
  it('writes the same bytes twice for the same flags (test split from the bundled data, found without --data)', async () => {
    const runs = ['a', 'b'].map((name) => join(dir, name));
    for (const out of runs) {
      const r = await runCli('make-scenes', '--out', out, '--images', '6', '--size', '48', '--seed', '7', '--split', 'test');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /6 test scenes of 48×48 \(seed 7/);
    }
    const [a, b] = await Promise.all(runs.map(hashes));
    assert.equal(a.size, 6 * 2 + 2); // images, masks, val.txt, annotations.json
    assert.deepEqual(a, b);
    const other = join(dir, 'c');
    assert.equal((await runCli('make-scenes', '--out', other, '--images', '6', '--size', '48', '--seed', '8', '--split', 'test')).code, 0);
    assert.notEqual((await hashes(other)).get('JPEGImages/test-00000.png'), a.get('JPEGImages/test-00000.png'));
  });

  it('reads back as a VOC split with the scenes\' classes, and every COCO box holds pixels of its category', async () => {
    const out = join(dir, 'a');
    const set = await readVocFolder(out, { split: 'val' });
    assert.deepEqual(set.images.shape, [6, 48, 48, 3]);
    assert.deepEqual(set.classNames, FASHION_SCENE_CLASSES);
    assert.deepEqual(set.names, ['test-00000', 'test-00001', 'test-00002', 'test-00003', 'test-00004', 'test-00005']);
    const coco = JSON.parse(await readFile(join(out, 'annotations.json'), 'utf8')) as CocoFile;
    assert.equal(coco.images.length, 6);
    for (const a of coco.annotations) {
      const n = coco.images.findIndex((i) => i.id === a.image_id);
      assert.equal(coco.images[n].file_name, `${set.names[n]}.png`);
      const [x, y, w, h] = a.bbox;
      let inside = 0;
      for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) inside += set.masks[n * 48 * 48 + yy * 48 + xx] === a.category_id ? 1 : 0;
      assert.ok(inside >= a.area, `box ${a.id} holds ${inside} pixels of category ${a.category_id}, fewer than its area ${a.area}`);
    }
  });

  it('a train split from --data joins the test split in one folder: both lists, one COCO file', async () => {
    const out = join(dir, 'a');
    const r = await runCli('make-scenes', '--out', out, '--images', '3', '--size', '48', '--split', 'train', '--data', items);
    assert.equal(r.code, 0, r.err);
    assert.equal((await readFile(join(out, 'ImageSets/Segmentation/train.txt'), 'utf8')).trim().split('\n').length, 3);
    const coco = JSON.parse(await readFile(join(out, 'annotations.json'), 'utf8')) as CocoFile;
    assert.deepEqual(coco.images.map((i) => i.file_name).slice(0, 4), ['test-00000.png', 'test-00001.png', 'test-00002.png', 'test-00003.png']);
    assert.equal(coco.images.length, 9);
    assert.equal((await readVocFolder(out, { split: 'train' })).names.length, 3);
  });

  it('a missing split or a bad flag is an error with exit code 2', async () => {
    const r = await runCli('make-scenes', '--out', join(dir, 'd'), '--split', 'train', '--data', BUNDLED);
    assert.equal(r.code, 2);
    assert.match(r.err, /no Fashion-MNIST train split found/);
    assert.equal((await runCli('make-scenes', '--out', join(dir, 'd'), '--size', '0')).code, 2);
    assert.match((await runCli('make-scenes', '--images', '3')).err, /--out DIR is required/);
  });
});
