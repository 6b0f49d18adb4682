// The CLI run in-process as a process that can die mid-run (a line of its stderr throws, as kill -9 would stop it),
// and what an exact resume must reproduce: a run folder's final weights, bit for bit, and its log without timings.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { main } from '../../src/cli/cli.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';

export class Interrupted extends Error {}

export interface Run {
  code: number;
  err: string;
  out: string;
}

/** `mobilenet ARGS…`, throwing Interrupted from inside the run at the first stderr line `stopAt` matches. */
export async function runCli(args: string[], stopAt?: RegExp): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (t) => out.push(t),
    err: (t) => {
      err.push(t);
      // thrown inside the run: the process dies there, as under kill -9, with the last checkpoint on disk
      if (stopAt?.test(t)) throw new Interrupted(t);
    },
    isTTY: false,
  });
  return { code, err: err.join('\n'), out: out.join('\n') };
}

export interface RunResult {
  weights: Map<string, Buffer>;
  log: unknown[];
}

/** The final weights of the run in `dir`, bit for bit, and its log without its timings. */
export async function runResult(dir: string): Promise<RunResult> {
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(join(dir, 'model.safetensors'))));
  const weights = new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
  const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n');
  const log = lines.map((l) => {
    const { seconds: _s, imagesPerSecond: _i, ...record } = JSON.parse(l) as Record<string, unknown>;
    return record;
  });
  return { weights, log };
}

export function assertSameRun(actual: RunResult, expected: RunResult, what: string): void {
  assert.deepEqual([...actual.weights.keys()], [...expected.weights.keys()], what);
  for (const [name, bytes] of expected.weights) assert.ok(actual.weights.get(name)!.equals(bytes), `${what}: ${name} differs from the uninterrupted run`);
  assert.deepEqual(actual.log, expected.log, `${what}: log`);
}
