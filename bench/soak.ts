// `npm run soak`: a long-running-service check. 10,000 inferences of the bundled Fashion-MNIST MobileNetV2
// (batch 1 and 8, 1 and 2 threads), engines created and disposed in a loop, and a several-epoch training run
// of a small MobileNetV2, sampling RSS, V8 heap, array buffers and wasm memory; writes soak-results.{md,json} to a
// temporary folder, or over the committed ones in bench/ with `--write` (`--out PREFIX` picks the files' path).

import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { WasmEngine } from '../src/backend/wasm/engine.js';
import { createWasmTrainingBackends } from '../src/backend/wasm/ops-backend.js';
import { subset } from '../src/data/dataset.js';
import { decodeModelFile } from '../src/io/model-file.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { readBytes } from '../src/node/files.js';
import { readIdxFolder } from '../src/node/idx-files.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { train } from '../src/train/trainer.js';
import type { TrainConfig } from '../src/train/trainer.js';
import { resultsFolder, writeResults } from './results-files.js';

enableWasmFeatures();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    inferences: { type: 'string' },
    epochs: { type: 'string' },
    engines: { type: 'string' },
    out: { type: 'string' },
    quick: { type: 'boolean' },
    write: { type: 'boolean' },
  },
});
const quick = values.quick ?? false;
const INFERENCES = Number(values.inferences ?? (quick ? 400 : 10_000));
const EPOCHS = Number(values.epochs ?? (quick ? 2 : 5));
const ENGINES = Number(values.engines ?? (quick ? 10 : 100));
const OUT = values.out ?? join(await resultsFolder(values.write ?? false), quick ? 'soak-quick' : 'soak-results');
/** Samples before this fraction of a phase are warm-up (JIT, arenas planned, pools filled) and not judged. */
const WARMUP = 0.2;
const TARGET_GROWTH = 0.05;

interface Sample {
  at: number;
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  wasm: number;
}

function sample(at: number, wasm: number): Sample {
  const m = process.memoryUsage();
  return { at, rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, wasm };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Growth of a series after warm-up: the median of its last 20% against the median of the 20% right after warm-up. */
function growth(samples: Sample[], key: keyof Omit<Sample, 'at'>): number {
  const judged = samples.slice(Math.floor(samples.length * WARMUP));
  const window = Math.max(1, Math.floor(judged.length * 0.2));
  const first = median(judged.slice(0, window).map((s) => s[key]));
  const last = median(judged.slice(-window).map((s) => s[key]));
  return first > 0 ? (last - first) / first : 0;
}

interface Phase {
  name: string;
  unit: string;
  count: number;
  seconds: number;
  samples: Sample[];
  growth: { rss: number; heapUsed: number; arrayBuffers: number; wasm: number };
}

const phases: Phase[] = [];

function finish(name: string, unit: string, count: number, started: number, samples: Sample[]): void {
  const phase: Phase = {
    name,
    unit,
    count,
    seconds: (performance.now() - started) / 1000,
    samples,
    growth: { rss: growth(samples, 'rss'), heapUsed: growth(samples, 'heapUsed'), arrayBuffers: growth(samples, 'arrayBuffers'), wasm: growth(samples, 'wasm') },
  };
  phases.push(phase);
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  console.log(`${name}: ${count} ${unit} in ${phase.seconds.toFixed(1)} s; growth after warm-up: RSS ${pct(phase.growth.rss)}, heap ${pct(phase.growth.heapUsed)}, array buffers ${pct(phase.growth.arrayBuffers)}, wasm ${pct(phase.growth.wasm)}`);
}

// 1. Inference: the bundled model, four configurations sharing the inferences.
const bundled = decodeModelFile(await readBytes(join(here, '..', 'models', 'fashion-mnist.safetensors')), 'models/fashion-mnist.safetensors');
const inputShape = bundled.model.inputShape;
const configurations = [
  { batch: 1, threads: 1 },
  { batch: 8, threads: 1 },
  { batch: 1, threads: 2 },
  { batch: 8, threads: 2 },
];
for (const { batch, threads } of configurations) {
  const engine = await WasmEngine.create(bundled.model, { threads });
  const x = new Tensor([batch, ...inputShape], new Random(batch).fillUniform(new Float32Array(batch * inputShape.reduce((a, b) => a * b, 1)), -1, 1));
  const count = Math.ceil(INFERENCES / configurations.length);
  const every = Math.max(1, Math.floor(count / 100));
  const samples: Sample[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    engine.predict(x);
    if (i % every === 0) {
      if (i % (every * 10) === 0) await new Promise((resolve) => setImmediate(resolve)); // let finalizers run, as a service would
      samples.push(sample(i, engine.memoryBytes));
    }
  }
  finish(`inference batch ${batch}, ${threads} thread${threads > 1 ? 's' : ''}`, 'inferences', count, started, samples);
  await engine.dispose();
}

// 2. Engines created, used once and disposed: memory and workers must not accumulate.
{
  const samples: Sample[] = [];
  const x = new Tensor([1, ...inputShape], new Float32Array(inputShape.reduce((a, b) => a * b, 1)));
  const started = performance.now();
  for (let i = 0; i < ENGINES; i++) {
    const engine = await WasmEngine.create(bundled.model, { threads: 2 });
    engine.predict(x);
    await engine.dispose();
    gc();
    samples.push(sample(i, 0));
  }
  finish('engines created and disposed (2 threads)', 'engines', ENGINES, started, samples);
}

// 3. Training: a small MobileNetV2 on 384 of the fixture's Fashion-MNIST images for several epochs, wasm kernels.
{
  const all = await readIdxFolder(join(here, '..', 'test', 'fixtures', 'data', 'fashion-mnist'), { split: 'test', pixels: { mean: 0.5, std: 0.5 } });
  const trainData = subset(all, Int32Array.from({ length: 384 }, (_, i) => i));
  const testData = subset(all, Int32Array.from({ length: 116 }, (_, i) => 384 + i));
  const model = mobilenetV2({ alpha: 0.35, resolution: 28, inputChannels: 1, classes: 10, stemStride: 1, seed: 1 });
  const config: TrainConfig = {
    epochs: EPOCHS,
    batchSize: 32,
    seed: 3,
    optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 4e-5, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
    schedule: { kind: 'cosine', lr: 0.05, warmupEpochs: 0 },
    labelSmoothing: 0.1,
    augment: { padding: 2, flip: true },
    checkpointEvery: 0,
  };
  const wasm = await createWasmTrainingBackends();
  const samples: Sample[] = [];
  const started = performance.now();
  await train(model, trainData, testData, config, {
    backend: wasm.backend,
    gradients: wasm.gradients,
    hooks: { stepEnd: (_images, _loss, state) => samples.push(sample(state.step, wasm.stats().memoryBytes)) },
  });
  wasm.dispose();
  finish(`training ${EPOCHS} epochs (MobileNetV2 α 0.35, 28×28, 384 images, batch 32, wasm)`, 'steps', samples.length, started, samples);
}

// Report
const worst = Math.max(...phases.flatMap((p) => [p.growth.rss, p.growth.wasm]));
const report = {
  date: new Date().toISOString(),
  node: process.version,
  quick,
  model: 'models/fashion-mnist.safetensors (MobileNetV2 α 0.5, 28×28×1, stride-1 stem)',
  warmupFraction: WARMUP,
  target: TARGET_GROWTH,
  pass: worst < TARGET_GROWTH,
  phases: phases.map(({ samples, ...p }) => ({ ...p, samples: samples.map((s) => [s.at, s.rss, s.heapUsed, s.arrayBuffers, s.wasm]) })),
  sampleColumns: ['at', 'rss', 'heapUsed', 'arrayBuffers', 'wasm'],
};
const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const rows = phases.map((p) => {
  const last = p.samples.at(-1)!;
  return `| ${p.name} | ${p.count} ${p.unit} | ${p.seconds.toFixed(1)} | ${mib(last.rss)} | ${mib(last.wasm)} | ${pct(p.growth.rss)} | ${pct(p.growth.heapUsed)} | ${pct(p.growth.arrayBuffers)} | ${pct(p.growth.wasm)} |`;
});
const markdown = `# Soak${quick ? ' (quick: shortened, not the published run)' : ''}

${report.date}, Node ${process.version}. Growth is the median of a phase's last 20% of samples against the median of
the 20% right after warm-up (the first ${100 * WARMUP}% of samples); the target is under ${100 * TARGET_GROWTH}% for RSS and wasm memory.
Result: **${report.pass ? 'pass' : 'FAIL'}** (worst RSS or wasm growth ${pct(worst)}).

| phase | work | seconds | final RSS (MiB) | final wasm (MiB) | RSS growth | heap growth | array buffers growth | wasm growth |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
console.log(markdown);
await writeResults(dirname(OUT), { [`${basename(OUT)}.json`]: JSON.stringify(report), [`${basename(OUT)}.md`]: markdown });
process.exitCode = report.pass ? 0 : 1;
