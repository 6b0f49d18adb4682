// TensorFlow.js layers models (`model.json` + weight shards), pure and browser-safe: bytes in, our Model out,
// and our Model out as a model.json object and shard bytes that tfjs-layers' `loadLayersModel` reads.

import { ConfigError, FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import type { Shape, Tensor } from '../../tensor/tensor.js';
import { decodeUtf8 } from '../elements.js';
import { isObject } from './keras-config.js';
import type { Json } from './keras-config.js';
import { modelToKerasTopology } from './keras-export.js';
import type { KerasWeightBinding } from './keras-import.js';
import { assignKerasWeights, kerasTopologyToModel } from './keras-import.js';
import { buildInBudget } from '../../nn/parameter-budget.js';
import type { TfjsWeightGroup } from './weights-manifest.js';
import { DEFAULT_SHARD_BYTES, decodeWeights, encodeWeights, parseWeightsManifest } from './weights-manifest.js';

/** The key of our entry in `userDefinedMetadata`: the model's metadata (architecture, options, preprocessing, …). */
export const TFJS_METADATA_KEY = 'mobilenet-ts';

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: Json;
  weightsManifest: TfjsWeightGroup[];
  userDefinedMetadata?: Json;
  /** A graph model's inputs and outputs (converters since tfjs 2 write it here, older ones in userDefinedMetadata). */
  signature?: Json;
}

/** Parses and checks a model.json (bytes, text or an already-parsed object); a graph model only when `accept.graph`. */
export function parseTfjsModelJson(input: Uint8Array | string | unknown, source = 'model.json', accept: { graph?: boolean } = {}): TfjsModelJson {
  let value: unknown = input;
  if (input instanceof Uint8Array) value = decodeUtf8(input, (offset) => new FormatError(`${source}: not valid UTF-8`, offset));
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (e) {
      throw new FormatError(`${source}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(value)) throw new FormatError(`${source}: model.json must be a JSON object`);
  if (value.format === 'graph-model' && !accept.graph) throw new ConfigError(`${source}: a TF.js graph model, not a layers model; read it with decodeTfjsGraphModel (readTfjsModel and loadAnyModel tell them apart)`);
  if (value.format !== undefined && value.format !== 'layers-model' && value.format !== 'graph-model') throw new FormatError(`${source}: format ${JSON.stringify(value.format)} is not a TF.js layers or graph model`);
  if (!isObject(value.modelTopology)) throw new FormatError(`${source}: no modelTopology object (is this a TF.js layers model.json?)`);
  const weightsManifest = parseWeightsManifest(value.weightsManifest ?? [], source);
  return {
    format: value.format as string | undefined,
    generatedBy: typeof value.generatedBy === 'string' ? value.generatedBy : undefined,
    convertedBy: typeof value.convertedBy === 'string' ? value.convertedBy : null,
    modelTopology: value.modelTopology,
    weightsManifest,
    userDefinedMetadata: isObject(value.userDefinedMetadata) ? value.userDefinedMetadata : undefined,
    ...(isObject(value.signature) ? { signature: value.signature } : {}),
  };
}

/** Every shard path the manifest names, in order, once each. */
export function tfjsShardPaths(modelJson: TfjsModelJson): string[] {
  return [...new Set(modelJson.weightsManifest.flatMap((g) => g.paths))];
}

export interface TfjsImportOptions {
  source?: string;
  /** Per-sample input shape when the topology leaves dimensions open. */
  inputShape?: Shape;
}

export interface TfjsImport {
  model: Model;
  /** Manifest weights the model did not use (optimizer state, layers the output does not reach). */
  unusedWeights: string[];
  /** The model.json's `userDefinedMetadata`, as it is. */
  userDefinedMetadata?: Json;
}

/**
 * Builds the model a TF.js layers model.json describes and loads its weights from `shards` (path → bytes).
 * Weights are matched by name `layer/weight`; a name under a prefix (`outer/layer/weight`) matches when unique.
 */
export function decodeTfjsLayersModel(modelJson: Uint8Array | string | unknown, shards: Map<string, Uint8Array> | ((path: string) => Uint8Array), options: TfjsImportOptions = {}): TfjsImport {
  const source = options.source ?? 'model.json';
  const json = parseTfjsModelJson(modelJson, source);
  const shard = typeof shards === 'function' ? shards : (path: string): Uint8Array => {
    const bytes = shards.get(path);
    if (!bytes) throw new FormatError(`${source}: weight shard ${JSON.stringify(path)} was not given`);
    return bytes;
  };
  // the weights first: checked against the shards' bytes, they bound what the topology may allocate
  const tensors = decodeWeights(json.weightsManifest, shard, source);
  const imported = buildInBudget(tensors, source, () => kerasTopologyToModel(json.modelTopology, { source, inputShape: options.inputShape }));
  const used = new Set<string>();
  assignKerasWeights(imported, (b) => {
    const name = findWeight(tensors, b);
    if (name === undefined) return undefined;
    used.add(name);
    return tensors.get(name);
  }, source);
  const meta = json.userDefinedMetadata?.[TFJS_METADATA_KEY];
  if (isObject(meta) && isObject(meta.metadata)) imported.model.metadata = { ...meta.metadata };
  return { model: imported.model, unusedWeights: [...tensors.keys()].filter((k) => !used.has(k)), userDefinedMetadata: json.userDefinedMetadata };
}

function findWeight(tensors: Map<string, Tensor>, b: KerasWeightBinding): string | undefined {
  const exact = `${b.layer}/${b.weight}`;
  if (tensors.has(exact)) return exact;
  // Keras 3 names a DepthwiseConv2D's kernel `kernel`
  if (b.weight === 'depthwise_kernel' && tensors.has(`${b.layer}/kernel`)) return `${b.layer}/kernel`;
  const suffix = `/${exact}`;
  const candidates = [...tensors.keys()].filter((k) => k.endsWith(suffix) || k === `${exact}:0`);
  return candidates.length === 1 ? candidates[0] : undefined;
}

export interface TfjsExportOptions {
  /** Shard size in bytes; default 4 MiB, as the converter. */
  shardBytes?: number;
  /** Extra entries for `userDefinedMetadata` (ours always holds the model's metadata under `mobilenet-ts`). */
  userDefinedMetadata?: Json;
}

export interface TfjsExport {
  /** The model.json object; write it with JSON.stringify. */
  modelJson: TfjsModelJson;
  /** Shard file name → bytes, as the manifest names them. */
  shards: Map<string, Uint8Array>;
}

/** Describes `model` as a TF.js layers model with float32 weights. */
export function encodeTfjsLayersModel(model: Model, options: TfjsExportOptions = {}): TfjsExport {
  const { topology, weights } = modelToKerasTopology(model);
  const { manifest, shards } = encodeWeights(weights, options.shardBytes ?? DEFAULT_SHARD_BYTES);
  const modelJson: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: 'mobilenet-ts',
    convertedBy: null,
    modelTopology: topology,
    weightsManifest: manifest,
    userDefinedMetadata: { ...(options.userDefinedMetadata ?? {}), [TFJS_METADATA_KEY]: { metadata: JSON.parse(JSON.stringify(model.metadata)) as unknown } },
  };
  return { modelJson, shards };
}
