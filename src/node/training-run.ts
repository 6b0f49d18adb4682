// Node edge of training: data sets from folders (IDX files or class sub-folders), and a training run (a classifier's,
// a segmenter's or a detector's) whose checkpoints, JSONL log, SVG curves and best/final models are written atomically into a folder.

import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { decodeCocoBatch } from '../data/coco-json.js';
import type { CocoBatchOptions, CocoData } from '../data/coco-json.js';
import { toModelBox } from '../detect/letterbox.js';
import type { GroundTruth } from '../train/detection-targets.js';
import type { Dataset } from '../data/dataset.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import type { Model } from '../graph/model.js';
import type { ModelFileInfo } from '../io/model-file.js';
import { encodeModelFile } from '../io/model-file.js';
import { decodeCheckpoint, encodeCheckpoint } from '../train/checkpoint.js';
import type { DecodedCheckpoint } from '../train/checkpoint.js';
import type { EvaluationMetrics } from '../train/metrics.js';
import { trainingCurvesSvg } from '../train/plot.js';
import type { DetectionData, EpochRecord, SegmentationData, TrainConfig, TrainerOptions, TrainerState } from '../train/trainer.js';
import { testScore, train, trainDetector, trainSegmenter } from '../train/trainer.js';
import { readBytes, removeStaleTemporaries, writeFileAtomic } from './files.js';
import { findIdxFiles, readIdxFolder } from './idx-files.js';
import { imageFolderDataset } from './image-folder.js';

export interface DataOptions {
  /** Model input [height, width]; the data's own size when left out (IDX) — required for image folders. */
  size?: readonly [number, number];
  channels?: 1 | 3;
  preprocessing?: PreprocessOptions;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * One split of a data folder: IDX files (`train-*` / `t10k-*`, gzipped or not) or class sub-folders of
 * images, under `DIR/train` and `DIR/test` (or `DIR/val`).
 */
export async function openDataset(dir: string, split: 'train' | 'test', options: DataOptions = {}): Promise<Dataset> {
  if (!(await isDirectory(dir))) throw new ConfigError(`data folder ${dir} does not exist or is not a folder`);
  const hasIdx = (s: 'train' | 'test'): Promise<boolean> =>
    findIdxFiles(dir, s).then(
      () => true,
      () => false,
    );
  const pre = options.preprocessing ?? {};
  if (await hasIdx(split)) return readIdxFolder(dir, { split, ...pre, size: options.size ?? pre.size });
  // the bundled data/fashion-mnist: the 10,000 test images only, to keep the repository small
  if (split === 'train' && (await hasIdx('test'))) {
    throw new ConfigError(
      `data folder ${dir} has only the test split (t10k-* IDX files, no train-*): give --split test to use its images, or get the full data set (for Fashion-MNIST: the Debian package dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist)`,
    );
  }
  const names = split === 'train' ? ['train'] : ['test', 'val', 'validation'];
  for (const name of names) {
    const sub = join(dir, name);
    if (await isDirectory(sub)) {
      const size = options.size ?? pre.size;
      if (!size) throw new ConfigError(`image folder ${sub}: give the model's input size (--resolution)`);
      return imageFolderDataset(sub, { size: [size[0], size[1]], channels: options.channels ?? 3, fit: pre.fit, pixels: pre.pixels });
    }
  }
  const entries = await readdir(dir);
  throw new ConfigError(`data folder ${dir} has neither IDX files for the ${split} split nor a ${names.join('/')} sub-folder of class folders (found: ${entries.slice(0, 8).join(', ') || 'nothing'})`);
}

/**
 * A COCO split decoded into what a detector trains on: every image at the model's input size (stretched), scaled
 * per `pixels`, and its objects as normalized boxes in that input with their class slots. Crowd regions are left
 * out (SSD's matcher has no use for them).
 */
export async function detectionSet(data: CocoData, options: CocoBatchOptions): Promise<DetectionData> {
  const batch = await decodeCocoBatch(data, data.images, options);
  const objects = batch.images.map((image, n): GroundTruth => {
    const kept = image.objects.filter((o) => !o.crowd);
    const boxes = new Float32Array(kept.length * 4);
    kept.forEach(({ bbox: [x, y, w, h] }, g) => boxes.set(toModelBox(batch.mappings[n], [y, x, y + h, x + w]).map((v) => Math.min(Math.max(v, 0), 1)), g * 4));
    return { boxes, classes: Int32Array.from(kept, (o) => o.class) };
  });
  return { images: batch.x, objects, classNames: data.classNames };
}

export interface RunPaths {
  checkpoint: string;
  log: string;
  curves: string;
  best: string;
  final: string;
}

export function runPaths(out: string): RunPaths {
  return {
    checkpoint: join(out, 'checkpoint.safetensors'),
    log: join(out, 'log.jsonl'),
    curves: join(out, 'curves.svg'),
    best: join(out, 'best.safetensors'),
    final: join(out, 'model.safetensors'),
  };
}

/** The checkpoint in `out`, if there is one. */
export async function readCheckpoint(out: string): Promise<DecodedCheckpoint | null> {
  const path = runPaths(out).checkpoint;
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  return exists ? decodeCheckpoint(await readBytes(path), path) : null;
}

interface TrainingRunBase {
  model: Model;
  config: TrainConfig;
  out: string;
  info: ModelFileInfo;
  resume?: DecodedCheckpoint;
  trainer?: TrainerOptions;
  /** Called with each epoch's record (after files are written). */
  onEpoch?: (state: TrainerState, best: boolean) => void;
  onStep?: (images: number, loss: number, state: TrainerState) => void;
}

/** A classifier's run on image data sets, a segmenter's (`task: 'segmentation'`) on images with masks, or a detector's on images with boxes. */
export type TrainingRun = TrainingRunBase &
  (
    | { task?: 'classification'; train: Dataset; test: Dataset; evaluate?: (model: Model, data: Dataset) => Promise<EvaluationMetrics> }
    | { task: 'segmentation'; train: SegmentationData; test: SegmentationData }
    | { task: 'detection'; train: DetectionData; test: DetectionData }
  );

/** What the best model file records of its epoch's test evaluation. */
function testSummary(test: EpochRecord['test']): Record<string, number> {
  if ('anchorAccuracy' in test) return { map: test.map, ap50: test.ap50, ap75: test.ap75, vocAp50: test.vocAp50, loss: test.loss, anchorAccuracy: test.anchorAccuracy };
  return 'miou' in test ? { miou: test.miou, pixelAccuracy: test.pixelAccuracy, loss: test.loss } : { top1: test.top1, top5: test.top5, loss: test.loss };
}

/** What the curves call the run's accuracy and test score. */
const CURVE_NAMES = {
  segmentation: { score: 'mIoU', names: { train: 'train pixel acc.', test: 'test mIoU', axis: 'pixel accuracy, mIoU' } },
  detection: { score: 'mAP', names: { train: 'train anchor acc.', test: 'test mAP', axis: 'anchor accuracy, mAP' } },
  classification: { score: 'top-1', names: undefined },
} as const;

/** Trains with every artefact written atomically to `run.out`; resumes from `run.resume` when given. */
export async function runTraining(run: TrainingRun): Promise<TrainerState> {
  await mkdir(run.out, { recursive: true });
  await removeStaleTemporaries(run.out); // left by a run killed while it wrote
  const paths = runPaths(run.out);
  const info: ModelFileInfo = { ...run.info, extra: { ...run.info.extra, training: run.config } };
  const curves = CURVE_NAMES[run.task ?? 'classification'];
  const writeHistory = async (state: TrainerState): Promise<void> => {
    const lines = state.history.map((r) => JSON.stringify(r)).join('\n');
    await writeFileAtomic(paths.log, new TextEncoder().encode(lines + (lines ? '\n' : '')));
    const points = state.history.map((r) => ({ epoch: r.epoch, trainLoss: r.trainLoss, testLoss: r.test.loss, trainTop1: r.trainTop1, testTop1: testScore(r.test) }));
    const title = `${run.model.name}: best test ${curves.score} ${(100 * Math.max(0, state.bestTop1)).toFixed(2)}% (epoch ${state.bestEpoch})`;
    await writeFileAtomic(paths.curves, new TextEncoder().encode(trainingCurvesSvg(points, title, curves.names)));
  };
  const hooks: TrainerOptions['hooks'] = {
    checkpoint: (s, optimizer) => writeFileAtomic(paths.checkpoint, encodeCheckpoint(run.model, optimizer, s, run.config, info)),
    epochEnd: async (record, s, best) => {
      if (best) await writeFileAtomic(paths.best, encodeModelFile(run.model, { ...info, extra: { ...info.extra, epoch: record.epoch, test: testSummary(record.test) } }));
      await writeHistory(s);
      run.onEpoch?.(s, best);
    },
    stepEnd: run.onStep,
  };
  const resume = run.resume ? { state: run.resume.state, optimizerState: run.resume.optimizerState } : undefined;
  const state =
    run.task === 'segmentation'
      ? await trainSegmenter(run.model, run.train, run.test, run.config, { ...run.trainer, hooks }, resume)
      : run.task === 'detection'
        ? await trainDetector(run.model, run.train, run.test, run.config, { ...run.trainer, hooks }, resume)
        : await train(run.model, run.train, run.test, run.config, { ...run.trainer, hooks: { ...hooks, evaluate: run.evaluate } }, resume);
  await writeFileAtomic(paths.final, encodeModelFile(run.model, info));
  return state;
}
