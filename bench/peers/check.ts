// Checks every peer against PyTorch: batch 1 (and --batch N) on the golden input, max error relative to
// max(1, max|reference|) per peer, non-zero exit on any error above the tolerance (1e-4, the full-model bound).
//
//   node --import tsx bench/peers/check.ts [--model-dir DIR] [--onnx FILE] [--threads 1,2] [--batch 1] [--peers a,b] [--tolerance 1e-4]

import { parseArgs } from 'node:util';
import { createPeers, defaultModelDir, defaultOnnxPath, loadGolden, maxRelativeError, PEER_NAMES, type PeerName } from './peers.js';

const { values } = parseArgs({
  options: {
    'model-dir': { type: 'string', default: defaultModelDir },
    onnx: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '1' },
    peers: { type: 'string', default: PEER_NAMES.join(',') },
    tolerance: { type: 'string', default: '1e-4' },
  },
});
const modelDir = values['model-dir'];
const onnxPath = values.onnx ?? defaultOnnxPath(modelDir);
const threads = values.threads.split(',').map(Number);
const batch = Number(values.batch);
const tolerance = Number(values.tolerance);
const names = values.peers.split(',') as PeerName[];
for (const n of names) if (!PEER_NAMES.includes(n)) throw new Error(`unknown peer ${n}: expected one of ${PEER_NAMES.join(', ')}`);

const golden = loadGolden(modelDir);
console.log(`model: ${modelDir}\nonnx:  ${onnxPath}\nbatch ${batch}, tolerance ${tolerance} relative to max(1, max|PyTorch|)`);
const peers = await createPeers({ modelDir, onnxPath, threads, peers: names });
let failed = 0;
try {
  for (const peer of peers) {
    await peer.prepare(batch);
    const started = performance.now();
    const logits = await peer.run();
    const ms = performance.now() - started;
    const classes = golden.output.shape[1]!;
    const error = logits.length === batch * classes ? maxRelativeError(logits, golden.output) : Infinity;
    const ok = error <= tolerance;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${peer.label.padEnd(58)} max error ${error.toExponential(2)}  one run ${ms.toFixed(1)} ms`);
  }
} finally {
  await Promise.allSettled(peers.map((p) => p.dispose()));
}
console.log(failed === 0 ? `all ${peers.length} peers agree with PyTorch` : `${failed} of ${peers.length} peers disagree with PyTorch`);
process.exitCode = failed === 0 ? 0 : 1;
