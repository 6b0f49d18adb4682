// `mobilenet train`: trains (or fine-tunes) a MobileNet classifier, a DeepLab segmenter or an SSD detector on a data
// folder, with a progress bar, checkpoints that `--resume` continues exactly, a JSONL log, an SVG curve plot and the best and final models.

import { resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { subset } from '../data/dataset.js';
import type { Dataset } from '../data/dataset.js';
import type { PixelScaling, PreprocessOptions } from '../data/preprocess.js';
import type { SegmentationSet } from '../data/segmentation-data.js';
import type { Model } from '../graph/model.js';
import { decodeModelFile } from '../io/model-file.js';
import { buildModel } from '../models/registry.js';
import { loadAnyModel } from '../node/any-model.js';
import { readBytes } from '../node/files.js';
import { readVocFolder } from '../node/voc-folder.js';
import { readCocoFolder } from '../node/coco-folder.js';
import type { CocoData } from '../data/coco-json.js';
import { detectionSet, openDataset, readCheckpoint, runPaths, runTraining } from '../node/training-run.js';
import type { DecodedCheckpoint } from '../train/checkpoint.js';
import { initDetectionHead } from '../train/detection-init.js';
import { freezeLayers, replaceHead, transferWeights } from '../train/finetune.js';
import type { OptimizerConfig } from '../train/optimizers.js';
import { OPTIMIZER_KINDS } from '../train/optimizers.js';
import type { DetectionData, EpochRecord, ScheduleConfig, TrainConfig, TrainerState } from '../train/trainer.js';
import { scheduleDependsOnEpochs, trajectoryFields } from '../train/trainer.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, INTEGER, NON_NEGATIVE, NON_NEGATIVE_INTEGER, POSITIVE, POSITIVE_INTEGER, architectureFlags, numberFlag, numberListFlag, parse, requiredFlag, stringFlag } from './args.js';
import type { Values } from './args.js';
import type { CommandIO } from './io.js';
import { createProgress } from './progress.js';
import type { Progress } from './progress.js';
import { engineEvaluator, trainingBackends } from './engines.js';

export const TRAIN_HELP = `mobilenet train --data DIR --out DIR [--task classification|segmentation|detection] [architecture flags] [--epochs E] [--batch B] [--optimizer …] [--lr …] [--resume] [--freeze …]
Trains a model on DIR (MNIST-format IDX files, e.g. /usr/share/datasets/fashion-mnist, or train/ and test/
folders of class sub-folders) and evaluates it on the test split after every epoch. Writes to --out:
checkpoint.safetensors (atomic; --resume continues from it exactly), log.jsonl, curves.svg,
best.safetensors (best test top-1) and model.safetensors (final), all loadable by eval/classify.
${ARCHITECTURE_HELP}
  --from FILE                        fine-tune a model file: its weights, a new head if --classes differs
  --task segmentation                train a DeepLab (--arch deeplabv3_mobilenet_v2, the default then) on a VOC-layout
                                     DIR (ImageSets/Segmentation/{train,val}.txt, JPEGImages/, SegmentationClass/
                                     palette PNGs; \`mobilenet make-scenes\` writes one): per-pixel cross-entropy (label
                                     255 ignored), evaluated on val (mIoU, pixel accuracy) every epoch, best.safetensors
                                     the best val mIoU; the model files keep the class names and preprocessing.
                                     --resolution R|HxW resizes the images (default: their size); --from FILE takes a
                                     classification MobileNetV2 (the bundled model, or any imported one) and copies its
                                     backbone's weights (by name and shape; α and input channels from it) into a new
                                     DeepLab. Augmentation: random scale (--scale), flip (--flip), the padding ignored;
                                     no --crop-padding, --erasing or --label-smoothing
  --task detection                   train an SSD (--arch ssdlite_mobilenet_v2, the default then, or ssd_mobilenet_v1,
                                     ssdlite_mobilenet_v1, ssd_mobilenet_v2) on a COCO DIR (annotations.json or
                                     instances.json, images beside it or in JPEGImages/ or images/; \`mobilenet
                                     make-scenes\` writes one), the images of its ImageSets/Segmentation train list,
                                     evaluated every epoch on its val list (COCO mAP@[.5:.95], AP50; best.safetensors
                                     the best val mAP): TF's argmax matcher (IoU 0.5, each box forced onto its best
                                     anchor), smooth-L1 box loss, sigmoid classification with 3:1 hard negative mining,
                                     normalised by the matches; a new head starts at the class prior (TF's bias
                                     init, predictor kernels N(0, 0.03²)). --resolution R|HxW (default: the first
                                     image's size); --classes must be the data's categories (K, without the
                                     background); --from FILE copies a classifier's backbone (by name and shape;
                                     α, input channels and pixel scaling from it). Augmentation, the boxes moved
                                     with the pixels: --flip, --zoom-out, --iou-crop, --photometric; no
                                     --crop-padding, --erasing or --label-smoothing
  --zoom-out R (4)                   detection: with probability ½, the image on a mean-grey canvas up to R× its size
                                     (1: off)
  --iou-crop on|off (on)             detection: SSD's random crop (scale 0.3–1, aspect ½–2, min IoU with a kept box
                                     from {0, .1, .3, .5, .7, .9, no crop}, boxes whose centre is inside, clipped)
  --photometric on|off (on)          detection: brightness, contrast, saturation, hue, each with probability ½
  --classification sigmoid|softmax   detection: the class loss (sigmoid per slot, TF's; softmax over the slots,
                                     torchvision's), and how the model file's head converts its scores
  --scale MIN,MAX (0.5,2)            segmentation: images and masks scaled by a random factor in [MIN, MAX], then
                                     cropped (or padded) back to the input size
  --output-stride 8|16|32 (16)       DeepLab's backbone stride (atrous convolutions below it)
  --head mobile|aspp (mobile)        DeepLab's head: image pooling + 1×1 (the paper's on-device head), or ASPP
  --class-weights W0,W1,…            segmentation: one loss weight per class (torch's CrossEntropyLoss weight)
  --freeze NAME                      freeze layers up to and including NAME (a layer or a block, e.g. block_12)
  --split train|test (train)         the split trained on (test: for a folder with only the test split, like the
                                     bundled data/fashion-mnist; the evaluation then sees the training images)
  --epochs E (10)  --batch B (64)  --seed S (0)  --limit N (first N training images, for quick runs)
  --optimizer ${OPTIMIZER_KINDS.join('|')} (sgd: momentum 0.9, Nesterov; detection: adam)
  --lr LR (0.05; detection: 0.001)  --schedule cosine|exponential|step|constant (cosine)  --gamma G (0.98)  --warmup EPOCHS (0)
  --weight-decay WD (4e-5; not on BN, biases or depthwise kernels)  --label-smoothing E (0.1)
  --flip on|off (on)  --crop-padding P (2)  --erasing P (0: off)  --clip-norm N
  --patience P                       stop after P epochs without a better test top-1
  --checkpoint-every N               also checkpoint every N steps (default: each epoch end and every 200 steps)
  --backend wasm|reference           kernels for training (default wasm where supported)
  --threads N (1)                    threads for the wasm kernels (where memory can be shared)
  --resume                           continue the run in --out from its checkpoint, exactly: the flags that define
                                     the run are recorded there and apply when left out; given again, they must
                                     agree. Free to change: --patience, --checkpoint-every, --backend and --threads
                                     (these two change the weights' last bits), and --epochs where the schedule does
                                     not depend on the total (not cosine): the run is then the uninterrupted run
                                     with the new total`;

const FLAGS = {
  ...ARCHITECTURE_FLAGS,
  data: { type: 'string' },
  out: { type: 'string' },
  from: { type: 'string' },
  freeze: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  limit: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  gamma: { type: 'string' },
  warmup: { type: 'string' },
  'weight-decay': { type: 'string' },
  'label-smoothing': { type: 'string' },
  flip: { type: 'string' },
  'crop-padding': { type: 'string' },
  erasing: { type: 'string' },
  'clip-norm': { type: 'string' },
  patience: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  split: { type: 'string' },
  resume: { type: 'boolean' },
  task: { type: 'string' },
  'output-stride': { type: 'string' },
  head: { type: 'string' },
  'class-weights': { type: 'string' },
  scale: { type: 'string' },
  'zoom-out': { type: 'string' },
  'iou-crop': { type: 'string' },
  photometric: { type: 'string' },
  classification: { type: 'string' },
} as const;

/**
 * Flags that may differ on resume: when the run stops and saves, and which kernels run it. Every other flag defines
 * the run; it is recorded in the checkpoint, taken from there when left out, and refused when it contradicts it.
 */
const FREE_ON_RESUME: readonly string[] = ['out', 'resume', 'epochs', 'patience', 'checkpoint-every', 'backend', 'threads'];
/** Where a checkpoint's (and the run's model files') `extra` keeps the run-defining flags, and the kernels that ran it. */
const RUN_FLAGS = 'runFlags';
const KERNELS = 'kernels';
const SPLITS = ['train', 'test'] as const;
const TASKS = ['classification', 'segmentation', 'detection'] as const;
type Task = (typeof TASKS)[number];
const taskOf = (values: Values): Task => stringFlag(values, 'task', TASKS) ?? 'classification';
/** The architectures each task trains, the first its default, and what they output. */
const TASK_ARCHITECTURES: Readonly<Record<Task, readonly string[]>> = {
  classification: ['mobilenet_v2', 'mobilenet_v1'],
  segmentation: ['deeplabv3_mobilenet_v2'],
  detection: ['ssdlite_mobilenet_v2', 'ssdlite_mobilenet_v1', 'ssd_mobilenet_v1', 'ssd_mobilenet_v2'],
};
const TASK_OUTPUTS: Readonly<Record<Task, string>> = { classification: 'class logits', segmentation: 'per-pixel logits', detection: 'anchor scores and boxes' };
/** Flags of some tasks only: a segmenter's images move with their masks, a detector's with their boxes; neither loss has smoothing. */
const TASK_FLAGS: Readonly<Record<string, readonly Task[]>> = {
  split: ['classification'],
  'crop-padding': ['classification'],
  erasing: ['classification'],
  'label-smoothing': ['classification'],
  'class-weights': ['segmentation'],
  scale: ['segmentation'],
  'output-stride': ['classification', 'segmentation'],
  head: ['segmentation'],
  'zoom-out': ['detection'],
  'iou-crop': ['detection'],
  photometric: ['detection'],
  classification: ['detection'],
};
const taskName = (task: Task): string => (task === 'classification' ? 'classification' : `--task ${task}`);

/** Refuses the flags the run's task has no use for, rather than ignoring them. */
function checkTaskFlags(values: Values): void {
  const task = taskOf(values);
  for (const [name, tasks] of Object.entries(TASK_FLAGS)) {
    if (values[name] !== undefined && !tasks.includes(task)) throw new UsageError(`--${name} applies to ${tasks.map(taskName).join(' and ')}, not to ${taskName(task)}`);
  }
}

/** The architecture flags, with the task's architecture by default and DeepLab's own flags. */
function runArchitecture(values: Values): ReturnType<typeof architectureFlags> {
  const task = taskOf(values);
  const allowed = TASK_ARCHITECTURES[task];
  const { arch, options } = architectureFlags(values.arch === undefined ? { ...values, arch: allowed[0] } : values);
  if (!allowed.includes(arch)) {
    const owner = TASKS.find((t) => TASK_ARCHITECTURES[t].includes(arch));
    throw new UsageError(owner === 'classification' ? `${taskName(task)} trains ${allowed.join(' or ')} (${TASK_OUTPUTS[task]}), not ${arch}` : `--arch ${arch} is a ${owner === 'segmentation' ? 'segmenter: give --task segmentation and a VOC-layout --data' : 'detector: give --task detection and a COCO --data'}`);
  }
  const outputStride = numberFlag(values, 'output-stride', { accepts: (v) => v === 8 || v === 16 || v === 32, what: '8, 16 or 32' });
  if (outputStride !== undefined) options.outputStride = outputStride as 8 | 16 | 32;
  const head = stringFlag(values, 'head', ['mobile', 'aspp'] as const);
  if (head !== undefined) options.head = head;
  return { arch, options };
}

/**
 * The optimizer and learning rate when the flags leave them out. A detector's SSD loss sits on its class prior for
 * the first thousand SGD steps at lr 0.02 (training/scenes-ssdlite); Adam at 0.001 leaves it within three hundred.
 */
const CLASSIFIER_DEFAULTS = { optimizer: 'sgd', lr: 0.05 } as const;
const DETECTION_DEFAULTS = { optimizer: 'adam', lr: 0.001 } as const;

function configFromFlags(values: Values): TrainConfig {
  const task = taskOf(values);
  const defaults = task === 'detection' ? DETECTION_DEFAULTS : CLASSIFIER_DEFAULTS;
  const lr = numberFlag(values, 'lr', POSITIVE) ?? defaults.lr;
  const warmupEpochs = numberFlag(values, 'warmup', NON_NEGATIVE) ?? 0;
  const gamma = numberFlag(values, 'gamma', POSITIVE) ?? 0.98;
  const kind = stringFlag(values, 'schedule', ['cosine', 'exponential', 'step', 'constant'] as const) ?? 'cosine';
  const schedule: ScheduleConfig =
    kind === 'step' ? { kind, lr, gamma, everyEpochs: 1, warmupEpochs } : kind === 'exponential' ? { kind, lr, gamma, warmupEpochs } : { kind, lr, warmupEpochs };
  const optimizerKind = stringFlag(values, 'optimizer', OPTIMIZER_KINDS) ?? defaults.optimizer;
  const decay = { weightDecay: numberFlag(values, 'weight-decay', NON_NEGATIVE) ?? 4e-5, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true };
  const optimizer = (optimizerKind === 'sgd' ? { kind: 'sgd', momentum: 0.9, nesterov: true, ...decay } : { kind: optimizerKind, ...decay }) as OptimizerConfig & typeof decay;
  const erasing = numberFlag(values, 'erasing', { accepts: (v) => v >= 0 && v <= 1, what: 'a probability in [0, 1]' }) ?? 0;
  const clipNorm = numberFlag(values, 'clip-norm', POSITIVE);
  const patience = numberFlag(values, 'patience', POSITIVE_INTEGER);
  const classWeights = numberListFlag(values, 'class-weights');
  const flip = (stringFlag(values, 'flip', ['on', 'off'] as const) ?? 'on') === 'on';
  return {
    epochs: numberFlag(values, 'epochs', POSITIVE_INTEGER) ?? 10,
    batchSize: numberFlag(values, 'batch', POSITIVE_INTEGER) ?? 64,
    seed: numberFlag(values, 'seed', INTEGER) ?? 0,
    optimizer,
    schedule,
    ...(task === 'segmentation'
      ? { segmentationAugment: { scale: scaleFlag(values), flip } }
      : task === 'detection'
        ? detectionFlags(values, flip)
        : {
          labelSmoothing: numberFlag(values, 'label-smoothing', { accepts: (v) => v >= 0 && v < 1, what: 'a number in [0, 1)' }) ?? 0.1,
          augment: {
            padding: numberFlag(values, 'crop-padding', NON_NEGATIVE_INTEGER) ?? 2,
            flip,
            erasing: erasing > 0 ? { p: erasing } : false,
          },
        }),
    ...(classWeights === undefined ? {} : { classWeights }),
    ...(clipNorm === undefined ? {} : { clipNorm }),
    ...(patience === undefined ? {} : { patience }),
    checkpointEvery: numberFlag(values, 'checkpoint-every', POSITIVE_INTEGER) ?? 200,
    threads: numberFlag(values, 'threads', POSITIVE_INTEGER) ?? 1,
    ...(typeof values.freeze === 'string' ? { freeze: values.freeze } : {}),
  };
}

/** Detection's augmentation (the boxes moved with the pixels) and loss. */
function detectionFlags(values: Values, flip: boolean): Pick<TrainConfig, 'detectionAugment' | 'detectionLoss'> {
  const on = (name: string): boolean => (stringFlag(values, name, ['on', 'off'] as const) ?? 'on') === 'on';
  const zoomOut = numberFlag(values, 'zoom-out', { accepts: (v) => v >= 1, what: 'a ratio ≥ 1' }) ?? 4;
  const classification = stringFlag(values, 'classification', ['sigmoid', 'softmax'] as const);
  return {
    detectionAugment: { flip, expand: zoomOut > 1 ? { maxRatio: zoomOut } : false, crop: on('iou-crop'), photometric: on('photometric') },
    ...(classification === undefined ? {} : { detectionLoss: { classification } }),
  };
}

/** --scale MIN,MAX: the random scale range of segmentation training (DeepLab's [0.5, 2] by default; 1,1: none). */
function scaleFlag(values: Values): [number, number] {
  const range = numberListFlag(values, 'scale') ?? [0.5, 2];
  if (range.length !== 2 || !(range[0] > 0 && range[1] >= range[0])) throw new UsageError(`--scale must be MIN,MAX with 0 < MIN ≤ MAX, got ${String(values.scale)}`);
  return [range[0], range[1]];
}

/** Everything the flags say about the run that changes its result, as one comparable string. */
function runDefinition(values: Values): string {
  return JSON.stringify({
    config: trajectoryFields(configFromFlags(values)),
    task: taskOf(values),
    architecture: runArchitecture(values),
    from: values.from,
    data: values.data,
    split: stringFlag(values, 'split', SPLITS) ?? 'train',
    limit: limitFlag(values),
  });
}

const limitFlag = (values: Values): number | undefined => numberFlag(values, 'limit', POSITIVE_INTEGER);
const backendFlag = (values: Values): 'wasm' | 'reference' => stringFlag(values, 'backend', ['wasm', 'reference'] as const) ?? 'wasm';

/** The flags as given, with file paths made absolute (a resume may start in another folder) and --out/--resume left out. */
function recordable(values: Values): Values {
  const flags: Values = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || name === 'out' || name === 'resume') continue;
    flags[name] = (name === 'data' || name === 'from') && typeof value === 'string' ? resolve(value) : value;
  }
  return flags;
}

const shown = (name: string, value: string | boolean | undefined): string => (value === undefined ? 'the default' : value === true ? `--${name}` : `--${name} ${value}`);

/**
 * The flags of a resumed run: the checkpoint's, with those given again checked against them. Only FREE_ON_RESUME
 * flags may change; --epochs only where the schedule does not depend on the total (then the run is the
 * uninterrupted run with the new total).
 */
function resumeFlags(checkpoint: DecodedCheckpoint, given: Values, out: string, io: CommandIO): Values {
  const recorded = checkpoint.info.extra?.[RUN_FLAGS] as Values | undefined;
  if (!recorded) throw new ConfigError(`${out}: the checkpoint does not record the flags that define its run (an older version wrote it), so --resume cannot continue it exactly; start a new run in another --out`);
  const base = runDefinition(recorded);
  for (const [name, value] of Object.entries(given)) {
    if (FREE_ON_RESUME.includes(name) || runDefinition({ ...recorded, [name]: value }) === base) continue;
    throw new UsageError(`${shown(name, value)} contradicts the run being resumed in ${out}, which has ${shown(name, recorded[name])}: leave it out (flags left out on resume come from the checkpoint), or start a new run in another --out`);
  }
  const flags = { ...recorded, ...given };
  const [before, after] = [configFromFlags(recorded), configFromFlags(flags)];
  if (after.epochs !== before.epochs) {
    if (scheduleDependsOnEpochs(after.schedule)) {
      throw new UsageError(
        `--epochs ${after.epochs}: the run in ${out} decays its ${after.schedule.kind} schedule over ${before.epochs} epoch${before.epochs === 1 ? '' : 's'}, and another total would change every rate, those already used included; resume without --epochs, or, once it has finished, train on in a new run with --from ${runPaths(out).final}`,
      );
    }
    io.err(`epochs ${before.epochs} → ${after.epochs}: the ${after.schedule.kind} schedule does not depend on the total, so the run goes on as an uninterrupted ${after.epochs}-epoch run would`);
  }
  return flags;
}

interface StartingPoint {
  model: Model;
  preprocessing?: PreprocessOptions;
  classNames?: string[];
}

/** A new run's model: a model file's (--from, with a new head if --classes differs), or one built for the data's images. */
async function startingPoint(flags: Values, data: string, split: 'train' | 'test', seed: number, io: CommandIO): Promise<StartingPoint> {
  const { arch, options } = runArchitecture(flags);
  if (typeof flags.from === 'string') {
    const loaded = decodeModelFile(await readBytes(flags.from), flags.from);
    if (options.classes === undefined || options.classes === loaded.model.outputShape[0]) return loaded;
    io.err(`fine-tuning ${flags.from} with a new ${options.classes}-class head`);
    return { model: replaceHead(loaded.model, options.classes), preprocessing: loaded.preprocessing };
  }
  const pixels: PixelScaling = { mean: 0.5, std: 0.5 };
  const probe = await openDataset(data, split, { preprocessing: { pixels } });
  const size = options.resolution === undefined ? ([probe.shape[0], probe.shape[1]] as const) : typeof options.resolution === 'number' ? ([options.resolution, options.resolution] as const) : options.resolution;
  options.resolution = [size[0], size[1]];
  options.inputChannels ??= probe.shape[2];
  options.classes ??= probe.classes.length;
  const preprocessing: PreprocessOptions = { size: [size[0], size[1]], fit: size[0] === probe.shape[0] && size[1] === probe.shape[1] ? undefined : 'pad', pixels };
  try {
    return { model: buildModel(arch, { ...options, seed }), preprocessing };
  } catch (e) {
    // MobileNetV2's stem halves the input: 28×28 images (MNIST, Fashion-MNIST) need it to keep them whole
    if (!(e instanceof ConfigError && arch === 'mobilenet_v2' && options.stemStride === undefined && /too small/.test(e.message))) throw e;
    throw new UsageError(`${e.message}; for small images like these ${size[0]}×${size[1]} give --stem-stride 1 (the network then downsamples by 16), or a larger --resolution`);
  }
}

/** The first --limit images of the training split, saying so when the limit changes nothing. */
function limited(data: Dataset, limit: number | undefined, io: CommandIO): Dataset {
  if (limit === undefined) return data;
  if (limit < data.size) return subset(data, Int32Array.from({ length: limit }, (_, i) => i));
  io.err(`note: --limit ${limit} is not below the ${data.size} training images: training on all of them`);
  return data;
}

const percent = (v: number): string => `${(100 * v).toFixed(2)}%`;

/** One epoch's line: train loss and accuracy, the test evaluation (top-1 and top-5, or mIoU and pixel accuracy), rate. */
function epochLine(r: EpochRecord, best: boolean): string {
  const t = r.test;
  const [trainAccuracy, test] =
    'anchorAccuracy' in t
      ? ['anchor accuracy', `mAP ${percent(t.map)} AP50 ${percent(t.ap50)} anchor accuracy ${percent(t.anchorAccuracy)}`]
      : 'miou' in t
        ? ['pixel accuracy', `mIoU ${percent(t.miou)} pixel accuracy ${percent(t.pixelAccuracy)}`]
        : ['top-1', `top-1 ${percent(t.top1)} top-5 ${percent(t.top5)}`];
  return `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} ${trainAccuracy} ${percent(r.trainTop1)} | test loss ${r.test.loss.toFixed(4)} ${test} | lr ${r.lr.toExponential(2)} | ${r.imagesPerSecond.toFixed(0)} images/s${best ? ' | best' : ''}`;
}

/** What a run trains and evaluates on: a classifier's image data sets, a segmenter's VOC splits, a detector's COCO splits. */
type TaskData =
  | { task: 'segmentation'; train: SegmentationSet; test: SegmentationSet }
  | { task: 'detection'; train: DetectionData; test: DetectionData }
  | { task: 'classification'; train: Dataset; test: Dataset; evaluate: ReturnType<typeof engineEvaluator> };

/** A run's model (new, or the checkpoint's), what its files record of it, and its data. */
interface PreparedRun {
  model: Model;
  preprocessing?: PreprocessOptions;
  classNames: string[];
  data: TaskData;
}

/** A classifier's run: the starting point (or the checkpoint's model) and the data folder's splits at its input size. */
async function classificationStart(flags: Values, data: string, config: TrainConfig, resumed: DecodedCheckpoint | null, io: CommandIO): Promise<PreparedRun> {
  const split = stringFlag(flags, 'split', SPLITS) ?? 'train';
  const { model, preprocessing, classNames } = resumed ? { ...resumed.info, model: resumed.model } : await startingPoint(flags, data, split, config.seed, io);
  const [h, w, c] = model.inputShape;
  const dataOptions = { size: [h, w] as const, channels: c as 1 | 3, preprocessing };
  const train = limited(await openDataset(data, split, dataOptions), limitFlag(flags), io);
  const test = await openDataset(data, 'test', dataOptions);
  if (split === 'test') io.err(`note: training on the test split, which is also the one evaluated: the test accuracy does not measure how the model generalises`);
  return { model, preprocessing, classNames: classNames ?? [...train.classes], data: { task: 'classification', train, test, evaluate: engineEvaluator(config.evalBatchSize, config.threads ?? 1) } };
}

/**
 * A segmentation run: the data read at the model's size (the checkpoint's), or a new DeepLab for the data (its size
 * unless --resolution; its classes), with a classifier's backbone copied in for --from.
 */
async function segmentationStart(flags: Values, data: string, seed: number, resumed: DecodedCheckpoint | null, io: CommandIO): Promise<PreparedRun> {
  const limit = limitFlag(flags);
  const read = (split: 'train' | 'val', size: readonly [number, number] | undefined, pixels: PixelScaling | undefined, channels: number, classNames?: readonly string[]): Promise<SegmentationSet> =>
    readVocFolder(data, { split, size, pixels, channels: channels as 1 | 3, classNames, limit: split === 'train' ? limit : undefined });
  if (resumed) {
    const { model, info } = resumed;
    const [h, w, c] = model.inputShape;
    const pixels = info.preprocessing?.pixels;
    const [train, test] = [await read('train', [h, w], pixels, c, info.classNames), await read('val', [h, w], pixels, c, info.classNames)];
    return { model, preprocessing: info.preprocessing ?? { size: [h, w], pixels }, classNames: [...train.classNames], data: { task: 'segmentation', train, test } };
  }
  const { arch, options } = runArchitecture(flags);
  const source = typeof flags.from === 'string' ? await loadAnyModel(flags.from) : null;
  // a fine-tuned backbone keeps what it was trained with: its width, its input channels and its pixel scaling
  const pixels: PixelScaling = source?.preprocessing?.pixels ?? { mean: 0.5, std: 0.5 };
  const channels = options.inputChannels ?? source?.model.inputShape[2] ?? 3;
  const alpha = options.alpha ?? (typeof source?.model.metadata.alpha === 'number' ? source.model.metadata.alpha : undefined);
  const size = typeof options.resolution === 'number' ? ([options.resolution, options.resolution] as const) : options.resolution;
  const train = await read('train', size, pixels, channels);
  const [, h, w] = train.images.shape;
  const test = await read('val', [h, w], pixels, channels, train.classNames);
  const classes = train.classNames.length;
  if (options.classes !== undefined && options.classes !== classes) throw new UsageError(`--classes ${options.classes}: the data in ${data} has ${classes} classes (${train.classNames.join(', ')}); leave --classes out`);
  const model = buildModel(arch, { ...options, alpha, resolution: [h, w], inputChannels: channels, classes, seed });
  if (source) {
    const { copied, kept } = transferWeights(source.model, model);
    io.err(`--from ${flags.from}: copied ${copied.length} weights of its backbone (by name and shape) into the ${model.name}; ${kept.length} start fresh (the head, and any layer whose name or shape differs)`);
  }
  return { model, preprocessing: { size: [h, w], pixels }, classNames: [...train.classNames], data: { task: 'segmentation', train, test } };
}

/**
 * A detection run: the COCO splits (train and val lists) read at the model's size (the checkpoint's), or a new SSD
 * for the data (the first image's size unless --resolution; its categories), with a classifier's backbone for --from.
 */
async function detectionStart(flags: Values, data: string, seed: number, resumed: DecodedCheckpoint | null, io: CommandIO): Promise<PreparedRun> {
  const limit = limitFlag(flags);
  const read = async (split: 'train' | 'val', classes?: readonly string[]): Promise<CocoData> => {
    const coco = await readCocoFolder(data, { split, limit: split === 'train' ? limit : undefined, classes: classes ?? 'order' });
    for (const note of coco.notes) io.err(`note: ${note}`);
    return coco;
  };
  const decode = async (model: Model, pixels: PixelScaling, classNames: readonly string[]): Promise<PreparedRun> => {
    const [h, w, c] = model.inputShape;
    const options = { size: [h, w] as const, channels: c as 1 | 3, pixels };
    const [train, test] = [await detectionSet(await read('train', classNames), options), await detectionSet(await read('val', classNames), options)];
    return { model, preprocessing: { size: [h, w], pixels }, classNames: [...classNames], data: { task: 'detection', train, test } };
  };
  if (resumed) {
    const { model, info } = resumed;
    return decode(model, info.preprocessing?.pixels ?? 'unit', info.classNames ?? (await read('train')).classNames);
  }
  const { arch, options } = runArchitecture(flags);
  const source = typeof flags.from === 'string' ? await loadAnyModel(flags.from) : null;
  // a fine-tuned backbone keeps what it was trained with: its width, its input channels and its pixel scaling
  const pixels: PixelScaling = source?.preprocessing?.pixels ?? { mean: 0.5, std: 0.5 };
  const channels = options.inputChannels ?? source?.model.inputShape[2] ?? 3;
  const alpha = options.alpha ?? (typeof source?.model.metadata.alpha === 'number' ? source.model.metadata.alpha : undefined);
  const train = await read('train');
  const first = train.images[0];
  const size = options.resolution ?? [first.height, first.width];
  const classes = train.classNames.length - 1;
  if (options.classes !== undefined && options.classes !== classes) throw new UsageError(`--classes ${options.classes}: the data in ${data} has ${classes} categories (${train.classNames.slice(1).join(', ')}); leave --classes out`);
  const model = buildModel(arch, { ...options, alpha, resolution: size, inputChannels: channels, classes, seed });
  // scores trained with a softmax are read with one: the model files say how, for detect and eval
  const classification = stringFlag(flags, 'classification', ['sigmoid', 'softmax'] as const);
  const head = model.metadata.detection;
  if (classification && head) model.metadata.detection = { ...head, scoreConversion: classification };
  initDetectionHead(model, { classification: model.metadata.detection?.scoreConversion === 'softmax' ? 'softmax' : 'sigmoid', seed });
  if (source) {
    const { copied, kept } = transferWeights(source.model, model);
    io.err(`--from ${flags.from}: copied ${copied.length} weights of its backbone (by name and shape) into the ${model.name}; ${kept.length} start fresh (the extra layers, the heads, and any layer whose name or shape differs)`);
  }
  return decode(model, pixels, train.classNames);
}

/** Starts (or resumes) the run of the flags' task. */
function taskStart(flags: Values, data: string, config: TrainConfig, resumed: DecodedCheckpoint | null, io: CommandIO): Promise<PreparedRun> {
  const task = taskOf(flags);
  if (task === 'segmentation') return segmentationStart(flags, data, config.seed, resumed, io);
  return task === 'detection' ? detectionStart(flags, data, config.seed, resumed, io) : classificationStart(flags, data, config, resumed, io);
}

/** The sizes of a run's training and test sets. */
function setSizes(data: TaskData): [number, number] {
  return data.task === 'classification' ? [data.train.size, data.test.size] : [data.train.images.shape[0], data.test.images.shape[0]];
}

export async function trainCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, FLAGS, 'train');
  const out = requiredFlag(values, 'out', 'train', 'DIR');
  const resumed = values.resume ? await readCheckpoint(out) : null;
  if (values.resume && !resumed) io.err(`no checkpoint in ${out}: starting a new run`);
  const flags = resumed ? resumeFlags(resumed, recordable(values), out, io) : recordable(values);
  checkTaskFlags(flags);
  const data = requiredFlag(flags, 'data', 'train', 'DIR');
  const config = configFromFlags(flags);
  const task = taskOf(flags);
  const { model, preprocessing, classNames, data: taskData } = await taskStart(flags, data, config, resumed, io);
  // the photometric steps and the canvas work on 0..1: the augmentation needs the pixels' scaling
  if (config.detectionAugment) config.detectionAugment = { ...config.detectionAugment, pixels: preprocessing?.pixels };
  if (resumed) io.err(`resuming ${out}: epoch ${resumed.state.epoch + 1}, batch ${resumed.state.batch}, step ${resumed.state.step}`);
  if (config.freeze) {
    const frozen = freezeLayers(model, { upTo: config.freeze });
    io.err(`frozen: ${frozen.length} layers up to ${config.freeze}`);
  }
  const [trainSize, testSize] = setSizes(taskData);
  const backends = await trainingBackends(backendFlag(flags), io, config.threads ?? 1);
  const kernelsBefore = resumed?.info.extra?.[KERNELS];
  if (kernelsBefore !== undefined && kernelsBefore !== backends.name) {
    io.err(`note: the run trained on ${String(kernelsBefore)} kernels, now on ${backends.name}: they sum in another order, so the weights' last bits will differ from an uninterrupted run's`);
  }

  const stepsPerEpoch = Math.floor(trainSize / config.batchSize);
  io.err(`training ${model.name} on ${trainSize} images (${testSize} ${task === 'classification' ? 'test' : 'val'}), ${config.epochs} epochs of ${stepsPerEpoch} steps, batch ${config.batchSize}, ${backends.name} kernels → ${out}`);
  const left = trainSize % config.batchSize;
  if (left > 0 && stepsPerEpoch > 0) io.err(`note: each epoch takes ${stepsPerEpoch} full batches, so ${left} of the ${trainSize} images (others each epoch, as shuffled) sit it out`);
  let progress: Progress | null = null;
  let epochShown = -1;
  // the kernels' workers end with the run, whichever way it ends
  let state: TrainerState;
  try {
    state = await runTraining({
      model,
      ...taskData,
      config,
      out,
      info: { classNames, preprocessing, extra: { [RUN_FLAGS]: flags, [KERNELS]: backends.name } },
      resume: resumed ?? undefined,
      trainer: backends.options,
      onStep: (images, _loss, s) => {
        if (epochShown !== s.epoch) {
          progress?.stop();
          const resumedAt = Math.max(0, s.batch - 1) * config.batchSize;
          progress = createProgress(io, { label: `epoch ${s.epoch + 1}/${config.epochs}`, total: stepsPerEpoch * config.batchSize, unit: 'images', plainEvery: 30, start: resumedAt });
          epochShown = s.epoch;
        }
        progress!.tick(images);
      },
      onEpoch: (s, best) => {
        progress?.stop();
        const r = s.history[s.history.length - 1];
        io.err(epochLine(r, best));
      },
    });
  } finally {
    await backends.dispose();
  }
  const paths = runPaths(out);
  io.out(`best ${{ classification: 'test top-1', segmentation: 'val mIoU', detection: 'val mAP' }[task]} ${(100 * state.bestTop1).toFixed(2)}% at epoch ${state.bestEpoch}; wrote ${paths.best}, ${paths.final}, ${paths.log}, ${paths.curves}`);
}
