// Training throughput (not a test): one SGD step (forward, backward, update) of the bundled model's
// architecture at batch 64, our WebAssembly kernels on 1 and 2 threads and the reference beside PyTorch's CPU (when installed).
// Results go to a temporary folder unless `--write` asks to replace the committed bench/train-results.{md,json}.

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { createWasmTrainingBackends } from '../src/backend/wasm/ops-backend.js';
import type { Backend } from '../src/backend/backend.js';
import type { GradientBackend } from '../src/backend/gradients.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { createOptimizer, paramInfo } from '../src/train/optimizers.js';
import { quantile } from '../src/cli/bench.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { resultsFolder, writeResults } from './results-files.js';

const { values } = parseArgs({ options: { write: { type: 'boolean' } } });
enableWasmFeatures();
const here = dirname(fileURLToPath(import.meta.url));
const ALPHA = 0.5;
const BATCH = 64;

async function ours(label: string, steps: number, kernels?: { backend: Backend; gradients: GradientBackend; threads?: number; scope?: <T>(body: () => T) => T }): Promise<Record<string, unknown>> {
  const model = mobilenetV2({ alpha: ALPHA, resolution: 28, inputChannels: 1, classes: 10, stemStride: 1 });
  const optimizer = createOptimizer({ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, paramInfo: paramInfo(model) });
  const x = new Tensor([BATCH, 28, 28, 1], new Random(1).fillNormal(new Float32Array(BATCH * 784), 1));
  const labels = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
  const times: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const started = performance.now();
    // as the trainer runs a step: in the backends' scope, if they have one
    const step = (): void => {
      const { grads } = model.forwardBackward(x, labels, { labelSmoothing: 0.1, backend: kernels?.backend, gradients: kernels?.gradients });
      optimizer.step(model.trainableWeights(), grads, 0.01);
    };
    if (kernels?.scope) kernels.scope(step);
    else step();
    if (i >= 2) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const medianMs = quantile(times, 0.5);
  return { runtime: label, threads: kernels?.threads ?? 1, batch: BATCH, medianMs, imagesPerSecond: (1000 * BATCH) / medianMs };
}

const rows: Record<string, unknown>[] = [];
for (const threads of [1, 2]) {
  const wasm = await createWasmTrainingBackends({ threads });
  if (wasm.threadsNote) console.error(wasm.threadsNote);
  rows.push(await ours(`mobilenet-ts wasm (${wasm.relaxedSimd ? 'relaxed' : 'plain'} SIMD)`, 10, wasm));
  await wasm.dispose();
}
rows.push(await ours('mobilenet-ts reference (plain TS)', 2));
for (const threads of [1, 2]) {
  try {
    rows.push(JSON.parse(execFileSync('/usr/bin/python3', [join(here, 'train_torch.py'), String(ALPHA), String(BATCH), String(threads), '10'], { encoding: 'utf8' }).trim()) as Record<string, unknown>);
  } catch (e) {
    console.error(`PyTorch (${threads} thread${threads > 1 ? 's' : ''}) not measured: ${e instanceof Error ? e.message.split('\n')[0] : String(e)} (apt-get install python3-torch python3-torchvision)`);
  }
}
const n = (v: unknown, d = 1): string => (typeof v === 'number' ? v.toFixed(d) : '—');
const markdown = `# Training throughput: MobileNetV2 α ${ALPHA}, 28×28×1, stem stride 1, 10 classes, batch ${BATCH}

Made by \`npm run bench:train${values.write ? ' -- --write' : ''}\` on ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}.
One SGD step (forward in training mode, backward, Nesterov update), median of the timed steps after 2 warm-up steps.

| runtime | threads | ms per step | images/s |
| --- | --- | --- | --- |
${rows.map((r) => `| ${r.runtime} | ${r.threads} | ${n(r.medianMs)} | ${n(r.imagesPerSecond)} |`).join('\n')}
`;
console.log(markdown);
await writeResults(await resultsFolder(values.write ?? false), { 'train-results.md': markdown, 'train-results.json': JSON.stringify(rows, null, 2) + '\n' });
