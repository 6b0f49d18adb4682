// `npm run bench:detect`: SSDLite-MobileNetV2 (α 1.0, 300×300, 90 classes + background, batch 1) on our engine against
// onnxruntime-web and -node on our ONNX export of it, a process per runtime per round; both outputs checked against ours.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ssdLite } from '../src/models/ssd.js';
import { agreementColumn, agreementWithOurs, raceRuntimes, timeRuntime, writeRaceFiles } from './onnx-race.js';
import { MACHINE, race, raceMarkdown, summarize } from './race.js';
import type { Runtime } from './onnx-race.js';
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
  const dir = await mkdtemp(join(tmpdir(), 'mobilenet-bench-detect-'));
  try {
    await writeRaceFiles(dir, model);
    const runtimes = raceRuntimes(values['no-peers'] ?? false);
    const results = race('bench:detect', fileURLToPath(import.meta.url), runtimes, settings, ['--dir', dir]);
    const agreement = await agreementWithOurs(dir, runtimes, model.outputNames.length);
    const { rows, ratios } = summarize(results, runtimes, settings.threadCounts, 'mobilenet-ts');
    const { table, lines } = raceMarkdown(rows, ratios, agreementColumn(agreement), 1);
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
