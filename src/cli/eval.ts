// `mobilenet eval`: top-1, top-5, per-class accuracy and throughput of a model file on a data folder's split.

import { openDataset } from '../node/training-run.js';
import { loadRunnableModel } from './model-files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, requiredFlag, POSITIVE_INTEGER, stringFlag } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags } from './conventions.js';
import { subset } from '../data/dataset.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';
import { evaluate } from '../train/trainer.js';

export const EVAL_HELP = `mobilenet eval [--model FILE] --data DIR [--split test|train] [--limit N] [--json] [flags below]
Evaluates a model (default: the bundled model; an int8 file from \`mobilenet quantize\` runs on the int8 kernels;
any format \`mobilenet convert\` reads, weights-only files built from the architecture flags) on DIR's split
(IDX files: the test split is t10k-*), or on its first N images. Top-5 is shown for models of more than 5 classes.
  --model FILE                       the model (default: the bundled Fashion-MNIST model)
  --data DIR                         IDX files, or an image folder with test/ (or val/) and train/ class folders
  --split test|train                 which split (default test)
  --limit N                          the first N images only
  --json                             {top1, top5 (null for ≤ 5 classes), loss, images, imagesPerSecond, perClass,
                                     confusion}, accuracies as fractions
${CONVENTION_HELP}
${ARCHITECTURE_HELP}`;

export async function evalCommand(argv: string[], io: CommandIO): Promise<void> {
  const spec = { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } as const;
  const { values } = parse(argv, spec, 'eval');
  const folder = requiredFlag(values, 'data', 'eval', 'DIR');
  const split = stringFlag(values, 'split', ['test', 'train'] as const) ?? 'test';
  const limit = numberFlag(values, 'limit', POSITIVE_INTEGER);
  const { arch, options } = architectureFlags(values);
  const given = await conventionFlags(values);
  const loaded = await loadRunnableModel(values.model as string | undefined, { ...options, arch }, { given, unnamedClasses: "named as the data folder names them, else by number" });
  printNotes(io, loaded.notes);
  const { preprocessing, classNames, source } = loaded;
  const [h, w, c] = loaded.inputShape;
  const all = await openDataset(folder, split, { size: [h, w], channels: c as 1 | 3, preprocessing });
  const data = limit === undefined || limit >= all.size ? all : subset(all, Int32Array.from({ length: limit }, (_, i) => i));
  const runner = await loaded.start();
  const started = performance.now();
  const metrics = await evaluate(loaded, data, { predict: (x) => runner.predict(x) }).finally(() => runner.dispose());
  const seconds = (performance.now() - started) / 1000;
  // with 5 classes or fewer, every answer is in the top 5
  const top5 = metrics.confusion.length > 5 ? metrics.top5 : null;
  const result = { model: source, engine: runner.engine, split, ...metrics, top5, imagesPerSecond: metrics.images / seconds };
  if (values.json) {
    io.out(JSON.stringify(result));
    return;
  }
  const names = classNames ?? data.classes;
  const percent = (v: number): string => `${(100 * v).toFixed(2)}%`;
  io.out(`${source} (${runner.engine}) on ${folder} (${split}, ${metrics.images} images): top-1 ${percent(metrics.top1)}${top5 === null ? '' : `, top-5 ${percent(top5)}`}, loss ${metrics.loss.toFixed(4)}, ${result.imagesPerSecond.toFixed(0)} images/s`);
  const label = (i: number): string => (names[i] ?? String(i)).slice(0, 12);
  io.out(`\nConfusion matrix (rows: true class, columns: predicted) and per-class accuracy:`);
  io.out(`${''.padEnd(15)}${metrics.confusion.map((_, j) => String(j).padStart(6)).join('')}   accuracy`);
  metrics.confusion.forEach((row, i) => io.out(`${String(i).padStart(2)} ${label(i).padEnd(12)}${row.map((v) => String(v).padStart(6)).join('')}   ${percent(metrics.perClass[i])}`));
}
