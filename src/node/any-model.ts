// Loads a model from a file or folder in any format the library reads (the bytes decoded by the core's decodeAnyModel,
// with TF.js shards (a model.json's or a weights manifest's), ONNX external data and a .pt's sidecar JSON read beside
// it), and saves one in any format it writes, each with the architecture, input shape, class names and preprocessing
// the model needs.

import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

import type { PreprocessOptions } from '../data/preprocess.js';
import { ConfigError, FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { UnknownFormatError, decodeAnyModel, detectModelFormat, torchSidecarPath } from '../io/any-model.js';
import type { AnyModel, LoadAnyModelOptions, LoadPlannedOptions } from '../io/any-model.js';
import type { PlannedModel } from '../graph/plan.js';
import { describeExport, encodeModelFile, metadataEntries } from '../io/model-file.js';
import type { ModelFileInfo } from '../io/model-file.js';
import { encodeTorchStateDict } from '../io/pth/torch-checkpoint.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { parseWeightsManifest } from '../io/tfjs/weights-manifest.js';
import { torchStateDict } from '../io/torch-names.js';
import { detectNaming } from '../io/named-weights.js';
import { oursToTimmV1, torchvisionToTimmV2 } from '../io/timm-names.js';
import type { Tensor } from '../tensor/tensor.js';
import { encodeTflite } from '../io/tflite/write.js';
import { FileError, readBytes, writeFileAtomic } from './files.js';
import { readOnnxExternal, writeOnnxFile } from './onnx-files.js';
import { readTfjsModelFiles, readWeightShards, writeTfjsModel } from './tfjs-files.js';

export { MODEL_FORMATS, UnknownFormatError, describeHead, detectModelFormat, torchSidecarPath } from '../io/any-model.js';
export type { AnyModel, LoadAnyModelOptions, LoadPlannedOptions, ModelFormat } from '../io/any-model.js';
/** Formats saveAnyModel writes. */
export const SAVE_FORMATS = ['model-file', 'safetensors', 'onnx', 'tfjs', 'pytorch', 'tflite'] as const;
export type SaveFormat = (typeof SAVE_FORMATS)[number];

/** Resolves a folder to the model.json inside it. */
async function resolveModelPath(path: string): Promise<{ path: string; folder: boolean }> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    // readBytes reports a missing file with its own error
  }
  if (!isDir) return { path, folder: false };
  const json = join(path, 'model.json');
  try {
    if ((await stat(json)).isFile()) return { path: json, folder: true };
  } catch {
    // fall through
  }
  throw new UnknownFormatError(`${path}: a folder without model.json: not a TF.js model, and no other format is a folder`, path, new Uint8Array(0));
}

/** The bytes of `path`, or undefined where there is no such file. */
async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readBytes(path);
  } catch (e) {
    if (e instanceof FileError && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Loads a model from a file or folder in any format the library reads (see decodeAnyModel): TF.js shards and ONNX
 * external data are read from the model's folder, confined to it; a torch.save file's sidecar JSON
 * (`model.pt.json`, see torchSidecarPath) from beside it, where there is one.
 */
export async function loadAnyModel(path: string, options: LoadPlannedOptions): Promise<AnyModel<Model | PlannedModel>>;
export async function loadAnyModel(path: string, options?: LoadAnyModelOptions): Promise<AnyModel>;
export async function loadAnyModel(path: string, options: LoadAnyModelOptions | LoadPlannedOptions = {}): Promise<AnyModel<Model | PlannedModel>> {
  const resolved = await resolveModelPath(path);
  const source = resolved.path;
  const bytes = await readBytes(source);
  const format = resolved.folder ? 'tfjs' : detectModelFormat(bytes, source);
  let shards: Promise<Map<string, Uint8Array>> | null = null;
  const companion = async (file: string, usedBytes?: number): Promise<Uint8Array> => {
    if (format === 'onnx') return readOnnxExternal(source, file, usedBytes ?? Number.POSITIVE_INFINITY);
    // a weights manifest's own JSON is the list of groups (the core read it before asking for a file)
    shards ??= format === 'tfjs-weights' ? readWeightShards(source, parseWeightsManifest(JSON.parse(new TextDecoder().decode(bytes)), source)) : readTfjsModelFiles(source).then((f) => f.shards);
    const shard = (await shards).get(file);
    if (!shard) throw new FormatError(`${source}: weight shard ${JSON.stringify(file)} was not read`);
    return shard;
  };
  const sidecar = format === 'pytorch' ? await readIfPresent(torchSidecarPath(source)) : undefined;
  return decodeAnyModel({ bytes, source, format, companion, ...(sidecar ? { sidecar } : {}) }, options);
}

export interface SaveAnyModelOptions {
  /** Default from the extension: .onnx → onnx, .pt/.pth → pytorch, .json or no extension → tfjs (folder), .safetensors → our model file. */
  format?: SaveFormat;
  classNames?: string[];
  preprocessing?: PreprocessOptions;
  /** Anything else worth keeping (a training summary): the `extra` entry of every format's metadata. */
  extra?: Record<string, unknown>;
  /** Names of plain safetensors and torch.save outputs: torchvision's (default) or timm's (our MobileNetV2 and V1). */
  naming?: 'torchvision' | 'timm';
}

export interface SavedModel {
  format: SaveFormat;
  /** Files written. */
  paths: string[];
  notes: string[];
}

/** The format a path asks for by its extension. */
export function saveFormatFor(path: string): SaveFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.tflite') return 'tflite';
  if (ext === '.pt' || ext === '.pth') return 'pytorch';
  if (ext === '.json' || ext === '' || path.endsWith('/')) return 'tfjs';
  if (ext === '.safetensors') return 'model-file';
  throw new ConfigError(`${path}: cannot tell the output format from the extension ${JSON.stringify(ext)}; give one of ${SAVE_FORMATS.join(', ')}`);
}

/** Named weights for a plain file: torchvision names when the model has them (timm's when asked), ours otherwise. */
function plainWeights(model: Model, notes: string[], naming: SaveAnyModelOptions['naming']): Map<string, Tensor> {
  if (naming === 'timm') {
    const arch = model.metadata.architecture;
    if (arch !== 'mobilenet_v2' && arch !== 'mobilenet_v1') throw new ConfigError(`timm names are written for our MobileNetV2 and MobileNetV1 models only; ${model.name} is ${String(arch ?? 'an imported graph')}`);
    notes.push(`timm state-dict names (${arch === 'mobilenet_v2' ? 'mobilenetv2_*' : 'mobilenetv1_*'}) and PyTorch layouts`);
    return arch === 'mobilenet_v2' ? torchvisionToTimmV2(torchStateDict(model)) : oursToTimmV1(model.weights());
  }
  try {
    const state = torchStateDict(model);
    if (state.size > 0) {
      notes.push('torchvision state-dict names and layouts');
      return state;
    }
  } catch {
    // not a torchvision-shaped model
  }
  notes.push("this library's parameter names (the model has no torchvision names)");
  return model.weights();
}

/**
 * The metadata of a file of weights alone: an imported graph's topology too where the weights keep our names (the
 * graph is rebuilt with them) and our topology entries can say it.
 */
function weightsDescription(model: Model, weights: Map<string, Tensor>, info: ModelFileInfo, notes: string[]): Record<string, unknown> {
  if (detectNaming(weights.keys()) !== 'ours') return describeExport(model, info);
  try {
    return describeExport(model, info, { graph: true });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    notes.push(`${e.message}: the file keeps the weights without the graph`);
    return describeExport(model, info);
  }
}

/**
 * Saves `model` as our model file (an imported graph as its Keras topology), plain safetensors (torchvision names
 * when the model has them), ONNX (opset 13), a TF.js layers model (a folder, or the path of its model.json) or a
 * torch.save state dict. Each carries the architecture and builder options (models built here), the input shape,
 * class names and preprocessing: in the safetensors metadata, ONNX metadata_props, TF.js userDefinedMetadata, and
 * for torch.save, which has no room, in a sidecar JSON beside it (`model.pt.json`, see torchSidecarPath).
 */
export async function saveAnyModel(model: Model | PlannedModel, path: string, options: SaveAnyModelOptions = {}): Promise<SavedModel> {
  const format = options.format ?? saveFormatFor(path);
  const notes: string[] = [];
  if (options.naming === 'timm' && format !== 'safetensors' && format !== 'pytorch') throw new ConfigError(`timm names apply to plain weights files (safetensors, pytorch), not to ${format}`);
  const info: ModelFileInfo = { classNames: options.classNames, preprocessing: options.preprocessing, extra: options.extra };
  if (!('nodes' in model)) return savePlan(model, path, format, info);
  switch (format) {
    case 'model-file': {
      if (typeof model.metadata.architecture !== 'string') notes.push(`an imported graph (${model.name}): its Keras topology is kept in the file's metadata`);
      await writeFileAtomic(path, encodeModelFile(model, info));
      return { format, paths: [path], notes };
    }
    case 'safetensors': {
      const weights = plainWeights(model, notes, options.naming);
      await writeFileAtomic(path, encodeSafetensors(weights, metadataEntries(weightsDescription(model, weights, info, notes))));
      return { format, paths: [path], notes };
    }
    case 'pytorch': {
      const weights = plainWeights(model, notes, options.naming);
      const sidecar = torchSidecarPath(path);
      await writeFileAtomic(path, encodeTorchStateDict(weights));
      await writeFileAtomic(sidecar, new TextEncoder().encode(`${JSON.stringify(weightsDescription(model, weights, info, notes), null, 2)}\n`));
      notes.push(`architecture, input shape, class names and preprocessing in ${sidecar} (keep it beside the .pt)`);
      return { format, paths: [path, sidecar], notes };
    }
    case 'onnx': {
      await writeOnnxFile(path, model, { metadata: metadataEntries(describeExport(model, info)) });
      return { format, paths: [path], notes };
    }
    case 'tflite': {
      await writeFileAtomic(path, encodeTflite(model, info));
      return { format, paths: [path], notes };
    }
    case 'tfjs': {
      const modelJson = extname(path).toLowerCase() === '.json' ? path : join(path, 'model.json');
      const paths = await writeTfjsModel(modelJson, model, { userDefinedMetadata: describeExport(model, info) });
      return { format, paths, notes };
    }
    default:
      throw new ConfigError(`unknown output format ${JSON.stringify(format)}; one of ${SAVE_FORMATS.join(', ')}`);
  }
}

/** An int8 plan has no float layers to write as weights: QDQ ONNX and int8 .tflite are the formats that hold it. */
async function savePlan(plan: PlannedModel, path: string, format: SaveFormat, info: ModelFileInfo): Promise<SavedModel> {
  if (format === 'onnx') await writeOnnxFile(path, plan, { metadata: metadataEntries(describeExport(plan, info)) });
  else if (format === 'tflite') await writeFileAtomic(path, encodeTflite(plan, info));
  else throw new ConfigError(`${path}: an int8 model is written as ONNX (QDQ) or .tflite, not as ${format}`);
  return { format, paths: [path], notes: [] };
}
