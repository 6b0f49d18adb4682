// `mobilenet bench`: latency and throughput of one engine on one architecture, with the planned
// activation arena and the process's peak RSS; `--json` for scripts (npm run bench runs it per engine).

import { modelCost } from '../cost/model-cost.js';
import { formatBytes } from '../cost/format.js';
import { buildModel } from '../models/registry.js';
import { peakRssBytes } from '../node/memory.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, POSITIVE_INTEGER, stringFlag } from './args.js';
import type { CommandIO } from './io.js';
import { createProgress } from './progress.js';
import { QuantizedModel } from '../quant/quantized-model.js';
import type { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';
import { ShapeError } from '../errors.js';
import { readNpyFile } from '../node/files.js';
import { openDataset } from '../node/training-run.js';
import { loadBatch } from '../data/dataset.js';
import { formatShape, sameShape } from '../tensor/tensor.js';
import { modelRunner } from '../backend/model-runner.js';

/** Int8 calibration images: an NHWC .npy batch, the first 64 images of a data folder (train split, else test), or `synthetic`. */
async function calibrationBatch(source: string | undefined, inputShape: readonly number[], synthetic: Tensor): Promise<Tensor> {
  if (source === undefined) return synthetic;
  if (source.toLowerCase().endsWith('.npy')) {
    const x = await readNpyFile(source);
    if (x.rank !== inputShape.length + 1 || !sameShape(x.shape.slice(1), inputShape)) throw new ShapeError(`--calibration ${source}: shape ${formatShape(x.shape)}, the model takes NHWC [N, ${inputShape.join(', ')}]`);
    return x;
  }
  const [h, w, c] = inputShape;
  const options = { size: [h, w] as [number, number], channels: c as 1 | 3 };
  const data = await openDataset(source, 'train', options).catch(() => openDataset(source, 'test', options));
  return (await loadBatch(data, Int32Array.from({ length: Math.min(64, data.size) }, (_, i) => i))).x;
}

export const BENCH_HELP = `mobilenet bench [architecture flags] [--batch N] [--threads T] [--backend wasm|reference] [--precision float32|int8]
                [--calibration DIR|X.npy] [--fused on|off] [--runs R] [--json]
Times batches through one engine (random weights and inputs; timing does not depend on values):
median and spread of latency, images/s, planned activation arena and peak RSS.
${ARCHITECTURE_HELP}
  --batch N                          images per run (default 1)
  --threads T                        worker threads for the wasm backend (default 1)
  --backend wasm|reference           engine (default wasm); int8 stays as --precision int8 on wasm
  --precision float32|int8           int8: the model quantized on the fly (per-channel weights, calibrated
                                     activations, TFLite's arithmetic), then run as a plan by the same engine
  --calibration DIR|X.npy            int8 calibration images: the first 64 of a data folder's train split (test
                                     when it has no train split), or an NHWC .npy batch (default: the random input)
  --fused on|off                     row-streamed inverted residuals, wasm only (default on)
  --runs R                           timed runs after 3 warm-up runs (default 20)
  --json                             {medianMs, p10Ms, p90Ms, imagesPerSecond, arenaBytes, peakRssBytes, …}`;

export interface BenchResult {
  backend: string;
  precision: 'float32' | 'int8';
  threads: number;
  fused: boolean;
  batch: number;
  runs: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  imagesPerSecond: number;
  arenaBytes: number;
  peakRssBytes: number;
  relaxedSimd: boolean;
}

export const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];

export async function benchCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(
    argv,
    { ...ARCHITECTURE_FLAGS, batch: { type: 'string' }, threads: { type: 'string' }, backend: { type: 'string' }, precision: { type: 'string' }, calibration: { type: 'string' }, fused: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } },
    'bench',
  );
  const { arch, options } = architectureFlags(values);
  const batch = numberFlag(values, 'batch', POSITIVE_INTEGER) ?? 1;
  const threads = numberFlag(values, 'threads', POSITIVE_INTEGER) ?? 1;
  const runs = numberFlag(values, 'runs', POSITIVE_INTEGER) ?? 20;
  const backendFlag = stringFlag(values, 'backend', ['wasm', 'int8', 'reference'] as const) ?? 'wasm';
  const backend = backendFlag === 'int8' ? 'wasm' : backendFlag;
  const precision = stringFlag(values, 'precision', ['float32', 'int8'] as const) ?? (backendFlag === 'int8' ? 'int8' : 'float32');
  const fused = (stringFlag(values, 'fused', ['on', 'off'] as const) ?? 'on') === 'on';
  const model = buildModel(arch, options);
  const x = new Tensor([batch, ...model.inputShape], new Random(1).fillUniform(new Float32Array(batch * model.input.shape.reduce((a, b) => a * b)), -1, 1));
  let target: Model | PlannedModel = model;
  if (precision === 'int8') {
    const q = QuantizedModel.quantize(model, [await calibrationBatch(values.calibration as string | undefined, model.inputShape, x)]);
    target = fused ? q : { plan: q.unfused, outputNames: q.outputNames };
  }
  const runner = await modelRunner(target, { threads, reference: backend === 'reference', fuseBlocks: fused });
  for (const note of runner.notes) io.err(`note: ${note}`);
  const run = (): void => void runner.predictOutputs(x);
  // without the engine's planned arena: every activation alive at once, one byte per int8 value
  const arenaBytes = runner.wasm?.arenaBytes(batch) ?? (modelCost(model).activationBytes / (precision === 'int8' ? 4 : 1)) * batch;
  const relaxedSimd = runner.wasm?.relaxedSimd ?? false;
  const engine = runner.wasm ? 'wasm' : 'reference';
  for (let i = 0; i < 3; i++) run();
  const times: number[] = [];
  const progress = createProgress(io, { label: `bench ${model.name} ${precision} ${engine}`, total: runs, unit: 'runs' });
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
    progress.tick();
  }
  progress.stop();
  await runner.dispose();
  times.sort((a, b) => a - b);
  const medianMs = quantile(times, 0.5);
  const result: BenchResult = {
    backend: engine,
    precision,
    threads: runner.wasm?.threads ?? 1,
    fused: engine === 'wasm' && fused,
    batch,
    runs,
    medianMs,
    p10Ms: quantile(times, 0.1),
    p90Ms: quantile(times, 0.9),
    imagesPerSecond: (1000 * batch) / medianMs,
    arenaBytes,
    peakRssBytes: peakRssBytes(),
    relaxedSimd,
  };
  if (values.json) {
    io.out(JSON.stringify({ model: model.name, ...result }));
    return;
  }
  io.out(
    [
      `${model.name}, ${precision} on ${engine}${engine === 'wasm' ? ` (${result.threads} thread${result.threads > 1 ? 's' : ''}, ${fused ? 'fused' : 'unfused'} blocks, ${relaxedSimd ? 'relaxed' : 'plain'} SIMD)` : ''}, batch ${batch}, ${runs} runs`,
      `latency   median ${medianMs.toFixed(2)} ms   p10 ${result.p10Ms.toFixed(2)} ms   p90 ${result.p90Ms.toFixed(2)} ms`,
      `throughput ${result.imagesPerSecond.toFixed(1)} images/s`,
      runner.wasm ? `arena     ${formatBytes(arenaBytes)} planned activations` : `activations ${formatBytes(arenaBytes)}, allocated step by step`,
      `peak RSS  ${formatBytes(result.peakRssBytes)}`,
    ].join('\n'),
  );
}
