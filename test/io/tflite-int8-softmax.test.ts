// TFLite's int8 SOFTMAX (src/quant/int8-softmax.ts) against LiteRT.js running a one-operator file of it: equal
// outputs, value for value, over rows that reach every int8 input and every difference from the row's maximum.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TfliteBuilder } from '../../src/io/tflite/builder.js';
import { softmaxInt8, softmaxTable } from '../../src/quant/int8-softmax.js';
import { Random } from '../../src/tensor/random.js';
import { runTflite } from '../support/litert.js';

/** TFLite's int8 softmax output parameters (scale 1/256, zero point −128), as its kernel requires. */
const OUT = { scale: 1 / 256, zeroPoint: -128 };

describe('int8 softmax, TFLite arithmetic', () => {
  for (const [inputScale, channels, rows] of [[0.012518751434981823, 2, 128], [0.1, 10, 64], [0.0625, 1001, 3]] as const) {
    it(`input scale ${inputScale}, ${rows} rows of ${channels}: equal to LiteRT.js`, async () => {
      const rng = new Random(channels);
      const x = Int8Array.from({ length: rows * channels }, (_, i) => (i < 256 ? i - 128 : Math.floor(rng.uniform() * 256) - 128));
      const b = new TfliteBuilder();
      const input = b.tensor({ name: 'x', shape: [rows, channels], type: 'int8', quantization: { scale: [inputScale], zeroPoint: [3] } });
      const output = b.tensor({ name: 'y', shape: [rows, channels], type: 'int8', quantization: { scale: [OUT.scale], zeroPoint: [OUT.zeroPoint] } });
      b.operator('SOFTMAX', [input], [output], { type: 'SoftmaxOptions', floats: { 0: 1 } });
      const [litert] = await runTflite(b.finish([input], [output], 'softmax'), [x]);
      const ours = softmaxInt8(x, channels, softmaxTable(inputScale, 1), OUT);
      assert.deepEqual(Array.from(ours), Array.from(litert as Int8Array));
    });
  }
});
