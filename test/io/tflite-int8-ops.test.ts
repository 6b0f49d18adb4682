// TFLite's int8 SOFTMAX, LOGISTIC and HARD_SWISH (src/quant/int8-softmax.ts) against LiteRT.js running one-operator
// files of them: equal outputs, value for value, over every int8 input (and, for softmax, every difference from a row's maximum).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { runPlanValues } from '../../src/backend/plan-reference.js';
import type { PlannedModel } from '../../src/graph/plan.js';
import { TfliteBuilder } from '../../src/io/tflite/builder.js';
import { importTflite } from '../../src/io/tflite/import.js';
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

describe('int8 LOGISTIC and HARD_SWISH: imported as table steps, run by the plan reference', () => {
  const cases = [
    ['LOGISTIC', { scale: 0.05, zeroPoint: -7 }, { scale: 1 / 256, zeroPoint: -128 }],
    ['HARD_SWISH', { scale: 0.047, zeroPoint: 12 }, { scale: 0.031, zeroPoint: -90 }],
  ] as const;
  for (const [op, xq, yq] of cases) {
    it(`${op}: every int8 input to LiteRT.js's value${op === 'HARD_SWISH' ? ', but near-ties (one step)' : ''}`, async () => {
      const b = new TfliteBuilder();
      const input = b.tensor({ name: 'x', shape: [1, 16, 16], type: 'int8', quantization: { scale: [xq.scale], zeroPoint: [xq.zeroPoint] } });
      const output = b.tensor({ name: 'y', shape: [1, 16, 16], type: 'int8', quantization: { scale: [yq.scale], zeroPoint: [yq.zeroPoint] } });
      b.operator(op, [input], [output]);
      const bytes = b.finish([input], [output], op);
      const x = Int8Array.from({ length: 256 }, (_, i) => i - 128);
      const [litert] = await runTflite(bytes, [x]);
      const model = importTflite(bytes).model as PlannedModel;
      assert.equal(model.plan.steps[0].op, 'qlut');
      const [ours] = runPlanValues(model.plan, { shape: [1, 16, 16], data: x, params: model.plan.tensors[model.plan.input].quant! });
      const values = (ours as { data: Int8Array }).data;
      if (op === 'LOGISTIC') assert.deepEqual(Array.from(values), Array.from(litert as Int8Array));
      else {
        // XNNPACK computes hard-swish in fixed point, the table in float: they part where the real value nears k + ½
        const differ = values.filter((v, i) => v !== litert[i]);
        assert.ok(values.every((v, i) => Math.abs(v - litert[i]) <= 1) && differ.length <= 2, `${differ.length} of 256 differ`);
      }
    });
  }
});
