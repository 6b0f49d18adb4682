// WebAssembly SIMD kernels for int8 convolutions without groups (pointwise, dense, and standard ones through im2col):
// int16 products summed pairwise by i32x4.dot_i16x8_s, and the requantizing epilogue in float64 lanes, equal to the reference.

import type { FunctionBuilder, Local, ModuleBuilder } from '../backend/wasm/assembler.js';
import { simdSupported } from '../backend/wasm/assembler.js';
import { WasmRuntime } from '../backend/wasm/runtime.js';
import type { Kernel } from '../backend/wasm/runtime.js';
import { advance, repeat, repeatWhile } from '../backend/wasm/kernels/common.js';
import { ShapeError } from '../errors.js';
import { conv2dOutputShape, forEachWindowTap } from '../ops/conv2d.js';
import { convKind } from '../ops/conv-kind.js';
import { formatShape } from '../tensor/tensor.js';
import type { Int8Tensor } from './int8-ops.js';
import type { Int8ConvStep, QuantizedModel } from './quantized-model.js';

/** Output channels per block: one i32x4 of accumulators. */
const BLOCK = 4;
/** Pixels per register tile: four accumulators share each weight vector. */
const TILE = 4;

export interface Int8GemmSpec {
  /** Reduction length rounded up to even (pairs of int16 per dot lane). */
  k2: number;
  /** Output-channel blocks of 4. */
  blocks: number;
  residual: boolean;
}

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;

interface RequantizeEmit {
  /** Push the address of the block's 4 int32 biases, and of its 4 float64 multipliers. */
  bias: () => void;
  mult: () => void;
  /** The block's 4 centred int16 residual values: pushed address + offset, times `rm`. */
  residual: { at: () => void; offset: number; rm: Local } | null;
  /** Push the address the 4 int8 outputs go to (+ outOffset). */
  out: () => void;
  outOffset: number;
  zy: Local;
  loZ: Local;
  hiZ: Local;
  /** Three v128 locals to work in. */
  scratch: [Local, Local, Local];
}

const SWAP_HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];

/**
 * Emits the requantizing epilogue of one block of 4 channels held in `acc` (int32 sums of products): as the reference
 * `requantize`, in float64 lanes, rounded half to even, clamped and offset by the zero point, stored as 4 int8.
 */
function emitRequantize(fn: FunctionBuilder, acc: Local, e: RequantizeEmit): void {
  const [lo, hi, half] = e.scratch;
  fn.get(acc);
  e.bias();
  fn.v128.load().i32x4.add().set(acc);
  const halfOf = (upper: boolean, target: Local): void => {
    fn.get(acc);
    if (upper) fn.get(acc).i8x16.shuffle(SWAP_HALVES);
    fn.f64x2.convert_low_i32x4_s();
    e.mult();
    fn.v128.load(upper ? 16 : 0).f64x2.mul();
    if (e.residual) {
      e.residual.at();
      fn.v128.load16x4_s(e.residual.offset);
      if (upper) fn.set(half).get(half).get(half).i8x16.shuffle(SWAP_HALVES);
      fn.f64x2.convert_low_i32x4_s().get(e.residual.rm).f64x2.splat().f64x2.mul().f64x2.add();
    }
    fn.f64x2.nearest().i32x4.trunc_sat_f64x2_s_zero().set(target);
  };
  halfOf(false, lo);
  halfOf(true, hi);
  fn.get(lo).get(hi).i8x16.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
  fn.get(e.loZ).i32x4.splat().i32x4.max_s().get(e.hiZ).i32x4.splat().i32x4.min_s();
  fn.get(e.zy).i32x4.splat().i32x4.add();
  fn.set(lo).get(lo).get(lo).i16x8.narrow_i32x4_s().set(lo).get(lo).get(lo).i8x16.narrow_i16x8_s().set(lo);
  e.out();
  fn.get(lo).v128.store32_lane(e.outOffset, 0);
}

/**
 * Emits `name(x, w, bias, mult, y, pixels, residual, zy, loZ, hiZ, rm)`:
 * y[p, c] = zy + clamp(round((Σ_k x[p, k]·w[k, c] + bias[c])·mult[c] + residual[p, c]·rm), loZ, hiZ) as int8, where x and
 * residual are centred int16 (q − zero point; rows of k2 and blocks·4), w is packed by `packInt8Gemm`, bias int32 and
 * mult float64 per padded channel, y int8 rows of blocks·4. Rounding is to nearest, ties to even (f64x2.nearest).
 */
export function emitInt8Gemm(mod: ModuleBuilder, name: string, spec: Int8GemmSpec): void {
  const { k2, blocks, residual } = spec;
  const cout4 = blocks * BLOCK;
  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f64'], [], (fn) => {
    const [xRow, w, bias, mult, yRow, pixels, rRow, zy, loZ, hiZ, rm] = fn.params as Local[];
    const tiles = fn.local('i32');
    const rest = fn.local('i32');
    const b = fn.local('i32');
    const wp = fn.local('i32');
    const xp = fn.local('i32');
    const j = fn.local('i32');
    const boff = fn.local('i32');
    const wv = fn.local('v128');
    const lo = fn.local('v128');
    const hi = fn.local('v128');
    const acc = Array.from({ length: TILE }, () => fn.local('v128'));
    const half = fn.local('v128');

    const epilogue = (p: number): void =>
      emitRequantize(fn, acc[p], {
        bias: () => fn.get(bias).get(boff).i32.add(),
        mult: () => fn.get(mult).get(boff).i32.const(1).i32.shl().i32.add(),
        residual: residual ? { at: () => fn.get(rRow).get(boff).i32.const(1).i32.shr_u().i32.add(), offset: p * cout4 * 2, rm } : null,
        out: () => fn.get(yRow).get(boff).i32.const(2).i32.shr_u().i32.add(),
        outOffset: p * cout4,
        zy,
        loZ,
        hiZ,
        scratch: [lo, hi, half],
      });

    /** `rows` pixels from xRow/yRow/rRow across all blocks. */
    const emitRows = (rows: number): void => {
      fn.i32.const(0).set(b);
      fn.get(w).set(wp);
      fn.loop((nextBlock) => {
        // boff = b·16: bytes of one block's int32 bias; float64 multipliers are at 2·boff, int8 outputs at boff/4
        fn.get(b).i32.const(16).i32.mul().set(boff);
        for (let p = 0; p < rows; p++) fn.i32.const(0).i32x4.splat().set(acc[p]);
        fn.get(xRow).set(xp);
        fn.i32.const(k2 / 2).set(j);
        fn.loop((nextPair) => {
          fn.get(wp).v128.load().set(wv);
          for (let p = 0; p < rows; p++) {
            fn.get(acc[p]).get(xp).v128.load32_splat(p * k2 * 2).get(wv).i32x4.dot_i16x8_s().i32x4.add().set(acc[p]);
          }
          advance(fn, wp, 16);
          advance(fn, xp, 4);
          fn.get(j).i32.const(1).i32.sub().tee(j).brIf(nextPair);
        });
        for (let p = 0; p < rows; p++) epilogue(p);
        fn.get(b).i32.const(1).i32.add().tee(b).i32.const(blocks).i32.lt_u().brIf(nextBlock);
      });
      advance(fn, xRow, rows * k2 * 2);
      advance(fn, yRow, rows * cout4);
      if (residual) advance(fn, rRow, rows * cout4 * 2);
    };

    fn.get(pixels).i32.const(TILE).i32.div_u().set(tiles);
    fn.get(pixels).i32.const(TILE).i32.rem_u().set(rest);
    repeatWhile(fn, tiles, () => emitRows(TILE));
    repeatWhile(fn, rest, () => emitRows(1));
  });
}

/**
 * Emits `widen(src, dst, rows, width, srcStride, dstStride, z)`: dst[r·dstStride + c] = src[r·srcStride + c] − z as int16, for
 * c < width, eight at a time: up to 7 elements past a row's width are read and written too (callers leave room, and
 * the weights of those positions are zero or the next row overwrites them).
 */
export function emitWiden(mod: ModuleBuilder, name: string): void {
  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [src, dst, rows, width, srcStride, dstStride, z] = fn.params as Local[];
    const s = fn.local('i32');
    const d = fn.local('i32');
    const n = fn.local('i32');
    const zs = fn.local('v128');
    fn.get(z).i16x8.splat().set(zs);
    repeatWhile(fn, rows, () => {
      fn.get(src).set(s);
      fn.get(dst).set(d);
      fn.get(width).i32.const(7).i32.add().i32.const(8).i32.div_u().set(n);
      repeatWhile(fn, n, () => {
        fn.get(d).get(s).v128.load8x8_s().get(zs).i16x8.sub().v128.store();
        advance(fn, s, 8);
        advance(fn, d, 16);
      });
      fn.get(src).get(srcStride).i32.add().set(src);
      fn.get(dst).get(dstStride).i32.const(1).i32.shl().i32.add().set(dst);
    });
  });
}

/** A depthwise step's geometry, baked into its kernel. */
export interface Int8DepthwiseSpec {
  kh: number;
  kw: number;
  strides: readonly [number, number];
  dilations: readonly [number, number];
  /** Padded input height and width; channels rounded up to 8. */
  hp: number;
  wp: number;
  c8: number;
  oh: number;
  ow: number;
}

/**
 * Emits `name(x, w, bias, mult, y, images, zy, loZ, hiZ)` for a depthwise convolution: x is centred int16
 * [images, hp, wp, c8] with its padding already in place (zeros), w int16 [kh·kw, c8], bias int32 and mult float64 per
 * channel, y int8 [images, oh, ow, c8]; products by i32x4.extmul of int16 lanes, the epilogue as the GEMM's.
 */
export function emitInt8Depthwise(mod: ModuleBuilder, name: string, spec: Int8DepthwiseSpec): void {
  const { kh, kw, strides, dilations, wp: width, c8, oh, ow } = spec;
  const pixelBytes = c8 * 2;
  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, w, bias, mult, y, images, zy, loZ, hiZ] = fn.params as Local[];
    const image = fn.local('i32');
    const row = fn.local('i32');
    const pixel = fn.local('i32');
    const xp = fn.local('i32');
    const wq = fn.local('i32');
    const bp = fn.local('i32');
    const mp = fn.local('i32');
    const xv = fn.local('v128');
    const wv = fn.local('v128');
    const accLo = fn.local('v128');
    const accHi = fn.local('v128');
    const scratch: [Local, Local, Local] = [fn.local('v128'), fn.local('v128'), fn.local('v128')];
    const epilogue = (acc: Local, upper: boolean): void =>
      emitRequantize(fn, acc, {
        bias: () => fn.get(bp).i32.const(upper ? 16 : 0).i32.add(),
        mult: () => fn.get(mp).i32.const(upper ? 32 : 0).i32.add(),
        residual: null,
        out: () => fn.get(y),
        outOffset: upper ? 4 : 0,
        zy,
        loZ,
        hiZ,
        scratch,
      });
    fn.get(x).set(image);
    repeatWhile(fn, images, () => {
      fn.get(image).set(row);
      repeat(fn, oh, () => {
        fn.get(row).set(pixel);
        repeat(fn, ow, () => {
          fn.get(pixel).set(xp);
          fn.get(w).set(wq);
          fn.get(bias).set(bp);
          fn.get(mult).set(mp);
          repeat(fn, c8 / 8, () => {
            fn.i32.const(0).i32x4.splat().tee(accLo).set(accHi);
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                fn.get(xp).v128.load((ky * dilations[0] * width + kx * dilations[1]) * pixelBytes).set(xv);
                fn.get(wq).v128.load((ky * kw + kx) * pixelBytes).set(wv);
                fn.get(accLo).get(xv).get(wv).i32x4.extmul_low_i16x8_s().i32x4.add().set(accLo);
                fn.get(accHi).get(xv).get(wv).i32x4.extmul_high_i16x8_s().i32x4.add().set(accHi);
              }
            }
            epilogue(accLo, false);
            epilogue(accHi, true);
            advance(fn, xp, 16);
            advance(fn, wq, 16);
            advance(fn, bp, 32);
            advance(fn, mp, 64);
            advance(fn, y, 8);
          });
          advance(fn, pixel, strides[1] * pixelBytes);
        });
        advance(fn, row, strides[0] * width * pixelBytes);
      });
      advance(fn, image, spec.hp * width * pixelBytes);
    });
  });
}

/** A depthwise kernel [kh, kw, 1, C] as int16 [kh·kw, c8], channels zero-padded. */
function packInt8Depthwise(q: Int8Array, taps: number, c: number, c8: number): Int16Array {
  const out = new Int16Array(taps * c8);
  for (let t = 0; t < taps; t++) for (let ch = 0; ch < c; ch++) out[t * c8 + ch] = q[t * c + ch];
  return out;
}

/** Packs a [k, cout] int8 kernel as int16 vectors: per block of 4 channels, per pair of rows, [w(2j, c), w(2j+1, c)] for c in the block. */
export function packInt8Gemm(q: Int8Array, k: number, cout: number): Int16Array {
  const k2 = roundUp(k, 2);
  const blocks = Math.ceil(cout / BLOCK);
  const out = new Int16Array(blocks * (k2 / 2) * 8);
  for (let b = 0; b < blocks; b++) {
    for (let j = 0; j < k2 / 2; j++) {
      for (let c = 0; c < BLOCK; c++) {
        const co = b * BLOCK + c;
        if (co >= cout) continue;
        const at = (b * (k2 / 2) + j) * 8 + 2 * c;
        out[at] = q[2 * j * cout + co];
        if (2 * j + 1 < k) out[at + 1] = q[(2 * j + 1) * cout + co];
      }
    }
  }
  return out;
}

/** A step packed for the kernels: its kernel's name, weights, int32 biases and float64 multipliers in memory. */
interface Prepared {
  kernel: string;
  w: number;
  bias: number;
  mult: number;
  /** Output channels, and as padded in memory. */
  cout: number;
  coutPadded: number;
  /** The input as the kernel reads it: rows of centred int16 (gemm: pointwise rows or im2col), or padded images (depthwise). */
  layout: { kind: 'rows'; k: number; k2: number; im2col: boolean } | { kind: 'padded'; spec: Int8DepthwiseSpec };
}

const WIDEN = 'widen';

/** Widest reduction for which (x − zx)·w sums and the bias fit int32 in the kernel: 255·127 per term. */
const MAX_K = Math.floor((2 ** 31 - 1) / 2 / (255 * 127));

/** How a step runs on these kernels, or null where the reference takes it (grouped convolutions, reductions too wide for int32). */
function planStep(s: Int8ConvStep, inShape: readonly number[]): { name: string; emit: (mod: ModuleBuilder, name: string) => void; pack: () => Int16Array; layout: Prepared['layout']; coutPadded: number } | null {
  const [kh, kw, cin, cout] = s.kernelShape;
  if (s.requantize.bias.some((v) => Math.abs(v) > 2 ** 30)) return null;
  const kind = convKind(s.kernelShape, s.conv);
  if (kind === 'pointwise' || kind === 'standard') {
    const k = kh * kw * cin;
    if (k > MAX_K) return null;
    const spec: Int8GemmSpec = { k2: roundUp(k, 2), blocks: Math.ceil(cout / BLOCK), residual: s.residual !== null };
    return {
      name: `gemm_${spec.k2}_${spec.blocks}_${spec.residual ? 'r' : 'n'}`,
      emit: (mod, name) => emitInt8Gemm(mod, name, spec),
      pack: () => packInt8Gemm(s.weights.q, k, cout),
      layout: { kind: 'rows', k, k2: spec.k2, im2col: kind === 'standard' && !s.dense },
      coutPadded: spec.blocks * BLOCK,
    };
  }
  if (kind === 'depthwise' && s.residual === null && kh * kw <= 64) {
    const [h, w] = inShape;
    const [top, bottom, left, right] = s.conv.padding;
    const [, oh, ow] = conv2dOutputShape([1, ...inShape], s.kernelShape, null, s.conv, 'int8 depthwise');
    const spec: Int8DepthwiseSpec = { kh, kw, strides: s.conv.strides, dilations: s.conv.dilations, hp: h + top + bottom, wp: w + left + right, c8: roundUp(cout, 8), oh, ow };
    return {
      name: `dw_${Object.values(spec).join('_').replaceAll(',', 'x')}`,
      emit: (mod, name) => emitInt8Depthwise(mod, name, spec),
      pack: () => packInt8Depthwise(s.weights.q, kh * kw, cout, spec.c8),
      layout: { kind: 'padded', spec },
      coutPadded: spec.c8,
    };
  }
  return null;
}

/**
 * The int8 convolutions the WebAssembly kernels run (standard, pointwise, dense through a GEMM; depthwise), packed into
 * one memory at creation; `conv` runs one of them on a batch, equal to the reference, or returns null for the others.
 */
export class WasmInt8Kernels {
  private constructor(
    private readonly runtime: WasmRuntime,
    private readonly kernels: Record<string, Kernel>,
    private readonly prepared: Map<Int8ConvStep, Prepared>,
  ) {}

  static supported(): boolean {
    return simdSupported();
  }

  /** Emits, compiles and packs the kernels of the int8 convolutions of `model` that they take. */
  static async create(model: Pick<QuantizedModel, 'int8ConvSteps'> & { parts: { plan: { tensors: readonly { shape: readonly number[] }[] } } }): Promise<WasmInt8Kernels> {
    const tensors = model.parts.plan.tensors;
    const steps = model.int8ConvSteps;
    const inputShape = (s: Int8ConvStep): readonly number[] => (s.dense ? [1, 1, s.kernelShape[2]] : tensors[s.inputs[0]].shape);
    const runtime = new WasmRuntime();
    const mod = runtime.module({ relaxedSimd: false });
    const emitted = new Set<string>([WIDEN]);
    emitWiden(mod, WIDEN);
    const prepared = new Map<Int8ConvStep, Prepared>();
    const place = (a: ArrayBufferView): number => {
      const at = runtime.alloc(a.byteLength, 16);
      new Uint8Array(runtime.memory.buffer, at, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return at;
    };
    for (const s of steps) {
      const plan = planStep(s, inputShape(s));
      if (!plan) continue;
      if (!emitted.has(plan.name)) plan.emit(mod, plan.name);
      emitted.add(plan.name);
      const bias = new Int32Array(plan.coutPadded);
      bias.set(s.requantize.bias);
      const mult = new Float64Array(plan.coutPadded);
      mult.set(s.requantize.multipliers);
      const cout = s.kernelShape[3];
      prepared.set(s, { kernel: plan.name, w: place(plan.pack()), bias: place(bias), mult: place(mult), cout, coutPadded: plan.coutPadded, layout: plan.layout });
    }
    const kernels = prepared.size > 0 ? await runtime.instantiate(mod) : {};
    return new WasmInt8Kernels(runtime, kernels, prepared);
  }

  /** Steps these kernels run. */
  get size(): number {
    return this.prepared.size;
  }

  /** Runs step `s` on `x` (shaped for it: NHWC, or [N, 1, 1, in] for dense); null if the step is not one of ours. */
  conv(s: Int8ConvStep, x: Int8Tensor, residual: Int8Tensor | null): Int8Tensor | null {
    const g = this.prepared.get(s);
    if (!g) return null;
    const shape = conv2dOutputShape(x.shape, s.kernelShape, null, s.conv, 'int8 conv2d');
    const [top, bottom, left, right] = s.conv.padding;
    if (g.layout.kind === 'padded' && (x.shape[1] + top + bottom !== g.layout.spec.hp || x.shape[2] + left + right !== g.layout.spec.wp)) {
      throw new ShapeError(`int8 depthwise ${s.layers[0]}: input ${formatShape(x.shape)} is not the size its kernel was made for`);
    }
    const pixels = shape[0] * shape[1] * shape[2];
    const mark = this.runtime.used;
    try {
      const layout = g.layout;
      const r = s.requantize;
      const zy = r.out.zeroPoint;
      const widen = this.kernels[WIDEN];
      const inputElements = layout.kind === 'rows' ? pixels * layout.k2 : shape[0] * layout.spec.hp * layout.spec.wp * layout.spec.c8;
      const xp = this.runtime.alloc(inputElements * 2 + 16, 16);
      const yp = this.runtime.alloc(pixels * g.coutPadded, 16);
      const rp = residual ? this.runtime.alloc(pixels * g.coutPadded * 2 + 16, 16) : 0;
      // int8 tensors are copied in as they are (with 8 bytes of slack for the widening's last reads), then widened in wasm
      const upload = (t: Int8Tensor): number => {
        const at = this.runtime.alloc(t.data.length + 8, 16);
        new Int8Array(this.runtime.memory.buffer, at, t.data.length).set(t.data);
        return at;
      };
      const src = layout.kind === 'rows' && layout.im2col ? 0 : upload(x);
      const rsrc = residual ? upload(residual) : 0;
      const buffer = this.runtime.memory.buffer;
      if (layout.kind === 'padded') {
        const { hp, wp, c8 } = layout.spec;
        const [n, h, w, c] = x.shape as [number, number, number, number];
        new Int16Array(buffer, xp, inputElements).fill(0);
        for (let b = 0; b < n; b++) {
          for (let iy = 0; iy < h; iy++) widen(src + (b * h + iy) * w * c, xp + 2 * ((b * hp + iy + top) * wp + left) * c8, w, c, c, c8, x.params.zeroPoint);
        }
        this.kernels[g.kernel](xp, g.w, g.bias, g.mult, yp, shape[0], zy, r.range[0] - zy, r.range[1] - zy);
      } else {
        if (layout.im2col) im2col(x, s, shape, new Int16Array(buffer, xp, inputElements), layout.k2);
        else widen(src, xp, pixels, layout.k, layout.k, layout.k2, x.params.zeroPoint);
        if (residual) widen(rsrc, rp, pixels, g.cout, g.cout, g.coutPadded, residual.params.zeroPoint);
        this.kernels[g.kernel](xp, g.w, g.bias, g.mult, yp, pixels, rp, zy, r.range[0] - zy, r.range[1] - zy, r.residualMultiplier ?? 0);
      }
      const y = new Int8Array(this.runtime.memory.buffer, yp, pixels * g.coutPadded);
      const out = g.coutPadded === g.cout ? y.slice() : strip(y, g.cout, g.coutPadded, pixels);
      return { shape, data: out, params: r.out };
    } finally {
      this.runtime.reset(mark);
    }
  }
}

function strip(y: Int8Array, cout: number, cout4: number, pixels: number): Int8Array {
  const out = new Int8Array(pixels * cout);
  for (let p = 0; p < pixels; p++) out.set(y.subarray(p * cout4, p * cout4 + cout), p * cout);
  return out;
}

/** Each output pixel's window as one centred int16 row (ky, kx, ci order, as HWIO kernels flatten); padding is 0. */
function im2col(x: Int8Tensor, s: Int8ConvStep, shape: readonly number[], out: Int16Array, k2: number): void {
  const c = x.shape[3];
  const z = x.params.zeroPoint;
  out.fill(0);
  forEachWindowTap(x.shape, shape, s.kernelShape, s.conv, (row, tap, at) => {
    const to = row * k2 + tap * c;
    for (let ci = 0; ci < c; ci++) out[to + ci] = x.data[at * c + ci] - z;
  });
}
