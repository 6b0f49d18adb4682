// `npm run fuzz -- [--format F] [--minutes M] [--seed S] [--no-save]`: a longer fuzz run per format, with a
// progress line (inputs/s) every few seconds; each new kind of failure is saved into the replayed corpus.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { addToCorpus, fuzzFormat } from '../test/fuzz/runner.js';
import { FORMATS } from '../test/fuzz/seeds.js';
import type { FuzzFormat } from '../test/fuzz/seeds.js';

const { values } = parseArgs({
  options: { format: { type: 'string', multiple: true }, minutes: { type: 'string' }, seed: { type: 'string' }, 'no-save': { type: 'boolean' } },
});
const formats = (values.format ?? [...FORMATS]) as FuzzFormat[];
for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`unknown format ${f}; one of ${FORMATS.join(', ')}`);
const minutes = Number(values.minutes ?? 1);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);

// the CLI target writes nothing on purpose, but a fuzzed relative path must not land in the repository
process.chdir(mkdtempSync(join(tmpdir(), 'mobilenet-fuzz-')));

const summary: Record<string, { inputs: number; ok: number; typed: number; failures: string[]; inputsPerSecond: number }> = {};
for (const format of formats) {
  const stats = await fuzzFormat(format, {
    seconds: minutes * 60,
    seed: values.seed === undefined ? undefined : Number(values.seed),
    progressEvery: 10,
    progress: (s) => console.log(`${format}: ${s.inputs} inputs (${(s.inputs / s.seconds).toFixed(0)}/s), ${s.ok} ok, ${s.typed} typed errors, ${s.failures.length} failures, ${s.seconds.toFixed(0)} s`),
    onFailure: (outcome, bytes) => {
      const name = values['no-save'] ? '(not saved)' : addToCorpus(format, bytes);
      console.log(`${format}: FAILURE ${outcome.kind === 'failure' ? outcome.reason : ''} → fuzz-corpus/${format}/${name}`);
    },
  });
  summary[format] = { inputs: stats.inputs, ok: stats.ok, typed: stats.typed, failures: stats.failures.map((f) => f.reason), inputsPerSecond: Math.round(stats.inputs / stats.seconds) };
  console.log(`${format}: done, ${stats.inputs} inputs in ${stats.seconds.toFixed(0)} s, ${stats.failures.length} failures`);
}
console.log(JSON.stringify(summary, null, 1));
process.exitCode = Object.values(summary).some((s) => s.failures.length > 0) ? 1 : 0;
