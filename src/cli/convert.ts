// `mobilenet convert IN OUT`: reads a model in any format the library reads and writes it in another (our model
// file, plain .safetensors, ONNX, TF.js, .pt), keeping the architecture, class names and preprocessing IN stores.

import { UsageError } from '../errors.js';
import { SAVE_FORMATS, loadAnyModel, saveAnyModel, torchSidecarPath } from '../node/any-model.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse, stringFlag } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags, resolveConventions } from './conventions.js';
import type { CommandIO } from './io.js';

export const CONVERT_HELP = `mobilenet convert IN OUT [--format ${SAVE_FORMATS.join('|')}] [--naming torchvision|timm] [architecture flags]
Converts a model between formats. IN: our model file, .safetensors weights (torchvision, timm or our names),
.onnx, TF.js model.json or its folder (layers or graph model), Keras .h5 (whole model or weights only) or
Keras 3 .keras, torch.save .pt/.pth, detected by magic bytes and extension. OUT's format comes from --format or its extension: .safetensors →
our model file (architecture, or an imported graph's topology; class names, preprocessing; any safetensors reader
reads it), .onnx → ONNX opset 13, .json or a folder → TF.js layers model, .pt/.pth → torch.save state dict.
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
  const { values, positionals } = parse(argv, { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, format: { type: 'string' }, naming: { type: 'string' } }, 'convert', true);
  if (positionals.length !== 2) throw new UsageError(`give an input and an output path, got ${positionals.length} path(s) (see mobilenet convert --help)`);
  const [input, output] = positionals;
  const format = stringFlag(values, 'format', SAVE_FORMATS);
  const naming = stringFlag(values, 'naming', ['torchvision', 'timm'] as const);
  const { arch, options } = architectureFlags(values);
  // --arch only when given: a file's own metadata names its architecture
  const loaded = await loadAnyModel(input, values.arch === undefined ? options : { ...options, arch });
  for (const note of loaded.notes) io.err(note);
  const given = await conventionFlags(values);
  const none = `${output} stores none either`;
  const resolved = resolveConventions(input, loaded.model, loaded, { given, unscaledPixels: none, unnamedClasses: none });
  for (const note of resolved.notes) io.err(note);
  // only what IN stores or the flags say: the 0..1 default is what a reader assumes, not something to write
  const preprocessing = loaded.preprocessing || given.preprocessing ? resolved.preprocessing : undefined;
  const saved = await saveAnyModel(loaded.model, output, { format, naming, classNames: resolved.classNames, preprocessing, extra: loaded.extra });
  for (const note of saved.notes) io.err(note);
  io.out(`${input} (${loaded.format}) → ${output} (${saved.format}): ${saved.paths.join(', ')}`);
}
