// The synthetic scenes generator on hand-made items: same seed same bytes, masks that follow an item's
// silhouette (not its box), boxes and areas recomputed from the masks, occlusion, COCO ids, and refusals.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { FASHION_SCENE_CLASSES } from '../../src/data/label-maps.js';
import { cocoAnnotations, generateScene, sceneRecords, type SceneSource } from '../../src/data/scenes.js';

/** Two 8×8 items: a hollow square (class 3) and a solid one (class 7), bright on black like Fashion-MNIST. */
function ringAndBlock(): SceneSource {
  const images = new Uint8Array(2 * 64);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const edge = y < 1 || y > 6 || x < 1 || x > 6;
      images[y * 8 + x] = edge ? 255 : 0;
      images[64 + y * 8 + x] = 200;
    }
  }
  return { images, labels: Uint8Array.from([3, 7]), height: 8, width: 8 };
}

/** The bounding box [x, y, w, h] and count of the pixels where `keep` holds. */
function boxOf(mask: Uint8Array, size: number, keep: (label: number) => boolean): { box: number[]; area: number } {
  let [x0, y0, x1, y1, area] = [size, size, -1, -1, 0];
  mask.forEach((label, i) => {
    if (!keep(label)) return;
    const [x, y] = [i % size, Math.floor(i / size)];
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    area++;
  });
  return { box: [x0, y0, x1 - x0 + 1, y1 - y0 + 1], area };
}

test('the same seed and index give the same bytes; another seed or index another scene', () => {
  const source = ringAndBlock();
  const a = generateScene(source, 3, { seed: 11, size: 32 });
  const b = generateScene(source, 3, { seed: 11, size: 32 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(generateScene(source, 3, { seed: 12, size: 32 }).pixels, a.pixels);
  assert.notDeepEqual(generateScene(source, 4, { seed: 11, size: 32 }).pixels, a.pixels);
  assert.equal(a.pixels.length, 32 * 32 * 3);
  assert.equal(a.mask.length, 32 * 32);
});

test('one item per scene: labels are its class + 1, and its box and area are those of its mask pixels', () => {
  const source = ringAndBlock();
  for (let index = 0; index < 12; index++) {
    const scene = generateScene(source, index, { seed: 5, size: 40, items: [1, 1] });
    const labels = new Set(scene.mask);
    labels.delete(0);
    assert.equal(scene.objects.length, labels.size, `scene ${index}: one visible object per label`);
    for (const o of scene.objects) {
      assert.ok(o.label === 4 || o.label === 8, `label ${o.label} is a source class + 1`);
      assert.deepEqual(labels, new Set([o.label]));
      const expected = boxOf(scene.mask, 40, (l) => l === o.label);
      assert.deepEqual(o.box, expected.box);
      assert.equal(o.area, expected.area);
    }
  }
});

test('the mask is the silhouette: a hollow item at a large scale leaves background inside its box', () => {
  const ring: SceneSource = { ...ringAndBlock(), images: ringAndBlock().images.slice(0, 64), labels: Uint8Array.from([3]) };
  let checked = 0;
  for (let index = 0; index < 10; index++) {
    const scene = generateScene(ring, index, { seed: 2, size: 64, items: [1, 1], scale: [0.6, 0.6] });
    const [o] = scene.objects;
    const [x, y, w, h] = o.box;
    // only boxes wholly inside the scene show the whole ring with its hole
    if (x === 0 || y === 0 || x + w === 64 || y + h === 64) continue;
    const centre = scene.mask[(y + Math.floor(h / 2)) * 64 + x + Math.floor(w / 2)];
    assert.equal(centre, 0, `scene ${index}: the ring's hole is background`);
    assert.ok(o.area < w * h * 0.8, `scene ${index}: area ${o.area} is well below the box's ${w * h}`);
    checked++;
  }
  assert.ok(checked > 0, 'at least one ring lies wholly inside its scene');
});

test('later items occlude earlier ones: visible areas add up to the labelled pixels', () => {
  const source = ringAndBlock();
  for (let index = 0; index < 8; index++) {
    const scene = generateScene(source, index, { seed: 9, size: 48, items: [4, 4], scale: [0.5, 0.7] });
    const labelled = scene.mask.reduce((n, l) => n + (l === 0 ? 0 : 1), 0);
    assert.equal(scene.objects.reduce((n, o) => n + o.area, 0), labelled);
    for (const o of scene.objects) {
      const [x, y, w, h] = o.box;
      assert.ok(x >= 0 && y >= 0 && x + w <= 48 && y + h <= 48 && o.area <= w * h);
    }
  }
});

test('COCO annotations: categories 1..10 with the scene class names, ids by file name, and back', () => {
  const records = [
    { fileName: 'train-00001.png', width: 8, height: 8, objects: [{ label: 2, box: [1, 2, 3, 4] as [number, number, number, number], area: 7 }] },
    { fileName: 'train-00000.png', width: 8, height: 8, objects: [{ label: 10, box: [0, 0, 2, 2] as [number, number, number, number], area: 3 }, { label: 1, box: [5, 5, 1, 1] as [number, number, number, number], area: 1 }] },
  ];
  const coco = cocoAnnotations(records);
  assert.deepEqual(coco.categories.map((c) => [c.id, c.name]), FASHION_SCENE_CLASSES.slice(1).map((name, k) => [k + 1, name]));
  assert.deepEqual(coco.images.map((i) => [i.id, i.file_name]), [[1, 'train-00000.png'], [2, 'train-00001.png']]);
  assert.deepEqual(coco.annotations.map((a) => [a.id, a.image_id, a.category_id, a.bbox, a.area]), [
    [1, 1, 10, [0, 0, 2, 2], 3],
    [2, 1, 1, [5, 5, 1, 1], 1],
    [3, 2, 2, [1, 2, 3, 4], 7],
  ]);
  assert.deepEqual(cocoAnnotations(sceneRecords(coco)), coco);
});

test('bad options and sources are typed errors', () => {
  const source = ringAndBlock();
  assert.throws(() => generateScene(source, 0, { size: 4 }), ConfigError);
  assert.throws(() => generateScene(source, 0, { items: [3, 2] }), ConfigError);
  assert.throws(() => generateScene(source, 0, { scale: [0, 0.5] }), ConfigError);
  assert.throws(() => generateScene({ ...source, labels: Uint8Array.from([3]) }, 0), ShapeError);
  assert.throws(() => generateScene({ ...source, labels: Uint8Array.from([3, 10]) }, 0), (e: unknown) => e instanceof ConfigError && /item 1 has class 10/.test(e.message));
});
