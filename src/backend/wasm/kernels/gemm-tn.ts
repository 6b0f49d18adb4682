// The kernel gradient of a 1×1 convolution or a dense layer, dW[cin × cout] += Xᵀ·dY, a GEMM that reduces over
// pixels: 4 input channels × 8 output channels in v128 accumulators, pixels in cache-sized chunks summed in two levels.

import type { Local, ModuleBuilder } from '../assembler.js';
import { ShapeError } from '../../../errors.js';
import { F32, LANES, V128, advance, checkPositiveInts, laneCounts, loadLanes, mulAdd, repeat, repeatWhile, storeLanes } from './common.js';

export interface GemmTNSpec {
  /** Columns of X: input channels (rows of dW). */
  cin: number;
  /** Columns of dY: output channels (columns of dW). */
  cout: number;
  /** Floats from one pixel of X / dY to the next; default cin / cout. */
  inputStride?: number;
  gradientStride?: number;
  /** Pixels per chunk: each tile sums a chunk in registers, then adds the chunk's sum to dW. Default: ~96 KiB of X and dY. */
  chunk?: number;
  /** Default 4 input channels × 2 vectors (8 output channels): 8 accumulators, as the forward GEMM. */
  tile?: { rows: number; vectors: number };
}

const DEFAULT_TILE = { rows: 4, vectors: 2 };

/** Pixels per chunk: X and dY rows of a chunk stay in L2 while every tile of dW streams them. */
export function gemmTNChunk(spec: GemmTNSpec): number {
  return spec.chunk ?? Math.max(16, Math.min(1024, Math.floor(24576 / (spec.cin + spec.cout))));
}

/**
 * Emits `name(x, dy, dw, pixels)`: dw[i, j] += Σ_p x[p, i]·dy[p, j] over `pixels` rows (byte pointers; dw is
 * row-major [cin, cout]). Each chunk's sum is formed from zero in registers before it is added to dw, so a
 * long reduction is summed in two levels (chunk, then chunks), not as one running float32 sum.
 */
export function emitGemmTN(mod: ModuleBuilder, name: string, spec: GemmTNSpec): void {
  const tile = spec.tile ?? DEFAULT_TILE;
  const chunk = gemmTNChunk(spec);
  checkPositiveInts('gemmTN', { cin: spec.cin, cout: spec.cout, tileRows: tile.rows, tileVectors: tile.vectors, chunk });
  const xStride = spec.inputStride ?? spec.cin;
  const gStride = spec.gradientStride ?? spec.cout;
  if (xStride < spec.cin || gStride < spec.cout) throw new ShapeError('gemmTN: a pixel stride is shorter than its row of channels');
  const blockWidth = tile.vectors * LANES;

  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, dy, dw, pixels] = fn.params as [Local, Local, Local, Local];
    const count = fn.local('i32');
    const left = fn.local('i32');
    const rowX = fn.local('i32');
    const rowW = fn.local('i32');
    const colG = fn.local('i32');
    const colW = fn.local('i32');
    const xp = fn.local('i32');
    const gp = fn.local('i32');
    const xs = fn.local('v128');
    const grads = Array.from({ length: tile.vectors }, () => fn.local('v128'));
    const acc = Array.from({ length: tile.rows }, () => Array.from({ length: tile.vectors }, () => fn.local('v128')));

    /** One tile: `rows` input channels × the output channels whose lane counts are `lanes`, over `count` pixels. */
    const emitTile = (rows: number, lanes: number[]): void => {
      for (let r = 0; r < rows; r++) for (let v = 0; v < lanes.length; v++) fn.f32x4.const(0).set(acc[r][v]);
      fn.get(rowX).set(xp);
      fn.get(colG).set(gp);
      fn.get(count).set(left);
      repeatWhile(fn, left, () => {
        for (let v = 0; v < lanes.length; v++) {
          loadLanes(fn, gp, v * V128, lanes[v]);
          fn.set(grads[v]);
        }
        for (let r = 0; r < rows; r++) {
          fn.get(xp).v128.load32_splat(r * F32).set(xs);
          for (let v = 0; v < lanes.length; v++) mulAdd(fn, acc[r][v], () => fn.get(xs), () => fn.get(grads[v]));
        }
        advance(fn, xp, xStride * F32);
        advance(fn, gp, gStride * F32);
      });
      for (let r = 0; r < rows; r++) {
        for (let v = 0; v < lanes.length; v++) {
          const offset = (r * spec.cout + v * LANES) * F32;
          loadLanes(fn, colW, offset, lanes[v]);
          fn.get(acc[r][v]).f32x4.add().set(acc[r][v]);
          storeLanes(fn, colW, offset, acc[r][v], lanes[v]);
        }
      }
    };

    /** `rows` input channels against every block of output channels. */
    const emitRowBlock = (rows: number): void => {
      fn.get(dy).set(colG);
      fn.get(rowW).set(colW);
      const full = Math.floor(spec.cout / blockWidth);
      repeat(fn, full, () => {
        emitTile(rows, laneCounts(blockWidth));
        advance(fn, colG, blockWidth * F32);
        advance(fn, colW, blockWidth * F32);
      });
      if (spec.cout % blockWidth) emitTile(rows, laneCounts(spec.cout % blockWidth));
      advance(fn, rowX, rows * F32);
      advance(fn, rowW, rows * spec.cout * F32);
    };

    fn.block((exit) => {
      fn.loop((top) => {
        fn.get(pixels).i32.eqz().brIf(exit);
        // count = min(pixels, chunk)
        fn.get(pixels).i32.const(chunk).get(pixels).i32.const(chunk).i32.lt_u().select().set(count);
        fn.get(x).set(rowX);
        fn.get(dw).set(rowW);
        repeat(fn, Math.floor(spec.cin / tile.rows), () => emitRowBlock(tile.rows));
        if (spec.cin % tile.rows) emitRowBlock(spec.cin % tile.rows);
        fn.get(x).get(count).i32.const(xStride * F32).i32.mul().i32.add().set(x);
        fn.get(dy).get(count).i32.const(gStride * F32).i32.mul().i32.add().set(dy);
        fn.get(pixels).get(count).i32.sub().set(pixels);
        fn.br(top);
      });
    });
  });
}
