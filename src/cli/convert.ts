// `mobilenet convert IN OUT`: reads a model in any format the library reads and writes it in another (our model
// file, plain .safetensors, ONNX, TF.js, .pt), keeping the architecture, class names and preprocessing IN stores.

import { UsageError } from '../errors.js';
import { modelSignature } from '../io/any-model.js';
import { encodeTflite } from '../io/tflite/write.js';
import { SAVE_FORMATS, loadAnyModel, saveAnyModel, saveFormatFor, torchSidecarPath } from '../node/any-model.js';
import { writeFileAtomic } from '../node/files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse, stringFlag } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags, resolveConventions } from './conventions.js';
import type { CommandIO } from './io.js';

export const CONVERT_HELP = `mobilenet convert IN OUT [--format ${SAVE_FORMATS.join('|')}] [--naming torchvision|timm] [--fp16] [architecture flags]
Converts a model between formats. IN: our model file, .safetensors weights (torchvision, timm or our names),
.onnx, TF.js model.json or its folder (layers or graph model), Keras .h5 (whole model or weights only) or
Keras 3 .keras, torch.save .pt/.pth, .tflite (float, float16 weights or int8), detected by magic bytes and extension.
OUT's format comes from --format or its extension: .safetensors → our model file (architecture, or an imported
graph's topology; class names, preprocessing; any safetensors reader reads it), .onnx → ONNX opset 13, .json or a
folder → TF.js layers model, .pt/.pth → torch.save state dict, .tflite → TFLite (a float model with BatchNorm
folded and activations fused, --fp16 for float16 weights; an int8 model from mobilenet quantize or a .tflite as
TFLite int8 ops that LiteRT computes as we do).
--format safetensors writes plain weights with torchvision names; --naming timm writes plain .safetensors and .pt/.pth
MobileNetV2 or V1 weights under timm's names instead (mobilenetv2_*, mobilenetv1_*). Every output keeps the
architecture and builder options, input shape, class names and preprocessing that IN stores (ONNX metadata_props,
safetensors metadata, TF.js userDefinedMetadata; for .pt a JSON file beside it, ${torchSidecarPath('OUT')}), and
its loaders read them back. Nothing is guessed into OUT: what IN does not store, OUT does not either, unless
the flags below give it (e.g. --preprocess torchvision --labels imagenet for bare torchvision ImageNet weights).
Weights-only inputs without our metadata are built from the architecture flags (default mobilenet_v2 at 224;
α, classes and input channels inferred from torchvision weights).
${ARCHITECTURE_HELP}
${CONVENTION_HELP}`;

export async function convertCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parse(argv, { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, format: { type: 'string' }, naming: { type: 'string' }, fp16: { type: 'boolean' } }, 'convert', true);
  if (positionals.length !== 2) throw new UsageError(`give an input and an output path, got ${positionals.length} path(s) (see mobilenet convert --help)`);
  const [input, output] = positionals;
  const format = stringFlag(values, 'format', SAVE_FORMATS) ?? saveFormatFor(output);
  const naming = stringFlag(values, 'naming', ['torchvision', 'timm'] as const);
  if (values.fp16 && format !== 'tflite') throw new UsageError(`--fp16 applies to .tflite outputs, not to ${format}`);
  const { arch, options } = architectureFlags(values);
  // --arch only when given: a file's own metadata names its architecture; a .tflite output also takes int8 plans
  const loaded = await loadAnyModel(input, { ...(values.arch === undefined ? options : { ...options, arch }), planned: true });
  for (const note of loaded.notes) io.err(note);
  const given = await conventionFlags(values);
  const none = `${output} stores none either`;
  const signature = modelSignature(loaded.model);
  const resolved = resolveConventions(input, { inputShape: signature.inputShape, outputShape: signature.outputShapes[0] }, loaded, { given, unscaledPixels: none, unnamedClasses: none });
  for (const note of resolved.notes) io.err(note);
  // only what IN stores or the flags say: the 0..1 default is what a reader assumes, not something to write
  const preprocessing = loaded.preprocessing || given.preprocessing ? resolved.preprocessing : undefined;
  const info = { classNames: resolved.classNames, preprocessing, extra: loaded.extra };
  if (format === 'tflite') {
    await writeFileAtomic(output, encodeTflite(loaded.model, { ...info, weights: values.fp16 ? 'float16' : 'float32' }));
    io.out(`${input} (${loaded.format}) → ${output} (tflite${'plan' in loaded.model ? ', int8' : values.fp16 ? ', float16 weights' : ''}): ${output}`);
    return;
  }
  const saved = await saveAnyModel(loaded.model, output, { format, naming, ...info });
  for (const note of saved.notes) io.err(note);
  io.out(`${input} (${loaded.format}) → ${output} (${saved.format}): ${saved.paths.join(', ')}`);
}
