// The int8 WebAssembly kernels on bare runtime modules, bit-equal to the reference int8 ops (conv2dInt8Accumulate +
// requantizeFixed, addFixed) on awkward shapes, zero points at the int8 ends and shifts on both sides, relaxed and portable.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModuleBuilder } from '../../../src/backend/wasm/assembler.js';
import { WasmRuntime, type Kernel } from '../../../src/backend/wasm/runtime.js';
import { type Int8Dot, emitInt8Gemm, int8GemmBlockBytes, int8GemmBlockChannels, packInt8GemmWeights, type Int8GemmSpec } from '../../../src/backend/wasm/kernels/int8-gemm.js';
import type { Int8ConvWeights } from '../../../src/backend/wasm/kernels/int8-epilogue.js';
import { addFixed, conv2dInt8Accumulate, requantizeFixed } from '../../../src/quant/int8-ops.js';
import { type AddRequantization, type Requantization, addRequantization, requantization } from '../../../src/quant/fixed-point.js';
import type { Conv2DParams } from '../../../src/ops/conv2d.js';
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
}

async function checkGemm(mode: (typeof MODES)[number], c: GemmCase): Promise<void> {
  const h = new Harness(mode.relaxed);
  const slack = c.slack ?? 0;
  const spec: Int8GemmSpec = { cin: c.cin, cout: c.cout, dot: mode.dot, residual: c.residual, inputStride: c.cin + slack, outputStride: c.cout + slack, residualStride: c.cout + slack };
  const k = await h.build((m) => emitInt8Gemm(m, 'gemm', spec));
  const w = randomWeights(c.cin, c.cout, c.zx, c.zy, c.residual ?? false, c.range);
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
    ];
    for (const c of cases) it(`${c.pixels} pixels, ${c.cin} → ${c.cout}, zx ${c.zx}, zy ${c.zy}${c.residual ? ', residual' : ''}${c.slack ? ', strided' : ''}`, () => checkGemm(mode, c));

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
