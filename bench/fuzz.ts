// `npm run fuzz -- [--format F …] [--minutes M] [--seed S] [--no-save]`: a longer fuzz run per format in a
// worker thread, a progress line (inputs/s) every 10 s; each new kind of failure, and any input that hangs a
// decode for 30 s (the watchdog then restarts the worker), is saved into the corpus `npm test` replays.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

import { addToCorpus } from '../test/fuzz/runner.js';
import { FORMATS } from '../test/fuzz/seeds.js';
import type { FuzzFormat } from '../test/fuzz/seeds.js';
import type { FuzzWorkerData, FuzzWorkerMessage } from './fuzz-worker.js';

const { values } = parseArgs({
  options: { format: { type: 'string', multiple: true }, minutes: { type: 'string' }, seed: { type: 'string' }, 'no-save': { type: 'boolean' } },
});
const formats = (values.format ?? [...FORMATS]) as FuzzFormat[];
for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`unknown format ${f}; one of ${FORMATS.join(', ')}`);
const minutes = Number(values.minutes ?? 1);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
const HANG_SECONDS = 30;
const MAX_COPIED_INPUT = 16 * 1024 * 1024;

// the CLI target reads only paths that do not exist; a fuzzed relative path must not land in the repository either
const scratch = mkdtempSync(join(tmpdir(), 'mobilenet-fuzz-'));
process.chdir(scratch);

/** Workers do not inherit `--import tsx`: the worker registers it, then imports the TypeScript entry. */
function startWorker(data: FuzzWorkerData): Worker {
  const entry = new URL('./fuzz-worker.ts', import.meta.url).href;
  const api = new URL(import.meta.resolve('tsx/esm/api')).href;
  const boot = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: data, execArgv: [] });
}

function save(format: FuzzFormat, bytes: Uint8Array): string {
  return values['no-save'] ? '(not saved)' : `fuzz-corpus/${format}/${addToCorpus(format, bytes)}`;
}

interface Totals {
  inputs: number;
  ok: number;
  typed: number;
  failures: string[];
  seconds: number;
}

/** Runs `seconds` of fuzzing in a worker; resolves when it is done or hung (then with the hang recorded). */
function runWorker(format: FuzzFormat, seconds: number, seed: number, totals: Totals): Promise<boolean> {
  const shared = new SharedArrayBuffer(8 + MAX_COPIED_INPUT);
  const control = new Int32Array(shared, 0, 2);
  const worker = startWorker({ format, seconds, seed, shared });
  const startedAt = performance.now();
  const seen = new Set<string>();
  return new Promise((resolve, reject) => {
    let last = -1;
    let still = 0;
    const watchdog = setInterval(() => {
      const started = Atomics.load(control, 0);
      still = started === last ? still + 1 : 0;
      last = started;
      if (still < HANG_SECONDS) return;
      clearInterval(watchdog);
      const length = Atomics.load(control, 1);
      const bytes = length >= 0 ? new Uint8Array(shared, 8, length).slice() : new Uint8Array(0);
      const reason = `hang: one input decoded for more than ${HANG_SECONDS} s`;
      totals.failures.push(reason);
      totals.inputs += started; // the worker's own counts die with it; ok and typed are not split here
      totals.seconds += (performance.now() - startedAt) / 1000 - HANG_SECONDS;
      console.log(`${format}: FAILURE ${reason} → ${length >= 0 ? save(format, bytes) : '(input too large to keep)'}`);
      void worker.terminate().then(() => resolve(true));
    }, 1000);
    worker.on('message', (m: FuzzWorkerMessage) => {
      if (m.type === 'progress') {
        console.log(`${format}: ${totals.inputs + m.inputs} inputs (${(m.inputs / m.seconds).toFixed(0)}/s), ${totals.ok + m.ok} ok, ${totals.typed + m.typed} typed errors, ${totals.failures.length + m.failures} failures, ${(totals.seconds + m.seconds).toFixed(0)} s`);
      } else if (m.type === 'failure') {
        const key = m.reason.replace(/\d+/g, '#');
        if (!seen.has(key)) {
          seen.add(key);
          totals.failures.push(m.reason);
          console.log(`${format}: FAILURE ${m.reason} → ${save(format, m.bytes)}`);
        }
      } else {
        clearInterval(watchdog);
        totals.inputs += m.inputs;
        totals.ok += m.ok;
        totals.typed += m.typed;
        totals.seconds += m.seconds;
        void worker.terminate().then(() => resolve(false));
      }
    });
    worker.on('error', (e) => {
      clearInterval(watchdog);
      reject(e);
    });
  });
}

const summary: Record<string, Totals & { inputsPerSecond: number }> = {};
for (const format of formats) {
  const totals: Totals = { inputs: 0, ok: 0, typed: 0, failures: [], seconds: 0 };
  const deadline = performance.now() + minutes * 60_000;
  let seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  // after a hang the worker is restarted (with another seed) for the time that is left
  while (performance.now() < deadline - 1000) {
    const hung = await runWorker(format, (deadline - performance.now()) / 1000, seed, totals);
    if (!hung) break;
    seed += 1_000_003;
  }
  summary[format] = { ...totals, inputsPerSecond: Math.round(totals.inputs / Math.max(totals.seconds, 1e-9)) };
  console.log(`${format}: done, ${totals.inputs} inputs in ${totals.seconds.toFixed(0)} s, ${totals.failures.length} failures`);
}
rmSync(scratch, { recursive: true, force: true });
console.log(JSON.stringify(summary, null, 1));
process.exitCode = Object.values(summary).some((s) => s.failures.length > 0) ? 1 : 0;
