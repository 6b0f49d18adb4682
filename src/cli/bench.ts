// `mobilenet bench`: latency and throughput of one engine on one architecture, with the planned
// activation arena and the process's peak RSS; `--json` for scripts (npm run bench runs it per engine).

import { modelCost } from '../cost/model-cost.js';
import { formatBytes } from '../cost/format.js';
import { WasmEngine } from '../backend/wasm/engine.js';
import { buildModel } from '../models/registry.js';
import { peakRssBytes } from '../node/memory.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, POSITIVE_INTEGER, stringFlag } from './args.js';
import type { CommandIO } from './io.js';
import { createProgress } from './progress.js';
import { QuantizedModel } from '../quant/quantized-model.js';
import { WasmInt8Kernels } from '../quant/wasm-int8.js';

export const BENCH_HELP = `mobilenet bench [architecture flags] [--batch N] [--threads T] [--backend wasm|int8|reference] [--fused on|off] [--runs R] [--json]
Times batches through one engine (random weights and inputs; timing does not depend on values):
median and spread of latency, images/s, planned activation arena and peak RSS.
${ARCHITECTURE_HELP}
  --batch N                          images per run (default 1)
  --threads T                        worker threads for the wasm backend (default 1)
  --backend wasm|int8|reference      engine (default wasm); int8: the model quantized (calibrated on the
                                     input batch), on the WebAssembly int8 kernels
  --fused on|off                     row-streamed inverted residuals, wasm only (default on)
  --runs R                           timed runs after 3 warm-up runs (default 20)
  --json                             {medianMs, p10Ms, p90Ms, imagesPerSecond, arenaBytes, peakRssBytes, …}`;

export interface BenchResult {
  backend: string;
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
    { ...ARCHITECTURE_FLAGS, batch: { type: 'string' }, threads: { type: 'string' }, backend: { type: 'string' }, fused: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } },
    'bench',
  );
  const { arch, options } = architectureFlags(values);
  const batch = numberFlag(values, 'batch', POSITIVE_INTEGER) ?? 1;
  const threads = numberFlag(values, 'threads', POSITIVE_INTEGER) ?? 1;
  const runs = numberFlag(values, 'runs', POSITIVE_INTEGER) ?? 20;
  const backend = stringFlag(values, 'backend', ['wasm', 'int8', 'reference'] as const) ?? 'wasm';
  const fused = (stringFlag(values, 'fused', ['on', 'off'] as const) ?? 'on') === 'on';
  const model = buildModel(arch, options);
  const x = new Tensor([batch, ...model.inputShape], new Random(1).fillUniform(new Float32Array(batch * model.input.shape.reduce((a, b) => a * b)), -1, 1));

  let run: () => void;
  let arenaBytes: number;
  let relaxedSimd = false;
  if (backend === 'wasm') {
    const engine = await WasmEngine.create(model, { fuseBlocks: fused, threads });
    run = () => engine.predict(x);
    arenaBytes = engine.arenaBytes(batch);
    relaxedSimd = engine.relaxedSimd;
  } else if (backend === 'int8') {
    const quantized = QuantizedModel.quantize(model, [x]);
    const kernels = WasmInt8Kernels.supported() ? await WasmInt8Kernels.create(quantized) : null;
    run = () => quantized.predict(x, { kernels });
    // int8 activations, one byte per value, allocated step by step (no planned arena)
    arenaBytes = (modelCost(model).activationBytes / 4) * batch;
  } else {
    run = () => model.predict(x);
    arenaBytes = modelCost(model).activationBytes * batch;
  }
  for (let i = 0; i < 3; i++) run();
  const times: number[] = [];
  const progress = createProgress(io, { label: `bench ${model.name} ${backend}`, total: runs, unit: 'runs' });
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
    progress.tick();
  }
  progress.stop();
  times.sort((a, b) => a - b);
  const medianMs = quantile(times, 0.5);
  const result: BenchResult = {
    backend,
    threads: backend === 'wasm' ? threads : 1,
    fused: backend === 'wasm' && fused,
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
      `${model.name}, ${backend}${backend === 'wasm' ? ` (${threads} thread${threads > 1 ? 's' : ''}, ${fused ? 'fused' : 'unfused'} blocks, ${relaxedSimd ? 'relaxed' : 'plain'} SIMD)` : ''}, batch ${batch}, ${runs} runs`,
      `latency   median ${medianMs.toFixed(2)} ms   p10 ${result.p10Ms.toFixed(2)} ms   p90 ${result.p90Ms.toFixed(2)} ms`,
      `throughput ${result.imagesPerSecond.toFixed(1)} images/s`,
      backend === 'int8' ? `activations ${formatBytes(arenaBytes)} in int8, allocated step by step` : `arena     ${formatBytes(arenaBytes)} planned activations`,
      `peak RSS  ${formatBytes(result.peakRssBytes)}`,
    ].join('\n'),
  );
}
