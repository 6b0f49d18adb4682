// `mobilenet train`: trains (or fine-tunes) a MobileNet on a data folder, with a progress bar, checkpoints
// that `--resume` continues exactly, a JSONL log, an SVG curve plot and the best and final models.

import { UsageError } from '../errors.js';
import type { PixelScaling } from '../data/preprocess.js';
import type { Model } from '../graph/model.js';
import { decodeModelFile } from '../io/model-file.js';
import { buildModel } from '../models/registry.js';
import { readBytes } from '../node/files.js';
import { openDataset, readCheckpoint, runPaths, runTraining } from '../node/training-run.js';
import { freezeLayers, replaceHead } from '../train/finetune.js';
import type { OptimizerConfig } from '../train/optimizers.js';
import { OPTIMIZER_KINDS } from '../train/optimizers.js';
import type { ScheduleConfig, TrainConfig, TrainerState } from '../train/trainer.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, positiveInteger, stringFlag } from './args.js';
import type { CommandIO } from './io.js';
import { createProgress } from './progress.js';
import type { Progress } from './progress.js';
import { engineEvaluator, trainingBackends } from './engines.js';

export const TRAIN_HELP = `mobilenet train --data DIR --out DIR [architecture flags] [--epochs E] [--batch B] [--optimizer …] [--lr …] [--resume] [--freeze …]
Trains a model on DIR (MNIST-format IDX files, e.g. /usr/share/datasets/fashion-mnist, or train/ and test/
folders of class sub-folders) and evaluates it on the test split after every epoch. Writes to --out:
checkpoint.safetensors (atomic; --resume continues from it exactly), log.jsonl, curves.svg,
best.safetensors (best test top-1) and model.safetensors (final), all loadable by eval/classify.
${ARCHITECTURE_HELP}
  --stem-stride 1|2                  MobileNetV2 stem stride (1 suits 28×28 inputs)
  --from FILE                        fine-tune a model file: its weights, a new head if --classes differs
  --freeze NAME                      freeze layers up to and including NAME (a layer or a block, e.g. block_12)
  --epochs E (10)  --batch B (64)  --seed S (0)  --limit N (first N training images, for quick runs)
  --optimizer ${OPTIMIZER_KINDS.join('|')} (sgd: momentum 0.9, Nesterov)
  --lr LR (0.05)  --schedule cosine|exponential|step|constant (cosine)  --gamma G (0.98)  --warmup EPOCHS (0)
  --weight-decay WD (4e-5; not on BN, biases or depthwise kernels)  --label-smoothing E (0.1)
  --flip on|off (on)  --crop-padding P (2)  --erasing P (0: off)  --clip-norm N
  --patience P                       stop after P epochs without a better test top-1
  --checkpoint-every N               also checkpoint every N steps (default: each epoch end and every 200 steps)
  --backend wasm|reference           kernels for training (default wasm where supported)
  --threads N (1)                    threads for the wasm kernels (where memory can be shared); recorded in the
                                     checkpoint, so --resume uses the same count unless given again
  --resume                           continue the run in --out from its checkpoint`;

const FLAGS = {
  ...ARCHITECTURE_FLAGS,
  data: { type: 'string' },
  out: { type: 'string' },
  'stem-stride': { type: 'string' },
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
  resume: { type: 'boolean' },
} as const;

const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;
const positive = (v: number): boolean => Number.isFinite(v) && v > 0;

function configFromFlags(values: Record<string, string | boolean | undefined>): TrainConfig {
  const lr = numberFlag(values, 'lr', positive, 'a number > 0') ?? 0.05;
  const warmupEpochs = numberFlag(values, 'warmup', nonNegative, 'a number ≥ 0') ?? 0;
  const gamma = numberFlag(values, 'gamma', positive, 'a number > 0') ?? 0.98;
  const kind = stringFlag(values, 'schedule', ['cosine', 'exponential', 'step', 'constant'] as const) ?? 'cosine';
  const schedule: ScheduleConfig =
    kind === 'step' ? { kind, lr, gamma, everyEpochs: 1, warmupEpochs } : kind === 'exponential' ? { kind, lr, gamma, warmupEpochs } : { kind, lr, warmupEpochs };
  const optimizerKind = stringFlag(values, 'optimizer', OPTIMIZER_KINDS) ?? 'sgd';
  const decay = { weightDecay: numberFlag(values, 'weight-decay', nonNegative, 'a number ≥ 0') ?? 4e-5, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true };
  const optimizer = (optimizerKind === 'sgd' ? { kind: 'sgd', momentum: 0.9, nesterov: true, ...decay } : { kind: optimizerKind, ...decay }) as OptimizerConfig & typeof decay;
  const erasing = numberFlag(values, 'erasing', (v) => v >= 0 && v <= 1, 'a probability in [0, 1]') ?? 0;
  const clipNorm = numberFlag(values, 'clip-norm', positive, 'a number > 0');
  const patience = numberFlag(values, 'patience', positiveInteger, 'a positive integer');
  return {
    epochs: numberFlag(values, 'epochs', positiveInteger, 'a positive integer') ?? 10,
    batchSize: numberFlag(values, 'batch', positiveInteger, 'a positive integer') ?? 64,
    seed: numberFlag(values, 'seed', Number.isInteger, 'an integer') ?? 0,
    optimizer,
    schedule,
    labelSmoothing: numberFlag(values, 'label-smoothing', (v) => v >= 0 && v < 1, 'a number in [0, 1)') ?? 0.1,
    augment: {
      padding: numberFlag(values, 'crop-padding', (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer') ?? 2,
      flip: (stringFlag(values, 'flip', ['on', 'off'] as const) ?? 'on') === 'on',
      erasing: erasing > 0 ? { p: erasing } : false,
    },
    ...(clipNorm === undefined ? {} : { clipNorm }),
    ...(patience === undefined ? {} : { patience }),
    checkpointEvery: numberFlag(values, 'checkpoint-every', positiveInteger, 'a positive integer') ?? 200,
    threads: threadsFlag(values) ?? 1,
  };
}

function threadsFlag(values: Record<string, string | boolean | undefined>): number | undefined {
  return numberFlag(values, 'threads', positiveInteger, 'a positive integer');
}

export async function trainCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, FLAGS, 'train');
  if (typeof values.data !== 'string') throw new UsageError('mobilenet train: --data DIR is required (see mobilenet train --help)');
  if (typeof values.out !== 'string') throw new UsageError('mobilenet train: --out DIR is required (see mobilenet train --help)');
  const out = values.out;
  const resumed = values.resume ? await readCheckpoint(out) : null;
  if (values.resume && !resumed) io.err(`no checkpoint in ${out}: starting a new run`);

  let model: Model;
  let config: TrainConfig;
  let classNames: string[] | undefined;
  const pixels: PixelScaling = { mean: 0.5, std: 0.5 };
  let preprocessing = resumed?.info.preprocessing;
  if (resumed) {
    ({ model, config } = resumed);
    classNames = resumed.info.classNames;
    if (values.epochs !== undefined) config = { ...config, epochs: numberFlag(values, 'epochs', positiveInteger, 'a positive integer')! };
    if (values.threads !== undefined) config = { ...config, threads: threadsFlag(values)! };
    io.err(`resuming ${out}: epoch ${resumed.state.epoch + 1}, batch ${resumed.state.batch}, step ${resumed.state.step}`);
  } else {
    config = configFromFlags(values);
    const { arch, options } = architectureFlags(values);
    const stemStride = numberFlag(values, 'stem-stride', (v) => v === 1 || v === 2, '1 or 2');
    if (stemStride !== undefined) options.stemStride = stemStride;
    if (typeof values.from === 'string') {
      const loaded = decodeModelFile(await readBytes(values.from), values.from);
      model = loaded.model;
      preprocessing = loaded.preprocessing;
      classNames = loaded.classNames;
      if (options.classes !== undefined && options.classes !== model.outputShape[0]) {
        model = replaceHead(model, options.classes);
        classNames = undefined;
        io.err(`fine-tuning ${values.from} with a new ${options.classes}-class head`);
      }
    } else {
      const probe = await openDataset(values.data, 'train', { preprocessing: { pixels } });
      const size = options.resolution === undefined ? ([probe.shape[0], probe.shape[1]] as const) : typeof options.resolution === 'number' ? ([options.resolution, options.resolution] as const) : options.resolution;
      options.resolution = [size[0], size[1]];
      options.inputChannels ??= probe.shape[2];
      options.classes ??= probe.classes.length;
      model = buildModel(arch, { ...options, seed: config.seed });
      preprocessing = { size: [size[0], size[1]], fit: size[0] === probe.shape[0] && size[1] === probe.shape[1] ? undefined : 'pad', pixels };
    }
  }
  if (typeof values.freeze === 'string') {
    const frozen = freezeLayers(model, { upTo: values.freeze });
    io.err(`frozen: ${frozen.length} layers up to ${values.freeze}`);
    config = { ...config, freeze: values.freeze };
  } else if (config.freeze) freezeLayers(model, { upTo: config.freeze });

  const [h, w, c] = model.inputShape;
  const dataOptions = { size: [h, w] as const, channels: c as 1 | 3, preprocessing };
  let trainData = await openDataset(values.data, 'train', dataOptions);
  const testData = await openDataset(values.data, 'test', dataOptions);
  const limit = numberFlag(values, 'limit', positiveInteger, 'a positive integer');
  if (limit !== undefined && limit < trainData.size) {
    const { subset } = await import('../data/dataset.js');
    trainData = subset(trainData, Int32Array.from({ length: limit }, (_, i) => i));
  }
  classNames ??= [...trainData.classes];
  const backends = await trainingBackends(stringFlag(values, 'backend', ['wasm', 'reference'] as const) ?? 'wasm', io, config.threads ?? 1);

  const stepsPerEpoch = Math.floor(trainData.size / config.batchSize);
  io.err(`training ${model.name} on ${trainData.size} images (${testData.size} test), ${config.epochs} epochs of ${stepsPerEpoch} steps, batch ${config.batchSize}, ${backends.name} kernels → ${out}`);
  let progress: Progress | null = null;
  let epochShown = -1;
  // the kernels' workers end with the run, whichever way it ends
  let state: TrainerState;
  try {
    state = await runTraining({
      model,
      train: trainData,
      test: testData,
      config,
      out,
      info: { classNames, preprocessing },
      resume: resumed ?? undefined,
      trainer: backends.options,
      evaluate: engineEvaluator(config.evalBatchSize, config.threads ?? 1),
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
        io.err(`epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} top-1 ${(100 * r.trainTop1).toFixed(2)}% | test loss ${r.test.loss.toFixed(4)} top-1 ${(100 * r.test.top1).toFixed(2)}% top-5 ${(100 * r.test.top5).toFixed(2)}% | lr ${r.lr.toExponential(2)} | ${r.imagesPerSecond.toFixed(0)} images/s${best ? ' | best' : ''}`);
      },
    });
  } finally {
    await backends.dispose();
  }
  const paths = runPaths(out);
  io.out(`best test top-1 ${(100 * state.bestTop1).toFixed(2)}% at epoch ${state.bestEpoch}; wrote ${paths.best}, ${paths.final}, ${paths.log}, ${paths.curves}`);
}
