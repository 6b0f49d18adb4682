// `npm run bench`: MobileNetV2 1.0-224 (torchvision's weights) on our engine and the peers, each runtime in a fresh
// process per round, thread count and batch, alternating; medians, ratios against ours, every output checked. Not a test.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { loadTorchStateDict } from '../src/io/torch-names.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { QuantizedModel } from '../src/quant/quantized-model.js';
import { readBytes, readNpyFile, readSafetensorsFile, writeFileAtomic, writeNpyFile } from '../src/node/files.js';
import type { Model } from '../src/graph/model.js';
import type { PlannedModel } from '../src/graph/plan.js';
import { decodeTflite } from '../src/io/tflite/read.js';
import { importTflite } from '../src/io/tflite/import.js';
import { encodeTflite } from '../src/io/tflite/write.js';
import { dequantize, quantize } from '../src/quant/qparams.js';
import type { QParams } from '../src/quant/qparams.js';
import type { LiteRtArray } from '../test/support/litert.js';
import { peakRssBytes } from '../src/node/memory.js';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { Tensor } from '../src/tensor/tensor.js';
import { ensurePeersInstalled } from './peers-setup.js';
import { MACHINE, race, raceMarkdown, ratiosAgainst, summarize, timeRuns } from './race.js';
import type { ChildResult } from './race.js';
import { resultsFolder, writeResults } from './results-files.js';

/**
 * Ours: float32 (fused chains, and unfused for the §5.1 comparison), int8 quantized from the same weights, and the real
 * int8 TFLite MobileNetV2 as imported. The peers: onnxruntime and TensorFlow.js on the same weights; LiteRT.js on our
 * .tflite export of them (float32 and our int8), and on the real int8 file.
 */
const OURS = ['mobilenet-ts', 'mobilenet-ts-unfused', 'mobilenet-ts-int8', 'mobilenet-ts-int8-tflite'] as const;
const PEERS = ['onnxruntime-node', 'onnxruntime-web', 'tfjs-wasm'] as const;
const LITERT = ['litert', 'litert-int8-own', 'litert-int8'] as const;
type Ours = (typeof OURS)[number];
type Peer = (typeof PEERS)[number];
type LiteRt = (typeof LITERT)[number];
type Runtime = Ours | Peer | LiteRt;
const isOurs = (r: Runtime): r is Ours => (OURS as readonly Runtime[]).includes(r);
const isLiteRt = (r: Runtime): r is LiteRt => (LITERT as readonly Runtime[]).includes(r);
/** The real int8 model (TFLite Micro's MobileNetV2 1.0-224 with torchvision's weights): beside the repository, never in it. */
const REAL_TFLITE = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'shared', 'models', 'mobilenet_v2_quantized_1x3x224x224.tflite');
const ON_REAL_MODEL: readonly Runtime[] = ['mobilenet-ts-int8-tflite', 'litert-int8'];
/** The ratios the results state: each of ours against what it should beat. */
const COMPARISONS: readonly (readonly [Runtime, Runtime[]])[] = [
  ['mobilenet-ts', ['mobilenet-ts-unfused', 'onnxruntime-node', 'onnxruntime-web', 'tfjs-wasm', 'litert']],
  ['mobilenet-ts-int8', ['mobilenet-ts', 'litert-int8-own']],
  ['mobilenet-ts-int8-tflite', ['mobilenet-ts', 'litert-int8']],
];
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
    dir: { type: 'string' },
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
  const [, c, h, w] = golden.input.shape as [number, number, number, number];
  const images = (n: number): Tensor => new Tensor([n, h, w, c], nchwToNhwc(tileBatch(golden.input, n), n, c, h, w));
  const x = images(batch);
  const suffix = `${threads} thread${threads > 1 ? 's' : ''}`;
  let label: string;
  let run: () => Promise<Float32Array>;
  let plannedActivationBytes: number | null = null;
  if (isOurs(runtime)) {
    enableWasmFeatures();
    const fuseBlocks = runtime !== 'mobilenet-ts-unfused';
    let target: Model | PlannedModel;
    if (runtime === 'mobilenet-ts-int8-tflite') target = importTflite(await readBytes(REAL_TFLITE), REAL_TFLITE).model;
    else {
      const model = await goldenModel();
      // int8: calibrated on the golden images themselves (the ranges a real calibration set would give are not the point here)
      target = runtime === 'mobilenet-ts-int8' ? QuantizedModel.quantize(model, [images(golden.input.shape[0]!)]) : model;
    }
    const engine = await WasmEngine.create(target, { threads, fuseBlocks });
    const what = runtime === 'mobilenet-ts-int8-tflite' ? ' int8 (the real .tflite)' : runtime === 'mobilenet-ts-int8' ? ' int8' : '';
    label = `mobilenet-ts wasm${what}, ${fuseBlocks ? 'fused' : 'unfused'} blocks, ${suffix}`;
    plannedActivationBytes = engine.arenaBytes(batch);
    run = async () => engine.predict(x).data;
  } else if (isLiteRt(runtime)) {
    enableWasmFeatures();
    const file = runtime === 'litert-int8' ? REAL_TFLITE : join(values.dir!, runtime === 'litert' ? 'model.tflite' : 'model-int8.tflite');
    const bytes = await readBytes(file);
    const graph = decodeTflite(bytes, file).subgraphs[0]!;
    const [input, output] = [graph.tensors[graph.inputs[0]!]!, graph.tensors[graph.outputs[0]!]!];
    // the real file takes int8 NCHW: the golden (normalized) images quantized by its own input parameters
    const feed = runtime === 'litert-int8' ? quantize(tileBatch(golden.input, 1), quantOf(input.quantization)) : x.data.subarray(0, x.size / batch);
    const dequantized = (y: LiteRtArray): Float32Array => (y instanceof Int8Array ? dequantize(y, quantOf(output.quantization)) : Float32Array.from(y));
    const { compileTflite } = await import('../test/support/litert.js');
    const compiled = await compileTflite(bytes, threads);
    label = `LiteRT.js 2.5.3 (XNNPACK)${runtime === 'litert' ? '' : runtime === 'litert-int8' ? ' int8 (the real .tflite)' : ' int8 (our export)'}, ${suffix}`;
    // the files take one image: a batch is that many runs
    run = async () => {
      const logits = new Float32Array(batch * 1000);
      for (let b = 0; b < batch; b++) logits.set(dequantized((await compiled.run([feed]))[0]!), b * 1000);
      return logits;
    };
  } else {
    const peer = await createPeer({ name: runtime, threads, modelDir, onnxPath: defaultOnnxPath(modelDir) }, golden);
    await peer.prepare(batch);
    label = peer.label;
    run = () => peer.run();
  }
  const { first, samplesMs } = await timeRuns(run, settings);
  if (values['save-output']) await writeNpyFile(join(values.dir!, `output-${runtime}.npy`), new Tensor([first.length], first));
  const result: ChildResult<Runtime> & { maxError: number } = { runtime, label, threads, batch, samplesMs, plannedActivationBytes, peakRssBytes: peakRssBytes(), maxError: maxRelativeError(first, golden.output) };
  console.log(JSON.stringify(result));
}

async function goldenModel(): Promise<Model> {
  const model = mobilenetV2();
  loadTorchStateDict(model, (await readSafetensorsFile(join(modelDir, 'weights.safetensors'))).tensors);
  return model;
}

function quantOf(q: { scale: number[]; zeroPoint: number[] } | null): QParams {
  if (!q || q.scale.length !== 1) throw new Error('bench: the real .tflite file\'s input and output must be quantized per tensor');
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
}

/** The .tflite files of the golden weights (float32, and int8 quantized as mobilenet-ts-int8 is) in `dir`. */
async function writeTfliteFiles(dir: string): Promise<void> {
  const { loadGolden, nchwToNhwc } = await import('./peers/peers.js');
  const golden = loadGolden(modelDir);
  const [n, c, h, w] = golden.input.shape as [number, number, number, number];
  const model = await goldenModel();
  await writeFileAtomic(join(dir, 'model.tflite'), encodeTflite(model));
  await writeFileAtomic(join(dir, 'model-int8.tflite'), encodeTflite(QuantizedModel.quantize(model, [new Tensor([n, h, w, c], nchwToNhwc(golden.input.data, n, c, h, w))])));
}

/** How the two int8 runtimes on the real file agree: logits that differ, and the largest difference in output steps. */
async function realModelAgreement(dir: string): Promise<string> {
  try {
    const [ours, theirs] = await Promise.all(ON_REAL_MODEL.map((r) => readNpyFile(join(dir, `output-${r}.npy`))));
    const graph = decodeTflite(await readBytes(REAL_TFLITE)).subgraphs[0]!;
    const step = quantOf(graph.tensors[graph.outputs[0]!]!.quantization).scale;
    let differ = 0;
    let worst = 0;
    for (let i = 0; i < ours!.size; i++) {
      const d = Math.round(Math.abs(ours!.data[i]! - theirs!.data[i]!) / step);
      if (d > 0) differ++;
      worst = Math.max(worst, d);
    }
    return `On the real .tflite file, ours and LiteRT.js differ on ${differ} of ${ours!.size} int8 logits (at most ${worst} step${worst === 1 ? '' : 's'}).`;
  } catch (e) {
    return `The real .tflite file's outputs were not compared: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
}

async function parent(): Promise<void> {
  const real = existsSync(REAL_TFLITE);
  if (!real) console.error(`bench: ${REAL_TFLITE} is absent: the runtimes on the real int8 .tflite are left out`);
  const all: Runtime[] = values['no-peers'] || !ensurePeersInstalled() ? [...OURS] : [...OURS, ...PEERS, ...LITERT];
  const runtimes = all.filter((r) => real || !ON_REAL_MODEL.includes(r));
  const dir = await mkdtemp(join(tmpdir(), 'mobilenet-bench-'));
  await writeTfliteFiles(dir);
  const results = race('bench', fileURLToPath(import.meta.url), runtimes, settings, ['--dir', dir], (runtime, threads) => threads > 1 && SINGLE_THREADED.includes(runtime)) as (ChildResult<Runtime> & { maxError: number })[];
  const agreementLine = real ? await realModelAgreement(dir) : '';
  await rm(dir, { recursive: true, force: true });
  const { rows } = summarize(results, runtimes, settings.threadCounts, 'mobilenet-ts', settings.batches);
  const ratios = COMPARISONS.flatMap(([base, peers]) => ratiosAgainst(rows, base, peers));
  const maxError = (runtime: Runtime): number => Math.max(...results.filter((r) => r.runtime === runtime).map((r) => r.maxError));
  const { table, lines } = raceMarkdown(rows, ratios, { header: 'max error vs PyTorch', text: (r) => maxError(r).toExponential(1) }, 1);
  const command = `npm run bench -- --runs ${settings.runs} --warmup ${settings.warmup} --rounds ${settings.rounds} --threads ${settings.threadCounts.join(',')} --batches ${settings.batches.join(',')}${values.write ? ' --write' : ''}`;
  const markdown = `# Benchmark: MobileNetV2 1.0-224 (torchvision's weights, test/fixtures/golden/models/mnv2_100_224)

Made by \`${command}\` on ${MACHINE}, ${new Date().toISOString().slice(0, 10)}.
Each runtime runs in a fresh process (under tsx) per round, thread count and batch (${settings.warmup} warm-up runs, then
${settings.runs} timed runs), ${settings.rounds} rounds in alternating order. Peak RSS is the whole process's (VmHWM).
Max error: max |logits − PyTorch| / max(1, max|PyTorch|), over every image of the batch (int8: the quantization's own error).
LiteRT.js runs .tflite files of one image: its batch of N is N runs. ${agreementLine}

${table}

${lines.join('\n')}
`;
  console.log(markdown);
  await writeResults(await resultsFolder(values.write ?? false), {
    'results.md': markdown,
    'results.json': `${JSON.stringify({ machine: MACHINE, command, settings, rows, ratios, maxError: Object.fromEntries(runtimes.map((r) => [r, maxError(r)])) }, null, 2)}\n`,
  });
}
