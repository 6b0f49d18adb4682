// Runs the fuzzer for one format: inputs from the format's generator judged by the oracle, failures kept in
// the corpus folder (test/fixtures/fuzz-corpus/<format>/), named by content hash so re-finds do not duplicate.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

import { FIXTURES } from '../support/helpers.js';
import { inputsFor } from './mutations.js';
import { judge } from './oracle.js';
import type { Outcome } from './oracle.js';
import { seedsFor } from './seeds.js';
import type { FuzzFormat } from './seeds.js';
import { TARGETS } from './targets.js';

export const CORPUS = join(FIXTURES, 'fuzz-corpus');

export interface CorpusEntry {
  name: string;
  bytes: Uint8Array;
}

export function corpusOf(format: FuzzFormat): CorpusEntry[] {
  const dir = join(CORPUS, format);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}

/** Saves an input into the corpus; returns its file name. */
export function addToCorpus(format: FuzzFormat, bytes: Uint8Array): string {
  const dir = join(CORPUS, format);
  mkdirSync(dir, { recursive: true });
  const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`;
  writeFileSync(join(dir, name), bytes);
  return name;
}

export interface FuzzStats {
  format: FuzzFormat;
  inputs: number;
  ok: number;
  typed: number;
  failures: { reason: string; bytes: Uint8Array }[];
  seconds: number;
}

/**
 * Judges generated inputs until `runs` inputs or `seconds` have passed (whichever comes first); `progress`
 * is called about every `progressEvery` seconds with the stats so far.
 */
export async function fuzzFormat(
  format: FuzzFormat,
  options: {
    runs?: number;
    seconds?: number;
    seed?: number;
    progressEvery?: number;
    progress?: (s: FuzzStats) => void;
    onFailure?: (o: Outcome, bytes: Uint8Array) => void;
    /** Called with each input before it is judged (a watchdog keeps it, to name the input if the decode hangs). */
    beforeEach?: (bytes: Uint8Array) => void;
  },
): Promise<FuzzStats> {
  const target = TARGETS[format];
  const arbitrary = inputsFor(format, await seedsFor(format));
  const stats: FuzzStats = { format, inputs: 0, ok: 0, typed: 0, failures: [], seconds: 0 };
  const start = performance.now();
  let lastProgress = start;
  let seed = options.seed ?? Date.now() % 2 ** 31;
  const runs = options.runs ?? Infinity;
  const deadline = start + 1000 * (options.seconds ?? Infinity);
  const seenReasons = new Set<string>();
  while (stats.inputs < runs && performance.now() < deadline) {
    const batch = fc.sample(arbitrary, { numRuns: Math.min(200, runs - stats.inputs), seed: seed++ });
    for (const bytes of batch) {
      options.beforeEach?.(bytes);
      const outcome = await judge(target, bytes);
      stats.inputs++;
      if (outcome.kind === 'failure') {
        // one example per kind of failure: the message without numbers
        const key = outcome.reason.replace(/\d+/g, '#');
        if (!seenReasons.has(key)) {
          seenReasons.add(key);
          stats.failures.push({ reason: outcome.reason, bytes });
          options.onFailure?.(outcome, bytes);
        }
      } else stats[outcome.kind]++;
      if (performance.now() >= deadline) break;
    }
    if (options.progress && performance.now() - lastProgress >= 1000 * (options.progressEvery ?? 10)) {
      lastProgress = performance.now();
      stats.seconds = (lastProgress - start) / 1000;
      options.progress(stats);
    }
  }
  stats.seconds = (performance.now() - start) / 1000;
  return stats;
}
