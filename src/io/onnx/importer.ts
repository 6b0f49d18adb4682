// The ONNX importer's state over the skeleton of graph-import: initializers, readers, each value's layout (NCHW
// in the file, NHWC in our graph) and the bias folding the op converters (ops-layers.ts, ops-shapes.ts) share.

import { ConfigError, FormatError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { InputLayer, Reshape } from '../../nn/core.js';
import { Transpose } from '../../nn/extra.js';
import type { Layer } from '../../nn/layer.js';
import { formatShape, sameShape, sizeOf } from '../../tensor/tensor.js';
import { GraphImporter, safeName } from '../graph-import/importer.js';
import type { ActivationValue, ConstantValue, OpTable } from '../graph-import/importer.js';
import { UnsupportedOperatorError } from './errors.js';
import { isQuantizedOnnx } from './qdq-import.js';
import { AttributeType, DataType } from './schema.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from './schema.js';
import { int64, readTensor } from './tensors.js';
import type { HostTensor } from './tensors.js';

export interface OnnxImportOptions {
  /** Names the file in errors. */
  source?: string;
  /**
   * Bytes of an external data file, by its location relative to the model's folder (absolute locations and
   * `..` are refused before this is called). `readOnnxFile` in `mobilenet-ts/node` supplies it for files.
   */
  externalData?: (location: string) => Uint8Array;
  /** Per-sample input shape in ONNX order (e.g. [3, 224, 224]) where the file leaves some of it symbolic. */
  inputShape?: readonly number[];
  /** Name of the model; default the graph's name. */
  name?: string;
}

/** A value computed from the input at run time. Our symbolic tensor holds it in a layout that `perm` describes. */
export interface Activation extends ActivationValue {
  kind: 'activation';
  symbol: SymbolicTensor;
  /** ONNX per-sample shape (no batch axis). */
  shape: number[];
  /** Our tensor is the ONNX one with axes permuted: our axis i is ONNX per-sample axis perm[i]. */
  perm: number[];
  /**
   * A flattened value ([F]) whose elements we hold in another order: ours = flatten(transpose(onnx reshaped to
   * `shape`, `perm`)). A following Gemm permutes its weight rows instead of the data; anything else materializes.
   */
  flat: { shape: number[]; perm: number[] } | null;
  /** Symbols of this value in other layouts, made once. */
  views: Map<string, SymbolicTensor>;
}

export type Constant = ConstantValue<HostTensor>;

export type Value = Activation | Constant;

/** NCHW per sample is [C, H, W]; we hold [H, W, C]. */
export const IMAGE = [1, 2, 0];
export const identity = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
const defaultPerm = (rank: number): number[] => (rank === 3 ? IMAGE : identity(rank));
export const permuted = (shape: readonly number[], perm: readonly number[]): number[] => perm.map((i) => shape[i]);
export const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
export const inverse = (perm: readonly number[]): number[] => perm.map((_, i) => perm.indexOf(i));

export const floats = (t: HostTensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));

/** Builds our model from an ONNX graph: the layouts, initializers and bias folding the op converters share. */
export class OnnxImporter extends GraphImporter<NodeProto, Activation, HostTensor> {
  readonly opset: number;
  readonly initializers = new Map<string, TensorProto>();
  /** How many node inputs read each value (graph outputs count as a reader). */
  readonly readers = new Map<string, number>();
  private readonly readerNode = new Map<string, NodeProto>();
  /** Add nodes whose constant operand was folded into the bias of the layer before; the value their output aliases. */
  private readonly absorbed = new Map<NodeProto, string>();
  /** The graph input's batch size where the file fixes it. */
  staticBatch: number | null = null;

  constructor(
    private readonly proto: ModelProto,
    readonly options: OnnxImportOptions,
  ) {
    super(options.source ?? '<buffer>', { activationOnly: 'this operator is supported on activations computed from the graph input', constantSources: ' (an initializer or a Constant node)' });
    const defaultSet = proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    if (!defaultSet) throw new FormatError(`${this.source}: the model imports no version of the default (ai.onnx) operator set`);
    this.opset = int64(defaultSet.version, this.source);
  }

  /**
   * The model, each graph output's name and per-sample ONNX shape, and the graph input's name and shape, converting
   * through `ops`. One graph output makes a single-output model; several make a model with those named outputs.
   */
  build(ops: OpTable<OnnxImporter, Value>): { model: Model; outputs: { name: string; shape: number[] }[]; input: { name: string; shape: (number | string)[] } } {
    const graph = this.proto.graph!;
    if (isQuantizedOnnx(this.proto)) throw new FormatError(`${this.source}: a quantized ONNX graph (QDQ or QLinear operators) imports as an int8 plan: quantizedOnnxToPlan, or decodeAnyModel with { planned: true }`);
    for (const t of graph.initializer) {
      if (this.initializers.has(t.name)) throw new FormatError(`${this.source}: initializer ${JSON.stringify(t.name)} is defined twice`);
      this.initializers.set(t.name, t);
    }
    // single assignment, as the ONNX spec requires: a name redefined later would make its readers ambiguous
    const defined = new Set([...this.initializers.keys(), ...graph.input.map((i) => i.name)]);
    for (const node of graph.node) {
      for (const name of node.output) {
        if (!name) continue;
        if (defined.has(name)) throw new FormatError(`${this.source}: node ${JSON.stringify(node.name || node.opType)} (${node.opType}) defines ${JSON.stringify(name)}, which is already defined`);
        defined.add(name);
      }
    }
    for (const node of graph.node) {
      for (const name of node.input) {
        if (!name) continue;
        this.readers.set(name, (this.readers.get(name) ?? 0) + 1);
        this.readerNode.set(name, node);
      }
    }
    const outputNames = graph.output.map((o) => o.name);
    if (new Set(outputNames).size !== outputNames.length) throw new FormatError(`${this.source}: the graph names an output twice (${outputNames.join(', ')})`);
    for (const name of outputNames) this.readers.set(name, (this.readers.get(name) ?? 0) + 1);

    const { input, info } = this.graphInput();
    this.convertNodes(graph.node, ops);

    const results = outputNames.map((name, k) => {
      const result = this.values.get(name) ?? (this.initializers.has(name) ? this.constant(name) : undefined);
      if (!result) throw new FormatError(`${this.source}: no node computes the graph output ${JSON.stringify(name)}`);
      if (result.kind !== 'activation') throw new FormatError(`${this.source}: the graph output ${JSON.stringify(name)} does not depend on the input`);
      this.checkDeclaredOutput(k, result.shape);
      return { name, shape: result.shape, symbol: this.inLayout(result, defaultPerm(result.shape.length), this.unique('output_layout')) };
    });
    const outputs = results.length === 1 ? results[0].symbol : Object.fromEntries(results.map((r) => [r.name, r.symbol]));
    const model = new Model(input, outputs, { name: this.options.name ?? (safeName(graph.name) || 'onnx_model') });
    this.assignWeights();
    return { model, outputs: results.map(({ name, shape }) => ({ name, shape })), input: info };
  }

  /** The one graph input that is not an initializer: float, batch axis first, other axes known. */
  private graphInput(): { input: SymbolicTensor; info: { name: string; shape: (number | string)[] } } {
    const graph = this.proto.graph!;
    const inputs = graph.input.filter((v) => !this.initializers.has(v.name));
    if (inputs.length !== 1) throw new FormatError(`${this.source}: the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); only single-input models are supported`);
    const value = inputs[0];
    const tensorType = value.type?.tensorType;
    if (!tensorType) throw new FormatError(`${this.source}: graph input ${JSON.stringify(value.name)} is not a tensor`);
    if (tensorType.elemType !== DataType.FLOAT) throw new FormatError(`${this.source}: graph input ${JSON.stringify(value.name)} has element type ${tensorType.elemType}; only float32 (1) inputs are supported`);
    const dims = (tensorType.shape?.dim ?? []).map((d) => (d.value === 'dimValue' ? int64(d.dimValue, this.source) : d.value === 'dimParam' ? d.dimParam! : '?'));
    if (dims.length < 2) throw new FormatError(`${this.source}: graph input ${JSON.stringify(value.name)} has shape [${dims.join(', ')}]; expected a batch axis and at least one more`);
    const given = this.options.inputShape;
    if (given && (given.length !== dims.length - 1 || given.some((d, i) => typeof dims[i + 1] === 'number' && dims[i + 1] !== d))) {
      throw new ConfigError(`${this.source}: inputShape [${given.join(', ')}] does not fit the graph input [${dims.join(', ')}]`);
    }
    const shape = dims.slice(1).map((d, i) => (typeof d === 'number' && d > 0 ? d : given?.[i]));
    if (shape.some((d) => d === undefined || !Number.isInteger(d) || d < 1)) {
      throw new ConfigError(`${this.source}: graph input ${JSON.stringify(value.name)} has shape [${dims.join(', ')}]: every axis after the batch must be known; pass inputShape`);
    }
    const sample = shape as number[];
    if (typeof dims[0] === 'number' && dims[0] > 0) this.staticBatch = dims[0];
    const perm = defaultPerm(sample.length);
    const name = this.unique(safeName(value.name) || 'input');
    const symbol = new InputLayer(name, permuted(sample, perm)).apply([]);
    this.values.set(value.name, this.activation(symbol, sample, perm));
    return { input: symbol, info: { name: value.name, shape: [dims[0], ...sample] } };
  }

  /** Checks graph output `k` as computed against the shape the file declares for it, where it declares one. */
  private checkDeclaredOutput(k: number, shape: readonly number[]): void {
    const output = this.proto.graph!.output[k];
    const declared = output.type?.tensorType?.shape?.dim;
    if (!declared || declared.length === 0) return;
    const dims = declared.map((d) => (d.value === 'dimValue' ? int64(d.dimValue, this.source) : null));
    const mismatch = dims.length !== shape.length + 1 || dims.slice(1).some((d, i) => d !== null && d !== shape[i]);
    if (mismatch) throw new FormatError(`${this.source}: the graph declares output ${JSON.stringify(output.name)} of shape [${dims.map((d) => d ?? '?').join(', ')}], the nodes compute [N, ${shape.join(', ')}]`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // naming, errors, attributes

  protected opOf(node: NodeProto): string {
    return node.opType;
  }

  protected labelOf(node: NodeProto): string | undefined {
    return node.name || node.output[0];
  }

  protected outputOf(node: NodeProto): string | undefined {
    return node.output[0];
  }

  /** A fresh layer name for the current node, from its name (or first output, or op type) and a suffix. */
  layerName(suffix = ''): string {
    const node = this.node;
    const base = safeName(node.name || node.output[0] || '') || `${node.opType}_${this.nodeIndex}`;
    return this.unique(base + suffix);
  }

  unsupported(reason?: string): UnsupportedOperatorError {
    const node = this.node;
    return new UnsupportedOperatorError(this.source, node.opType, node.name || node.output[0] || `#${this.nodeIndex}`, node.domain, reason);
  }

  protected unknownOp(): UnsupportedOperatorError {
    return this.unsupported();
  }

  /** Operators of other domains are refused before their op type is looked up. */
  protected override convert(node: NodeProto, ops: OpTable<this, Value>): Value {
    if (node.domain !== '' && node.domain !== 'ai.onnx') throw this.unsupported(`operators of domain ${JSON.stringify(node.domain)} are not supported`);
    return super.convert(node, ops);
  }

  /** An Add whose constant operand was folded into the layer before it stands for that layer's output. */
  protected override given(node: NodeProto): Value | undefined {
    const alias = this.absorbed.get(node);
    return alias === undefined ? undefined : this.values.get(alias);
  }

  attribute(name: string, type: number): AttributeProto | undefined {
    const a = this.node.attribute.find((x) => x.name === name);
    if (a && a.type !== type && a.type !== AttributeType.UNDEFINED) throw this.invalid(`attribute ${name} has type ${a.type}, expected ${type}`);
    return a;
  }

  attrInt(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.INT);
    return a ? int64(a.i, `${this.source}: attribute ${name}`) : fallback;
  }

  attrFloat(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.FLOAT);
    return a ? a.f : fallback;
  }

  attrInts(name: string, fallback: number[] | null): number[] | null {
    const a = this.attribute(name, AttributeType.INTS);
    return a ? a.ints.map((v) => int64(v, `${this.source}: attribute ${name}`)) : fallback;
  }

  attrFloats(name: string, fallback: number[] | null): number[] | null {
    const a = this.attribute(name, AttributeType.FLOATS);
    return a ? [...a.floats] : fallback;
  }

  attrString(name: string, fallback: string): string {
    const a = this.attribute(name, AttributeType.STRING);
    return a ? new TextDecoder().decode(a.s) : fallback;
  }

  pair(name: string, fallback: number): [number, number] {
    const v = this.attrInts(name, [fallback, fallback])!;
    if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) throw this.unsupported(`${name} [${v.join(', ')}]: only 2-D windows with positive sizes are supported`);
    return [v[0], v[1]];
  }

  // -------------------------------------------------------------------------------------------------------------
  // inputs of the current node

  constant(name: string): Constant {
    const known = this.values.get(name);
    if (known?.kind === 'constant') return known;
    const value: Constant = { kind: 'constant', tensor: this.readTensor(this.initializers.get(name)!, `${this.source}: initializer ${JSON.stringify(name)}`) };
    this.values.set(name, value);
    return value;
  }

  /** A TensorProto's values, external data read through the caller's `externalData`. */
  readTensor(t: TensorProto, what: string): HostTensor {
    return readTensor(t, this.options.externalData ? { source: this.source, externalData: this.options.externalData } : { source: this.source }, what);
  }

  input(k: number): Value | undefined {
    const name = this.node.input[k];
    if (!name) return undefined;
    const value = this.values.get(name);
    if (value) return value;
    if (this.initializers.has(name)) return this.constant(name);
    throw this.invalid(`input ${JSON.stringify(name)} is not computed by any earlier node, initializer or graph input`);
  }

  scalarInput(k: number, what: string): number {
    const t = this.constantInput(k, what);
    if (t.data.length !== 1) throw this.invalid(`${what} must be a scalar, got shape [${t.shape.join(', ')}]`);
    return t.data[0];
  }

  intsInput(k: number, what: string): number[] {
    const t = this.constantInput(k, what);
    if (t.dtype !== 'int') throw this.invalid(`${what} must be integers`);
    return [...t.data];
  }

  // -------------------------------------------------------------------------------------------------------------
  // building layers and layouts

  activation(symbol: SymbolicTensor, shape: number[], perm: number[], flat: Activation['flat'] = null): Activation {
    const expected = flat ? [sizeOf(shape)] : permuted(shape, perm);
    if (!sameShape(symbol.shape, expected)) throw new ConfigError(`ONNX import: internal layout mismatch at ${symbol.name}: ${formatShape(symbol.shape)} vs ${formatShape(expected)}`);
    return { kind: 'activation', symbol, shape, perm, flat, views: new Map() };
  }

  apply(layer: Layer, inputs: SymbolicTensor[]): SymbolicTensor {
    return layer.apply(inputs);
  }

  /** torchvision-style prefix of a layer from its weight initializer's name (`features.0.0.weight` → `features.0.0`). */
  torchNameFrom(layer: Layer, k: number): void {
    const name = this.node.input[k];
    if (name && this.initializers.has(name) && /^[A-Za-z0-9_.]+\.weight$/.test(name)) layer.torchName = name.slice(0, -'.weight'.length);
  }

  /** The value held as ONNX-order elements flattened: a flat value with permuted elements becomes one with ONNX order. */
  materialize(v: Activation, base: string): Activation {
    if (!v.flat) return v;
    const cached = v.views.get('materialized');
    const size = sizeOf(v.shape);
    if (cached) return this.activation(cached, v.shape, [0]);
    const { shape, perm } = v.flat;
    const unflat = this.apply(new Reshape(this.unique(`${base}_unflatten`), permuted(shape, perm)), [v.symbol]);
    const ordered = this.apply(new Transpose(this.unique(`${base}_onnx_order`), inverse(perm)), [unflat]);
    const symbol = this.apply(new Reshape(this.unique(`${base}_flatten`), [size]), [ordered]);
    v.views.set('materialized', symbol);
    return this.activation(symbol, v.shape, [0]);
  }

  /** The value's symbol in layout `perm` (our axis i = ONNX per-sample axis perm[i]), transposing once if needed. */
  inLayout(value: Activation, perm: readonly number[], base: string): SymbolicTensor {
    const v = this.materialize(value, base);
    if (samePerm(v.perm, perm)) return v.symbol;
    const key = perm.join(',');
    const cached = value.views.get(key);
    if (cached) return cached;
    const relative = perm.map((p) => v.perm.indexOf(p));
    const symbol = this.apply(new Transpose(this.unique(`${base}_transpose`), relative), [v.symbol]);
    value.views.set(key, symbol);
    return symbol;
  }

  /** The image (NCHW) activation at input k, for convolution and pooling. */
  imageInput(k: number): Activation {
    const x = this.activationInput(k);
    if (x.shape.length !== 3) throw this.unsupported(`only 2-D (NCHW) activations are supported here, got rank ${x.shape.length + 1} [N, ${x.shape.join(', ')}]`);
    return x;
  }

  /**
   * A per-channel constant that the single reader of this node's output adds (`Add(y, c)`, as TF exporters and
   * MatMul-based Linear layers write it): folded into this layer's bias, that Add then aliases our output.
   */
  absorbBias(channels: number, rank: number): Float32Array | null {
    const out = this.node.output[0];
    if (this.readers.get(out) !== 1) return null;
    const next = this.readerNode.get(out);
    if (!next || next.opType !== 'Add' || (next.domain !== '' && next.domain !== 'ai.onnx') || next.input.length !== 2 || next.input[0] === next.input[1]) return null;
    const otherName = next.input[0] === out ? next.input[1] : next.input[0];
    const other = this.values.get(otherName) ?? (this.initializers.has(otherName) ? this.constant(otherName) : undefined);
    if (other?.kind !== 'constant' || other.tensor.dtype !== 'float' || other.tensor.shape.length > rank) return null;
    const shape = [...new Array<number>(rank - other.tensor.shape.length).fill(1), ...other.tensor.shape];
    if (shape.some((d, i) => (i === 1 ? d !== channels && d !== 1 : d !== 1))) return null;
    const bias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) bias[c] = other.tensor.data[shape[1] === 1 ? 0 : c];
    this.absorbed.set(next, out);
    return bias;
  }
}
