// TensorFlow.js graph models (model.json whose modelTopology is a TF GraphDef in JSON, weights in shards), pure and
// browser-safe: the CNN ops a converted TF/Keras MobileNet uses become layers of our graph (NHWC, as TF), fast-backend ready.

import { ConfigError, FormatError, asFormatError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { ReLU, ReLU6, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, InputLayer, Reshape, ZeroPadding2D } from '../../nn/core.js';
import { Arithmetic, Concatenate, Sigmoid, Transpose } from '../../nn/extra.js';
import type { Layer } from '../../nn/layer.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import type { Activation as ActivationKind } from '../../ops/activation.js';
import type { ArithmeticOp } from '../../ops/broadcast.js';
import { arithmeticFunction, broadcastMap } from '../../ops/broadcast.js';
import type { PaddingMode } from '../../ops/geometry.js';
import { Tensor, formatShape, sameShape, sizeOf } from '../../tensor/tensor.js';
import type { Shape } from '../../tensor/tensor.js';
import { GRAPH_OPS, UnsupportedGraphOpError } from './graph-ops.js';
import { isObject } from './keras-config.js';
import type { Json } from './keras-config.js';
import { parseTfjsModelJson } from './layers-model.js';
import { decodeWeights } from './weights-manifest.js';

export { GRAPH_OPS, UnsupportedGraphOpError };

/** TF's default `epsilon` of FusedBatchNorm and of _FusedConv2D's fused batch norm, when the attribute is absent. */
const TF_BN_EPSILON = 1e-4;

export interface TfjsGraphImportOptions {
  /** Names the file in errors. */
  source?: string;
  /** Per-sample input shape [H, W, C] where the Placeholder leaves some of it open. */
  inputShape?: Shape;
  /** The node whose output is the model's; default the signature's output, or the one node nothing reads. */
  outputNode?: string;
  /** Name of the model; default `tfjs_graph_model`. */
  name?: string;
}

export interface TfjsGraphInfo {
  inputName: string;
  outputName: string;
  /** [batch (−1: any), ...per-sample] as the Placeholder declares it. */
  inputShape: number[];
  /** How many nodes of each op the part of the graph that computes the output has. */
  operators: Record<string, number>;
  convertedBy?: string;
  generatedBy?: string;
}

export interface TfjsGraphImport {
  model: Model;
  info: TfjsGraphInfo;
  /** Manifest weights no node on the way to the output reads. */
  unusedWeights: string[];
  userDefinedMetadata?: Json;
}

interface GraphNode {
  name: string;
  op: string;
  /** Data inputs as [node, output index]; control inputs (`^name`) dropped. */
  inputs: [string, number][];
  attr: Json;
}

/** A value computed from the input: our symbol, per-sample shape (no batch axis), NHWC as TF. */
interface Activation {
  kind: 'activation';
  symbol: SymbolicTensor;
}

interface Constant {
  kind: 'constant';
  tensor: Tensor;
}

type Value = Activation | Constant;

/**
 * Builds our model from a TF.js graph model: `modelJson` (bytes, text or parsed) and its shards (path → bytes).
 * Only the nodes the output depends on are converted; an op outside GRAPH_OPS is an UnsupportedGraphOpError.
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
  const output = options.outputNode ?? signatureOutput(json, nodes, source);
  const importer = new GraphImporter(nodes, weights, source, options);
  const { model, info } = importer.build(output);
  Object.assign(info, { convertedBy: json.convertedBy ?? undefined, generatedBy: json.generatedBy });
  model.metadata = { importedFrom: { format: 'tfjs-graph', source, convertedBy: json.convertedBy ?? null } };
  return { model, info, unusedWeights: [...weights.keys()].filter((k) => !importer.usedWeights.has(k)), userDefinedMetadata: json.userDefinedMetadata };
}

/** Checks the GraphDef's node list: names unique, ops and inputs strings. */
export function parseGraphNodes(topology: Json, source: string): Map<string, GraphNode> {
  if (!Array.isArray(topology.node)) throw new FormatError(`${source}: modelTopology has no node list (is this a TF.js graph model?)`);
  if (isObject(topology.library) && Array.isArray(topology.library.function) && topology.library.function.length > 0) {
    throw new UnsupportedGraphOpError(source, 'library', 'modelTopology.library', 'graphs with functions (control flow) are not supported');
  }
  const nodes = new Map<string, GraphNode>();
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

/** The output node: the signature's one output, else the one node no other node reads (Const nodes aside). */
function signatureOutput(json: { signature?: Json; userDefinedMetadata?: Json }, nodes: Map<string, GraphNode>, source: string): string {
  const signature = json.signature ?? (isObject(json.userDefinedMetadata?.signature) ? json.userDefinedMetadata.signature : undefined);
  const outputs = isObject(signature?.outputs) ? Object.keys(signature.outputs) : [];
  if (outputs.length > 1) throw new ConfigError(`${source}: the signature has ${outputs.length} outputs (${outputs.join(', ')}); name one as the output node`);
  if (outputs.length === 1) return outputs[0].replace(/:\d+$/, '');
  const read = new Set([...nodes.values()].flatMap((n) => n.inputs.map(([name]) => name)));
  const sinks = [...nodes.values()].filter((n) => !read.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp');
  if (sinks.length !== 1) throw new ConfigError(`${source}: cannot tell the output: ${sinks.length} nodes are read by no other (${sinks.slice(0, 5).map((n) => n.name).join(', ')}); name one as the output node`);
  return sinks[0].name;
}

// ---------------------------------------------------------------------------------------------------------------

class GraphImporter {
  readonly usedWeights = new Set<string>();
  private readonly values = new Map<string, Value>();
  private readonly readers = new Map<string, GraphNode[]>();
  private readonly names = new Set<string>();
  private readonly pending: { layer: Layer; name: string; value: Tensor }[] = [];
  private readonly operators: Record<string, number> = {};
  private node: GraphNode | null = null;
  private input: { symbol: SymbolicTensor; name: string; shape: number[] } | null = null;

  constructor(
    private readonly nodes: Map<string, GraphNode>,
    private readonly weights: Map<string, Tensor>,
    private readonly source: string,
    private readonly options: TfjsGraphImportOptions,
  ) {}

  build(outputName: string): { model: Model; info: TfjsGraphInfo } {
    const order = this.topologicalOrder(outputName);
    for (const node of order) {
      for (const [name] of node.inputs) {
        const readers = this.readers.get(name);
        if (readers) readers.push(node);
        else this.readers.set(name, [node]);
      }
    }
    for (const node of order) {
      this.node = node;
      this.operators[node.op] = (this.operators[node.op] ?? 0) + 1;
      // the input's shape problems are the caller's to fix (inputShape): ConfigErrors, not the file's
      if (!this.values.has(node.name)) this.values.set(node.name, node.op === 'Placeholder' ? this.placeholder() : this.convertNamingNode(node));
    }
    this.node = null;
    const result = this.values.get(outputName)!;
    if (result.kind !== 'activation' || !this.input) throw new FormatError(`${this.source}: the output node ${JSON.stringify(outputName)} does not depend on a Placeholder input`);
    const model = new Model(this.input.symbol, result.symbol, { name: this.options.name ?? 'tfjs_graph_model' });
    for (const w of this.pending) w.layer.setParam(w.name, w.value);
    return { model, info: { inputName: this.input.name, outputName, inputShape: this.input.shape, operators: this.operators } };
  }

  /** The nodes the output depends on, each after its inputs (depth-first without recursion; a cycle is an error). */
  private topologicalOrder(outputName: string): GraphNode[] {
    const state = new Map<string, 'open' | 'done'>();
    const order: GraphNode[] = [];
    const stack: [GraphNode, number][] = [];
    const push = (name: string, from: string): void => {
      const node = this.nodes.get(name);
      if (!node) throw new FormatError(`${this.source}: ${from} reads node ${JSON.stringify(name)}, which the graph does not have`);
      if (state.get(name) === 'open') throw new FormatError(`${this.source}: the graph has a cycle through node ${JSON.stringify(name)}`);
      if (state.get(name) === 'done') return;
      state.set(name, 'open');
      stack.push([node, 0]);
    };
    push(outputName, 'the output');
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < node.inputs.length) {
        top[1]++;
        push(node.inputs[next][0], `node ${JSON.stringify(node.name)}`);
      } else {
        stack.pop();
        state.set(node.name, 'done');
        order.push(node);
      }
    }
    return order;
  }

  // -------------------------------------------------------------------------------------------------------------
  // naming, errors, attributes (TF AttrValue as JSON: int64 as strings, strings as base64)

  private unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_.\-/]/g, '_') || 'node';
    let name = clean;
    for (let k = 2; this.names.has(name); k++) name = `${clean}_${k}`;
    this.names.add(name);
    return name;
  }

  private layerName(suffix = ''): string {
    return this.unique(this.node!.name + suffix);
  }

  private unsupported(reason?: string): UnsupportedGraphOpError {
    return new UnsupportedGraphOpError(this.source, this.node!.op, this.node!.name, reason);
  }

  private invalid(message: string): FormatError {
    return new FormatError(`${this.source}: node ${JSON.stringify(this.node!.name)} (${this.node!.op}): ${message}`);
  }

  private attr(name: string): Json | undefined {
    const a = this.node!.attr[name];
    if (a === undefined) return undefined;
    if (!isObject(a)) throw this.invalid(`attribute ${name} must be an object`);
    return a;
  }

  private attrInts(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    const list = isObject(a.list) ? (a.list.i ?? []) : undefined;
    if (!Array.isArray(list)) throw this.invalid(`attribute ${name} must be a list of integers`);
    const ints = list.map(Number);
    if (!ints.every(Number.isSafeInteger)) throw this.invalid(`attribute ${name} must be a list of integers, got ${JSON.stringify(list)}`);
    return ints;
  }

  private attrString(name: string): string | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (typeof a.s !== 'string') throw this.invalid(`attribute ${name} must be a string`);
    return this.base64(a.s, name);
  }

  private attrStrings(name: string): string[] {
    const a = this.attr(name);
    if (!a) return [];
    const list = isObject(a.list) ? (a.list.s ?? []) : undefined;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw this.invalid(`attribute ${name} must be a list of strings`);
    return list.map((s) => this.base64(s, name));
  }

  private base64(text: string, name: string): string {
    try {
      return atob(text);
    } catch {
      throw this.invalid(`attribute ${name}: ${JSON.stringify(text.slice(0, 40))} is not base64`);
    }
  }

  private attrFloat(name: string, fallback: number): number {
    const a = this.attr(name);
    if (!a || a.f === undefined) return fallback;
    const f = Number(a.f);
    if (!Number.isFinite(f)) throw this.invalid(`attribute ${name} must be a number`);
    return f;
  }

  private attrBool(name: string, fallback: boolean): boolean {
    const a = this.attr(name);
    return a && typeof a.b === 'boolean' ? a.b : fallback;
  }

  /** A [1, h, w, 1] list attribute (strides, ksize, dilations) as [h, w]. */
  private spatial(name: string, fallback: number): [number, number] {
    const v = this.attrInts(name) ?? [1, fallback, fallback, 1];
    if (v.length !== 4 || v[0] !== 1 || v[3] !== 1 || v[1] < 1 || v[2] < 1) throw this.unsupported(`${name} [${v.join(', ')}]: only [1, h, w, 1] with positive h, w is supported`);
    return [v[1], v[2]];
  }

  private checkNhwc(): void {
    const format = this.attrString('data_format') ?? 'NHWC';
    if (format !== 'NHWC') throw this.unsupported(`data_format ${format}: only NHWC is supported`);
  }

  private padding(): PaddingMode {
    const mode = this.attrString('padding') ?? 'VALID';
    if (mode === 'SAME') return 'same';
    if (mode === 'VALID') return 'valid';
    if (mode === 'EXPLICIT') {
      const p = this.attrInts('explicit_paddings') ?? [];
      if (p.length !== 8 || p[0] || p[1] || p[6] || p[7] || p.some((x) => x < 0)) throw this.unsupported(`explicit_paddings [${p.join(', ')}]: only non-negative spatial padding is supported`);
      return [p[2], p[3], p[4], p[5]];
    }
    throw this.invalid(`padding ${JSON.stringify(mode)}`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // inputs of the current node

  private value(k: number): Value {
    const ref = this.node!.inputs[k];
    if (!ref) throw this.invalid(`input ${k} is missing`);
    const [name, index] = ref;
    if (index !== 0) throw this.unsupported(`reads output ${index} of node ${JSON.stringify(name)}; only first outputs are supported`);
    return this.values.get(name)!;
  }

  private activationInput(k: number): Activation {
    const v = this.value(k);
    if (v.kind !== 'activation') throw this.unsupported(`input ${k} is a constant; this op is supported on values computed from the input`);
    return v;
  }

  private constantInput(k: number, what: string): Tensor {
    const v = this.value(k);
    if (v.kind !== 'constant') throw this.unsupported(`${what} (input ${k}) must be a constant`);
    return v.tensor;
  }

  private intsInput(k: number, what: string): number[] {
    const t = this.constantInput(k, what);
    const ints = [...t.data];
    if (!ints.every(Number.isInteger)) throw this.invalid(`${what} must be integers`);
    return ints;
  }

  private vectorInput(k: number, what: string, length: number): Float32Array {
    const t = this.constantInput(k, what);
    if (t.size !== length) throw this.invalid(`${what} has shape ${formatShape(t.shape)}, expected [${length}]`);
    return t.data;
  }

  private apply(layer: Layer, inputs: SymbolicTensor[]): Activation {
    return { kind: 'activation', symbol: layer.apply(inputs) };
  }

  private setParam(layer: Layer, name: string, value: Tensor): void {
    this.pending.push({ layer, name, value });
  }

  // -------------------------------------------------------------------------------------------------------------
  // ops

  private convertNamingNode(node: GraphNode): Value {
    return asFormatError(() => this.convert(node), (message) => this.invalid(message));
  }

  private convert(node: GraphNode): Value {
    switch (node.op) {
      case 'Const':
        return this.constNode();
      case 'Identity':
      case 'StopGradient':
        return this.value(0);
      case 'Conv2D':
      case 'FusedConv2D':
      case '_FusedConv2D':
        return this.conv(false);
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.conv(true);
      case 'FusedBatchNorm':
      case 'FusedBatchNormV2':
      case 'FusedBatchNormV3':
        return this.batchNorm();
      case 'BiasAdd':
        this.checkNhwc();
        return this.arithmetic('add');
      case 'Add':
      case 'AddV2':
        return this.arithmetic('add');
      case 'Sub':
        return this.arithmetic('sub');
      case 'Mul':
        return this.arithmetic('mul');
      case 'RealDiv':
        return this.arithmetic('div');
      case 'Relu':
        return this.activationOp('relu');
      case 'Relu6':
        return this.activationOp('relu6');
      case 'Sigmoid':
        return this.apply(new Sigmoid(this.layerName()), [this.activationInput(0).symbol]);
      case 'AvgPool':
      case 'MaxPool':
        return this.pool(node.op === 'AvgPool');
      case 'Mean':
      case 'Max':
        return this.reduce(node.op === 'Mean');
      case 'Reshape':
        return this.reshape(this.intsInput(1, 'shape'));
      case 'Squeeze':
        return this.squeeze();
      case 'MatMul':
      case '_FusedMatMul':
        return this.matmul();
      case 'Softmax':
        return this.apply(new Softmax(this.layerName()), [this.activationInput(0).symbol]);
      case 'Pad':
      case 'PadV2':
        return this.pad();
      case 'ConcatV2':
        return this.concat();
      case 'Transpose':
        return this.transpose();
      default:
        throw this.unsupported(`supported ops: ${GRAPH_OPS.join(', ')}`);
    }
  }

  private placeholder(): Value {
    const node = this.node!;
    if (this.input) throw this.unsupported(`a second input (the first is ${JSON.stringify(this.input.name)}); only single-input models are supported`);
    const dtype = this.attr('dtype')?.type;
    if (dtype !== undefined && dtype !== 'DT_FLOAT') throw this.unsupported(`input of type ${String(dtype)}; only DT_FLOAT inputs are supported`);
    const shapeAttr = this.attr('shape')?.shape;
    const dims = isObject(shapeAttr) && Array.isArray(shapeAttr.dim) ? shapeAttr.dim.map((d) => (isObject(d) ? Number(d.size ?? -1) : NaN)) : [];
    if (dims.some((d) => !Number.isInteger(d))) throw this.invalid(`shape ${JSON.stringify(shapeAttr)} is not a list of sizes`);
    const given = this.options.inputShape;
    if (dims.length === 0 && !given) throw new ConfigError(`${this.source}: input ${JSON.stringify(node.name)} declares no shape; pass inputShape`);
    const rank = dims.length || (given ? given.length + 1 : 0);
    if (given && (given.length !== rank - 1 || given.some((d, i) => dims[i + 1] !== undefined && dims[i + 1] > 0 && dims[i + 1] !== d))) {
      throw new ConfigError(`${this.source}: inputShape ${formatShape(given)} does not fit input ${JSON.stringify(node.name)} [${dims.join(', ')}]`);
    }
    const sample = Array.from({ length: rank - 1 }, (_, i) => (dims[i + 1] !== undefined && dims[i + 1] > 0 ? dims[i + 1] : given?.[i]));
    if (sample.some((d) => d === undefined || !Number.isInteger(d) || d < 1)) {
      throw new ConfigError(`${this.source}: input ${JSON.stringify(node.name)} has shape [${dims.join(', ')}]: every axis after the batch must be known; pass inputShape`);
    }
    const symbol = new InputLayer(this.unique(node.name), sample as number[]).apply([]);
    this.input = { symbol, name: node.name, shape: [dims[0] ?? -1, ...(sample as number[])] };
    return { kind: 'activation', symbol };
  }

  private constNode(): Value {
    const name = this.node!.name;
    const tensor = this.weights.get(name);
    if (!tensor) throw this.invalid('the weights manifest has no weight of this name (inline constants are not supported)');
    this.usedWeights.add(name);
    return { kind: 'constant', tensor };
  }

  /** Conv2D / DepthwiseConv2dNative and their fused forms (BiasAdd or FusedBatchNorm, then Relu or Relu6). */
  private conv(depthwise: boolean): Value {
    this.checkNhwc();
    const x = this.activationInput(0);
    const filter = this.constantInput(1, 'filter');
    if (filter.rank !== 4) throw this.invalid(`filter has shape ${formatShape(filter.shape)}; expected [h, w, in, out]`);
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const channels = x.symbol.shape[2];
    if (x.symbol.shape.length !== 3 || cin !== channels) throw this.invalid(`filter ${formatShape(filter.shape)} does not fit input [N, ${x.symbol.shape.join(', ')}]`);
    const out = depthwise ? channels * cout : cout;
    const fused = this.fusedOps();
    const tail = fused.batchNorm ? { bias: null, activation: 'linear' as const, aliases: [] } : this.followers(out, fused.bias ? this.vectorInput(2, 'bias', out) : null, fused.activation);
    const options = { kernelSize: [kh, kw] as [number, number], strides: this.spatial('strides', 1), dilations: this.spatial('dilations', 1), padding: this.padding(), useBias: tail.bias !== null, activation: tail.activation };
    const name = this.layerName();
    const layer = depthwise ? new DepthwiseConv2D(name, { ...options, depthMultiplier: cout }) : new Conv2D(name, { ...options, filters: cout });
    const y = this.alias(this.apply(layer, [x.symbol]), tail.aliases);
    this.setParam(layer, depthwise ? 'depthwise_kernel' : 'kernel', depthwise ? new Tensor([kh, kw, 1, out], filter.data) : filter);
    if (tail.bias) this.setParam(layer, 'bias', new Tensor([out], tail.bias));
    if (!fused.batchNorm) return y;
    // FusedBatchNorm inside the conv: a BatchNormalization of ours follows it (the fusions fold it back)
    const bn = new BatchNormalization(this.layerName('_bn'), { epsilon: this.attrFloat('epsilon', TF_BN_EPSILON) });
    const z = this.apply(bn, [y.symbol]);
    (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => this.setParam(bn, p, new Tensor([out], this.vectorInput(2 + i, p, out))));
    if (fused.activation === 'linear') return z;
    const act = this.layerName(`_${fused.activation}`);
    return this.apply(fused.activation === 'relu' ? new ReLU(act) : new ReLU6(act), [z.symbol]);
  }

  /** The `fused_ops` of a _Fused* node: a BiasAdd (or FusedBatchNorm) and an optional Relu or Relu6. */
  private fusedOps(): { bias: boolean; batchNorm: boolean; activation: ActivationKind } {
    const ops = this.attrStrings('fused_ops');
    if (ops.length === 0) return { bias: false, batchNorm: false, activation: 'linear' };
    const [first, second, ...rest] = ops;
    if (rest.length > 0 || (first !== 'BiasAdd' && first !== 'FusedBatchNorm')) throw this.unsupported(`fused_ops [${ops.join(', ')}]: supported are BiasAdd or FusedBatchNorm, then Relu or Relu6`);
    const activation: ActivationKind = second === undefined ? 'linear' : second === 'Relu' ? 'relu' : second === 'Relu6' ? 'relu6' : (() => { throw this.unsupported(`fused activation ${second}: only Relu and Relu6 are supported`); })();
    const args = this.node!.inputs.length - 2;
    const expected = first === 'BiasAdd' ? 1 : 4;
    if (args !== expected) throw this.invalid(`fused ${first} needs ${expected} argument input(s), the node has ${args}`);
    return { bias: first === 'BiasAdd', batchNorm: first === 'FusedBatchNorm', activation };
  }

  /**
   * What a conv or dense with `channels` outputs can take from the nodes after it, each the sole reader of the one
   * before: a BiasAdd/Add of a per-channel Const (when it has no bias yet), then a Relu or Relu6 (when it has no
   * activation yet). One layer then does all, as the fusions and the fast backend like it; the nodes taken alias its output.
   */
  private followers(channels: number, bias: Float32Array | null, activation: ActivationKind): { bias: Float32Array | null; activation: ActivationKind; aliases: string[] } {
    const aliases: string[] = [];
    let last = this.node!.name;
    const next = (): GraphNode | undefined => {
      const readers = this.readers.get(last) ?? [];
      return readers.length === 1 ? readers[0] : undefined;
    };
    const add = next();
    // an NCHW BiasAdd stays a node of its own, to be refused as such
    const nhwc = (node: GraphNode): boolean => !isObject(node.attr.data_format) || node.attr.data_format.s === btoa('NHWC');
    if (!bias && activation === 'linear' && add && ['BiasAdd', 'Add', 'AddV2'].includes(add.op) && add.inputs.length === 2 && nhwc(add)) {
      const other = add.inputs.find(([name]) => name !== last);
      const node = other && other[1] === 0 ? this.nodes.get(other[0]) : undefined;
      const value = node?.op === 'Const' ? this.weights.get(node.name) : undefined;
      if (value && value.size === channels && value.shape.at(-1) === channels) {
        this.usedWeights.add(node!.name);
        bias = value.data;
        aliases.push(add.name);
        last = add.name;
      }
    }
    const relu = next();
    if (activation === 'linear' && relu && (relu.op === 'Relu' || relu.op === 'Relu6')) {
      activation = relu.op === 'Relu' ? 'relu' : 'relu6';
      aliases.push(relu.name);
    }
    return { bias, activation, aliases };
  }

  /** Makes the nodes `names` (taken into the layer that computes `y`) stand for `y`. */
  private alias(y: Activation, names: string[]): Activation {
    for (const name of names) this.values.set(name, y);
    return y;
  }

  private batchNorm(): Value {
    this.checkNhwc();
    if (this.attrBool('is_training', false)) throw this.unsupported('is_training = true: only inference batch normalization is supported');
    const x = this.activationInput(0);
    const channels = x.symbol.shape.at(-1)!;
    const layer = new BatchNormalization(this.layerName(), { epsilon: this.attrFloat('epsilon', TF_BN_EPSILON) });
    const y = this.apply(layer, [x.symbol]);
    (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => this.setParam(layer, p, new Tensor([channels], this.vectorInput(1 + i, p, channels))));
    return y;
  }

  private activationOp(kind: 'relu' | 'relu6'): Value {
    const x = this.activationInput(0);
    const name = this.layerName();
    return this.apply(kind === 'relu' ? new ReLU(name) : new ReLU6(name), [x.symbol]);
  }

  /** Add, Sub, Mul, RealDiv, BiasAdd: two activations, an activation and a constant, or two constants (folded). */
  private arithmetic(op: ArithmeticOp): Value {
    const a = this.value(0);
    const b = this.value(1);
    if (a.kind === 'constant' && b.kind === 'constant') {
      const r = broadcastMap(a.tensor.shape, a.tensor.data, b.tensor.shape, b.tensor.data, arithmeticFunction(op), (n) => new Float32Array(n));
      return { kind: 'constant', tensor: new Tensor(r.shape, r.data) };
    }
    if (a.kind === 'activation' && b.kind === 'activation') {
      const name = this.layerName();
      if (op === 'add' && sameShape(a.symbol.shape, b.symbol.shape)) return this.apply(new Add(name), [a.symbol, b.symbol]);
      return this.apply(new Arithmetic(name, op), [a.symbol, b.symbol]);
    }
    const [x, c, side] = a.kind === 'activation' ? [a, (b as Constant).tensor, 'right' as const] : [b as Activation, a.tensor, 'left' as const];
    const rank = x.symbol.shape.length + 1;
    if (c.rank > rank || (c.rank === rank && c.shape[0] !== 1)) throw this.unsupported(`a constant of shape ${formatShape(c.shape)} would broadcast over the batch axis of [N, ${x.symbol.shape.join(', ')}]`);
    const value = c.rank === rank ? new Tensor(c.shape.slice(1), c.data) : c;
    return this.apply(new Arithmetic(this.layerName(), op, { value, side }), [x.symbol]);
  }

  private pool(average: boolean): Value {
    this.checkNhwc();
    const x = this.activationInput(0);
    const name = this.layerName();
    const options = { poolSize: this.spatial('ksize', 1), strides: this.spatial('strides', 1), padding: this.padding() };
    return this.apply(average ? new AveragePooling2D(name, options) : new MaxPooling2D(name, options), [x.symbol]);
  }

  /** Mean or Max over the spatial axes of an image: global pooling. */
  private reduce(mean: boolean): Value {
    const x = this.activationInput(0);
    const axes = this.intsInput(1, 'reduction_indices').map((a) => (a < 0 ? a + 4 : a)).sort((p, q) => p - q);
    if (x.symbol.shape.length !== 3 || axes.join() !== '1,2') throw this.unsupported(`axes [${axes.join(', ')}] of a rank-${x.symbol.shape.length + 1} value: only the spatial axes [1, 2] of an image (global pooling) are supported`);
    const keepDims = this.attrBool('keep_dims', false);
    const name = this.layerName();
    return this.apply(mean ? new GlobalAveragePooling2D(name, keepDims) : new GlobalMaxPooling2D(name, keepDims), [x.symbol]);
  }

  /** Reshape to `shape` (batch axis first: −1 or the batch; one other −1 inferred). */
  private reshape(shape: number[]): Value {
    const x = this.activationInput(0);
    const size = sizeOf(x.symbol.shape);
    if (shape.length < 1) throw this.invalid('shape must keep the batch axis');
    const target = shape.slice(1);
    const known = target.filter((d) => d !== -1);
    if (target.length - known.length > 1 || known.some((d) => d < 0)) throw this.invalid(`shape [${shape.join(', ')}]`);
    const resolved = target.map((d) => (d === -1 ? size / sizeOf(known) : d));
    if (sizeOf(resolved) !== size || !resolved.every(Number.isInteger)) throw this.invalid(`cannot reshape [N, ${x.symbol.shape.join(', ')}] to [${shape.join(', ')}]${shape[0] !== -1 ? ' (the first axis must stay the batch)' : ''}`);
    if (sameShape(resolved, x.symbol.shape)) return x;
    return this.apply(new Reshape(this.layerName(), resolved), [x.symbol]);
  }

  private squeeze(): Value {
    const x = this.activationInput(0);
    const full = [NaN, ...x.symbol.shape];
    const dims = (this.attrInts('squeeze_dims') ?? []).map((d) => (d < 0 ? d + full.length : d));
    if (dims.includes(0)) throw this.unsupported('squeezing the batch axis');
    const drop = dims.length > 0 ? dims : full.map((d, i) => (d === 1 ? i : -1)).filter((i) => i > 0);
    if (drop.some((d) => full[d] !== 1)) throw this.invalid(`squeeze_dims [${dims.join(', ')}] name axes of [N, ${x.symbol.shape.join(', ')}] that are not 1`);
    return this.reshape([-1, ...full.slice(1).filter((_, i) => !drop.includes(i + 1))]);
  }

  /** MatMul of an activation [N, K] by a constant [K, M] (or [M, K] with transpose_b); _FusedMatMul adds BiasAdd and Relu/Relu6. */
  private matmul(): Value {
    if (this.attrBool('transpose_a', false)) throw this.unsupported('transpose_a = true would contract over the batch axis');
    const x = this.activationInput(0);
    const b = this.constantInput(1, 'b');
    const transposeB = this.attrBool('transpose_b', false);
    const k = x.symbol.shape[0];
    if (x.symbol.shape.length !== 1 || b.rank !== 2 || b.shape[transposeB ? 1 : 0] !== k) throw this.invalid(`b ${formatShape(b.shape)}${transposeB ? ' (transposed)' : ''} does not fit a [N, ${x.symbol.shape.join(', ')}]`);
    const units = b.shape[transposeB ? 0 : 1];
    const kernel = transposeB ? Float32Array.from({ length: k * units }, (_, i) => b.data[(i % units) * k + Math.floor(i / units)]) : b.data;
    const fused = this.fusedOps();
    if (fused.batchNorm) throw this.unsupported('FusedBatchNorm inside a MatMul');
    const tail = this.followers(units, fused.bias ? this.vectorInput(2, 'bias', units) : null, fused.activation);
    const layer = new Dense(this.layerName(), { units, useBias: tail.bias !== null, activation: tail.activation });
    const y = this.alias(this.apply(layer, [x.symbol]), tail.aliases);
    this.setParam(layer, 'kernel', new Tensor([k, units], kernel));
    if (tail.bias) this.setParam(layer, 'bias', new Tensor([units], tail.bias));
    return y;
  }

  private pad(): Value {
    const x = this.activationInput(0);
    const paddings = this.intsInput(1, 'paddings');
    if (this.node!.op === 'PadV2' && this.constantInput(2, 'constant_values').data.some((v) => v !== 0)) throw this.unsupported('a non-zero constant_values: only zero padding is supported');
    const rank = x.symbol.shape.length + 1;
    if (paddings.length !== 2 * rank) throw this.invalid(`paddings of ${paddings.length} values do not fit rank ${rank}`);
    if (paddings.some((p) => p < 0)) throw this.unsupported('negative paddings (cropping)');
    if (paddings.every((p) => p === 0)) return x;
    if (rank !== 4 || paddings[0] || paddings[1] || paddings[6] || paddings[7]) throw this.unsupported(`paddings [${paddings.join(', ')}]: only the spatial axes of an NHWC image can be padded`);
    return this.apply(new ZeroPadding2D(this.layerName(), [paddings[2], paddings[3], paddings[4], paddings[5]]), [x.symbol]);
  }

  private concat(): Value {
    const count = this.node!.inputs.length - 1;
    if (count < 1) throw this.invalid('needs values and an axis');
    const parts = Array.from({ length: count }, (_, k) => this.activationInput(k));
    const [axisValue] = this.intsInput(count, 'axis');
    const rank = parts[0].symbol.shape.length + 1;
    const axis = axisValue < 0 ? axisValue + rank : axisValue;
    if (axis === 0) throw this.unsupported('concatenation along the batch axis');
    if (axis < 0 || axis >= rank) throw this.invalid(`axis ${axisValue} is outside rank ${rank}`);
    if (count === 1) return parts[0];
    return this.apply(new Concatenate(this.layerName(), axis - 1, count), parts.map((p) => p.symbol));
  }

  private transpose(): Value {
    const x = this.activationInput(0);
    const perm = this.intsInput(1, 'perm');
    const rank = x.symbol.shape.length + 1;
    if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw this.invalid(`perm [${perm.join(', ')}] does not fit rank ${rank}`);
    if (perm[0] !== 0) throw this.unsupported(`perm [${perm.join(', ')}] moves the batch axis`);
    if (perm.every((p, i) => p === i)) return x;
    return this.apply(new Transpose(this.layerName(), perm.slice(1).map((p) => p - 1)), [x.symbol]);
  }
}
