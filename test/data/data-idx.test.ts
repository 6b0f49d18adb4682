// IDX reading: the committed Fashion-MNIST subset against values read independently with Python, every
// error path of the IDX and gzip layers, the IDX data set, and the full Debian package when installed.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync as nodeGzip } from 'node:zlib';

import { gzipSync } from 'fflate';

import { classCounts } from '../../src/data/dataset.js';
import { crc32, gunzip, isGzip } from '../../src/data/gzip.js';
import { decodeIdx, encodeIdx, type IdxArray, type IdxDtype } from '../../src/data/idx.js';
import { FASHION_MNIST_CLASSES, decodeIdxDataset, idxDataset } from '../../src/data/idx-dataset.js';
import { FormatError } from '../../src/errors.js';
import { findIdxFiles, readIdxFile, readIdxFolder } from '../../src/node/idx-files.js';
import { FIXTURES } from '../support/helpers.js';

const SUBSET = join(FIXTURES, 'data', 'fashion-mnist');
const IMAGES = join(SUBSET, 't10k-images-idx3-ubyte.gz');
const LABELS = join(SUBSET, 't10k-labels-idx1-ubyte.gz');
const PACKAGE = '/usr/share/datasets/fashion-mnist';

/** Throws a FormatError whose message matches `pattern` and whose offset is `offset`. */
function assertFormatError(run: () => unknown, pattern: RegExp, offset?: number): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    return true;
  });
}

function total(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum;
}

function header(dtypeCode: number, dims: number[]): number[] {
  const out = [0, 0, dtypeCode, dims.length];
  for (const d of dims) out.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return out;
}

describe('IDX fixture: the first 500 Fashion-MNIST test images', () => {
  // The expected values were read with Python, independently of this code:
  //   X = np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(500, 28, 28)
  //   y = np.frombuffer(gzip.open(labels).read(), np.uint8, offset=8)
  // and the fixture's records were checked byte for byte (cmp of zcat outputs) against the first 500 of
  // /usr/share/datasets/fashion-mnist/t10k-*-ubyte.gz; test/fixtures/data/make-fashion-mnist-subset.py made it.
  const images = decodeIdx(readFileSync(IMAGES), IMAGES);
  const labels = decodeIdx(readFileSync(LABELS), LABELS);

  test('header: uint8, [500, 28, 28] and [500]', () => {
    assert.equal(images.dtype, 'uint8');
    assert.deepEqual(images.shape, [500, 28, 28]);
    assert.equal(labels.dtype, 'uint8');
    assert.deepEqual(labels.shape, [500]);
  });

  test('pixels and labels match the values Python read', () => {
    const pixel = (n: number, r: number, c: number): number => images.data[n * 784 + r * 28 + c];
    const expected: Array<[number, number, number, number]> = [
      [0, 0, 0, 0], [0, 14, 14, 110], [0, 20, 10, 126], [1, 5, 12, 228], [1, 27, 27, 0],
      [2, 3, 13, 233], [250, 14, 14, 230], [499, 14, 14, 231],
    ];
    for (const [n, r, c, v] of expected) assert.equal(pixel(n, r, c), v, `image ${n} (${r}, ${c})`);
    assert.deepEqual([...images.data.subarray(14 * 28 + 10, 14 * 28 + 18)], [0, 0, 98, 136, 110, 109, 110, 162]);
    const sum = (n: number): number => total(images.data.subarray(n * 784, (n + 1) * 784));
    assert.deepEqual([sum(0), sum(1), sum(499)], [33456, 100994, 70958]);
    assert.equal(total(images.data), 29494551);
    assert.deepEqual([...labels.data.subarray(0, 20)], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0]);
    assert.equal(labels.data[499], 0);
  });

  test('data set: Fashion-MNIST class names from the folder name, label histogram as Python counted', async () => {
    const dataset = await readIdxFolder(SUBSET, { split: 'test' });
    assert.equal(dataset.size, 500);
    assert.deepEqual(dataset.classes, FASHION_MNIST_CLASSES);
    assert.deepEqual(dataset.shape, [28, 28, 1]);
    assert.deepEqual(classCounts(dataset), [55, 52, 65, 46, 57, 39, 47, 47, 44, 48]);
    const example = dataset.getSync(1);
    assert.equal(example.label, 2);
    assert.equal(example.image[5 * 28 + 12], Math.fround(228 / 255));
  });

  test('a train split that is not there is a clear error', async () => {
    await assert.rejects(findIdxFiles(SUBSET, 'train'), /no train-images-idx\?-ubyte/);
  });
});

describe('IDX codec', () => {
  const dtypes: Array<[IdxDtype, number[]]> = [
    ['uint8', [0, 1, 127, 255]],
    ['int8', [-128, -1, 0, 127]],
    ['int16', [-32768, -2, 513, 32767]],
    ['int32', [-2147483648, -3, 65536 + 7, 2147483647]],
    ['float32', [-1.5, 0, 0.25, 3.0e38]],
    ['float64', [-1e300, Math.PI, 0, 5e-324]],
  ];
  for (const [dtype, values] of dtypes) {
    test(`round trip ${dtype}, plain and gzipped`, () => {
      const Array_ = { uint8: Uint8Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[dtype];
      const array: IdxArray = { dtype, shape: [2, 2], data: Array_.from(values) };
      for (const gzip of [false, true]) {
        const back = decodeIdx(encodeIdx(array, { gzip }));
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, [2, 2]);
        assert.deepEqual([...back.data], [...array.data]);
      }
    });
  }

  test('multi-byte values are big-endian (hand-written bytes)', () => {
    const bytes = Uint8Array.from([...header(0x0b, [3]), 0x01, 0x02, 0xff, 0xfe, 0x80, 0x00]);
    assert.deepEqual([...decodeIdx(bytes).data], [0x0102, -2, -32768]);
    const floats = Uint8Array.from([...header(0x0d, [1]), 0x3f, 0xc0, 0x00, 0x00]);
    assert.deepEqual([...decodeIdx(floats).data], [1.5]);
  });

  test('the encoder writes exactly what Python wrote (fixture labels re-encoded)', () => {
    const labels = decodeIdx(readFileSync(LABELS));
    const raw = encodeIdx({ dtype: 'uint8', shape: [...labels.shape], data: labels.data });
    assert.deepEqual(raw, gunzip(readFileSync(LABELS)));
  });

  test('gzip written by Node (levels 6 and 0) and by fflate (with a file name) reads back', () => {
    const raw = encodeIdx({ dtype: 'uint8', shape: [3], data: Uint8Array.from([7, 8, 9]) });
    for (const gz of [nodeGzip(raw), gzipSync(raw, { filename: 'labels.idx', mtime: 0 }), nodeGzip(raw, { level: 0 })]) {
      assert.ok(isGzip(gz));
      assert.deepEqual([...decodeIdx(gz, 'g').data], [7, 8, 9]);
    }
  });

  test('crc32 of a known string', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });
});

describe('IDX errors name the source and the byte', () => {
  test('bad magic', () => {
    assertFormatError(() => decodeIdx(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), 'zip.idx'), /zip\.idx: not an IDX file \(magic 50 4b 03 04/, 0);
  });

  test('unsupported dtype code', () => {
    assertFormatError(() => decodeIdx(Uint8Array.from(header(0x0a, [1]).concat([0])), 'odd.idx'), /odd\.idx: unsupported IDX dtype code 0x0a/, 2);
  });

  test('rank 0', () => {
    assertFormatError(() => decodeIdx(Uint8Array.from([0, 0, 8, 0])), /rank 0/, 3);
  });

  test('truncated header', () => {
    assertFormatError(() => decodeIdx(Uint8Array.from([0, 0])), /truncated IDX header/, 2);
    assertFormatError(() => decodeIdx(Uint8Array.from(header(0x08, [5, 5, 5]).slice(0, 10))), /rank 3 needs 16 bytes, file has 10/, 10);
  });

  test('truncated data', () => {
    const bytes = Uint8Array.from([...header(0x08, [2, 3]), 1, 2, 3, 4, 5]);
    assertFormatError(() => decodeIdx(bytes, 'short.idx'), /short\.idx: truncated IDX data: dimensions \[2, 3\] of uint8 need 6 bytes .* holds 5/, 17);
    const ints = Uint8Array.from([...header(0x0c, [2]), 0, 0, 0, 1, 0, 0, 0]);
    assertFormatError(() => decodeIdx(ints), /need 8 bytes/, 15);
  });

  test('a lying header is refused before anything is allocated', () => {
    const bytes = Uint8Array.from([...header(0x0e, [0xffffffff, 0xffffffff, 0xffffffff]), 1, 2, 3]);
    assertFormatError(() => decodeIdx(bytes), /truncated IDX data: dimensions \[4294967295, 4294967295, 4294967295\] of float64/);
    const huge = Uint8Array.from(Array.from({ length: 255 }, () => [0xff, 0xff, 0xff, 0xff]).flat());
    assertFormatError(() => decodeIdx(Uint8Array.from([0, 0, 8, 255, ...huge])), /truncated IDX data/);
  });

  test('dimensions smaller than the data: trailing bytes', () => {
    const bytes = Uint8Array.from([...header(0x08, [2, 2]), 1, 2, 3, 4, 5, 6]);
    assertFormatError(() => decodeIdx(bytes, 'long.idx'), /long\.idx: IDX size mismatch: .* 2 bytes follow them/, 16);
  });

  test('a zero dimension holds no data', () => {
    assert.deepEqual(decodeIdx(Uint8Array.from(header(0x08, [0, 28, 28]))).shape, [0, 28, 28]);
    assertFormatError(() => decodeIdx(Uint8Array.from([...header(0x08, [0, 28]), 1])), /size mismatch/, 12);
  });

  test('errors inside a gzipped file say so', () => {
    const gz = encodeIdx({ dtype: 'uint8', shape: [4], data: new Uint8Array(4) }, { gzip: true });
    const truncatedInside = gzipSync(Uint8Array.from([...header(0x08, [9]), 1, 2]));
    assertFormatError(() => decodeIdx(truncatedInside, 'x.gz'), /x\.gz \(decompressed\): truncated IDX data/, 10);
    assert.deepEqual(decodeIdx(gz).shape, [4]);
  });
});

describe('gzip errors', () => {
  const raw = new Uint8Array(5000).map((_, i) => (i * 31) % 251);
  const gz = nodeGzip(raw);

  test('not gzip', () => {
    assertFormatError(() => gunzip(Uint8Array.from([1, 2, 3]), 'f'), /f: not gzip \(magic 01 02/, 0);
  });

  test('truncated header and body', () => {
    assertFormatError(() => gunzip(gz.subarray(0, 6), 'f'), /truncated gzip header/, 6);
    assertFormatError(() => gunzip(gz.subarray(0, 14), 'f'), /truncated gzip/, 14);
    // a cut file's last 8 bytes are deflate data read as a trailer: refused one way or another, never allocated blindly
    for (const cut of [gz.length - 1, gz.length - 8, gz.length - 20, 40]) {
      assert.throws(() => gunzip(gz.subarray(0, cut), 'f'), FormatError, `cut at ${cut}`);
    }
  });

  test('unsupported compression method and reserved flags', () => {
    const method = Uint8Array.from(gz);
    method[2] = 7;
    assertFormatError(() => gunzip(method), /compression method 7/, 2);
    const flags = Uint8Array.from(gz);
    flags[3] = 0x80;
    assertFormatError(() => gunzip(flags), /reserved gzip flag/, 3);
    const name = Uint8Array.from(gz.subarray(0, 12));
    name[3] = 0x08;
    assertFormatError(() => gunzip(Uint8Array.from([...name, 65, 66, 67])), /unterminated file name/, 15);
  });

  test('a corrupted byte fails the CRC or the deflate decoder', () => {
    const flipped = Uint8Array.from(gz);
    flipped[30] ^= 0x55;
    assert.throws(() => gunzip(flipped, 'f'), (e: unknown) => e instanceof FormatError && /f: (gzip CRC-32 mismatch|corrupt deflate|truncated gzip|gzip data inflates)/.test(e.message));
    const crc = Uint8Array.from(gz);
    crc[crc.length - 8] ^= 1;
    assertFormatError(() => gunzip(crc, 'f'), /CRC-32 mismatch/, gz.length - 8);
  });

  test('a trailer that lies about the length', () => {
    const longer = Uint8Array.from(gz);
    new DataView(longer.buffer).setUint32(longer.length - 4, 5001, true);
    assertFormatError(() => gunzip(longer, 'f'), /inflates to 5000 bytes but the trailer says 5001/, gz.length - 4);
    const shorter = Uint8Array.from(gz);
    new DataView(shorter.buffer).setUint32(shorter.length - 4, 4000, true);
    assertFormatError(() => gunzip(shorter, 'f'), /inflates to more than 4000 bytes/, gz.length - 4);
    const huge = Uint8Array.from(gz);
    new DataView(huge.buffer).setUint32(huge.length - 4, 0xfffffff0, true);
    assertFormatError(() => gunzip(huge, 'f'), /claims 4294967280 bytes, more than \d+ compressed bytes can hold/, gz.length - 4);
  });
});

describe('IDX data set', () => {
  const images: IdxArray = { dtype: 'uint8', shape: [2, 2, 3], data: Uint8Array.from([0, 51, 102, 153, 204, 255, 10, 20, 30, 40, 50, 60]) };
  const labels: IdxArray = { dtype: 'uint8', shape: [2], data: Uint8Array.from([1, 0]) };

  test('counts must match', () => {
    const three: IdxArray = { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 1, 2]) };
    assertFormatError(() => idxDataset(images, three, { sources: { images: 'a.idx', labels: 'b.idx' } }), /a\.idx holds 2 images but b\.idx holds 3 labels/);
  });

  test('ranks, label types and label range are checked', () => {
    assertFormatError(() => idxDataset({ dtype: 'uint8', shape: [6], data: new Uint8Array(6) }, labels), /rank 3 .* or 4/);
    assertFormatError(() => idxDataset(images, { ...labels, shape: [2, 1] }), /rank 1/);
    assertFormatError(() => idxDataset(images, { dtype: 'float32', shape: [2], data: Float32Array.from([0, 1]) }), /integers/);
    assertFormatError(() => idxDataset(images, { dtype: 'int8', shape: [2], data: Int8Array.from([0, -1]) }), /label 1 is -1/);
    assertFormatError(() => idxDataset(images, labels, { classes: ['only'] }), /label 0 is 1, but there are 1 classes/);
  });

  test('default classes are the label numbers; scaling options', () => {
    const unit = idxDataset(images, labels);
    assert.deepEqual(unit.classes, ['0', '1']);
    assert.deepEqual([...unit.getSync(0).image], [0, 0.2, 0.4, 0.6, 0.8, 1].map((v) => Math.fround(v)));
    const raw = idxDataset(images, labels, { pixels: 'raw' });
    assert.deepEqual([...raw.getSync(1).image], [10, 20, 30, 40, 50, 60]);
    const symmetric = idxDataset(images, labels, { pixels: 'symmetric' });
    assert.deepEqual([...symmetric.getSync(0).image].map((v) => +v.toFixed(6)), [-1, -0.6, -0.2, 0.2, 0.6, 1]);
    const normalised = idxDataset(images, labels, { pixels: { mean: 0.2, std: 0.5 } });
    assert.deepEqual([...normalised.getSync(0).image].map((v) => +v.toFixed(6)), [-0.4, 0, 0.4, 0.8, 1.2, 1.6]);
  });

  test('28 → 32 by padding: a 2-pixel black border, the image unchanged inside', async () => {
    const dataset = decodeIdxDataset(readFileSync(IMAGES), readFileSync(LABELS), { size: [32, 32], fit: 'pad', pixels: 'raw' });
    assert.deepEqual(dataset.shape, [32, 32, 1]);
    const padded = (await dataset.get(0)).image;
    const original = dataset.images.data.subarray(0, 784);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        assert.equal(padded[y * 32 + x], inside ? original[(y - 2) * 28 + (x - 2)] : 0);
      }
    }
  });

  test('mean/std padding is black before scaling: the border is (0 − mean)/std', () => {
    const dataset = decodeIdxDataset(readFileSync(IMAGES), readFileSync(LABELS), { size: [32, 32], fit: 'pad', pixels: { mean: 0.5, std: 0.25 } });
    assert.equal(dataset.getSync(3).image[0], -2);
  });

  test('errors name the file', async () => {
    await assert.rejects(readIdxFile(join(SUBSET, 'missing.gz')), /cannot read .*missing\.gz/);
  });
});

describe('the Debian package dataset-fashion-mnist', { skip: existsSync(PACKAGE) ? false : `${PACKAGE} is not installed` }, () => {
  // totals and per-image sums computed with numpy from the same files (int64 sums)
  test('train: 60000 images, 6000 per class', async () => {
    const train = await readIdxFolder(PACKAGE, { split: 'train' });
    assert.equal(train.size, 60000);
    assert.deepEqual(train.images.shape, [60000, 28, 28]);
    assert.deepEqual(classCounts(train), new Array(10).fill(6000));
    assert.deepEqual([...train.labels.data.subarray(0, 10)], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert.equal(total(train.images.data), 3431114169);
  });

  test('test: 10000 images, 1000 per class; the fixture is its first 500', async () => {
    const testSplit = await readIdxFolder(PACKAGE, { split: 'test' });
    assert.equal(testSplit.size, 10000);
    assert.deepEqual(classCounts(testSplit), new Array(10).fill(1000));
    assert.equal(total(testSplit.images.data), 573469082);
    const subset = decodeIdx(readFileSync(IMAGES));
    assert.deepEqual(testSplit.images.data.subarray(0, 500 * 784), subset.data);
  });
});
