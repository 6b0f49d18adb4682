// `mobilenet eval`: top-1, top-5, per-class accuracy and throughput of a model file on a data folder's split; with
// --task segmentation, a segmenter's mIoU, per-class IoU and pixel accuracy on a VOC folder's split; with --task
// detection, a detector's COCO mAP, AP50, AP75 and VOC AP50, per class, on a COCO folder's split.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { openDataset } from '../node/training-run.js';
import { readVocFolder } from '../node/voc-folder.js';
import { readCocoFolder } from '../node/coco-folder.js';
import { modelRunner } from '../backend/model-runner.js';
import { detectionHead, withLetterbox } from '../api/detect.js';
import { anchorsFlag } from './detect.js';
import { evaluateDetector } from '../train/detection-metrics.js';
import type { Detector } from '../train/detection-metrics.js';
import { createProgress } from './progress.js';
import { defaultModelPath, loadModelOrDefault, loadRunnableModel } from './model-files.js';
import type { RunnableModel } from './model-files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, requiredFlag, POSITIVE_INTEGER, stringFlag } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags } from './conventions.js';
import { subset } from '../data/dataset.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';
import { evaluate, evaluateSegmentation } from '../train/trainer.js';
import type { Values } from './args.js';

export const EVAL_HELP = `mobilenet eval [--task segmentation|detection] [--model FILE] --data DIR [--split test|train] [--limit N] [--json] [flags below]
Evaluates a model (default: the bundled model; float or an int8 file from \`mobilenet quantize\` alike, on the engine;
any format \`mobilenet convert\` reads, weights-only files built from the architecture flags) on DIR's split
(IDX files: the test split is t10k-*), or on its first N images. Top-5 is shown for models of more than 5 classes.
  --model FILE                       the model (default: the bundled Fashion-MNIST model)
  --data DIR                         IDX files, or an image folder with test/ (or val/) and train/ class folders
  --split test|train                 which split (default test)
  --limit N                          the first N images only
  --json                             {top1, top5 (null for ≤ 5 classes), loss, images, imagesPerSecond, perClass,
                                     confusion}, accuracies as fractions
  --task segmentation                a segmenter (default: the bundled models/scenes-deeplab.safetensors) on a VOC-layout
                                     DIR's val split (--split test) or train split: mIoU (mean over the classes present
                                     in the truth or the predictions, VOC's rule), per-class IoU, pixel accuracy
                                     (label 255 not counted); --json: {miou, perClassIou (null: class absent),
                                     pixelAccuracy, confusion (rows: true class), loss, images, pixels, classNames}
  --task detection                   a detector (default: the bundled models/scenes-ssdlite.safetensors) on a COCO DIR
                                     (annotations.json or instances.json, images beside it or in JPEGImages/ or images/;
                                     or DIR is the .json itself), the images its ImageSets/Segmentation val list names
                                     (--split test) or train list (every image without lists): COCO mAP@[.5:.95], AP50,
                                     AP75 (pycocotools' algorithm, 100 detections per image, scores ≥ 0.01, NMS IoU
                                     0.6) and VOC AP50, per class; categories map to the model's classes by name when
                                     it has names, else by ascending id to 1..K (or id = class when the model has a
                                     class per id, as TF's COCO detectors: 90 for 80 categories); --json: {map, ap50,
                                     ap75, vocAp50, perClass: [{class, categoryId, label, ap, ap50, ap75, vocAp50, truth,
                                     detections}] (ap null: no objects of the class), images}
  --letterbox                        detection: keep the images' aspect, padded (as \`mobilenet detect --letterbox\`;
                                     default: as the model's preprocessing says, else stretched to the input)
  --anchors ssd-tf|ssd-torchvision|FILE.npy
                                     detection: the anchors of a graph without a detection head (as \`mobilenet detect\`)
${CONVENTION_HELP}
${ARCHITECTURE_HELP}`;

/** The bundled segmenter, beside the bundled classifier (models/). */
export function bundledSegmenterPath(): string {
  return join(dirname(defaultModelPath()), 'scenes-deeplab.safetensors');
}

/** The bundled detector, beside the bundled classifier (models/). */
export function bundledDetectorPath(): string {
  return join(dirname(defaultModelPath()), 'scenes-ssdlite.safetensors');
}

export async function evalCommand(argv: string[], io: CommandIO): Promise<void> {
  const spec = { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, model: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, task: { type: 'string' }, letterbox: { type: 'boolean' }, anchors: { type: 'string' } } as const;
  const { values } = parse(argv, spec, 'eval');
  const folder = requiredFlag(values, 'data', 'eval', 'DIR');
  const split = stringFlag(values, 'split', ['test', 'train'] as const) ?? 'test';
  const limit = numberFlag(values, 'limit', POSITIVE_INTEGER);
  const task = stringFlag(values, 'task', ['classification', 'segmentation', 'detection'] as const) ?? 'classification';
  for (const flag of ['letterbox', 'anchors'] as const) if (values[flag] !== undefined && task !== 'detection') throw new UsageError(`--${flag} applies to --task detection`);
  if (task === 'detection') return evalDetector(values, folder, split, limit, io);
  const segmentation = task === 'segmentation';
  const { arch, options } = architectureFlags(segmentation && values.arch === undefined ? { ...values, arch: 'deeplabv3_mobilenet_v2' } : values);
  const given = await conventionFlags(values);
  let path = values.model as string | undefined;
  if (segmentation && path === undefined) {
    path = bundledSegmenterPath();
    if (!existsSync(path)) throw new ConfigError(`no --model given and the bundled segmenter ${path} does not exist (yet): give --model FILE, a model from \`mobilenet train --task segmentation\``);
  }
  const loaded = await loadRunnableModel(path, { ...options, arch }, { given, unnamedClasses: "named as the data folder names them, else by number" });
  printNotes(io, loaded.notes);
  if (segmentation) return evalSegmenter(loaded, values, folder, split, limit, io);
  const { preprocessing, classNames, source } = loaded;
  const [h, w, c] = loaded.inputShape;
  const all = await openDataset(folder, split, { size: [h, w], channels: c as 1 | 3, preprocessing });
  const data = limit === undefined || limit >= all.size ? all : subset(all, Int32Array.from({ length: limit }, (_, i) => i));
  const runner = await loaded.start();
  printNotes(io, runner.notes);
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
  io.out(`${source} (${runner.engine}) on ${folder} (${split}, ${metrics.images} images): top-1 ${percent(metrics.top1)}${top5 === null ? '' : `, top-5 ${percent(top5)}`}, loss ${metrics.loss.toFixed(4)}, ${result.imagesPerSecond.toFixed(0)} images/s`);
  const label = (i: number): string => (names[i] ?? String(i)).slice(0, 12);
  io.out(`\nConfusion matrix (rows: true class, columns: predicted) and per-class accuracy:`);
  io.out(`${''.padEnd(15)}${metrics.confusion.map((_, j) => String(j).padStart(6)).join('')}   accuracy`);
  metrics.confusion.forEach((row, i) => io.out(`${String(i).padStart(2)} ${label(i).padEnd(12)}${row.map((v) => String(v).padStart(6)).join('')}   ${percent(metrics.perClass[i])}`));
}

const percent = (v: number): string => `${(100 * v).toFixed(2)}%`;

/** A segmenter on a VOC folder's split (test: val), at the model's input size and pixel scaling. */
async function evalSegmenter(loaded: RunnableModel, values: Values, folder: string, split: 'test' | 'train', limit: number | undefined, io: CommandIO): Promise<void> {
  const { preprocessing, source } = loaded;
  const [h, w, c] = loaded.inputShape;
  const vocSplit = split === 'test' ? 'val' : 'train';
  const data = await readVocFolder(folder, { split: vocSplit, size: [h, w], pixels: preprocessing.pixels, channels: c as 1 | 3, classNames: loaded.classNames, limit });
  const runner = await loaded.start();
  printNotes(io, runner.notes);
  const started = performance.now();
  const metrics = await evaluateSegmentation({ outputShape: loaded.outputShape }, data, { predict: (x) => runner.predict(x) }).finally(() => runner.dispose());
  const seconds = (performance.now() - started) / 1000;
  const classNames = [...data.classNames];
  if (values.json) {
    io.out(JSON.stringify({ model: source, engine: runner.engine, split: vocSplit, ...metrics, classNames, imagesPerSecond: metrics.images / seconds }));
    return;
  }
  io.out(`${source} (${runner.engine}) on ${folder} (${vocSplit}, ${metrics.images} images, ${h}×${w}): mIoU ${percent(metrics.miou)}, pixel accuracy ${percent(metrics.pixelAccuracy)}, loss ${metrics.loss.toFixed(4)}, ${(metrics.images / seconds).toFixed(1)} images/s`);
  io.out(`\nIoU per class (—: in neither the truth nor the predictions, left out of the mean):`);
  metrics.perClassIou.forEach((iou, k) => io.out(`${String(k).padStart(3)} ${(classNames[k] ?? String(k)).slice(0, 20).padEnd(20)} ${iou === null ? '—'.padStart(7) : percent(iou).padStart(7)}`));
}

/** A detector on a COCO folder's split (test: the val list), its images fitted to the model's input, boxes scored in their pixels. */
async function evalDetector(values: Values, folder: string, split: 'test' | 'train', limit: number | undefined, io: CommandIO): Promise<void> {
  const { arch, options } = architectureFlags(values.arch === undefined ? { ...values, arch: 'ssdlite_mobilenet_v2' } : values);
  const path = (values.model as string | undefined) ?? bundledDetectorPath();
  if (values.model === undefined && !existsSync(path)) throw new ConfigError(`no --model given and the bundled detector ${path} does not exist (yet): give --model FILE, a detector from \`mobilenet train --task detection\``);
  const loaded = await loadModelOrDefault(path, { ...options, arch }, { given: await conventionFlags(values), unnamedClasses: 'categories mapped by ascending id to classes 1..K' });
  const { model, source, classNames, preprocessing } = loaded;
  printNotes(io, loaded.notes);
  const anchors = await anchorsFlag(values.anchors as string | undefined);
  if (!model.metadata.detection && anchors === undefined) throw new ConfigError(`${source} is not a detector (no detection head: anchors, box coding, score outputs): --task detection needs a model such as \`mobilenet train --task detection\` writes, or --anchors for a graph with raw scores and boxes outputs`);
  const [h, w] = model.inputShape;
  const head = detectionHead(model.metadata.detection, model.outputShapes, { anchors }, [h, w], `model ${model.name} (${source})`);
  const cocoSplit = split === 'test' ? 'val' : 'train';
  let data = await readCocoFolder(folder, { split: cocoSplit, limit, classes: classNames ?? 'order' });
  // without names, a detector with a slot per category id (COCO's 90 of 80 categories, TF's label map) is mapped by id
  const classes = model.outputShapes[head.outputs.scores].at(-1)! - (head.background ? 1 : 0);
  const largestId = Math.max(...data.categories.map((c) => c.id));
  if (!classNames && data.categories.length < classes && largestId === classes) {
    data = await readCocoFolder(folder, { split: cocoSplit, limit, classes: 'id' });
    data.notes.push(`${data.categories.length} categories with ids up to ${largestId} for ${classes} classes: category id = class`);
  }
  printNotes(io, data.notes);
  const runner = await modelRunner(model);
  const detector: Detector = { inputShape: model.inputShape, head, predictOutputs: (x) => runner.predictOutputs(x) };
  const fitted = withLetterbox(preprocessing, values.letterbox === true);
  const progress = createProgress(io, { label: 'eval (detection)', total: data.images.length, unit: 'images' });
  let done = 0;
  const started = performance.now();
  const metrics = await evaluateDetector(detector, data, {
    preprocessing: fitted,
    onBatch: (images) => {
      progress.tick(images - done);
      done = images;
    },
  }).finally(async () => {
    progress.stop();
    await runner.dispose();
  });
  const seconds = (performance.now() - started) / 1000;
  const categoryOf = new Map(data.categories.map((c) => [c.class, c.id]));
  const perClass = metrics.perClass.map(({ class: slot, ...rest }) => ({ class: slot, categoryId: categoryOf.get(slot), ...rest }));
  const engineName = runner.engine;
  if (values.json) {
    io.out(JSON.stringify({ model: source, engine: engineName, split: cocoSplit, ...metrics, perClass, imagesPerSecond: metrics.images / seconds }));
    return;
  }
  io.out(`${source} (${engineName}) on ${data.root} (${cocoSplit}, ${metrics.images} images, ${h}×${w}${fitted.fit === 'letterbox' ? ' letterboxed' : ''}): mAP@[.5:.95] ${percent(metrics.map)}, AP50 ${percent(metrics.ap50)}, AP75 ${percent(metrics.ap75)}, VOC AP50 ${percent(metrics.vocAp50)}, ${(metrics.images / seconds).toFixed(1)} images/s`);
  io.out(`\nAP per class (—: no objects of the class, left out of the means):`);
  io.out(`${'class'.padStart(5)} ${'category'.padEnd(20)} ${'objects'.padStart(8)} ${'AP'.padStart(7)} ${'AP50'.padStart(7)} ${'AP75'.padStart(7)} ${'VOC AP50'.padStart(9)}`);
  const cell = (v: number | null, width: number): string => (v === null ? '—' : percent(v)).padStart(width);
  for (const c of perClass) io.out(`${String(c.class).padStart(5)} ${(c.label ?? String(c.categoryId)).slice(0, 20).padEnd(20)} ${String(c.truth).padStart(8)} ${cell(c.ap, 7)} ${cell(c.ap50, 7)} ${cell(c.ap75, 7)} ${cell(c.vocAp50, 9)}`);
}
