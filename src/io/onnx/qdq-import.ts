// ONNX import of quantized graphs into int8 plans: QDQ graphs (DequantizeLinear → float op → QuantizeLinear) and
// QLinearConv / QLinearMatMul / QLinearAdd / QLinearGlobalAveragePool become the plan's int8 steps in TFLite's arithmetic.

import { ConfigError, FormatError } from '../../errors.js';
import type { Clamp, Plan, PlanTensor, PlannedModel, Step } from '../../graph/plan.js';
import type { Conv2DParams } from '../../ops/conv2d.js';
import type { Pool2DParams } from '../../ops/pool.js';
import { addRequantization, requantization } from '../../quant/fixed-point.js';
import type { QParams } from '../../quant/qparams.js';
import { clampRange, roundHalfEven } from '../../quant/qparams.js';
import { sizeOf } from '../../tensor/tensor.js';
import { UnsupportedOperatorError } from './errors.js';
import type { OnnxImportOptions } from './importer.js';
import { AttributeType, DataType } from './schema.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from './schema.js';
import { int64, readTensor } from './tensors.js';

/** The operators that make a graph quantized: such a graph imports as an int8 plan (decodeQuantizedOnnx). */
export const QUANTIZED_OPS: ReadonlySet<string> = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'QLinearAdd', 'QLinearGlobalAveragePool']);

export function isQuantizedOnnx(proto: ModelProto): boolean {
  return (proto.graph?.node ?? []).some((n) => QUANTIZED_OPS.has(n.opType));
}

export interface DecodedQuantizedOnnx {
  model: PlannedModel;
  /** The graph input's layout: NCHW, as in the file. */
  inputLayout: 'NCHW';
  /** Nodes that run in float32 between a dequantize and a quantize step (no int8 step fits them), one line each. */
  notes: string[];
}

/** A constant: its values (integers exact), ONNX shape and whether it was stored as uint8 (activations shift by 128). */
interface Constant {
  kind: 'const';
  data: Float32Array | Float64Array;
  shape: number[];
  uint8: boolean;
}

/**
 * A plan tensor (float32, or int8 where its `quant` is set); `shape` is the ONNX per-sample shape. `flatFrom`: an image
 * of ONNX shape [C, H, W] flattened, its elements still in our order (H, W, C): only a dense layer reads it (permuting its weight rows).
 */
interface Act {
  kind: 'act';
  id: number;
  shape: number[];
  flatFrom?: number[];
}

/** The reals of an int8 plan tensor read with `params` (a DequantizeLinear, or a QLinear op's input). */
interface Dq {
  kind: 'dq';
  id: number;
  params: QParams;
  shape: number[];
  flatFrom?: number[];
}

/** A constant dequantized: real = scale[k]·(q − zeroPoint[k]), k the index along `axis` (or 0 for per-tensor parameters). */
interface DqConst {
  kind: 'dqconst';
  q: Constant;
  scale: Float32Array;
  zeroPoint: Float64Array;
  axis: number;
}

type Operand = Dq | DqConst | Constant;

/** A float op on dequantized values, kept until a QuantizeLinear reads it (an int8 step) or anything else does (float32). */
type PendingOp =
  | { op: 'conv'; x: Dq; weight: DqConst | Constant; bias: Operand | null; conv: Conv2DParams; kernel: [number, number] }
  | { op: 'dense'; x: Dq; weight: DqConst | Constant; bias: Operand | null; transposed: boolean }
  | { op: 'add'; a: Dq; b: Dq }
  | { op: 'globalAvgPool'; x: Dq }
  | { op: 'avgPool'; x: Dq; pool: Pool2DParams };

interface Pending {
  kind: 'pending';
  name: string;
  shape: number[];
  pending: PendingOp;
  clamp: Clamp | null;
}

type Value = Constant | Act | Dq | DqConst | Pending;

/** Our per-sample shape of an ONNX one: [C, H, W] is [H, W, C]. */
const ours = (shape: readonly number[]): number[] => (shape.length === 3 ? [shape[1], shape[2], shape[0]] : [...shape]);
const sameParams = (a: QParams, b: QParams): boolean => Math.fround(a.scale) === Math.fround(b.scale) && a.zeroPoint === b.zeroPoint;

/** The real values of a dequantized constant. */
function dequantizeConstant(c: DqConst): Float32Array {
  const { shape, data } = c.q;
  const inner = shape.slice(c.axis + 1).reduce((a, b) => a * b, 1);
  const perTensor = c.scale.length === 1;
  return Float32Array.from(data, (q, i) => {
    const k = perTensor ? 0 : Math.floor(i / inner) % shape[c.axis];
    return c.scale[k] * (q - c.zeroPoint[k]);
  });
}

/** [O, I, kh, kw] → HWIO. */
function oihwToHwio<T extends Float32Array | Int8Array>(data: ArrayLike<number>, [o, i, kh, kw]: readonly number[], make: new (n: number) => T): T {
  const out = new make(data.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x];
  return out;
}

class QuantizedGraphImporter {
  private readonly tensors: PlanTensor[] = [];
  private readonly steps: Step[] = [];
  private readonly values = new Map<string, Value>();
  private readonly initializers = new Map<string, TensorProto>();
  private readonly dequantized = new Map<number, number>();
  readonly notes: string[] = [];
  private node!: NodeProto;
  readonly source: string;

  constructor(
    private readonly proto: ModelProto,
    private readonly options: OnnxImportOptions,
  ) {
    this.source = options.source ?? '<buffer>';
  }

  build(): PlannedModel {
    const graph = this.proto.graph!;
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    const inputs = graph.input.filter((v) => !this.initializers.has(v.name));
    if (inputs.length !== 1) throw new FormatError(`${this.source}: the graph has ${inputs.length} inputs; only single-input models are supported`);
    const input = this.graphInput(inputs[0]);
    for (const node of graph.node) {
      this.node = node;
      const outputs = this.convert(node);
      outputs.forEach((v, k) => node.output[k] && this.values.set(node.output[k], v));
    }
    const outputs = graph.output.map((o) => {
      const v = this.values.get(o.name);
      if (!v || v.kind === 'const' || v.kind === 'dqconst') throw new FormatError(`${this.source}: graph output ${JSON.stringify(o.name)} is not computed from the input`);
      return this.tensorOf(v);
    });
    const plan: Plan = { tensors: this.tensors, steps: this.steps, input, outputs };
    return { plan, outputNames: graph.output.map((o) => o.name) };
  }

  private graphInput(value: NonNullable<ModelProto['graph']>['input'][number]): number {
    const type = value.type?.tensorType;
    const dims = (type?.shape?.dim ?? []).map((d) => (d.value === 'dimValue' ? int64(d.dimValue, this.source) : 0));
    const sample = dims.slice(1).map((d, i) => (d > 0 ? d : this.options.inputShape?.[i] ?? 0));
    if (!type || (type.elemType !== DataType.FLOAT && type.elemType !== DataType.INT8) || dims.length < 2 || sample.some((d) => d < 1)) {
      throw new FormatError(`${this.source}: graph input ${JSON.stringify(value.name)} must be float32 or int8 with a batch axis and known other axes (pass inputShape)`);
    }
    if (type.elemType === DataType.INT8) throw new FormatError(`${this.source}: graph input ${JSON.stringify(value.name)} is int8 without its parameters; export it with a float input and a QuantizeLinear`);
    const id = this.tensor(ours(sample), value.name);
    this.values.set(value.name, { kind: 'act', id, shape: sample });
    return id;
  }

  private tensor(shape: number[], name: string, quant?: QParams): number {
    this.tensors.push({ id: this.tensors.length, shape, size: sizeOf(shape), name, ...(quant ? { quant } : {}) });
    return this.tensors.length - 1;
  }

  /** Appends a step writing a new tensor; returns the tensor. */
  private step(fields: Record<string, unknown> & { op: Step['op'] }, inputs: number[], shape: number[], quant?: QParams): number {
    const name = this.node.name || this.node.output[0] || fields.op;
    const output = this.tensor(ours(shape), name, quant);
    this.steps.push({ ...fields, layers: [name], inputs, output } as Step);
    return output;
  }

  private fail(reason: string): UnsupportedOperatorError {
    const n = this.node;
    return new UnsupportedOperatorError(this.source, n.opType, n.name || n.output[0] || '?', n.domain, reason);
  }

  // ---------------------------------------------------------------------------------------------------------
  // operands

  private value(k: number): Value | null {
    const name = this.node.input[k];
    if (!name) return null;
    const v = this.values.get(name);
    if (v) return v;
    const t = this.initializers.get(name);
    if (!t) throw new FormatError(`${this.source}: node ${JSON.stringify(this.node.name || this.node.opType)} reads ${JSON.stringify(name)}, which nothing defines before it`);
    return this.constantOf(t, name);
  }

  private constantOf(t: TensorProto, name: string): Constant {
    const host = readTensor(t, { source: this.source, externalData: this.options.externalData }, `${this.source}: tensor ${JSON.stringify(name)}`);
    return { kind: 'const', data: host.data, shape: host.shape, uint8: t.dataType === DataType.UINT8 };
  }

  private required(k: number): Value {
    const v = this.value(k);
    if (!v) throw this.fail(`input ${k} is missing`);
    return v;
  }

  private constant(k: number): Constant {
    const v = this.required(k);
    if (v.kind !== 'const') throw this.fail(`input ${k} must be a constant`);
    return v;
  }

  /** Scale and zero point (inputs k and k + 1), int8 terms: a uint8 zero point shifts by −128 as its data does. */
  private params(k: number): { scale: Float32Array; zeroPoint: Float64Array; uint8: boolean } {
    const scale = Float32Array.from(this.constant(k).data);
    const z = this.value(k + 1);
    if (z && z.kind !== 'const') throw this.fail(`input ${k + 1} (zero point) must be a constant`);
    const uint8 = z?.uint8 ?? false;
    const zeroPoint = z ? Float64Array.from(z.data, (v) => (uint8 ? v - 128 : v)) : new Float64Array(scale.length);
    if (zeroPoint.length !== scale.length) throw this.fail(`${scale.length} scales but ${zeroPoint.length} zero points`);
    return { scale, zeroPoint, uint8 };
  }

  private tensorParams(k: number): QParams {
    const { scale, zeroPoint } = this.params(k);
    if (scale.length !== 1) throw this.fail('activations take one scale and zero point');
    return { scale: scale[0], zeroPoint: zeroPoint[0] };
  }

  /** A constant quantized by inputs k, k + 1 along `axis` (uint8 data shifted to int8). */
  private dqConst(q: Constant, k: number, axis: number): DqConst {
    const { scale, zeroPoint } = this.params(k);
    const data = q.uint8 ? Float64Array.from(q.data, (v) => v - 128) : q.data;
    return { kind: 'dqconst', q: { ...q, data, uint8: false }, scale, zeroPoint, axis: axis < 0 ? axis + q.shape.length : axis };
  }

  /** An activation as reals read through int8 parameters: Dq values as they are; float tensors have none. */
  private dqOf(v: Value, what: string): Dq {
    if (v.kind === 'dq') return v;
    if (v.kind === 'act' && this.tensors[v.id].quant) return { kind: 'dq', id: v.id, params: this.tensors[v.id].quant!, shape: v.shape, flatFrom: v.flatFrom };
    throw this.fail(`${what} is not an int8 value read through DequantizeLinear`);
  }

  /** A float32 plan tensor holding `v`: dequantizing an int8 one (once), or running a pending op in float32. */
  private tensorOf(v: Value): number {
    if ((v.kind === 'act' || v.kind === 'dq') && v.flatFrom) throw this.fail(`reads a flattened image [${v.flatFrom.join(', ')}] other than through a dense layer`);
    switch (v.kind) {
      case 'act':
        return v.id;
      case 'dq': {
        if (!sameParams(v.params, this.tensors[v.id].quant!)) throw this.fail(`reads int8 tensor ${this.tensors[v.id].name} with other parameters than it was quantized with`);
        let id = this.dequantized.get(v.id);
        if (id === undefined) this.dequantized.set(v.id, (id = this.step({ op: 'dequantize' }, [v.id], v.shape)));
        return id;
      }
      case 'pending':
        return this.runFloat(v);
      default:
        throw this.fail('a constant where an activation is expected');
    }
  }

  private floatOperand(v: Operand | null, length: number): Float32Array {
    if (!v) return new Float32Array(length);
    if (v.kind === 'dq') throw this.fail('a bias computed from the input');
    return v.kind === 'dqconst' ? dequantizeConstant(v) : Float32Array.from(v.data);
  }

  // ---------------------------------------------------------------------------------------------------------
  // pending ops: int8 steps when quantized, float32 steps otherwise

  /** A pending op in float32 (its int8 inputs dequantized), clamped; returns the float tensor. */
  private runFloat(p: Pending): number {
    const op = p.pending;
    const clamp = p.clamp;
    switch (op.op) {
      case 'conv': {
        const x = this.tensorOf(op.x);
        const w = op.weight.kind === 'dqconst' ? dequantizeConstant(op.weight) : Float32Array.from(op.weight.data);
        const shape = op.weight.kind === 'dqconst' ? op.weight.q.shape : op.weight.shape;
        const kernelShape = [shape[2], shape[3], shape[1], shape[0]] as [number, number, number, number];
        return this.step({ op: 'conv', kernel: oihwToHwio(w, shape, Float32Array), kernelShape, bias: this.floatOperand(op.bias, shape[0]), conv: op.conv, inShape: ours(op.x.shape), outShape: ours(p.shape), clamp, residual: null }, [x], p.shape);
      }
      case 'dense': {
        const x = this.tensorOf(op.x);
        const { kernel, units } = this.denseKernel(op, (c) => (c.kind === 'dqconst' ? dequantizeConstant(c) : Float32Array.from(c.data)), Float32Array);
        return this.step({ op: 'dense', kernel, bias: this.floatOperand(op.bias, units), units, clamp }, [x], p.shape);
      }
      case 'add':
      case 'globalAvgPool':
      case 'avgPool': {
        const inputs = op.op === 'add' ? [this.tensorOf(op.a), this.tensorOf(op.b)] : [this.tensorOf(op.x)];
        const y = this.step(op.op === 'avgPool' ? { op: 'avgPool', pool: op.pool } : { op: op.op }, inputs, p.shape);
        return clamp ? this.step({ op: 'clamp', clamp }, [y], p.shape) : y;
      }
    }
  }

  /** A dense layer's [in, out] kernel from a Gemm's or MatMul's weight ([out, in] when transposed). */
  private denseKernel<T extends Float32Array | Int8Array>(op: Extract<PendingOp, { op: 'dense' }>, values: (c: DqConst | Constant) => ArrayLike<number>, make: new (n: number) => T): { kernel: T; units: number; features: number } {
    const shape = op.weight.kind === 'dqconst' ? op.weight.q.shape : op.weight.shape;
    const [rows, cols] = shape;
    const [features, units] = op.transposed ? [cols, rows] : [rows, cols];
    const data = values(op.weight);
    // our feature i reads ONNX's feature row(i): the same where the input is not a reordered flattened image
    let row = (i: number): number => i;
    if (op.x.flatFrom) {
      const [c, h, w] = op.x.flatFrom;
      row = (i) => (i % c) * h * w + Math.floor(i / c);
    }
    const kernel = new make(data.length);
    for (let i = 0; i < features; i++) for (let o = 0; o < units; o++) kernel[i * units + o] = data[op.transposed ? o * cols + row(i) : row(i) * cols + o];
    return { kernel, units, features };
  }

  /** Per output channel weight scales when the weights are int8 with zero point 0 along the output axis; null otherwise. */
  private int8Weights(w: DqConst | Constant, outputAxis: number): Float32Array | null {
    if (w.kind !== 'dqconst' || w.zeroPoint.some((z) => z !== 0) || w.q.data.some((q) => q < -128 || q > 127)) return null;
    if (w.scale.length === 1) return w.scale;
    return w.axis === outputAxis ? w.scale : null;
  }

  /** Int32 biases on the accumulator's scale sx·sw[c]: a bias quantized on another scale (or float) is rounded to it. */
  private int8Bias(bias: Operand | null, sx: number, sw: Float32Array, channels: number): Int32Array {
    const real = this.floatOperand(bias, channels);
    const exact = bias?.kind === 'dqconst' && bias.zeroPoint.every((z) => z === 0) && [...Array(channels).keys()].every((c) => Math.fround(bias.scale[bias.scale.length === 1 ? 0 : c]) === Math.fround(sx * sw[sw.length === 1 ? 0 : c]));
    return Int32Array.from({ length: channels }, (_, c) => (exact ? (bias as DqConst).q.data[c] : roundHalfEven(real[c] / (sx * sw[sw.length === 1 ? 0 : c]))));
  }

  /** A pending op quantized to `py`: its int8 step, or float32 then a quantize step where none fits (told in `notes`). */
  private quantizePending(p: Pending, py: QParams): number {
    const op = p.pending;
    const range = clampRange(p.clamp, py);
    const channelsOf = (sw: Float32Array, channels: number): number[] => Array.from({ length: channels }, (_, c) => sw[sw.length === 1 ? 0 : c]);
    if (op.op === 'conv') {
      const sw = this.int8Weights(op.weight, 0);
      if (sw) {
        const w = op.weight as DqConst;
        const shape = w.q.shape;
        const sx = op.x.params.scale;
        const kernelShape = [shape[2], shape[3], shape[1], shape[0]] as [number, number, number, number];
        return this.step(
          {
            op: 'qconv',
            kernel: oihwToHwio(w.q.data, shape, Int8Array),
            kernelShape,
            bias: this.int8Bias(op.bias, sx, sw, shape[0]),
            conv: op.conv,
            inShape: ours(op.x.shape),
            outShape: ours(p.shape),
            inputZeroPoint: op.x.params.zeroPoint,
            requant: requantization(channelsOf(sw, shape[0]).map((s) => (sx * s) / py.scale), py.zeroPoint, range),
            residual: null,
            add: null,
          },
          [op.x.id],
          p.shape,
          py,
        );
      }
    } else if (op.op === 'dense') {
      const sw = this.int8Weights(op.weight, op.transposed ? 0 : 1);
      if (sw) {
        const { kernel, units } = this.denseKernel(op, (c) => (c as DqConst).q.data, Int8Array);
        const sx = op.x.params.scale;
        const requant = requantization(channelsOf(sw, units).map((s) => (sx * s) / py.scale), py.zeroPoint, range);
        return this.step({ op: 'qdense', kernel, bias: this.int8Bias(op.bias, sx, sw, units), units, inputZeroPoint: op.x.params.zeroPoint, requant }, [op.x.id], p.shape, py);
      }
    } else if (op.op === 'add') {
      return this.step({ op: 'qadd', add: addRequantization(op.a.params, op.b.params, py, range) }, [op.a.id, op.b.id], p.shape, py);
    } else if (op.op === 'globalAvgPool') {
      const [, h, w] = op.x.shape;
      return this.step({ op: 'qglobalAvgPool', inputZeroPoint: op.x.params.zeroPoint, requant: requantization([op.x.params.scale / (h * w * py.scale)], py.zeroPoint, range) }, [op.x.id], p.shape, py);
    } else if (sameParams(op.x.params, py)) {
      return this.step({ op: 'qavgPool', pool: op.pool, range }, [op.x.id], p.shape, py);
    }
    this.notes.push(`${p.name} (${op.op}) runs in float32 between dequantize and quantize steps: ${op.op === 'avgPool' ? 'its input and output parameters differ' : 'its weights are not symmetric int8 per output channel'}`);
    return this.step({ op: 'quantize' }, [this.runFloat(p)], p.shape, py);
  }

  /** QuantizeLinear of a value to `py`: an int8 tensor. */
  private quantize(v: Value, py: QParams): Act {
    switch (v.kind) {
      case 'pending':
        return { kind: 'act', id: this.quantizePending(v, py), shape: v.shape };
      case 'dq': {
        const held = this.tensors[v.id].quant!;
        if (sameParams(v.params, held) && sameParams(held, py)) return { kind: 'act', id: v.id, shape: v.shape, flatFrom: v.flatFrom };
        if (!sameParams(v.params, held)) throw this.fail(`requantizes int8 tensor ${this.tensors[v.id].name} read with other parameters than it was quantized with`);
        const requant = requantization([held.scale / py.scale], py.zeroPoint);
        return { kind: 'act', id: this.step({ op: 'requantize', inputZeroPoint: held.zeroPoint, requant }, [v.id], v.shape, py), shape: v.shape, flatFrom: v.flatFrom };
      }
      default: {
        const id = this.tensorOf(v);
        if (this.tensors[id].quant) throw this.fail('quantizes an int8 tensor that was not dequantized');
        return { kind: 'act', id: this.step({ op: 'quantize' }, [id], this.shapeOf(v), py), shape: this.shapeOf(v) };
      }
    }
  }

  private shapeOf(v: Value): number[] {
    if (v.kind === 'dqconst') return v.q.shape;
    return v.shape;
  }

  // ---------------------------------------------------------------------------------------------------------
  // attributes and geometry

  private attribute(name: string, type: number): AttributeProto | undefined {
    const a = this.node.attribute.find((x) => x.name === name);
    if (a && a.type !== type) throw this.fail(`attribute ${name} has type ${a.type}, expected ${type}`);
    return a;
  }

  private attrInts(name: string, fallback: number[]): number[] {
    const a = this.attribute(name, AttributeType.INTS);
    return a ? a.ints.map((v) => int64(v, `${this.source}: attribute ${name}`)) : fallback;
  }

  private attrInt(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.INT);
    return a ? int64(a.i, `${this.source}: attribute ${name}`) : fallback;
  }

  /** A window's geometry from kernel_shape, strides, pads, dilations (auto_pad NOTSET only) and its output [C?, H, W]. */
  private window(x: readonly number[], kernel: readonly number[]): { strides: [number, number]; dilations: [number, number]; padding: [number, number, number, number]; out: [number, number] } {
    const autoPad = this.node.attribute.find((a) => a.name === 'auto_pad');
    if (autoPad && new TextDecoder().decode(autoPad.s) !== 'NOTSET') throw this.fail('auto_pad other than NOTSET');
    const [sh, sw] = this.attrInts('strides', [1, 1]);
    const [dh, dw] = this.attrInts('dilations', [1, 1]);
    const [pt, pl, pb, pr] = this.attrInts('pads', [0, 0, 0, 0]);
    const [, h, w] = x;
    const size = (n: number, k: number, s: number, d: number, a: number, b: number): number => Math.floor((n + a + b - d * (k - 1) - 1) / s) + 1;
    const out: [number, number] = [size(h, kernel[0], sh, dh, pt, pb), size(w, kernel[1], sw, dw, pl, pr)];
    if (out[0] < 1 || out[1] < 1) throw this.fail(`its window does not fit the input [${x.join(', ')}]`);
    return { strides: [sh, sw], dilations: [dh, dw], padding: [pt, pb, pl, pr], out };
  }

  private pendingOf(pending: PendingOp, shape: number[]): Pending {
    return { kind: 'pending', name: this.node.name || this.node.output[0], shape, pending, clamp: null };
  }

  private convOp(x: Dq, weight: DqConst | Constant, bias: Operand | null): Pending {
    const shape = weight.kind === 'dqconst' ? weight.q.shape : weight.shape;
    if (shape.length !== 4 || x.shape.length !== 3) throw this.fail('only 2-D convolutions of images are supported');
    const groups = this.attrInt('group', 1);
    if (x.shape[0] !== shape[1] * groups) throw this.fail(`weight [${shape.join(', ')}] with ${groups} groups does not fit ${x.shape[0]} input channels`);
    const { strides, dilations, padding, out } = this.window(x.shape, [shape[2], shape[3]]);
    return this.pendingOf({ op: 'conv', x, weight, bias, conv: { strides, dilations, padding, groups }, kernel: [shape[2], shape[3]] }, [shape[0], ...out]);
  }

  private denseOp(x: Dq, weight: DqConst | Constant, bias: Operand | null, transposed: boolean): Pending {
    const shape = weight.kind === 'dqconst' ? weight.q.shape : weight.shape;
    const features = sizeOf(x.shape);
    if (shape.length !== 2 || shape[transposed ? 1 : 0] !== features) throw this.fail(`weight [${shape.join(', ')}] does not fit ${features} input features`);
    if (x.shape.length === 3 && x.shape.filter((d) => d !== 1).length > 1) throw this.fail('reads an image that is not flattened');
    return this.pendingOf({ op: 'dense', x, weight, bias, transposed }, [shape[transposed ? 0 : 1]]);
  }

  /** An operand as a weight: a dequantized constant or a float one. */
  private weightOperand(v: Value | null, what: string): DqConst | Constant {
    if (v && (v.kind === 'dqconst' || v.kind === 'const')) return v;
    throw this.fail(`${what} must be a constant (or a dequantized one)`);
  }

  private biasOperand(v: Value | null): Operand | null {
    if (!v || v.kind === 'const' || v.kind === 'dqconst') return v;
    throw this.fail('the bias must be a constant');
  }

  /** Zero padding of an image's height and width (mode constant, value 0 or, on int8, the zero point): a pad step, int8 or float. */
  private pad(x: Value): Value {
    const mode = this.node.attribute.find((a) => a.name === 'mode');
    if (mode && new TextDecoder().decode(mode.s) !== 'constant') throw this.fail('mode other than constant');
    const shape = this.shapeOf(x);
    const pads = [...this.constant(1).data];
    const value = this.value(2);
    const fill = value?.kind === 'const' ? value.data[0] - (value.uint8 ? 128 : 0) : 0;
    const int8 = x.kind === 'act' && this.tensors[x.id].quant;
    if (shape.length !== 3 || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || fill !== (int8 ? int8.zeroPoint : 0)) {
      throw this.fail('only zero padding of the height and width of images');
    }
    const [, , t, l, , , b, r] = pads;
    const out = [shape[0], shape[1] + t + b, shape[2] + l + r];
    if (x.kind === 'dq') return { ...x, id: this.step({ op: 'pad', padding: [t, b, l, r] }, [x.id], out, this.tensors[x.id].quant), shape: out };
    return { kind: 'act', id: this.step({ op: 'pad', padding: [t, b, l, r] }, [this.tensorOf(x)], out, int8 || undefined), shape: out };
  }

  /** Relu or Clip: joins a pending op, or clamps an int8 or float tensor. */
  private clamp(v: Value, clamp: Clamp): Value {
    if (v.kind === 'pending') {
      const [lo, hi] = v.clamp ?? [-Infinity, Infinity];
      return { ...v, clamp: [Math.max(lo, clamp[0]), Math.min(hi, clamp[1])] };
    }
    if (v.kind === 'dq') {
      const id = this.step({ op: 'clamp', clamp }, [v.id], v.shape, this.tensors[v.id].quant);
      return { ...v, id };
    }
    return { kind: 'act', id: this.step({ op: 'clamp', clamp }, [this.tensorOf(v)], this.shapeOf(v)), shape: this.shapeOf(v) };
  }

  /**
   * A view (Flatten, Reshape) of an activation to `shape`. Where our element order differs from ONNX's, only an image
   * flattened to a vector is taken (for a dense layer, see `flatFrom`).
   */
  private view(v: Value, shape: number[]): Value {
    const from = this.shapeOf(v);
    const agrees = (s: readonly number[]): boolean => s.length !== 3 || s.filter((d) => d !== 1).length <= 1;
    if (v.kind === 'pending') return this.view({ kind: 'act', id: this.tensorOf(v), shape: v.shape }, shape);
    if (v.kind !== 'act' && v.kind !== 'dq') throw this.fail('reshapes a constant');
    if (agrees(from) && agrees(shape)) return { ...v, shape, flatFrom: undefined };
    if (shape.length === 1 && !v.flatFrom) return { ...v, shape, flatFrom: from };
    throw this.fail(`reshapes [${from.join(', ')}] to [${shape.join(', ')}], which reorders the elements`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // nodes

  private convert(node: NodeProto): Value[] {
    const op = node.opType;
    switch (op) {
      case 'QuantizeLinear':
        return [this.quantize(this.required(0), this.tensorParams(1))];
      case 'DequantizeLinear': {
        const x = this.required(0);
        if (x.kind === 'const') return [this.dqConst(x, 1, this.attrInt('axis', 1))];
        if (x.kind !== 'act' || !this.tensors[x.id].quant) throw this.fail('dequantizes a value that is neither int8 nor a constant');
        return [{ kind: 'dq', id: x.id, params: this.tensorParams(1), shape: x.shape }];
      }
      case 'Conv':
        return [this.convOp(this.dqOf(this.required(0), 'the input'), this.weightOperand(this.value(1), 'the weight'), this.biasOperand(this.value(2)))];
      case 'Gemm': {
        if (this.attrInt('transA', 0) !== 0) throw this.fail('transA');
        const alpha = node.attribute.find((a) => a.name === 'alpha')?.f ?? 1;
        const beta = node.attribute.find((a) => a.name === 'beta')?.f ?? 1;
        if (alpha !== 1 || beta !== 1) throw this.fail('alpha or beta other than 1');
        return [this.denseOp(this.dqOf(this.required(0), 'the input'), this.weightOperand(this.value(1), 'the weight'), this.biasOperand(this.value(2)), this.attrInt('transB', 0) === 1)];
      }
      case 'MatMul':
        return [this.denseOp(this.dqOf(this.required(0), 'the input'), this.weightOperand(this.value(1), 'the weight'), null, false)];
      case 'Add': {
        const [a, b] = [this.required(0), this.required(1)];
        // a MatMul's bias: a constant added to a pending dense op
        if (a.kind === 'pending' && a.pending.op === 'dense' && !a.pending.bias && !a.clamp && (b.kind === 'const' || b.kind === 'dqconst')) return [{ ...a, pending: { ...a.pending, bias: b } }];
        return [this.pendingOf({ op: 'add', a: this.dqOf(a, 'operand a'), b: this.dqOf(b, 'operand b') }, this.shapeOf(a))];
      }
      case 'GlobalAveragePool': {
        const x = this.dqOf(this.required(0), 'the input');
        if (x.shape.length !== 3) throw this.fail('only over images');
        return [this.pendingOf({ op: 'globalAvgPool', x }, [x.shape[0], 1, 1])];
      }
      case 'AveragePool':
      case 'MaxPool': {
        const x = this.required(0);
        const kernel = this.attrInts('kernel_shape', []);
        if (kernel.length !== 2) throw this.fail('only 2-D pooling is supported');
        const { strides, dilations, padding, out } = this.window(this.shapeOf(x), kernel);
        if (op === 'MaxPool' && this.attrInt('ceil_mode', 0) !== 0) throw this.fail('ceil_mode');
        const pool: Pool2DParams = { kernel: [kernel[0], kernel[1]], strides, dilations, padding, countIncludePad: this.attrInt('count_include_pad', 0) === 1 };
        const shape = [this.shapeOf(x)[0], ...out];
        if (op === 'AveragePool') return [this.pendingOf({ op: 'avgPool', x: this.dqOf(x, 'the input'), pool }, shape)];
        if (x.kind === 'dq') return [{ ...x, id: this.step({ op: 'maxPool', pool }, [x.id], shape, this.tensors[x.id].quant), shape }];
        return [{ kind: 'act', id: this.step({ op: 'maxPool', pool }, [this.tensorOf(x)], shape), shape }];
      }
      case 'Pad':
        return [this.pad(this.required(0))];
      case 'Relu':
        return [this.clamp(this.required(0), [0, Infinity])];
      case 'Clip': {
        const bound = (k: number, fallback: number): number => {
          const v = this.value(k);
          if (!v) return fallback;
          if (v.kind !== 'const') throw this.fail('bounds must be constants');
          return v.data[0];
        };
        return [this.clamp(this.required(0), [bound(1, -Infinity), bound(2, Infinity)])];
      }
      case 'Flatten': {
        const x = this.required(0);
        if (this.attrInt('axis', 1) !== 1) throw this.fail('axis other than 1');
        return [this.view(x, [sizeOf(this.shapeOf(x))])];
      }
      case 'Reshape': {
        const x = this.required(0);
        const target = [...this.constant(1).data];
        if (target.length < 1) throw this.fail('an empty shape');
        const size = sizeOf(this.shapeOf(x));
        const known = target.slice(1).map((d, i) => (d === 0 ? this.shapeOf(x)[i] : d));
        const inferred = known.map((d) => (d === -1 ? size / -known.reduce((a, b) => a * b, 1) : d));
        if (sizeOf(inferred) !== size) throw this.fail(`shape [${target.join(', ')}] does not hold ${size} values per sample`);
        return [this.view(x, inferred)];
      }
      case 'Softmax': {
        const x = this.required(0);
        const shape = this.shapeOf(x);
        const axis = this.attrInt('axis', -1);
        if (shape.length !== 1 || (axis !== -1 && axis !== 1)) throw this.fail('only over the features of a vector');
        return [{ kind: 'act', id: this.step({ op: 'softmax', channels: shape[0] }, [this.tensorOf(x)], shape), shape }];
      }
      case 'Identity':
        return [this.required(0)];
      case 'QLinearConv': {
        const x = this.int8Input(0, 1);
        const w = this.dqConst(this.constant(3), 4, 0);
        const bias = this.value(8);
        const b = bias ? this.biasInt32(bias, x.params.scale, w.scale) : null;
        return [this.quantize(this.convOp(x, w, b), this.tensorParams(6))];
      }
      case 'QLinearMatMul': {
        const x = this.int8Input(0, 1);
        const w = this.dqConst(this.constant(3), 4, 1);
        return [this.quantize(this.denseOp(x, w, null, false), this.tensorParams(6))];
      }
      case 'QLinearAdd': {
        const a = this.int8Input(0, 1);
        const b = this.int8Input(3, 4);
        return [this.quantize(this.pendingOf({ op: 'add', a, b }, a.shape), this.tensorParams(6))];
      }
      case 'QLinearGlobalAveragePool': {
        if (this.attrInt('channels_last', 0) !== 0) throw this.fail('channels_last');
        const x = this.int8Input(0, 1);
        if (x.shape.length !== 3) throw this.fail('only over images');
        return [this.quantize(this.pendingOf({ op: 'globalAvgPool', x }, [x.shape[0], 1, 1]), this.tensorParams(3))];
      }
      default:
        throw this.fail(`not supported in a quantized graph (${[...QUANTIZED_OPS].join(', ')}, Conv, Gemm, MatMul, Add, pools, Pad, Relu, Clip, Flatten, Reshape, Softmax)`);
    }
  }

  /** A QLinear op's int8 input k with its scale and zero point at k + 1, k + 2. */
  private int8Input(k: number, paramsAt: number): Dq {
    const v = this.required(k);
    if (v.kind !== 'act' || !this.tensors[v.id].quant) throw this.fail(`input ${k} is not an int8 tensor`);
    return { kind: 'dq', id: v.id, params: this.tensorParams(paramsAt), shape: v.shape, flatFrom: v.flatFrom };
  }

  /** QLinearConv's int32 bias: on the scale sx·sw[c], zero point 0. */
  private biasInt32(bias: Value, sx: number, sw: Float32Array): DqConst {
    if (bias.kind !== 'const') throw this.fail('the bias must be a constant');
    const scale = Float32Array.from(sw, (s) => sx * s);
    return { kind: 'dqconst', q: bias, scale, zeroPoint: new Float64Array(scale.length), axis: 0 };
  }
}

/** Builds an int8 plan from a quantized ONNX graph (see QUANTIZED_OPS); a graph without them is a ConfigError: use onnxToModel. */
export function quantizedOnnxToPlan(proto: ModelProto, options: OnnxImportOptions = {}): DecodedQuantizedOnnx {
  if (!isQuantizedOnnx(proto)) throw new ConfigError(`${options.source ?? '<buffer>'}: the ONNX graph has no quantized operators; import it as a float model (onnxToModel)`);
  const importer = new QuantizedGraphImporter(proto, options);
  const model = importer.build();
  return { model, inputLayout: 'NCHW', notes: importer.notes };
}
