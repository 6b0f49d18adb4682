// Crash safety of training: `mobilenet train` is killed with SIGKILL at random moments, half of them the
// instant a checkpoint's temporary file appears (inside the write window), and resumed each time. The
// checkpoint must always decode, and the final weights must equal an uninterrupted run's bit for bit.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { decodeSafetensors } from '../../src/io/safetensors.js';
import { Random } from '../../src/tensor/random.js';
import { decodeCheckpoint } from '../../src/train/checkpoint.js';
import { writeTinyIdx } from '../support/tiny-idx.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
/** Wall-clock budget for the kill/resume cycles (the reference run and the final resume come on top). */
const CYCLE_BUDGET_MS = 45_000;
const MIN_CYCLES = 8;

function trainArgs(data: string, out: string): string[] {
  return [
    '--import', 'tsx', CLI, 'train', '--data', data, '--out', out,
    '--alpha', '0.25', '--stem-stride', '1', '--classes', '10', '--epochs', '3', '--batch', '8', '--seed', '5',
    '--checkpoint-every', '2', '--erasing', '0.5', '--backend', 'reference', '--resume',
  ];
}

function start(data: string, out: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, trainArgs(data, out), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== null && code !== 0) process.stderr.write(stderr);
      resolve(code);
    }),
  );
  return { child, exited };
}

async function tensorsOf(path: string): Promise<Map<string, Float32Array>> {
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(path)));
  return new Map([...tensors].map(([k, t]) => [k, t.data]));
}

describe('crash safety of training', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('a run SIGKILLed many times (also inside checkpoint writes) and resumed ends bit-equal to an uninterrupted one', { timeout: 240_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'mobilenet-crash-'));
    dirs.push(root);
    const data = join(root, 'data');
    await writeTinyIdx(data, { train: 96, test: 20, size: 16 }); // 16×16 grey noise, 10 classes

    const reference = join(root, 'reference');
    const started = performance.now();
    assert.equal(await start(data, reference).exited, 0, 'the uninterrupted run succeeds');
    const runMs = performance.now() - started;

    const expected = await tensorsOf(join(reference, 'model.safetensors'));
    const rng = new Random(7);
    let cycles = 0;
    let killedInWrite = 0;
    let rounds = 0;
    const cyclesStart = performance.now();
    // rounds: a fresh run killed and resumed until it completes (at most 12 kills), then compared
    while (cycles < MIN_CYCLES || performance.now() - cyclesStart < CYCLE_BUDGET_MS) {
      const out = join(root, `killed-${rounds++}`);
      await mkdir(out);
      for (let kills = 0; kills < 12; kills++) {
        const { child, exited } = start(data, out);
        const before = new Set(await readdir(out));
        const inWrite = cycles % 2 === 0;
        let watcher: ReturnType<typeof watch> | null = null;
        let timer: NodeJS.Timeout | null = null;
        if (inWrite) {
          // the temporary file of an atomic write appearing: kill now, while it is being written
          watcher = watch(out, (_event, name) => {
            if (name && String(name).endsWith('.tmp')) child.kill('SIGKILL');
          });
        } else {
          timer = setTimeout(() => child.kill('SIGKILL'), rng.uniform() * runMs);
        }
        const code = await exited;
        watcher?.close();
        if (timer) clearTimeout(timer);
        if (code === 0) break; // finished before the kill landed
        cycles++;
        if ((await readdir(out)).some((f) => f.endsWith('.tmp') && !before.has(f))) killedInWrite++;
        // whatever moment the kill came, the checkpoint is the previous one or the next, never half of one
        const checkpoint = join(out, 'checkpoint.safetensors');
        if (existsSync(checkpoint)) decodeCheckpoint(new Uint8Array(await readFile(checkpoint)), checkpoint);
      }
      assert.equal(await start(data, out).exited, 0, 'the final resume succeeds');
      assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.tmp')), [], 'temporary files of killed writes are cleaned up on resume');
      const actual = await tensorsOf(join(out, 'model.safetensors'));
      assert.deepEqual([...actual.keys()], [...expected.keys()]);
      for (const [name, values] of expected) {
        assert.ok(Buffer.from(actual.get(name)!.buffer).equals(Buffer.from(values.buffer)), `round ${rounds}: ${name} differs from the uninterrupted run`);
      }
      const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n');
      assert.equal(log.length, 3, 'three epochs logged');
    }
    console.log(`crash safety: ${cycles} SIGKILL/resume cycles in ${rounds} runs survived, ${killedInWrite} kills inside a checkpoint write (temporary file left behind); every run's final weights bit-equal to the uninterrupted run`);
    assert.ok(killedInWrite > 0, 'at least one kill landed inside a write');
  });
});
