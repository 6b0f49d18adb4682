// `npm run bench:detect`: SSDLite on MobileNetV2 (α 1.0, 300×300, 90 classes + background, batch 1 by default) on our
// engine against onnxruntime-web (wasm SIMD) and onnxruntime-node on the same ONNX file (our export), each runtime in a
// process of its own, rounds alternating their order; medians, ratios, both outputs (scores, boxes) checked against ours.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeOnnx } from '../src/io/onnx/export.js';
import { ssdLite } from '../src/models/ssd.js';
import { writeFileAtomic, writeNpyFile } from '../src/node/files.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { MACHINE, RUNTIMES, agreementWithOurs, race, raceMarkdown, summarize, timeRuntime } from './onnx-race.js';
import type { Runtime } from './onnx-race.js';
import { ensurePeersInstalled } from './peers-setup.js';
import { resultsFolder, writeResults } from './results-files.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    alpha: { type: 'string', default: '1' },
    resolution: { type: 'string', default: '300' },
    classes: { type: 'string', default: '90' },
    'no-peers': { type: 'boolean' },
    write: { type: 'boolean' },
    // one runtime alone (the parent runs itself with these)
    child: { type: 'string' },
    dir: { type: 'string' },
    'save-output': { type: 'boolean' },
  },
});
const settings = {
  runs: Number(values.runs),
  warmup: Number(values.warmup),
  rounds: Number(values.rounds),
  threadCounts: values.threads.split(',').map(Number),
};
if (![settings.runs, settings.rounds, settings.warmup, ...settings.threadCounts].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--runs, --warmup, --rounds and --threads take positive integers');

if (values.child) await timeRuntime(values.child as Runtime, values.dir!, settings.threadCounts[0]!, { ...settings, saveOutput: values['save-output'] ?? false });
else await parent();

async function parent(): Promise<void> {
  const options = { alpha: Number(values.alpha), resolution: Number(values.resolution), classes: Number(values.classes), seed: 1 };
  const model = ssdLite(options);
  // BN statistics and affine terms and the biases random too (the builder starts them at identity and zero), the kernels
  // as the builder draws them (He-scaled, so activations keep their size and no runtime is timed on subnormal floats)
  const random = new Random(11);
  model.setWeights(new Map([...model.weights()].flatMap(([name, t]) => {
    if (/kernel$/.test(name)) return [];
    const around1 = /(gamma|moving_variance)$/.test(name);
    return [[name, new Tensor(t.shape, random.fillUniform(new Float32Array(t.size), around1 ? 0.5 : -0.1, around1 ? 1.5 : 0.1))] as const];
  })), { strict: false });
  const dir = await mkdtemp(join(tmpdir(), 'mobilenet-bench-detect-'));
  try {
    await writeFileAtomic(join(dir, 'model.onnx'), encodeOnnx(model));
    const x = new Tensor([1, 3, options.resolution, options.resolution], new Random(7).fillUniform(new Float32Array(3 * options.resolution ** 2), -1, 1));
    await writeNpyFile(join(dir, 'input.npy'), x);
    const runtimes: Runtime[] = values['no-peers'] || !ensurePeersInstalled() ? ['mobilenet-ts'] : [...RUNTIMES];
    const results = race('bench:detect', fileURLToPath(import.meta.url), dir, runtimes, settings);
    const agreement = await agreementWithOurs(dir, runtimes, model.outputNames.length);
    const { rows, ratios } = summarize(results, runtimes, settings.threadCounts);
    const { table, lines } = raceMarkdown(rows, ratios, agreement, 1);
    const anchors = model.outputShapes.scores![0];
    const command = `npm run bench:detect -- --alpha ${options.alpha} --resolution ${options.resolution} --classes ${options.classes} --runs ${settings.runs} --warmup ${settings.warmup} --rounds ${settings.rounds}${values.write ? ' --write' : ''}`;
    const markdown = `# Benchmark: SSDLite, MobileNetV2 α ${options.alpha}, ${options.resolution}×${options.resolution}, ${options.classes} classes + background (${anchors} anchors), batch 1

Made by \`${command}\` on ${MACHINE}, ${new Date().toISOString().slice(0, 10)}.
Every runtime runs the same ONNX file (our export of \`ssdLite\`: He-scaled random kernels, random BN statistics and biases; outputs
\`scores\` and \`boxes\` before post-processing), each in a fresh process per round (${settings.warmup} warm-up runs, then ${settings.runs} timed runs),
${settings.rounds} rounds in alternating order. Max difference: over both outputs, max |output − ours| / max(1, max|ours|).

${table}

${lines.join('\n')}
`;
    console.log(markdown);
    await writeResults(await resultsFolder(values.write ?? false), {
      'detect-results.md': markdown,
      'detect-results.json': `${JSON.stringify({ machine: MACHINE, command, options, rows, ratios, agreement: Object.fromEntries(agreement) }, null, 2)}\n`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
