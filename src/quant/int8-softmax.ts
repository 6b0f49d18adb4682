// TFLite's int8 SOFTMAX as its optimized kernel computes it (the one LiteRT.js runs: XNNPACK takes no int8 softmax):
// e^(−sx·β·(max − q)) from a float32 table of 256 entries, summed in float32, each term scaled and rounded to int8.

import { ShapeError } from '../errors.js';
import type { QParams } from './qparams.js';

/** table[255 − v] = e^(−sx·β·v) in float32, v = 0..255: TFLite's PopulateSoftmaxLookupTable. */
export function softmaxTable(inputScale: number, beta: number): Float32Array {
  const scale = Math.fround(-Math.fround(inputScale) * Math.fround(beta));
  const table = new Float32Array(256);
  for (let v = 0; v <= 255; v++) table[255 - v] = Math.exp(Math.fround(scale * v));
  return table;
}

/**
 * Softmax over runs of `channels` int8 values (the last axis): p = table(max − q) / Σ table, written as
 * clamp(round(p / sy) + zy) with round half away from zero, every step in float32 as TFLite's kernel does it.
 */
export function softmaxInt8(x: Int8Array, channels: number, table: Float32Array, out: QParams): Int8Array {
  if (channels < 1 || x.length % channels !== 0) throw new ShapeError(`int8 softmax: ${x.length} values do not split into rows of ${channels}`);
  const y = new Int8Array(x.length);
  const f = Math.fround;
  for (let row = 0; row < x.length; row += channels) {
    let max = -128;
    for (let j = 0; j < channels; j++) max = Math.max(max, x[row + j]);
    // table_offset[q] = table[255 − max + q] = e^(−sx·β·(max − q))
    const offset = 255 - max;
    let sum = 0;
    for (let j = 0; j < channels; j++) sum = f(sum + table[offset + x[row + j]]);
    const inverse = f(1 / f(sum * f(out.scale)));
    for (let j = 0; j < channels; j++) {
      const p = f(table[offset + x[row + j]] * inverse);
      const q = Math.sign(p) * Math.round(Math.abs(p)) + out.zeroPoint;
      y[row + j] = Math.max(-128, Math.min(127, q));
    }
  }
  return y;
}
