// The generated WebAssembly kernels against the plain-TS reference ops on awkward shapes (odd sizes,
// channel tails, stride 2, every padding, batch > 1), with plain SIMD and, where it validates, relaxed SIMD.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../../support/helpers.js';
import { ModuleBuilder, relaxedSimdSupported, simdSupported, type Label, type Local } from '../../../src/backend/wasm/assembler.js';
import { WasmRuntime, type Kernel } from '../../../src/backend/wasm/runtime.js';
import { type Clamp } from '../../../src/backend/wasm/kernels/common.js';
import { emitGemm, emitDense, packGemmWeights, type GemmSpec } from '../../../src/backend/wasm/kernels/gemm.js';
import { emitDepthwise, depthwiseOutputSize, packDepthwiseWeights, type DepthwiseSpec } from '../../../src/backend/wasm/kernels/depthwise.js';
import { emitConv, convOutputSize, packConvWeights, type ConvSpec } from '../../../src/backend/wasm/kernels/conv.js';
import { emitGlobalAvgPool } from '../../../src/backend/wasm/kernels/pool.js';
import { conv2d } from '../../../src/ops/conv2d.js';
import { dense } from '../../../src/ops/dense.js';
import { add } from '../../../src/ops/elementwise.js';
import { clip } from '../../../src/ops/activation.js';
import { globalAvgPool } from '../../../src/ops/pool.js';
import { resolvePadding, type PaddingMode } from '../../../src/ops/geometry.js';
import { Random } from '../../../src/tensor/random.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { SIMD_MODES, noSimd } from '../../support/wasm-modes.js';

const TOL = 1e-5;

const rng = new Random(20240607);
function randomTensor(shape: number[], std = 1): Tensor {
  const t = new Tensor(shape);
  rng.fillNormal(t.data, std);
  return t;
}

function randomBias(n: number, withBias: boolean): Float32Array | null {
  return withBias ? rng.fillNormal(new Float32Array(n), 1) : null;
}

function applyClamp(t: Tensor, clamp: Clamp | null | undefined): Tensor {
  return clamp ? clip(t, clamp[0], clamp[1]) : t;
}

// Outputs sit between guard bands: a kernel that writes past a channel tail or a tensor's end fails.
const GUARD = 16;
const SENTINEL = -7777.5;

class Harness {
  readonly rt = new WasmRuntime();
  private readonly outputs = new Map<number, number>();

  constructor(private readonly relaxed: boolean) {}

  async build(emit: (m: ModuleBuilder) => void): Promise<Record<string, Kernel>> {
    const m = this.rt.module({ relaxedSimd: this.relaxed });
    emit(m);
    return this.rt.instantiate(m);
  }

  output(length: number): number {
    const p = this.rt.allocF32(length + 2 * GUARD);
    this.rt.write(p, new Float32Array(length + 2 * GUARD).fill(SENTINEL));
    this.outputs.set(p + GUARD * 4, length);
    return p + GUARD * 4;
  }

  read(pointer: number, shape: number[]): Tensor {
    const length = this.outputs.get(pointer);
    if (length === undefined) throw new Error('read of a pointer that output() did not make');
    const all = this.rt.read(pointer - GUARD * 4, length + 2 * GUARD);
    const touched = [...all.subarray(0, GUARD), ...all.subarray(GUARD + length)].filter((v) => v !== SENTINEL).length;
    assert.equal(touched, 0, `kernel wrote ${touched} floats outside its output`);
    return new Tensor(shape, all.slice(GUARD, GUARD + length));
  }
}

interface PointwiseCase {
  shape: [number, number, number];
  batch?: number;
  cin: number;
  cout: number;
  bias?: boolean;
  clamp?: Clamp | null;
  residual?: boolean;
  tile?: GemmSpec['tile'];
  unroll?: number;
}

async function checkPointwise(relaxed: boolean, c: PointwiseCase): Promise<void> {
  const h = new Harness(relaxed);
  const n = c.batch ?? 1;
  const [oh, ow] = [c.shape[0], c.shape[1] * c.shape[2]];
  const spec: GemmSpec = { cin: c.cin, cout: c.cout, clamp: c.clamp, residual: c.residual, tile: c.tile, unroll: c.unroll };
  const k = await h.build((m) => emitGemm(m, 'pw', spec));
  const x = randomTensor([n, oh, ow, c.cin]);
  const kernel = randomTensor([1, 1, c.cin, c.cout], 1 / Math.sqrt(c.cin));
  const bias = randomBias(c.cout, c.bias ?? true);
  const residual = c.residual ? randomTensor([n, oh, ow, c.cout]) : null;
  let expected = conv2d(x, kernel, bias, { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 });
  if (residual) expected = add(expected, residual);
  expected = applyClamp(expected, c.clamp);
  const y = h.output(expected.size);
  k.pw(h.rt.upload(x.data), h.rt.upload(packGemmWeights(spec, kernel.data, bias)), y, n * oh * ow, residual ? h.rt.upload(residual.data) : 0);
  assertClose(h.read(y, [...expected.shape]), expected, TOL, 'pointwise');
}

/** A depthwise (cout = cin, one filter per channel) or stem convolution case. */
interface WindowCase {
  batch?: number;
  size: [number, number];
  cin: number;
  cout?: number;
  stride: number;
  padding: PaddingMode;
  kernel?: [number, number];
  bias?: boolean;
  clamp?: Clamp | null;
  group?: number;
  blockVectors?: number;
}

async function checkWindowed(relaxed: boolean, kind: 'depthwise' | 'conv', c: WindowCase): Promise<void> {
  const h = new Harness(relaxed);
  const n = c.batch ?? 1;
  const [height, width] = c.size;
  const depthwise = kind === 'depthwise';
  const cout = depthwise ? c.cin : (c.cout ?? c.cin);
  const kernelSize = c.kernel ?? [3, 3];
  const strides = [c.stride, c.stride] as const;
  const padding = resolvePadding(c.padding, height, width, { kernel: kernelSize, strides, dilations: [1, 1] });
  const x = randomTensor([n, height, width, c.cin]);
  const kernel = randomTensor([...kernelSize, depthwise ? 1 : c.cin, cout], 0.5);
  const bias = randomBias(cout, c.bias ?? true);
  const expected = applyClamp(conv2d(x, kernel, bias, { strides, dilations: [1, 1], padding, groups: depthwise ? c.cin : 1 }), c.clamp);
  const common = { height, width, kernel: kernelSize, strides, padding, clamp: c.clamp, group: c.group };
  let packed: Float32Array;
  let outputSize: [number, number];
  const k = await h.build((m) => {
    if (depthwise) {
      const spec: DepthwiseSpec = { ...common, channels: c.cin };
      emitDepthwise(m, kind, spec);
      packed = packDepthwiseWeights(spec, kernel.data, bias);
      outputSize = depthwiseOutputSize(spec);
    } else {
      const spec: ConvSpec = { ...common, cin: c.cin, cout, blockVectors: c.blockVectors };
      emitConv(m, kind, spec);
      packed = packConvWeights(spec, kernel.data, bias);
      outputSize = convOutputSize(spec);
    }
  });
  assert.deepEqual(outputSize!, expected.shape.slice(1, 3));
  const y = h.output(expected.size);
  k[kind](h.rt.upload(x.data), h.rt.upload(packed!), y, n);
  assertClose(h.read(y, [...expected.shape]), expected, TOL, kind);
}

const RELU6: Clamp = [0, 6];
const RELU: Clamp = [0, Infinity];

for (const mode of SIMD_MODES) {
  describe(`wasm kernels, ${mode.name}`, { skip: mode.skip }, () => {
    describe('pointwise 1×1 GEMM', () => {
      const cases: [string, PointwiseCase][] = [
        ['1 pixel, 1 → 1 channel', { shape: [1, 1, 1], cin: 1, cout: 1 }],
        ['3 → 5 channels, ReLU6, 15 pixels', { shape: [3, 5, 1], cin: 3, cout: 5, clamp: RELU6 }],
        ['13 → 17, ReLU, residual, 21 pixels', { shape: [7, 3, 1], cin: 13, cout: 17, clamp: RELU, residual: true }],
        ['33 → 8, no bias, no clamp', { shape: [5, 5, 1], cin: 33, cout: 8, bias: false }],
        ['17 → 33, batch 5, ReLU6 and residual', { shape: [3, 3, 1], batch: 5, cin: 17, cout: 33, clamp: RELU6, residual: true }],
        ['96 → 24, 14×14, residual (MobileNetV2 projection)', { shape: [14, 14, 1], cin: 96, cout: 24, residual: true }],
        ['5 → 13 with 1×1 tiles, unroll 2', { shape: [3, 3, 1], cin: 5, cout: 13, clamp: RELU6, tile: { pixels: 1, vectors: 1 }, unroll: 2 }],
        ['17 → 37 with 6×2 tiles, unroll 3', { shape: [5, 7, 1], cin: 17, cout: 37, residual: true, tile: { pixels: 6, vectors: 2 }, unroll: 3 }],
        ['3 → 50 with 3×3 tiles, unroll 4', { shape: [2, 5, 1], cin: 3, cout: 50, clamp: RELU6, tile: { pixels: 3, vectors: 3 }, unroll: 4 }],
      ];
      for (const [title, c] of cases) it(title, () => checkPointwise(mode.relaxed, c));

      it('reads and writes channel slices through pixel strides', async () => {
        const h = new Harness(mode.relaxed);
        const [pixels, cin, cout, xStride, yStride] = [11, 6, 7, 9, 10];
        const spec: GemmSpec = { cin, cout, inputStride: xStride, outputStride: yStride, clamp: RELU6 };
        const k = await h.build((m) => emitGemm(m, 'pw', spec));
        const wide = randomTensor([pixels, xStride]);
        const x = new Tensor([pixels, cin], new Float32Array(pixels * cin).map((_, i) => wide.data[Math.floor(i / cin) * xStride + (i % cin)]));
        const kernel = randomTensor([cin, cout]);
        const bias = randomBias(cout, true);
        const expected = applyClamp(dense(x, kernel, bias), RELU6);
        const y = h.output(pixels * yStride);
        k.pw(h.rt.upload(wide.data), h.rt.upload(packGemmWeights(spec, kernel.data, bias)), y, pixels, 0);
        const out = h.read(y, [pixels, yStride]);
        const got = new Tensor([pixels, cout], new Float32Array(pixels * cout).map((_, i) => out.data[Math.floor(i / cout) * yStride + (i % cout)]));
        assertClose(got, expected, TOL, 'strided pointwise');
        for (let p = 0; p < pixels; p++) for (let c = cout; c < yStride; c++) assert.equal(out.data[p * yStride + c], SENTINEL, 'channels past the slice untouched');
      });

      it('does nothing for zero pixels', async () => {
        const h = new Harness(mode.relaxed);
        const spec: GemmSpec = { cin: 4, cout: 4 };
        const k = await h.build((m) => emitGemm(m, 'pw', spec));
        const y = h.output(4);
        k.pw(h.rt.allocF32(4), h.rt.upload(packGemmWeights(spec, new Float32Array(16), null)), y, 0, 0);
        assert.ok(h.read(y, [4]).data.every((v) => v === SENTINEL));
      });
    });

    describe('dense', () => {
      for (const [batch, inputs, units] of [
        [1, 1280, 10],
        [3, 37, 1001],
        [5, 8, 3],
      ] as const) {
        it(`[${batch}, ${inputs}] → ${units} units`, async () => {
          const h = new Harness(mode.relaxed);
          let spec!: GemmSpec;
          const k = await h.build((m) => (spec = emitDense(m, 'fc', { inputs, units })));
          const x = randomTensor([batch, inputs]);
          const kernel = randomTensor([inputs, units], 1 / Math.sqrt(inputs));
          const bias = randomBias(units, true);
          const expected = dense(x, kernel, bias);
          const y = h.output(expected.size);
          k.fc(h.rt.upload(x.data), h.rt.upload(packGemmWeights(spec, kernel.data, bias)), y, batch, 0);
          assertClose(h.read(y, [batch, units]), expected, TOL, 'dense');
        });
      }
    });

    describe('depthwise', () => {
      const cases: [string, WindowCase][] = [
        ['3×3 s1, torch padding, 1 channel, 5×5', { size: [5, 5], cin: 1, stride: 1, padding: 'torch', clamp: RELU6 }],
        ['3×3 s1, torch padding, 13 channels, 7×6, batch 5', { batch: 5, size: [7, 6], cin: 13, stride: 1, padding: 'torch', clamp: RELU6 }],
        ['3×3 s2, torch padding, odd 7×9, 17 channels', { size: [7, 9], cin: 17, stride: 2, padding: 'torch', clamp: RELU6 }],
        ['3×3 s2, torch padding, even 8×8, 33 channels, no bias', { size: [8, 8], cin: 33, stride: 2, padding: 'torch', bias: false }],
        ['3×3 s2, same padding, even 8×6, 5 channels, batch 2', { batch: 2, size: [8, 6], cin: 5, stride: 2, padding: 'same', clamp: RELU }],
        ['3×3 s2, same padding, odd 9×7, 3 channels', { size: [9, 7], cin: 3, stride: 2, padding: 'same', clamp: RELU6 }],
        ['3×3 s1, same padding, 16 channels, 4×11', { size: [4, 11], cin: 16, stride: 1, padding: 'same' }],
        ['3×3 s1, valid padding, 6 channels, 6×5', { size: [6, 5], cin: 6, stride: 1, padding: 'valid', clamp: RELU6 }],
        ['3×3 s2, valid padding, 7 channels, 9×8', { size: [9, 8], cin: 7, stride: 2, padding: 'valid' }],
        ['3×3 s1, asymmetric padding [2, 0, 1, 3], 9 channels', { size: [5, 6], cin: 9, stride: 1, padding: [2, 0, 1, 3], clamp: RELU6 }],
        ['3×3 s2 on 1×1 input, 5 channels', { size: [1, 1], cin: 5, stride: 2, padding: 'torch' }],
        ['3×3 s1 on 2×2 input, 3 channels, batch 3', { batch: 3, size: [2, 2], cin: 3, stride: 1, padding: 'torch', clamp: RELU6 }],
        ['3×3 s1 on a 1-wide column, 4 channels', { size: [6, 1], cin: 4, stride: 1, padding: 'torch' }],
        ['5×5 s2, same padding, 10 channels, 11×10', { size: [11, 10], cin: 10, stride: 2, padding: 'same', kernel: [5, 5], clamp: RELU6 }],
        ['3×3 s1, two pixels per step, 7 channels', { size: [5, 7], cin: 7, stride: 1, padding: 'torch', group: 2 }],
        ['3×3 s1, three pixels per step, 11 channels, 5×8', { size: [5, 8], cin: 11, stride: 1, padding: 'torch', group: 3, clamp: RELU6 }],
        ['3×3 s1, padding wider than the kernel [3, 3, 3, 3], 2 channels', { size: [2, 3], cin: 2, stride: 1, padding: [3, 3, 3, 3] }],
      ];
      for (const [title, c] of cases) it(title, () => checkWindowed(mode.relaxed, 'depthwise', c));
    });

    describe('stem convolution', () => {
      const cases: [string, WindowCase][] = [
        ['3×3 s2, torch padding, RGB → 32, odd 11×9', { size: [11, 9], cin: 3, cout: 32, stride: 2, padding: 'torch', clamp: RELU6 }],
        ['3×3 s2, same padding, RGB → 32, even 10×12, batch 2', { batch: 2, size: [10, 12], cin: 3, cout: 32, stride: 2, padding: 'same', clamp: RELU6 }],
        ['3×3 s2, torch padding, grey → 13, even 8×8', { size: [8, 8], cin: 1, cout: 13, stride: 2, padding: 'torch', clamp: RELU }],
        ['3×3 s2, valid padding, RGB → 5, no bias, 2 pixels per step', { size: [9, 7], cin: 3, cout: 5, stride: 2, padding: 'valid', bias: false, group: 2 }],
        ['3×3 s1, torch padding, RGB → 17, 2-vector blocks, 3 pixels per step', { size: [5, 7], cin: 3, cout: 17, stride: 1, padding: 'torch', blockVectors: 2, group: 3 }],
        ['3×3 s2, same padding, RGB → 33 in blocks of 16, batch 5', { batch: 5, size: [7, 6], cin: 3, cout: 33, stride: 2, padding: 'same', clamp: RELU6 }],
        ['7×7 s2, same padding, RGB → 8, 1 pixel per step', { size: [13, 11], cin: 3, cout: 8, stride: 2, padding: 'same', kernel: [7, 7], group: 1 }],
      ];
      for (const [title, c] of cases) it(title, () => checkWindowed(mode.relaxed, 'conv', c));
    });

    describe('global average pool', () => {
      for (const [batch, hw, channels] of [
        [1, 49, 1280],
        [5, 9, 37],
        [2, 1, 3],
        [3, 25, 1],
        [1, 16, 33],
      ] as const) {
        it(`[${batch}, ${hw} pixels, ${channels}]`, async () => {
          const h = new Harness(mode.relaxed);
          const k = await h.build((m) => emitGlobalAvgPool(m, 'gap', { pixels: hw, channels }));
          const x = randomTensor([batch, hw, 1, channels]);
          const expected = globalAvgPool(x);
          const y = h.output(expected.size);
          k.gap(h.rt.upload(x.data), y, batch);
          assertClose(h.read(y, [batch, channels]), expected, TOL, 'globalAvgPool');
        });
      }
    });

    it('one module holds many kernels, shared memory included', { skip: typeof SharedArrayBuffer === 'undefined' && 'no SharedArrayBuffer' }, async () => {
      const rt = new WasmRuntime({ shared: true, maximumBytes: 1 << 24 });
      assert.equal(rt.shared, true);
      const m = rt.module({ relaxedSimd: mode.relaxed });
      const pw: GemmSpec = { cin: 5, cout: 6, clamp: RELU6 };
      emitGemm(m, 'pw', pw);
      emitGlobalAvgPool(m, 'gap', { pixels: 4, channels: 6 });
      const k = await rt.instantiate(m);
      const x = randomTensor([1, 2, 2, 5]);
      const kernel = randomTensor([1, 1, 5, 6]);
      const expected = globalAvgPool(applyClamp(conv2d(x, kernel, null, { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 }), RELU6));
      const mid = rt.allocF32(24);
      const y = rt.allocF32(6);
      k.pw(rt.upload(x.data), rt.upload(packGemmWeights(pw, kernel.data, null)), mid, 4, 0);
      k.gap(mid, y, 1);
      assertClose(new Tensor([1, 6], rt.read(y, 6)), expected, TOL, 'pointwise then pool');
    });
  });
}

describe('wasm assembler', { skip: noSimd }, () => {
  it('encodes i32 immediates of every LEB128 length, signed', () => {
    const values = [0, 1, 63, 64, -1, -64, -65, 8191, -8192, 2 ** 31 - 1, -(2 ** 31), 123456789, -987654321];
    const m = new ModuleBuilder();
    values.forEach((v, i) => m.function(`c${i}`, [], ['i32'], (fn) => fn.i32.const(v)));
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(m.bytes()));
    values.forEach((v, i) => assert.equal((exports[`c${i}`] as () => number)(), v));
  });

  it('encodes large memory offsets and lane stores', () => {
    const rt = new WasmRuntime({ initialBytes: 4 << 16 });
    const m = rt.module({ relaxedSimd: false });
    m.function('copy', ['i32', 'i32'], [], (fn) => {
      const [src, dst] = fn.params as [Local, Local];
      fn.get(dst).get(src).v128.load(200_000).v128.store(100_000);
      fn.get(dst).get(src).v128.load(200_000).v128.store32_lane(100_020, 3);
    });
    const k = rt.instantiateSync(m);
    rt.write(200_064, new Float32Array([1, 2, 3, 4]));
    k.copy(64, 0);
    assert.deepEqual([...rt.read(100_000, 6)], [1, 2, 3, 4, 0, 4]);
  });

  it('refuses branches to closed blocks, unclosed bodies and relaxed ops without the flag', () => {
    const m = new ModuleBuilder();
    assert.throws(() =>
      m.function('bad', [], [], (fn) => {
        let outer!: Label;
        fn.block((l) => (outer = l));
        fn.br(outer);
      }),
    );
    assert.throws(() => m.function('relaxed', [], [], (fn) => fn.f32x4.relaxed_madd()), /relaxedSimd/);
  });

  it('detects features without throwing', () => {
    assert.equal(typeof simdSupported(), 'boolean');
    assert.equal(typeof relaxedSimdSupported(), 'boolean');
    if (relaxedSimdSupported()) assert.ok(simdSupported());
  });
});

describe('wasm runtime', () => {
  it('aligns, grows and resets its bump allocator', () => {
    const rt = new WasmRuntime({ initialBytes: 1 });
    const a = rt.alloc(3, 16);
    const b = rt.alloc(5, 64);
    assert.ok(a > 0 && a % 16 === 0 && b % 64 === 0 && b >= a + 3);
    const mark = rt.used;
    const big = rt.allocF32(100_000);
    assert.ok(rt.memory.buffer.byteLength >= big + 400_000, 'memory grew');
    rt.write(big, new Float32Array([1.5, 2.5]));
    assert.deepEqual([...rt.read(big, 2)], [1.5, 2.5]);
    rt.reset(mark);
    assert.equal(rt.alloc(1, 64), Math.ceil(mark / 64) * 64);
    assert.throws(() => rt.alloc(8, 3), /power of two/);
    const small = new WasmRuntime({ maximumBytes: 1 << 17 });
    assert.throws(() => small.alloc(1 << 18), /growth/);
  });
});
