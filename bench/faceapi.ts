// `npm run bench:faceapi`: face-api's SSD-MobileNetV1 face detector on one photo, ours (its weights manifest loaded,
// WebAssembly engine) against face-api itself on TF.js's wasm backend: each runtime in its own process per round, rounds
// alternating their order, the same thread count; medians, ratios, and both runtimes' faces compared. Not a test.

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { quantile } from '../src/cli/bench.js';
import { decodeImage } from '../src/data/image.js';
import { letterboxCanvas, preprocessImage } from '../src/data/preprocess.js';
import { postprocess } from '../src/detect/postprocess.js';
import { loadAnyModel } from '../src/node/any-model.js';
import { readBytes } from '../src/node/files.js';
import { peakRssBytes } from '../src/node/memory.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Tensor } from '../src/tensor/tensor.js';
import { FACEAPI_SSD_MANIFEST, faceApiModelFolder, loadFaceApi } from '../test/support/faceapi.js';
import { resultsFolder, writeResults } from './results-files.js';

const RUNTIMES = ['mobilenet-ts', 'face-api'] as const;
type Runtime = (typeof RUNTIMES)[number];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    image: { type: 'string', default: fileURLToPath(new URL('../test/fixtures/photos/grace_hopper.jpg', import.meta.url)) },
    write: { type: 'boolean' },
    // one runtime alone (the parent runs itself with these)
    child: { type: 'string' },
  },
});
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const threadCounts = values.threads.split(',').map(Number);
if (![runs, rounds, warmup, ...threadCounts].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--runs, --warmup, --rounds and --threads take positive integers');

/** A face as both runtimes report it: score and [ymin, xmin, ymax, xmax] in the photo's pixels. */
interface Face {
  score: number;
  box: number[];
}

/** What one child process measured. */
interface ChildResult {
  runtime: Runtime;
  label: string;
  /** Threads asked for, and those the runtime reports using. */
  threads: number;
  threadsUsed: number;
  samplesMs: number[];
  faces: Face[];
  peakRssBytes: number;
}

const folder = faceApiModelFolder();
if (folder === null) throw new Error('bench:faceapi needs face-api: npm ci installs it (dev dependency @vladmandic/face-api)');
const manifestPath = join(folder, FACEAPI_SSD_MANIFEST);

if (values.child) await child(values.child as Runtime, threadCounts[0]);
else await parent();

/**
 * Times detection on the photo's decoded pixels, as each runtime's users run it: ours preprocesses (pad, resize,
 * scale), runs the engine and post-processes; face-api's `detectAllFaces` does the same from an int32 image tensor.
 */
async function child(runtime: Runtime, threads: number): Promise<void> {
  const image = decodeImage(await readBytes(values.image), { channels: 3, source: values.image });
  let detect: () => Promise<Face[]>;
  let label: string;
  let threadsUsed = threads;
  let dispose = async (): Promise<void> => {};
  if (runtime === 'mobilenet-ts') {
    enableWasmFeatures();
    const loaded = await loadAnyModel(manifestPath);
    const head = loaded.model.metadata.detection!;
    const preprocessing = loaded.preprocessing!;
    const engine = await WasmEngine.create(loaded.model, { threads });
    const canvas = letterboxCanvas(image.shape, [512, 512], 'top-left');
    label = `mobilenet-ts wasm, ${threads} thread${threads > 1 ? 's' : ''}`;
    detect = async () => {
      const input = new Tensor([1, 512, 512, 3], preprocessImage(image.pixels, image.shape, preprocessing));
      const outputs = engine.predictOutputs(input);
      return postprocess(outputs.scores, outputs.boxes, head, head.defaults)[0].map((d) => ({
        score: d.score,
        box: [d.box[0] * canvas.height - canvas.top, d.box[1] * canvas.width - canvas.left, d.box[2] * canvas.height - canvas.top, d.box[3] * canvas.width - canvas.left],
      }));
    };
    dispose = () => engine.dispose();
  } else {
    const api = await loadFaceApi('wasm', threads);
    threadsUsed = api.threads;
    const tensor = api.tf.tensor3d(Int32Array.from(image.pixels), [...image.shape], 'int32');
    const options = new api.SsdMobilenetv1Options({});
    label = `face-api 1.7.15 on tfjs-backend-wasm 4.22, ${threadsUsed} thread${threadsUsed > 1 ? 's' : ''}`;
    detect = async () => (await api.detectAllFaces(tensor, options)).map((f) => ({ score: f.score, box: [f.box.y, f.box.x, f.box.y + f.box.height, f.box.x + f.box.width] }));
  }
  // warm-up: both WebAssembly runtimes reach their optimized code only after a few runs
  const faces = await detect();
  for (let w = 1; w < warmup; w++) await detect();
  const samplesMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    await detect();
    samplesMs.push(performance.now() - started);
  }
  await dispose();
  const result: ChildResult = { runtime, label, threads, threadsUsed, samplesMs, faces, peakRssBytes: peakRssBytes() };
  console.log(JSON.stringify(result));
}

async function parent(): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const results: ChildResult[] = [];
  const total = rounds * threadCounts.length * RUNTIMES.length;
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      // alternate: each round starts with the next runtime, so drifting load on a shared machine hits both alike
      const order = RUNTIMES.map((_, i) => RUNTIMES[(i + round) % RUNTIMES.length]!);
      for (const runtime of order) {
        const args = ['--import', 'tsx', script, '--child', runtime, '--threads', String(threads), '--runs', String(runs), '--warmup', String(warmup), '--image', values.image];
        console.error(`bench:faceapi ${results.length + 1}/${total}: ${runtime}, ${threads} thread(s)`);
        try {
          const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
          results.push(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
        } catch (e) {
          console.error(`bench:faceapi: ${runtime} on ${threads} thread(s) failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        }
      }
    }
  }
  await report(results);
}

interface Row {
  runtime: Runtime;
  label: string;
  threads: number;
  threadsUsed: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
  peakRssBytes: number;
}

/** How far apart two runtimes' faces are: null when their counts differ. */
function agreement(a: Face[], b: Face[]): { faces: number; score: number; boxPx: number } | null {
  if (a.length !== b.length) return null;
  let score = 0;
  let boxPx = 0;
  a.forEach((face, i) => {
    score = Math.max(score, Math.abs(face.score - b[i]!.score));
    face.box.forEach((v, k) => (boxPx = Math.max(boxPx, Math.abs(v - b[i]!.box[k]!))));
  });
  return { faces: a.length, score, boxPx };
}

async function report(results: ChildResult[]): Promise<void> {
  const rows: Row[] = [];
  for (const threads of threadCounts) {
    for (const runtime of RUNTIMES) {
      const mine = results.filter((r) => r.runtime === runtime && r.threads === threads);
      if (mine.length === 0) continue;
      const s = mine.flatMap((r) => r.samplesMs).sort((a, b) => a - b);
      rows.push({ runtime, label: mine[0]!.label, threads, threadsUsed: mine[0]!.threadsUsed, medianMs: quantile(s, 0.5), p10Ms: quantile(s, 0.1), p90Ms: quantile(s, 0.9), samples: s.length, peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes)) });
    }
  }
  const find = (runtime: Runtime, threads: number): Row | undefined => rows.find((r) => r.runtime === runtime && r.threads === threads);
  const ratios = threadCounts.flatMap((threads) => {
    const ours = find('mobilenet-ts', threads);
    const peer = find('face-api', threads);
    return ours && peer ? [{ threads, peerThreadsUsed: peer.threadsUsed, speedup: peer.medianMs / ours.medianMs }] : [];
  });
  const ourFaces = results.find((r) => r.runtime === 'mobilenet-ts')?.faces;
  const theirFaces = results.find((r) => r.runtime === 'face-api')?.faces;
  const agree = ourFaces && theirFaces ? agreement(ourFaces, theirFaces) : null;
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  const image = values.image.split('/').at(-1)!;
  const command = `npm run bench:faceapi -- --runs ${runs} --warmup ${warmup} --rounds ${rounds} --threads ${threadCounts.join(',')}${values.write ? ' --write' : ''}`;
  const table = [
    '| runtime | threads asked (used) | median ms (p10–p90) | samples | peak RSS (process) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.label} | ${r.threads} (${r.threadsUsed}) | ${r.medianMs.toFixed(1)} (${r.p10Ms.toFixed(1)}–${r.p90Ms.toFixed(1)}) | ${r.samples} | ${(r.peakRssBytes / 1e6).toFixed(0)} MB |`),
  ].join('\n');
  const lines = ratios.map((r) => `- ${r.threads} thread(s): mobilenet-ts is **${r.speedup.toFixed(2)}×** face-api's speed (median latency)${r.peerThreadsUsed < r.threads ? `; face-api ran on ${r.peerThreadsUsed} thread (TF.js turns wasm threads off in Node)` : ''}.`);
  lines.push(agree ? `- Both found ${agree.faces} face(s) in ${image} (face-api's default score ≥ 0.5): scores within ${agree.score.toExponential(1)}, boxes within ${agree.boxPx.toFixed(2)} px.` : `- The runtimes' faces differ in count (ours ${ourFaces?.length ?? '—'}, face-api ${theirFaces?.length ?? '—'}).`);
  const markdown = `# Benchmark: face-api's SSD-MobileNetV1 face detector, ${image}

Made by \`${command}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.
One detection on the photo's decoded pixels, as each runtime's users run it: ours pads, resizes and scales the image,
runs the engine on face-api's weights (loaded from its manifest) and post-processes; face-api's \`detectAllFaces\` does the
same from an int32 tensor. Each runtime in a fresh process per round (${warmup} warm-up runs, then ${runs} timed runs),
${rounds} rounds in alternating order.

${table}

${lines.join('\n')}
`;
  console.log(markdown);
  await writeResults(await resultsFolder(values.write ?? false), {
    'faceapi-results.md': markdown,
    'faceapi-results.json': `${JSON.stringify({ machine, command, image, rows, ratios, agreement: agree }, null, 2)}\n`,
  });
}
