// Our model file: a standard .safetensors with our parameter names and, in its metadata, the architecture
// and builder options that rebuild the network, the class names and the input preprocessing.

import { FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { buildModel, isArchitecture } from '../models/registry.js';
import type { ArchitectureOptions } from '../models/registry.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { buildInBudget } from '../nn/parameter-budget.js';
import type { PreprocessOptions } from '../data/preprocess.js';

export const MODEL_FILE_FORMAT = 'mobilenet-ts/1';

export interface ModelFileInfo {
  classNames?: string[];
  /** How raw 0–255 pixels become the model's input (size, fit, scaling), applied by `classify`. */
  preprocessing?: PreprocessOptions;
  /** Anything else worth keeping (training summary, source). */
  extra?: Record<string, unknown>;
}

export function encodeModelFile(model: Model, info: ModelFileInfo = {}): Uint8Array {
  const architecture = model.metadata.architecture;
  if (typeof architecture !== 'string') throw new FormatError(`model ${model.name} has no architecture in its metadata: only models built by mobilenetV1/mobilenetV2 can be saved`);
  const metadata: Record<string, string> = {
    format: MODEL_FILE_FORMAT,
    architecture,
    options: JSON.stringify(model.metadata.options ?? {}),
  };
  if (info.classNames) metadata.classNames = JSON.stringify(info.classNames);
  if (info.preprocessing) metadata.preprocessing = JSON.stringify(info.preprocessing);
  if (info.extra) metadata.extra = JSON.stringify(info.extra);
  return encodeSafetensors(model.weights(), metadata);
}

export interface LoadedModel extends ModelFileInfo {
  model: Model;
}

function parseJson<T>(text: string | undefined, key: string, source: string): T | undefined {
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
  const architecture = metadata.architecture ?? '';
  if (!isArchitecture(architecture)) throw new FormatError(`${source}: unknown architecture ${JSON.stringify(architecture)} in metadata`);
  const options = parseJson<ArchitectureOptions>(metadata.options, 'options', source) ?? {};
  const model = buildInBudget(tensors, source, () => buildModel(architecture, options));
  model.setWeights(tensors);
  const classNames = parseJson<string[]>(metadata.classNames, 'classNames', source);
  if (classNames !== undefined && (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string'))) throw new FormatError(`${source}: classNames must be a list of strings`);
  return {
    model,
    classNames,
    preprocessing: parseJson<PreprocessOptions>(metadata.preprocessing, 'preprocessing', source),
    extra: parseJson<Record<string, unknown>>(metadata.extra, 'extra', source),
  };
}
