// `npm run bench`: times the engines on MobileNetV2 1.0-224 in one process, interleaved run by run,
// and writes a markdown table and JSON to bench/results/. Not a test: no timing gates anything.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { referenceBackend } from '../src/backend/reference.js';
import type { Backend } from '../src/backend/backend.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';

interface Engine {
  name: string;
  backend: Backend;
  batch: number;
}

interface Result {
  engine: string;
  batch: number;
  runs: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  imagesPerSecond: number;
}

const runs = Number(process.env.BENCH_RUNS ?? 7);
const engines: Engine[] = [{ name: 'reference (plain TS)', backend: referenceBackend, batch: 1 }];
const model = mobilenetV2();
const inputs = new Map(engines.map((e) => [e.batch, new Tensor([e.batch, 224, 224, 3], new Random(7).fillUniform(new Float32Array(e.batch * 224 * 224 * 3), -1, 1))]));

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];

function time(e: Engine): number {
  const started = performance.now();
  model.predict(inputs.get(e.batch)!, { backend: e.backend });
  return performance.now() - started;
}

for (const e of engines) time(e); // warm-up: JIT, allocation
const samples = new Map(engines.map((e) => [e.name, [] as number[]]));
for (let r = 0; r < runs; r++) {
  // interleaved: every engine once per round, so drift on a shared machine hits all alike
  for (const e of engines) samples.get(e.name)!.push(time(e));
  process.stderr.write(`bench: round ${r + 1}/${runs}\n`);
}

const results: Result[] = engines.map((e) => {
  const s = [...samples.get(e.name)!].sort((a, b) => a - b);
  const medianMs = quantile(s, 0.5);
  return { engine: e.name, batch: e.batch, runs, medianMs, p10Ms: quantile(s, 0.1), p90Ms: quantile(s, 0.9), imagesPerSecond: (1000 * e.batch) / medianMs };
});

const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
const markdown = [
  `MobileNetV2 1.0-224, median of ${runs} runs after warm-up (${machine})`,
  '',
  '| engine | batch | median ms | p10 ms | p90 ms | images/s |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${r.engine} | ${r.batch} | ${r.medianMs.toFixed(1)} | ${r.p10Ms.toFixed(1)} | ${r.p90Ms.toFixed(1)} | ${r.imagesPerSecond.toFixed(2)} |`),
].join('\n');

const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench.md'), markdown + '\n');
writeFileSync(join(out, 'bench.json'), JSON.stringify({ machine, model: 'mobilenet_v2 1.0-224', results }, null, 2) + '\n');
console.log(markdown);
console.log(`\nwritten: ${join(out, 'bench.md')}, ${join(out, 'bench.json')}`);
