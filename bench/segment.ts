// `npm run bench:segment`: Mobile DeepLabv3 (MobileNetV2, 21 classes, batch 1; α 1.0, 513×513, OS 16 by default) on
// our engine against onnxruntime-web (wasm SIMD) and onnxruntime-node on the same ONNX file (our export), each runtime
// in a process of its own, rounds alternating their order; medians, ratios, outputs checked against ours. Then, with
// a segmenter file (--model, or the bundled one), a 512×512 PNG segmented end to end on one thread. Not a test.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encode as encodePng } from 'fast-png';
import { quantile } from '../src/cli/bench.js';
import { deeplabV3, type DeepLabHead } from '../src/models/deeplab-v3.js';
import type { OutputStride } from '../src/models/output-stride.js';
import { readBytes, writeFileAtomic } from '../src/node/files.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { loadModel } from '../src/node/load-model.js';
import { Random } from '../src/tensor/random.js';
import { agreementColumn, agreementWithOurs, raceRuntimes, timeRuntime, writeRaceFiles } from './onnx-race.js';
import { MACHINE, race, raceMarkdown, summarize } from './race.js';
import type { Runtime } from './onnx-race.js';
import type { Ratio, Row } from './race.js';
import { resultsFolder, writeResults } from './results-files.js';

/** The segmenter the end-to-end timing uses without --model. */
const BUNDLED_SEGMENTER = fileURLToPath(new URL('../models/scenes-deeplab.safetensors', import.meta.url));

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    alpha: { type: 'string', default: '1' },
    resolution: { type: 'string', default: '513' },
    'output-stride': { type: 'string', default: '16' },
    head: { type: 'string', default: 'mobile' },
    'no-peers': { type: 'boolean' },
    model: { type: 'string' },
    'image-size': { type: 'string', default: '512' },
    write: { type: 'boolean' },
    // one runtime alone (the parent runs itself with these)
    child: { type: 'string' },
    dir: { type: 'string' },
    'save-output': { type: 'boolean' },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const threadCounts = values.threads.split(',').map(Number);
if (![runs, rounds, warmup, ...threadCounts].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--runs, --warmup, --rounds and --threads take positive integers');

if (values.child === 'end-to-end') await endToEnd(values.dir!);
else if (values.child) await timeRuntime(values.child as Runtime, values.dir!, threadCounts[0]!, { runs, warmup, saveOutput: values['save-output'] ?? false });
else await parent();

/** `segment()` on the PNG in `dir` with the model file, one thread: decode, resize, run, resize back, argmax. */
async function endToEnd(dir: string): Promise<void> {
  enableWasmFeatures();
  const seg = await loadModel(values.model!, { threads: 1 });
  const bytes = await readBytes(join(dir, 'image.png'));
  for (let w = 0; w < warmup; w++) await seg.segment(bytes);
  const samplesMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    await seg.segment(bytes);
    samplesMs.push(performance.now() - started);
  }
  await seg.dispose();
  console.log(JSON.stringify({ samplesMs }));
}

/** A size×size RGB PNG of smooth colour blobs (seeded), for the end-to-end timing. */
function testImage(size: number): Uint8Array {
  const random = new Random(3);
  const blobs = Array.from({ length: 6 }, () => [random.uniform() * size, random.uniform() * size, 20 + random.uniform() * size * 0.3, random.uniform() * 255, random.uniform() * 255, random.uniform() * 255]);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const at = (y * size + x) * 3;
      for (const [cx, cy, r, ...rgb] of blobs) {
        if ((x - cx!) ** 2 + (y - cy!) ** 2 < r! ** 2) data.set(rgb.map(Math.round), at);
      }
    }
  }
  return encodePng({ width: size, height: size, data, channels: 3, depth: 8 });
}

async function parent(): Promise<void> {
  const options = {
    alpha: Number(values.alpha),
    resolution: Number(values.resolution),
    outputStride: Number(values['output-stride']) as OutputStride,
    head: values.head as DeepLabHead,
    classes: 21,
    seed: 1,
  };
  endToEndModel(); // a wrong --model is said now, not after the runtimes' timings
  const model = deeplabV3(options);
  const dir = await mkdtemp(join(tmpdir(), 'mobilenet-bench-segment-'));
  try {
    await writeRaceFiles(dir, model);
    const runtimes = raceRuntimes(values['no-peers'] ?? false);
    const script = fileURLToPath(import.meta.url);
    const results = race('bench:segment', script, runtimes, { runs, warmup, rounds, threadCounts }, ['--dir', dir]);
    const agreement = await agreementWithOurs(dir, runtimes, model.outputNames.length);
    const endToEndMs = await timeEndToEnd(dir, script);
    await report(options, summarize(results, runtimes, threadCounts, 'mobilenet-ts'), agreement, endToEndMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The segmenter file the end-to-end timing uses: --model (which must exist), else the bundled one if present. */
function endToEndModel(): string | null {
  if (values.model !== undefined && !existsSync(values.model)) throw new Error(`--model ${values.model}: no such file`);
  return values.model ?? (existsSync(BUNDLED_SEGMENTER) ? BUNDLED_SEGMENTER : null);
}

/** Median ms of segment() on a generated PNG in a child process, or null (said why) without a segmenter file. */
async function timeEndToEnd(dir: string, script: string): Promise<{ model: string; imageSize: number; medianMs: number; samples: number } | null> {
  const model = endToEndModel();
  if (model === null) {
    console.error(`bench:segment: no end-to-end timing: give --model FILE (a segmenter); ${BUNDLED_SEGMENTER} does not exist`);
    return null;
  }
  const imageSize = Number(values['image-size']);
  await writeFileAtomic(join(dir, 'image.png'), testImage(imageSize));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    console.error(`bench:segment: end to end, ${imageSize}×${imageSize} PNG, round ${round + 1}/${rounds}`);
    let out: string;
    try {
      out = execFileSync(process.execPath, ['--import', 'tsx', script, '--child', 'end-to-end', '--dir', dir, '--model', model, '--runs', String(runs), '--warmup', String(warmup)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    } catch (e) {
      console.error(`bench:segment: the end-to-end timing failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      return null;
    }
    samples.push(...(JSON.parse(out.trim().split('\n').at(-1)!) as { samplesMs: number[] }).samplesMs);
  }
  samples.sort((a, b) => a - b);
  return { model, imageSize, medianMs: quantile(samples, 0.5), samples: samples.length };
}

async function report(options: { alpha: number; resolution: number; outputStride: number; head: string }, { rows, ratios }: { rows: Row<Runtime>[]; ratios: Ratio<Runtime>[] }, agreement: Map<Runtime, number>, endToEnd: { model: string; imageSize: number; medianMs: number; samples: number } | null): Promise<void> {
  const machine = MACHINE;
  const command = `npm run bench:segment -- --alpha ${options.alpha} --resolution ${options.resolution} --output-stride ${options.outputStride} --head ${options.head} --runs ${runs} --warmup ${warmup} --rounds ${rounds}${values.write ? ' --write' : ''}`;
  const { table, lines } = raceMarkdown(rows, ratios, agreementColumn(agreement));
  if (endToEnd) {
    lines.push(`- End to end on 1 thread (\`segment()\`: PNG decode, resize, run, scores resized back, argmax), a ${endToEnd.imageSize}×${endToEnd.imageSize} image with ${endToEnd.model.split('/').at(-1)}: **${endToEnd.medianMs.toFixed(1)} ms** (median of ${endToEnd.samples}).`);
  }
  const markdown = `# Benchmark: Mobile DeepLabv3, MobileNetV2 α ${options.alpha}, ${options.resolution}×${options.resolution}, output stride ${options.outputStride}, ${options.head} head, 21 classes, batch 1

Made by \`${command}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.
Every runtime runs the same ONNX file (our export of \`deeplabV3\`: He-scaled random kernels, random BN statistics and biases), each in a fresh process per
round (${warmup} warm-up runs, then ${runs} timed runs), ${rounds} rounds in alternating order. Max difference: max |logits − ours| /
max(1, max|ours|).

${table}

${lines.join('\n')}
`;
  console.log(markdown);
  await writeResults(await resultsFolder(values.write ?? false), {
    'segment-results.md': markdown,
    'segment-results.json': `${JSON.stringify({ machine, command, options, rows, ratios, agreement: Object.fromEntries(agreement), endToEnd }, null, 2)}\n`,
  });
}
