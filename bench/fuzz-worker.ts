// One format's fuzz run inside a worker thread, so that the main thread (bench/fuzz.ts) can stop it when a
// decode hangs: each input is copied into shared memory before it is judged, with a counter the watchdog reads.

import { parentPort, workerData } from 'node:worker_threads';

import { fuzzFormat } from '../test/fuzz/runner.js';
import type { FuzzFormat } from '../test/fuzz/seeds.js';

export interface FuzzWorkerData {
  format: FuzzFormat;
  seconds: number;
  seed: number;
  /** Int32 [0]: inputs started, [1]: byte length of the current input (−1 when too large to copy); bytes from 8. */
  shared: SharedArrayBuffer;
}

export type FuzzWorkerMessage =
  | { type: 'progress'; inputs: number; ok: number; typed: number; failures: number; seconds: number }
  | { type: 'failure'; reason: string; bytes: Uint8Array }
  | { type: 'done'; inputs: number; ok: number; typed: number; seconds: number };

const { format, seconds, seed, shared } = workerData as FuzzWorkerData;
const control = new Int32Array(shared, 0, 2);
const current = new Uint8Array(shared, 8);
const post = (message: FuzzWorkerMessage): void => parentPort!.postMessage(message);

const stats = await fuzzFormat(format, {
  seconds,
  seed,
  progressEvery: 10,
  beforeEach: (bytes) => {
    if (bytes.length <= current.length) {
      current.set(bytes);
      Atomics.store(control, 1, bytes.length);
    } else Atomics.store(control, 1, -1);
    Atomics.add(control, 0, 1);
  },
  progress: (s) => post({ type: 'progress', inputs: s.inputs, ok: s.ok, typed: s.typed, failures: s.failures.length, seconds: s.seconds }),
  onFailure: (outcome, bytes) => post({ type: 'failure', reason: outcome.kind === 'failure' ? outcome.reason : '', bytes }),
});
post({ type: 'done', inputs: stats.inputs, ok: stats.ok, typed: stats.typed, seconds: stats.seconds });
