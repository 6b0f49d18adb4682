// `mobilenet quantize`: post-training int8 quantization of a model file, calibrated on images of a data folder,
// written as an int8 model file; optionally compares float and int8 accuracy on the test split.

import { ConfigError } from '../errors.js';
import { loadBatch, shuffledIndices, batchIndices } from '../data/dataset.js';
import type { Dataset } from '../data/dataset.js';
import { describeModel } from '../io/model-file.js';
import { writeFileAtomic } from '../node/files.js';
import { openDataset } from '../node/training-run.js';
import { RangeObserver } from '../quant/calibrate.js';
import { encodeInt8ModelFile } from '../quant/int8-file.js';
import { quantizationErrors } from '../quant/error-report.js';
import type { StepError } from '../quant/error-report.js';
import { QuantizedModel, planForInt8 } from '../quant/quantized-model.js';
import { Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { MetricsAccumulator } from '../train/metrics.js';
import { POSITIVE_INTEGER, listFlag, numberFlag, parse, requiredFlag, stringFlag } from './args.js';
import type { CommandIO } from './io.js';
import { loadModelOrDefault } from './model-files.js';
import { modelRunner } from '../backend/model-runner.js';
import { createProgress } from './progress.js';

export const QUANTIZE_HELP = `mobilenet quantize [--model FILE] --data DIR --out FILE.safetensors [--split train|test] [--images 512]
                   [--keep-float LAYER,…] [--eval [N]] [--report] [--json]
Post-training int8 quantization (per-channel symmetric int8 weights, per-tensor affine int8 activations, BatchNorm
folded, ReLU6 and residual adds fused): calibrates activation ranges on --images images (default 512, a seeded shuffle)
of DIR's split (default train), writes an int8 model file that eval and classify run. --keep-float keeps the named
layers' steps in float32. --eval compares float and int8 top-1 on the first N test images (default all).
--report prints each step's signal-to-quantization-noise ratio (dB) against the float model on 32 calibration
images: errors compound, so the first steps with a low ratio are the ones worth keeping in float32.`;

/** Folds batches of `order` through `run` with a progress bar; `run` sees each batch and its labels. */
async function overBatches(io: CommandIO, label: string, data: Dataset, order: ArrayLike<number>, run: (x: Tensor, labels: Int32Array) => void): Promise<void> {
  const progress = createProgress(io, { label, total: order.length, unit: 'images' });
  try {
    for (const indices of batchIndices(order, 64)) {
      const { x, labels } = await loadBatch(data, indices);
      run(x, labels);
      progress.tick(indices.length);
    }
  } finally {
    progress.stop();
  }
}

export async function quantizeCommand(argv: string[], io: CommandIO): Promise<void> {
  const spec = {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    split: { type: 'string' },
    images: { type: 'string' },
    'keep-float': { type: 'string' },
    eval: { type: 'string' },
    report: { type: 'boolean' },
    json: { type: 'boolean' },
  } as const;
  // `--eval` may stand alone: give it its default before parsing
  const args = argv.map((a, i) => (a === '--eval' && (argv[i + 1] === undefined || argv[i + 1].startsWith('-')) ? '--eval=all' : a));
  const { values } = parse(args, spec, 'quantize');
  const data = requiredFlag(values, 'data', 'quantize', 'DIR');
  const out = requiredFlag(values, 'out', 'quantize', 'FILE.safetensors');
  const split = stringFlag(values, 'split', ['train', 'test'] as const) ?? 'train';
  const images = numberFlag(values, 'images', POSITIVE_INTEGER) ?? 512;
  const evalImages = values.eval === undefined || values.eval === 'all' ? values.eval : numberFlag(values, 'eval', POSITIVE_INTEGER);
  const keepFloat = listFlag(values, 'keep-float');

  const { model, preprocessing, classNames, source, notes } = await loadModelOrDefault(values.model as string | undefined);
  for (const note of notes) io.err(`note: ${note}`);
  describeModel(model, {}, ''); // refuses a model the file could not rebuild before any work is done
  for (const name of keepFloat) if (!model.hasLayer(name)) throw new ConfigError(`--keep-float: ${source} has no layer ${JSON.stringify(name)}`);
  const [h, w, c] = model.inputShape;
  const dataOptions = { size: [h, w] as [number, number], channels: c as 1 | 3, preprocessing };
  const calibration = await openDataset(data, split, dataOptions);
  const order = shuffledIndices(calibration.size, new Random(0)).subarray(0, Math.min(images, calibration.size));

  const observer = new RangeObserver(planForInt8(model));
  const started = performance.now();
  await overBatches(io, 'calibrating', calibration, order, (x) => observer.observe(x));
  const quantized = QuantizedModel.fromCalibration(observer, { keepFloat, outputNames: model.outputNames });
  const bytes = encodeInt8ModelFile(model, quantized, { classNames, preprocessing, extra: { quantized: { from: source, calibration: { data, split, images: order.length } } } });
  await writeFileAtomic(out, bytes);
  const floatBytes = 4 * [...model.weights().values()].reduce((n, t) => n + t.size, 0);
  const result: Record<string, unknown> = {
    model: source,
    out,
    calibrationImages: order.length,
    seconds: (performance.now() - started) / 1000,
    fileBytes: bytes.length,
    floatWeightBytes: floatBytes,
    int8WeightBytes: quantized.weightBytes(),
    floatLayers: quantized.floatLayers(),
  };

  if (values.report) {
    const { x } = await loadBatch(calibration, order.subarray(0, Math.min(32, order.length)));
    result.report = quantizationErrors(model, quantized, x);
  }

  if (evalImages !== undefined) {
    const int8 = await modelRunner(quantized);
    for (const note of int8.notes) io.err(`note: ${note}`);
    const test = await openDataset(data, 'test', dataOptions);
    const n = evalImages === 'all' ? test.size : Math.min(Number(evalImages), test.size);
    const classes = model.outputShape[model.outputShape.length - 1];
    const floatMetrics = new MetricsAccumulator(classes);
    const int8Metrics = new MetricsAccumulator(classes);
    let agree = 0;
    let int8Ms = 0;
    const argmax = (d: Float32Array, at: number): number => {
      let best = 0;
      for (let k = 1; k < classes; k++) if (d[at + k] > d[at + best]) best = k;
      return best;
    };
    const runner = await modelRunner(model);
    await overBatches(io, 'float vs int8', test, Int32Array.from({ length: n }, (_, i) => i), (x, labels) => {
      const yf = runner.predict(x).data;
      const t0 = performance.now();
      const yq = int8.predict(x).data;
      int8Ms += performance.now() - t0;
      floatMetrics.add(yf, labels, 0);
      int8Metrics.add(yq, labels, 0);
      for (let i = 0; i < labels.length; i++) if (argmax(yf, i * classes) === argmax(yq, i * classes)) agree++;
    }).finally(() => Promise.all([runner.dispose(), int8.dispose()]));
    const [f, q] = [floatMetrics.result(), int8Metrics.result()];
    result.eval = { images: n, floatTop1: f.top1, int8Top1: q.top1, floatTop5: f.top5, int8Top5: q.top5, agreement: agree / n, int8Engine: int8.engine, int8ImagesPerSecond: n / (int8Ms / 1000) };
  }
  if (values.json) {
    io.out(JSON.stringify(result));
    return;
  }
  const kb = (b: number): string => `${(b / 1024).toFixed(0)} KB`;
  io.out(`${out}: int8 model of ${source}, calibrated on ${order.length} images of ${data} (${split})`);
  io.out(`weights ${kb(quantized.weightBytes())} (float32: ${kb(floatBytes)}), file ${kb(bytes.length)}; float32 steps: ${quantized.floatLayers().join(', ') || 'none'}`);
  const report = result.report as StepError[] | undefined;
  if (report) {
    io.out(`\nSignal-to-quantization-noise ratio per step (32 calibration images; float32 model as the reference):`);
    for (const r of report) io.out(`  ${r.layer.padEnd(28)} ${r.runs.padEnd(8)} ${(Number.isFinite(r.sqnrDb) ? r.sqnrDb.toFixed(1) : '∞').padStart(6)} dB   max |error| ${r.maxAbsError.toPrecision(3)}`);
  }
  const e = result.eval as { images: number; floatTop1: number; int8Top1: number; agreement: number; int8Engine: string; int8ImagesPerSecond: number } | undefined;
  if (e) {
    const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
    io.out(`test (${e.images} images): top-1 float ${pct(e.floatTop1)}, int8 ${pct(e.int8Top1)}; same top class ${pct(e.agreement)}; int8 ${e.int8ImagesPerSecond.toFixed(0)} images/s (${e.int8Engine})`);
  }
}
