// The TF.js graph-model importer's state over the skeleton of graph-import: the GraphDef's nodes, the weights by
// node name, the node order, the input Placeholder and the attribute decoding (TF AttrValue as JSON).

import { ConfigError, FormatError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { InputLayer } from '../../nn/core.js';
import type { Layer } from '../../nn/layer.js';
import type { PaddingMode } from '../../ops/geometry.js';
import { formatShape } from '../../tensor/tensor.js';
import type { Shape, Tensor } from '../../tensor/tensor.js';
import { GraphImporter, formatDims, safeName } from '../graph-import/importer.js';
import type { ActivationValue, ConstantValue, OpTable } from '../graph-import/importer.js';
import { GRAPH_OPS, UnsupportedGraphOpError } from './graph-ops.js';
import { isObject } from './keras-config.js';
import type { Json } from './keras-config.js';

export interface TfjsGraphImportOptions {
  /** Names the file in errors. */
  source?: string;
  /** Per-sample input shape [H, W, C] where the Placeholder leaves some of it open. */
  inputShape?: Shape;
  /** The node whose output is the model's; default the signature's outputs, or the nodes nothing reads. */
  outputNode?: string;
  /** Several nodes whose outputs are the model's, named by node (a detector's scores and boxes); instead of `outputNode`. */
  outputNodes?: readonly string[];
  /** Name of the model; default `tfjs_graph_model`. */
  name?: string;
}

export interface TfjsGraphInfo {
  inputName: string;
  /** The first (often the only) output node; `outputNames` has each. */
  outputName: string;
  /** The output nodes, in order: the model's output names where there are several. */
  outputNames: string[];
  /** [batch (−1: any), ...per-sample] as the Placeholder declares it. */
  inputShape: number[];
  /** How many nodes of each op the part of the graph that computes the output has. */
  operators: Record<string, number>;
  convertedBy?: string;
  generatedBy?: string;
}

/** A node of the GraphDef (TF's NodeDef), checked. */
export interface NodeDef {
  name: string;
  op: string;
  /** Data inputs as [node, output index]; control inputs (`^name`) dropped. */
  inputs: [string, number][];
  attr: Json;
}

/**
 * Where a value's batch is in TF's shape: `lead`, a first axis of its own (TF's shape is [N, ...ours]), or folded into
 * axis `fold` as its outer factor by a Reshape to [−1, …] (TF's shape is ours with that axis N times longer).
 */
export type BatchAxis = 'lead' | { fold: number };

/** A value computed from the input: our symbol, per-sample shape, NHWC as TF; `batch` absent is `lead`. */
export interface Activation extends ActivationValue {
  kind: 'activation';
  symbol: SymbolicTensor;
  batch?: BatchAxis;
}

/** A constant; `batch` where Tile repeated it over the batch (then `tensor` is one repeat, laid out as an activation's symbol). */
export interface Constant extends ConstantValue<Tensor> {
  batch?: BatchAxis;
}

export type Value = Activation | Constant;

/** The ops that take values whose batch axis is not a plain first axis (graph-batch.ts): what TF's box decoding uses. */
const BATCH_AWARE = new Set(['Identity', 'Reshape', 'Transpose', 'Squeeze', 'ExpandDims', 'Slice', 'StridedSlice', 'Split', 'SplitV', 'Unpack', 'Pack', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Exp', 'Sigmoid']);

/** Builds our model from the nodes the output depends on, converting each through the op table. */
export class TfjsImporter extends GraphImporter<NodeDef, Activation, Tensor> {
  readonly usedWeights = new Set<string>();
  /** The nodes that read each node's output, among those converted. */
  readonly readers = new Map<string, NodeDef[]>();
  private graphInput: { symbol: SymbolicTensor; name: string; shape: number[] } | null = null;

  constructor(
    readonly nodes: Map<string, NodeDef>,
    readonly weights: Map<string, Tensor>,
    source: string,
    private readonly options: TfjsGraphImportOptions,
  ) {
    super(source, { activationOnly: 'this op is supported on values computed from the input', constantSources: '' });
  }

  /** The model computing `outputNames` (one: a single-output model; several: outputs named by node). */
  build(outputNames: readonly string[], ops: OpTable<TfjsImporter, Value>): { model: Model; info: TfjsGraphInfo } {
    const order = this.topologicalOrder(outputNames);
    for (const node of order) {
      for (const [name] of node.inputs) {
        const readers = this.readers.get(name);
        if (readers) readers.push(node);
        else this.readers.set(name, [node]);
      }
    }
    this.convertNodes(order, ops);
    const symbols = outputNames.map((name) => {
      const result = this.values.get(name)!;
      if (result.kind !== 'activation' || !this.graphInput) throw new FormatError(`${this.source}: the output node ${JSON.stringify(name)} does not depend on a Placeholder input`);
      if (result.batch && result.batch !== 'lead') throw new UnsupportedGraphOpError(this.source, this.nodes.get(name)!.op, name, 'an output whose batch is folded into another axis (reshape it to [batch, …] first)');
      return result.symbol;
    });
    const outputs = symbols.length === 1 ? symbols[0] : Object.fromEntries(outputNames.map((name, k) => [name, symbols[k]]));
    const model = new Model(this.graphInput!.symbol, outputs, { name: this.options.name ?? 'tfjs_graph_model' });
    this.assignWeights();
    return { model, info: { inputName: this.graphInput!.name, outputName: outputNames[0], outputNames: [...outputNames], inputShape: this.graphInput!.shape, operators: this.operators } };
  }

  /** The nodes the outputs depend on, each after its inputs (depth-first without recursion; a cycle is an error). */
  private topologicalOrder(outputNames: readonly string[]): NodeDef[] {
    const state = new Map<string, 'open' | 'done'>();
    const order: NodeDef[] = [];
    const stack: [NodeDef, number][] = [];
    const push = (name: string, from: string): void => {
      const node = this.nodes.get(name);
      if (!node) throw new FormatError(`${this.source}: ${from} reads node ${JSON.stringify(name)}, which the graph does not have`);
      if (state.get(name) === 'open') throw new FormatError(`${this.source}: the graph has a cycle through node ${JSON.stringify(name)}`);
      if (state.get(name) === 'done') return;
      state.set(name, 'open');
      stack.push([node, 0]);
    };
    for (const name of outputNames) {
      push(name, 'the output');
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
    }
    return order;
  }

  // -------------------------------------------------------------------------------------------------------------
  // naming, errors, attributes (TF AttrValue as JSON: int64 as strings, strings as base64)

  protected opOf(node: NodeDef): string {
    return node.op;
  }

  protected labelOf(node: NodeDef): string {
    return node.name;
  }

  protected outputOf(node: NodeDef): string {
    return node.name;
  }

  /** Node names made safe for layer names, then unique. */
  override unique(base: string): string {
    return super.unique(safeName(base) || 'node');
  }

  layerName(suffix = ''): string {
    return this.unique(this.node.name + suffix);
  }

  unsupported(reason?: string): UnsupportedGraphOpError {
    return new UnsupportedGraphOpError(this.source, this.node.op, this.node.name, reason);
  }

  protected unknownOp(): UnsupportedGraphOpError {
    return this.unsupported(`supported ops: ${GRAPH_OPS.join(', ')}`);
  }

  /** A node a conv or dense took into its layer stands for that layer's output; a Placeholder is the input. */
  protected override given(node: NodeDef): Value | undefined {
    return this.values.get(node.name) ?? (node.op === 'Placeholder' ? this.placeholder() : undefined);
  }

  attr(name: string): Json | undefined {
    const a = this.node.attr[name];
    if (a === undefined) return undefined;
    if (!isObject(a)) throw this.invalid(`attribute ${name} must be an object`);
    return a;
  }

  attrInts(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    const list = isObject(a.list) ? (a.list.i ?? []) : undefined;
    if (!Array.isArray(list)) throw this.invalid(`attribute ${name} must be a list of integers`);
    const ints = list.map(Number);
    if (!ints.every(Number.isSafeInteger)) throw this.invalid(`attribute ${name} must be a list of integers, got ${JSON.stringify(list)}`);
    return ints;
  }

  attrString(name: string): string | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    if (typeof a.s !== 'string') throw this.invalid(`attribute ${name} must be a string`);
    return this.base64(a.s, name);
  }

  attrStrings(name: string): string[] {
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

  attrFloat(name: string, fallback: number): number {
    const a = this.attr(name);
    if (!a || a.f === undefined) return fallback;
    const f = Number(a.f);
    if (!Number.isFinite(f)) throw this.invalid(`attribute ${name} must be a number`);
    return f;
  }

  attrInt(name: string, fallback: number): number {
    const a = this.attr(name);
    if (!a || a.i === undefined) return fallback;
    const i = Number(a.i);
    if (!Number.isSafeInteger(i)) throw this.invalid(`attribute ${name} must be an integer, got ${JSON.stringify(a.i)}`);
    return i;
  }

  attrBool(name: string, fallback: boolean): boolean {
    const a = this.attr(name);
    return a && typeof a.b === 'boolean' ? a.b : fallback;
  }

  /** A [1, h, w, 1] list attribute (strides, ksize, dilations) as [h, w]. */
  spatial(name: string, fallback: number): [number, number] {
    const v = this.attrInts(name) ?? [1, fallback, fallback, 1];
    if (v.length !== 4 || v[0] !== 1 || v[3] !== 1 || v[1] < 1 || v[2] < 1) throw this.unsupported(`${name} [${v.join(', ')}]: only [1, h, w, 1] with positive h, w is supported`);
    return [v[1], v[2]];
  }

  checkNhwc(): void {
    const format = this.attrString('data_format') ?? 'NHWC';
    if (format !== 'NHWC') throw this.unsupported(`data_format ${format}: only NHWC is supported`);
  }

  padding(): PaddingMode {
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

  input(k: number): Value | undefined {
    const ref = this.node.inputs[k];
    if (!ref) return undefined;
    const [name, index] = ref;
    // later outputs of ops with several (Split, Unpack) are stored as `name:index`
    const value = this.values.get(index === 0 ? name : `${name}:${index}`) as Value | undefined;
    if (!value) throw this.unsupported(`reads output ${index} of node ${JSON.stringify(name)} (${this.nodes.get(name)?.op}), which gives one output here`);
    const batch = value.kind === 'constant' ? value.batch : value.batch && value.batch !== 'lead' ? value.batch : undefined;
    if (batch && !BATCH_AWARE.has(this.node.op)) throw this.unsupported(`input ${k} ${batch === 'lead' ? 'is a constant repeated over the batch (Tile)' : 'has the batch folded into another axis (a Reshape to [-1, …])'}; only the ops of box decoding take such values`);
    return value;
  }

  /** A constant of integers; where `batch` is given, a batch size at position 0 (NaN, from Shape) reads as it. */
  intsInput(k: number, what: string, batch?: number): number[] {
    const t = this.constantInput(k, what);
    const ints = [...t.data];
    if (batch !== undefined && Number.isNaN(ints[0])) ints[0] = batch;
    // the batch size is NaN in folded shapes (see graph-shapes.ts)
    if (ints.some(Number.isNaN)) throw this.unsupported(`${what} ${formatDims(ints)} depends on the batch size, known only at run time`);
    if (!ints.every(Number.isInteger)) throw this.invalid(`${what} must be integers`);
    return ints;
  }

  vectorInput(k: number, what: string, length: number): Float32Array {
    const t = this.constantInput(k, what);
    if (t.size !== length) throw this.invalid(`${what} has shape ${formatShape(t.shape)}, expected [${length}]`);
    return t.data;
  }

  apply(layer: Layer, inputs: SymbolicTensor[]): Activation {
    return { kind: 'activation', symbol: layer.apply(inputs) };
  }

  /** The Placeholder: the model's input; its shape problems are the caller's to fix (inputShape): ConfigErrors, not the file's. */
  private placeholder(): Value {
    const node = this.node;
    if (this.graphInput) throw this.unsupported(`a second input (the first is ${JSON.stringify(this.graphInput.name)}); only single-input models are supported`);
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
    this.graphInput = { symbol, name: node.name, shape: [dims[0] ?? -1, ...(sample as number[])] };
    return { kind: 'activation', symbol };
  }
}
