// `mobilenet eval`: top-1, top-5, per-class accuracy and throughput of a model file on a data folder's split.

import { UsageError } from '../errors.js';
import { openDataset } from '../node/training-run.js';
import { loadRunnableModel } from './model-files.js';
import { numberFlag, parse, positiveInteger, stringFlag } from './args.js';
import { subset } from '../data/dataset.js';
import type { CommandIO } from './io.js';
import { evaluate } from '../train/trainer.js';

export const EVAL_HELP = `mobilenet eval [--model FILE] --data DIR [--split test|train] [--limit N] [--json]
Evaluates a model file (default: the bundled model; an int8 file from \`mobilenet quantize\` runs on the int8
kernels) on DIR's split (IDX files: the test split is t10k-*), or on its first N images.
--json prints {top1, top5, loss, images, imagesPerSecond, perClass, confusion}, accuracies as fractions.`;

export async function evalCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, 'eval');
  if (typeof values.data !== 'string') throw new UsageError('--data DIR is required (see mobilenet eval --help)');
  const split = stringFlag(values, 'split', ['test', 'train'] as const) ?? 'test';
  const limit = numberFlag(values, 'limit', positiveInteger, 'a positive integer');
  const loaded = await loadRunnableModel(values.model as string | undefined);
  const { preprocessing, classNames, source } = loaded;
  const [h, w, c] = loaded.inputShape;
  const all = await openDataset(values.data, split, { size: [h, w], channels: c as 1 | 3, preprocessing });
  const data = limit === undefined || limit >= all.size ? all : subset(all, Int32Array.from({ length: limit }, (_, i) => i));
  const runner = await loaded.start();
  const started = performance.now();
  const metrics = await evaluate(loaded, data, { predict: (x) => runner.predict(x) }).finally(() => runner.dispose());
  const seconds = (performance.now() - started) / 1000;
  const result = { model: source, engine: runner.engine, split, ...metrics, imagesPerSecond: metrics.images / seconds };
  if (values.json) {
    io.out(JSON.stringify(result));
    return;
  }
  const names = classNames ?? data.classes;
  io.out(`${source} (${runner.engine}) on ${values.data} (${split}, ${metrics.images} images): top-1 ${(100 * metrics.top1).toFixed(2)}%, top-5 ${(100 * metrics.top5).toFixed(2)}%, loss ${metrics.loss.toFixed(4)}, ${result.imagesPerSecond.toFixed(0)} images/s`);
  const label = (i: number): string => (names[i] ?? String(i)).slice(0, 12);
  io.out(`\nConfusion matrix (rows: true class, columns: predicted) and per-class accuracy:`);
  io.out(`${''.padEnd(13)}${metrics.confusion.map((_, j) => String(j).padStart(6)).join('')}   accuracy`);
  metrics.confusion.forEach((row, i) => io.out(`${String(i).padStart(2)} ${label(i).padEnd(10)}${row.map((v) => String(v).padStart(6)).join('')}   ${(100 * metrics.perClass[i]).toFixed(2)}%`));
}
