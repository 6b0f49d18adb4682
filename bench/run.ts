// `npm run bench`: MobileNetV2 1.0-224 (torchvision's weights) on our engine and the peers, each runtime in a fresh
// process per round, thread count and batch, alternating; medians, ratios against ours, every output checked. Not a test.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { loadTorchStateDict } from '../src/io/torch-names.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { QuantizedModel } from '../src/quant/quantized-model.js';
import { readSafetensorsFile } from '../src/node/files.js';
import { peakRssBytes } from '../src/node/memory.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Tensor } from '../src/tensor/tensor.js';
import { ensurePeersInstalled } from './peers-setup.js';
import { MACHINE, race, raceMarkdown, summarize, timeRuns } from './race.js';
import type { ChildResult } from './race.js';
import { resultsFolder, writeResults } from './results-files.js';

/** Ours (fused chains, unfused for the §5.1 comparison, and int8 quantized from the same weights) and the peers. */
const OURS = ['mobilenet-ts', 'mobilenet-ts-unfused', 'mobilenet-ts-int8'] as const;
const PEERS = ['onnxruntime-node', 'onnxruntime-web', 'tfjs-wasm'] as const;
type Ours = (typeof OURS)[number];
type Peer = (typeof PEERS)[number];
type Runtime = Ours | Peer;
const isOurs = (r: Runtime): r is Ours => (OURS as readonly Runtime[]).includes(r);
/** TensorFlow.js's wasm backend has no threads in Node. */
const SINGLE_THREADED: readonly Runtime[] = ['tfjs-wasm'];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    batches: { type: 'string', default: '1,16' },
    'no-peers': { type: 'boolean' },
    write: { type: 'boolean' },
    // one runtime alone (the parent runs itself with these)
    child: { type: 'string' },
    batch: { type: 'string' },
    'save-output': { type: 'boolean' },
  },
});
const positive = (list: string, flag: string): number[] => {
  const numbers = list.split(',').map(Number);
  if (!numbers.every((n) => Number.isInteger(n) && n >= 1)) throw new Error(`${flag} takes positive integers, got ${list}`);
  return numbers;
};
const settings = {
  runs: positive(values.runs, '--runs')[0]!,
  warmup: positive(values.warmup, '--warmup')[0]!,
  rounds: positive(values.rounds, '--rounds')[0]!,
  threadCounts: positive(values.threads, '--threads'),
  batches: positive(values.batches, '--batches'),
};

const modelDir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'test', 'fixtures', 'golden', 'models', 'mnv2_100_224');

if (values.child) await child(values.child as Runtime, settings.threadCounts[0]!, positive(values.batch ?? '1', '--batch')[0]!);
else await parent();

/** In a child process: one runtime, one thread count, one batch; prints its ChildResult (with the max error vs PyTorch) as JSON. */
async function child(runtime: Runtime, threads: number, batch: number): Promise<void> {
  const { loadGolden, maxRelativeError, tileBatch, nchwToNhwc, createPeer, defaultOnnxPath } = await import('./peers/peers.js');
  const golden = loadGolden(modelDir);
  let label: string;
  let run: () => Promise<Float32Array>;
  let plannedActivationBytes: number | null = null;
  if (isOurs(runtime)) {
    enableWasmFeatures();
    const model = mobilenetV2();
    loadTorchStateDict(model, (await readSafetensorsFile(join(modelDir, 'weights.safetensors'))).tensors);
    const fuseBlocks = runtime !== 'mobilenet-ts-unfused';
    const [, c, h, w] = golden.input.shape as [number, number, number, number];
    const images = (n: number): Tensor => new Tensor([n, h, w, c], nchwToNhwc(tileBatch(golden.input, n), n, c, h, w));
    // int8: calibrated on the golden images themselves (the ranges a real calibration set would give are not the point here)
    const int8 = runtime === 'mobilenet-ts-int8';
    const engine = await WasmEngine.create(int8 ? QuantizedModel.quantize(model, [images(golden.input.shape[0]!)]) : model, { threads, fuseBlocks });
    const x = images(batch);
    label = `mobilenet-ts wasm${int8 ? ' int8' : ''}, ${fuseBlocks ? 'fused' : 'unfused'} blocks, ${threads} thread${threads > 1 ? 's' : ''}`;
    plannedActivationBytes = engine.arenaBytes(batch);
    run = async () => engine.predict(x).data;
  } else {
    const peer = await createPeer({ name: runtime, threads, modelDir, onnxPath: defaultOnnxPath(modelDir) }, golden);
    await peer.prepare(batch);
    label = peer.label;
    run = () => peer.run();
  }
  const { first, samplesMs } = await timeRuns(run, settings);
  const result: ChildResult<Runtime> & { maxError: number } = { runtime, label, threads, batch, samplesMs, plannedActivationBytes, peakRssBytes: peakRssBytes(), maxError: maxRelativeError(first, golden.output) };
  console.log(JSON.stringify(result));
}

async function parent(): Promise<void> {
  const runtimes: Runtime[] = values['no-peers'] || !ensurePeersInstalled() ? [...OURS] : [...OURS, ...PEERS];
  const results = race('bench', fileURLToPath(import.meta.url), runtimes, settings, [], (runtime, threads) => threads > 1 && SINGLE_THREADED.includes(runtime)) as (ChildResult<Runtime> & { maxError: number })[];
  const { rows, ratios } = summarize(results, runtimes, settings.threadCounts, 'mobilenet-ts', settings.batches);
  const maxError = (runtime: Runtime): number => Math.max(...results.filter((r) => r.runtime === runtime).map((r) => r.maxError));
  const { table, lines } = raceMarkdown(rows, ratios, { header: 'max error vs PyTorch', text: (r) => maxError(r).toExponential(1) }, 1);
  const command = `npm run bench -- --runs ${settings.runs} --warmup ${settings.warmup} --rounds ${settings.rounds} --threads ${settings.threadCounts.join(',')} --batches ${settings.batches.join(',')}${values.write ? ' --write' : ''}`;
  const markdown = `# Benchmark: MobileNetV2 1.0-224 (torchvision's weights, test/fixtures/golden/models/mnv2_100_224)

Made by \`${command}\` on ${MACHINE}, ${new Date().toISOString().slice(0, 10)}.
Each runtime runs in a fresh process (under tsx) per round, thread count and batch (${settings.warmup} warm-up runs, then
${settings.runs} timed runs), ${settings.rounds} rounds in alternating order. Peak RSS is the whole process's (VmHWM).
Max error: max |logits − PyTorch| / max(1, max|PyTorch|), over every image of the batch (int8: the quantization's own error).

${table}

${lines.join('\n')}
`;
  console.log(markdown);
  await writeResults(await resultsFolder(values.write ?? false), {
    'results.md': markdown,
    'results.json': `${JSON.stringify({ machine: MACHINE, command, settings, rows, ratios, maxError: Object.fromEntries(runtimes.map((r) => [r, maxError(r)])) }, null, 2)}\n`,
  });
}
