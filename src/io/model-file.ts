// Our model file: a standard .safetensors with our parameter names and, in its metadata, the architecture
// and builder options (or, for an imported graph, its Keras topology) that rebuild the network, the class names
// and the input preprocessing. Every other export carries the same entries (see describeExport).

import { FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';
import { ARCHITECTURES, buildModel, isArchitecture } from '../models/registry.js';
import type { Architecture, ArchitectureOptions } from '../models/registry.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { buildInBudget } from '../nn/parameter-budget.js';
import { FITS } from '../data/preprocess.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { RESIZE_COORDINATES } from '../ops/resize.js';
import { Tensor } from '../tensor/tensor.js';
import { readAnchors } from '../detect/anchors.js';
import type { DetectionHead } from '../detect/types.js';
import { modelToKerasTopology } from './tfjs/keras-export.js';
import { kerasTopologyToModel } from './tfjs/keras-import.js';

export const MODEL_FILE_FORMAT = 'mobilenet-ts/1';
/** An int8 model file (src/quant/int8-file.ts): the same header, I8 kernels and the activations' int8 parameters. */
export const INT8_FILE_FORMAT = 'mobilenet-ts-int8/1';
/**
 * The format tag of the same entries in other containers: plain safetensors weights (`__metadata__`), ONNX
 * `metadata_props`, TF.js `userDefinedMetadata` and the JSON file written beside a torch.save `.pt`.
 */
export const EXPORT_METADATA_FORMAT = 'mobilenet-ts-export/1';

export interface ModelFileInfo {
  classNames?: string[];
  /** How raw 0–255 pixels become the model's input (size, fit, scaling), applied by `classify`. */
  preprocessing?: PreprocessOptions;
  /** Anything else worth keeping (training summary, source). */
  extra?: Record<string, unknown>;
}

/** What a file says about its model, read back and checked (see readDescription). */
export interface ModelDescription extends ModelFileInfo {
  format?: string;
  architecture?: Architecture;
  /** Builder options: `buildModel(architecture, options)` rebuilds the network. */
  options?: ArchitectureOptions;
  /** Per-sample input shape [height, width, channels]. */
  inputShape?: number[];
  /** An imported graph with no architecture of ours: its Keras topology, as TF.js layers models write it. */
  graph?: Record<string, unknown>;
  /** A detector's head but its anchors, which our model file keeps as the tensor ANCHORS_TENSOR. */
  detection?: Omit<DetectionHead, 'anchors'>;
}

/** A detector's anchors [A, 4] in our model file, beside the weights (no layer has a parameter of this name). */
export const ANCHORS_TENSOR = 'detection.anchors';

/** The entries that hold JSON (the others are plain strings). */
const JSON_ENTRIES = ['options', 'inputShape', 'classNames', 'preprocessing', 'extra', 'graph', 'detection'] as const;

export function encodeModelFile(model: Model, info: ModelFileInfo = {}): Uint8Array {
  const tensors = model.weights();
  const anchors = model.metadata.detection?.anchors;
  if (anchors) tensors.set(ANCHORS_TENSOR, new Tensor([anchors.length / 4, 4], anchors));
  return encodeSafetensors(tensors, metadataEntries(describeExport(model, info, { format: MODEL_FILE_FORMAT, graph: true })));
}

/**
 * What every export carries beside the weights, as JSON values: the format tag, the architecture and builder
 * options (for models built here), the input shape, class names, preprocessing and extra entries. With `graph`, a
 * model with no architecture of ours (an imported graph) has its topology written too, for files of weights alone.
 * An int8 plan (a PlannedModel) has no builder behind it: its input shape and `info` only.
 */
export function describeExport(model: Model | PlannedModel, info: ModelFileInfo, { format = EXPORT_METADATA_FORMAT, graph = false } = {}): Record<string, unknown> {
  const description: Record<string, unknown> = { format };
  if (!('nodes' in model)) {
    description.inputShape = [...model.plan.tensors[model.plan.input].shape];
    return withInfo(description, info);
  }
  const { architecture, options } = model.metadata;
  if (typeof architecture === 'string') Object.assign(description, { architecture, options: options ?? {} });
  else if (graph) description.graph = modelToKerasTopology(model, { extended: true }).topology;
  description.inputShape = [...model.inputShape];
  if (model.metadata.detection) {
    const { anchors: _anchors, ...head } = model.metadata.detection;
    description.detection = head;
  }
  return withInfo(description, info);
}

/** `description` with the class names, preprocessing and extra entries `info` has, as plain JSON values. */
function withInfo(description: Record<string, unknown>, info: ModelFileInfo): Record<string, unknown> {
  if (info.classNames) description.classNames = info.classNames;
  if (info.preprocessing) description.preprocessing = info.preprocessing;
  if (info.extra) description.extra = info.extra;
  return JSON.parse(JSON.stringify(description)) as Record<string, unknown>;
}

/** A description as string entries (safetensors metadata, ONNX metadata_props): strings as they are, the rest as JSON. */
export function metadataEntries(description: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(description).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
}

/** The metadata that rebuilds `model` (architecture and builder options) with `info`, for a file of `format`. */
export function describeModel(model: Model, info: ModelFileInfo, format: string): Record<string, string> {
  if (typeof model.metadata.architecture !== 'string') throw new FormatError(`model ${model.name} has no architecture in its metadata: only models built by mobilenetV1/mobilenetV2 can be saved`);
  return metadataEntries(describeExport(model, info, { format }));
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
const isNumbers = (v: unknown): boolean => typeof v === 'number' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'));

/** Why `p` is not a PreprocessOptions, or null. */
function preprocessingProblem(p: unknown): string | null {
  if (!isObject(p)) return 'must be an object';
  if (p.size !== undefined && !(Array.isArray(p.size) && p.size.length === 2 && p.size.every(isCount))) return `size must be [height, width], got ${JSON.stringify(p.size)}`;
  if (p.fit !== undefined && !(FITS as readonly unknown[]).includes(p.fit)) return `fit must be one of ${FITS.join(', ')}, got ${JSON.stringify(p.fit)}`;
  if (p.align !== undefined && p.align !== 'center' && p.align !== 'top-left') return `align must be "center" or "top-left", got ${JSON.stringify(p.align)}`;
  if (p.coordinates !== undefined && !(RESIZE_COORDINATES as readonly unknown[]).includes(p.coordinates)) return `coordinates must be one of ${RESIZE_COORDINATES.join(', ')}, got ${JSON.stringify(p.coordinates)}`;
  const pixels = p.pixels;
  const named = pixels === undefined || pixels === 'raw' || pixels === 'unit' || pixels === 'symmetric';
  if (!named && !(isObject(pixels) && isNumbers(pixels.mean) && isNumbers(pixels.std))) return `pixels must be "raw", "unit", "symmetric" or {mean, std}, got ${JSON.stringify(pixels)}`;
  return null;
}

/** Why `d` is not a detector head (anchors aside), or null. */
function detectionProblem(d: unknown): string | null {
  if (!isObject(d)) return 'must be an object';
  if (!(Array.isArray(d.scaleFactors) && d.scaleFactors.length === 4 && d.scaleFactors.every((v) => typeof v === 'number' && v > 0))) return `scaleFactors must be 4 positive numbers, got ${JSON.stringify(d.scaleFactors)}`;
  if (!['sigmoid', 'softmax', 'identity'].includes(d.scoreConversion as string)) return `scoreConversion must be "sigmoid", "softmax" or "identity", got ${JSON.stringify(d.scoreConversion)}`;
  if (typeof d.background !== 'boolean') return `background must be true or false, got ${JSON.stringify(d.background)}`;
  if (!(isObject(d.outputs) && typeof d.outputs.scores === 'string' && typeof d.outputs.boxes === 'string')) return `outputs must name the scores and boxes outputs, got ${JSON.stringify(d.outputs)}`;
  if (d.codeOrder !== undefined && d.codeOrder !== 'yxhw' && d.codeOrder !== 'xywh') return `codeOrder must be "yxhw" or "xywh", got ${JSON.stringify(d.codeOrder)}`;
  if (d.boxFormat !== undefined && d.boxFormat !== 'encoded' && d.boxFormat !== 'corners') return `boxFormat must be "encoded" or "corners", got ${JSON.stringify(d.boxFormat)}`;
  if (d.defaults !== undefined && !isObject(d.defaults)) return `defaults must be an object of post-processing options, got ${JSON.stringify(d.defaults)}`;
  return null;
}

/**
 * Reads the entries of a model file or an export (string values holding JSON, as safetensors and ONNX store them,
 * or JSON values, as TF.js and the .pt sidecar do) and checks each: a malformed one is a FormatError naming
 * `source` and the entry.
 */
export function readDescription(entries: Record<string, unknown>, source: string): ModelDescription {
  const value = (key: string): unknown => {
    const raw = entries[key];
    return typeof raw === 'string' && (JSON_ENTRIES as readonly string[]).includes(key) ? parseJson<unknown>(raw, key, source) : raw;
  };
  const fail = (key: string, why: string): FormatError => new FormatError(`${source}: metadata entry ${key} ${why}`);
  const description: ModelDescription = {};
  const format = value('format');
  if (format !== undefined) {
    if (typeof format !== 'string') throw fail('format', `must be a string, got ${JSON.stringify(format)}`);
    description.format = format;
  }
  const architecture = value('architecture');
  if (architecture !== undefined) {
    if (typeof architecture !== 'string' || !isArchitecture(architecture)) throw fail('architecture', `names an unknown architecture ${JSON.stringify(architecture)} (expected ${ARCHITECTURES.join(' or ')})`);
    description.architecture = architecture;
  }
  const options = value('options');
  if (options !== undefined) {
    if (!isObject(options)) throw fail('options', `must be an object of builder options, got ${JSON.stringify(options)}`);
    description.options = options as ArchitectureOptions;
  }
  const inputShape = value('inputShape');
  if (inputShape !== undefined) {
    if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every(isCount)) throw fail('inputShape', `must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
    description.inputShape = inputShape as number[];
  }
  const classNames = value('classNames');
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string')) throw fail('classNames', 'must be a list of strings');
    description.classNames = classNames as string[];
  }
  const preprocessing = value('preprocessing');
  if (preprocessing !== undefined) {
    const problem = preprocessingProblem(preprocessing);
    if (problem) throw fail('preprocessing', problem);
    description.preprocessing = preprocessing as PreprocessOptions;
  }
  const detection = value('detection');
  if (detection !== undefined) {
    const problem = detectionProblem(detection);
    if (problem) throw fail('detection', problem);
    description.detection = detection as Omit<DetectionHead, 'anchors'>;
  }
  for (const key of ['extra', 'graph'] as const) {
    const v = value(key);
    if (v === undefined) continue;
    if (!isObject(v)) throw fail(key, `must be an object, got ${JSON.stringify(v)}`);
    description[key] = v;
  }
  return description;
}

/** The network a metadata entry `graph` holds (weights as initialised), with no more parameters than `tensors` account for. */
export function graphModel(graph: Record<string, unknown>, tensors: Map<string, Tensor>, source: string): Model {
  return buildInBudget(tensors, source, () => kerasTopologyToModel(graph, { source: `${source} (metadata entry graph)` }).model);
}

/** Rebuilds the model a file describes and loads its weights (every tensor must fit exactly). */
export function decodeModelFile(bytes: Uint8Array, source = '<buffer>'): LoadedModel {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FILE_FORMAT) {
    throw new FormatError(`${source}: not a mobilenet-ts model file (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected ${MODEL_FILE_FORMAT}); plain weights load with loadWeights()`);
  }
  const anchors = tensors.get(ANCHORS_TENSOR);
  tensors.delete(ANCHORS_TENSOR);
  const loaded = rebuildModel(tensors, metadata, source);
  loaded.model.setWeights(tensors);
  const { detection } = readDescription(metadata, source);
  if ((detection === undefined) !== (anchors === undefined)) {
    throw new FormatError(`${source}: a detector needs both the metadata entry detection and the tensor ${ANCHORS_TENSOR}; the file has only ${detection ? 'the entry' : 'the tensor'}`);
  }
  if (detection && anchors) {
    const built = loaded.model.metadata.detection?.anchors;
    loaded.model.metadata.detection = { ...detection, anchors: readAnchors(anchors, built ? built.length / 4 : undefined, `${source} (tensor ${ANCHORS_TENSOR})`) };
  }
  return loaded;
}

/**
 * Builds the network `metadata` describes (weights as initialised), with no more parameters than `tensors` account
 * for, and reads the file's class names, preprocessing and extra entries.
 */
export function rebuildModel(tensors: Map<string, Tensor>, metadata: Record<string, string>, source: string): LoadedModel {
  const { architecture, options = {}, graph, classNames, preprocessing, extra } = readDescription(metadata, source);
  let model: Model;
  if (architecture !== undefined) model = buildInBudget(tensors, source, () => buildModel(architecture, options));
  else if (graph !== undefined) model = graphModel(graph, tensors, source);
  else throw new FormatError(`${source}: metadata has neither an architecture nor a graph entry: nothing to rebuild the network from`);
  return { model, classNames, preprocessing, extra };
}
