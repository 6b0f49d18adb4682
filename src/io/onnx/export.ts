// ONNX export of our models (opset 13 by default, as torch writes them): NCHW input `input` with a dynamic batch axis
// `N`, output `output` (several: the model's output names); convs OIHW, Dense as Gemm(transB=1), ReLU6 as Clip with Constant bounds, BatchNorm kept or folded.

import { ConfigError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import type { PlannedModel } from '../../graph/plan.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { ActivationLayer, Softmax } from '../../nn/activation.js';
import { ConvLayer } from '../../nn/conv.js';
import { Add, Dense, Dropout, InputLayer, Reshape, ZeroPadding2D } from '../../nn/core.js';
import { Arithmetic, Clip, Concatenate, Exp, HardSigmoid, HardSwish, Sigmoid, Transpose } from '../../nn/extra.js';
import { Slice } from '../../nn/slice.js';
import type { Layer } from '../../nn/layer.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import { ArgMax } from '../../nn/argmax.js';
import { Resize } from '../../nn/resize.js';
import type { Activation } from '../../ops/activation.js';
import type { ResizeCoordinates } from '../../ops/resize.js';
import { batchNormAffine } from '../../ops/normalization.js';
import type { Pool2DParams } from '../../ops/pool.js';
import { Tensor, transpose } from '../../tensor/tensor.js';
import { AttributeType, DataType, modelProtoType } from './schema.js';
import { qdqGraph } from './qdq-export.js';
import { floatTensorProto, int64TensorProto } from './tensors.js';

export interface OnnxExportOptions {
  /** Default operator set version, 13 (default) to 21. */
  opset?: number;
  /** Fold each BatchNorm into the conv or dense layer before it (as lowering does), instead of a BatchNormalization node. */
  foldBatchNorm?: boolean;
  /** Name of the graph input (default `input`) and, for a model with one output, of the output (default `output`); several outputs keep the model's names. */
  inputName?: string;
  outputName?: string;
  /** Symbolic name of the batch axis (default `N`). */
  batchName?: string;
  /** Key/value strings for the model's `metadata_props` (what the model needs beside its graph: see describeExport). */
  metadata?: Record<string, string>;
}

/** IR version that goes with each opset (onnx/helper.py's table): runtimes refuse a newer IR than they know. */
const IR_VERSION: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** Encodes `model` as an ONNX file; an int8 plan (a PlannedModel) in QDQ form (./qdq-export.ts). */
export function encodeOnnx(model: Model | PlannedModel, options: OnnxExportOptions = {}): Uint8Array {
  const type = modelProtoType();
  const proto = 'nodes' in model ? new OnnxExporter(model, options).build() : modelProto(qdqGraph(model, options, 'int8_plan'), options);
  return type.encode(type.fromObject(proto)).finish();
}

type Message = Record<string, unknown>;

/** The ModelProto around `graph`: opset and its IR version, producer, metadata. */
function modelProto(graph: Message, options: OnnxExportOptions): Message {
  const opset = options.opset ?? 13;
  if (!(opset in IR_VERSION)) throw new ConfigError(`ONNX export: opset ${opset} is not supported (13 to 21)`);
  return {
    irVersion: IR_VERSION[opset],
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'mobilenet-ts',
    producerVersion: '0.1.0',
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph,
  };
}

const IMAGE_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_IMAGE = [0, 2, 3, 1];

/** Our resize conventions as ONNX coordinate_transformation_mode (linear mode clamps to the edge as ours does). */
const COORDINATE_MODES: Readonly<Record<ResizeCoordinates, string>> = { 'half-pixel': 'half_pixel', 'align-corners': 'align_corners', asymmetric: 'asymmetric' };

const ints = (name: string, values: readonly number[]): Message => ({ name, type: AttributeType.INTS, ints: [...values] });
const int = (name: string, value: number): Message => ({ name, type: AttributeType.INT, i: value });
const float = (name: string, value: number): Message => ({ name, type: AttributeType.FLOAT, f: value });
const string = (name: string, value: string): Message => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });

/** Whether a rank-3 per-sample tensor [H, W, C] has the same element order in NHWC and NCHW (only one axis longer than 1). */
const imageOrderAgrees = (shape: readonly number[]): boolean => shape.filter((d) => d !== 1).length <= 1;

class OnnxExporter {
  private readonly opset: number;
  private readonly nodes: Message[] = [];
  private readonly initializers: Message[] = [];
  private readonly valueOf = new Map<SymbolicTensor, string>();
  /** Value and initializer names taken (one namespace in ONNX), and node names taken (another). */
  private readonly used = new Set<string>();
  private readonly nodeNames = new Set<string>();
  /** BatchNorm layers folded into the layer before them, and that layer's folded kernel and bias (ours, HWIO or [in, out]). */
  private readonly folded = new Map<Layer, { kernel: Tensor; bias: Float32Array }>();
  private readonly inputName: string;
  /** The graph output's name for each model output, in `outputNames` order. */
  private readonly outputNames: string[];

  constructor(
    private readonly model: Model,
    private readonly options: OnnxExportOptions,
  ) {
    this.opset = options.opset ?? 13;
    this.inputName = options.inputName ?? 'input';
    this.outputNames = model.outputNames.length === 1 ? [options.outputName ?? 'output'] : [...model.outputNames];
    this.used.add(this.inputName);
    for (const name of this.outputNames) {
      if (this.used.has(name)) throw new ConfigError(`ONNX export: output name ${JSON.stringify(name)} is taken by the graph input or another output`);
      this.used.add(name);
    }
    if (options.foldBatchNorm) this.planFolds();
  }

  build(): Message {
    const batch = { dimParam: this.options.batchName ?? 'N' };
    const dims = (shape: readonly number[]): Message[] => [batch, ...this.onnxShape(shape).map((d) => ({ dimValue: d }))];
    for (const node of this.model.nodes) this.exportNode(node.layer, node.inputs, node.output);
    // each output's value takes the output's name wherever it appears; the input, or a value already named as another output, goes through an Identity
    const named = new Map<string, string>();
    this.model.outputNames.forEach((modelName, k) => {
      const value = this.valueOf.get(this.model.outputTensor(modelName))!;
      const name = this.outputNames[k];
      const earlier = named.get(value);
      if (value === this.inputName || earlier !== undefined) {
        this.nodes.push({ name: this.fresh(`${name}_identity`, this.nodeNames), opType: 'Identity', input: [earlier ?? value], output: [name], attribute: [] });
        return;
      }
      for (const n of this.nodes) for (const key of ['input', 'output'] as const) n[key] = (n[key] as string[]).map((v) => (v === value ? name : v));
      named.set(value, name);
    });
    const valueInfo = (name: string, shape: readonly number[]): Message => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims(shape) } } } });
    return modelProto(
      {
        name: this.model.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(this.inputName, this.model.inputShape)],
        output: this.model.outputNames.map((modelName, k) => valueInfo(this.outputNames[k], this.model.outputTensor(modelName).shape)),
      },
      this.options,
    );
  }

  /** ONNX per-sample shape of one of ours: images [H, W, C] are [C, H, W] there. */
  private onnxShape(shape: readonly number[]): number[] {
    return shape.length === 3 ? [shape[2], shape[0], shape[1]] : [...shape];
  }

  private fresh(base: string, taken = this.used): string {
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  }

  /** Appends a node named `name` (a layer's main node carries the layer's name, so import gives it back); returns its output. */
  private node(opType: string, name: string, inputs: string[], attribute: Message[] = []): string {
    const output = this.fresh(name);
    this.nodes.push({ name: this.fresh(name, this.nodeNames), opType, input: inputs, output: [output], attribute });
    return output;
  }

  private initializer(name: string, tensor: Message): string {
    const unique = this.fresh(name);
    this.initializers.push({ ...tensor, name: unique });
    return unique;
  }

  private floatInitializer(name: string, shape: readonly number[], values: Float32Array): string {
    return this.initializer(name, floatTensorProto(name, shape, values));
  }

  /** A scalar float as a Constant node (as torch writes Clip's bounds). */
  private scalarConstant(name: string, value: number): string {
    return this.node('Constant', name, [], [{ name: 'value', type: AttributeType.TENSOR, t: floatTensorProto('', [], new Float32Array([value])) }]);
  }

  private activationNode(activation: Activation | 'clip', name: string, x: string, range: readonly [number, number] = [0, 6]): string {
    switch (activation) {
      case 'linear':
        return x;
      case 'relu':
        return this.node('Relu', name, [x]);
      case 'relu6':
      case 'clip': {
        const [lo, hi] = activation === 'relu6' ? [0, 6] : range;
        const inputs = [x, lo === -Infinity ? '' : this.scalarConstant(`${name}_min`, lo), hi === Infinity ? '' : this.scalarConstant(`${name}_max`, hi)];
        while (inputs.at(-1) === '') inputs.pop();
        return this.node('Clip', name, inputs);
      }
    }
  }

  /** Which BatchNorms fold: those reading a linear conv or dense whose output nothing else reads. */
  private planFolds(): void {
    const readers = new Map<SymbolicTensor, number>();
    for (const node of this.model.nodes) for (const t of node.inputs) readers.set(t, (readers.get(t) ?? 0) + 1);
    for (const node of this.model.nodes) {
      const bn = node.layer;
      if (!(bn instanceof BatchNormalization)) continue;
      const producer = node.inputs[0].node?.layer;
      if (!(producer instanceof ConvLayer || producer instanceof Dense) || producer.activation !== 'linear' || readers.get(node.inputs[0]) !== 1 || node.inputs[0] === this.model.output) continue;
      const { scale, shift } = batchNormAffine({ gamma: bn.param('gamma').data, beta: bn.param('beta').data, mean: bn.param('moving_mean').data, variance: bn.param('moving_variance').data, epsilon: bn.epsilon });
      // the same float32 arithmetic as lowering's fold, so the exported graph computes what our engine does
      const kernel = producer instanceof ConvLayer ? producer.kernel.clone() : producer.param('kernel').clone();
      const c = scale.length;
      for (let i = 0; i < kernel.data.length; i++) kernel.data[i] *= scale[i % c];
      const given = producer instanceof ConvLayer ? producer.bias : producer.useBias ? producer.param('bias').data : null;
      const bias = new Float32Array(c);
      for (let i = 0; i < c; i++) bias[i] = (given ? given[i] : 0) * scale[i] + shift[i];
      this.folded.set(producer, { kernel, bias });
      this.folded.set(bn, { kernel, bias });
    }
  }

  private prefix(layer: Layer): string {
    return layer.torchName ?? layer.name;
  }

  private exportNode(layer: Layer, inputs: readonly SymbolicTensor[], output: SymbolicTensor): void {
    const set = (value: string): void => void this.valueOf.set(output, value);
    if (layer instanceof InputLayer) return set(this.inputName);
    const xs = inputs.map((t) => this.valueOf.get(t)!);
    const [x] = xs;
    const inShape = inputs[0].shape;
    const image = inShape.length === 3;
    const name = layer.name;
    if (layer instanceof ConvLayer) {
      const fold = this.folded.get(layer);
      const kernel = fold?.kernel ?? layer.kernel;
      const bias = fold?.bias ?? layer.bias;
      const [kh, kw] = layer.kernelSize;
      const { strides, dilations, padding, groups } = layer.conv;
      const w = transpose(kernel, [3, 2, 0, 1]);
      const operands = [x, this.floatInitializer(`${this.prefix(layer)}.weight`, w.shape, w.data)];
      if (bias) operands.push(this.floatInitializer(`${this.prefix(layer)}.bias`, [bias.length], bias));
      const attributes = [ints('dilations', dilations), int('group', groups), ints('kernel_shape', [kh, kw]), ints('pads', [padding[0], padding[2], padding[1], padding[3]]), ints('strides', strides)];
      const y = this.node('Conv', name, operands, attributes);
      return set(this.activationNode(layer.activation, `${name}_${layer.activation}`, y));
    }
    if (layer instanceof Dense) {
      const fold = this.folded.get(layer);
      const kernel = fold?.kernel ?? layer.param('kernel');
      const bias = fold?.bias ?? (layer.useBias ? layer.param('bias').data : null);
      const w = transpose(kernel, [1, 0]);
      const operands = [x, this.floatInitializer(`${this.prefix(layer)}.weight`, w.shape, w.data)];
      if (bias) operands.push(this.floatInitializer(`${this.prefix(layer)}.bias`, [bias.length], bias));
      const y = this.node('Gemm', name, operands, [float('alpha', 1), float('beta', 1), int('transB', 1)]);
      return set(this.activationNode(layer.activation, `${name}_${layer.activation}`, y));
    }
    if (layer instanceof BatchNormalization) {
      if (this.folded.has(layer)) return set(x);
      // ONNX normalizes axis 1; ours the last axis, which is axis 1 there for images and feature vectors, else moved there and back
      const rank = inShape.length + 1;
      const toFront = image || rank === 2 ? null : [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
      const input = toFront ? this.node('Transpose', `${name}_channels_first`, [x], [ints('perm', toFront)]) : x;
      const p = this.prefix(layer);
      const operands = [input, ...(['weight', 'bias', 'running_mean', 'running_var'] as const).map((suffix, i) => {
        const t = layer.param(['gamma', 'beta', 'moving_mean', 'moving_variance'][i]);
        return this.floatInitializer(`${p}.${suffix}`, t.shape, t.data);
      })];
      const y = this.node('BatchNormalization', name, operands, [float('epsilon', layer.epsilon), float('momentum', layer.momentum)]);
      return set(toFront ? this.node('Transpose', `${name}_channels_last`, [y], [ints('perm', toFront.map((_, i) => toFront.indexOf(i)))]) : y);
    }
    if (layer instanceof ActivationLayer) return set(layer.activation === 'linear' ? x : this.activationNode(layer.activation, name, x));
    if (layer instanceof Clip) return set(this.activationNode('clip', name, x, [layer.lo, layer.hi]));
    if (layer instanceof Sigmoid) return set(this.node('Sigmoid', name, [x]));
    if (layer instanceof Exp) return set(this.node('Exp', name, [x]));
    if (layer instanceof HardSigmoid) return set(this.node('HardSigmoid', name, [x], [float('alpha', layer.alpha), float('beta', layer.beta)]));
    if (layer instanceof HardSwish) {
      if (this.opset >= 14) return set(this.node('HardSwish', name, [x]));
      // HardSwish is opset 14: x · HardSigmoid(x, 1/6, 1/2) before it
      const gate = this.node('HardSigmoid', name, [x], [float('alpha', 1 / 6), float('beta', 0.5)]);
      return set(this.node('Mul', `${name}_mul`, [x, gate]));
    }
    if (layer instanceof Add) return set(this.node('Add', name, xs));
    if (layer instanceof Arithmetic) {
      const opType = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[layer.op];
      if (!layer.constant) return set(this.node(opType, name, xs));
      const c = layer.constant.value;
      // per-sample constants of images go to NCHW: padded to [h, w, c], then [c, h, w]
      const value = image ? transpose(c.reshape([...new Array<number>(3 - c.rank).fill(1), ...c.shape]), [2, 0, 1]) : c;
      const constant = this.floatInitializer(`${name}.constant`, value.shape, value.data);
      return set(this.node(opType, name, layer.constant.side === 'left' ? [constant, x] : [x, constant]));
    }
    if (layer instanceof Concatenate) {
      const axis = layer.axis < 0 ? layer.axis + inShape.length : layer.axis;
      return set(this.node('Concat', name, xs, [int('axis', image ? [2, 3, 1][axis] : axis + 1)]));
    }
    if (layer instanceof Transpose) {
      // ONNX axes of ours: an image is NCHW there, so its per-sample perm goes through [C, H, W] ↔ [H, W, C]
      const toOnnx = (rank: number): number[] => (rank === 3 ? [2, 0, 1] : Array.from({ length: rank }, (_, i) => i));
      const fromOnnx = (rank: number): number[] => (rank === 3 ? [1, 2, 0] : Array.from({ length: rank }, (_, i) => i));
      const a = fromOnnx(inShape.length);
      const back = toOnnx(layer.perm.length);
      const perm = back.map((i) => a[layer.perm[i]]);
      return set(this.node('Transpose', name, [x], [ints('perm', [0, ...perm.map((p) => p + 1)])]));
    }
    if (layer instanceof GlobalAveragePooling2D || layer instanceof GlobalMaxPooling2D) {
      const opType = layer instanceof GlobalAveragePooling2D ? 'GlobalAveragePool' : 'GlobalMaxPool';
      const pooled = this.node(opType, name, [x]);
      return set(layer.keepDims ? pooled : this.node('Flatten', `${name}_flatten`, [pooled], [int('axis', 1)]));
    }
    if (layer instanceof AveragePooling2D || layer instanceof MaxPooling2D) {
      const pool = (layer as unknown as { pool: Pool2DParams }).pool;
      const attributes = [ints('kernel_shape', pool.kernel), ints('pads', [pool.padding[0], pool.padding[2], pool.padding[1], pool.padding[3]]), ints('strides', pool.strides)];
      if (layer instanceof AveragePooling2D) attributes.push(int('count_include_pad', pool.countIncludePad ? 1 : 0));
      const opType = layer instanceof AveragePooling2D ? 'AveragePool' : 'MaxPool';
      return set(this.node(opType, name, [x], attributes));
    }
    if (layer instanceof ZeroPadding2D) {
      const [t, b, l, r] = layer.padding;
      const pads = this.initializer(`${name}.pads`, int64TensorProto('', [8], [0, 0, t, l, 0, 0, b, r]));
      return set(this.node('Pad', name, [x, pads], [string('mode', 'constant')]));
    }
    if (layer instanceof Resize) return set(this.resize(layer, x));
    if (layer instanceof ArgMax) {
      // ONNX's ArgMax gives int64: cast back to the float labels ours holds
      const labels = this.node('ArgMax', name, [x], [int('axis', image ? 1 : -1), int('keepdims', 0)]);
      return set(this.node('Cast', `${name}_float`, [labels], [int('to', DataType.FLOAT)]));
    }
    if (layer instanceof Slice) {
      // an image's per-sample axes [H, W, C] are ONNX axes 2, 3, 1
      const axis = image ? [2, 3, 1][layer.axis] : layer.axis + 1;
      const int64 = (suffix: string, value: number): string => this.initializer(`${name}.${suffix}`, int64TensorProto('', [1], [value]));
      return set(this.node('Slice', name, [x, int64('starts', layer.begin), int64('ends', layer.begin + layer.size), int64('axes', axis)]));
    }
    if (layer instanceof Dropout) return set(x);
    if (layer instanceof Reshape) return set(this.reshape(layer, x, inShape, output.shape));
    if (layer instanceof Softmax) return set(this.node('Softmax', name, [x], [int('axis', image ? 1 : -1)]));
    throw new ConfigError(`ONNX export: layer ${name} of kind ${layer.kind} has no ONNX equivalent here`);
  }

  /** Resize with `sizes` = [N, C] of the input (Shape, Slice: the batch stays open) then our [height, width], as torch writes it. */
  private resize(layer: Resize, x: string): string {
    const name = layer.name;
    const shape = this.node('Shape', `${name}_shape`, [x]);
    const int64 = (suffix: string, values: number[]): string => this.initializer(`${name}.${suffix}`, int64TensorProto('', [values.length], values));
    const batchAndChannels = this.node('Slice', `${name}_batch_channels`, [shape, int64('starts', [0]), int64('ends', [2]), int64('axes', [0])]);
    const sizes = this.node('Concat', `${name}_sizes`, [batchAndChannels, int64('size', layer.size)], [int('axis', 0)]);
    const attributes = [string('coordinate_transformation_mode', COORDINATE_MODES[layer.coordinates]), string('mode', 'linear')];
    return this.node('Resize', name, [x, '', '', sizes], attributes);
  }

  /** Our reshapes work on NHWC element order: images go to NHWC in ONNX first and back to NCHW after. */
  private reshape(layer: Reshape, x: string, inShape: readonly number[], outShape: readonly number[]): string {
    const name = layer.name;
    let value = x;
    if (inShape.length === 3 && !imageOrderAgrees(inShape)) value = this.node('Transpose', `${name}_to_nhwc`, [value], [ints('perm', NCHW_TO_IMAGE)]);
    if (outShape.length === 1) return this.node('Flatten', name, [value], [int('axis', 1)]);
    const target = this.initializer(`${name}.shape`, int64TensorProto('', [outShape.length + 1], [0, ...outShape]));
    value = this.node('Reshape', name, [value, target]);
    if (outShape.length !== 3) return value;
    return imageOrderAgrees(outShape)
      ? this.node('Reshape', `${name}_to_nchw`, [value, this.initializer(`${name}.nchw_shape`, int64TensorProto('', [4], [0, ...this.onnxShape(outShape)]))])
      : this.node('Transpose', `${name}_to_nchw`, [value], [ints('perm', IMAGE_TO_NCHW)]);
  }
}
