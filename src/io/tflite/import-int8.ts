// An int8 TFLite graph as a PlannedModel: each operator becomes the int8 plan step that computes what TFLite's int8
// kernel computes (src/graph/plan.ts), with TFLite's own multipliers made from the file's float32 scales.

import { FormatError } from '../../errors.js';
import type { Plan, PlannedModel, PlanTensor, Step } from '../../graph/plan.js';
import { addRequantization, requantization } from '../../quant/fixed-point.js';
import { softmaxTable } from '../../quant/int8-softmax.js';
import type { QParams } from '../../quant/qparams.js';
import { sizeOf } from '../../tensor/tensor.js';
import type { TfliteGraph, TfliteOperator, TfliteTensor } from './read.js';
import { GraphConverter, convGeometry, transposeMatrix } from './convert-base.js';
import { constantInt32s, constantInt8s } from './read.js';
import type { TfliteActivation } from './schema.js';

/** TFLite's CalculateActivationRangeQuantized: the fused activation's bounds quantized (f / scale in float32, rounded half away from zero). */
export function activationRange(activation: TfliteActivation, q: QParams, where: string): [number, number] {
  const quantized = (f: number): number => {
    const v = Math.fround(f / q.scale);
    return q.zeroPoint + Math.sign(v) * Math.round(Math.abs(v));
  };
  const within = (lo: number, hi: number): [number, number] => [Math.max(-128, lo), Math.min(127, hi)];
  switch (activation) {
    case 'NONE':
      return [-128, 127];
    case 'RELU':
      return within(quantized(0), 127);
    case 'RELU6':
      return within(quantized(0), quantized(6));
    case 'RELU_N1_TO_1':
      return within(quantized(-1), quantized(1));
    default:
      throw new FormatError(`${where}: fused activation ${activation} has no int8 form`);
  }
}

/** A step as an operator gives it: the importer names it and defines its output. */
type StepBody = Step extends infer S ? (S extends Step ? Omit<S, 'layers' | 'output'> : never) : never;

/** Builds the plan operator by operator; `values` maps a TFLite tensor to the plan tensor holding it. */
class Int8PlanBuilder extends GraphConverter {
  readonly tensors: PlanTensor[] = [];
  readonly steps: Step[] = [];
  readonly values = new Map<number, number>();

  /** A new plan tensor for TFLite tensor `t` (its shape without the batch axis). */
  define(t: number, shape = this.tensor(t).shape.slice(1)): number {
    const tensor = this.tensor(t);
    const q = tensor.quantization;
    const id = this.tensors.length;
    this.tensors.push({ id, shape, size: sizeOf(shape), name: tensor.name, ...(tensor.type === 'int8' && q ? { quant: { scale: q.scale[0], zeroPoint: q.zeroPoint[0] } } : {}) });
    this.values.set(t, id);
    return id;
  }

  /** The plan tensor of an operator's input, which an earlier operator (or the graph input) wrote. */
  value(op: TfliteOperator, k: number): number {
    const t = op.inputs[k];
    const id = this.values.get(t);
    if (id === undefined) throw new FormatError(`${this.where(op)}: input ${k} (tensor ${t}, ${this.tensor(t)?.name}) is neither a constant this op takes nor computed before it`);
    return id;
  }

  params(t: number, op: TfliteOperator): QParams {
    const tensor = this.tensor(t);
    const q = tensor.quantization;
    if (tensor.type !== 'int8' || !q || q.scale.length !== 1) throw new FormatError(`${this.where(op)}: tensor ${t} (${tensor.name}) should be int8 with one scale, but is ${tensor.type}${q ? ` with ${q.scale.length} scales` : ' without quantization'}`);
    return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] };
  }

  emit(op: TfliteOperator, step: StepBody, shape?: number[]): void {
    const output = this.define(op.outputs[0], shape);
    this.steps.push({ ...step, layers: [this.tensor(op.outputs[0]).name], output } as Step);
  }

  convert(op: TfliteOperator): void {
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D':
        return this.conv(op);
      case 'FULLY_CONNECTED':
        return this.dense(op);
      case 'ADD': {
        const [a, b, y] = [op.inputs[0], op.inputs[1], op.outputs[0]].map((t) => this.params(t, op));
        if (sizeOf(this.tensor(op.inputs[0]).shape) !== sizeOf(this.tensor(op.inputs[1]).shape)) throw new FormatError(`${this.where(op)}: broadcasting ADD is not supported`);
        return this.emit(op, { op: 'qadd', inputs: [this.value(op, 0), this.value(op, 1)], add: addRequantization(a, b, y, activationRange(op.options.activation, y, this.where(op))) });
      }
      case 'PAD':
      case 'PADV2':
        return this.pad(op);
      case 'MEAN':
        return this.mean(op);
      case 'RESHAPE':
      case 'SQUEEZE': {
        // a view: the plan tensor takes the new shape (its producer writes the same bytes)
        const id = this.value(op, 0);
        this.tensors[id].shape = this.tensor(op.outputs[0]).shape.slice(1);
        this.values.set(op.outputs[0], id);
        return;
      }
      case 'AVERAGE_POOL_2D':
      case 'MAX_POOL_2D':
        return this.pool(op);
      case 'QUANTIZE': {
        const input = this.tensor(op.inputs[0]);
        const y = this.params(op.outputs[0], op);
        if (input.type !== 'int8') return this.emit(op, { op: 'quantize', inputs: [this.value(op, 0)] });
        const x = this.params(op.inputs[0], op);
        return this.emit(op, { op: 'requantize', inputs: [this.value(op, 0)], inputZeroPoint: x.zeroPoint, requant: requantization([x.scale / y.scale], y.zeroPoint) });
      }
      case 'DEQUANTIZE':
        return this.emit(op, { op: 'dequantize', inputs: [this.value(op, 0)] });
      case 'SOFTMAX': {
        const x = this.params(op.inputs[0], op);
        this.params(op.outputs[0], op);
        const channels = this.tensor(op.inputs[0]).shape.at(-1)!;
        return this.emit(op, { op: 'qsoftmax', inputs: [this.value(op, 0)], channels, beta: op.options.beta, table: softmaxTable(x.scale, op.options.beta) });
      }
      case 'CONCATENATION': {
        const rank = this.tensor(op.outputs[0]).shape.length;
        if (op.options.axis !== -1 && op.options.axis !== rank - 1) throw new FormatError(`${this.where(op)}: int8 concatenation on axis ${op.options.axis}, not the channels, is not supported`);
        const y = this.params(op.outputs[0], op);
        op.inputs.forEach((t) => {
          const x = this.params(t, op);
          if (x.scale !== y.scale || x.zeroPoint !== y.zeroPoint) throw new FormatError(`${this.where(op)}: int8 concatenation of inputs whose parameters differ from the output's is not supported`);
        });
        return this.emit(op, { op: 'concat', inputs: op.inputs.map((_, k) => this.value(op, k)), blocks: op.inputs.map((t) => this.tensor(t).shape.at(-1)!) });
      }
      default:
        throw new FormatError(`${this.where(op)}: no int8 form of ${op.op} yet (mobilenet-ts runs int8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, PAD, MEAN, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX, RESHAPE, CONCATENATION, QUANTIZE, DEQUANTIZE)`);
    }
  }

  private pad(op: TfliteOperator): void {
    const { padding, folded } = this.padOf(op);
    if (!folded) this.emit(op, { op: 'pad', inputs: [this.value(op, 0)], padding });
  }

  private conv(op: TfliteOperator & { op: 'CONV_2D' | 'DEPTHWISE_CONV_2D' }): void {
    const where = this.where(op);
    const folded = this.foldedPads.get(op.inputs[0]);
    const inputT = folded ? folded.input : op.inputs[0];
    const x = this.params(inputT, op);
    const y = this.params(op.outputs[0], op);
    const filter = this.tensor(op.inputs[1]);
    const w = constantInt8s(filter, this.source);
    const [o, kh, kw, i] = filter.shape as [number, number, number, number];
    const [, inH, inW, inC] = this.tensor(inputT).shape as [number, number, number, number];
    const depthwise = op.op === 'DEPTHWISE_CONV_2D';
    const cOut = depthwise ? i : o;
    const groups = depthwise ? inC : inC / i;
    if (filter.shape.length !== 4 || !Number.isInteger(groups) || (depthwise && (o !== 1 || cOut % inC !== 0))) {
      throw new FormatError(`${where}: filter [${filter.shape.join(', ')}] does not fit input [${this.tensor(inputT).shape.join(', ')}]`);
    }
    const kernel = depthwise ? w : transposeMatrix(w, o, kh * kw * i);
    const input = folded ? this.values.get(inputT) : this.value(op, 0);
    if (input === undefined) throw new FormatError(`${where}: its padded input is computed after it`);
    const conv = convGeometry(op.options, [kh, kw], inH, inW, groups, folded?.padding);
    const outShape = this.tensor(op.outputs[0]).shape.slice(1) as [number, number, number];
    this.emit(op, {
      op: 'qconv',
      inputs: [input],
      kernel,
      kernelShape: [kh, kw, depthwise ? 1 : i, cOut],
      bias: this.bias(op, cOut),
      conv,
      inShape: [inH, inW, inC],
      outShape,
      inputZeroPoint: x.zeroPoint,
      requant: requantization(this.filterScales(filter, cOut, op).map((s) => (x.scale * s) / y.scale), y.zeroPoint, activationRange(op.options.activation, y, where)),
      residual: null,
      add: null,
    });
  }

  /** The filter's scales (symmetric: zero points 0), one per output channel or one for all. */
  private filterScales(filter: TfliteTensor, channels: number, op: TfliteOperator): number[] {
    const q = filter.quantization;
    if (!q || (q.scale.length !== 1 && q.scale.length !== channels) || q.zeroPoint.some((z) => z !== 0)) {
      throw new FormatError(`${this.where(op)}: filter ${filter.name} must be symmetric int8 with one scale or one per output channel`);
    }
    return q.scale;
  }

  private bias(op: TfliteOperator, channels: number): Int32Array {
    const t = op.inputs[2];
    if (t === undefined || t === -1) return new Int32Array(channels);
    const bias = constantInt32s(this.tensor(t), this.source);
    if (bias.length !== channels) throw new FormatError(`${this.where(op)}: bias has ${bias.length} values for ${channels} output channels`);
    return bias;
  }

  private dense(op: TfliteOperator & { op: 'FULLY_CONNECTED' }): void {
    const where = this.where(op);
    const x = this.params(op.inputs[0], op);
    const y = this.params(op.outputs[0], op);
    const weights = this.tensor(op.inputs[1]);
    const [units, features] = weights.shape as [number, number];
    if (weights.shape.length !== 2 || sizeOf(this.tensor(op.inputs[0]).shape.slice(1)) !== features) {
      throw new FormatError(`${where}: weights [${weights.shape.join(', ')}] do not fit input [${this.tensor(op.inputs[0]).shape.join(', ')}]`);
    }
    // TFLite's FULLY_CONNECTED takes sx·sw as a float32 product
    const multipliers = this.filterScales(weights, units, op).map((s) => Math.fround(x.scale * s) / y.scale);
    const kernel = transposeMatrix(constantInt8s(weights, this.source), units, features);
    this.emit(op, { op: 'qdense', inputs: [this.value(op, 0)], kernel, bias: this.bias(op, units), units, inputZeroPoint: x.zeroPoint, requant: requantization(multipliers, y.zeroPoint, activationRange(op.options.activation, y, where)) });
  }

  private mean(op: TfliteOperator & { op: 'MEAN' }): void {
    const shape = this.tensor(op.inputs[0]).shape;
    const axes = Array.from(constantInt32s(this.tensor(op.inputs[1]), this.source), (a) => (a < 0 ? a + shape.length : a)).sort();
    if (shape.length !== 4 || axes.join() !== '1,2') throw new FormatError(`${this.where(op)}: MEAN over axes [${axes.join(', ')}] of [${shape.join(', ')}]: only the spatial mean (axes 1, 2 of NHWC) is supported`);
    const x = this.params(op.inputs[0], op);
    const y = this.params(op.outputs[0], op);
    this.emit(op, { op: 'qglobalAvgPool', inputs: [this.value(op, 0)], inputZeroPoint: x.zeroPoint, requant: requantization([x.scale / (shape[1] * shape[2] * y.scale)], y.zeroPoint) });
  }

  private pool(op: TfliteOperator & { op: 'AVERAGE_POOL_2D' | 'MAX_POOL_2D' }): void {
    const where = this.where(op);
    const x = this.params(op.inputs[0], op);
    const y = this.params(op.outputs[0], op);
    if (x.scale !== y.scale || x.zeroPoint !== y.zeroPoint) throw new FormatError(`${where}: int8 pooling whose output parameters differ from its input's is not supported (TFLite requires them equal)`);
    const [, h, w] = this.tensor(op.inputs[0]).shape;
    const kernel: [number, number] = [op.options.filterH, op.options.filterW];
    const { strides, dilations, padding } = convGeometry(op.options, kernel, h, w, 1);
    const pool = { kernel, strides, dilations, padding, countIncludePad: false };
    const range = activationRange(op.options.activation, y, where);
    if (op.op === 'AVERAGE_POOL_2D') return this.emit(op, { op: 'qavgPool', inputs: [this.value(op, 0)], pool, range });
    if (range[0] !== -128 || range[1] !== 127) throw new FormatError(`${where}: int8 MAX_POOL_2D with a fused activation is not supported`);
    this.emit(op, { op: 'maxPool', inputs: [this.value(op, 0)], pool });
  }
}

/** The PlannedModel of an int8 graph whose operators `ops` (the input's TRANSPOSE, if any, left out) start at `input`. */
export function int8PlannedModel(graph: TfliteGraph, input: number, ops: readonly TfliteOperator[], source: string): PlannedModel {
  const builder = new Int8PlanBuilder(graph, source);
  const inputId = builder.define(input);
  for (const op of ops) builder.convert(op);
  const outputs = graph.outputs.map((t) => {
    const id = builder.values.get(t);
    if (id === undefined) throw new FormatError(`${source}: output tensor ${t} (${graph.tensors[t].name}) is computed by no operator`);
    return id;
  });
  const plan: Plan = { tensors: builder.tensors, steps: builder.steps, input: inputId, outputs };
  return { plan, outputNames: graph.outputs.map((t) => graph.tensors[t].name) };
}
