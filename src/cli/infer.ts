// `mobilenet infer`: runs a .npy batch through a model in any format the library reads (our model file, float or int8,
// .safetensors weights, ONNX, TF.js, Keras H5, .pt/.pth) on the engine, and writes the raw outputs as .npy, one file per output.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { readNpyFile, writeNpyFile } from '../node/files.js';
import { loadAnyModel } from '../node/any-model.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse, requiredFlag, stringFlag } from './args.js';
import { describePixels } from '../data/preprocess.js';
import { modelSignature } from '../io/any-model.js';
import type { Tensor } from '../tensor/tensor.js';
import { modelRunner } from '../backend/model-runner.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';

export const INFER_HELP = `mobilenet infer --model FILE --input X.npy --output (Y.npy | DIR) [--layout nchw|nhwc] [architecture flags]
Runs the float32 batch X (NCHW unless --layout nhwc) through the model and writes its raw outputs to Y; a model
with several outputs (a detector's scores and boxes) writes one DIR/NAME.npy per output, named as the model names them.
Outputs of rank 4 (a segmenter's class scores per pixel) come out in X's layout: [N, K, H, W] for NCHW.
X goes in as it is (already scaled as the model expects; a note says what the model file stores); an int8 model
quantizes it with its input's parameters and writes its outputs dequantized.
FILE is any format \`mobilenet convert\` reads (detected by magic bytes and extension): our model file (float or int8),
.safetensors weights (torchvision or timm state-dict names, or this library's), .onnx, TF.js model.json (or its
folder; layers or graph model), Keras .h5 or .keras, torch.save .pt/.pth. The resolution comes from X; for weights-only files, α, classes
and input channels, when not given, are inferred from the weight shapes (and said so).
  --model FILE                       the model
  --input X.npy, --output Y.npy|DIR  the float32 batch in, the output written (atomically); a folder for several
  --layout nchw|nhwc                 X's layout (default nchw)
${ARCHITECTURE_HELP}`;

export async function inferCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { ...ARCHITECTURE_FLAGS, model: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, layout: { type: 'string' } }, 'infer');
  const [modelFile, input, output] = ['model', 'input', 'output'].map((flag) => requiredFlag(values, flag, 'infer'));
  if (values.resolution !== undefined) throw new UsageError('the resolution comes from the input batch; drop --resolution');
  const layout = stringFlag(values, 'layout', ['nchw', 'nhwc'] as const) ?? 'nchw';
  const { arch, options } = architectureFlags(values);
  const x = await readNpyFile(input);
  if (x.rank !== 4) throw new UsageError(`${input}: expected a batch of images, rank 4 (${layout.toUpperCase()}), got shape [${x.shape.join(', ')}]`);
  const [h, w, c] = layout === 'nchw' ? [x.shape[2], x.shape[3], x.shape[1]] : [x.shape[1], x.shape[2], x.shape[3]];
  const checkChannels = (_: string, o: { inputChannels?: number }): void => {
    if ((o.inputChannels ?? 3) !== c) throw channelError(input, o.inputChannels ?? 3, c, layout, x.shape);
  };
  const { model, notes, preprocessing } = await loadAnyModel(modelFile, { ...options, arch, resolution: [h, w], beforeBuild: checkChannels, planned: true });
  const { inputShape, outputNames } = modelSignature(model);
  const scaling = preprocessing ? `its images are scaled to ${describePixels(preprocessing.pixels)}` : 'it stores no preprocessing';
  printNotes(io, [...notes, `${input} goes in as it is; ${modelFile}: ${scaling}`]);
  const channels = inputShape[inputShape.length - 1];
  if (inputShape.length === 3 && channels !== c) throw channelError(input, channels, c, layout, x.shape);
  const several = outputNames.length > 1;
  if (several && output.endsWith('.npy')) throw new UsageError(`${modelFile} has ${outputNames.length} outputs (${outputNames.join(', ')}): --output takes a folder, for one NAME.npy each, not ${output}`);
  const unfit = outputNames.filter((name) => !/^[\w.-]+$/.test(name) || /^\.+$/.test(name));
  if (several && unfit.length) throw new UsageError(`${modelFile}: output names ${unfit.map((n) => JSON.stringify(n)).join(', ')} cannot be file names in ${output}`);
  const runner = await modelRunner(model);
  printNotes(io, runner.notes);
  const started = performance.now();
  let outputs: Record<string, Tensor>;
  try {
    outputs = runner.predictOutputs(x, { layout: layout === 'nchw' ? 'NCHW' : 'NHWC' });
  } finally {
    await runner.dispose();
  }
  const ms = performance.now() - started;
  if (several) await mkdir(output, { recursive: true });
  const written = Object.entries(outputs).map(([name, y]) => ({ path: several ? join(output, `${name}.npy`) : output, y }));
  for (const { path, y } of written) await writeNpyFile(path, y);
  io.err(`${modelFile} (${runner.engine}): ${x.shape[0]} image(s) in ${ms.toFixed(1)} ms → ${written.map(({ path, y }) => `${path} [${y.shape.join(', ')}]`).join(', ')}`);
}

function channelError(input: string, want: number, got: number, layout: string, shape: readonly number[]): UsageError {
  return new UsageError(`${input}: the model takes ${want} input channels, the batch has ${got} (${layout.toUpperCase()} shape [${shape.join(', ')}]); is --layout right?`);
}
