// One peer alone in this process, for its latency and peak RSS in isolation:
//
//   node --import tsx bench/peers/run-one.ts --peer NAME [--threads T] [--batch N] [--runs R] [--model-dir DIR] [--onnx FILE] [--json]
//
// NAME is one of onnxruntime-node, onnxruntime-web, tfjs-wasm, tfjs-cpu. One warm-up run, then R timed runs.
// --json prints one line: {peer, label, version, threads, batch, runs, medianMs, p10Ms, p90Ms, imagesPerSecond,
// peakRssBytes, baselineRssBytes, maxError}. peakRssBytes is the process's peak RSS at the end (VmHWM on Linux, see
// peakRssBytes in peers.ts; process.resourceUsage().maxRSS elsewhere): the whole process, Node (and tsx when run by
// it) included; baselineRssBytes is the same taken before the runtime was loaded. Plain node, no tsx (~30 MB less):
//   (cd bench/peers && npm run build) && node bench/peers/dist/bench/peers/run-one.js --peer NAME ...
// Exits 1 when the output disagrees with PyTorch (max error above 1e-4 relative to max(1, max|reference|)).

import { parseArgs } from 'node:util';
import { createPeer, defaultModelDir, peakRssBytes as processPeakRssBytes, defaultOnnxPath, loadGolden, maxRelativeError, PEER_NAMES, quantile, type PeerName, type RunOneResult } from './peers.js';

const { values } = parseArgs({
  options: {
    peer: { type: 'string' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '1' },
    runs: { type: 'string', default: '10' },
    'model-dir': { type: 'string', default: defaultModelDir },
    onnx: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const name = values.peer as PeerName | undefined;
if (name === undefined || !PEER_NAMES.includes(name)) {
  console.error(`usage: run-one.ts --peer ${PEER_NAMES.join('|')} [--threads T] [--batch N] [--runs R] [--model-dir DIR] [--onnx FILE] [--json]`);
  process.exit(2);
}
const threads = Number(values.threads);
const batch = Number(values.batch);
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const modelDir = values['model-dir'];
const onnxPath = values.onnx ?? defaultOnnxPath(modelDir);

const golden = loadGolden(modelDir);
const baselineRssBytes = processPeakRssBytes();

const peer = await createPeer({ name, threads, modelDir, onnxPath }, golden);
await peer.prepare(batch); // includes one warm-up run
const samples: number[] = [];
let logits: Float32Array = new Float32Array(0);
for (let r = 0; r < runs; r++) {
  const started = performance.now();
  logits = await peer.run();
  samples.push(performance.now() - started);
}
const maxError = maxRelativeError(logits, golden.output);
const peakRssBytes = processPeakRssBytes();
await peer.dispose();

const sorted = [...samples].sort((a, b) => a - b);
const medianMs = quantile(sorted, 0.5);
const result: RunOneResult = {
  peer: name,
  label: peer.label,
  version: peer.version,
  threads: peer.threads,
  batch,
  runs,
  medianMs,
  p10Ms: quantile(sorted, 0.1),
  p90Ms: quantile(sorted, 0.9),
  imagesPerSecond: (1000 * batch) / medianMs,
  peakRssBytes,
  baselineRssBytes,
  maxError,
};
const ok = maxError <= 1e-4;
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;
  console.log(
    `${result.label}, batch ${batch}: median ${medianMs.toFixed(1)} ms (p10 ${result.p10Ms.toFixed(1)}, p90 ${result.p90Ms.toFixed(1)}) over ${runs} runs, ` +
      `${result.imagesPerSecond.toFixed(1)} img/s, peak RSS ${mb(peakRssBytes)} (${mb(baselineRssBytes)} before the runtime), max error ${maxError.toExponential(2)}${ok ? '' : ' — DISAGREES WITH PYTORCH'}`,
  );
}
process.exitCode = ok ? 0 : 1;
