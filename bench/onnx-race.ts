// Our engine against onnxruntime-web (wasm SIMD) and onnxruntime-node on one ONNX file (our export), for bench:segment and
// bench:detect: the files, each runtime's child-process side of the race (./race.ts), every output compared with ours.

import { join } from 'node:path';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { decodeAnyModel } from '../src/io/any-model.js';
import type { Model } from '../src/graph/model.js';
import { encodeOnnx } from '../src/io/onnx/export.js';
import { readBytes, readNpyFile, writeFileAtomic, writeNpyFile } from '../src/node/files.js';
import { peakRssBytes } from '../src/node/memory.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Random } from '../src/tensor/random.js';
import { Tensor, toLayout } from '../src/tensor/tensor.js';
import { ensurePeersInstalled } from './peers-setup.js';
import { timeRuns } from './race.js';
import type { ChildResult } from './race.js';

export const RUNTIMES = ['mobilenet-ts', 'onnxruntime-web', 'onnxruntime-node'] as const;
export type Runtime = (typeof RUNTIMES)[number];

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
  const { first, samplesMs } = await timeRuns(run, settings);
  if (settings.saveOutput) for (const [k, y] of Object.values(first).entries()) await writeNpyFile(outputFile(dir, runtime, k), asNchw(y));
  const result: ChildResult<Runtime> = { runtime, label, threads, samplesMs, plannedActivationBytes, peakRssBytes: peakRssBytes() };
  console.log(JSON.stringify(result));
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

/** The agreement column of a race's table: each peer's largest max |output − ours| / max(1, max|ours|). */
export function agreementColumn(agreement: ReadonlyMap<Runtime, number>): { header: string; text: (runtime: Runtime) => string } {
  return { header: 'max difference vs ours', text: (r) => (r === 'mobilenet-ts' ? '—' : (agreement.get(r)?.toExponential(1) ?? 'not compared')) };
}
