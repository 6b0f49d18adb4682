// Image decoding and the image-folder data set: decoded values against PIL's (reference.json), bilinear
// resize against hand-worked values, corrupt and mislabeled files in stop and skip modes, readImage.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { loadBatch } from '../../src/data/dataset.js';
import { convertChannels, decodeImage, ImageFileError, imageFormatOfName, sniffImageFormat } from '../../src/data/image.js';
import { padOrCrop, preprocessImage, resizeBilinear, scaledValue } from '../../src/data/preprocess.js';
import { FormatError } from '../../src/errors.js';
import { FileError } from '../../src/node/files.js';
import { readImage } from '../../src/node/image.js';
import { imageFolderDataset } from '../../src/node/image-folder.js';
import { FIXTURES } from '../support/helpers.js';

const IMAGES = join(FIXTURES, 'data', 'images');
const GOOD = join(IMAGES, 'good');
const BAD = join(IMAGES, 'bad');

/** PIL's decode of each file in images/good (test/fixtures/data/make-images.py): `rgb` = convert('RGB'), `grey` = convert('L'). */
interface Reference {
  mode: string;
  size: [number, number];
  rgb: number[];
  grey: number[];
  grey_exact?: number[];
}
const reference: Record<string, Reference> = JSON.parse(readFileSync(join(IMAGES, 'reference.json'), 'utf8'));

function maxDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let max = 0;
  for (let i = 0; i < actual.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  assert.ok(maxDifference(actual, expected) <= tolerance, `got [${Array.from(actual).join(', ')}], expected [${Array.from(expected).join(', ')}]`);
}

describe('image decoding matches PIL', () => {
  for (const [name, ref] of Object.entries(reference)) {
    // PNG decoding is exact, grey conversion included (PIL's fixed-point luma); JPEG decoders differ in IDCT
    // rounding, and jpeg-js is within one level of libjpeg (PIL) on these files
    const tolerance = name.toLowerCase().endsWith('png') ? 0 : 1;
    test(`${name} (${ref.mode}): grey and RGB`, () => {
      const bytes = readFileSync(join(GOOD, name));
      const grey = decodeImage(bytes, { channels: 1, source: name });
      const rgb = decodeImage(bytes, { channels: 3, source: name });
      assert.deepEqual(grey.shape, [...ref.size, 1]);
      assert.deepEqual(rgb.shape, [...ref.size, 3]);
      // PIL clips 16-bit samples to 8 bits instead of scaling them; the reference for deep.png is value / 257
      const exactGrey = ref.grey_exact ?? ref.grey;
      const exactRgb = ref.grey_exact ? ref.grey_exact.flatMap((v) => [v, v, v]) : ref.rgb;
      assert.ok(maxDifference(grey.pixels, exactGrey) <= tolerance + 1e-4, `grey differs by ${maxDifference(grey.pixels, exactGrey)}`);
      assert.ok(maxDifference(rgb.pixels, exactRgb) <= tolerance + 1e-4, `RGB differs by ${maxDifference(rgb.pixels, exactRgb)}`);
    });
  }

  test('default channels: the file’s own (grey stays grey, colour is RGB)', () => {
    assert.equal(decodeImage(readFileSync(join(GOOD, 'coat/grey.png'))).shape[2], 1);
    assert.equal(decodeImage(readFileSync(join(GOOD, 'coat/rgba.png'))).shape[2], 3);
  });

  test('hand-checked values: grey.png is 0, 10, 20, …; bits.png is 0/255', () => {
    const grey = decodeImage(readFileSync(join(GOOD, 'coat/grey.png')));
    assert.deepEqual([...grey.pixels], Array.from({ length: 25 }, (_, i) => 10 * i));
    const bits = decodeImage(readFileSync(join(GOOD, 'shirt/bits.png')));
    assert.deepEqual([...bits.pixels.subarray(0, 9)], [1, 0, 1, 1, 0, 0, 1, 0, 1].map((b) => 255 * b));
  });

  test('channel conversion: RGBA drops alpha; luma in PIL fixed point', () => {
    assert.deepEqual([...convertChannels([10, 20, 30, 40], 4, 3)], [10, 20, 30]);
    // (255·19595 + 0x8000) >> 16 = 76 (PIL's L of pure red)
    assert.deepEqual([...convertChannels([255, 0, 0, 0, 255, 0, 0, 0, 255], 3, 1)], [76, 150, 29]);
    assert.deepEqual([...convertChannels([7, 99], 2, 3)], [7, 7, 7]);
  });

  test('formats by magic and by name', () => {
    assert.equal(sniffImageFormat(readFileSync(join(GOOD, 'bag/rgb.png'))), 'png');
    assert.equal(sniffImageFormat(readFileSync(join(GOOD, 'bag/grey.jpg'))), 'jpeg');
    assert.equal(sniffImageFormat(new Uint8Array([1, 2, 3])), undefined);
    assert.deepEqual(['a.PNG', 'b.jpg', 'c.JPEG', 'd.txt', 'png', 'e.png.txt'].map(imageFormatOfName), ['png', 'jpeg', 'jpeg', undefined, undefined, undefined]);
  });
});

describe('bilinear resize (half-pixel centres, like torch align_corners=False)', () => {
  test('2×2 → 4×4, hand-worked', () => {
    // source x positions (i + ½)/2 − ½ = −0.25→0, 0.25, 0.75, 1.25→clamped; row [0, 100] gives [0, 25, 75, 100]
    const out = resizeBilinear([0, 100, 200, 300], [2, 2, 1], [4, 4]);
    close(out, [0, 25, 75, 100, 50, 75, 125, 150, 150, 175, 225, 250, 200, 225, 275, 300]);
  });

  test('4×4 → 2×2 averages each 2×2 block (positions 0.5 and 2.5)', () => {
    const out = resizeBilinear(Array.from({ length: 16 }, (_, i) => i), [4, 4, 1], [2, 2]);
    close(out, [2.5, 4.5, 10.5, 12.5]);
  });

  test('3 → 2 wide, two channels: positions 0.25 and 1.75', () => {
    // channel 0 row [0, 10, 20] → [2.5, 17.5]; channel 1 row [100, 50, 0] → [87.5, 12.5]
    const out = resizeBilinear([0, 100, 10, 50, 20, 0], [1, 3, 2], [1, 2]);
    close(out, [2.5, 87.5, 17.5, 12.5]);
  });

  test('same size is the identity; pad and crop are centred', () => {
    close(resizeBilinear([1, 2, 3, 4], [2, 2, 1], [2, 2]), [1, 2, 3, 4]);
    // margins ⌊(4 − 2)/2⌋ = 1 row on top, ⌊(3 − 2)/2⌋ = 0 columns on the left
    close(padOrCrop([1, 2, 3, 4], [2, 2, 1], [4, 3]), [0, 0, 0, 1, 2, 0, 3, 4, 0, 0, 0, 0]);
    close(padOrCrop([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3, 1], [1, 1]), [5]);
    close(preprocessImage([0, 255], [1, 2, 1], { size: [1, 4], fit: 'bilinear', pixels: 'unit' }), [0, 0.25, 0.75, 1]);
  });

  test('scaledValue: what black becomes, the fill for padding after scaling', () => {
    assert.deepEqual(scaledValue(0, 3, { mean: [0.5, 0.25, 0], std: [0.25, 0.5, 1] }), [-2, -0.5, 0]);
    assert.deepEqual(scaledValue(0, 1, 'symmetric'), [-1]);
  });
});

describe('image-folder data set', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'image-folder-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('classes are the sorted sub-folders; non-images ignored; files in order', async () => {
    const dataset = await imageFolderDataset(GOOD, { size: [4, 6], channels: 3, pixels: 'raw' });
    assert.deepEqual(dataset.classes, ['bag', 'coat', 'shirt']);
    assert.deepEqual(
      dataset.files.map((f) => f.path.slice(GOOD.length + 1)),
      ['bag/grey.jpg', 'bag/rgb.png', 'coat/grey.png', 'coat/palette.png', 'coat/rgba.png', 'shirt/bits.png', 'shirt/colour.JPEG', 'shirt/deep.png'],
    );
    assert.equal(dataset.size, 8);
    assert.deepEqual(dataset.shape, [4, 6, 3]);
    assert.deepEqual(Array.from({ length: 8 }, (_, i) => dataset.label(i)), [0, 0, 1, 1, 1, 2, 2, 2]);
    const rgb = await dataset.get(1);
    assert.equal(rgb.label, 0);
    assert.deepEqual([...rgb.image], reference['bag/rgb.png'].rgb);
  });

  test('examples are resized from PIL-matching pixels; a batch stacks them', async () => {
    const dataset = await imageFolderDataset(GOOD, { size: [3, 4], channels: 1, pixels: 'raw' });
    const expected = resizeBilinear(reference['coat/grey.png'].grey, [5, 5, 1], [3, 4]);
    close((await dataset.get(2)).image, expected);
    const batch = await loadBatch(dataset, [2, 0, 7]);
    assert.deepEqual([...batch.x.shape], [3, 3, 4, 1]);
    assert.deepEqual([...batch.labels], [1, 0, 2]);
    close(batch.x.data.subarray(0, 12), expected);
  });

  test('classes can be given (a model’s), folders must be among them', async () => {
    const dataset = await imageFolderDataset(GOOD, { size: [2, 2], classes: ['shirt', 'coat', 'bag', 'dress'] });
    assert.deepEqual(dataset.classes, ['shirt', 'coat', 'bag', 'dress']);
    assert.equal(dataset.label(0), 0);
    assert.ok(dataset.files[0].path.includes('shirt'));
    await assert.rejects(imageFolderDataset(GOOD, { size: [2, 2], classes: ['bag', 'coat'] }), /shirt: folder is not one of the classes/);
  });

  test('stop mode: the first bad file, in order, is a typed error naming it', async () => {
    await assert.rejects(imageFolderDataset(BAD, { size: [4, 4] }), (e: unknown) => {
      assert.ok(e instanceof ImageFileError && e instanceof FormatError);
      assert.equal(e.problem, 'corrupt');
      assert.equal(e.source, join(BAD, 'coat/garbage.jpg'));
      assert.match(e.message, /garbage\.jpg: not a JPEG file \(starts with/);
      return true;
    });
  });

  test('a mislabeled file (JPEG content named .png) is found by its magic bytes', async () => {
    const folder = join(scratch, 'mislabeled');
    cpSync(join(BAD, 'coat'), join(folder, 'coat'), { recursive: true });
    rmSync(join(folder, 'coat', 'garbage.jpg'));
    await assert.rejects(imageFolderDataset(folder, { size: [4, 4] }), (e: unknown) => {
      assert.ok(e instanceof ImageFileError);
      assert.equal(e.problem, 'mislabeled');
      assert.match(e.message, /mislabeled\.png: mislabeled: the name says PNG but the content is JPEG/);
      return true;
    });
    await assert.rejects(readImage(join(folder, 'coat', 'mislabeled.png')), /mislabeled: the name says PNG/);
  });

  test('skip mode: bad files left out with a warning; a truncated file fails at decode and is replaced', async () => {
    const warnings: string[] = [];
    const dataset = await imageFolderDataset(BAD, { size: [4, 4], channels: 1, onError: 'skip', onSkip: (e) => warnings.push(e.message) });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /garbage\.jpg: not a JPEG file/);
    assert.match(warnings[1], /mislabeled\.png: mislabeled/);
    assert.deepEqual(dataset.skipped.map((s) => s.path.slice(BAD.length + 1)), ['coat/garbage.jpg', 'coat/mislabeled.png']);
    assert.deepEqual(dataset.files.map((f) => f.path.slice(BAD.length + 1)), ['bag/ok.png', 'bag/truncated.png', 'coat/ok.jpg']);
    // index 1 is the truncated PNG: its header is fine, its data is not; the next file stands in
    const stand = await dataset.get(1);
    assert.equal(warnings.length, 3);
    assert.match(warnings[2], /truncated\.png: truncated PNG \(chunk "IDAT" at byte 33/);
    assert.equal(stand.label, 1);
    close(stand.image, (await dataset.get(2)).image);
    assert.equal(warnings.length, 3, 'a failed file is reported once');
  });

  test("stop mode: a truncated file's error comes when its example is fetched", async () => {
    const folder = join(scratch, 'truncated');
    cpSync(join(BAD, 'bag'), join(folder, 'bag'), { recursive: true });
    const dataset = await imageFolderDataset(folder, { size: [4, 4] });
    await assert.rejects(dataset.get(1), (e: unknown) => e instanceof ImageFileError && e.problem === 'corrupt' && /truncated\.png: truncated PNG/.test(e.message));
    await assert.rejects(loadBatch(dataset, [0, 1]), ImageFileError);
  });

  test("verify 'decode' finds every bad file when opening", async () => {
    const dataset = await imageFolderDataset(BAD, { size: [4, 4], onError: 'skip', onSkip: () => undefined, verify: 'decode' });
    assert.deepEqual(dataset.files.map((f) => f.path.slice(BAD.length + 1)), ['bag/ok.png', 'coat/ok.jpg']);
    assert.equal(dataset.skipped.length, 3);
  });

  test('a file gone after opening is a FileError (stop) or skipped (skip)', async () => {
    const folder = join(scratch, 'vanishing');
    cpSync(GOOD, folder, { recursive: true });
    const stop = await imageFolderDataset(folder, { size: [2, 2] });
    const skipped: unknown[] = [];
    const skip = await imageFolderDataset(folder, { size: [2, 2], onError: 'skip', onSkip: (e) => skipped.push(e) });
    rmSync(join(folder, 'bag', 'grey.jpg'));
    await assert.rejects(stop.get(0), (e: unknown) => e instanceof FileError && e.code === 'ENOENT' && /grey\.jpg/.test(e.message));
    assert.equal((await skip.get(0)).label, 0);
    assert.ok(skipped[0] instanceof FileError);
  });

  test('an empty or missing root is a clear error', async () => {
    await assert.rejects(imageFolderDataset(join(scratch, 'nowhere'), { size: [2, 2] }), (e: unknown) => e instanceof FileError && e.code === 'ENOENT');
    await assert.rejects(imageFolderDataset(join(GOOD, 'bag'), { size: [2, 2] }), /no readable PNG or JPEG images/);
  });
});

describe('readImage', () => {
  test('a PNG as [1, H, W, C], raw or scaled, resized on request', async () => {
    const path = join(GOOD, 'bag/rgb.png');
    const raw = await readImage(path, { channels: 3, pixels: 'raw' });
    assert.deepEqual([...raw.shape], [1, 4, 6, 3]);
    assert.deepEqual([...raw.data], reference['bag/rgb.png'].rgb);
    const grey = await readImage(path, { channels: 1, size: [8, 12] });
    assert.deepEqual([...grey.shape], [1, 8, 12, 1]);
    close(grey.data, resizeBilinear(reference['bag/rgb.png'].grey, [4, 6, 1], [8, 12]).map((v) => v / 255), 1e-6);
  });

  test('a lying PNG header is refused before decoding', () => {
    const bytes = Uint8Array.from(readFileSync(join(GOOD, 'bag/rgb.png')));
    const view = new DataView(bytes.buffer);
    view.setUint32(16, 100000);
    view.setUint32(20, 100000);
    assert.throws(() => decodeImage(bytes, { source: 'big.png' }), (e: unknown) => e instanceof ImageFileError && e.problem === 'too-large');
    view.setUint32(16, 3000);
    view.setUint32(20, 3000);
    assert.throws(() => decodeImage(bytes, { source: 'big.png' }), /big\.png: corrupt PNG \(header says 3000×3000, 27000000 bytes of pixels, more than \d+ bytes of image data can hold\)/);
  });

  test('a corrupted PNG fails its CRC; a truncated JPEG fails to decode', () => {
    const png = Uint8Array.from(readFileSync(join(GOOD, 'bag/rgb.png')));
    png[50] ^= 0xff;
    assert.throws(() => decodeImage(png, { source: 'flip.png' }), /flip\.png: corrupt PNG \(CRC mismatch/);
    const jpeg = readFileSync(join(GOOD, 'shirt/colour.JPEG'));
    assert.throws(() => decodeImage(jpeg.subarray(0, 300), { source: 'cut.jpg' }), (e: unknown) => e instanceof ImageFileError && /cut\.jpg: corrupt JPEG/.test(e.message));
  });
});
