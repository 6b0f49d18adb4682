// ONNX export of int8 plans in QDQ form: each int8 tensor a QuantizeLinear output, read through DequantizeLinear by
// float Conv/Gemm/Add/pools, int8 weights per output channel (axis 0 of OIHW) and int32 biases through DequantizeLinear.

import { ConfigError } from '../../errors.js';
import type { ConvStep, Plan, PlannedModel, QConvStep, Step } from '../../graph/plan.js';
import type { Conv2DParams } from '../../ops/conv2d.js';
import type { Pool2DParams } from '../../ops/pool.js';
import type { Requantization } from '../../quant/fixed-point.js';
import type { QParams } from '../../quant/qparams.js';
import { AttributeType, DataType } from './schema.js';
import type { OnnxExportOptions } from './export.js';
import { floatTensorProto, int64TensorProto } from './tensors.js';

type Message = Record<string, unknown>;

/** An INT8 or INT32 TensorProto as little-endian raw_data. */
export function integerTensorProto(name: string, shape: readonly number[], values: Int8Array | Int32Array): Message {
  const rawData = new Uint8Array(values.byteLength);
  const view = new DataView(rawData.buffer);
  values.forEach((v, i) => (values instanceof Int8Array ? view.setInt8(i, v) : view.setInt32(4 * i, v, true)));
  return { name, dims: [...shape], dataType: values instanceof Int8Array ? DataType.INT8 : DataType.INT32, rawData };
}

/** The real multiplier of channel c of a fixed-point requantization: multiplier·2^(shift − 31). */
export function realMultiplier(r: Requantization, c: number): number {
  const k = r.multiplier.length === 1 ? 0 : c;
  return r.multiplier[k] * 2 ** (r.shift[k] - 31);
}

const ints = (name: string, values: readonly number[]): Message => ({ name, type: AttributeType.INTS, ints: [...values] });
const int = (name: string, value: number): Message => ({ name, type: AttributeType.INT, i: value });

/** ONNX per-sample shape of a plan tensor: images [H, W, C] are [C, H, W] there. */
const onnxShape = (shape: readonly number[]): number[] => (shape.length === 3 ? [shape[2], shape[0], shape[1]] : [...shape]);
/** ONNX's pads [top, left, bottom, right] of ours [top, bottom, left, right]. */
const onnxPads = (p: readonly number[]): number[] => [p[0], p[2], p[1], p[3]];

/** HWIO [kh, kw, i, o] → OIHW. */
function toOIHW<T extends Int8Array | Float32Array>(kernel: T, [kh, kw, ci, co]: readonly number[]): T {
  const out = new (kernel.constructor as new (n: number) => T)(kernel.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = kernel[((y * kw + x) * ci + i) * co + o];
  return out;
}

/** A convolution's weights and geometry, float or int8, in the form both exports share. */
interface ConvShape {
  kernelShape: readonly [number, number, number, number];
  conv: Conv2DParams;
}

/** Builds the QDQ graph of an int8 plan: value names per plan tensor, nodes and initializers. */
class QdqExporter {
  private readonly nodes: Message[] = [];
  private readonly initializers: Message[] = [];
  private readonly used = new Set<string>();
  /** The ONNX value holding each plan tensor: int8 for a tensor with `quant`, float otherwise. */
  private readonly values = new Map<number, string>();
  /** Each int8 tensor's DequantizeLinear output, made once. */
  private readonly dequantized = new Map<number, string>();
  private readonly plan: Plan;

  constructor(
    private readonly model: PlannedModel,
    private readonly options: OnnxExportOptions,
  ) {
    this.plan = model.plan;
  }

  graph(name: string): Message {
    const { plan } = this;
    const inputName = this.options.inputName ?? 'input';
    this.used.add(inputName);
    const outputNames = plan.outputs.length === 1 ? [this.options.outputName ?? 'output'] : [...this.model.outputNames];
    for (const n of outputNames) this.used.add(n);
    this.values.set(plan.input, inputName);
    for (const step of plan.steps) this.values.set(step.output, this.step(step));
    outputNames.forEach((n, k) => {
      const t = plan.outputs[k];
      this.nodes.push({ name: this.fresh(`${n}_identity`), opType: 'Identity', input: [this.float(t)], output: [n], attribute: [] });
    });
    const batch = { dimParam: this.options.batchName ?? 'N' };
    const info = (n: string, t: number, elemType: number): Message => ({ name: n, type: { tensorType: { elemType, shape: { dim: [batch, ...onnxShape(plan.tensors[t].shape).map((d) => ({ dimValue: d }))] } } } });
    const inputType = plan.tensors[plan.input].quant ? DataType.INT8 : DataType.FLOAT;
    return { name, node: this.nodes, initializer: this.initializers, input: [info(inputName, plan.input, inputType)], output: outputNames.map((n, k) => info(n, plan.outputs[k], DataType.FLOAT)) };
  }

  private fresh(base: string): string {
    let n = base;
    for (let k = 2; this.used.has(n); k++) n = `${base}_${k}`;
    this.used.add(n);
    return n;
  }

  private node(opType: string, name: string, inputs: string[], attribute: Message[] = []): string {
    const output = this.fresh(name);
    this.nodes.push({ name: output, opType, input: inputs, output: [output], attribute });
    return output;
  }

  private initializer(name: string, tensor: Message): string {
    const unique = this.fresh(name);
    this.initializers.push({ ...tensor, name: unique });
    return unique;
  }

  private quant(t: number): QParams {
    const q = this.plan.tensors[t].quant;
    if (!q) throw new ConfigError(`QDQ export: tensor ${this.plan.tensors[t].name} (${t}) is read as int8 but holds float32`);
    return q;
  }

  /** Scale and zero point initializers of `p` (per tensor). */
  private qparams(name: string, p: QParams): [string, string] {
    return [this.initializer(`${name}.scale`, floatTensorProto('', [], Float32Array.of(p.scale))), this.initializer(`${name}.zero_point`, integerTensorProto('', [], Int8Array.of(p.zeroPoint)))];
  }

  private quantizeValue(x: string, p: QParams, name: string): string {
    return this.node('QuantizeLinear', `${name}_quantize`, [x, ...this.qparams(name, p)]);
  }

  private dequantizeValue(q: string, p: QParams, name: string): string {
    return this.node('DequantizeLinear', `${name}_dequantize`, [q, ...this.qparams(name, p)]);
  }

  /** Plan tensor t as float: its value, or its int8 value dequantized (once). */
  private float(t: number): string {
    const value = this.values.get(t)!;
    const q = this.plan.tensors[t].quant;
    if (!q) return value;
    let dq = this.dequantized.get(t);
    if (dq === undefined) this.dequantized.set(t, (dq = this.dequantizeValue(value, q, this.plan.tensors[t].name)));
    return dq;
  }

  /** Clip to [lo, hi] (either may be infinite), or x itself without bounds. */
  private clip(x: string, [lo, hi]: readonly [number, number], name: string): string {
    if (lo === -Infinity && hi === Infinity) return x;
    const bound = (suffix: string, v: number): string => (Number.isFinite(v) ? this.initializer(`${name}.${suffix}`, floatTensorProto('', [], Float32Array.of(v))) : '');
    const inputs = [x, bound('min', lo), bound('max', hi)];
    while (inputs.at(-1) === '') inputs.pop();
    return this.node('Clip', `${name}_clip`, inputs);
  }

  /** The real interval of int8 range [lo, hi] under `p`, infinite at the ends of int8 (where saturation clamps anyway). */
  private realRange(range: readonly [number, number], p: QParams): [number, number] {
    return [range[0] <= -128 ? -Infinity : p.scale * (range[0] - p.zeroPoint), range[1] >= 127 ? Infinity : p.scale * (range[1] - p.zeroPoint)];
  }

  private convNode(x: string, s: ConvShape, weight: string, bias: string, name: string): string {
    const { strides, dilations, padding, groups } = s.conv;
    const attributes = [ints('dilations', dilations), int('group', groups), ints('kernel_shape', [s.kernelShape[0], s.kernelShape[1]]), ints('pads', onnxPads(padding)), ints('strides', strides)];
    return this.node('Conv', name, [x, weight, bias], attributes);
  }

  /** The plan tensor t flattened to [N, features] in our (NHWC) element order. */
  private flat(x: string, t: number, name: string): string {
    const shape = this.plan.tensors[t].shape;
    if (shape.length === 1) return x;
    const nhwc = shape.length === 3 && shape.filter((d) => d !== 1).length > 1 ? this.node('Transpose', `${name}_to_nhwc`, [x], [ints('perm', [0, 2, 3, 1])]) : x;
    return this.node('Flatten', `${name}_flatten`, [nhwc], [int('axis', 1)]);
  }

  /**
   * Int8 weights [O, I, kh, kw] (or [O, I] for Gemm) and the int32 bias, each through a per-channel DequantizeLinear:
   * weight scale sw[c] = m[c]·sy/sx (the requantization's real multiplier), bias scale sx·sw[c].
   */
  private int8Weights(weights: Int8Array, shape: readonly number[], bias: Int32Array, r: Requantization, sx: number, sy: number, name: string): [string, string] {
    const channels = bias.length;
    const sw = Float32Array.from({ length: channels }, (_, c) => (realMultiplier(r, c) * sy) / sx);
    const axis = [int('axis', 0)];
    const w = this.initializer(`${name}.weight_quantized`, integerTensorProto('', shape, weights));
    const wScale = this.initializer(`${name}.weight_scale`, floatTensorProto('', [channels], sw));
    const wZero = this.initializer(`${name}.weight_zero_point`, integerTensorProto('', [channels], new Int8Array(channels)));
    const b = this.initializer(`${name}.bias_quantized`, integerTensorProto('', [channels], bias));
    const bScale = this.initializer(`${name}.bias_scale`, floatTensorProto('', [channels], sw.map((s) => sx * s)));
    const bZero = this.initializer(`${name}.bias_zero_point`, integerTensorProto('', [channels], new Int32Array(channels)));
    return [this.node('DequantizeLinear', `${name}_weight`, [w, wScale, wZero], axis), this.node('DequantizeLinear', `${name}_bias`, [b, bScale, bZero], axis)];
  }

  /**
   * An int8 convolution from int8 value `x` (parameters `px`) to parameters `py`: DQ → Conv → clamp → Q, then for a
   * residual DQ → Add(DQ(residual)) → clamp → Q. The convolution's own result is on the scale the add's operand
   * multipliers imply (sa = sr·ma/mr: TFLite's ADD rescales each operand by s/(2·max(sa, sr))).
   */
  private qconv(s: QConvStep, x: string, px: QParams, residual: number | null, py: QParams): string {
    const name = s.layers[0];
    const inputParams = { scale: px.scale, zeroPoint: s.inputZeroPoint };
    const xf = x === this.values.get(s.inputs[0]) && px.zeroPoint === s.inputZeroPoint ? this.float(s.inputs[0]) : this.dequantizeValue(x, inputParams, `${name}_input`);
    let convParams = py;
    if (residual !== null) {
      if (!s.add) throw new ConfigError(`QDQ export: step ${name} has a residual but no add parameters`);
      const mr = s.add.b.multiplier * 2 ** (s.add.b.shift - 31);
      const ma = s.add.a.multiplier * 2 ** (s.add.a.shift - 31);
      convParams = { scale: Math.fround((this.quant(residual).scale * ma) / mr), zeroPoint: s.requant.zeroPoint };
    }
    const [w, b] = this.int8Weights(toOIHW(s.kernel, s.kernelShape), [s.kernelShape[3], s.kernelShape[2], s.kernelShape[0], s.kernelShape[1]], s.bias, s.requant, px.scale, convParams.scale, name);
    const y = this.clip(this.convNode(xf, s, w, b, name), this.realRange(s.requant.range, convParams), name);
    const q = this.quantizeValue(y, { scale: convParams.scale, zeroPoint: s.requant.zeroPoint }, name);
    if (residual === null || !s.add) return q;
    const sum = this.node('Add', `${name}_add`, [this.dequantizeValue(q, convParams, `${name}_result`), this.float(residual)]);
    return this.quantizeValue(this.clip(sum, this.realRange(s.add.range, py), `${name}_add`), py, `${name}_sum`);
  }

  private floatConv(s: ConvStep, x: string, residual: string | null): string {
    const name = s.layers[0];
    const [kh, kw, ci, co] = s.kernelShape;
    const w = this.initializer(`${name}.weight`, floatTensorProto('', [co, ci, kh, kw], toOIHW(s.kernel, s.kernelShape)));
    const b = this.initializer(`${name}.bias`, floatTensorProto('', [co], s.bias));
    let y = this.convNode(x, s, w, b, name);
    if (residual !== null) y = this.node('Add', `${name}_add`, [y, residual]);
    return this.clip(y, s.clamp ?? [-Infinity, Infinity], name);
  }

  /** A step whose float result is quantized to its output's parameters when the output holds int8. */
  private viaFloat(s: Step, y: string): string {
    const q = this.plan.tensors[s.output].quant;
    return q ? this.quantizeValue(y, q, s.layers[0]) : y;
  }

  private pool(s: Step & { pool: Pool2DParams }, opType: 'AveragePool' | 'MaxPool'): string {
    const { pool } = s;
    const attributes = [ints('kernel_shape', pool.kernel), ints('pads', onnxPads(pool.padding)), ints('strides', pool.strides)];
    if (opType === 'AveragePool') attributes.push(int('count_include_pad', pool.countIncludePad ? 1 : 0));
    return this.node(opType, s.layers[0], [this.float(s.inputs[0])], attributes);
  }

  /** The value of a step's output: int8 for the q-steps and int8 tensors, float for the rest. */
  private step(s: Step): string {
    const name = s.layers[0];
    const x = s.inputs[0];
    const out = this.plan.tensors[s.output];
    const keepDims = (y: string): string => (out.shape.length === 1 ? this.node('Flatten', `${name}_flatten`, [y], [int('axis', 1)]) : y);
    switch (s.op) {
      case 'quantize':
        return this.quantizeValue(this.values.get(x)!, this.quant(s.output), name);
      case 'dequantize':
        return this.float(x);
      case 'requantize':
        return this.quantizeValue(this.float(x), this.quant(s.output), name);
      case 'qconv':
        return this.qconv(s, this.values.get(x)!, this.quant(x), s.residual, this.quant(s.output));
      case 'qchain': {
        let value = this.values.get(x)!;
        let params = this.quant(x);
        s.stages.forEach((stage, i) => {
          const last = i === s.stages.length - 1;
          const py = last ? this.quant(s.output) : this.quant(stage.output);
          value = this.qconv(stage, value, params, last && stage.residual !== null ? x : null, py);
          params = py;
        });
        return value;
      }
      case 'qdense': {
        const py = this.quant(s.output);
        const features = s.kernel.length / s.units;
        const kernel = toOIHW(s.kernel, [1, 1, features, s.units]);
        const [w, b] = this.int8Weights(kernel, [s.units, features], s.bias, s.requant, this.quant(x).scale, py.scale, name);
        const input = this.flat(this.float(x), x, name);
        const y = this.node('Gemm', name, [input, w, b], [int('transB', 1)]);
        return this.quantizeValue(this.clip(y, this.realRange(s.requant.range, py), name), py, name);
      }
      case 'qadd': {
        const py = this.quant(s.output);
        const y = this.node('Add', name, [this.float(x), this.float(s.inputs[1])]);
        return this.quantizeValue(this.clip(y, this.realRange(s.add.range, py), name), py, name);
      }
      case 'qglobalAvgPool':
        // quantized before the flatten: a QDQ reader takes GlobalAveragePool → QuantizeLinear as one int8 op
        return keepDims(this.quantizeValue(this.node('GlobalAveragePool', name, [this.float(x)]), this.quant(s.output), name));
      case 'qavgPool':
        return this.quantizeValue(this.pool({ ...s, op: 'avgPool' }, 'AveragePool'), this.quant(s.output), name);
      case 'conv':
        return this.viaFloat(s, this.floatConv(s, this.float(x), s.residual === null ? null : this.float(s.residual)));
      case 'chain': {
        let y = this.float(x);
        s.stages.forEach((stage, i) => (y = this.floatConv(stage, y, i === s.stages.length - 1 && stage.residual !== null ? this.float(x) : null)));
        return this.viaFloat(s, y);
      }
      case 'dense': {
        const features = s.kernel.length / s.units;
        const w = this.initializer(`${name}.weight`, floatTensorProto('', [s.units, features], toOIHW(s.kernel, [1, 1, features, s.units])));
        const b = this.initializer(`${name}.bias`, floatTensorProto('', [s.units], s.bias));
        const y = this.node('Gemm', name, [this.flat(this.float(x), x, name), w, b], [int('transB', 1)]);
        return this.viaFloat(s, this.clip(y, s.clamp ?? [-Infinity, Infinity], name));
      }
      case 'globalAvgPool':
      case 'globalMaxPool':
        return this.viaFloat(s, keepDims(this.node(s.op === 'globalAvgPool' ? 'GlobalAveragePool' : 'GlobalMaxPool', name, [this.float(x)])));
      case 'avgPool':
      case 'maxPool':
        return this.viaFloat(s, this.pool(s, s.op === 'avgPool' ? 'AveragePool' : 'MaxPool'));
      case 'clamp':
        return this.viaFloat(s, this.clip(this.float(x), s.clamp, name));
      case 'add':
        return this.viaFloat(s, this.node('Add', name, [this.float(x), this.float(s.inputs[1])]));
      case 'pad': {
        const [t, b, l, r] = s.padding;
        const pads = this.initializer(`${name}.pads`, int64TensorProto('', [8], [0, 0, t, l, 0, 0, b, r]));
        return this.viaFloat(s, this.node('Pad', name, [this.float(x), pads]));
      }
      case 'concat': {
        if (out.shape.length !== 3 || s.blocks.some((b, k) => b !== this.plan.tensors[s.inputs[k]].shape[2])) throw new ConfigError(`QDQ export: concat ${name} is not on the channel axis of images`);
        return this.viaFloat(s, this.node('Concat', name, s.inputs.map((t) => this.float(t)), [int('axis', 1)]));
      }
      case 'softmax':
        if (out.size !== s.channels) throw new ConfigError(`QDQ export: softmax ${name} runs over ${s.channels} of ${out.size} values per sample; only over the whole of a vector is written`);
        return this.viaFloat(s, this.node('Softmax', name, [this.flat(this.float(x), x, name)], [int('axis', -1)]));
      case 'sigmoid':
        return this.viaFloat(s, this.node('Sigmoid', name, [this.float(x)]));
      default:
        throw new ConfigError(`QDQ export: step ${s.op} (${name}) has no ONNX form here`);
    }
  }
}

/** The graph of `model` in QDQ form, for encodeOnnx (which adds the model's header). */
export function qdqGraph(model: PlannedModel, options: OnnxExportOptions, name: string): Message {
  return new QdqExporter(model, options).graph(name);
}
