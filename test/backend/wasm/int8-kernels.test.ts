// The int8 WebAssembly kernels on bare runtime modules, bit-equal to the reference int8 ops (conv2dInt8Accumulate +
// requantizeFixed, addFixed) on awkward shapes, zero points at the int8 ends and shifts on both sides, relaxed and portable.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModuleBuilder } from '../../../src/backend/wasm/assembler.js';
import { WasmRuntime, type Kernel } from '../../../src/backend/wasm/runtime.js';
import { type Int8Dot, emitInt8Gemm, int8GemmBlockBytes, int8GemmBlockChannels, packInt8GemmWeights, type Int8GemmSpec } from '../../../src/backend/wasm/kernels/int8-gemm.js';
import {
  type Int8ConvWeights,
  blockConstantBytes,
  emitRequantize,
  epilogueScratch,
  loadInt8AsInt32,
  narrowToInt8,
  packBlockConstants,
  storeBytes,
} from '../../../src/backend/wasm/kernels/int8-epilogue.js';
import { advance, repeatWhile } from '../../../src/backend/wasm/kernels/common.js';
import { depthwiseOutputSize } from '../../../src/backend/wasm/kernels/depthwise.js';
import { convOutputSize } from '../../../src/backend/wasm/kernels/conv.js';
import { type Int8Im2colSpec, emitInt8Im2col, emitInt8Im2colRows } from '../../../src/backend/wasm/kernels/int8-im2col.js';
import { depthwiseRowOutputWidth } from '../../../src/backend/wasm/kernels/rows.js';
import {
  type Int8DepthwiseSpec,
  emitInt8Depthwise,
  emitInt8DepthwiseRow,
  packInt8DepthwiseWeights,
} from '../../../src/backend/wasm/kernels/int8-depthwise.js';
import { addFixed, conv2dInt8Accumulate, requantizeFixed } from '../../../src/quant/int8-ops.js';
import { type AddRequantization, type Requantization, addRequantization, requantization } from '../../../src/quant/fixed-point.js';
import type { Conv2DParams } from '../../../src/ops/conv2d.js';
import type { Padding4 } from '../../../src/ops/geometry.js';
import { Random } from '../../../src/tensor/random.js';
import { SIMD_MODES } from '../../support/wasm-modes.js';

const MODES = SIMD_MODES.map((m) => ({ ...m, dot: (m.relaxed ? 'relaxed' : 'i16') as Int8Dot }));

const rng = new Random(20261207);
const int = (lo: number, hi: number): number => lo + Math.floor(rng.uniform() * (hi - lo + 1));
const int8s = (n: number, lo = -128, hi = 127): Int8Array => Int8Array.from({ length: n }, () => int(lo, hi));

/** Per-channel multipliers of every kind: typical (2^−8…2^−14), above 1 (left shifts), tiny (right shifts beyond 20), exact powers of two (ties). */
function multipliers(n: number, typical: number): number[] {
  return Array.from({ length: n }, (_, c) => {
    switch (c % 5) {
      case 1:
        return 1 + 3 * rng.uniform();
      case 2:
        return 2 ** -(22 + int(0, 6)) * (1 + rng.uniform());
      case 3:
        return 2 ** -int(4, 12);
      default:
        return typical * (0.5 + rng.uniform());
    }
  });
}

function randomRequant(channels: number, reduction: number, zeroPoint: number, range?: readonly [number, number]): Requantization {
  // accumulators of `reduction` products of ±128·127 spread over about sqrt(reduction)·2^13: map that to about ±64
  return requantization(multipliers(channels, 64 / (Math.sqrt(reduction) * 2 ** 13)), zeroPoint, range);
}

function randomAdd(zeroPoint: number): AddRequantization {
  const scale = (): number => Math.fround(0.01 + rng.uniform() * 0.1);
  return addRequantization({ scale: scale(), zeroPoint }, { scale: scale(), zeroPoint: int(-128, 127) }, { scale: scale(), zeroPoint: int(-128, 127) }, [int(-128, -60), int(60, 127)]);
}

function randomWeights(rows: number, cout: number, zx: number, zy: number, residual: boolean, range?: readonly [number, number]): Int8ConvWeights {
  const bias = Int32Array.from({ length: cout }, () => int(-30000, 30000));
  return { kernel: int8s(rows * cout), bias, inputZeroPoint: zx, requant: randomRequant(cout, rows, zy, range), add: residual ? randomAdd(zy) : null };
}

// Outputs sit between guard bands: a kernel that writes past a channel tail or a tensor's end fails.
const GUARD = 32;
const SENTINEL = 0x5a;

class Harness {
  readonly rt = new WasmRuntime();
  private readonly outputs = new Map<number, number>();

  constructor(private readonly relaxed: boolean) {}

  async build(emit: (m: ModuleBuilder) => void): Promise<Record<string, Kernel>> {
    const m = this.rt.module({ relaxedSimd: this.relaxed });
    emit(m);
    return this.rt.instantiate(m);
  }

  bytes(data: Uint8Array | Int8Array): number {
    const p = this.rt.alloc(data.length, 16);
    new Uint8Array(this.rt.memory.buffer, p, data.length).set(new Uint8Array(data.buffer, data.byteOffset, data.length));
    return p;
  }

  output(length: number): number {
    const p = this.rt.alloc(length + 2 * GUARD, 16);
    new Uint8Array(this.rt.memory.buffer, p, length + 2 * GUARD).fill(SENTINEL);
    this.outputs.set(p + GUARD, length);
    return p + GUARD;
  }

  read(pointer: number): Int8Array {
    const length = this.outputs.get(pointer);
    if (length === undefined) throw new Error('read of a pointer that output() did not make');
    const all = new Uint8Array(this.rt.memory.buffer, pointer - GUARD, length + 2 * GUARD).slice();
    const touched = [...all.subarray(0, GUARD), ...all.subarray(GUARD + length)].filter((v) => v !== SENTINEL).length;
    assert.equal(touched, 0, `kernel wrote ${touched} bytes outside its output`);
    return new Int8Array(all.buffer, GUARD, length);
  }
}

const conv1x1: Conv2DParams = { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 };

/** The reference: exact int32 accumulation of (x − zx)·w, TFLite's requantization, TFLite's ADD of a residual. */
function reference(x: Int8Array, xShape: number[], zx: number, w: Int8ConvWeights, kernelShape: [number, number, number, number], p: Conv2DParams, residual: Int8Array | null): Int8Array {
  const { acc } = conv2dInt8Accumulate({ shape: xShape, data: x, params: { scale: 1, zeroPoint: zx } }, w.kernel, kernelShape, p);
  const y = requantizeFixed(acc, w.bias, w.requant);
  return residual && w.add ? addFixed(y, residual, w.add) : y;
}

function assertBitEqual(actual: Int8Array, expected: Int8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const bad = actual.findIndex((v, i) => v !== expected[i]);
  assert.equal(bad, -1, `${what}: element ${bad} is ${actual[bad]}, the reference ${expected[bad]} (${actual.filter((v, i) => v !== expected[i]).length} differ)`);
}

interface GemmCase {
  pixels: number;
  cin: number;
  cout: number;
  zx: number;
  zy: number;
  residual?: boolean;
  /** Extra bytes per pixel around the channels read and written (channel slices). */
  slack?: number;
  range?: readonly [number, number];
  /** One multiplier for every channel (TFLite's per-tensor quantization). */
  perTensor?: boolean;
}

async function checkGemm(mode: (typeof MODES)[number], c: GemmCase): Promise<void> {
  const h = new Harness(mode.relaxed);
  const slack = c.slack ?? 0;
  const spec: Int8GemmSpec = { cin: c.cin, cout: c.cout, dot: mode.dot, residual: c.residual, inputStride: c.cin + slack, outputStride: c.cout + slack, residualStride: c.cout + slack };
  const k = await h.build((m) => emitInt8Gemm(m, 'gemm', spec));
  const w = randomWeights(c.cin, c.cout, c.zx, c.zy, c.residual ?? false, c.range);
  if (c.perTensor) w.requant = requantization([64 / (Math.sqrt(c.cin) * 2 ** 13)], c.zy, c.range);
  const x = int8s(c.pixels * c.cin);
  const strided = (data: Int8Array, channels: number): Int8Array => {
    const out = int8s(c.pixels * (channels + slack));
    for (let p = 0; p < c.pixels; p++) out.set(data.subarray(p * channels, (p + 1) * channels), p * (channels + slack));
    return out;
  };
  const res = c.residual ? int8s(c.pixels * c.cout) : null;
  const y = h.output(c.pixels * (c.cout + slack) - slack);
  const before = h.read(y).slice();
  k.gemm(h.bytes(strided(x, c.cin)), h.bytes(packInt8GemmWeights(spec, w)), y, c.pixels, res ? h.bytes(strided(res, c.cout)) : 0);
  const got = h.read(y);
  const expected = reference(x, [1, 1, c.pixels, c.cin], c.zx, w, [1, 1, c.cin, c.cout], conv1x1, res);
  const dense = new Int8Array(c.pixels * c.cout);
  for (let p = 0; p < c.pixels; p++) {
    dense.set(got.subarray(p * (c.cout + slack), p * (c.cout + slack) + c.cout), p * c.cout);
    const gap = got.subarray(p * (c.cout + slack) + c.cout, (p + 1) * (c.cout + slack));
    assert.deepEqual([...gap], [...before.subarray(p * (c.cout + slack) + c.cout, p * (c.cout + slack) + c.cout + gap.length)], 'the kernel wrote between output pixels');
  }
  assertBitEqual(dense, expected, `gemm ${JSON.stringify(c)}`);
}

for (const mode of MODES) {
  describe(`int8 GEMM (${mode.name}, ${mode.dot} dot)`, { skip: mode.skip }, () => {
    const cases: GemmCase[] = [
      { pixels: 7, cin: 3, cout: 17, zx: -128, zy: 127 },
      { pixels: 5, cin: 17, cout: 33, zx: 127, zy: -128 },
      { pixels: 1, cin: 33, cout: 3, zx: 5, zy: -3 },
      { pixels: 13, cin: 64, cout: 24, zx: -128, zy: -128, range: [-128, 40] },
      { pixels: 9, cin: 1, cout: 8, zx: 0, zy: 0 },
      { pixels: 6, cin: 35, cout: 16, zx: -7, zy: 11, residual: true },
      { pixels: 11, cin: 22, cout: 19, zx: 127, zy: -128, residual: true, slack: 5 },
      { pixels: 4, cin: 96, cout: 40, zx: -128, zy: 3, slack: 3 },
      // a dense layer: batch 5 as its pixels, one multiplier for all units
      { pixels: 5, cin: 160, cout: 10, zx: -128, zy: 20, perTensor: true },
    ];
    const flags = (c: GemmCase): string => ['residual', 'slack', 'perTensor'].filter((f) => c[f as keyof GemmCase]).join(', ');
    for (const c of cases) it(`${c.pixels} pixels, ${c.cin} → ${c.cout}, zx ${c.zx}, zy ${c.zy} ${flags(c)}`, () => checkGemm(mode, c));

    it('a channel split: kernels for parts of the output channels, started at their first block, give the whole', async () => {
      const h = new Harness(mode.relaxed);
      const full: Int8GemmSpec = { cin: 21, cout: 37, dot: mode.dot };
      const blockChannels = int8GemmBlockChannels(full);
      const parts = [
        [0, 2 * blockChannels],
        [2 * blockChannels, 37 - 2 * blockChannels],
      ] as const;
      const k = await h.build((m) => parts.forEach(([, count], i) => emitInt8Gemm(m, `part${i}`, { ...full, cout: count, outputStride: 37 })));
      const w = randomWeights(21, 37, -128, 9, false);
      const x = int8s(6 * 21);
      const packed = h.bytes(packInt8GemmWeights(full, w));
      const xp = h.bytes(x);
      const y = h.output(6 * 37);
      parts.forEach(([first], i) => k[`part${i}`](xp, packed + (first / blockChannels) * int8GemmBlockBytes(full), y + first, 6, 0));
      assert.ok(parts.every(([, count]) => count > 0));
      assertBitEqual(h.read(y), reference(x, [1, 1, 6, 21], -128, w, [1, 1, 21, 37], conv1x1, null), 'channel split');
    });
  });
}

interface DepthwiseCase {
  batch: number;
  height: number;
  width: number;
  channels: number;
  kernel?: [number, number];
  strides: [number, number];
  dilations?: [number, number];
  padding: Padding4;
  zx: number;
  zy: number;
}

const depthwiseCases: DepthwiseCase[] = [
  { batch: 5, height: 7, width: 9, channels: 17, strides: [2, 2], padding: [1, 1, 1, 1], zx: -128, zy: 127 },
  { batch: 1, height: 1, width: 1, channels: 33, strides: [1, 1], padding: [1, 1, 1, 1], zx: 127, zy: -128 },
  { batch: 2, height: 6, width: 5, channels: 3, strides: [1, 1], padding: [1, 1, 1, 1], zx: 3, zy: -5 },
  { batch: 1, height: 9, width: 11, channels: 24, strides: [2, 2], padding: [0, 1, 0, 1], zx: -128, zy: -128 },
  { batch: 2, height: 8, width: 7, channels: 14, strides: [1, 1], dilations: [2, 2], padding: [2, 2, 2, 2], zx: 9, zy: 0 },
  { batch: 1, height: 5, width: 8, channels: 8, kernel: [5, 5], strides: [1, 2], padding: [2, 2, 1, 2], zx: -20, zy: 20 },
];

function depthwiseReference(c: DepthwiseCase, x: Int8Array, w: Int8ConvWeights): Int8Array {
  const [kh, kw] = c.kernel ?? [3, 3];
  const p: Conv2DParams = { strides: c.strides, dilations: c.dilations ?? [1, 1], padding: c.padding, groups: c.channels };
  return reference(x, [c.batch, c.height, c.width, c.channels], c.zx, w, [kh, kw, 1, c.channels], p, null);
}

const caseName = (c: DepthwiseCase): string =>
  `${c.batch}×${c.height}×${c.width}×${c.channels}, ${(c.kernel ?? [3, 3]).join('×')} stride ${c.strides.join('×')}${c.dilations ? ` dilation ${c.dilations.join('×')}` : ''}, padding [${c.padding.join(', ')}], zx ${c.zx}, zy ${c.zy}`;

for (const mode of MODES) {
  describe(`int8 depthwise (${mode.name})`, { skip: mode.skip }, () => {
    for (const c of depthwiseCases) {
      const kernel = c.kernel ?? [3, 3];
      const spec: Int8DepthwiseSpec = { height: c.height, width: c.width, channels: c.channels, kernel, strides: c.strides, dilations: c.dilations, padding: c.padding };
      const [oh, ow] = depthwiseOutputSize(spec);

      it(`whole tensor: ${caseName(c)}`, async () => {
        const h = new Harness(mode.relaxed);
        const k = await h.build((m) => emitInt8Depthwise(m, 'dw', spec));
        const w = randomWeights(kernel[0] * kernel[1], c.channels, c.zx, c.zy, false);
        const x = int8s(c.batch * c.height * c.width * c.channels);
        const y = h.output(c.batch * oh * ow * c.channels);
        k.dw(h.bytes(x), h.bytes(packInt8DepthwiseWeights(spec, w)), y, c.batch);
        assertBitEqual(h.read(y), depthwiseReference(c, x, w), caseName(c));
      });

      it(`row by row, padding rows at the zero point: ${caseName(c)}`, async () => {
        const h = new Harness(mode.relaxed);
        const [dh, dw] = c.dilations ?? [1, 1];
        const rowSpec = { width: c.width, channels: c.channels, kernel, stride: c.strides[1], dilation: dw, padLeft: c.padding[2], padRight: c.padding[3] };
        assert.equal(depthwiseRowOutputWidth(rowSpec), ow);
        const k = await h.build((m) => emitInt8DepthwiseRow(m, 'row', rowSpec));
        const w = randomWeights(kernel[0] * kernel[1], c.channels, c.zx, c.zy, false);
        const x = int8s(c.batch * c.height * c.width * c.channels);
        const rowBytes = c.width * c.channels;
        const xp = h.bytes(x);
        const zeroPointRow = h.bytes(new Int8Array(rowBytes).fill(c.zx));
        const packed = h.bytes(packInt8DepthwiseWeights(rowSpec, w));
        const y = h.output(c.batch * oh * ow * c.channels);
        for (let n = 0; n < c.batch; n++) {
          for (let oy = 0; oy < oh; oy++) {
            const rows = Array.from({ length: kernel[0] }, (_, ky) => {
              const r = oy * c.strides[0] - c.padding[0] + ky * dh;
              return r < 0 || r >= c.height ? zeroPointRow : xp + (n * c.height + r) * rowBytes;
            });
            k.row(...rows, packed, y + ((n * oh + oy) * ow) * c.channels);
          }
        }
        assertBitEqual(h.read(y), depthwiseReference(c, x, w), caseName(c));
      });
    }
  });
}

/** A bare module applying the epilogue to rows of 4 int32 accumulators (one per channel): requantize, then ADD a residual if given. */
async function epilogue(h: Harness, w: Int8ConvWeights, acc: readonly number[][], residual: Int8Array | null): Promise<Int8Array> {
  const withAdd = residual !== null;
  const k = await h.build((m) =>
    m.function('epilogue', ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
      const [accs, block, out, res, rows] = fn.params;
      const s = epilogueScratch(fn);
      const value = fn.local('v128');
      repeatWhile(fn, rows, () => {
        fn.get(accs).v128.load().set(value);
        emitRequantize(fn, value, { block, width: 4, residual: withAdd }, 0, s, withAdd ? () => loadInt8AsInt32(fn, res, 0, 4, s.other) : null);
        narrowToInt8(fn, [value], value);
        storeBytes(fn, out, 0, value, 4);
        for (const [p, bytes] of [[accs, 16], [out, 4], [res, 4]] as const) advance(fn, p, bytes);
      });
    }),
  );
  const packed = new Uint8Array(blockConstantBytes(4, withAdd));
  packBlockConstants(new DataView(packed.buffer), 0, w, { first: 0, count: 4, width: 4, kernelRows: 0, foldInputZeroPoint: true, residual: withAdd });
  const y = h.output(acc.length * 4);
  k.epilogue(h.bytes(new Uint8Array(Int32Array.from(acc.flat()).buffer)), h.bytes(packed), y, residual ? h.bytes(residual) : 0, acc.length);
  return h.read(y);
}

for (const mode of MODES) {
  describe(`int8 requantization epilogue (${mode.name})`, { skip: mode.skip }, () => {
    // channels: 0.5 (shift 0), 0.25 (right 1), 3 (left 2), 2^−24 (right 23)
    const requant = requantization([0.5, 0.25, 3, 2 ** -24], 0);
    const w = (r: Requantization, bias = [0, 0, 0, 0]): Int8ConvWeights => ({ kernel: new Int8Array(0), bias: Int32Array.from(bias), inputZeroPoint: 0, requant: r });

    it('hand-worked values: ties up in the doubling high multiply, away from zero in the shift, saturation at both ends', async () => {
      const acc = [
        [3, 6, 10, 2 ** 23],
        [-3, -6, -10, -(2 ** 23)],
        [5, 2, 50, 3 * 2 ** 23],
        [-5, -2, -50, 2 ** 23 - 1],
        [1, -1, 0, 2 ** 31 - 1],
        [-1, 1, -1, -(2 ** 31)],
      ];
      // 1.5 → 2 and −1.5 → −1 in SRDHM (x·m + 2^30 floored); ±1.5 → ±2, ±0.5 → ±1 in the rounding shift; rounding twice
      // takes (2^23 − 1)·2^−24 (0.49999994) to 0.5 and then 1, and 1·0.25 to 0.5 and then 1
      const expected = [
        [2, 2, 30, 1],
        [-1, -2, -30, -1],
        [3, 1, 127, 2],
        [-2, -1, -128, 1],
        [1, 0, 0, 127],
        [0, 1, -3, -128],
      ];
      const got = await epilogue(new Harness(mode.relaxed), w(requant), acc, null);
      assert.deepEqual([...got], expected.flat());
      assert.deepEqual([...got], [...requantizeFixed(Int32Array.from(acc.flat()), new Int32Array(4), requant)], 'the reference agrees');
    });

    it('a shift of 31: double rounding, 0.49999… → 1, as TFLite', async () => {
      const r = requantization([2 ** -32, 2 ** -32, 2 ** -32, 2 ** -32], 0);
      assert.equal(r.shift[0], -31);
      const acc = [[2 ** 31 - 1, -(2 ** 31), 2 ** 30, 2 ** 30 - 2 ** 8]];
      const got = await epilogue(new Harness(mode.relaxed), w(r), acc, null);
      assert.deepEqual([...got], [1, -1, 0, 0]);
      assert.deepEqual([...got], [...requantizeFixed(Int32Array.from(acc.flat()), new Int32Array(4), r)]);
    });

    it('the bias wraps in int32 as the reference; zero points at the int8 ends and a fused clamp', async () => {
      for (const [zeroPoint, range] of [[-128, [-128, -28]], [127, [-20, 127]], [-128, [-128, 127]]] as const) {
        const r = requantization([0.5, 0.25, 3, 2 ** -24], zeroPoint, range);
        const acc = Array.from({ length: 64 }, () => Array.from({ length: 4 }, () => int(-(2 ** 31), 2 ** 31 - 1) >> int(0, 31)));
        const bias = [2 ** 31 - 1, -(2 ** 31), 77, -(2 ** 24)];
        const got = await epilogue(new Harness(mode.relaxed), w(r, bias), [[1, -1, 0, 0], ...acc], null);
        assertBitEqual(got, requantizeFixed(Int32Array.from([[1, -1, 0, 0], ...acc].flat()), Int32Array.from(bias), r), `zero point ${zeroPoint}`);
      }
    });

    it("TFLite's ADD after it: hand-worked sums, then random operands against addFixed", async () => {
      const add = addRequantization({ scale: 0.5, zeroPoint: 0 }, { scale: 0.25, zeroPoint: 0 }, { scale: 1, zeroPoint: 0 });
      const identity = requantization([1, 1, 1, 1], 0);
      // a = acc (multiplier 1), b = residual: 0.5·a + 0.25·b, rounded once more by the ADD's own shifts
      const acc = [[4, 1, -1, 1], [-1, 100, -100, 0]];
      const residual = Int8Array.from([8, 1, -1, 0, 0, 127, -128, 1]);
      const got = await epilogue(new Harness(mode.relaxed), { ...w(identity), add }, acc, residual);
      assert.deepEqual([...got], [4, 1, -1, 1, -1, 82, -82, 0]);
      const sums = requantizeFixed(Int32Array.from(acc.flat()), new Int32Array(4), identity);
      assert.deepEqual([...got], [...addFixed(sums, residual, add)]);

      for (const zeroPoint of [-128, 127, 5]) {
        const r = randomRequant(4, 50, zeroPoint);
        const adds = randomAdd(zeroPoint);
        const accs = Array.from({ length: 50 }, () => Array.from({ length: 4 }, () => int(-60000, 60000)));
        const res = int8s(200);
        const out = await epilogue(new Harness(mode.relaxed), { ...w(r), add: adds }, accs, res);
        assertBitEqual(out, addFixed(requantizeFixed(Int32Array.from(accs.flat()), new Int32Array(4), r), res, adds), `add, zero point ${zeroPoint}`);
      }
    });
  });
}

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  cin: number;
  cout: number;
  kernel: [number, number];
  strides: [number, number];
  dilations?: [number, number];
  padding: Padding4;
  zx: number;
  zy: number;
}

const convCases: ConvCase[] = [
  { batch: 5, height: 9, width: 7, cin: 3, cout: 16, kernel: [3, 3], strides: [2, 2], padding: [0, 1, 0, 1], zx: -128, zy: 127 },
  { batch: 2, height: 5, width: 6, cin: 1, cout: 17, kernel: [3, 3], strides: [1, 1], padding: [1, 1, 1, 1], zx: 127, zy: -128 },
  { batch: 1, height: 1, width: 1, cin: 3, cout: 33, kernel: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1], zx: 4, zy: 0 },
  { batch: 2, height: 7, width: 8, cin: 6, cout: 9, kernel: [3, 3], strides: [1, 1], dilations: [2, 2], padding: [2, 2, 2, 2], zx: -3, zy: 3 },
  { batch: 1, height: 6, width: 11, cin: 5, cout: 8, kernel: [2, 5], strides: [2, 3], padding: [1, 0, 2, 2], zx: -128, zy: -128 },
];

const convName = (c: ConvCase): string =>
  `${c.batch}×${c.height}×${c.width}×${c.cin} → ${c.cout}, ${c.kernel.join('×')} stride ${c.strides.join('×')}${c.dilations ? ` dilation ${c.dilations.join('×')}` : ''}, padding [${c.padding.join(', ')}], zx ${c.zx}`;

for (const mode of MODES) {
  describe(`int8 standard convolution: im2col, then the GEMM (${mode.name}, ${mode.dot} dot)`, { skip: mode.skip }, () => {
    for (const c of convCases) {
      const [kh, kw] = c.kernel;
      const taps = kh * kw * c.cin;
      const spec: Int8Im2colSpec = { height: c.height, width: c.width, cin: c.cin, kernel: c.kernel, strides: c.strides, dilations: c.dilations, padding: c.padding, zeroPoint: c.zx };
      const gemm: Int8GemmSpec = { cin: taps, cout: c.cout, dot: mode.dot };
      const [oh, ow] = convOutputSize({ ...spec, cout: c.cout });

      for (const byRows of [false, true]) {
        it(`${byRows ? 'in row bands' : 'whole images'}: ${convName(c)}`, async () => {
          const h = new Harness(mode.relaxed);
          const k = await h.build((m) => {
            if (byRows) emitInt8Im2colRows(m, 'im2col', spec);
            else emitInt8Im2col(m, 'im2col', spec);
            emitInt8Gemm(m, 'gemm', gemm);
          });
          const w = randomWeights(taps, c.cout, c.zx, c.zy, false);
          const x = int8s(c.batch * c.height * c.width * c.cin);
          const xp = h.bytes(x);
          const col = h.output(c.batch * oh * ow * taps);
          if (!byRows) k.im2col(xp, col, c.batch);
          else {
            // bands of uneven heights, the last one the image's bottom
            for (let n = 0; n < c.batch; n++) {
              for (let first = 0, band = 1; first < oh; first += band, band++) {
                const count = Math.min(band, oh - first);
                k.im2col(xp + n * c.height * c.width * c.cin, col + ((n * oh + first) * ow) * taps, first, count);
              }
            }
          }
          h.read(col);
          const y = h.output(c.batch * oh * ow * c.cout);
          k.gemm(col, h.bytes(packInt8GemmWeights(gemm, w)), y, c.batch * oh * ow, 0);
          const p: Conv2DParams = { strides: c.strides, dilations: c.dilations ?? [1, 1], padding: c.padding, groups: 1 };
          assertBitEqual(h.read(y), reference(x, [c.batch, c.height, c.width, c.cin], c.zx, w, [kh, kw, c.cin, c.cout], p, null), convName(c));
        });
      }
    }
  });
}
