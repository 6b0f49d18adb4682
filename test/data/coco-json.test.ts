// COCO detection data: a hand-written instances file parsed into images, objects and class slots (by order, id
// or name); every bad annotation a typed error naming file, image and annotation; folders, split lists, dropped
// files; and `mobilenet make-scenes`' annotations.json read back, its boxes checked against its masks.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { readCocoFiles } from '../../src/browser/coco-files.js';
import { decodeCocoBatch, parseCocoJson } from '../../src/data/coco-json.js';
import { decodeMaskPng } from '../../src/data/mask-png.js';
import { ConfigError, FormatError, ShapeError } from '../../src/errors.js';
import { readCocoFolder } from '../../src/node/coco-folder.js';
import { writeCocoFolder } from '../support/constant-detector.js';
import { runCli } from '../support/helpers.js';

/** Two images, three categories with a gap in their ids, four annotations (one a crowd). */
function instances(): { images: object[]; annotations: Record<string, unknown>[]; categories: object[] } {
  return {
    images: [
      { id: 7, file_name: 'a.png', width: 40, height: 30 },
      { id: 3, file_name: 'b.png', width: 20, height: 20 },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 5, bbox: [0, 0, 40, 30], area: 900, iscrowd: 0 },
      { id: 2, image_id: 7, category_id: 1, bbox: [10.5, 2, 4, 6.5] },
      { id: 9, image_id: 3, category_id: 9, bbox: [1, 1, 2, 2], iscrowd: 1 },
      { id: 4, image_id: 7, category_id: 5, bbox: [-0.5, 29, 3, 1.5] }, // within the 1-pixel edge tolerance
    ],
    categories: [
      { id: 9, name: 'hat' },
      { id: 1, name: 'shoe', supercategory: 'x' },
      { id: 5, name: 'bag' },
    ],
  };
}

const text = (o: unknown): string => JSON.stringify(o);

describe('parseCocoJson', () => {
  it('reads images in file order with their objects; categories by ascending id map to slots 1..K', () => {
    const data = parseCocoJson(text(instances()), 'instances.json');
    assert.deepEqual(data.categories, [{ id: 1, name: 'shoe', class: 1 }, { id: 5, name: 'bag', class: 2 }, { id: 9, name: 'hat', class: 3 }]);
    assert.deepEqual(data.classNames, ['background', 'shoe', 'bag', 'hat']);
    assert.deepEqual(data.images.map((i) => [i.id, i.fileName, i.width, i.height, i.objects.map((o) => o.id)]), [[7, 'a.png', 40, 30, [1, 2, 4]], [3, 'b.png', 20, 20, [9]]]);
    assert.deepEqual(data.images[0].objects[1], { id: 2, categoryId: 1, class: 1, bbox: [10.5, 2, 4, 6.5], box: [2, 10.5, 8.5, 14.5], area: 26, crowd: false });
    assert.deepEqual(data.images[1].objects[0], { id: 9, categoryId: 9, class: 3, bbox: [1, 1, 2, 2], box: [1, 1, 3, 3], area: 4, crowd: true });
    assert.equal(data.images[0].objects[0].area, 900);
  });

  it('maps categories by id (COCO\'s gapped slots) or by the model\'s class names', () => {
    const byId = parseCocoJson(text(instances()), 'i.json', { classes: 'id' });
    assert.deepEqual(byId.categories.map((c) => c.class), [1, 5, 9]);
    assert.deepEqual(byId.classNames, ['background', 'shoe', '2', '3', '4', 'bag', '6', '7', '8', 'hat']);
    const byName = parseCocoJson(text(instances()), 'i.json', { classes: ['bg', 'hat', 'coat', 'bag', 'shoe'] });
    assert.deepEqual(byName.categories.map((c) => [c.name, c.class]), [['shoe', 4], ['bag', 3], ['hat', 1]]);
    assert.deepEqual(byName.images[1].objects[0].class, 1);
    assert.deepEqual(byName.classNames, ['bg', 'hat', 'coat', 'bag', 'shoe']);
    assert.throws(() => parseCocoJson(text(instances()), 'i.json', { classes: ['bg', 'hat', 'bag'] }), (e: unknown) => e instanceof ConfigError && /i\.json: category 1 \(shoe\) is not among the model's classes \(hat, bag\)/.test(e.message));
  });

  it('refuses bad annotations with typed errors naming the file, the image and the annotation', () => {
    const cases: Array<[string, (c: ReturnType<typeof instances>) => void, RegExp]> = [
      ['box past the right edge', (c) => (c.annotations[1].bbox = [38, 0, 4, 5]), /f\.json: annotation 2 \(image 7, a\.png\) has box \[38, 0, 4, 5\] \(x, y, width, height\), outside the 40×30 image/],
      ['box above the top', (c) => (c.annotations[1].bbox = [0, -2, 4, 5]), /annotation 2 \(image 7, a\.png\) has box \[0, -2, 4, 5\].*outside the 40×30 image/],
      ['zero width', (c) => (c.annotations[2].bbox = [1, 1, 0, 2]), /annotation 9 \(image 3, b\.png\) has a box of size 0×2: width and height must be positive/],
      ['negative height', (c) => (c.annotations[2].bbox = [1, 1, 2, -1]), /annotation 9 \(image 3, b\.png\) has a box of size 2×-1/],
      ['not four numbers', (c) => (c.annotations[0].bbox = [1, 2, 3]), /annotation 1 \(image 7, a\.png\) has bbox \[1,2,3\], not four numbers/],
      ['unknown category', (c) => (c.annotations[0].category_id = 2), /annotation 1 \(image 7, a\.png\) has category 2, which "categories" does not list \(ids 1, 5, 9\)/],
      ['missing image', (c) => (c.annotations[3].image_id = 8), /f\.json: annotation 4 is of image 8, which "images" does not list/],
      ['duplicate annotation id', (c) => (c.annotations[3].id = 2), /f\.json: annotation 2: the id is used twice/],
      ['duplicate image id', (c) => (c.images[1] = { id: 7, file_name: 'b.png', width: 2, height: 2 }), /f\.json: image id 7 is used twice \(a\.png and b\.png\)/],
      ['duplicate file name', (c) => (c.images[1] = { id: 3, file_name: 'a.png', width: 2, height: 2 }), /f\.json: images 7 and 3 are both a\.png/],
      ['duplicate category id', (c) => c.categories.push({ id: 5, name: 'box' }), /f\.json: category id 5 is used twice/],
      ['image without a size', (c) => (c.images[0] = { id: 7, file_name: 'a.png', width: 0, height: 3 }), /f\.json: image 7 \(a\.png\) has size 0×3, not positive integers/],
      ['bad iscrowd', (c) => (c.annotations[0].iscrowd = 2), /annotation 1 \(image 7, a\.png\) has iscrowd 2, not 0 or 1/],
      ['negative area', (c) => (c.annotations[0].area = -1), /annotation 1 \(image 7, a\.png\) has area -1/],
    ];
    for (const [what, spoil, message] of cases) {
      const c = instances();
      spoil(c);
      assert.throws(() => parseCocoJson(text(c), 'f.json'), (e: unknown) => e instanceof FormatError && message.test(e.message), what);
    }
    assert.throws(() => parseCocoJson('{"images": [', 'f.json'), (e: unknown) => e instanceof FormatError && /f\.json: not JSON/.test(e.message));
    assert.throws(() => parseCocoJson(text({ images: [], categories: [] }), 'f.json'), (e: unknown) => e instanceof FormatError && /f\.json: not a COCO detection file \(no "annotations" list\)/.test(e.message));
    assert.throws(() => parseCocoJson(text({ ...instances(), categories: [{ id: 0, name: 'x' }] }), 'f.json', { classes: 'id' }), (e: unknown) => e instanceof ConfigError && /category 0 \(x\) cannot be its own class slot/.test(e.message));
  });
});

describe('COCO folders and dropped files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coco-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds the annotations and the images (beside it, JPEGImages/ or images/), and filters by the split list', async () => {
    const root = join(dir, 'folder');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'ImageSets', 'Segmentation'), { recursive: true });
    await writeFile(join(root, 'instances.json'), text(instances()));
    await writeFile(join(root, 'images', 'a.png'), 'A');
    await writeFile(join(root, 'images', 'b.png'), 'B');
    const all = await readCocoFolder(root, { split: 'train' });
    assert.deepEqual(all.images.map((i) => i.id), [7, 3]);
    assert.deepEqual(all.notes, [`${root} has no ImageSets/Segmentation/train.txt: every image of instances.json is read`]);
    const b = await all.read(all.images[1]);
    assert.deepEqual([b.source, new TextDecoder().decode(b.bytes)], [`${root}/images/b.png`, 'B']);
    await writeFile(join(root, 'ImageSets', 'Segmentation', 'val.txt'), 'b\n');
    const val = await readCocoFolder(root, { split: 'val' });
    assert.deepEqual([val.images.map((i) => i.id), val.notes], [[3], []]);
    const byFile = await readCocoFolder(join(root, 'instances.json'), { limit: 1 });
    assert.deepEqual(byFile.images.map((i) => i.id), [7]);
    await rm(join(root, 'images', 'b.png'));
    await assert.rejects(val.read(val.images[0]), (e: unknown) => e instanceof ConfigError && /image 3's file b\.png is missing/.test(e.message));
    await assert.rejects(readCocoFolder(join(dir, 'nothing')), (e: unknown) => e instanceof ConfigError && /does not exist or is not a folder/.test(e.message));
    await assert.rejects(readCocoFolder(join(root, 'images')), (e: unknown) => e instanceof ConfigError && /no annotations\.json or instances\.json: not a COCO detection folder/.test(e.message));
  });

  it('reads dropped files: a folder drop by relative paths, or an instances file with loose images', async () => {
    const file = (path: string, content: string): File => {
      const f = new File([content], path.slice(path.lastIndexOf('/') + 1));
      Object.defineProperty(f, 'webkitRelativePath', { value: path });
      return f;
    };
    const folder = await readCocoFiles([file('set/JPEGImages/a.png', 'A'), file('set/JPEGImages/b.png', 'B'), file('set/annotations.json', text(instances())), file('set/ImageSets/Segmentation/val.txt', 'a')], { split: 'val' });
    assert.equal(folder.root, 'set');
    assert.deepEqual(folder.images.map((i) => i.id), [7]);
    assert.equal(new TextDecoder().decode((await folder.read(folder.images[0])).bytes), 'A');
    const loose = await readCocoFiles([new File(['B'], 'b.png'), new File([text(instances())], 'instances_val2017.json'), new File(['A'], 'a.png')]);
    assert.deepEqual(loose.images.map((i) => i.fileName), ['a.png', 'b.png']);
    assert.equal(new TextDecoder().decode((await loose.read(loose.images[1])).bytes), 'B');
    await assert.rejects(readCocoFiles([new File(['A'], 'a.png')]), (e: unknown) => e instanceof FormatError && /no COCO annotations among 1 dropped files/.test(e.message));
    await assert.rejects(readCocoFiles([new File(['{}'], 'x.json'), new File(['{}'], 'y.json')]), (e: unknown) => e instanceof FormatError && /2 JSON files dropped/.test(e.message));
  });

  it('decodes images into one input, stretched or letterboxed, and refuses an image whose size the annotations misstate', async () => {
    const root = join(dir, 'batch');
    await writeCocoFolder(root, [{ fileName: 'wide.png', width: 8, height: 4, objects: [[1, 0, 0, 2, 2]] }], ['thing']);
    const data = await readCocoFolder(root);
    const stretched = await decodeCocoBatch(data, data.images, { size: [4, 4], pixels: 'raw' });
    assert.deepEqual(stretched.x.shape, [1, 4, 4, 3]);
    assert.ok(stretched.x.data.every((v) => v === 128)); // the grey image, resized
    assert.deepEqual([stretched.mappings[0].mode, stretched.mappings[0].scaleX, stretched.mappings[0].scaleY], ['stretch', 0.5, 1]);
    const boxed = await decodeCocoBatch(data, data.images, { size: [4, 4], pixels: 'raw', letterbox: true });
    // 8×4 into 4×4 keeps the aspect: 4×2 rows 1..2, black rows 0 and 3
    assert.deepEqual(Array.from({ length: 4 }, (_, y) => boxed.x.data[y * 12]), [0, 128, 128, 0]);
    await writeFile(join(root, 'annotations.json'), text({ images: [{ id: 1, file_name: 'wide.png', width: 9, height: 4 }], annotations: [], categories: [{ id: 1, name: 'thing' }] }));
    const wrong = await readCocoFolder(root);
    await assert.rejects(decodeCocoBatch(wrong, wrong.images, { size: [4, 4] }), (e: unknown) => e instanceof ShapeError && /wide\.png is 8×4 but .*annotations\.json says image 1 is 9×4/.test(e.message));
  });

  it('reads back what `mobilenet make-scenes` writes: each box\'s edges hold mask pixels of its category', async () => {
    const out = join(dir, 'scenes');
    const made = await runCli('make-scenes', '--out', out, '--images', '3', '--size', '40', '--split', 'test');
    assert.equal(made.code, 0, made.err);
    const data = await readCocoFolder(out, { split: 'val' });
    assert.deepEqual(data.images.map((i) => i.fileName), ['test-00000.png', 'test-00001.png', 'test-00002.png']);
    assert.deepEqual(data.classNames.slice(0, 2), ['background', 'T-shirt/top']);
    assert.ok(data.images.every((i) => i.objects.length > 0));
    for (const image of data.images) {
      const mask = decodeMaskPng(await readFile(join(out, 'SegmentationClass', image.fileName)), image.fileName, 11);
      for (const o of image.objects) {
        assert.equal(o.class, o.categoryId);
        const [x, y, w, h] = o.bbox;
        const has = (x0: number, y0: number, x1: number, y1: number): boolean => {
          for (let yy = y0; yy <= y1; yy++) for (let xx = x0; xx <= x1; xx++) if (mask.labels[yy * 40 + xx] === o.class) return true;
          return false;
        };
        assert.ok(has(x, y, x + w - 1, y) && has(x, y + h - 1, x + w - 1, y + h - 1) && has(x, y, x, y + h - 1) && has(x + w - 1, y, x + w - 1, y + h - 1), `${image.fileName} annotation ${o.id}`);
      }
    }
  });
});
