// TensorFlow.js graph models (model.json whose modelTopology is a TF GraphDef in JSON, weights in shards), pure and
// browser-safe: the CNN ops a converted TF/Keras MobileNet uses become layers of our graph (NHWC, as TF), fast-backend ready.

import { ConfigError, FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { GRAPH_OPS, UnsupportedGraphOpError } from './graph-ops.js';
import { TfjsImporter } from './graph-importer.js';
import type { NodeDef, TfjsGraphImportOptions, TfjsGraphInfo } from './graph-importer.js';
import { TFJS_GRAPH_OPS } from './graph-converters.js';
import { isObject } from './keras-config.js';
import type { Json } from './keras-config.js';
import { parseTfjsModelJson } from './layers-model.js';
import { decodeWeights } from './weights-manifest.js';
import { missingAnchorsNote } from '../graph-import/detector-outputs.js';

export { GRAPH_OPS, UnsupportedGraphOpError };
export type { TfjsGraphImportOptions, TfjsGraphInfo };

export interface TfjsGraphImport {
  model: Model;
  info: TfjsGraphInfo;
  /** Manifest weights no node on the way to the outputs reads. */
  unusedWeights: string[];
  /** What the file leaves to the caller, one line each (a detector's raw outputs without anchors). */
  notes: string[];
  userDefinedMetadata?: Json;
}

/**
 * Builds our model from a TF.js graph model: `modelJson` (bytes, text or parsed) and its shards (path → bytes).
 * Only the nodes the outputs depend on are converted; an op outside GRAPH_OPS is an UnsupportedGraphOpError.
 * Several outputs (the signature's, or `outputNodes`) make a model with outputs named by node.
 */
export function decodeTfjsGraphModel(modelJson: Uint8Array | string | unknown, shards: Map<string, Uint8Array> | ((path: string) => Uint8Array), options: TfjsGraphImportOptions = {}): TfjsGraphImport {
  const source = options.source ?? 'model.json';
  const json = parseTfjsModelJson(modelJson, source, { graph: true });
  if (json.format !== 'graph-model') throw new FormatError(`${source}: format ${JSON.stringify(json.format)} is not a TF.js graph model`);
  const shard = typeof shards === 'function' ? shards : (path: string): Uint8Array => {
    const bytes = shards.get(path);
    if (!bytes) throw new FormatError(`${source}: weight shard ${JSON.stringify(path)} was not given`);
    return bytes;
  };
  const weights = decodeWeights(json.weightsManifest, shard, source);
  const nodes = parseGraphNodes(json.modelTopology, source);
  if (options.outputNodes?.length === 0) throw new ConfigError(`${source}: outputNodes is empty; name at least one node`);
  const outputs = options.outputNodes ?? (options.outputNode !== undefined ? [options.outputNode] : signatureOutputs(json, nodes, source));
  const importer = new TfjsImporter(nodes, weights, source, options);
  const { model, info } = importer.build(outputs, TFJS_GRAPH_OPS);
  Object.assign(info, { convertedBy: json.convertedBy ?? undefined, generatedBy: json.generatedBy });
  model.metadata = { importedFrom: { format: 'tfjs-graph', source, convertedBy: json.convertedBy ?? null } };
  // decoded boxes (an Exp on the way: TF's box coder) need no anchors; raw box codes do
  const anchors = info.operators.Exp ? null : missingAnchorsNote(model.outputNames.map((name) => ({ name, shape: model.outputShapes[name] })));
  return { model, info, unusedWeights: [...weights.keys()].filter((k) => !importer.usedWeights.has(k)), notes: anchors ? [anchors] : [], userDefinedMetadata: json.userDefinedMetadata };
}

/** Checks the GraphDef's node list: names unique, ops and inputs strings. */
export function parseGraphNodes(topology: Json, source: string): Map<string, NodeDef> {
  if (!Array.isArray(topology.node)) throw new FormatError(`${source}: modelTopology has no node list (is this a TF.js graph model?)`);
  if (isObject(topology.library) && Array.isArray(topology.library.function) && topology.library.function.length > 0) {
    throw new UnsupportedGraphOpError(source, 'library', 'modelTopology.library', 'graphs with functions (control flow) are not supported');
  }
  const nodes = new Map<string, NodeDef>();
  topology.node.forEach((n: unknown, i: number) => {
    if (!isObject(n) || typeof n.name !== 'string' || n.name === '' || typeof n.op !== 'string') throw new FormatError(`${source}: node ${i} must have a name and an op`);
    if (nodes.has(n.name)) throw new FormatError(`${source}: node name ${JSON.stringify(n.name)} appears twice`);
    const rawInputs = n.input ?? [];
    if (!Array.isArray(rawInputs) || !rawInputs.every((x) => typeof x === 'string')) throw new FormatError(`${source}: node ${JSON.stringify(n.name)}: input must be a list of names`);
    const inputs = (rawInputs as string[]).filter((x) => !x.startsWith('^')).map((x): [string, number] => {
      const m = /^(.*?)(?::(\d+))?$/.exec(x)!;
      return [m[1], m[2] === undefined ? 0 : Number(m[2])];
    });
    if (n.attr !== undefined && !isObject(n.attr)) throw new FormatError(`${source}: node ${JSON.stringify(n.name)}: attr must be an object`);
    nodes.set(n.name, { name: n.name, op: n.op, inputs, attr: (n.attr ?? {}) as Json });
  });
  return nodes;
}

/** The output nodes: the signature's outputs, else, as tfjs-converter takes them, every node no other node reads (Const and NoOp aside). */
function signatureOutputs(json: { signature?: Json; userDefinedMetadata?: Json }, nodes: Map<string, NodeDef>, source: string): string[] {
  const signature = json.signature ?? (isObject(json.userDefinedMetadata?.signature) ? json.userDefinedMetadata.signature : undefined);
  const outputs = isObject(signature?.outputs) ? Object.keys(signature.outputs) : [];
  if (outputs.length > 0) return outputs.map((name) => name.replace(/:\d+$/, ''));
  const read = new Set([...nodes.values()].flatMap((n) => n.inputs.map(([name]) => name)));
  const sinks = [...nodes.values()].filter((n) => !read.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp');
  if (sinks.length === 0) throw new ConfigError(`${source}: cannot tell the output: every node is read by another; name the output node`);
  return sinks.map((n) => n.name);
}

