// Tests for the .npy and safetensors codecs and the Node file adapter, against independent references:
// PyTorch-made golden files, numpy-made bytes, the safetensors reference implementation's own test vectors, and hand-built bytes.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { FormatError } from '../../src/errors.js';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import {
  FileError,
  readBytes,
  readNpyFile,
  readSafetensorsFile,
  writeFileAtomic,
  writeNpyFile,
  writeSafetensorsFile,
} from '../../src/node/files.js';
import { Tensor } from '../../src/tensor/tensor.js';

const golden = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Helpers that build bytes by hand, following the format documents, never through the code under test.

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Values packed into bytes with DataView setters (the test's own little/big-endian writer). */
function pack<T>(values: readonly T[], size: number, write: (view: DataView, at: number, value: T) => void): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => write(view, i * size, v));
  return out;
}

const f32le = (values: readonly number[]) => pack(values, 4, (v, at, x) => v.setFloat32(at, x, true));
const u32le = (bits: readonly number[]) => pack(bits, 4, (v, at, x) => v.setUint32(at, x, true));
const u16le = (bits: readonly number[]) => pack(bits, 2, (v, at, x) => v.setUint16(at, x, true));

/** An .npy file per the NumPy format spec: magic, version, header length, header padded with spaces and '\n' to 64. */
function npy(header: string | Uint8Array, data: ArrayLike<number> = [], major = 1): Uint8Array {
  const start = major === 1 ? 10 : 12;
  const text = typeof header === 'string' ? ascii(header) : header;
  const padding = (64 - ((start + text.length + 1) % 64)) % 64;
  const headerBytes = concat(text, ascii(' '.repeat(padding) + '\n'));
  const preamble = new Uint8Array(start);
  preamble.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(preamble.buffer);
  if (major === 1) view.setUint16(8, headerBytes.length, true);
  else view.setUint32(8, headerBytes.length, true);
  return concat(preamble, headerBytes, data);
}

function npyHeader(descr: string, shape: string, fortran = false): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
}

/** A safetensors file per its README: u64 LE header length, JSON header (deliberately not padded), data. */
function safetensors(header: string | object, data: ArrayLike<number> = []): Uint8Array {
  const json = ascii(typeof header === 'string' ? header : JSON.stringify(header));
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.length), true);
  return concat(length, json, data);
}

function bitsOf(values: Float32Array): number[] {
  return [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
}

/** Asserts `run` throws a FormatError whose message matches every pattern, at `offset` when one is given. */
function throwsFormat(run: () => unknown, patterns: RegExp | RegExp[], offset?: number): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
    for (const p of [patterns].flat()) assert.match(e.message, p);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    return true;
  });
}

// Awkward float32 bit patterns: NaN payloads of both signs, ±0, the smallest and largest subnormals, ±Inf, extremes.
const AWKWARD_BITS = [
  0x7fc00001, 0xffc12345, 0x7f800001, 0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7f7fffff, 0x00800000,
  0x3f800000,
];

// ---------------------------------------------------------------------------------------------

describe('golden files made by PyTorch', () => {
  // Expected values printed by python3 + numpy 2.4 from the same files, e.g.
  //   np.frombuffer(raw[8+n+a : 8+n+b], '<f4')[i].item()  and  np.load(path).ravel()[i].item()
  // Each float32 converts to a double exactly, so equality is exact.

  test('ops/linear/weights.safetensors: names, shapes, metadata, values', async () => {
    const { tensors, metadata } = await readSafetensorsFile(join(golden, 'ops/linear/weights.safetensors'));
    assert.deepEqual([...tensors.keys()], ['weight', 'bias']); // data order: weight at [0, 640], bias at [640, 680]
    const weight = tensors.get('weight')!;
    const bias = tensors.get('bias')!;
    assert.deepEqual(weight.shape, [10, 16]);
    assert.deepEqual(bias.shape, [10]);
    assert.deepEqual(metadata, { layouts: 'O,[out,in] (y = x W^T + b)', source: 'torch 1.13 oracle' });
    assert.equal(weight.data[0], -0.22763517498970032);
    assert.equal(weight.data[3 * 16 + 7], -0.09964841604232788);
    assert.equal(weight.data[9 * 16 + 15], -0.06150999665260315);
    assert.equal(bias.data[0], -0.0867539644241333);
    assert.equal(bias.data[9], 0.02749386429786682);
    assert.equal(bitsOf(weight.data)[0], 3194558770);
  });

  test('models/mnv2_035_32_c10/intermediates.safetensors: every feature map, values', async () => {
    const { tensors, metadata } = await readSafetensorsFile(join(golden, 'models/mnv2_035_32_c10/intermediates.safetensors'));
    const names = [...Array.from({ length: 19 }, (_, i) => `features.${i}`), 'pooled', 'logits'];
    assert.deepEqual([...tensors.keys()], names);
    assert.deepEqual(metadata, { layouts: 'NC,NCHW', source: 'torch 1.13 oracle' });
    assert.deepEqual(tensors.get('features.0')!.shape, [2, 16, 16, 16]);
    assert.deepEqual(tensors.get('features.7')!.shape, [2, 24, 2, 2]);
    assert.deepEqual(tensors.get('features.18')!.shape, [2, 1280, 1, 1]);
    assert.deepEqual(tensors.get('pooled')!.shape, [2, 1280]);
    assert.deepEqual(tensors.get('logits')!.shape, [2, 10]);
    assert.equal(tensors.get('features.0')!.data[8191], 1.5884321928024292); // [1, 15, 15, 15]
    assert.equal(tensors.get('features.17')!.data[223], 0.5445898175239563); // [1, 111, 0, 0]
    assert.equal(tensors.get('features.18')!.data[3], 2.774517774581909); // [0, 3, 0, 0]
    assert.equal(tensors.get('pooled')!.data[7], 1.4196457862854004); // [0, 7]

    // logits and output.npy hold the same PyTorch output (numpy: np.array_equal is True)
    const output = await readNpyFile(join(golden, 'models/mnv2_035_32_c10/output.npy'));
    assert.deepEqual(output.shape, [2, 10]);
    assert.deepEqual(bitsOf(output.data), bitsOf(tensors.get('logits')!.data));
    assert.deepEqual([0, 1, 19].map((i) => bitsOf(output.data)[i]), [0xbd9b9d18, 0xbd2186a0, 0xbd516dfc]);
  });

  test('models/mnv2_035_32_c10/weights.safetensors: 262 tensors', async () => {
    const { tensors } = await readSafetensorsFile(join(golden, 'models/mnv2_035_32_c10/weights.safetensors'));
    assert.equal(tensors.size, 262);
    assert.deepEqual([...tensors.keys()].slice(0, 4), ['features.0.0.weight', 'features.0.1.weight', 'features.0.1.bias', 'features.0.1.running_mean']);
    assert.deepEqual(tensors.get('features.0.0.weight')!.shape, [16, 3, 3, 3]);
    assert.equal(tensors.get('features.0.0.weight')!.data[0], 0.004854205995798111);
    assert.equal(tensors.get('features.0.1.running_var')!.data[3], 0.23131172358989716);
  });

  test('.npy inputs: shapes and values', async () => {
    const linear = await readNpyFile(join(golden, 'ops/linear/input.npy'));
    assert.deepEqual(linear.shape, [2, 16]);
    assert.deepEqual([linear.data[0], linear.data[1], linear.data[31]], [-0.09198193997144699, -0.8929006457328796, -0.7664525508880615]);
    const image = await readNpyFile(join(golden, 'models/mnv2_035_32_c10/input.npy'));
    assert.deepEqual(image.shape, [2, 3, 32, 32]);
    assert.equal(image.data[1191], 1.5587435960769653); // [0, 1, 5, 7]
    assert.equal(image.data[image.size - 1], -0.31889083981513977); // [1, 2, 31, 31]
  });

  test('re-encoding a numpy-written .npy gives back the same bytes', async () => {
    for (const file of ['ops/linear/input.npy', 'ops/linear/output.npy', 'models/mnv2_035_32_c10/input.npy']) {
      const bytes = await readBytes(join(golden, file));
      assert.deepEqual(encodeNpy(decodeNpy(bytes)), bytes, file);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeNpy', () => {
  // Files written by numpy 2.4 (np.save / np.lib.format.write_array), base64 of the whole file.
  const NUMPY = {
    c2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAgD4AAAAAAABAQAAAAIA=',
    scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAOBA',
    vec5: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQAAAQEAAAIBAAACgQA==',
    // np.asfortranarray(np.arange(6).reshape(2, 3).astype('<f4'))
    fortran2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
    // np.asfortranarray(np.arange(24).reshape(2, 3, 4).astype('>f8'))
    fortran234be8:
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAEAoAAAAAAAAQBAAAAAAAABAMAAAAAAAAEAgAAAAAAAAQDQAAAAAAAA/8AAAAAAAAEAqAAAAAAAAQBQAAAAAAABAMQAAAAAAAEAiAAAAAAAAQDUAAAAAAABAAAAAAAAAAEAsAAAAAAAAQBgAAAAAAABAMgAAAAAAAEAkAAAAAAAAQDYAAAAAAABACAAAAAAAAEAuAAAAAAAAQBwAAAAAAABAMwAAAAAAAEAmAAAAAAAAQDcAAAAAAAA=',
    // version 2.0, np.array([[1, -2], [3, 4]], '<i2')
    v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTInLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAP7/AwAEAA==',
    // version 3.0, np.array([0.5, 65504, -6e-8], '<f2'); numpy widens these to 0.5, 65504, -5.960464477539063e-08
    v3: 'k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjInLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAOP97AYA=',
    // np.array([2**53, 1, 0], '<u8')
    u8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPHU4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAgAAEAAAAAAAAAAAAAAAAAAAA=',
    // np.array([True, False, True])
    bool: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
    // the first 128 bytes (preamble and header) of np.save(np.array([1, None], dtype=object), allow_pickle=True)
    objectHeader:
      'k05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
  };

  test('numpy-written files of every version, scalars, fortran order, integer and bool dtypes', () => {
    const c = decodeNpy(fromBase64(NUMPY.c2x3));
    assert.deepEqual(c.shape, [2, 3]);
    assert.deepEqual([...c.data], [1.5, -2, 0.25, 0, 3, -0]);
    assert.ok(Object.is(c.data[5], -0));

    const scalar = decodeNpy(fromBase64(NUMPY.scalar));
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual([...scalar.data], [7]);

    const f2 = decodeNpy(fromBase64(NUMPY.fortran2x3));
    assert.deepEqual(f2.shape, [2, 3]);
    assert.deepEqual([...f2.data], [0, 1, 2, 3, 4, 5]);
    const f3 = decodeNpy(fromBase64(NUMPY.fortran234be8));
    assert.deepEqual(f3.shape, [2, 3, 4]);
    assert.deepEqual([...f3.data], Array.from({ length: 24 }, (_, i) => i));

    const v2 = decodeNpy(fromBase64(NUMPY.v2));
    assert.deepEqual([v2.shape, [...v2.data]], [[2, 2], [1, -2, 3, 4]]);
    const v3 = decodeNpy(fromBase64(NUMPY.v3));
    assert.deepEqual([v3.shape, [...v3.data]], [[3], [0.5, 65504, -5.960464477539063e-8]]);
    assert.deepEqual([...decodeNpy(fromBase64(NUMPY.u8)).data], [2 ** 53, 1, 0]);
    assert.deepEqual([...decodeNpy(fromBase64(NUMPY.bool)).data], [1, 0, 1]);
  });

  // Every dtype, hand-built; expected values are the inputs rounded by Math.fround (JS's own float32 rounding).
  const dtypeCases: { descr: string; data: Uint8Array; expected: number[] }[] = [
    { descr: '<f4', data: f32le([1.5, -0.1, 3e38]), expected: [1.5, Math.fround(-0.1), Math.fround(3e38)] },
    { descr: '>f4', data: pack([1.5, -0.1, 3e38], 4, (v, at, x) => v.setFloat32(at, x, false)), expected: [1.5, Math.fround(-0.1), Math.fround(3e38)] },
    { descr: '<f8', data: pack([0.1, -1e300, 5e-324], 8, (v, at, x) => v.setFloat64(at, x, true)), expected: [Math.fround(0.1), -Infinity, 0] },
    { descr: '>f8', data: pack([0.1, 1e-40, 2.5], 8, (v, at, x) => v.setFloat64(at, x, false)), expected: [Math.fround(0.1), Math.fround(1e-40), 2.5] },
    // half: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 1023·2^-24 (largest subnormal), 2^-14, +Inf, -Inf, -0, 1/3 rounded
    {
      descr: '<f2',
      data: u16le([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3555]),
      expected: [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, -0, 0.333251953125],
    },
    { descr: '>f2', data: pack([0x3c00, 0x0001, 0xfc00], 2, (v, at, x) => v.setUint16(at, x, false)), expected: [1, 2 ** -24, -Infinity] },
    { descr: '|u1', data: new Uint8Array([0, 200, 255]), expected: [0, 200, 255] },
    { descr: '<u1', data: new Uint8Array([7]), expected: [7] },
    { descr: '|i1', data: new Uint8Array([0x80, 0, 0x7f, 0xff]), expected: [-128, 0, 127, -1] },
    { descr: '<i2', data: pack([-32768, 1234, 32767], 2, (v, at, x) => v.setInt16(at, x, true)), expected: [-32768, 1234, 32767] },
    { descr: '>i2', data: pack([-2, 513], 2, (v, at, x) => v.setInt16(at, x, false)), expected: [-2, 513] },
    { descr: '<u2', data: pack([0, 65535, 7], 2, (v, at, x) => v.setUint16(at, x, true)), expected: [0, 65535, 7] },
    { descr: '>u2', data: pack([258], 2, (v, at, x) => v.setUint16(at, x, false)), expected: [258] },
    { descr: '<i4', data: pack([-2147483648, 5, 16777217], 4, (v, at, x) => v.setInt32(at, x, true)), expected: [-2147483648, 5, 16777216] },
    { descr: '>i4', data: pack([-7, 1 << 20], 4, (v, at, x) => v.setInt32(at, x, false)), expected: [-7, 1 << 20] },
    { descr: '<u4', data: pack([4294967295, 3], 4, (v, at, x) => v.setUint32(at, x, true)), expected: [4294967296, 3] },
    { descr: '>u4', data: pack([65536], 4, (v, at, x) => v.setUint32(at, x, false)), expected: [65536] },
    { descr: '<i8', data: pack([-(2n ** 53n), 42n, 2n ** 53n], 8, (v, at, x) => v.setBigInt64(at, x, true)), expected: [-(2 ** 53), 42, 2 ** 53] },
    { descr: '>i8', data: pack([-3n, 1n << 40n], 8, (v, at, x) => v.setBigInt64(at, x, false)), expected: [-3, 2 ** 40] },
    { descr: '<u8', data: pack([2n ** 53n, 9n], 8, (v, at, x) => v.setBigUint64(at, x, true)), expected: [2 ** 53, 9] },
    { descr: '>u8', data: pack([5n], 8, (v, at, x) => v.setBigUint64(at, x, false)), expected: [5] },
    { descr: '|b1', data: new Uint8Array([1, 0, 0, 1]), expected: [1, 0, 0, 1] },
  ];
  for (const { descr, data, expected } of dtypeCases) {
    test(`dtype ${descr}`, () => {
      const t = decodeNpy(npy(npyHeader(descr, `(${expected.length},)`), data));
      assert.deepEqual(t.shape, [expected.length]);
      assert.equal(t.data.length, expected.length);
      expected.forEach((value, i) => assert.ok(Object.is(t.data[i], value), `${descr}[${i}]: expected ${value}, got ${t.data[i]}`));
    });
  }

  test('hand-built fortran order, any key order, double quotes, zero-size and v2 headers', () => {
    // column-major [[1, 2, 3], [4, 5, 6]] is 1 4 2 5 3 6
    const t = decodeNpy(npy(npyHeader('<f4', '(2, 3)', true), f32le([1, 4, 2, 5, 3, 6])));
    assert.deepEqual([t.shape, [...t.data]], [[2, 3], [1, 2, 3, 4, 5, 6]]);
    const reordered = decodeNpy(npy(`{"shape": (2,), "fortran_order": False, "descr": "<f4"}`, f32le([8, 9])));
    assert.deepEqual([reordered.shape, [...reordered.data]], [[2], [8, 9]]);
    const empty = decodeNpy(npy(npyHeader('<f4', '(0, 3)')));
    assert.deepEqual([empty.shape, empty.size], [[0, 3], 0]);
    const v2 = decodeNpy(npy(npyHeader('<f4', '(1, 1, 1)', true), f32le([2]), 2));
    assert.deepEqual([v2.shape, [...v2.data]], [[1, 1, 1], [2]]);
  });

  test('bad magic', () => {
    throwsFormat(() => decodeNpy(ascii('PK\x03\x04 this is a zip file'), 'x.npy'), [/^x\.npy: /, /bad magic/], 0);
    const bytes = fromBase64(NUMPY.c2x3);
    bytes[3] = 0x6d; // 'NUMpY'
    throwsFormat(() => decodeNpy(bytes), /bad magic/, 3);
  });

  test('truncated at every kind of length', () => {
    const full = fromBase64(NUMPY.c2x3); // 128-byte preamble and header, then 24 data bytes
    assert.equal(full.length, 152);
    for (const length of [0, 3, 6, 7]) throwsFormat(() => decodeNpy(full.subarray(0, length)), /truncated .npy file: \d+ bytes, the magic and version need 8/, length);
    throwsFormat(() => decodeNpy(full.subarray(0, 9)), /truncated .npy file: 9 bytes, a version 1.0 preamble needs 10/, 9);
    for (const length of [10, 11, 64, 127]) {
      throwsFormat(() => decodeNpy(full.subarray(0, length)), [/header length 118 runs past the end of the file/, new RegExp(`file has ${length} bytes`)], 8);
    }
    for (const length of [128, 129, 140, 151]) {
      throwsFormat(
        () => decodeNpy(full.subarray(0, length)),
        [new RegExp(`data is ${length - 128} bytes but shape \\[2, 3\\] of '<f4' needs 24 bytes`), /truncated/],
        128,
      );
    }
    throwsFormat(() => decodeNpy(concat(full, [0, 0, 0, 0])), [/data is 28 bytes but shape \[2, 3\] of '<f4' needs 24 bytes/, /trailing/], 128);
  });

  test('unsupported versions', () => {
    for (const [major, minor] of [[4, 0], [1, 1], [0, 0], [2, 5]] as const) {
      const bytes = fromBase64(NUMPY.c2x3);
      bytes[6] = major;
      bytes[7] = minor;
      throwsFormat(() => decodeNpy(bytes), new RegExp(`unsupported .npy version ${major}\\.${minor}`), 6);
    }
    const huge = npy(npyHeader('<f4', '(1,)'), f32le([1]), 2);
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    throwsFormat(() => decodeNpy(huge), /header length 4294967295 runs past the end of the file/, 8);
  });

  // [header, expected message, the text the error offset points at (10 + its index in the header), or null]
  const badHeaders: [string, RegExp, string | null][] = [
    [`['descr', '<f4']`, /header is not a Python dict literal/, `['descr'`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), `, /header ends in the middle of a value/, null],
    [`{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}`, /expected ',' or '}' in header dict/, `'fortran_order': False, 'sh`],
    [`{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}`, /unexpected name 'false'/, `false`],
    [`{'descr': __import__('os').system('rm -rf /'), 'fortran_order': False, 'shape': (6,)}`, /unexpected name '__import__'/, `__import__`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} ; junk`, /unexpected text after the header dict/, `; junk`],
    [`{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (6,)}`, /duplicate key 'descr'/, `'descr': '<f8'`],
    [`{'descr': '<f4', 'fortran_order': False}`, /header has no 'shape' key/, `{'descr'`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}`, /unexpected key 'extra'/, `'extra'`],
    [`{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}`, /expected ':' after key 'descr'/, `'<f4'`],
    [`{'descr': '<f4\n', 'fortran_order': False, 'shape': (6,)}`, /unterminated string/, `\n`],
    [`{'descr': '<f4\\x41', 'fortran_order': False, 'shape': (6,)}`, /unsupported escape/, `\\x41`],
    [`{1: '<f4', 'fortran_order': False, 'shape': (6,)}`, /header dict keys must be strings, got int 1/, `1: '`],
    [`{'descr': 4, 'fortran_order': False, 'shape': (6,)}`, /'descr' must be a string, got int 4/, `4, `],
    [`{'descr': '<f4', 'fortran_order': 1, 'shape': (6,)}`, /'fortran_order' must be True or False, got int 1/, `1, 'shape'`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}`, /'shape' must be a tuple, got a list/, `[2, 3]`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (6)}`, /'shape' must be a tuple, got int 6/, `6)`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 6)}`, /shape dimension 0 is negative \(-1\)/, `-1, 6`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 2)}`, /shape dimension 0 must be an integer, got float 2.5/, `2.5`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (1, True)}`, /shape dimension 1 must be an integer, got bool True/, `True)`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (1, None)}`, /shape dimension 1 must be an integer, got a none/, `None)`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}`, /shape dimension 0 is absurdly large/, `999`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (06,)}`, /leading zero/, `06`],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (6x,)}`, /malformed number/, `6x`],
    [`{'descr': '<f3', 'fortran_order': False, 'shape': (6,)}`, /unknown dtype '<f3'/, `'<f3'`],
    [`{'descr': '<c8', 'fortran_order': False, 'shape': (6,)}`, /unknown dtype '<c8'/, `'<c8'`],
    [`{'descr': '<U3', 'fortran_order': False, 'shape': (6,)}`, /unknown dtype '<U3'/, `'<U3'`],
    [`{'descr': 'float32', 'fortran_order': False, 'shape': (6,)}`, /unknown dtype 'float32'/, `'float32'`],
    [`{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}`, /dtype 'f4' does not say its byte order/, `'f4'`],
    [`{'descr': '|f4', 'fortran_order': False, 'shape': (6,)}`, /dtype '\|f4' does not say its byte order/, `'|f4'`],
    [`{'descr': '|O', 'fortran_order': False, 'shape': (6,)}`, /object arrays \('\|O'\) are not supported/, `'|O'`],
    [`{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,)}`, /structured dtypes/, `[('x'`],
  ];
  for (const [header, message, pointsAt] of badHeaders) {
    test(`bad header: ${message.source}`, () => {
      const expectedOffset = pointsAt === null ? undefined : 10 + header.indexOf(pointsAt);
      throwsFormat(() => decodeNpy(npy(header, new Uint8Array(24)), 'w.npy'), [/^w\.npy: /, message], expectedOffset);
    });
  }

  test('object arrays, invalid UTF-8 in a v3 header, bad bool and int64 values', () => {
    throwsFormat(() => decodeNpy(concat(fromBase64(NUMPY.objectHeader), [0x80, 0x04, 0x95])), /object arrays .* not supported/, 10 + 10);
    const header = ascii(npyHeader('<f4', '(1,)'));
    const broken = concat(header.subarray(0, 5), [0xc3, 0x28], header.subarray(5)); // 0xc3 needs a continuation byte
    throwsFormat(() => decodeNpy(npy(broken, f32le([1]), 3)), /header is not valid UTF-8/, 12 + 5);
    const overlong = concat(header.subarray(0, 2), [0xc0, 0xaf], header.subarray(2)); // '/' encoded in two bytes
    throwsFormat(() => decodeNpy(npy(overlong, f32le([1]), 3)), /not valid UTF-8/, 12 + 2);

    const bools = npy(npyHeader('|b1', '(3,)'), [1, 2, 0]);
    throwsFormat(() => decodeNpy(bools, 'm.npy'), [/^m\.npy: boolean element 1 is 2, expected 0 or 1/], bools.length - 2);
    const ints = npy(npyHeader('<i8', '(2,)'), pack([1n, -(2n ** 53n) - 1n], 8, (v, at, x) => v.setBigInt64(at, x, true)));
    throwsFormat(() => decodeNpy(ints), /element 1 is -9007199254740993, beyond ±2\^53/, ints.length - 8);
    const uints = npy(npyHeader('<u8', '(1,)'), pack([2n ** 64n - 1n], 8, (v, at, x) => v.setBigUint64(at, x, true)));
    throwsFormat(() => decodeNpy(uints), /element 0 is 18446744073709551615, beyond/, uints.length - 8);
  });
});

// ---------------------------------------------------------------------------------------------

describe('encodeNpy', () => {
  test('byte for byte what numpy.save writes', () => {
    // the same numpy-written files as above
    const c2x3 = fromBase64(
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAgD4AAAAAAABAQAAAAIA=',
    );
    assert.deepEqual(encodeNpy(new Tensor([2, 3], new Float32Array([1.5, -2, 0.25, 0, 3, -0]))), c2x3);
    const scalar = fromBase64(
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAOBA',
    );
    assert.deepEqual(encodeNpy(new Tensor([], new Float32Array([7]))), scalar);
    const vec5 = fromBase64(
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQAAAQEAAAIBAAACgQA==',
    );
    assert.deepEqual(encodeNpy(new Tensor([5], new Float32Array([1, 2, 3, 4, 5]))), vec5);
  });

  test('header layout: magic, v1.0, length, 64-byte alignment, newline', () => {
    for (const shape of [[], [0], [1], [3, 5, 1], [123456789, 0], [2, 3, 4, 5, 6, 7, 8]]) {
      const bytes = encodeNpy(new Tensor(shape));
      assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
      const headerLength = bytes[8]! | (bytes[9]! << 8);
      assert.equal((10 + headerLength) % 64, 0, `shape [${shape}]`);
      assert.equal(bytes[10 + headerLength - 1], 0x0a);
      const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
      const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
      assert.ok(header.startsWith(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr}, }`), header);
      assert.match(header, /^[^\n]*} *\n$/);
      assert.equal(bytes.length, 10 + headerLength + 4 * shape.reduce((n, d) => n * d, 1));
    }
  });

  test('a header past 65535 bytes falls back to version 2.0, as numpy does', () => {
    const shape = new Array<number>(30000).fill(1);
    const bytes = encodeNpy(new Tensor(shape, new Float32Array([4])));
    assert.deepEqual([bytes[6], bytes[7]], [2, 0]);
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    assert.equal((12 + headerLength) % 64, 0);
    const back = decodeNpy(bytes);
    assert.deepEqual([back.rank, [...back.data]], [30000, [4]]);
  });

  test('round trip is bit-exact, also for a tensor viewing part of a larger buffer', () => {
    const bits = new Uint32Array(AWKWARD_BITS);
    const t = new Tensor([3, 4], new Float32Array(bits.buffer));
    const back = decodeNpy(encodeNpy(t));
    assert.deepEqual(back.shape, [3, 4]);
    assert.deepEqual(bitsOf(back.data), AWKWARD_BITS);
    const window = new Tensor([2], new Float32Array(new Uint32Array([0x11111111, 0x7fc00007, 0x80000001, 0x22222222]).buffer).subarray(1, 3));
    assert.deepEqual(bitsOf(decodeNpy(encodeNpy(window)).data), [0x7fc00007, 0x80000001]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeSafetensors', () => {
  test('every dtype, hand-built, entries listed out of data order', () => {
    const parts = {
      f16: u16le([0x3c00, 0x0001, 0x03ff, 0x7c00, 0x8000, 0xc000]),
      // bfloat16: 1, -3, +Inf, 2^-133 (its smallest subnormal), a NaN with payload 0x41
      bf16: u16le([0x3f80, 0xc040, 0x7f80, 0x0001, 0x7fc1]),
      f64: pack([0.1, -2.5, 1e-300], 8, (v, at, x) => v.setFloat64(at, x, true)),
      i64: pack([-(2n ** 53n), 123456789n, 2n ** 53n], 8, (v, at, x) => v.setBigInt64(at, x, true)),
      i32: pack([-5, 16777216], 4, (v, at, x) => v.setInt32(at, x, true)),
      i16: pack([-32768, 300], 2, (v, at, x) => v.setInt16(at, x, true)),
      i8: new Uint8Array([0xfe, 0x05]),
      u8: new Uint8Array([0, 128, 255]),
      u16: u16le([65535]),
      u32: u32le([4000000000]),
      u64: pack([2n ** 40n], 8, (v, at, x) => v.setBigUint64(at, x, true)),
      bool: new Uint8Array([1, 0, 1, 1]),
      f32: f32le([1.25, -0.5]),
    };
    const dtypes: Record<keyof typeof parts, [string, number[]]> = {
      f16: ['F16', [2, 3]],
      bf16: ['BF16', [5]],
      f64: ['F64', [3]],
      i64: ['I64', [3, 1]],
      i32: ['I32', [2]],
      i16: ['I16', [2]],
      i8: ['I8', [2]],
      u8: ['U8', [3]],
      u16: ['U16', []],
      u32: ['U32', [1]],
      u64: ['U64', [1]],
      bool: ['BOOL', [2, 2]],
      f32: ['F32', [2]],
    };
    const header: Record<string, unknown> = { __metadata__: { format: 'pt', note: 'hand-built' } };
    let offset = 0;
    const names = Object.keys(parts) as (keyof typeof parts)[];
    for (const name of names) {
      const [dtype, shape] = dtypes[name];
      header[name] = { dtype, shape, data_offsets: [offset, offset + parts[name].length] };
      offset += parts[name].length;
    }
    const reversedHeader = Object.fromEntries(Object.entries(header).reverse());
    const { tensors, metadata } = decodeSafetensors(safetensors(reversedHeader, concat(...names.map((n) => parts[n]))));
    assert.deepEqual(metadata, { format: 'pt', note: 'hand-built' });
    assert.deepEqual([...tensors.keys()], names); // data order, not header order
    const values = (name: string) => [...tensors.get(name)!.data];
    assert.deepEqual(tensors.get('f16')!.shape, [2, 3]);
    assert.deepEqual(values('f16'), [1, 2 ** -24, 1023 * 2 ** -24, Infinity, -0, -2]);
    assert.ok(Object.is(values('f16')[4], -0));
    assert.deepEqual(values('bf16').slice(0, 4), [1, -3, Infinity, 2 ** -133]);
    assert.equal(bitsOf(tensors.get('bf16')!.data)[4], 0x7fc10000);
    assert.deepEqual(values('f64'), [Math.fround(0.1), -2.5, 0]);
    assert.deepEqual([tensors.get('i64')!.shape, values('i64')], [[3, 1], [-(2 ** 53), 123456792, 2 ** 53]]); // 123456789 rounds to float32
    assert.deepEqual(values('i32'), [-5, 16777216]);
    assert.deepEqual(values('i16'), [-32768, 300]);
    assert.deepEqual(values('i8'), [-2, 5]);
    assert.deepEqual(values('u8'), [0, 128, 255]);
    assert.deepEqual([tensors.get('u16')!.shape, values('u16')], [[], [65535]]);
    assert.deepEqual(values('u32'), [Math.fround(4000000000)]);
    assert.deepEqual(values('u64'), [2 ** 40]);
    assert.deepEqual([tensors.get('bool')!.shape, values('bool')], [[2, 2], [1, 0, 1, 1]]);
    assert.deepEqual(values('f32'), [1.25, -0.5]);
  });

  test('unaligned data, empty tensors, null metadata, no tensors', () => {
    // a 5-byte header puts the float32 data at byte 13: reading must not need alignment
    const header = '{ }  ';
    const empty = decodeSafetensors(safetensors(header));
    assert.deepEqual([empty.tensors.size, empty.metadata], [0, {}]);
    const unaligned = decodeSafetensors(safetensors('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32le([3, 4])));
    assert.deepEqual([...unaligned.tensors.get('a')!.data], [3, 4]);
    const withEmpty = decodeSafetensors(
      safetensors(
        {
          __metadata__: null,
          none: { dtype: 'F32', shape: [0, 4], data_offsets: [0, 0] },
          x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          last: { dtype: 'I64', shape: [2, 0], data_offsets: [4, 4] },
        },
        f32le([9]),
      ),
    );
    assert.deepEqual(withEmpty.metadata, {});
    assert.deepEqual([...withEmpty.tensors].map(([name, t]) => [name, t.shape, [...t.data]]), [
      ['none', [0, 4], []],
      ['x', [1], [9]],
      ['last', [2, 0], []],
    ]);
  });

  const file = () => safetensors({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }, f32le([1, 2, 3, 4, 5, 6]));

  test('truncated at every kind of length', () => {
    const full = file();
    const headerEnd = full.length - 24;
    for (const length of [0, 1, 7]) throwsFormat(() => decodeSafetensors(full.subarray(0, length), 'cut.safetensors'), [/^cut\.safetensors: /, /truncated/, /needs 8/], length);
    for (const length of [8, 9, 40, headerEnd - 1]) throwsFormat(() => decodeSafetensors(full.subarray(0, length)), /header length \d+ runs past the end of the file/, 0);
    // the data region is short: first the tensor that runs past it is named
    for (const length of [headerEnd, headerEnd + 10, full.length - 1]) {
      throwsFormat(() => decodeSafetensors(full.subarray(0, length)), [/tensor '(w|b)'/, /run past the end of the data region/]);
    }
    throwsFormat(() => decodeSafetensors(full.subarray(0, headerEnd + 16)), [/tensor 'b'/, /data_offsets \[16, 24\] run past the end of the data region \(16 bytes/]);
    throwsFormat(() => decodeSafetensors(concat(full, [0, 0])), /data bytes 24\.\.26 belong to no tensor/, full.length);
  });

  test('absurd or lying header lengths', () => {
    const absurd = file();
    new DataView(absurd.buffer).setBigUint64(0, 2n ** 63n, true);
    throwsFormat(() => decodeSafetensors(absurd), /header length 9223372036854775808 is absurd/, 0);
    new DataView(absurd.buffer).setBigUint64(0, 100_000_001n, true);
    throwsFormat(() => decodeSafetensors(absurd), /is absurd \(limit 100000000 bytes\)/, 0);
    new DataView(absurd.buffer).setBigUint64(0, 4096n, true);
    throwsFormat(() => decodeSafetensors(absurd), /header length 4096 runs past the end of the file/, 0);
    new DataView(absurd.buffer).setBigUint64(0, 20n, true); // cuts the JSON short
    throwsFormat(() => decodeSafetensors(absurd), /header is not valid JSON/, 8);
  });

  test('invalid UTF-8 and invalid JSON', () => {
    const json = ascii('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const broken = concat(json.subarray(0, 3), [0xff], json.subarray(3));
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(broken.length), true);
    throwsFormat(() => decodeSafetensors(concat(length, broken, f32le([1]))), /header is not valid UTF-8/, 8 + 3);
    throwsFormat(() => decodeSafetensors(safetensors('{"w": }')), /header is not valid JSON/, 8);
    throwsFormat(() => decodeSafetensors(safetensors('\ufeff{}')), /header is not valid JSON/, 8); // a BOM is not JSON
    throwsFormat(() => decodeSafetensors(safetensors('[1, 2]')), /header must be a JSON object, got an array/, 8);
    throwsFormat(() => decodeSafetensors(safetensors('null')), /header must be a JSON object, got null/, 8);
  });

  // [entries (and data length), expected message, a key in the header the offset points at, or a data offset]
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const badEntries: [string, Record<string, unknown>, number, RegExp[], { key: string } | { data: number }][] = [
    ['missing dtype', { w: { shape: [1], data_offsets: [0, 4] } }, 4, [/tensor 'w': entry has no 'dtype'/], { key: 'w' }],
    ['missing shape', { a: f32([1], 0, 4), w: { dtype: 'F32', data_offsets: [4, 8] } }, 8, [/tensor 'w': entry has no 'shape'/], { key: 'w' }],
    ['missing data_offsets', { w: { dtype: 'F32', shape: [1] } }, 4, [/tensor 'w': entry has no 'data_offsets'/], { key: 'w' }],
    ['entry not an object', { w: 5 }, 0, [/tensor 'w': entry must be an object, got number 5/], { key: 'w' }],
    ['unknown dtype', { w: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4, [/unknown dtype 'Q4'/], { key: 'w' }],
    ['fp8 dtype', { w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4, [/unknown dtype 'F8_E4M3'/], { key: 'w' }],
    ['dtype not a string', { w: { dtype: 32, shape: [1], data_offsets: [0, 4] } }, 4, [/dtype must be a string, got number 32/], { key: 'w' }],
    ['negative dimension', { w: f32([-1], 0, 4) }, 4, [/shape must be a list of non-negative integers, got \[-1\]/], { key: 'w' }],
    ['fractional dimension', { w: f32([1.5], 0, 4) }, 4, [/shape must be a list of non-negative integers/], { key: 'w' }],
    ['shape not a list', { w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, 8, [/shape must be a list/], { key: 'w' }],
    ['three offsets', { w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 4, [/data_offsets must be \[begin, end\]/], { key: 'w' }],
    ['negative offset', { w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4, [/data_offsets must be \[begin, end\]/], { key: 'w' }],
    ['end before begin', { w: f32([0], 8, 4) }, 8, [/data_offsets \[8, 4\] end before they begin/], { key: 'w' }],
    ['shape/bytes mismatch', { w: f32([2], 0, 12) }, 12, [/tensor 'w': data_offsets \[0, 12\] hold 12 bytes but F32 shape \[2\] needs 8 bytes/], { key: 'w' }],
    ['dtype size mismatch', { w: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, 8, [/hold 8 bytes but F64 shape \[2\] needs 16 bytes/], { key: 'w' }],
    ['out of range', { w: f32([2], 0, 8) }, 4, [/tensor 'w': data_offsets \[0, 8\] run past the end of the data region \(4 bytes/], { key: 'w' }],
    ['overlap', { a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12, [/tensor 'b': data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/], { data: 4 }],
    ['same range twice', { a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8, [/overlap tensor/], { data: 0 }],
    ['gap', { a: f32([2], 0, 8), b: f32([2], 12, 20) }, 20, [/data bytes 8\.\.12 belong to no tensor/], { data: 8 }],
    ['gap at the start', { a: f32([1], 4, 8) }, 8, [/data bytes 0\.\.4 belong to no tensor/], { data: 0 }],
    ['uncovered tail', { a: f32([2], 0, 8) }, 12, [/data bytes 8\.\.12 belong to no tensor/], { data: 8 }],
    ['metadata not strings', { __metadata__: { epoch: 3 }, a: f32([1], 0, 4) }, 4, [/__metadata__ value 'epoch' must be a string, got number 3/], { key: '__metadata__' }],
    ['metadata an array', { __metadata__: ['x'], a: f32([1], 0, 4) }, 4, [/__metadata__ must be an object of strings, got an array/], { key: '__metadata__' }],
  ];
  for (const [what, entries, dataLength, messages, where] of badEntries) {
    test(`bad entry: ${what}`, () => {
      const bytes = safetensors(entries, new Uint8Array(dataLength));
      const json = JSON.stringify(entries);
      const offset = 'key' in where ? 8 + json.indexOf(`"${where.key}":`) : 8 + json.length + where.data;
      throwsFormat(() => decodeSafetensors(bytes, 'model.safetensors'), [/^model\.safetensors: /, ...messages], offset);
    });
  }

  test('values that float32 cannot hold honestly: I64/U64 beyond 2^53, BOOL other than 0/1', () => {
    const json = { a: f32([1], 0, 4), big: { dtype: 'I64', shape: [2], data_offsets: [4, 20] } };
    const data = concat(f32le([0]), pack([7n, 2n ** 53n + 1n], 8, (v, at, x) => v.setBigInt64(at, x, true)));
    const bytes = safetensors(json, data);
    throwsFormat(() => decodeSafetensors(bytes, 'i.safetensors'), [/^i\.safetensors: tensor 'big': 64-bit integer element 1 is 9007199254740993, beyond ±2\^53/], bytes.length - 8);
    const unsigned = safetensors({ u: { dtype: 'U64', shape: [1], data_offsets: [0, 8] } }, pack([2n ** 60n], 8, (v, at, x) => v.setBigUint64(at, x, true)));
    throwsFormat(() => decodeSafetensors(unsigned), /tensor 'u': 64-bit integer element 0 is 1152921504606846976/, unsigned.length - 8);
    const bools = safetensors({ flags: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, [0, 1, 255]);
    throwsFormat(() => decodeSafetensors(bools), /tensor 'flags': boolean element 2 is 255, expected 0 or 1/, bools.length - 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('encodeSafetensors', () => {
  // Byte arrays copied from the safetensors reference implementation's own tests
  // (huggingface/safetensors, safetensors/src/tensor.rs: test_empty, test_serialization, test_serialization_forced_alignement).
  test('matches the reference implementation byte for byte', () => {
    assert.deepEqual([...encodeSafetensors(new Map())], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    assert.deepEqual(
      [...encodeSafetensors({}, { framework: 'pt' })],
      [
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111,
        114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
      ],
    );
    const values = new Float32Array([0, 1, 2, 3, 4, 5]);
    assert.deepEqual(
      [...encodeSafetensors({ 'attn.0': new Tensor([1, 2, 3], values) })],
      [
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115,
        104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50,
        52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ],
    );
    assert.deepEqual(
      [...encodeSafetensors(new Map([['attn0', new Tensor([1, 1, 2, 3], values)]]))],
      [
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115,
        104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
        48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      ],
    );
  });

  test('header layout: 8-byte multiple, space padding, metadata first, tensors by name (code point order)', () => {
    const tensors = new Map([
      ['b', new Tensor([1], new Float32Array([2]))],
      ['a', new Tensor([2], new Float32Array([0, 1]))],
      ['10', new Tensor([], new Float32Array([3]))],
      ['9', new Tensor([0])],
      ['\u{1F600}', new Tensor([1], new Float32Array([5]))], // astral: after U+FFFD in code point order, before it in UTF-16
      ['\uFFFD', new Tensor([1], new Float32Array([4]))],
    ]);
    const bytes = encodeSafetensors(tensors, { z: '1', a: 'ünïcode' });
    const view = new DataView(bytes.buffer);
    const headerLength = Number(view.getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    const json = header.trimEnd();
    assert.ok(/^ *$/.test(header.slice(json.length)));
    assert.ok(json.startsWith('{"__metadata__":{"a":"ünïcode","z":"1"},"10":{'), json);
    const order = ['10', '9', 'a', 'b', '\uFFFD', '\u{1F600}'];
    const positions = order.map((name) => json.indexOf(`${JSON.stringify(name)}:{`));
    assert.deepEqual([...positions].sort((x, y) => x - y), positions);
    const parsed = JSON.parse(json) as Record<string, { data_offsets: [number, number] }>;
    assert.deepEqual(order.map((name) => parsed[name]!.data_offsets), [[0, 4], [4, 4], [4, 12], [12, 16], [16, 20], [20, 24]]);
    assert.equal(bytes.length, 8 + headerLength + 24);
    assert.deepEqual([...new Float32Array(bytes.slice(8 + headerLength).buffer)], [3, 0, 1, 2, 4, 5]);
  });

  test('round trip is bit-exact, with metadata', () => {
    const awkward = new Tensor([2, 2, 3], new Float32Array(new Uint32Array(AWKWARD_BITS).buffer));
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors({ awkward, scalar: new Tensor([], new Float32Array([-0])) }, { k: 'v' }));
    assert.deepEqual(metadata, { k: 'v' });
    assert.deepEqual(tensors.get('awkward')!.shape, [2, 2, 3]);
    assert.deepEqual(bitsOf(tensors.get('awkward')!.data), AWKWARD_BITS);
    assert.deepEqual(bitsOf(tensors.get('scalar')!.data), [0x80000000]);
  });

  test('refuses a tensor named __metadata__ and non-string metadata', () => {
    throwsFormat(() => encodeSafetensors({ __metadata__: new Tensor([1]) }), /'__metadata__' is reserved/);
    throwsFormat(() => encodeSafetensors({}, { epoch: 3 as unknown as string }), /metadata 'epoch' must be a string/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('node files', () => {
  let folder = '';
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mobilenet-io-'));
  });
  after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  test('writeFileAtomic writes, overwrites, and leaves no temporary files', async () => {
    const target = join(folder, 'weights.bin');
    await writeFileAtomic(target, new Uint8Array([1, 2, 3, 4, 5]));
    assert.deepEqual([...(await readFile(target))], [1, 2, 3, 4, 5]);
    await writeFileAtomic(target, new Uint8Array([9]));
    assert.deepEqual([...(await readFile(target))], [9]);
    assert.deepEqual([...(await readBytes(target))], [9]);
    assert.deepEqual(await readdir(folder), ['weights.bin']);
  });

  test('writeFileAtomic fails cleanly: error names the path, no temporary file stays', async () => {
    const occupied = join(folder, 'occupied');
    await mkdir(join(occupied, 'inside'), { recursive: true }); // renaming a file over a non-empty folder fails
    await assert.rejects(writeFileAtomic(occupied, new Uint8Array([1])), (e: unknown) => {
      assert.ok(e instanceof FileError);
      assert.ok(e.message.includes(occupied), e.message);
      assert.equal(e.path, occupied);
      return true;
    });
    assert.ok(!(await readdir(folder)).some((name) => name.endsWith('.tmp')));
    await assert.rejects(writeFileAtomic(join(folder, 'missing', 'x.bin'), new Uint8Array([1])), FileError);
    await rm(occupied, { recursive: true });
  });

  test('readBytes names the path in its error', async () => {
    const missing = join(folder, 'nope.npy');
    await assert.rejects(readBytes(missing), (e: unknown) => {
      assert.ok(e instanceof FileError);
      assert.ok(e.message.includes(missing), e.message);
      assert.equal(e.code, 'ENOENT');
      return true;
    });
  });

  test('npy and safetensors files round trip; decode errors name the file', async () => {
    const t = new Tensor([2, 2], new Float32Array([1, -2, 3.5, 0]));
    const npyPath = join(folder, 't.npy');
    await writeNpyFile(npyPath, t);
    assert.deepEqual([...(await readNpyFile(npyPath)).data], [1, -2, 3.5, 0]);
    const stPath = join(folder, 't.safetensors');
    await writeSafetensorsFile(stPath, { t }, { source: 'test' });
    const back = await readSafetensorsFile(stPath);
    assert.deepEqual([back.metadata, [...back.tensors.get('t')!.data]], [{ source: 'test' }, [1, -2, 3.5, 0]]);

    const corrupt = join(folder, 'corrupt.npy');
    await writeFile(corrupt, 'not numpy');
    await assert.rejects(readNpyFile(corrupt), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${corrupt}: `));
    await assert.rejects(readSafetensorsFile(corrupt), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${corrupt}: `));
    assert.ok(!(await readdir(folder)).some((name) => name.endsWith('.tmp')));
  });
});
