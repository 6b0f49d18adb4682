// Pointwise 1×1 convolution and dense layers as one register-blocked GEMM, [pixels × Cin]·[Cin × Cout]:
// tiles of `pixels` rows × `vectors`·4 output channels live in v128 accumulators; bias, residual, clamp fused.

import type { Local, ModuleBuilder } from '../assembler.js';
import { ShapeError } from '../../../errors.js';
import {
  type Clamp,
  F32,
  LANES,
  V128,
  advance,
  blockedLength,
  channelBlocks,
  checkPositiveInts,
  clampEpilogue,
  loadLanes,
  mulAdd,
  offsetPointer,
  packBlocked,
  repeat,
  repeatWhile,
  storeLanes,
} from './common.js';

export interface GemmTile {
  /** Rows (pixels) per register tile. */
  pixels: number;
  /** v128 vectors of output channels per register tile (4 channels each). */
  vectors: number;
}

export interface GemmSpec {
  /** Reduction length: input channels, or dense inputs. */
  cin: number;
  /** Output channels, or dense units. */
  cout: number;
  clamp?: Clamp | null;
  /** Add a second [pixels × cout] tensor (the inverted residual's shortcut) after the bias, before the clamp. */
  residual?: boolean;
  /** Floats from one pixel to the next; larger than cin/cout to read or write a channel slice. */
  inputStride?: number;
  outputStride?: number;
  residualStride?: number;
  /** Default 4 × 2: 8 accumulators, 2 weight vectors and a broadcast input fit x86's 16 vector registers. */
  tile?: GemmTile;
  /** Reduction steps per loop iteration; 1 measured fastest in V8 (its loop overhead hides behind the FMAs). */
  unroll?: number;
}

/** The default tile, shared with the int8 GEMM. */
export const DEFAULT_GEMM_TILE: GemmTile = { pixels: 4, vectors: 2 };

function blockWidth(spec: GemmSpec): number {
  return (spec.tile ?? DEFAULT_GEMM_TILE).vectors * LANES;
}

/** Floats in the packed weights: per block of output channels, its bias then cin rows of the block's width. */
export function gemmPackedLength(spec: GemmSpec): number {
  return blockedLength(spec.cin, spec.cout, blockWidth(spec));
}

/** Packs a [cin, cout] kernel (HWIO 1×1, or Keras dense) and its bias for `emitGemm` with the same spec. */
export function packGemmWeights(spec: GemmSpec, kernel: Float32Array, bias: Float32Array | null): Float32Array {
  return packBlocked('packGemmWeights', kernel, bias, spec.cin, spec.cout, blockWidth(spec));
}

/**
 * Emits `name(x, packedWeights, y, pixels, residual)`: y[p, :cout] = clamp(x[p, :cin]·W + b (+ residual[p])).
 * Pointers are byte addresses; `residual` is ignored unless the spec asks for it; any `pixels` ≥ 0.
 */
export function emitGemm(mod: ModuleBuilder, name: string, spec: GemmSpec): void {
  const tile = spec.tile ?? DEFAULT_GEMM_TILE;
  const unroll = spec.unroll ?? 1;
  checkPositiveInts('gemm', { cin: spec.cin, cout: spec.cout, tilePixels: tile.pixels, tileVectors: tile.vectors, unroll });
  const xStride = spec.inputStride ?? spec.cin;
  const yStride = spec.outputStride ?? spec.cout;
  const rStride = spec.residualStride ?? spec.cout;
  if (xStride < spec.cin || yStride < spec.cout || rStride < spec.cout) throw new ShapeError('gemm: a pixel stride is shorter than its row of channels');

  mod.function(name, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [xRow, w, yRow, pixels, rRow] = fn.params as [Local, Local, Local, Local, Local];
    const clamp = clampEpilogue(fn, spec.clamp);
    const wp = fn.local('i32');
    const kp = fn.local('i32');
    const xk = fn.local('i32');
    const yp = fn.local('i32');
    const rp = fn.local('i32');
    const xs = fn.local('v128');
    const weights = Array.from({ length: tile.vectors }, () => fn.local('v128'));
    const acc = Array.from({ length: tile.pixels }, () => Array.from({ length: tile.vectors }, () => fn.local('v128')));

    /** One register tile: `rows` pixels × `width` padded channels of which `channels` are stored. */
    const emitTile = (rows: number, channels: number, width: number): void => {
      const vectors = width / LANES;
      for (let v = 0; v < vectors; v++) fn.get(wp).v128.load(v * V128).set(acc[0][v]);
      for (let p = 1; p < rows; p++) for (let v = 0; v < vectors; v++) fn.get(acc[0][v]).set(acc[p][v]);
      offsetPointer(fn, kp, wp, width * F32);
      fn.get(xRow).set(xk);
      const step = (k: number): void => {
        for (let v = 0; v < vectors; v++) fn.get(kp).v128.load((k * width + v * LANES) * F32).set(weights[v]);
        for (let p = 0; p < rows; p++) {
          fn.get(xk).v128.load32_splat((p * xStride + k) * F32).set(xs);
          for (let v = 0; v < vectors; v++) mulAdd(fn, acc[p][v], () => fn.get(xs), () => fn.get(weights[v]));
        }
      };
      repeat(fn, Math.floor(spec.cin / unroll), () => {
        for (let k = 0; k < unroll; k++) step(k);
        advance(fn, kp, unroll * width * F32);
        advance(fn, xk, unroll * F32);
      });
      for (let k = 0; k < spec.cin % unroll; k++) step(k);
      offsetPointer(fn, wp, kp, (spec.cin % unroll) * width * F32);
      for (let p = 0; p < rows; p++) {
        for (let v = 0; v < vectors; v++) {
          const lanes = Math.min(LANES, channels - v * LANES);
          fn.get(acc[p][v]);
          if (spec.residual) {
            loadLanes(fn, rp, (p * rStride + v * LANES) * F32, lanes);
            fn.f32x4.add();
          }
          clamp();
          fn.set(acc[p][v]);
          storeLanes(fn, yp, (p * yStride + v * LANES) * F32, acc[p][v], lanes);
        }
      }
    };

    /** `rows` pixels across every output-channel block. */
    const emitRows = (rows: number): void => {
      fn.get(w).set(wp);
      fn.get(yRow).set(yp);
      fn.get(rRow).set(rp);
      const all = channelBlocks(spec.cout, blockWidth(spec));
      const full = all.filter(([, n]) => n === tile.vectors * LANES).length;
      repeat(fn, full, () => {
        emitTile(rows, tile.vectors * LANES, tile.vectors * LANES);
        advance(fn, yp, tile.vectors * LANES * F32);
        advance(fn, rp, tile.vectors * LANES * F32);
      });
      for (const [, n, width] of all.slice(full)) emitTile(rows, n, width);
      advance(fn, xRow, rows * xStride * F32);
      advance(fn, yRow, rows * yStride * F32);
      advance(fn, rRow, rows * rStride * F32);
    };

    const tiles = fn.local('i32');
    const rest = fn.local('i32');
    fn.get(pixels).i32.const(tile.pixels).i32.div_u().set(tiles);
    fn.get(pixels).i32.const(tile.pixels).i32.rem_u().set(rest);
    repeatWhile(fn, tiles, () => emitRows(tile.pixels));
    // leftover pixels one at a time: at most tile.pixels − 1 of them per call
    repeatWhile(fn, rest, () => emitRows(1));
  });
}

/** Dense layer y = x·W + b over a batch: the same GEMM with batch rows as pixels. */
export function emitDense(mod: ModuleBuilder, name: string, spec: { inputs: number; units: number; clamp?: Clamp | null }): GemmSpec {
  const gemm: GemmSpec = { cin: spec.inputs, cout: spec.units, clamp: spec.clamp ?? null };
  emitGemm(mod, name, gemm);
  return gemm;
}
