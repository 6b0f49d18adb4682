// Replays the fuzz corpus (inputs that once crashed, hung or over-allocated a reader) and runs a short
// property-based fuzz per format: every input must end in success or a typed error, in time, within its
// allocation bound. Longer runs: `npm run fuzz -- --format F --minutes M`.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';

import { MobileNetError } from '../../src/errors.js';
import { readKerasH5 } from '../../src/io/keras-h5/keras-h5.js';
import { inputsFor } from '../fuzz/mutations.js';
import { judge } from '../fuzz/oracle.js';
import { corpusOf } from '../fuzz/runner.js';
import { FORMATS, seedsFor } from '../fuzz/seeds.js';
import { TARGETS } from '../fuzz/targets.js';

/** Inputs per format in `npm test`: enough to catch a regression in the common paths, a few seconds in all. */
const RUNS: Record<string, number> = { onnx: 60, tfjs: 60, 'model-file': 80, 'int8-model': 80, 'keras-h5': 60, cli: 40 };
const DEFAULT_RUNS = 150;

// the CLI target reads only paths that do not exist; a relative one must not land in the repository either
const home = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-fuzz-'));
process.chdir(scratch);
after(() => {
  process.chdir(home);
  rmSync(scratch, { recursive: true, force: true });
});

describe('fuzz corpus replay', () => {
  for (const format of FORMATS) {
    it(`${format}: every corpus input ends in success or a typed error, in time and bounded`, async () => {
      const target = TARGETS[format];
      for (const { name, bytes } of corpusOf(format)) {
        const outcome = await judge(target, bytes);
        assert.notEqual(outcome.kind, 'failure', `${format}/${name}: ${outcome.kind === 'failure' ? outcome.reason : ''}`);
      }
      for (const seed of await seedsFor(format)) assert.equal((await judge(target, seed)).kind, 'ok', `${format}: a seed file must decode`);
    });
  }
});

describe('fuzz (bounded property run)', () => {
  for (const format of FORMATS) {
    it(`${format}: mutated seed files end in success or a typed error`, async () => {
      const target = TARGETS[format];
      await fc.assert(
        fc.asyncProperty(inputsFor(format, await seedsFor(format)), async (bytes) => {
          const outcome = await judge(target, bytes);
          assert.notEqual(outcome.kind, 'failure', outcome.kind === 'failure' ? outcome.reason : '');
        }),
        { numRuns: RUNS[format] ?? DEFAULT_RUNS, seed: 20261123 },
      );
    });
  }
});

describe('long-running decoding', () => {
  it('30,000 mutated HDF5 files in one process leave the Keras H5 reader working (h5wasm, used before, aborted after ~29,000)', async () => {
    const [seed] = await seedsFor('keras-h5');
    const expected = await readKerasH5(seed!, 'seed.h5');
    const inputs = inputsFor('keras-h5', [seed!]);
    let read = 0;
    for (let batch = 0; read < 30_000; batch++) {
      for (const bytes of fc.sample(inputs, { numRuns: 1000, seed: batch })) {
        read++;
        await readKerasH5(bytes, 'mutated.h5').catch((e: unknown) => assert.ok(e instanceof MobileNetError, String(e)));
      }
    }
    assert.deepEqual(await readKerasH5(seed!, 'seed.h5'), expected);
  });
});
