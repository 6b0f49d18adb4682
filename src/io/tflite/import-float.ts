// A float TFLite graph as our Model: one layer per operator (NHWC as TFLite), convolutions with their fused
// activation and any PAD before them, weights float32 (float16 constants and their DEQUANTIZE widened at load).

import { FormatError, asFormatError } from '../../errors.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { ReLU, ReLU6, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, Flatten, Reshape, ZeroPadding2D, input } from '../../nn/core.js';
import { Arithmetic, Clip, Concatenate, HardSwish, Sigmoid } from '../../nn/extra.js';
import type { Layer } from '../../nn/layer.js';
import { AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D } from '../../nn/pooling.js';
import { Resize } from '../../nn/resize.js';
import type { Activation } from '../../ops/activation.js';
import { Tensor, sameShape } from '../../tensor/tensor.js';
import { safeName } from '../graph-import/importer.js';
import { GraphConverter, convGeometry, transposeMatrix } from './convert-base.js';
import type { TfliteGraph, TfliteOperator } from './read.js';
import { constantFloats, constantInt32s } from './read.js';
import type { TfliteActivation } from './schema.js';

class FloatModelBuilder extends GraphConverter {
  private readonly values = new Map<number, SymbolicTensor>();
  /** Float constants by tensor: stored ones and the DEQUANTIZE of a float16 one. */
  private readonly constants = new Map<number, Float32Array>();
  private readonly names = new Set<string>();
  private readonly weights: { layer: Layer; name: string; value: Tensor }[] = [];

  /** A unique layer name from the output tensor's name. */
  private name(op: TfliteOperator, suffix = ''): string {
    const base = safeName(this.graph.tensors[op.outputs[0]].name) + suffix;
    let name = base;
    for (let k = 2; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  start(t: number): SymbolicTensor {
    const tensor = this.graph.tensors[t];
    if (tensor.type !== 'float32') throw new FormatError(`${this.source}: input ${tensor.name} is ${tensor.type}; a float model's input must be float32`);
    const x = input(tensor.shape.slice(1), safeName(tensor.name));
    this.values.set(t, x);
    return x;
  }

  value(op: TfliteOperator, k: number): SymbolicTensor {
    const v = this.values.get(op.inputs[k]);
    if (!v) throw new FormatError(`${this.where(op)}: input ${k} (tensor ${op.inputs[k]}) is ${this.constants.has(op.inputs[k]) || this.graph.tensors[op.inputs[k]]?.data ? 'a constant, where a computed value is expected' : 'computed after it'}`);
    return v;
  }

  constant(op: TfliteOperator, k: number): Float32Array {
    const t = op.inputs[k];
    return this.constants.get(t) ?? constantFloats(this.graph.tensors[t], this.source);
  }

  private apply(layer: Layer, inputs: SymbolicTensor[], weights: Record<string, Tensor> = {}): SymbolicTensor {
    const y = layer.apply(inputs);
    for (const [name, value] of Object.entries(weights)) this.weights.push({ layer, name, value });
    return y;
  }

  /** Applies a fused activation as its own layer (the conv and dense layers take ReLU and ReLU6 themselves). */
  private activate(op: TfliteOperator, y: SymbolicTensor, activation: TfliteActivation): SymbolicTensor {
    switch (activation) {
      case 'NONE':
        return y;
      case 'RELU':
        return this.apply(new ReLU(this.name(op, '_relu')), [y]);
      case 'RELU6':
        return this.apply(new ReLU6(this.name(op, '_relu6')), [y]);
      case 'RELU_N1_TO_1':
        return this.apply(new Clip(this.name(op, '_clip'), -1, 1), [y]);
      default:
        throw new FormatError(`${this.where(op)}: fused activation ${activation} is not supported`);
    }
  }

  private layerActivation(activation: TfliteActivation): Activation | null {
    return activation === 'NONE' ? 'linear' : activation === 'RELU' ? 'relu' : activation === 'RELU6' ? 'relu6' : null;
  }

  convert(op: TfliteOperator): void {
    const y = asFormatError(() => this.layerOf(op), (message) => new FormatError(`${this.where(op)}: ${message}`));
    if (y) this.values.set(op.outputs[0], y);
  }

  private layerOf(op: TfliteOperator): SymbolicTensor | null {
    const x = (k = 0): SymbolicTensor => this.value(op, k);
    switch (op.op) {
      case 'DEQUANTIZE': {
        const t = this.graph.tensors[op.inputs[0]];
        if (t.type !== 'float16' || !t.data) throw new FormatError(`${this.where(op)}: only float16 constants are dequantized in a float model (this is an int8 or mixed graph)`);
        this.constants.set(op.outputs[0], constantFloats(t, this.source));
        return null;
      }
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D':
        return this.conv(op);
      case 'FULLY_CONNECTED': {
        const [units, features] = this.graph.tensors[op.inputs[1]].shape;
        let v = x();
        if (v.shape.length !== 1) v = this.apply(new Flatten(this.name(op, '_flatten')), [v]);
        const hasBias = op.inputs[2] !== undefined && op.inputs[2] !== -1;
        const activation = this.layerActivation(op.options.activation);
        const layer = new Dense(this.name(op), { units, useBias: hasBias, activation: activation ?? 'linear' });
        const y = this.apply(layer, [v], { kernel: new Tensor([features, units], transposeMatrix(this.constant(op, 1), units, features)), ...(hasBias ? { bias: new Tensor([units], this.constant(op, 2)) } : {}) });
        return activation ? y : this.activate(op, y, op.options.activation);
      }
      case 'ADD':
      case 'MUL': {
        const arithmetic = op.op === 'ADD' ? 'add' : 'mul';
        const constantSide = [0, 1].find((k) => !this.values.has(op.inputs[k]));
        let y: SymbolicTensor;
        if (constantSide !== undefined) {
          const c = this.graph.tensors[op.inputs[constantSide]];
          const shape = c.shape.length > 1 && c.shape[0] === 1 ? c.shape.slice(1) : c.shape;
          y = this.apply(new Arithmetic(this.name(op), arithmetic, { value: new Tensor(shape, this.constant(op, constantSide)), side: constantSide === 0 ? 'left' : 'right' }), [x(1 - constantSide)]);
        } else if (op.op === 'ADD' && sameShape(x(0).shape, x(1).shape)) y = this.apply(new Add(this.name(op)), [x(0), x(1)]);
        else y = this.apply(new Arithmetic(this.name(op), arithmetic), [x(0), x(1)]);
        return this.activate(op, y, op.options.activation);
      }
      case 'PAD':
      case 'PADV2':
        return this.pad(op);
      case 'AVERAGE_POOL_2D':
      case 'MAX_POOL_2D': {
        const o = op.options;
        const options = { poolSize: [o.filterH, o.filterW] as [number, number], strides: [o.strideH, o.strideW] as [number, number], padding: o.padding === 'SAME' ? ('same' as const) : ('valid' as const), countIncludePad: false };
        const layer = op.op === 'AVERAGE_POOL_2D' ? new AveragePooling2D(this.name(op), options) : new MaxPooling2D(this.name(op), options);
        return this.activate(op, this.apply(layer, [x()]), o.activation);
      }
      case 'MEAN': {
        const shape = this.graph.tensors[op.inputs[0]].shape;
        const axes = Array.from(constantInt32s(this.graph.tensors[op.inputs[1]], this.source), (a) => (a < 0 ? a + shape.length : a)).sort();
        if (shape.length !== 4 || axes.join() !== '1,2') throw new FormatError(`${this.where(op)}: MEAN over axes [${axes.join(', ')}]: only the spatial mean (axes 1, 2 of NHWC) is supported`);
        return this.apply(new GlobalAveragePooling2D(this.name(op), op.options.keepDims), [x()]);
      }
      case 'RESHAPE':
      case 'SQUEEZE': {
        const target = this.graph.tensors[op.outputs[0]].shape.slice(1);
        return sameShape(target, x().shape) ? x() : this.apply(new Reshape(this.name(op), target), [x()]);
      }
      case 'SOFTMAX':
        if (op.options.beta !== 1) throw new FormatError(`${this.where(op)}: softmax with beta ${op.options.beta} is not supported (only 1)`);
        return this.apply(new Softmax(this.name(op)), [x()]);
      case 'LOGISTIC':
        return this.apply(new Sigmoid(this.name(op)), [x()]);
      case 'HARD_SWISH':
        return this.apply(new HardSwish(this.name(op)), [x()]);
      case 'RELU':
      case 'RELU6':
        return this.activate(op, x(), op.op);
      case 'CONCATENATION': {
        const rank = this.graph.tensors[op.outputs[0]].shape.length;
        const axis = op.options.axis < 0 ? op.options.axis + rank : op.options.axis;
        if (axis < 1) throw new FormatError(`${this.where(op)}: concatenation over the batch axis is not supported`);
        const y = this.apply(new Concatenate(this.name(op), axis - 1, op.inputs.length), op.inputs.map((_, k) => x(k)));
        return this.activate(op, y, op.options.activation);
      }
      case 'RESIZE_BILINEAR': {
        const size = constantInt32s(this.graph.tensors[op.inputs[1]], this.source);
        const coordinates = op.options.halfPixelCenters ? 'half-pixel' : op.options.alignCorners ? 'align-corners' : 'asymmetric';
        return this.apply(new Resize(this.name(op), { size: [size[0], size[1]] }, coordinates), [x()]);
      }
      default:
        throw new FormatError(`${this.where(op)}: ${op.op} is not supported in a float model`);
    }
  }

  private pad(op: TfliteOperator): SymbolicTensor | null {
    if (op.inputs[2] !== undefined && op.inputs[2] !== -1 && this.constant(op, 2).some((v) => v !== 0)) throw new FormatError(`${this.where(op)}: padding with a value other than 0 is not supported`);
    const { padding, folded } = this.padOf(op);
    return folded ? null : this.apply(new ZeroPadding2D(this.name(op), padding), [this.value(op, 0)]);
  }

  private conv(op: TfliteOperator & { op: 'CONV_2D' | 'DEPTHWISE_CONV_2D' }): SymbolicTensor {
    const folded = this.foldedPads.get(op.inputs[0]);
    const x = folded ? this.values.get(folded.input) : this.value(op, 0);
    if (!x) throw new FormatError(`${this.where(op)}: its padded input is computed after it`);
    const filter = this.graph.tensors[op.inputs[1]];
    const [o, kh, kw, i] = filter.shape as [number, number, number, number];
    const [h, w, c] = x.shape as [number, number, number];
    const depthwise = op.op === 'DEPTHWISE_CONV_2D';
    const cOut = depthwise ? i : o;
    const groups = depthwise ? c : c / i;
    if (filter.shape.length !== 4 || !Number.isInteger(groups) || (depthwise && (o !== 1 || cOut % c !== 0))) {
      throw new FormatError(`${this.where(op)}: filter [${filter.shape.join(', ')}] does not fit input [1, ${x.shape.join(', ')}]`);
    }
    const geometry = convGeometry(op.options, [kh, kw], h, w, groups, folded?.padding);
    const activation = this.layerActivation(op.options.activation);
    const hasBias = op.inputs[2] !== undefined && op.inputs[2] !== -1;
    const common = { kernelSize: [kh, kw] as [number, number], strides: geometry.strides as [number, number], dilations: geometry.dilations as [number, number], padding: geometry.padding, useBias: hasBias, activation: activation ?? 'linear' };
    const w8 = this.constant(op, 1);
    const bias: Record<string, Tensor> = hasBias ? { bias: new Tensor([cOut], this.constant(op, 2)) } : {};
    const y = depthwise
      ? this.apply(new DepthwiseConv2D(this.name(op), { ...common, depthMultiplier: cOut / c }), [x], { depthwise_kernel: new Tensor([kh, kw, 1, cOut], w8), ...bias })
      : this.apply(new Conv2D(this.name(op), { ...common, filters: cOut, groups }), [x], { kernel: new Tensor([kh, kw, i, cOut], transposeMatrix(w8, o, kh * kw * i)), ...bias });
    return activation ? y : this.activate(op, y, op.options.activation);
  }

  finish(inputSymbol: SymbolicTensor, name: string): Model {
    const outputs = this.graph.outputs.map((t) => {
      const y = this.values.get(t);
      if (!y) throw new FormatError(`${this.source}: output tensor ${t} (${this.graph.tensors[t].name}) is computed by no operator`);
      return y;
    });
    const named = outputs.length === 1 ? outputs[0] : Object.fromEntries(this.graph.outputs.map((t, k) => [safeName(this.graph.tensors[t].name), outputs[k]]));
    const model = new Model(inputSymbol, named, { name });
    for (const w of this.weights) w.layer.setParam(w.name, w.value);
    return model;
  }
}

/** The Model of a float graph whose operators `ops` (the input's TRANSPOSE, if any, left out) start at tensor `input`. */
export function floatModel(graph: TfliteGraph, inputTensor: number, ops: readonly TfliteOperator[], source: string, name: string): Model {
  const builder = new FloatModelBuilder(graph, source);
  const x = builder.start(inputTensor);
  for (const op of ops) builder.convert(op);
  return builder.finish(x, name);
}
