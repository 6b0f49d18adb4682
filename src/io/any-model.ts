// Decodes a model from bytes in any format the library reads, in browsers and Node alike: the format told by magic
// bytes and the file name's extension (our model file, plain safetensors, ONNX, TF.js layers and graph models,
// Keras H5 and .keras, torch.save; torchvision, timm or our weight names; face-api's SSD weights manifest), with the
// architecture, class names and preprocessing our exports store beside the weights (see describeExport) read back.

import type { PreprocessOptions } from '../data/preprocess.js';
import { FRAMEWORK_PIXELS } from '../data/preprocess-presets.js';
import { ConfigError, FormatError, WeightsError } from '../errors.js';
import { Model } from '../graph/model.js';
import type { PlannedModel, Step } from '../graph/plan.js';
import { inferMobileNetV2 } from './infer-architecture.js';
import { EXPORT_METADATA_FORMAT, INT8_FILE_FORMAT, MODEL_FILE_FORMAT, decodeModelFile, graphModel, readDescription } from './model-file.js';
import type { ModelDescription, ModelFileInfo } from './model-file.js';
import { detectNaming, loadWeights } from './named-weights.js';
import { ExternalDataError } from './onnx/errors.js';
import { KERAS_CONFIG_ENTRY, KERAS_WEIGHTS_ENTRY } from './keras-h5/archive-entries.js';
import { ZipReader } from './pth/zip.js';
import { timmArchitecture, timmToTorchvisionV2 } from './timm-names.js';
import { decodeSafetensors } from './safetensors.js';
import { decodeInt8ModelFile } from '../quant/int8-file.js';
import { buildModel, isArchitecture, ARCHITECTURES } from '../models/registry.js';
import type { ArchitectureOptions } from '../models/registry.js';
import { buildInBudget } from '../nn/parameter-budget.js';
import { formatShape, sameShape } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import { decodeUtf8 } from './elements.js';
import { importTflite } from './tflite/import.js';

/**
 * Formats decodeAnyModel reads. `model-file` is a safetensors with our metadata; `safetensors` is plain weights;
 * `tfjs-weights` a TF.js weights manifest without a model (face-api's SSD-MobileNetV1 is the one recognised).
 */
export const MODEL_FORMATS = ['model-file', 'safetensors', 'onnx', 'tfjs', 'tfjs-graph', 'tfjs-weights', 'keras-h5', 'keras', 'pytorch', 'tflite'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/** A file whose format is none the library reads; `head` holds its first bytes. */
export class UnknownFormatError extends FormatError {
  constructor(
    message: string,
    /** The file, as named to the decoder. */
    readonly path: string,
    readonly head: Uint8Array,
  ) {
    super(message);
  }
}

export interface LoadAnyModelOptions extends ArchitectureOptions {
  /**
   * Architecture for weights-only inputs (plain safetensors, torch.save state dicts, Keras weights-only H5);
   * default mobilenet_v2. α, classes and input channels of a torchvision MobileNetV2 are inferred from the weight
   * shapes when not given. `resolution` also rebuilds a model file (or our TF.js export) at another input size.
   */
  arch?: string;
  /**
   * Called with the architecture and options, once resolved (inferred from the weights where needed), before a
   * model is built or rebuilt at `resolution`: a place to check them against the data and throw a clearer error.
   */
  beforeBuild?: (arch: string, options: ArchitectureOptions) => void;
}

/**
 * Options that also decode files holding a plan and no float model (an int8 model file from mobilenet quantize), giving
 * the plan: what WasmEngine.create and the plan reference run. Without `planned` such a file is a FormatError that says so.
 */
export type LoadPlannedOptions = LoadAnyModelOptions & { planned: true };

/** A decoded model file: a float Model, or (when decoded with `planned`) a plan with no float model behind it. */
export interface AnyModel<M extends Model | PlannedModel = Model> {
  model: M;
  format: ModelFormat;
  classNames?: string[];
  preprocessing?: PreprocessOptions;
  /** Other entries the file keeps for the model (a training summary, …). */
  extra?: Record<string, unknown>;
  /** What was inferred or assumed, and other facts worth telling (one line each). */
  notes: string[];
  /** Format-specific metadata (ONNX producer and opset, Keras version, model file extras, …). */
  metadata: Record<string, unknown>;
}

/** What a caller needs to feed a decoded model and read it: the per-sample input shape and each output's name and shape. */
export function modelSignature(model: Model | PlannedModel): { inputShape: readonly number[]; outputNames: readonly string[]; outputShapes: readonly (readonly number[])[] } {
  if (model instanceof Model) return { inputShape: model.inputShape, outputNames: model.outputNames, outputShapes: model.outputNames.map((name) => model.outputTensor(name).shape) };
  const { tensors, input, outputs } = model.plan;
  return { inputShape: tensors[input].shape, outputNames: model.outputNames, outputShapes: outputs.map((t) => tensors[t].shape) };
}

/** Whether the (first) output is a softmax's (imported Keras, TF.js and ONNX models often end in one): probabilities already. */
export function endsInSoftmax(model: Model | PlannedModel): boolean {
  if (model instanceof Model) return model.getLayer(model.output.name).kind === 'Softmax';
  const { steps, outputs } = model.plan;
  const writer = (t: number): Step | undefined => steps.find((s) => s.output === t);
  const last = writer(outputs[0]);
  return (last?.op === 'dequantize' ? writer(last.inputs[0]) : last)?.op === 'softmax';
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** First bytes of a file as hex and printable text, for error messages. */
export function describeHead(head: Uint8Array): string {
  const bytes = head.subarray(0, 16);
  if (bytes.length === 0) return 'the file is empty';
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `first bytes ${hex} (${JSON.stringify(text)})`;
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b; // '{'
}

/** ONNX is protobuf: a ModelProto starts with field 1 (ir_version, varint) or, rarely, another known field. */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] === 0x08 || bytes[0] === 0x12 || bytes[0] === 0x1a || bytes[0] === 0x3a || bytes[0] === 0x42);
}

/** The extension of a file name or path, lower case with its dot ('' when none). */
export function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/** A zip holding Keras 3's config.json and model.weights.h5 (only the central directory is read). */
function isKerasArchive(bytes: Uint8Array, path: string): boolean {
  try {
    const entries = new ZipReader(bytes, path).entries;
    return entries.has(KERAS_CONFIG_ENTRY) && entries.has(KERAS_WEIGHTS_ENTRY);
  } catch {
    return false; // the torch reader reports a broken zip in its own words
  }
}

/** The format of `bytes` (read from `path`), by magic bytes first and the extension where bytes cannot tell. */
export function detectModelFormat(bytes: Uint8Array, path: string): ModelFormat {
  const ext = extensionOf(path);
  if (startsWith(bytes, HDF5_MAGIC)) return 'keras-h5';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return ext === '.keras' || isKerasArchive(bytes, path) ? 'keras' : 'pytorch';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5 && (ext === '.pt' || ext === '.pth' || ext === '.bin')) return 'pytorch'; // legacy: refused with its own message
  if (looksLikeSafetensors(bytes)) return 'safetensors';
  const text = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  if (text.startsWith('{') && (ext === '.json' || text.includes('"'))) return 'tfjs';
  if (text.startsWith('[') && (ext === '.json' || text.includes('"'))) return 'tfjs-weights';
  if (ext === '.onnx' || looksLikeOnnx(bytes)) return 'onnx';
  if (ext === '.tflite' || (bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'TFL3')) return 'tflite';
  const known = "our model file or .safetensors, .onnx, .tflite, TF.js model.json (or its folder), face-api's SSD weights manifest, Keras .h5 or .keras, torch.save .pt/.pth";
  throw new UnknownFormatError(`${path}: unknown model format: ${describeHead(bytes)}; expected ${known}`, path, bytes.slice(0, 16));
}


function architectureOf(options: LoadAnyModelOptions): { arch: string; build: ArchitectureOptions } {
  const { arch = 'mobilenet_v2', beforeBuild: _, ...build } = options;
  if (!isArchitecture(arch)) throw new ConfigError(`arch must be one of ${ARCHITECTURES.join(', ')}, got ${JSON.stringify(arch)}`);
  return { arch, build };
}

/**
 * timm names: MobileNetV2 ones become torchvision's (then inferred as those are); for MobileNetV1 the width,
 * classes and input channels come from the stem and classifier shapes, with timm's PyTorch padding and BN ε.
 */
function fromTimm(tensors: Map<string, Tensor>, options: LoadAnyModelOptions, notes: string[]): { tensors: Map<string, Tensor>; options: LoadAnyModelOptions } {
  const arch = timmArchitecture(tensors.keys());
  if (options.arch !== undefined && options.arch !== arch) throw new ConfigError(`the weights have timm ${arch} names, but arch ${options.arch} was asked for`);
  if (arch === 'mobilenet_v2') {
    notes.push('timm MobileNetV2 state-dict names (conv_stem, blocks.i.j, conv_head): mapped to torchvision\'s');
    return { tensors: timmToTorchvisionV2(tensors), options: { ...options, arch } };
  }
  const stem = tensors.get('conv_stem.weight')!.shape;
  const classifier = tensors.get('classifier.weight')?.shape;
  const build: LoadAnyModelOptions = { convention: 'torchvision', ...options, arch };
  build.alpha ??= stem[0] / 32;
  build.inputChannels ??= stem[1];
  if (classifier) build.classes ??= classifier[0];
  else build.includeTop ??= false;
  notes.push(`timm MobileNetV1 state-dict names: α = ${build.alpha}, ${classifier ? `classes = ${build.classes}` : 'no classifier'}, ${build.convention} padding and BN ε`);
  return { tensors, options: build };
}

/**
 * The options a file's metadata gives (its architecture and builder options), over the caller's: only the
 * caller's resolution (a rebuild at another input size) and beforeBuild are kept, and what else was asked is noted.
 */
function storedOptions(description: ModelDescription & { architecture: string }, given: LoadAnyModelOptions, notes: string[]): LoadAnyModelOptions {
  const { arch, resolution, beforeBuild, ...rest } = given;
  if (arch !== undefined && arch !== description.architecture) notes.push(`the file's metadata says ${description.architecture}: arch ${arch} not used`);
  const ignored = Object.entries(rest).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (ignored.length) notes.push(`the file's metadata gives the builder options: ${ignored.join(', ')} not used`);
  return { ...description.options, arch: description.architecture, ...(resolution !== undefined ? { resolution } : {}), ...(beforeBuild ? { beforeBuild } : {}) };
}

/** The input size and channels the file's metadata gives, for weights it names no architecture for (an imported graph's, under torchvision names). */
function withStoredInput(asked: LoadAnyModelOptions, { inputShape }: ModelDescription, notes: string[]): LoadAnyModelOptions {
  if (inputShape === undefined || asked.resolution !== undefined) return asked;
  const [h, w, c] = inputShape;
  notes.push(`input ${h}×${w}×${c} as the file's metadata gives it`);
  return { ...asked, resolution: [h, w], inputChannels: asked.inputChannels ?? c };
}

/** A network rebuilt from metadata must take the input the metadata says it does (unless rebuilt at another resolution). */
function checkInputShape(model: Model, description: ModelDescription, resolution: LoadAnyModelOptions['resolution'], source: string): void {
  if (description.inputShape === undefined || resolution !== undefined || sameShape(model.inputShape, description.inputShape)) return;
  throw new FormatError(`${source}: metadata entry inputShape is ${formatShape(description.inputShape)}, but the architecture and options it gives build an input of ${formatShape(model.inputShape)}`);
}

/**
 * Builds the architecture for a named set of weights (torchvision, timm or our names) and loads them: the one the
 * file's metadata describes where it has one, else the one asked for, inferred from the weight shapes where needed.
 */
function fromNamedWeights(given: Map<string, Tensor>, asked: LoadAnyModelOptions, source: string, notes: string[], description: ModelDescription = {}): Model {
  const { architecture, graph } = description;
  if (architecture === undefined && graph !== undefined) {
    const model = graphModel(graph, given, source);
    model.setWeights(given);
    notes.push('rebuilt the graph that the file\'s metadata holds (an imported model)');
    return model;
  }
  const givenOptions = architecture !== undefined ? storedOptions({ ...description, architecture }, asked, notes) : withStoredInput(asked, description, notes);
  const { tensors, options } = detectNaming(given.keys()) === 'timm' ? fromTimm(given, givenOptions, notes) : { tensors: given, options: givenOptions };
  const { arch, build } = architectureOf(options);
  if (architecture !== undefined) notes.push(`built ${arch} as the file's metadata describes it`);
  else if (arch === 'mobilenet_v2' && detectNaming(tensors.keys()) === 'torchvision' && (build.alpha === undefined || build.classes === undefined || build.inputChannels === undefined)) {
    const inferred = inferMobileNetV2(tensors, source);
    const said: string[] = [];
    if (build.alpha === undefined) {
      build.alpha = inferred.alpha;
      const [lo, hi] = inferred.alphaRange;
      said.push(`α = ${inferred.alpha}${lo !== hi ? ` (every α in [${lo}, ${hi}] gives these channels)` : ''}`);
    }
    if (build.classes === undefined && inferred.classes !== null) {
      build.classes = inferred.classes;
      said.push(`classes = ${inferred.classes}`);
    }
    if (build.inputChannels === undefined) {
      build.inputChannels = inferred.inputChannels;
      if (inferred.inputChannels !== 3) said.push(`input channels = ${inferred.inputChannels}`);
    }
    if (said.length) notes.push(`inferred from the weight shapes: ${said.join(', ')}`);
  }
  if (build.resolution === undefined && architecture === undefined) notes.push(`weights only: built ${arch} at the default resolution 224 (pass a resolution for another)`);
  options.beforeBuild?.(arch, build);
  const model = buildModel(arch, build);
  checkInputShape(model, description, asked.resolution, source);
  loadWeights(model, tensors);
  return model;
}

/**
 * Our own export read back (ONNX, TF.js): the network its metadata names, holding the imported graph's weights
 * (our exports keep every layer's name). Weights that do not fit leave the graph as imported, with a note.
 */
function asDescribed(imported: Model, description: ModelDescription, source: string, notes: string[]): Model {
  const { architecture, options = {} } = description;
  if (architecture === undefined) return imported;
  const weights = imported.weights();
  const model = buildInBudget(weights, source, () => buildModel(architecture, options));
  if (!sameShape(model.inputShape, imported.inputShape)) {
    throw new FormatError(`${source}: metadata entry options build ${architecture} with input ${formatShape(model.inputShape)}, but the graph's input is ${formatShape(imported.inputShape)}`);
  }
  try {
    model.setWeights(weights);
  } catch (e) {
    if (!(e instanceof WeightsError)) throw e;
    notes.push(`the metadata names ${architecture}, but the graph's weights do not fit it (${e.message}): the graph is kept as imported`);
    return imported;
  }
  notes.push(`rebuilt as ${architecture} from the file's metadata, with the graph's weights`);
  return model;
}

/** The description in string or JSON entries (ONNX metadata_props, TF.js userDefinedMetadata) when they carry our format tag. */
function taggedDescription(entries: Record<string, unknown> | undefined, source: string): ModelDescription | undefined {
  return entries?.format === EXPORT_METADATA_FORMAT ? readDescription(entries, source) : undefined;
}

/** What AnyModel carries of a description beside the network. */
function fileInfo({ classNames, preprocessing, extra }: ModelDescription): ModelFileInfo {
  return { classNames, preprocessing, extra };
}

/** The JSON file that saveAnyModel writes beside a torch.save file, which has no room for metadata. */
export function torchSidecarPath(path: string): string {
  return `${path}.json`;
}

/** A JSON file's value; bad UTF-8 or JSON is a FormatError naming `path`. */
function parseJsonFile(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(decodeUtf8(bytes, (offset) => new FormatError(`${path}: not valid UTF-8`, offset)));
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads a .pt's sidecar JSON (see torchSidecarPath): our entries under our format tag, else a FormatError naming it. */
function sidecarDescription(bytes: Uint8Array, path: string): ModelDescription {
  const entries = parseJsonFile(bytes, path);
  if (!isObject(entries)) throw new FormatError(`${path}: must be a JSON object of metadata entries`);
  if (entries.format !== EXPORT_METADATA_FORMAT) throw new FormatError(`${path}: metadata entry format is ${JSON.stringify(entries.format ?? null)}, expected ${EXPORT_METADATA_FORMAT}`);
  return readDescription(entries, path);
}

/** Rebuilds a model of ours (architecture in its metadata) at another input resolution, same weights. */
function atResolution(model: Model, { resolution, beforeBuild }: LoadAnyModelOptions, notes: string[]): Model {
  if (resolution === undefined) return model;
  const [h, w] = typeof resolution === 'number' ? [resolution, resolution] : resolution;
  if (model.inputShape[0] === h && model.inputShape[1] === w) return model;
  const arch = model.metadata.architecture;
  const options = model.metadata.options;
  if (typeof arch !== 'string' || !isArchitecture(arch) || typeof options !== 'object' || options === null) {
    notes.push(`the model's input is fixed at ${model.inputShape.slice(0, 2).join('×')}; resolution ${h}×${w} not applied`);
    return model;
  }
  const build: ArchitectureOptions = { ...(options as ArchitectureOptions), resolution: [h, w] };
  beforeBuild?.(arch, { ...build, inputChannels: model.inputShape[2] });
  const rebuilt = buildModel(arch, build);
  rebuilt.setWeights(model.weights());
  notes.push(`rebuilt at resolution ${h}×${w} (stored: ${model.inputShape.slice(0, 2).join('×')})`);
  return rebuilt;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keras application classifier layer names: their kernel's last axis is the class count. */
const KERAS_CLASSIFIERS = ['predictions', 'Logits', 'conv_preds'];

/** A model file's bytes, and the files beside it that it names. */
export interface ModelInput {
  bytes: Uint8Array;
  /** The file's name or path: names it in errors, and its extension helps tell the format. */
  source: string;
  /** Skips detection (a folder that Node resolved to its model.json is 'tfjs' whatever its bytes). */
  format?: ModelFormat;
  /**
   * The bytes of a file the model names relative to its own folder: TF.js weight shards, ONNX external data.
   * Where it is not given, such a model is a FormatError (TF.js) or an ExternalDataError (ONNX) naming the file.
   * For ONNX external data `usedBytes` bounds the bytes its tensors can use, so a reader can refuse a far larger file.
   */
  companion?: (path: string, usedBytes?: number) => Promise<Uint8Array>;
  /**
   * A torch.save file's sidecar JSON (`model.pt.json`, see torchSidecarPath), where there is one: the architecture,
   * builder options, class names and preprocessing that the .pt has no room for.
   */
  sidecar?: Uint8Array;
}

/**
 * The companion files `paths`, read through `input.companion` (with the bytes each can use, where `usedBytes` says);
 * the missing reader is an error made by `missing`.
 */
async function companions(input: ModelInput, paths: Iterable<string>, missing: (path: string) => Error, usedBytes?: Map<string, number>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const path of paths) {
    if (!input.companion) throw missing(path);
    files.set(path, await input.companion(path, usedBytes?.get(path)));
  }
  return files;
}

/** The file name without folders and extension, for a model's name. */
function stem(source: string): string {
  const base = source.slice(Math.max(source.lastIndexOf('/'), source.lastIndexOf('\\')) + 1);
  const ext = extensionOf(base);
  return ext ? base.slice(0, -ext.length) : base;
}

/** A preprocessing guessed from where a file comes from, and why (for the one line that says it is a guess). */
export interface PreprocessingGuess {
  preprocessing: PreprocessOptions;
  why: string;
}

/**
 * The preprocessing a decoded file that stores none most likely wants, by its origin: Keras weights take
 * x/127.5 − 1, torchvision-named weights ImageNet mean/std; undefined when unknown, and for files that carry this
 * library's description (an export of ours that had no preprocessing to keep).
 */
export function guessPreprocessing(loaded: Pick<AnyModel, 'format' | 'metadata'>): PreprocessingGuess | undefined {
  if (loaded.metadata.format === EXPORT_METADATA_FORMAT || loaded.metadata.sidecar !== undefined) return undefined;
  if (loaded.format === 'keras-h5') return { preprocessing: { pixels: FRAMEWORK_PIXELS.keras }, why: "Keras' x/127.5 − 1, as Keras MobileNets take" };
  if ((loaded.format === 'safetensors' || loaded.format === 'pytorch') && loaded.metadata.naming === 'torchvision') {
    return { preprocessing: { pixels: FRAMEWORK_PIXELS.torchvision }, why: "ImageNet mean/std, as torchvision's weights take" };
  }
  return undefined;
}

/**
 * Decodes a model from bytes in any format the library reads. Formats are detected by magic bytes (HDF5, zip,
 * safetensors header, JSON) and extension (.onnx); an unrecognised file is an UnknownFormatError that shows its
 * first bytes. TF.js shards and ONNX external data come through `input.companion`. The readers other than
 * safetensors are imported on first use, so a bundle that only meets model files does not load protobufjs or jsfive.
 */
export async function decodeAnyModel(input: ModelInput, options: LoadPlannedOptions): Promise<AnyModel<Model | PlannedModel>>;
export async function decodeAnyModel(input: ModelInput, options?: LoadAnyModelOptions): Promise<AnyModel>;
export async function decodeAnyModel(input: ModelInput, options: LoadAnyModelOptions & { planned?: boolean } = {}): Promise<AnyModel<Model | PlannedModel>> {
  const { bytes, source } = input;
  const format = input.format ?? detectModelFormat(bytes, source);
  const notes: string[] = [];
  const metadata: Record<string, unknown> = {};
  switch (format) {
    case 'model-file':
    case 'safetensors': {
      const { tensors, metadata: meta } = decodeSafetensors(bytes, source);
      if (meta.format === MODEL_FILE_FORMAT) {
        const loaded = decodeModelFile(bytes, source);
        Object.assign(metadata, { architecture: meta.architecture, options: loaded.model.metadata.options, ...(loaded.extra ? { extra: loaded.extra } : {}) });
        return { model: atResolution(loaded.model, options, notes), format: 'model-file', ...fileInfo(loaded), notes, metadata };
      }
      if (meta.format === INT8_FILE_FORMAT) {
        if (!options.planned) throw new FormatError(`${source}: an int8 model file (made by mobilenet quantize), a plan with no float model: decode it with { planned: true } (mobilenet eval, classify, infer and bench run it)`);
        const { quantized, architecture, notes: read, ...info } = decodeInt8ModelFile(bytes, source);
        if (options.resolution !== undefined) read.push(`an int8 plan's input is fixed at ${formatShape(quantized.inputShape)}: resolution not applied`);
        Object.assign(metadata, { architecture, int8: true, ...(info.extra ? { extra: info.extra } : {}) });
        return { model: quantized, format: 'model-file', ...fileInfo(info), notes: [...notes, ...read], metadata };
      }
      const naming = detectNaming(tensors.keys());
      Object.assign(metadata, { naming, tensors: tensors.size, ...meta });
      const description = taggedDescription(meta, source) ?? {};
      const model = fromNamedWeights(tensors, options, source, notes, description);
      return { model, format: 'safetensors', ...fileInfo(description), notes, metadata };
    }
    case 'tflite': {
      const imported = importTflite(bytes, source, stem(source));
      const int8 = 'plan' in imported.model;
      if (int8 && !options.planned) throw new FormatError(`${source}: an int8 TFLite model, a plan with no float model: decode it with { planned: true } (mobilenet eval, classify, infer and bench run it)`);
      const ops = Object.entries(imported.operators).map(([op, n]) => `${op}×${n}`).join(', ');
      notes.push(`TFLite ${int8 ? 'int8' : 'float'} graph: input [${imported.inputShape.join(', ')}] ${imported.inputLayout === 'NCHW' ? '(the file takes NCHW: its leading TRANSPOSE is left out, so the model takes NHWC)' : '(NHWC)'}; ops ${ops}`);
      Object.assign(metadata, { inputLayout: imported.inputLayout, operators: imported.operators, ...(imported.inputQuant ? { inputQuant: imported.inputQuant } : {}) });
      // the description's architecture is not rebuilt: the graph's weights are folded (BatchNorm in the convolutions)
      return { model: imported.model, format, ...fileInfo(imported.description ?? {}), notes, metadata };
    }
    case 'pytorch': {
      const { decodeTorchStateDict } = await import('./pth/torch-checkpoint.js');
      const tensors = decodeTorchStateDict(bytes, { source });
      const description = input.sidecar ? sidecarDescription(input.sidecar, torchSidecarPath(source)) : {};
      Object.assign(metadata, { naming: detectNaming(tensors.keys()), tensors: tensors.size, ...(input.sidecar ? { sidecar: torchSidecarPath(source) } : {}) });
      const model = fromNamedWeights(tensors, options, source, notes, description);
      return { model, format, ...fileInfo(description), notes, metadata };
    }
    case 'onnx': {
      const { externalDataExtents, metadataProps, onnxToModel, parseOnnxModel } = await import('./onnx/import.js');
      const proto = parseOnnxModel(bytes, source);
      const extents = externalDataExtents(proto, source);
      const files = await companions(input, extents.keys(), (location) => new ExternalDataError(`${source}: external data ${JSON.stringify(location)} was not given (give the files beside the model)`, location), extents);
      const importOptions = {
        name: stem(source),
        source,
        externalData: (location: string) => {
          const data = files.get(location);
          if (!data) throw new ExternalDataError(`${source}: external data ${JSON.stringify(location)} was not read`, location);
          return data;
        },
      };
      const { isQuantizedOnnx, quantizedOnnxToPlan } = await import('./onnx/qdq-import.js');
      if (options.planned && isQuantizedOnnx(proto)) {
        const quantized = quantizedOnnxToPlan(proto, importOptions);
        Object.assign(metadata, { int8: true, inputLayout: quantized.inputLayout });
        const description = taggedDescription(metadataProps(proto, source), source) ?? {};
        return { model: quantized.model, format, ...fileInfo(description), notes: [...notes, `a quantized ONNX graph: an int8 plan, input NCHW`, ...quantized.notes], metadata };
      }
      const decoded = onnxToModel(proto, importOptions);
      Object.assign(metadata, decoded.info);
      notes.push(`ONNX opset ${decoded.info.opsetVersion}${decoded.info.producer ? ` from ${decoded.info.producer}` : ''}; input ${decoded.info.inputName} [${decoded.info.inputShape.join(', ')}] (NCHW)`);
      const description = taggedDescription(decoded.info.metadataProps, source) ?? {};
      const model = asDescribed(decoded.model, description, source, notes);
      // a detector rebuilt from the file's metadata has its anchors
      if (!model.metadata.detection) notes.push(...decoded.notes);
      return { model: atResolution(model, options, notes), format, ...fileInfo(description), notes, metadata };
    }
    case 'tfjs': {
      if (/\.(pt|pth|bin)\.json$/i.test(source)) throw new FormatError(`${source}: the metadata saved beside a torch.save file, not a model: load ${source.slice(0, -'.json'.length)}, which reads it`);
      const { decodeTfjsLayersModel, parseTfjsModelJson, tfjsShardPaths } = await import('./tfjs/layers-model.js');
      const modelJson = parseTfjsModelJson(bytes, source, { graph: true });
      const shards = await companions(input, tfjsShardPaths(modelJson), (path) => new FormatError(`${source}: weight shard ${JSON.stringify(path)} was not given (give the files beside model.json)`));
      if (modelJson.format === 'graph-model') {
        const { decodeTfjsGraphModel } = await import('./tfjs/graph-model.js');
        const graph = decodeTfjsGraphModel(modelJson, shards, { source });
        const ops = Object.entries(graph.info.operators).map(([op, n]) => `${op}×${n}`).join(', ');
        notes.push(`TF.js graph model${graph.info.convertedBy ? ` (${graph.info.convertedBy})` : ''}: input ${graph.info.inputName} [${graph.info.inputShape.join(', ')}] (NHWC), output ${graph.info.outputNames.join(', ')}; ops ${ops}`);
        if (graph.unusedWeights.length) notes.push(`${graph.unusedWeights.length} weight(s) in the manifest unused: ${graph.unusedWeights.slice(0, 5).join(', ')}`);
        Object.assign(metadata, { ...graph.info, unusedWeights: graph.unusedWeights, userDefinedMetadata: graph.userDefinedMetadata ?? null });
        const description = taggedDescription(isObject(graph.userDefinedMetadata) ? graph.userDefinedMetadata : undefined, source) ?? {};
        const model = asDescribed(graph.model, description, source, notes);
        if (!model.metadata.detection) notes.push(...graph.notes);
        return { model, format: 'tfjs-graph', ...fileInfo(description), notes, metadata };
      }
      const imported = decodeTfjsLayersModel(modelJson, shards, { source });
      const user = imported.userDefinedMetadata;
      const info = isObject(user) ? user : {};
      if (imported.unusedWeights.length) notes.push(`${imported.unusedWeights.length} weight(s) in the manifest unused: ${imported.unusedWeights.slice(0, 5).join(', ')}`);
      Object.assign(metadata, { userDefinedMetadata: user ?? null });
      const description = taggedDescription(info, source);
      if (description) {
        const model = asDescribed(imported.model, description, source, notes);
        return { model: atResolution(model, options, notes), format, ...fileInfo(description), notes, metadata };
      }
      // files without our format tag: class names and preprocessing taken where they have the expected shape
      const classNames = Array.isArray(info.classNames) && info.classNames.every((c) => typeof c === 'string') ? (info.classNames as string[]) : undefined;
      const preprocessing = isObject(info.preprocessing) ? (info.preprocessing as PreprocessOptions) : undefined;
      return { model: atResolution(imported.model, options, notes), format, classNames, preprocessing, notes, metadata };
    }
    case 'tfjs-weights': {
      const { parseWeightsManifest } = await import('./tfjs/weights-manifest.js');
      const { checkFaceApiSsdManifest, faceApiSsdModel } = await import('./faceapi/ssd-mobilenetv1.js');
      const groups = parseWeightsManifest(parseJsonFile(bytes, source), source);
      checkFaceApiSsdManifest(groups, source);
      const files = await companions(input, groups.flatMap((g) => g.paths), (path) => new FormatError(`${source}: weights file ${JSON.stringify(path)} was not given (give the .bin beside the manifest)`));
      const faceApi = faceApiSsdModel(groups, (path) => files.get(path)!, source);
      notes.push(`face-api's SSD-MobileNetV1 face detector (a TF.js weights manifest, uint8-quantized): ${faceApi.model.outputShapes.boxes[0]} anchors from the file, face-api's preprocessing (padded square at the top-left, 512×512, x/127.5 − 1) and post-processing (score ≥ 0.5, NMS at IoU 0.5)`);
      Object.assign(metadata, { unusedWeights: faceApi.unused });
      return { model: faceApi.model, format, classNames: faceApi.classNames, preprocessing: faceApi.preprocessing, notes, metadata };
    }
    case 'keras': {
      const { decodeKerasArchive } = await import('./keras-h5/keras-archive.js');
      const archive = await decodeKerasArchive(bytes, { source });
      Object.assign(metadata, archive.metadata);
      notes.push(`Keras 3 archive${archive.kerasVersion ? ` (Keras ${archive.kerasVersion})` : ''}: config.json and model.weights.h5`);
      return { model: atResolution(archive.model, options, notes), format, notes, metadata };
    }
    case 'keras-h5': {
      const { assignKerasH5Weights, kerasH5ContentsToModel, readKerasH5 } = await import('./keras-h5/keras-h5.js');
      const contents = await readKerasH5(bytes, source);
      Object.assign(metadata, { kerasVersion: contents.kerasVersion, backend: contents.backend, layers: contents.layers.length });
      if (contents.modelConfig !== undefined) {
        notes.push('Keras H5: a whole model (model_config and weights)');
        return { model: atResolution(kerasH5ContentsToModel(contents, { source }), options, notes), format, notes, metadata };
      }
      const { arch, build } = architectureOf(options);
      build.convention ??= 'keras';
      if (build.classes === undefined && build.includeTop !== false) {
        const head = contents.layers.find((l) => KERAS_CLASSIFIERS.includes(l.name) && l.weights.length > 0);
        const kernel = head?.weights.find((w) => /kernel/.test(w.name));
        if (kernel) {
          build.classes = kernel.tensor.shape[kernel.tensor.shape.length - 1];
          notes.push(`inferred from the weight shapes: classes = ${build.classes}`);
        } else if (!head) {
          build.includeTop = false;
          notes.push('no classifier layer in the file: built without the top');
        }
      }
      options.beforeBuild?.(arch, build);
      notes.push(`Keras H5 weights only: built ${arch} (${build.convention} convention, α = ${build.alpha ?? 1}${build.resolution === undefined ? ', resolution 224' : ''}) and loaded by layer name`);
      const model = buildModel(arch, build);
      assignKerasH5Weights(model, contents, { source });
      return { model, format, notes, metadata };
    }
    default:
      throw new FormatError(`${source}: format ${String(format)} cannot be decoded here`);
  }
}
