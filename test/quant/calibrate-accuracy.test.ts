// The bundled Fashion-MNIST model quantized with each calibration method (min/max, percentile, MSE): its int8 top-1 on
// 8,000 test images against the float model's (the labels are the reference), calibrated on 256 images it is not tested on.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../support/helpers.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { batchIndices, loadBatch } from '../../src/data/dataset.js';
import { RangeObserver } from '../../src/quant/calibrate.js';
import type { RangeChoice } from '../../src/quant/calibrate.js';
import { QuantizedModel, planForInt8 } from '../../src/quant/quantized-model.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import type { Model } from '../../src/graph/model.js';
import type { PlannedModel } from '../../src/graph/plan.js';

enableWasmFeatures();
const ROOT = join(FIXTURES, '..', '..');
const range = (from: number, n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => from + i);

describe('calibration methods on the bundled model', async () => {
  const { model, preprocessing } = decodeModelFile(readFileSync(join(ROOT, 'models', 'fashion-mnist.safetensors')));
  const test = await readIdxFolder(join(ROOT, 'data', 'fashion-mnist'), { split: 'test', ...preprocessing });
  const evaluated = range(0, 8000);
  const observer = new RangeObserver(planForInt8(model));
  for (const indices of batchIndices(range(9000, 256), 64)) observer.observe((await loadBatch(test, indices)).x);

  /** Top-1 of `m` (on the WebAssembly engine) over the evaluated images. */
  async function top1(m: Model | PlannedModel): Promise<number> {
    const engine = await WasmEngine.create(m, { threads: 1 });
    let correct = 0;
    try {
      for (const indices of batchIndices(evaluated, 250)) {
        const { x, labels } = await loadBatch(test, indices);
        const y = engine.predict(x).data;
        labels.forEach((label, i) => {
          const row = y.subarray(i * 10, i * 10 + 10);
          if (row.indexOf(Math.max(...row)) === label) correct++;
        });
      }
    } finally {
      await engine.dispose();
    }
    return correct / evaluated.length;
  }

  const float = await top1(model);
  const choices: RangeChoice[] = [{ method: 'minmax' }, { method: 'percentile', percentile: 99.99 }, { method: 'mse' }];
  for (const choice of choices) {
    it(`${choice.method}: int8 top-1 at most 0.3 points below float32`, async () => {
      const q = QuantizedModel.fromCalibration(observer, { outputNames: model.outputNames, calibration: choice });
      const int8 = await top1(q);
      console.log(`${choice.method}: float32 ${(100 * float).toFixed(2)}%, int8 ${(100 * int8).toFixed(2)}% on ${evaluated.length} test images`);
      assert.ok(int8 >= float - 0.003, `${choice.method}: int8 ${int8}, float ${float}`);
    });
  }
});
