// ONNX import: a ModelProto (NCHW activations, batch axis first) becomes our functional graph (NHWC per-sample
// shapes). Each value's layout is tracked, so transposes and flattens cost nothing where a weight permutation can do.

import { ConfigError, FormatError, MobileNetError, asFormatError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { ReLU, ReLU6, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, Flatten, InputLayer, Reshape, ZeroPadding2D } from '../../nn/core.js';
import { Arithmetic, Clip, Concatenate, HardSigmoid, HardSwish, Sigmoid, Transpose } from '../../nn/extra.js';
import type { Layer } from '../../nn/layer.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import { referenceBackend } from '../../backend/reference.js';
import type { ArithmeticOp } from '../../ops/broadcast.js';
import { arithmeticFunction, broadcastMap, broadcastShape } from '../../ops/broadcast.js';
import type { Padding4 } from '../../ops/geometry.js';
import { Tensor, formatShape, sameShape, sizeOf, transpose } from '../../tensor/tensor.js';
import { UnsupportedOperatorError } from './errors.js';
import { AttributeType, DataType, EXTERNAL_DATA, modelProtoType } from './schema.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from './schema.js';
import { concatHost, matmulHost, permuteHost, sourceIndex } from './host.js';
import { externalReference, int64, readTensor } from './tensors.js';
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

export interface OnnxModelInfo {
  irVersion: number;
  /** Version of the default (ai.onnx) operator set. */
  opsetVersion: number;
  /** producer_name and producer_version, e.g. "pytorch 1.13.0". */
  producer: string;
  graphName: string;
  inputName: string;
  outputName: string;
  /** ONNX order with the batch axis: its size, or its symbolic name (e.g. "N"). */
  inputShape: (number | string)[];
  outputShape: (number | string)[];
  /** How many nodes of each operator type the graph has. */
  operators: Record<string, number>;
  /** The model's `metadata_props` (key → value); a key given twice is a FormatError. */
  metadataProps: Record<string, string>;
}

export interface DecodedOnnx {
  model: Model;
  /** Layout the file's input is in: pass `{ layout: 'NCHW' }` to `predict` to feed it as the file expects. */
  inputLayout: 'NCHW';
  info: OnnxModelInfo;
}

/** Decodes an ONNX file's bytes and builds our model from its graph. */
export function decodeOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): DecodedOnnx {
  return onnxToModel(parseOnnxModel(bytes, options.source), options);
}

/** Decodes the protobuf of an ONNX file; FormatError for anything that is not a model (truncated, wrong format). */
export function parseOnnxModel(bytes: Uint8Array, source = '<buffer>'): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new FormatError(`${source}: expected the bytes of an ONNX file`);
  if (bytes.length === 0) throw new FormatError(`${source}: empty file, not an ONNX model`);
  let model: ModelProto;
  try {
    model = modelProtoType().decode(bytes) as unknown as ModelProto;
  } catch (e) {
    throw new FormatError(`${source}: not an ONNX model, or truncated: protobuf decoding failed (${(e as Error).message})`);
  }
  if (!model.graph || int64(model.irVersion, source) < 1) throw new FormatError(`${source}: not an ONNX model: no ir_version or graph (the file may be truncated or of another format)`);
  if (model.graph.node.length === 0 || model.graph.output.length === 0) throw new FormatError(`${source}: the ONNX graph has no nodes or no outputs (the file may be truncated)`);
  return model;
}

/** Locations of the external data files the model's initializers and Constant nodes use, each checked to be relative and inside the folder. */
export function externalDataLocations(model: ModelProto, source = '<buffer>'): string[] {
  return [...externalDataExtents(model, source).keys()];
}

/** The widest element ONNX stores (DOUBLE, INT64, UINT64): an upper bound on any tensor's bytes per element. */
const MAX_ELEMENT_BYTES = 8;

/**
 * Each external data location with an upper bound on the bytes its tensors use (the largest offset + length,
 * or offset + elements × 8 where no length is given), so a reader can refuse a file far larger than that.
 */
export function externalDataExtents(model: ModelProto, source = '<buffer>'): Map<string, number> {
  const tensors: TensorProto[] = [...(model.graph?.initializer ?? [])];
  for (const node of model.graph?.node ?? []) for (const a of node.attribute) if (a.t) tensors.push(a.t);
  const extents = new Map<string, number>();
  for (const t of tensors) {
    if (t.dataLocation !== EXTERNAL_DATA) continue;
    const what = `${source}: tensor ${JSON.stringify(t.name)}`;
    const ref = externalReference(t.externalData, what);
    const elements = t.dims.reduce((n: number, d) => n * Math.max(0, int64(d, what)), 1);
    const end = ref.offset + (ref.length ?? elements * MAX_ELEMENT_BYTES);
    extents.set(ref.location, Math.max(extents.get(ref.location) ?? 0, end));
  }
  return extents;
}

/** Builds our model from a decoded ModelProto. */
export function onnxToModel(proto: ModelProto, options: OnnxImportOptions = {}): DecodedOnnx {
  return new OnnxGraphImporter(proto, options).build();
}

// ---------------------------------------------------------------------------------------------------------------
// values and layouts

/** A value computed from the input at run time. Our symbolic tensor holds it in a layout that `perm` describes. */
interface Activation {
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

interface Constant {
  kind: 'constant';
  tensor: HostTensor;
}

type Value = Activation | Constant;

/** NCHW per sample is [C, H, W]; we hold [H, W, C]. */
const IMAGE = [1, 2, 0];
const identity = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
const defaultPerm = (rank: number): number[] => (rank === 3 ? IMAGE : identity(rank));
const permuted = (shape: readonly number[], perm: readonly number[]): number[] => perm.map((i) => shape[i]);
const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const inverse = (perm: readonly number[]): number[] => perm.map((_, i) => perm.indexOf(i));
/** Whether a permutation only moves size-1 axes, so that element order is unchanged. */
const keepsOrder = (shape: readonly number[], perm: readonly number[]): boolean => {
  const moved = perm.filter((i) => shape[i] !== 1);
  return moved.every((v, i) => i === 0 || moved[i - 1] < v);
};

const floats = (t: HostTensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
const FLOAT32_MAX = 3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------------------------

class OnnxGraphImporter {
  private readonly source: string;
  private readonly opset: number;
  private readonly values = new Map<string, Value>();
  private readonly initializers = new Map<string, TensorProto>();
  /** How many node inputs read each value (graph outputs count as a reader). */
  private readonly readers = new Map<string, number>();
  private readonly readerNode = new Map<string, NodeProto>();
  /** Add nodes whose constant operand was folded into the bias of the layer before; the value their output aliases. */
  private readonly absorbed = new Map<NodeProto, string>();
  private readonly names = new Set<string>();
  private readonly weights: { layer: Layer; name: string; value: Tensor }[] = [];
  /** The graph input's batch size where the file fixes it. */
  private staticBatch: number | null = null;
  private node: NodeProto | null = null;
  private nodeIndex = 0;

  constructor(
    private readonly proto: ModelProto,
    private readonly options: OnnxImportOptions,
  ) {
    this.source = options.source ?? '<buffer>';
    const defaultSet = proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    if (!defaultSet) throw new FormatError(`${this.source}: the model imports no version of the default (ai.onnx) operator set`);
    this.opset = int64(defaultSet.version, this.source);
  }

  build(): DecodedOnnx {
    const graph = this.proto.graph!;
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
    if (graph.output.length !== 1) throw new FormatError(`${this.source}: the graph has ${graph.output.length} outputs; only single-output models are supported`);
    const outputName = graph.output[0].name;
    this.readers.set(outputName, (this.readers.get(outputName) ?? 0) + 1);

    const { input, info } = this.graphInput();
    const operators: Record<string, number> = {};
    graph.node.forEach((node, index) => {
      this.node = node;
      this.nodeIndex = index;
      operators[node.opType] = (operators[node.opType] ?? 0) + 1;
      const alias = this.absorbed.get(node);
      const outputs = alias !== undefined ? [this.values.get(alias)!] : this.convertNamingNode(node);
      outputs.forEach((value, i) => {
        if (node.output[i]) this.values.set(node.output[i], value);
      });
    });
    this.node = null;

    const result = this.values.get(outputName) ?? (this.initializers.has(outputName) ? this.constant(outputName) : undefined);
    if (!result) throw new FormatError(`${this.source}: no node computes the graph output ${JSON.stringify(outputName)}`);
    if (result.kind !== 'activation') throw new FormatError(`${this.source}: the graph output ${JSON.stringify(outputName)} does not depend on the input`);
    const output = this.inLayout(result, defaultPerm(result.shape.length), this.unique('output_layout'));
    const model = new Model(input, output, { name: this.options.name ?? (this.safeName(graph.name) || 'onnx_model') });
    for (const w of this.weights) w.layer.setParam(w.name, w.value);
    this.checkDeclaredOutput(result.shape);
    const producer = `${this.proto.producerName} ${this.proto.producerVersion}`.trim();
    model.metadata = { importedFrom: { format: 'onnx', source: this.source, producer, opsetVersion: this.opset } };

    return {
      model,
      inputLayout: 'NCHW',
      info: {
        irVersion: int64(this.proto.irVersion, this.source),
        opsetVersion: this.opset,
        producer,
        graphName: graph.name,
        inputName: info.name,
        outputName,
        inputShape: info.shape,
        outputShape: [info.shape[0], ...result.shape],
        operators,
        metadataProps: this.metadataProps(),
      },
    };
  }

  private metadataProps(): Record<string, string> {
    const props: Record<string, string> = {};
    for (const { key, value } of this.proto.metadataProps ?? []) {
      if (Object.hasOwn(props, key)) throw new FormatError(`${this.source}: metadata_props key ${JSON.stringify(key)} is given twice`);
      props[key] = value;
    }
    return props;
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
    const name = this.unique(this.safeName(value.name) || 'input');
    const symbol = new InputLayer(name, permuted(sample, perm)).apply([]);
    this.values.set(value.name, this.activation(symbol, sample, perm));
    return { input: symbol, info: { name: value.name, shape: [dims[0], ...sample] } };
  }

  /** Checks our output against the shape the file declares for it, where it declares one. */
  private checkDeclaredOutput(shape: readonly number[]): void {
    const declared = this.proto.graph!.output[0].type?.tensorType?.shape?.dim;
    if (!declared || declared.length === 0) return;
    const dims = declared.map((d) => (d.value === 'dimValue' ? int64(d.dimValue, this.source) : null));
    const mismatch = dims.length !== shape.length + 1 || dims.slice(1).some((d, i) => d !== null && d !== shape[i]);
    if (mismatch) throw new FormatError(`${this.source}: the graph declares output shape [${dims.map((d) => d ?? '?').join(', ')}], the nodes compute [N, ${shape.join(', ')}]`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // naming, errors, attributes

  private safeName(name: string): string {
    return name.replace(/[^A-Za-z0-9_.\-/]/g, '_');
  }

  private unique(base: string): string {
    let name = base;
    for (let k = 2; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** A fresh layer name for the current node, from its name (or first output, or op type) and a suffix. */
  private layerName(suffix = ''): string {
    const node = this.node!;
    const base = this.safeName(node.name || node.output[0] || '') || `${node.opType}_${this.nodeIndex}`;
    return this.unique(base + suffix);
  }

  private unsupported(reason?: string): UnsupportedOperatorError {
    const node = this.node!;
    return new UnsupportedOperatorError(this.source, node.opType, node.name || node.output[0] || `#${this.nodeIndex}`, node.domain, reason);
  }

  private invalid(message: string): FormatError {
    const node = this.node!;
    return new FormatError(`${this.source}: node ${JSON.stringify(node.name || node.output[0])} (${node.opType}): ${message}`);
  }

  private attribute(name: string, type: number): AttributeProto | undefined {
    const a = this.node!.attribute.find((x) => x.name === name);
    if (a && a.type !== type && a.type !== AttributeType.UNDEFINED) throw this.invalid(`attribute ${name} has type ${a.type}, expected ${type}`);
    return a;
  }

  private attrInt(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.INT);
    return a ? int64(a.i, `${this.source}: attribute ${name}`) : fallback;
  }

  private attrFloat(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.FLOAT);
    return a ? a.f : fallback;
  }

  private attrInts(name: string, fallback: number[] | null): number[] | null {
    const a = this.attribute(name, AttributeType.INTS);
    return a ? a.ints.map((v) => int64(v, `${this.source}: attribute ${name}`)) : fallback;
  }

  private attrString(name: string, fallback: string): string {
    const a = this.attribute(name, AttributeType.STRING);
    return a ? new TextDecoder().decode(a.s) : fallback;
  }

  private pair(name: string, fallback: number): [number, number] {
    const v = this.attrInts(name, [fallback, fallback])!;
    if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) throw this.unsupported(`${name} [${v.join(', ')}]: only 2-D windows with positive sizes are supported`);
    return [v[0], v[1]];
  }

  // -------------------------------------------------------------------------------------------------------------
  // inputs of the current node

  private constant(name: string): Constant {
    const known = this.values.get(name);
    if (known?.kind === 'constant') return known;
    const value: Constant = { kind: 'constant', tensor: readTensor(this.initializers.get(name)!, this.options.externalData ? { source: this.source, externalData: this.options.externalData } : { source: this.source }, `${this.source}: initializer ${JSON.stringify(name)}`) };
    this.values.set(name, value);
    return value;
  }

  private input(k: number): Value | undefined {
    const name = this.node!.input[k];
    if (!name) return undefined;
    const value = this.values.get(name);
    if (value) return value;
    if (this.initializers.has(name)) return this.constant(name);
    throw this.invalid(`input ${JSON.stringify(name)} is not computed by any earlier node, initializer or graph input`);
  }

  private required(k: number): Value {
    const v = this.input(k);
    if (!v) throw this.invalid(`input ${k} is missing`);
    return v;
  }

  private activationInput(k: number): Activation {
    const v = this.required(k);
    if (v.kind !== 'activation') throw this.unsupported(`input ${k} is a constant; this operator is supported on activations computed from the graph input`);
    return v;
  }

  private constantInput(k: number, what: string): HostTensor {
    const v = this.required(k);
    if (v.kind !== 'constant') throw this.unsupported(`${what} (input ${k}) must be a constant (an initializer or a Constant node)`);
    return v.tensor;
  }

  private scalarInput(k: number, what: string): number {
    const t = this.constantInput(k, what);
    if (t.data.length !== 1) throw this.invalid(`${what} must be a scalar, got shape [${t.shape.join(', ')}]`);
    return t.data[0];
  }

  private intsInput(k: number, what: string): number[] {
    const t = this.constantInput(k, what);
    if (t.dtype !== 'int') throw this.invalid(`${what} must be integers`);
    return [...t.data];
  }

  // -------------------------------------------------------------------------------------------------------------
  // building layers and layouts

  private activation(symbol: SymbolicTensor, shape: number[], perm: number[], flat: Activation['flat'] = null): Activation {
    const expected = flat ? [sizeOf(shape)] : permuted(shape, perm);
    if (!sameShape(symbol.shape, expected)) throw new ConfigError(`ONNX import: internal layout mismatch at ${symbol.name}: ${formatShape(symbol.shape)} vs ${formatShape(expected)}`);
    return { kind: 'activation', symbol, shape, perm, flat, views: new Map() };
  }

  private apply(layer: Layer, inputs: SymbolicTensor[]): SymbolicTensor {
    return layer.apply(inputs);
  }

  private setWeight(layer: Layer, name: string, value: Tensor): void {
    this.weights.push({ layer, name, value });
  }

  /** torchvision-style prefix of a layer from its weight initializer's name (`features.0.0.weight` → `features.0.0`). */
  private torchNameFrom(layer: Layer, k: number): void {
    const name = this.node!.input[k];
    if (name && this.initializers.has(name) && /^[A-Za-z0-9_.]+\.weight$/.test(name)) layer.torchName = name.slice(0, -'.weight'.length);
  }

  /** The value held as ONNX-order elements flattened: a flat value with permuted elements becomes one with ONNX order. */
  private materialize(v: Activation, base: string): Activation {
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
  private inLayout(value: Activation, perm: readonly number[], base: string): SymbolicTensor {
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
  private imageInput(k: number): Activation {
    const x = this.activationInput(k);
    if (x.shape.length !== 3) throw this.unsupported(`only 2-D (NCHW) activations are supported here, got rank ${x.shape.length + 1} [N, ${x.shape.join(', ')}]`);
    return x;
  }

  /**
   * A per-channel constant that the single reader of this node's output adds (`Add(y, c)`, as TF exporters and
   * MatMul-based Linear layers write it): folded into this layer's bias, that Add then aliases our output.
   */
  private absorbBias(channels: number, rank: number): Float32Array | null {
    const out = this.node!.output[0];
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

  // -------------------------------------------------------------------------------------------------------------
  // operators

  /** Converts a node; shape and configuration errors from our layers come back as FormatErrors naming the node. */
  private convertNamingNode(node: NodeProto): Value[] {
    return asFormatError(() => this.convert(node), (message) => this.invalid(message));
  }

  private convert(node: NodeProto): Value[] {
    if (node.domain !== '' && node.domain !== 'ai.onnx') throw this.unsupported(`operators of domain ${JSON.stringify(node.domain)} are not supported`);
    switch (node.opType) {
      case 'Conv':
        return [this.conv()];
      case 'BatchNormalization':
        return [this.batchNorm()];
      case 'Relu':
        return [this.elementwise((name) => new ReLU(name))];
      case 'Clip':
        return [this.clip()];
      case 'Sigmoid':
        return [this.elementwise((name) => new Sigmoid(name))];
      case 'HardSigmoid': {
        const alpha = this.attrFloat('alpha', 0.2);
        const beta = this.attrFloat('beta', 0.5);
        return [this.elementwise((name) => new HardSigmoid(name, alpha, beta))];
      }
      case 'HardSwish':
        return [this.elementwise((name) => new HardSwish(name))];
      case 'Add':
        return [this.arithmetic('add')];
      case 'Sub':
        return [this.arithmetic('sub')];
      case 'Mul':
        return [this.arithmetic('mul')];
      case 'Div':
        return [this.arithmetic('div')];
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        return [this.globalPool(node.opType === 'GlobalAveragePool')];
      case 'AveragePool':
      case 'MaxPool':
        return [this.pool(node.opType === 'AveragePool')];
      case 'Flatten':
        return [this.flattenNode()];
      case 'Reshape':
        return [this.reshape()];
      case 'Transpose':
        return [this.transposeNode()];
      case 'Concat':
        return [this.concat()];
      case 'Softmax':
        return [this.softmax()];
      case 'Gemm':
        return [this.gemm()];
      case 'MatMul':
        return [this.matmul()];
      case 'Pad':
        return [this.pad()];
      case 'Constant':
        return [this.constantNode()];
      case 'Identity':
        return [this.required(0)];
      case 'Dropout':
        if (node.output[1] && this.readers.has(node.output[1])) throw this.unsupported('the mask output is used');
        return [this.required(0)];
      case 'Squeeze':
      case 'Unsqueeze':
        return [this.squeeze(node.opType === 'Unsqueeze')];
      case 'ReduceMean':
      case 'ReduceMax':
        return [this.spatialReduce(node.opType === 'ReduceMean')];
      case 'Shape':
        return [this.shapeOf()];
      case 'Gather':
        return [this.gather()];
      case 'Cast':
        return [this.cast()];
      default:
        throw this.unsupported();
    }
  }

  private conv(): Value {
    const x = this.imageInput(0);
    const w = this.constantInput(1, 'the weights');
    if (w.shape.length !== 4) throw this.unsupported(`weights of shape [${w.shape.join(', ')}]: only 2-D convolution is supported`);
    const [filters, perGroup, kh, kw] = w.shape;
    const group = this.attrInt('group', 1);
    const [c, h, width] = x.shape;
    if (group < 1 || perGroup * group !== c || filters % group !== 0) throw this.invalid(`weights [${w.shape.join(', ')}] with group ${group} do not fit ${c} input channels`);
    const kernelShape = this.attrInts('kernel_shape', null);
    if (kernelShape && (kernelShape.length !== 2 || kernelShape[0] !== kh || kernelShape[1] !== kw)) throw this.invalid(`kernel_shape [${kernelShape.join(', ')}] differs from the weights' [${kh}, ${kw}]`);
    const strides = this.pair('strides', 1);
    const dilations = this.pair('dilations', 1);
    const padding = this.windowPadding([h, width], [kh, kw], strides, dilations);
    const given = this.input(2);
    let bias: Float32Array | null = null;
    if (given) {
      if (given.kind !== 'constant') throw this.unsupported('the bias (input 2) must be a constant');
      if (given.tensor.data.length !== filters) throw this.invalid(`bias has ${given.tensor.data.length} values for ${filters} filters`);
      bias = floats(given.tensor).slice();
    }
    const added = this.absorbBias(filters, 4);
    if (added) bias = bias ? bias.map((b, i) => b + added[i]) : added;
    const name = this.layerName();
    const depthwise = group === c && group > 1;
    const options = { kernelSize: [kh, kw] as const, strides, dilations, padding, useBias: bias !== null };
    const layer = depthwise ? new DepthwiseConv2D(name, { ...options, depthMultiplier: filters / c }) : new Conv2D(name, { ...options, filters, groups: group });
    const y = this.apply(layer, [this.inLayout(x, IMAGE, name)]);
    this.setWeight(layer, depthwise ? 'depthwise_kernel' : 'kernel', transpose(new Tensor(w.shape, floats(w)), [2, 3, 1, 0]));
    if (bias) this.setWeight(layer, 'bias', new Tensor([filters], bias));
    this.torchNameFrom(layer, 1);
    const [oh, ow] = y.shape;
    return this.activation(y, [filters, oh, ow], IMAGE);
  }

  /** Explicit [top, bottom, left, right] from `pads` ([top, left, bottom, right]) or `auto_pad`. */
  private windowPadding(size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): Padding4 {
    const autoPad = this.attrString('auto_pad', 'NOTSET');
    if (autoPad === 'NOTSET') {
      const pads = this.attrInts('pads', [0, 0, 0, 0])!;
      if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw this.unsupported(`pads [${pads.join(', ')}]: expected four non-negative values for a 2-D window`);
      return [pads[0], pads[2], pads[1], pads[3]];
    }
    if (autoPad === 'VALID') return [0, 0, 0, 0];
    if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw this.invalid(`unknown auto_pad ${JSON.stringify(autoPad)}`);
    // output = ceil(input / stride); the odd pixel goes after (SAME_UPPER) or before (SAME_LOWER)
    const amounts = size.map((n, i) => {
      const total = Math.max((Math.ceil(n / strides[i]) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n, 0);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    });
    return [amounts[0][0], amounts[0][1], amounts[1][0], amounts[1][1]];
  }

  private batchNorm(): Value {
    const x = this.activationInput(0);
    if (x.shape.length < 1) throw this.invalid('input has no channel axis');
    const channels = x.shape[0];
    const [gamma, beta, mean, variance] = ['scale', 'B', 'input_mean', 'input_var'].map((what, i) => {
      const t = this.constantInput(i + 1, what);
      if (t.data.length !== channels) throw this.invalid(`${what} has ${t.data.length} values for ${channels} channels`);
      return new Tensor([channels], floats(t).slice());
    });
    if (this.attrInt('training_mode', 0) !== 0 || this.node!.output.slice(1).some((o) => o && this.readers.has(o))) throw this.unsupported('training mode (batch statistics outputs)');
    if (this.attrInt('spatial', 1) !== 1) throw this.unsupported('spatial=0');
    const momentum = this.attrFloat('momentum', 0.9);
    const name = this.layerName();
    const layer = new BatchNormalization(name, { epsilon: this.attrFloat('epsilon', 1e-5), momentum: momentum >= 0 && momentum <= 1 ? momentum : 0.9 });
    // the channel (ONNX axis 1) must be our last axis
    const perm = x.flat ? [0] : x.perm.at(-1) === 0 ? x.perm : [...x.perm.filter((p) => p !== 0), 0];
    const y = this.apply(layer, [this.inLayout(x, perm, name)]);
    (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((p, i) => this.setWeight(layer, p, [gamma, beta, mean, variance][i]));
    this.torchNameFrom(layer, 1);
    return this.activation(y, x.shape, perm);
  }

  /** An element-wise layer: any layout (a permuted flat value included) passes through; constants are folded. */
  private elementwise(make: (name: string) => Layer): Value {
    const v = this.required(0);
    if (v.kind === 'constant') {
      const t = new Tensor(v.tensor.shape, floats(v.tensor));
      return { kind: 'constant', tensor: { shape: v.tensor.shape, dtype: 'float', data: make('constant_fold').call([t], { backend: referenceBackend }).data } };
    }
    const y = this.apply(make(this.layerName()), [v.symbol]);
    return this.activation(y, v.shape, v.perm, v.flat);
  }

  private clip(): Value {
    let lo = -Infinity;
    let hi = Infinity;
    if (this.opset < 11) {
      lo = this.attrFloat('min', -Infinity);
      hi = this.attrFloat('max', Infinity);
    } else {
      if (this.input(1)) lo = this.scalarInput(1, 'min');
      if (this.input(2)) hi = this.scalarInput(2, 'max');
    }
    if (lo <= -FLOAT32_MAX) lo = -Infinity;
    if (hi >= FLOAT32_MAX) hi = Infinity;
    if (!(lo <= hi)) throw this.unsupported(`min ${lo} > max ${hi}`);
    // ReLU and ReLU6 as such, so that lowering fuses them into the conv before them
    return this.elementwise((name) => (lo === 0 && hi === 6 ? new ReLU6(name) : lo === 0 && hi === Infinity ? new ReLU(name) : new Clip(name, lo, hi)));
  }

  private arithmetic(op: ArithmeticOp): Value {
    const a = this.required(0);
    const b = this.required(1);
    if (a.kind === 'constant' && b.kind === 'constant') {
      const integer = a.tensor.dtype === 'int' && b.tensor.dtype === 'int';
      const f = arithmeticFunction(op);
      // integer division truncates, as ONNX Div on integers does
      const g = integer && op === 'div' ? (x: number, y: number) => Math.trunc(x / y) : f;
      try {
        const { shape, data } = integer ? broadcastMap(a.tensor.shape, a.tensor.data, b.tensor.shape, b.tensor.data, g, (n) => new Float64Array(n)) : broadcastMap(a.tensor.shape, floats(a.tensor), b.tensor.shape, floats(b.tensor), g, (n) => new Float32Array(n));
        return { kind: 'constant', tensor: { shape, dtype: integer ? 'int' : 'float', data } };
      } catch (e) {
        throw e instanceof MobileNetError ? this.invalid(e.message) : e;
      }
    }
    const name = this.layerName();
    if (a.kind === 'activation' && b.kind === 'activation') {
      if (a.shape.length !== b.shape.length) throw this.unsupported(`operands of ranks ${a.shape.length + 1} and ${b.shape.length + 1} would broadcast across the batch axis`);
      let shape: number[];
      try {
        shape = broadcastShape(a.shape, b.shape);
      } catch (e) {
        throw this.invalid((e as Error).message);
      }
      const perm = a.flat || b.flat ? [0] : a.perm;
      const inputs = [this.inLayout(a, perm, name), this.inLayout(b, perm, name)];
      const layer = op === 'add' && sameShape(a.shape, b.shape) ? new Add(name) : new Arithmetic(name, op);
      return this.activation(this.apply(layer, inputs), shape, perm);
    }
    const [v, c, side] = a.kind === 'activation' ? [a, b as Constant, 'right' as const] : [b as Activation, a, 'left' as const];
    const rank = v.shape.length + 1;
    if (c.tensor.shape.length > rank) throw this.unsupported(`a constant of rank ${c.tensor.shape.length} would add axes to a rank-${rank} activation`);
    const padded = [...new Array<number>(rank - c.tensor.shape.length).fill(1), ...c.tensor.shape];
    if (padded[0] !== 1) throw this.unsupported(`a constant of shape [${c.tensor.shape.join(', ')}] would broadcast along the batch axis`);
    const perSample = padded.slice(1);
    let shape: number[];
    try {
      shape = broadcastShape(v.shape, perSample);
    } catch (e) {
      throw this.invalid((e as Error).message);
    }
    // a scalar keeps any layout, a permuted flat value included
    const scalar = sizeOf(perSample) === 1;
    const keepFlat = scalar && v.flat !== null;
    const perm = keepFlat ? [0] : v.flat ? [0] : v.perm;
    const value = permuteHost({ shape: perSample, dtype: 'float', data: floats(c.tensor) }, perm);
    const layer = new Arithmetic(name, op, { value: new Tensor(value.shape, value.data as Float32Array), side });
    const y = this.apply(layer, [keepFlat ? v.symbol : this.inLayout(v, perm, name)]);
    return this.activation(y, shape, perm, keepFlat ? v.flat : null);
  }

  private globalPool(average: boolean): Value {
    const x = this.imageInput(0);
    const name = this.layerName();
    const layer = average ? new GlobalAveragePooling2D(name, true) : new GlobalMaxPooling2D(name, true);
    return this.activation(this.apply(layer, [this.inLayout(x, IMAGE, name)]), [x.shape[0], 1, 1], IMAGE);
  }

  private pool(average: boolean): Value {
    const x = this.imageInput(0);
    const kernel = this.attrInts('kernel_shape', null);
    if (!kernel || kernel.length !== 2) throw this.unsupported(`kernel_shape [${kernel?.join(', ') ?? ''}]: only 2-D pooling is supported`);
    const poolSize: [number, number] = [kernel[0], kernel[1]];
    const strides = this.pair('strides', 1);
    if (this.attrInts('dilations', [1, 1])!.some((d) => d !== 1)) throw this.unsupported('dilated pooling');
    if (!average && this.node!.output[1] && this.readers.has(this.node!.output[1])) throw this.unsupported('the Indices output');
    const [c, h, w] = x.shape;
    const padding = this.windowPadding([h, w], poolSize, strides, [1, 1]);
    if (this.attrInt('ceil_mode', 0) === 1) {
      // ceil mode only matters where the last window would start past the floor's
      const sizes = [h + padding[0] + padding[1], w + padding[2] + padding[3]];
      if (sizes.some((n, i) => (n - poolSize[i]) % strides[i] !== 0)) throw this.unsupported('ceil_mode=1 where it adds an output row or column');
    }
    const name = this.layerName();
    const options = { poolSize, strides, padding, countIncludePad: average && this.attrInt('count_include_pad', 0) === 1 };
    const layer = average ? new AveragePooling2D(name, options) : new MaxPooling2D(name, options);
    const y = this.apply(layer, [this.inLayout(x, IMAGE, name)]);
    return this.activation(y, [c, y.shape[0], y.shape[1]], IMAGE);
  }

  private flattenNode(): Value {
    const v = this.required(0);
    const rank = v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1;
    let axis = this.attrInt('axis', 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) throw this.invalid(`axis ${axis} is outside rank ${rank}`);
    if (v.kind === 'constant') {
      const shape = v.tensor.shape;
      return { kind: 'constant', tensor: { ...v.tensor, shape: [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))] } };
    }
    if (axis === 0) throw this.unsupported('axis 0 folds the batch axis into the features');
    if (sizeOf(v.shape.slice(0, axis - 1)) !== 1) throw this.unsupported(`axis ${axis} folds per-sample axes [${v.shape.slice(0, axis - 1).join(', ')}] into the batch axis`);
    return this.flatten(v);
  }

  /** [N, …] → [N, F]. Where our layout orders elements differently, the value stays permuted (`flat`) for a Gemm to absorb. */
  private flatten(v: Activation): Activation {
    if (v.shape.length === 1) return v;
    const size = sizeOf(v.shape);
    const y = this.apply(new Flatten(this.layerName()), [v.symbol]);
    return keepsOrder(v.shape, v.perm) ? this.activation(y, [size], [0]) : this.activation(y, [size], [0], { shape: v.shape, perm: v.perm });
  }

  private reshape(): Value {
    const v = this.required(0);
    const target = this.opset >= 5 ? this.intsInput(1, 'shape') : this.attrInts('shape', null);
    if (!target) throw this.invalid('no target shape');
    const allowZero = this.attrInt('allowzero', 0) === 1;
    // 0 copies the input's axis (unless allowzero), one −1 takes what is left
    const resolve = (dims: number[], input: readonly number[], size: number): number[] | null => {
      const copied = dims.map((d, i) => (d === 0 && !allowZero ? (i < input.length ? input[i] : NaN) : d));
      if (copied.some((d) => Number.isNaN(d) || d < -1) || copied.filter((d) => d === -1).length > 1) return null;
      const known = sizeOf(copied.filter((d) => d !== -1));
      const resolved = copied.map((d) => (d === -1 ? size / known : d));
      return sizeOf(resolved) === size && resolved.every((d) => Number.isInteger(d)) ? resolved : null;
    };
    if (v.kind === 'constant') {
      const shape = resolve(target, v.tensor.shape, sizeOf(v.tensor.shape));
      if (!shape) throw this.invalid(`cannot reshape [${v.tensor.shape.join(', ')}] to [${target.join(', ')}]`);
      return { kind: 'constant', tensor: { ...v.tensor, shape } };
    }
    if (target.length === 0) throw this.unsupported('a target shape without the batch axis');
    // the batch axis must stay first and whole: 0 (copy), −1 with every other axis given, or the file's fixed batch size
    const size = sizeOf(v.shape);
    const rest = target.slice(1);
    if (rest.some((d) => Number.isNaN(d))) throw this.unsupported(`target shape [${target.join(', ')}] puts the batch size on a per-sample axis`);
    const batchKept = Number.isNaN(target[0]) || (target[0] === 0 && !allowZero) || (target[0] === -1 && !rest.includes(-1) && sizeOf(rest.map((d, i) => (d === 0 && !allowZero ? v.shape[i] ?? NaN : d))) === size) || (target[0] > 0 && target[0] === this.staticBatch);
    if (!batchKept) throw this.unsupported(`target shape [${target.join(', ')}] would change the batch axis`);
    // per sample, axis i of the target's rest copies axis i of the input's rest
    const shape = resolve(rest, v.shape, size);
    if (!shape || shape.some((d) => d < 1)) throw this.invalid(`cannot reshape [N, ${v.shape.join(', ')}] to [${target.join(', ')}]`);
    return this.reshapeTo(v, shape);
  }

  /** The activation with per-sample shape `shape` (same size), elements in ONNX order. */
  private reshapeTo(v: Activation, shape: number[]): Activation {
    if (shape.length === 1) return this.flatten(v);
    if (sameShape(shape, v.shape)) return v;
    const name = this.layerName();
    const y = this.apply(new Reshape(name, shape), [this.inLayout(v, identity(v.shape.length), name)]);
    return this.activation(y, shape, identity(shape.length));
  }

  /** Axes from the `axes` attribute (before opset 13) or input 1, made non-negative for `rank`. */
  private axes(rank: number, inputSince: number): number[] | null {
    const axes = this.opset >= inputSince ? (this.input(1) ? this.intsInput(1, 'axes') : null) : this.attrInts('axes', null);
    return axes && axes.map((a) => (a < 0 ? a + rank : a));
  }

  /** Squeeze and Unsqueeze: reshapes that must leave the batch axis alone. */
  private squeeze(unsqueeze: boolean): Value {
    const v = this.required(0);
    const shape = v.kind === 'constant' ? v.tensor.shape : [-1, ...v.shape];
    const rank = unsqueeze ? shape.length + (this.opset >= 13 ? this.constantInput(1, 'axes').data.length : (this.attrInts('axes', []) ?? []).length) : shape.length;
    const axes = this.axes(rank, 13);
    let result: number[];
    if (unsqueeze) {
      if (!axes) throw this.invalid('no axes');
      result = [];
      for (let i = 0, from = 0; i < rank; i++) result.push(axes.includes(i) ? 1 : shape[from++]);
    } else {
      const dropped = axes ?? shape.map((d, i) => (d === 1 && (v.kind === 'constant' || i > 0) ? i : -1)).filter((i) => i >= 0);
      if (dropped.some((a) => shape[a] !== 1 && !(a === 0 && v.kind === 'activation'))) throw this.invalid(`cannot squeeze axes [${dropped.join(', ')}] of [${shape.join(', ')}]`);
      result = shape.filter((_, i) => !dropped.includes(i));
    }
    if (v.kind === 'constant') return { kind: 'constant', tensor: { ...v.tensor, shape: result } };
    if ((axes ?? []).includes(0)) throw this.unsupported('the batch axis must stay first');
    return this.reshapeTo(v, result.slice(1));
  }

  /** ReduceMean and ReduceMax over the spatial axes of an image: global pooling. */
  private spatialReduce(mean: boolean): Value {
    const x = this.imageInput(0);
    const axes = this.axes(4, 18);
    const keepDims = this.attrInt('keepdims', 1) === 1;
    if (!axes || [...axes].sort().join() !== '2,3') throw this.unsupported(`axes [${axes?.join(', ') ?? 'all'}]: only the spatial axes [2, 3] (global pooling) are supported`);
    const name = this.layerName();
    const layer = mean ? new GlobalAveragePooling2D(name, keepDims) : new GlobalMaxPooling2D(name, keepDims);
    const y = this.apply(layer, [this.inLayout(x, IMAGE, name)]);
    return keepDims ? this.activation(y, [x.shape[0], 1, 1], IMAGE) : this.activation(y, [x.shape[0]], [0]);
  }

  /** The shape as an int64 constant; the batch size, unknown until run time, is NaN there (Reshape reads it as "keep the batch axis"). */
  private shapeOf(): Value {
    const v = this.required(0);
    const shape = v.kind === 'constant' ? v.tensor.shape : [NaN, ...v.shape];
    let start = this.attrInt('start', 0);
    let end = this.attrInt('end', shape.length);
    if (start < 0) start += shape.length;
    if (end < 0) end += shape.length;
    const dims = shape.slice(Math.max(0, start), Math.min(shape.length, end));
    return { kind: 'constant', tensor: { shape: [dims.length], dtype: 'int', data: Float64Array.from(dims) } };
  }

  /** Gather on constants (shape arithmetic): data indexed along `axis`. */
  private gather(): Value {
    const data = this.constantInput(0, 'data');
    const indices = this.constantInput(1, 'indices');
    let axis = this.attrInt('axis', 0);
    if (axis < 0) axis += data.shape.length;
    if (axis < 0 || axis >= data.shape.length) throw this.invalid(`axis ${axis} is outside rank ${data.shape.length}`);
    const size = data.shape[axis];
    const inner = sizeOf(data.shape.slice(axis + 1));
    const outer = sizeOf(data.shape.slice(0, axis));
    const picks = [...indices.data].map((i) => (i < 0 ? i + size : i));
    if (picks.some((i) => !Number.isInteger(i) || i < 0 || i >= size)) throw this.invalid(`indices [${[...indices.data].join(', ')}] are outside axis ${axis} of size ${size}`);
    const out = data.dtype === 'int' ? new Float64Array(outer * picks.length * inner) : new Float32Array(outer * picks.length * inner);
    for (let o = 0; o < outer; o++) picks.forEach((p, k) => out.set(data.data.subarray((o * size + p) * inner, (o * size + p + 1) * inner), (o * picks.length + k) * inner));
    return { kind: 'constant', tensor: { shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)], dtype: data.dtype, data: out } };
  }

  /** Cast: float activations stay as they are; constants change kind (shape arithmetic casts between int types). */
  private cast(): Value {
    const v = this.required(0);
    const to = this.attrInt('to', DataType.FLOAT);
    const integer = [DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL].includes(to as never);
    const float = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16].includes(to as never);
    if (v.kind === 'activation') {
      if (to !== DataType.FLOAT) throw this.unsupported(`casting an activation to type ${to}; activations are float32`);
      return v;
    }
    if (integer) return { kind: 'constant', tensor: { ...v.tensor, dtype: 'int', data: Float64Array.from(v.tensor.data, (x) => (to === DataType.BOOL ? Number(x !== 0) : Math.trunc(x))) } };
    if (float) return { kind: 'constant', tensor: { ...v.tensor, dtype: 'float', data: floats(v.tensor) } };
    throw this.unsupported(`cast to type ${to}`);
  }

  /** A transpose of per-sample axes only changes how our layout maps onto ONNX's: no layer, no copy. */
  private transposeNode(): Value {
    const v = this.required(0);
    const rank = v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1;
    const perm = this.attrInts('perm', null) ?? identity(rank).reverse();
    if (perm.length !== rank || !samePerm([...perm].sort((x, y) => x - y), identity(rank))) throw this.invalid(`perm [${perm.join(', ')}] does not fit rank ${rank}`);
    if (v.kind === 'constant') return { kind: 'constant', tensor: permuteHost(v.tensor, perm) };
    if (perm[0] !== 0) throw this.unsupported(`perm [${perm.join(', ')}] moves the batch axis`);
    if (v.flat) return v;
    const onSample = perm.slice(1).map((p) => p - 1);
    const back = inverse(onSample);
    return this.activation(v.symbol, permuted(v.shape, onSample), v.perm.map((i) => back[i]));
  }

  private concat(): Value {
    const inputs = this.node!.input.map((_, k) => this.required(k));
    if (inputs.length === 0) throw this.invalid('no inputs');
    const axisAttribute = this.attribute('axis', AttributeType.INT);
    if (!axisAttribute) throw this.invalid('no axis');
    const ranks = inputs.map((v) => (v.kind === 'constant' ? v.tensor.shape.length : v.shape.length + 1));
    if (ranks.some((r) => r !== ranks[0])) throw this.invalid(`inputs of ranks ${ranks.join(', ')}`);
    let axis = int64(axisAttribute.i, this.source);
    if (axis < 0) axis += ranks[0];
    if (axis < 0 || axis >= ranks[0]) throw this.invalid(`axis ${axis} is outside rank ${ranks[0]}`);
    if (inputs.every((v) => v.kind === 'constant')) return { kind: 'constant', tensor: concatHost(inputs.map((v) => (v as Constant).tensor), axis, (m) => this.invalid(m)) };
    if (inputs.some((v) => v.kind === 'constant')) throw this.unsupported('concatenating constants with activations');
    const values = inputs as Activation[];
    if (axis === 0) throw this.unsupported('concatenation along the batch axis');
    if (values.length === 1) return values[0];
    const a = axis - 1;
    const shape = [...values[0].shape];
    for (const v of values.slice(1)) {
      if (v.shape.some((d, i) => i !== a && d !== shape[i])) throw this.invalid(`shapes ${values.map((x) => formatShape(x.shape)).join(', ')} differ outside axis ${axis}`);
      shape[a] += v.shape[a];
    }
    const perm = values.some((v) => v.flat) ? [0] : values[0].perm;
    const name = this.layerName();
    const y = this.apply(new Concatenate(name, perm.indexOf(a), values.length), values.map((v) => this.inLayout(v, perm, name)));
    return this.activation(y, shape, perm);
  }

  private softmax(): Value {
    const v = this.activationInput(0);
    const rank = v.shape.length + 1;
    let axis = this.attrInt('axis', this.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) throw this.invalid(`axis ${axis} is outside rank ${rank}`);
    if (axis === 0) throw this.unsupported('softmax over the batch axis');
    const a = axis - 1;
    const name = this.layerName();
    if (this.opset >= 13 || a === v.shape.length - 1) {
      // over one axis: make it our last
      const perm = v.flat ? [0] : v.perm.at(-1) === a ? v.perm : [...v.perm.filter((p) => p !== a), a];
      return this.activation(this.apply(new Softmax(name), [this.inLayout(v, perm, name)]), v.shape, perm);
    }
    // before opset 13: over everything from `axis` on, as one vector (the input coerced to 2-D)
    const lead = sizeOf(v.shape.slice(0, a));
    const rows = this.apply(new Reshape(this.unique(`${name}_2d`), lead === 1 ? [sizeOf(v.shape)] : [lead, sizeOf(v.shape.slice(a))]), [this.inLayout(v, identity(v.shape.length), name)]);
    const y = this.apply(new Reshape(this.unique(`${name}_nd`), v.shape), [this.apply(new Softmax(name), [rows])]);
    return this.activation(y, v.shape, identity(v.shape.length));
  }

  private gemm(): Value {
    const transA = this.attrInt('transA', 0) === 1;
    const transB = this.attrInt('transB', 0) === 1;
    const alpha = this.attrFloat('alpha', 1);
    const beta = this.attrFloat('beta', 1);
    const a = this.required(0);
    const b = this.required(1);
    const c = this.input(2);
    if (a.kind === 'constant' && b.kind === 'constant' && (!c || c.kind === 'constant')) {
      const product = matmulHost(transA ? permuteHost(a.tensor, [1, 0]) : a.tensor, transB ? permuteHost(b.tensor, [1, 0]) : b.tensor, (m) => this.invalid(m));
      const scaled = { ...product, data: product.data.map((x) => alpha * x) };
      if (!c) return { kind: 'constant', tensor: scaled };
      const sum = broadcastMap(scaled.shape, scaled.data, c.tensor.shape, floats(c.tensor), (x, y) => x + beta * y, (n) => new Float32Array(n));
      return { kind: 'constant', tensor: { shape: sum.shape, dtype: 'float', data: sum.data } };
    }
    if (a.kind !== 'activation') throw this.unsupported('A (input 0) must be the activation and B a constant');
    if (transA) throw this.unsupported('transA=1 on an activation would contract over the batch axis');
    if (b.kind !== 'constant') throw this.unsupported('B (input 1) must be a constant');
    if (b.tensor.shape.length !== 2 || a.shape.length !== 1) throw this.invalid(`A [N, ${a.shape.join(', ')}] and B [${b.tensor.shape.join(', ')}] must be 2-D`);
    const k = a.shape[0];
    const units = transB ? b.tensor.shape[0] : b.tensor.shape[1];
    if ((transB ? b.tensor.shape[1] : b.tensor.shape[0]) !== k) throw this.invalid(`B [${b.tensor.shape.join(', ')}]${transB ? ' (transposed)' : ''} does not fit A [N, ${k}]`);
    const weights = floats(b.tensor);
    const kernel = new Float32Array(k * units);
    for (let i = 0; i < k; i++) for (let j = 0; j < units; j++) kernel[i * units + j] = alpha * weights[transB ? j * k + i : i * units + j];
    let bias: Float32Array | null = null;
    if (c) {
      if (c.kind !== 'constant') throw this.unsupported('C (input 2) must be a constant');
      const shape = c.tensor.shape;
      if (shape.length > 2 || (shape.length === 2 && shape[0] !== 1) || (shape.length > 0 && shape.at(-1) !== units && shape.at(-1) !== 1)) {
        throw this.unsupported(`C of shape [${shape.join(', ')}]: only a bias broadcast over the batch ([${units}], [1, ${units}] or a scalar) is supported`);
      }
      const values = floats(c.tensor);
      bias = Float32Array.from({ length: units }, (_, j) => beta * values[values.length === 1 ? 0 : j]);
    }
    return this.dense(a, kernel, units, bias);
  }

  private matmul(): Value {
    const a = this.required(0);
    const b = this.required(1);
    if (a.kind === 'constant' && b.kind === 'constant') return { kind: 'constant', tensor: matmulHost(a.tensor, b.tensor, (m) => this.invalid(m)) };
    if (a.kind !== 'activation' || b.kind !== 'constant') throw this.unsupported('only an activation times a constant matrix is supported');
    if (a.shape.length !== 1) throw this.unsupported(`MatMul of a rank-${a.shape.length + 1} activation: only [N, K] × [K, M] is supported`);
    if (b.tensor.shape.length !== 2 || b.tensor.shape[0] !== a.shape[0]) throw this.invalid(`B [${b.tensor.shape.join(', ')}] does not fit A [N, ${a.shape[0]}]`);
    return this.dense(a, floats(b.tensor), b.tensor.shape[1], null);
  }

  /** A Dense layer from an ONNX [K, M] kernel; rows are permuted to the order our flattened input holds. */
  private dense(a: Activation, kernel: Float32Array, units: number, bias: Float32Array | null): Activation {
    const added = this.absorbBias(units, 2);
    if (added) bias = bias ? bias.map((b, j) => b + added[j]) : added;
    let rows = kernel;
    if (a.flat) {
      const order = sourceIndex(a.flat.shape, a.flat.perm);
      rows = new Float32Array(kernel.length);
      order.forEach((from, to) => rows.set(kernel.subarray(from * units, (from + 1) * units), to * units));
    }
    const name = this.layerName();
    const layer = new Dense(name, { units, useBias: bias !== null });
    const y = this.apply(layer, [a.symbol]);
    this.setWeight(layer, 'kernel', new Tensor([a.shape[0], units], rows));
    if (bias) this.setWeight(layer, 'bias', new Tensor([units], bias));
    this.torchNameFrom(layer, 1);
    return this.activation(y, [units], [0]);
  }

  private pad(): Value {
    const v = this.activationInput(0);
    const mode = this.attrString('mode', 'constant');
    if (mode !== 'constant') throw this.unsupported(`mode ${JSON.stringify(mode)}: only constant (zero) padding is supported`);
    const rank = v.shape.length + 1;
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = this.attrInts('pads', null) ?? [];
      value = this.attrFloat('value', 0);
    } else {
      pads = this.intsInput(1, 'pads');
      if (this.input(2)) value = this.scalarInput(2, 'constant_value');
    }
    const axes = this.input(3) ? this.intsInput(3, 'axes').map((x) => (x < 0 ? x + rank : x)) : identity(rank);
    if (pads.length !== 2 * axes.length) throw this.invalid(`pads [${pads.join(', ')}] do not fit ${axes.length} axes`);
    const before = new Array<number>(rank).fill(0);
    const after = new Array<number>(rank).fill(0);
    axes.forEach((axis, i) => {
      before[axis] = pads[i];
      after[axis] = pads[i + axes.length];
    });
    if ([...before, ...after].some((p) => p < 0)) throw this.unsupported('negative pads (cropping)');
    if ([...before, ...after].every((p) => p === 0)) return v;
    if (value !== 0) throw this.unsupported(`constant_value ${value}: only zero padding is supported`);
    if (rank !== 4 || before[0] || after[0] || before[1] || after[1]) throw this.unsupported(`pads [${pads.join(', ')}]: only padding of the spatial axes of NCHW activations is supported`);
    const name = this.layerName();
    const layer = new ZeroPadding2D(name, [before[2], after[2], before[3], after[3]]);
    const y = this.apply(layer, [this.inLayout(v, IMAGE, name)]);
    return this.activation(y, [v.shape[0], y.shape[0], y.shape[1]], IMAGE);
  }

  private constantNode(): Value {
    const node = this.node!;
    const a = node.attribute[0];
    if (!a || node.attribute.length !== 1) throw this.invalid('a Constant node needs exactly one value attribute');
    const what = `${this.source}: Constant ${JSON.stringify(node.name || node.output[0])}`;
    const tensor = (): HostTensor => {
      switch (a.name) {
        case 'value':
          if (!a.t) throw this.invalid('value has no tensor');
          return readTensor(a.t, this.options.externalData ? { source: this.source, externalData: this.options.externalData } : { source: this.source }, what);
        case 'value_float':
          return { shape: [], dtype: 'float', data: new Float32Array([a.f]) };
        case 'value_floats':
          return { shape: [a.floats.length], dtype: 'float', data: Float32Array.from(a.floats) };
        case 'value_int':
          return { shape: [], dtype: 'int', data: new Float64Array([int64(a.i, what)]) };
        case 'value_ints':
          return { shape: [a.ints.length], dtype: 'int', data: Float64Array.from(a.ints, (v) => int64(v, what)) };
        default:
          throw this.unsupported(`Constant attribute ${a.name}`);
      }
    };
    return { kind: 'constant', tensor: tensor() };
  }
}
