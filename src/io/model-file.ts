// Our model file: a standard .safetensors with our parameter names and, in its metadata, the architecture
// and builder options that rebuild the network, the class names and the input preprocessing.

import { FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { buildModel, isArchitecture } from '../models/registry.js';
import type { ArchitectureOptions } from '../models/registry.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { buildInBudget } from '../nn/parameter-budget.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import type { Tensor } from '../tensor/tensor.js';

export const MODEL_FILE_FORMAT = 'mobilenet-ts/1';
/** An int8 model file (src/quant/int8-file.ts): the same header, I8 kernels and the activations' int8 parameters. */
export const INT8_FILE_FORMAT = 'mobilenet-ts-int8/1';

export interface ModelFileInfo {
  classNames?: string[];
  /** How raw 0–255 pixels become the model's input (size, fit, scaling), applied by `classify`. */
  preprocessing?: PreprocessOptions;
  /** Anything else worth keeping (training summary, source). */
  extra?: Record<string, unknown>;
}

export function encodeModelFile(model: Model, info: ModelFileInfo = {}): Uint8Array {
  return encodeSafetensors(model.weights(), describeModel(model, info, MODEL_FILE_FORMAT));
}

/** The metadata that rebuilds `model` (architecture and builder options) with `info`, for a file of `format`. */
export function describeModel(model: Model, info: ModelFileInfo, format: string): Record<string, string> {
  const architecture = model.metadata.architecture;
  if (typeof architecture !== 'string') throw new FormatError(`model ${model.name} has no architecture in its metadata: only models built by mobilenetV1/mobilenetV2 can be saved`);
  const metadata: Record<string, string> = {
    format,
    architecture,
    options: JSON.stringify(model.metadata.options ?? {}),
  };
  if (info.classNames) metadata.classNames = JSON.stringify(info.classNames);
  if (info.preprocessing) metadata.preprocessing = JSON.stringify(info.preprocessing);
  if (info.extra) metadata.extra = JSON.stringify(info.extra);
  return metadata;
}

export interface LoadedModel extends ModelFileInfo {
  model: Model;
}

export function parseJson<T>(text: string | undefined, key: string, source: string): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new FormatError(`${source}: metadata entry ${key} is not valid JSON`);
  }
}

/** Rebuilds the model a file describes and loads its weights (every tensor must fit exactly). */
export function decodeModelFile(bytes: Uint8Array, source = '<buffer>'): LoadedModel {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FILE_FORMAT) {
    throw new FormatError(`${source}: not a mobilenet-ts model file (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected ${MODEL_FILE_FORMAT}); plain weights load with loadWeights()`);
  }
  const loaded = rebuildModel(tensors, metadata, source);
  loaded.model.setWeights(tensors);
  return loaded;
}

/**
 * Builds the network `metadata` describes (weights as initialised), with no more parameters than `tensors` account
 * for, and reads the file's class names, preprocessing and extra entries.
 */
export function rebuildModel(tensors: Map<string, Tensor>, metadata: Record<string, string>, source: string): LoadedModel {
  const architecture = metadata.architecture ?? '';
  if (!isArchitecture(architecture)) throw new FormatError(`${source}: unknown architecture ${JSON.stringify(architecture)} in metadata`);
  const options = parseJson<ArchitectureOptions>(metadata.options, 'options', source) ?? {};
  const model = buildInBudget(tensors, source, () => buildModel(architecture, options));
  const classNames = parseJson<string[]>(metadata.classNames, 'classNames', source);
  if (classNames !== undefined && (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string'))) throw new FormatError(`${source}: classNames must be a list of strings`);
  return {
    model,
    classNames,
    preprocessing: parseJson<PreprocessOptions>(metadata.preprocessing, 'preprocessing', source),
    extra: parseJson<Record<string, unknown>>(metadata.extra, 'extra', source),
  };
}
