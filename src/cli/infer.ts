// `mobilenet infer`: runs a .npy batch through a model whose weights come from a .safetensors file
// (torchvision names or ours), and writes the raw outputs (logits) as .npy, batch order kept.

import { UsageError } from '../errors.js';
import { inferMobileNetV2 } from '../io/infer-architecture.js';
import { detectNaming, loadWeights } from '../io/named-weights.js';
import { buildModel } from '../models/registry.js';
import { readNpyFile, readSafetensorsFile, writeNpyFile } from '../node/files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse, stringFlag } from './args.js';
import type { CommandIO } from './io.js';

export const INFER_HELP = `mobilenet infer --model FILE.safetensors --input X.npy --output Y.npy [--layout nchw|nhwc] [architecture flags]
Runs the float32 batch X (NCHW unless --layout nhwc) through the model and writes its raw outputs to Y.
Weights may use torchvision state-dict names or this library's names. The resolution comes from X;
α, classes and input channels, when not given, are inferred from the weight shapes (and said so).
${ARCHITECTURE_HELP}`;

export async function inferCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { ...ARCHITECTURE_FLAGS, model: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, layout: { type: 'string' } }, 'infer');
  for (const flag of ['model', 'input', 'output']) if (typeof values[flag] !== 'string') throw new UsageError(`mobilenet infer: --${flag} is required (see mobilenet infer --help)`);
  if (values.resolution !== undefined) throw new UsageError('mobilenet infer: the resolution comes from the input batch; drop --resolution');
  const layout = stringFlag(values, 'layout', ['nchw', 'nhwc'] as const) ?? 'nchw';
  const { arch, options } = architectureFlags(values);
  const modelPath = values.model as string;
  const [{ tensors }, x] = await Promise.all([readSafetensorsFile(modelPath), readNpyFile(values.input as string)]);
  if (x.rank !== 4) throw new UsageError(`${values.input}: expected a batch of images, rank 4 (${layout.toUpperCase()}), got shape [${x.shape.join(', ')}]`);
  const [h, w, c] = layout === 'nchw' ? [x.shape[2], x.shape[3], x.shape[1]] : [x.shape[1], x.shape[2], x.shape[3]];
  options.resolution = [h, w];

  if (arch === 'mobilenet_v2' && detectNaming(tensors.keys()) === 'torchvision' && (options.alpha === undefined || options.classes === undefined || options.inputChannels === undefined)) {
    const inferred = inferMobileNetV2(tensors, modelPath);
    const notes: string[] = [];
    if (options.alpha === undefined) {
      options.alpha = inferred.alpha;
      const [lo, hi] = inferred.alphaRange;
      notes.push(`α = ${inferred.alpha}${lo !== hi ? ` (every α in [${lo}, ${hi}] gives these channels)` : ''}`);
    }
    if (options.classes === undefined && inferred.classes !== null) {
      options.classes = inferred.classes;
      notes.push(`classes = ${inferred.classes}`);
    }
    if (options.inputChannels === undefined) {
      options.inputChannels = inferred.inputChannels;
      if (inferred.inputChannels !== 3) notes.push(`input channels = ${inferred.inputChannels}`);
    }
    if (notes.length) io.err(`inferred from the weight shapes: ${notes.join(', ')}`);
  }
  if ((options.inputChannels ?? 3) !== c) {
    throw new UsageError(`${values.input}: the model takes ${options.inputChannels ?? 3} input channels, the batch has ${c} (${layout.toUpperCase()} shape [${x.shape.join(', ')}]); is --layout right?`);
  }
  const model = buildModel(arch, options);
  loadWeights(model, tensors);
  const started = performance.now();
  const y = model.predict(x, { layout: layout === 'nchw' ? 'NCHW' : 'NHWC' });
  const ms = performance.now() - started;
  await writeNpyFile(values.output as string, y);
  io.err(`${model.name}: ${x.shape[0]} image(s) in ${ms.toFixed(1)} ms → ${values.output} [${y.shape.join(', ')}]`);
}
