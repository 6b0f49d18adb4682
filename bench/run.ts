// `npm run bench`: our engines (reference; wasm with 1 and 2 threads, fused and unfused blocks) and the peers
// (onnxruntime-node/web, tfjs wasm/cpu) on the same MobileNetV2 1.0-224 weights, in one process, interleaved run
// by run; every output checked against PyTorch's; peak RSS of each alone in a child process. Not a test.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { enableWasmFeatures } from '../src/node/wasm-features.js';
import { WasmEngine } from '../src/backend/wasm/engine.js';
import { modelCost } from '../src/cost/model-cost.js';
import { loadTorchStateDict } from '../src/io/torch-names.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { Tensor, toLayout } from '../src/tensor/tensor.js';
import { processIO } from '../src/cli/io.js';
import { createProgress } from '../src/cli/progress.js';
import { quantile } from '../src/cli/bench.js';
import { readNpyFile, readSafetensorsFile } from '../src/node/files.js';
import { ensurePeersInstalled } from './peers-setup.js';
import { resultsFolder, writeResults } from './results-files.js';

enableWasmFeatures();

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const modelDir = join(root, 'test', 'fixtures', 'golden', 'models', 'mnv2_100_224');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, 'batch-runs': { type: 'string', default: '5' }, 'no-peers': { type: 'boolean' }, 'no-rss': { type: 'boolean' }, write: { type: 'boolean' } } });
const runs = Number(values.runs);
const batchRuns = Number(values['batch-runs']);
const BIG_BATCH = 16;

/** Something that runs MobileNetV2 1.0-224 on the golden input repeated `batch` times and returns the logits. */
interface Runner {
  label: string;
  /** Our engines: the `mobilenet bench` flags that reproduce it alone; peers: their run-one spec. */
  isolated: { kind: 'ours'; args: string[] } | { kind: 'peer'; peer: string; threads: number };
  batches: number[];
  prepare(batch: number): Promise<void>;
  run(): Promise<Float32Array>;
  arenaBytes?: (batch: number) => number;
  dispose(): Promise<void>;
}

const input = await readNpyFile(join(modelDir, 'input.npy'));
const expected = await readNpyFile(join(modelDir, 'output.npy'));
const nhwc = toLayout(input, 'NCHW', 'NHWC');
const tile = (batch: number): Tensor => {
  const data = new Float32Array(batch * nhwc.size);
  for (let b = 0; b < batch; b++) data.set(nhwc.data, b * nhwc.size);
  return new Tensor([batch, ...nhwc.shape.slice(1)], data);
};
/** max over the batch of |logits − PyTorch| / max(1, max|PyTorch|). */
function maxError(logits: Float32Array): number {
  let scale = 1;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = Math.abs(logits[i] - expected.data[i % expected.size]);
    if (!(d <= worst)) worst = d;
  }
  return worst / scale;
}

const model = mobilenetV2();
loadTorchStateDict(model, (await readSafetensorsFile(join(modelDir, 'weights.safetensors'))).tensors);
const runners: Runner[] = [];

function ours(label: string, args: string[], batches: number[], make: () => Promise<{ run: (x: Tensor) => Tensor; arenaBytes: (batch: number) => number }>): Promise<void> {
  return make().then(
    (engine) => {
      let x = tile(1);
      runners.push({
        label,
        isolated: { kind: 'ours', args },
        batches,
        prepare: async (batch) => {
          x = tile(batch);
        },
        run: async () => engine.run(x).data,
        arenaBytes: engine.arenaBytes,
        dispose: async () => {},
      });
    },
    (e: unknown) => console.error(`bench: skipping ${label}: ${e instanceof Error ? e.message : String(e)}`),
  );
}

await ours('mobilenet-ts reference (plain TS)', ['--backend', 'reference'], [1], async () => ({ run: (x) => model.predict(x), arenaBytes: (b) => modelCost(model).activationBytes * b }));
for (const threads of [1, 2]) {
  for (const fused of [true, false]) {
    await ours(`mobilenet-ts wasm, ${fused ? 'fused' : 'unfused'} blocks, ${threads} thread${threads > 1 ? 's' : ''}`, ['--threads', String(threads), '--fused', fused ? 'on' : 'off'], [1, BIG_BATCH], async () => {
      const engine = await WasmEngine.create(model, { threads, fuseBlocks: fused });
      return { run: (x) => engine.predict(x), arenaBytes: (b) => engine.arenaBytes(b) };
    });
  }
}

if (!values['no-peers'] && ensurePeersInstalled()) {
  const { createPeers } = await import('./peers/peers.js');
  for (const peer of await createPeers({ modelDir, threads: [1, 2] })) {
    const slow = peer.name === 'tfjs-cpu';
    runners.push({ label: peer.label, isolated: { kind: 'peer', peer: peer.name, threads: peer.threads }, batches: slow ? [1] : [1, BIG_BATCH], prepare: (b) => peer.prepare(b), run: () => peer.run(), dispose: () => peer.dispose() });
  }
}

interface Row {
  label: string;
  batch: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  imagesPerSecond: number;
  maxError: number;
  arenaBytes: number | null;
}
const rows: Row[] = [];
for (const batch of [1, BIG_BATCH]) {
  const active = runners.filter((r) => r.batches.includes(batch));
  const errors = new Map<Runner, number>();
  for (const r of active) {
    await r.prepare(batch);
    errors.set(r, maxError(await r.run())); // also the warm-up
  }
  const count = batch === 1 ? runs : batchRuns;
  const samples = new Map(active.map((r) => [r, [] as number[]]));
  const progress = createProgress(processIO, { label: `bench batch ${batch}`, total: count * active.length, unit: 'runs' });
  for (let i = 0; i < count; i++) {
    // interleaved: each engine once per round, so load on the shared machine hits all of them alike
    for (const r of active) {
      if (r.label.includes('reference') && i >= 3) continue; // ~0.8 s a run: three samples are plenty
      const started = performance.now();
      await r.run();
      samples.get(r)!.push(performance.now() - started);
      progress.tick();
    }
  }
  progress.stop();
  for (const r of active) {
    const s = samples.get(r)!.sort((a, b) => a - b);
    const medianMs = quantile(s, 0.5);
    rows.push({ label: r.label, batch, medianMs, p10Ms: quantile(s, 0.1), p90Ms: quantile(s, 0.9), imagesPerSecond: (1000 * batch) / medianMs, maxError: errors.get(r)!, arenaBytes: r.arenaBytes ? r.arenaBytes(batch) : null });
  }
}
await Promise.all(runners.map((r) => r.dispose()));

// peak RSS, batch 1, each runtime alone in a fresh process (plain node on built code, not tsx)
const rss = new Map<string, number>();
if (!values['no-rss']) {
  const cli = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  let peersBuilt = false;
  for (const r of runners) {
    try {
      if (r.isolated.kind === 'ours') {
        const out = execFileSync(process.execPath, [cli, 'bench', '--json', '--runs', '3', ...r.isolated.args], { cwd: root, encoding: 'utf8' });
        rss.set(r.label, JSON.parse(out.trim().split('\n').at(-1)!).peakRssBytes);
      } else {
        const { measurePeerRss, buildPeers } = await import('./peers/peers.js');
        if (!peersBuilt) await buildPeers();
        peersBuilt = true;
        rss.set(r.label, (await measurePeerRss({ peer: r.isolated.peer as never, threads: r.isolated.threads, batch: 1, runs: 3 })).peakRssBytes);
      }
    } catch (e) {
      console.error(`bench: no peak RSS for ${r.label}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
}

const mb = (b: number | null | undefined): string => (b === null || b === undefined ? '—' : `${(b / 1e6).toFixed(1)} MB`);
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
const command = `npm run bench -- --runs ${runs} --batch-runs ${batchRuns}${values.write ? ' --write' : ''}`;
const table = [
  '| runtime | batch 1: median ms (p10–p90) | batch 1 images/s | batch 16 images/s | peak RSS, batch 1, alone | planned arena, batch 1 | max error vs PyTorch |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...runners.map((r) => {
    const one = rows.find((x) => x.label === r.label && x.batch === 1);
    const big = rows.find((x) => x.label === r.label && x.batch === BIG_BATCH);
    const err = Math.max(one?.maxError ?? 0, big?.maxError ?? 0);
    return `| ${r.label} | ${one ? `${one.medianMs.toFixed(1)} (${one.p10Ms.toFixed(1)}–${one.p90Ms.toFixed(1)})` : '—'} | ${one ? one.imagesPerSecond.toFixed(1) : '—'} | ${big ? big.imagesPerSecond.toFixed(1) : '—'} | ${mb(rss.get(r.label))} | ${mb(one?.arenaBytes)} | ${err.toExponential(1)} |`;
  }),
].join('\n');
const markdown = `# Benchmark: MobileNetV2 1.0-224 (torchvision weights of test/fixtures/golden/models/mnv2_100_224)

Made by \`${command}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.
One process, engines interleaved run by run; batch 1: median of ${runs} runs after a warm-up (reference: 3);
batch ${BIG_BATCH}: median of ${batchRuns}. Peak RSS: each runtime alone in a fresh \`node\` process (VmHWM).
Max error: max |logits − PyTorch| / max(1, max|PyTorch|), over every image of the batch.

${table}
`;
console.log(markdown);
await writeResults(await resultsFolder(values.write ?? false), {
  'results.md': markdown,
  'results.json': JSON.stringify({ machine, command, runs, batchRuns, rows, peakRssBytes: Object.fromEntries(rss) }, null, 2) + '\n',
});
