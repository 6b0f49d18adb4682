// Int8 pointwise convolutions, dense layers and (after int8-im2col) standard ones as one register-blocked GEMM: int32 sums of
// x·w on the relaxed integer dot product, or portably on i32x4.dot_i16x8_s, then TFLite's requantization (and ADD) fused.

import type { Local, ModuleBuilder } from '../assembler.js';
import { ConfigError, ShapeError } from '../../../errors.js';
import { LANES, V128, advance, channelBlocks, checkPositiveInts, offsetPointer, repeat, repeatWhile } from './common.js';
import { DEFAULT_GEMM_TILE } from './gemm.js';
import type { GemmTile } from './gemm.js';
import { type Int8ConvWeights, blockConstantBytes, emitRequantize, epilogueScratch, loadInt8AsInt32, narrowToInt8, packBlockConstants, storeBytes } from './int8-epilogue.js';

/**
 * How int8 products are summed:
 *  - 'relaxed': i16x8.relaxed_dot_i8x16_i7x16_s, then widened to int32. Its second operand must lie in [0, 127] to give the
 *    same result on every engine, so each weight is split at pack time into w = lo − 128·hi with lo = w & 127 and hi = (w < 0),
 *    exact for every int8 w (−128 included). Per 4 inputs: the int16 pair sums of x·lo (|x| ≤ 128, lo ≤ 127: at most 32,512
 *    in magnitude, so no engine saturates or wraps them) widened by extadd_pairwise, and those of x·hi widened by
 *    i32x4.dot_i16x8_s with −128: Σx·w exactly, in one int32 accumulator, wrapping as the reference's int32 arithmetic does.
 *    (The fused i32x4.relaxed_dot_i8x16_i7x16_add_s is the same pmaddubsw/pmaddwd/paddd on x64 without VNNI, and the baseline
 *    compiler of V8 11.3 (Liftoff; Node 20, behind its flag) returned 2·dot instead of dot + c here where c was not held in a
 *    local's register; its optimizing tier was right. Code runs in the baseline tier first, so exactness rules it out.)
 *  - 'i16': weights stored as int16 pairs, inputs sign-extended to int16 eight at a time (load8x8_s) and each pair broadcast
 *    by a shuffle, i32x4.dot_i16x8_s: 2 exact products per lane.
 */
export type Int8Dot = 'relaxed' | 'i16';

/**
 * 'i16' unless asked: without a trustworthy fused dot it takes fewer instructions than 'relaxed' on x64 (per 16 products,
 * 2 pmaddwd + 2 paddd against 2 × (pmaddubsw + pmaddwd + paddd)) and on arm64 (smull/smull2/addp either way, the
 * relaxed split doubling them), so 'relaxed' is exact but not faster; it pays once a fused dot (sdot, vpdpbusd) can be used.
 */
export const DEFAULT_INT8_DOT: Int8Dot = 'i16';

export interface Int8GemmSpec {
  /** Reduction length: input channels, dense inputs, or kh·kw·cin after im2col. */
  cin: number;
  /** Output channels, or dense units. */
  cout: number;
  /** Default DEFAULT_INT8_DOT; 'relaxed' needs a module built with relaxed SIMD. */
  dot?: Int8Dot;
  /** TFLite's ADD of a second int8 [pixels × cout] tensor after the requantization (the inverted residual's shortcut). */
  residual?: boolean;
  /** Bytes (int8 values) from one pixel to the next; larger than cin/cout to read or write a channel slice. */
  inputStride?: number;
  outputStride?: number;
  residualStride?: number;
  /** Default 4 pixels × 2 vectors, as the float GEMM. Channel blocks are vectors·4 wide. */
  tile?: GemmTile;
}

function relaxedDot(spec: Int8GemmSpec): boolean {
  return (spec.dot ?? DEFAULT_INT8_DOT) === 'relaxed';
}

function tileOf(spec: Int8GemmSpec): GemmTile {
  return spec.tile ?? DEFAULT_GEMM_TILE;
}

/** Output channels per packed block: a channel split starts a kernel at a block boundary. */
export function int8GemmBlockChannels(spec: Int8GemmSpec): number {
  return tileOf(spec).vectors * LANES;
}

/** Reduction values per dot step, and the weight bytes of one step for a block of `width` channels. */
function group(spec: Int8GemmSpec, width: number): { k: number; bytes: number } {
  return relaxedDot(spec) ? { k: 4, bytes: 2 * width * 4 } : { k: 2, bytes: width * 4 };
}

/** Bytes of the packed block of `width` channels: its constants, then its weights. */
export function int8GemmBlockBytes(spec: Int8GemmSpec, width = int8GemmBlockChannels(spec)): number {
  const g = group(spec, width);
  return blockConstantBytes(width, spec.residual ?? false) + Math.ceil(spec.cin / g.k) * g.bytes;
}

/** Bytes `packInt8GemmWeights` writes. */
export function int8GemmPackedBytes(spec: Int8GemmSpec): number {
  return channelBlocks(spec.cout, int8GemmBlockChannels(spec)).reduce((sum, [, , width]) => sum + int8GemmBlockBytes(spec, width), 0);
}

/**
 * Packs a [cin, cout] int8 kernel (HWIO 1×1, HWIO flattened to [kh·kw·cin, cout] for im2col, or dense [in, out]) with its
 * requantization for `emitInt8Gemm` with the same spec: per block of output channels, its constants (the bias with
 * −zx·Σw folded in) then, per dot step, each 4-channel vector's weights in the order the dot reads them.
 */
export function packInt8GemmWeights(spec: Int8GemmSpec, w: Int8ConvWeights): Uint8Array {
  const { cin, cout } = spec;
  if (w.bias.length !== cout) throw new ShapeError(`packInt8GemmWeights: bias has ${w.bias.length} values, expected ${cout}`);
  const out = new Uint8Array(int8GemmPackedBytes(spec));
  const view = new DataView(out.buffer);
  const residual = spec.residual ?? false;
  const weight = (k: number, channel: number, n: number, first: number): number => (k < cin && channel < n ? w.kernel[k * cout + first + channel] : 0);
  let at = 0;
  for (const [first, n, width] of channelBlocks(cout, int8GemmBlockChannels(spec))) {
    packBlockConstants(view, at, w, { first, count: n, width, kernelRows: cin, foldInputZeroPoint: true, residual });
    const g = group(spec, width);
    let o = at + blockConstantBytes(width, residual);
    for (let k0 = 0; k0 < cin; k0 += g.k, o += g.bytes) {
      for (let c = 0; c < width; c++) {
        const vector = Math.floor(c / LANES);
        const lane = c % LANES;
        for (let i = 0; i < g.k; i++) {
          const v = weight(k0 + i, c, n, first);
          if (relaxedDot(spec)) {
            out[o + vector * V128 + lane * 4 + i] = v & 0x7f;
            out[o + (width / LANES + vector) * V128 + lane * 4 + i] = v < 0 ? 1 : 0;
          } else {
            view.setInt16(o + vector * V128 + (lane * 2 + i) * 2, v, true);
          }
        }
      }
    }
    at += int8GemmBlockBytes(spec, width);
  }
  return out;
}

/*
 * Kernel signature (as emitGemm's, with int8 tensors): name(x, packedWeights, y, pixels, residual), byte pointers; any
 * pixels ≥ 0; `residual` is read only when the spec has one. y[p, :cout] = requantize(Σ_k x[p, k]·w[k, :] + bias), then
 * TFLite's ADD of residual[p, :cout] when asked. For a channel split, emit with cout = the part's channels (and the
 * full tensor's strides) and pass packedWeights + (first / blockChannels)·int8GemmBlockBytes(full spec).
 */
export function emitInt8Gemm(mod: ModuleBuilder, name: string, spec: Int8GemmSpec): void {
  const tile = tileOf(spec);
  checkPositiveInts('int8 gemm', { cin: spec.cin, cout: spec.cout, tilePixels: tile.pixels, tileVectors: tile.vectors });
  const xStride = spec.inputStride ?? spec.cin;
  const yStride = spec.outputStride ?? spec.cout;
  const rStride = spec.residualStride ?? spec.cout;
  if (xStride < spec.cin || yStride < spec.cout || rStride < spec.cout) throw new ShapeError('int8 gemm: a pixel stride is shorter than its row of channels');
  const relaxed = relaxedDot(spec);
  if (relaxed && !mod.relaxedSimd) throw new ConfigError('int8 gemm: the relaxed dot product needs a module built with relaxedSimd');
  const residual = spec.residual ?? false;
  const planes = relaxed ? 2 : 1;

  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [xRow, w, yRow, pixels, rRow] = fn.params as [Local, Local, Local, Local, Local];
    const s = epilogueScratch(fn);
    const wp = fn.local('i32');
    const kp = fn.local('i32');
    const xk = fn.local('i32');
    const yp = fn.local('i32');
    const rp = fn.local('i32');
    const xs = fn.local('v128');
    const out = fn.local('v128');
    const weights = Array.from({ length: planes * tile.vectors }, () => fn.local('v128'));
    const acc = Array.from({ length: tile.pixels }, () => Array.from({ length: tile.vectors }, () => fn.local('v128')));
    const zero = new Uint8Array(16);
    // −128 in every int16 lane: widens the high plane's pair sums with its weight
    const minus128 = fn.local('v128');
    if (relaxed) fn.v128.const(new Uint8Array(new Int16Array(8).fill(-128).buffer)).set(minus128);

    // 'i16': eight inputs per pixel loaded once as int16 lanes, each pair then broadcast by a shuffle (pshufd on x64)
    const octets = relaxed ? [] : Array.from({ length: tile.pixels }, () => fn.local('v128'));
    const pairLanes = (pair: number): number[] => Array.from({ length: 16 }, (_, i) => 4 * pair + (i % 4));

    /**
     * Pushes pixel p's `k` inputs (1…4) from byte `at` of its row as the dot reads them: broadcast bytes ('relaxed'), or an
     * int16 pair ('i16'). Inputs past the row's end meet zero weights: any value there is right, so a shorter load does.
     */
    const pushInputs = (p: number, at: number, k: number): void => {
      const offset = p * xStride + at;
      if (!relaxed) {
        if (k === 2) fn.get(xk).v128.load16_splat(offset).i16x8.extend_low_i8x16_s();
        else fn.get(xk).i32.load8_s(offset).i16x8.splat();
      } else if (k === 4) fn.get(xk).v128.load32_splat(offset);
      else if (k === 2) fn.get(xk).v128.load16_splat(offset);
      else if (k === 1) fn.get(xk).v128.load8_splat(offset);
      else fn.get(xk).i32.load16_u(offset).get(xk).i32.load8_u(offset + 2).i32.const(16).i32.shl().i32.or().i32x4.splat();
    };

    /** One register tile: `rows` pixels × `width` padded channels of which `channels` are stored. */
    const emitTile = (rows: number, channels: number, width: number): void => {
      const vectors = width / LANES;
      const g = group(spec, width);
      for (let p = 0; p < rows; p++) for (let v = 0; v < vectors; v++) fn.v128.const(zero).set(acc[p][v]);
      offsetPointer(fn, kp, wp, blockConstantBytes(width, residual));
      fn.get(xRow).set(xk);
      /** One dot step: the weights of step `index` after kp, each pixel's inputs pushed by `inputs`. */
      const step = (index: number, inputs: (p: number) => void): void => {
        for (let i = 0; i < planes * vectors; i++) fn.get(kp).v128.load(index * g.bytes + i * V128).set(weights[i]);
        for (let p = 0; p < rows; p++) {
          inputs(p);
          fn.set(xs);
          for (let plane = 0; plane < planes; plane++) {
            for (let v = 0; v < vectors; v++) {
              fn.get(xs).get(weights[plane * vectors + v]);
              if (!relaxed) fn.i32x4.dot_i16x8_s();
              else if (plane === 0) fn.i16x8.relaxed_dot_i8x16_i7x16_s().i32x4.extadd_pairwise_i16x8_s();
              else fn.i16x8.relaxed_dot_i8x16_i7x16_s().get(minus128).i32x4.dot_i16x8_s();
              fn.get(acc[p][v]).i32x4.add().set(acc[p][v]);
            }
          }
        }
      };
      // steps per loop iteration: one quad ('relaxed'), or the four pairs of an octet ('i16')
      const perLoop = relaxed ? 1 : 4;
      repeat(fn, Math.floor(spec.cin / (perLoop * g.k)), () => {
        if (relaxed) step(0, (p) => pushInputs(p, 0, 4));
        else {
          for (let p = 0; p < rows; p++) fn.get(xk).v128.load8x8_s(p * xStride).set(octets[p]);
          for (let pair = 0; pair < 4; pair++) step(pair, (p) => fn.get(octets[p]).get(octets[p]).i8x16.shuffle(pairLanes(pair)));
        }
        advance(fn, kp, perLoop * g.bytes);
        advance(fn, xk, perLoop * g.k);
      });
      const rest = spec.cin % (perLoop * g.k);
      for (let index = 0; index * g.k < rest; index++) step(index, (p) => pushInputs(p, index * g.k, Math.min(g.k, rest - index * g.k)));
      const block = { block: wp, width, residual };
      for (let p = 0; p < rows; p++) {
        const results = acc[p].slice(0, vectors);
        results.forEach((a, v) => {
          const lanes = Math.min(LANES, channels - v * LANES);
          emitRequantize(fn, a, block, v * LANES, s, residual ? () => loadInt8AsInt32(fn, rp, p * rStride + v * LANES, lanes, s.other) : null);
        });
        for (let chunk = 0; chunk * 4 < vectors; chunk++) {
          narrowToInt8(fn, results.slice(chunk * 4, chunk * 4 + 4), out);
          storeBytes(fn, yp, p * yStride + chunk * 16, out, Math.min(16, channels - chunk * 16));
        }
      }
      advance(fn, wp, int8GemmBlockBytes(spec, width));
    };

    /** `rows` pixels across every output-channel block. */
    const emitRows = (rows: number): void => {
      fn.get(w).set(wp);
      fn.get(yRow).set(yp);
      fn.get(rRow).set(rp);
      const blockChannels = int8GemmBlockChannels(spec);
      const all = channelBlocks(spec.cout, blockChannels);
      const full = all.filter(([, n]) => n === blockChannels).length;
      repeat(fn, full, () => {
        emitTile(rows, blockChannels, blockChannels);
        advance(fn, yp, blockChannels);
        advance(fn, rp, blockChannels);
      });
      for (const [, n, width] of all.slice(full)) emitTile(rows, n, width);
      advance(fn, xRow, rows * xStride);
      advance(fn, yRow, rows * yStride);
      advance(fn, rRow, rows * rStride);
    };

    const tiles = fn.local('i32');
    const rest = fn.local('i32');
    fn.get(pixels).i32.const(tile.pixels).i32.div_u().set(tiles);
    fn.get(pixels).i32.const(tile.pixels).i32.rem_u().set(rest);
    repeatWhile(fn, tiles, () => emitRows(tile.pixels));
    repeatWhile(fn, rest, () => emitRows(1));
  });
}
