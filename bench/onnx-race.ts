// Our engine against onnxruntime-web (wasm SIMD) and onnxruntime-node on one ONNX file (our export), shared by
// bench:segment and bench:detect: a process per runtime, thread count and round, rounds alternating the order; medians,
// ratios, and every output of every runtime compared with ours.

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { quantile } from '../src/cli/bench.js';
import { decodeAnyModel } from '../src/io/any-model.js';
import type { Model } from '../src/graph/model.js';
import { encodeOnnx } from '../src/io/onnx/export.js';
import { readBytes, readNpyFile, writeFileAtomic, writeNpyFile } from '../src/node/files.js';
import { peakRssBytes } from '../src/node/memory.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Random } from '../src/tensor/random.js';
import { Tensor, toLayout } from '../src/tensor/tensor.js';
import { ensurePeersInstalled } from './peers-setup.js';

export const RUNTIMES = ['mobilenet-ts', 'onnxruntime-web', 'onnxruntime-node'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface RaceSettings {
  runs: number;
  warmup: number;
  rounds: number;
  threadCounts: number[];
}

/** What one child process measured. */
export interface ChildResult {
  runtime: Runtime;
  label: string;
  threads: number;
  samplesMs: number[];
  plannedActivationBytes: number | null;
  peakRssBytes: number;
}

export interface Row {
  runtime: Runtime;
  label: string;
  threads: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
  plannedActivationBytes: number | null;
  peakRssBytes: number;
}

export interface Ratio {
  threads: number;
  peer: Runtime;
  speedup: number;
}

/** The machine, for the results' header. */
export const MACHINE = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;

/** Ours, and the peers unless `noPeers` or they cannot be installed. */
export function raceRuntimes(noPeers: boolean): Runtime[] {
  return noPeers || !ensurePeersInstalled() ? ['mobilenet-ts'] : [...RUNTIMES];
}

/**
 * Writes `model` to dir/model.onnx and a random NCHW batch of one to dir/input.npy, after giving the model random BN
 * statistics, affine terms and biases (the builders start them at identity and zero); the kernels stay as the builder
 * draws them (He-scaled, so activations keep their size: tiny ones would turn subnormal, which slows every runtime's
 * float arithmetic and times the wrong thing).
 */
export async function writeRaceFiles(dir: string, model: Model): Promise<void> {
  const random = new Random(11);
  model.setWeights(new Map([...model.weights()].flatMap(([name, t]) => {
    if (/kernel$/.test(name)) return [];
    const around1 = /(gamma|moving_variance)$/.test(name);
    return [[name, new Tensor(t.shape, random.fillUniform(new Float32Array(t.size), around1 ? 0.5 : -0.1, around1 ? 1.5 : 0.1))] as const];
  })), { strict: false });
  await writeFileAtomic(join(dir, 'model.onnx'), encodeOnnx(model));
  const [height, width, channels] = model.inputShape;
  const x = new Tensor([1, channels!, height!, width!], new Random(7).fillUniform(new Float32Array(channels! * height! * width!), -1, 1));
  await writeNpyFile(join(dir, 'input.npy'), x);
}

/** The file a runtime's `k`-th output (in the ONNX file's order) is saved to in `dir`, NCHW as the ONNX file has it. */
const outputFile = (dir: string, runtime: Runtime, k: number): string => join(dir, `output-${runtime}-${k}.npy`);

/**
 * In a child process: loads `runtime` on dir/model.onnx with dir/input.npy (NCHW), runs `warmup` untimed runs and `runs`
 * timed ones, and prints a ChildResult line; with `saveOutput`, the first run's outputs go to files for the comparison.
 */
export async function timeRuntime(runtime: Runtime, dir: string, threads: number, settings: { runs: number; warmup: number; saveOutput: boolean }): Promise<void> {
  const onnxPath = join(dir, 'model.onnx');
  const input = await readNpyFile(join(dir, 'input.npy'));
  let run: () => Promise<Record<string, Tensor>>;
  let label: string;
  let plannedActivationBytes: number | null = null;
  let asNchw = (y: Tensor): Tensor => y;
  if (runtime === 'mobilenet-ts') {
    enableWasmFeatures();
    const { model } = await decodeAnyModel({ bytes: await readBytes(onnxPath), source: onnxPath });
    const engine = await WasmEngine.create(model, { threads });
    const x = toLayout(input, 'NCHW', 'NHWC');
    label = `mobilenet-ts wasm, ${threads} thread${threads > 1 ? 's' : ''}`;
    plannedActivationBytes = engine.arenaBytes(1);
    // timed as the engine gives it (channels last); turned to the ONNX file's NCHW only to compare
    run = async () => engine.predictOutputs(x);
    asNchw = (y) => (y.rank === 4 ? toLayout(y, 'NHWC', 'NCHW') : y);
  } else {
    const { openOrtSession } = await import('./peers/peers.js');
    const ort = await openOrtSession(runtime, onnxPath, threads);
    const feeds = { [ort.session.inputNames[0]!]: new ort.ort.Tensor('float32', input.data, input.shape) };
    label = ort.label;
    run = async () => {
      const out = await ort.session.run(feeds);
      return Object.fromEntries(ort.session.outputNames.map((name) => [name, new Tensor([...out[name]!.dims], out[name]!.data as Float32Array)]));
    };
  }
  // warm-up: WebAssembly engines (ours, onnxruntime-web) reach their optimized code only after a few runs
  const first = await run();
  if (settings.saveOutput) for (const [k, y] of Object.values(first).entries()) await writeNpyFile(outputFile(dir, runtime, k), asNchw(y));
  for (let w = 1; w < settings.warmup; w++) await run();
  const samplesMs: number[] = [];
  for (let r = 0; r < settings.runs; r++) {
    const started = performance.now();
    await run();
    samplesMs.push(performance.now() - started);
  }
  const result: ChildResult = { runtime, label, threads, samplesMs, plannedActivationBytes, peakRssBytes: peakRssBytes() };
  console.log(JSON.stringify(result));
}

/**
 * In the parent: runs `script --child RUNTIME --dir DIR --threads T` (which calls `timeRuntime`) for each round, thread
 * count and runtime, each round starting with the next runtime; a runtime that fails is said and left out.
 */
export function race(name: string, script: string, dir: string, runtimes: readonly Runtime[], s: RaceSettings): ChildResult[] {
  const results: ChildResult[] = [];
  const total = s.rounds * s.threadCounts.length * runtimes.length;
  let started = 0;
  for (let round = 0; round < s.rounds; round++) {
    for (const threads of s.threadCounts) {
      // alternate: each round starts with the next runtime, so drifting load on a shared machine hits all alike
      const order = runtimes.map((_, i) => runtimes[(i + round) % runtimes.length]!);
      for (const runtime of order) {
        const saveOutput = round === 0 && threads === s.threadCounts[0];
        const args = ['--import', 'tsx', script, '--child', runtime, '--dir', dir, '--threads', String(threads), '--runs', String(s.runs), '--warmup', String(s.warmup), ...(saveOutput ? ['--save-output'] : [])];
        console.error(`${name} ${++started}/${total}: ${runtime}, ${threads} thread(s)`);
        try {
          const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
          results.push(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
        } catch (e) {
          console.error(`${name}: ${runtime} on ${threads} thread(s) failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        }
      }
    }
  }
  return results;
}

/** Per peer, the largest max |output − ours| / max(1, max|ours|) over the `outputs` outputs; a peer that saved nothing is left out. */
export async function agreementWithOurs(dir: string, runtimes: readonly Runtime[], outputs: number): Promise<Map<Runtime, number>> {
  const agreement = new Map<Runtime, number>();
  for (const runtime of runtimes.filter((r) => r !== 'mobilenet-ts')) {
    try {
      let worst = 0;
      for (let k = 0; k < outputs; k++) worst = Math.max(worst, maxRelativeDifference(await readNpyFile(outputFile(dir, runtime, k)), await readNpyFile(outputFile(dir, 'mobilenet-ts', k))));
      agreement.set(runtime, worst);
    } catch {
      // that runtime failed; its row says so
    }
  }
  return agreement;
}

/** max |a − b| / max(1, max|b|). */
function maxRelativeDifference(a: Tensor, b: Tensor): number {
  if (a.size !== b.size) return Infinity;
  let scale = 1;
  for (const v of b.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
  return worst / scale;
}

/** Medians and spreads per runtime and thread count, and each peer's median over ours. */
export function summarize(results: readonly ChildResult[], runtimes: readonly Runtime[], threadCounts: readonly number[]): { rows: Row[]; ratios: Ratio[] } {
  const rows: Row[] = [];
  for (const threads of threadCounts) {
    for (const runtime of runtimes) {
      const mine = results.filter((r) => r.runtime === runtime && r.threads === threads);
      if (mine.length === 0) continue;
      const s = mine.flatMap((r) => r.samplesMs).sort((a, b) => a - b);
      rows.push({
        runtime,
        label: mine[0]!.label,
        threads,
        medianMs: quantile(s, 0.5),
        p10Ms: quantile(s, 0.1),
        p90Ms: quantile(s, 0.9),
        samples: s.length,
        plannedActivationBytes: mine[0]!.plannedActivationBytes,
        peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes)),
      });
    }
  }
  const find = (runtime: Runtime, threads: number): Row | undefined => rows.find((r) => r.runtime === runtime && r.threads === threads);
  const ratios = threadCounts.flatMap((threads) => {
    const ours = find('mobilenet-ts', threads);
    if (!ours) return [];
    return runtimes.filter((r) => r !== 'mobilenet-ts').flatMap((peer) => {
      const p = find(peer, threads);
      return p ? [{ threads, peer, speedup: p.medianMs / ours.medianMs }] : [];
    });
  });
  return { rows, ratios };
}

/** The results table (median with p10–p90, memory, agreement) and a line per ratio, as markdown. */
export function raceMarkdown(rows: readonly Row[], ratios: readonly Ratio[], agreement: ReadonlyMap<Runtime, number>, digits = 0): { table: string; lines: string[] } {
  const mb = (b: number | null): string => (b === null ? '—' : `${(b / 1e6).toFixed(1)} MB`);
  const ms = (v: number): string => v.toFixed(digits);
  const table = [
    '| runtime | threads | median ms (p10–p90) | samples | planned activations | peak RSS (process) | max difference vs ours |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.label} | ${r.threads} | ${ms(r.medianMs)} (${ms(r.p10Ms)}–${ms(r.p90Ms)}) | ${r.samples} | ${mb(r.plannedActivationBytes)} | ${mb(r.peakRssBytes)} | ${r.runtime === 'mobilenet-ts' ? '—' : (agreement.get(r.runtime)?.toExponential(1) ?? 'not compared')} |`),
  ].join('\n');
  const lines = ratios.map((r) => `- ${r.threads} thread(s): mobilenet-ts is **${r.speedup.toFixed(2)}×** ${r.peer}'s speed (median latency).`);
  return { table, lines };
}
