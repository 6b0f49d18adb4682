// Writes a .tflite file from an execution plan: a float Model's (lowered: BatchNorm folded, activations fused) or an
// int8 plan (TFLite's int8 ops, with filter scales chosen so that TFLite recomputes the plan's exact multipliers).

import { ConfigError } from '../../errors.js';
import { lowerModel } from '../../graph/lower.js';
import { Model } from '../../graph/model.js';
import type { ConvStep, LayerStep, Plan, PlannedModel, PlanTensor, QConvStep, Step } from '../../graph/plan.js';
import { Arithmetic, HardSwish } from '../../nn/extra.js';
import type { Padding4 } from '../../ops/geometry.js';
import { resolvePadding } from '../../ops/geometry.js';
import type { Clamp } from '../../graph/plan.js';
import { quantizeMultiplier } from '../../quant/fixed-point.js';
import type { QParams } from '../../quant/qparams.js';
import { describeExport } from '../model-file.js';
import type { ModelFileInfo } from '../model-file.js';
import { TfliteBuilder } from './builder.js';
import type { OptionsSpec } from './builder.js';
import { transposeMatrix } from './convert-base.js';
import { activationRange } from './import-int8.js';
import type { TfliteActivation } from './schema.js';
import { ACTIVATIONS, TFLITE_METADATA_NAME, CONCATENATION_OPTIONS, CONV_OPTIONS, DEPTHWISE_OPTIONS, POOL_OPTIONS, REDUCER_OPTIONS, RESIZE_BILINEAR_OPTIONS, SOFTMAX_OPTIONS } from './schema.js';

export interface TfliteWriteOptions extends ModelFileInfo {
  /** The model's description field. */
  description?: string;
  /** Float weights stored as float32 (default) or float16 (half the size; TFLite widens them with DEQUANTIZE at load). */
  weights?: 'float32' | 'float16';
}

/** A float32 filter scale s for which TFLite's multiplier from sx·s/sy (in doubles, or sx·s in float32 first) is exactly `target`. */
function filterScale(target: { multiplier: number; shift: number }, sx: number, sy: number, floatProduct: boolean, where: string): number {
  const real = target.multiplier * 2 ** (target.shift - 31);
  const estimate = Math.fround((real * sy) / sx);
  const bits = new Int32Array(new Float32Array([estimate]).buffer)[0];
  for (let d = 0; d <= 64; d++) {
    for (const candidate of d === 0 ? [bits] : [bits + d, bits - d]) {
      const s = new Float32Array(new Int32Array([candidate]).buffer)[0];
      const m = quantizeMultiplier((floatProduct ? Math.fround(sx * s) : sx * s) / sy);
      if (m.multiplier === target.multiplier && m.shift === target.shift) return s;
    }
  }
  throw new ConfigError(`${where}: no float32 filter scale gives the plan's requantization multiplier ${target.multiplier}·2^(${target.shift} − 31) in TFLite's arithmetic`);
}

/** The fused activation whose float clamp is `clamp`, or null where TFLite has none. */
function floatActivation(clamp: Clamp | null): TfliteActivation | null {
  if (clamp === null) return 'NONE';
  const [lo, hi] = clamp;
  if (lo === 0 && hi === Infinity) return 'RELU';
  if (lo === 0 && hi === 6) return 'RELU6';
  if (lo === -1 && hi === 1) return 'RELU_N1_TO_1';
  return null;
}

/** The fused activation whose int8 range under `q` is `range`. */
function int8Activation(range: readonly [number, number], q: QParams, where: string): TfliteActivation {
  const found = (['NONE', 'RELU', 'RELU6', 'RELU_N1_TO_1'] as const).find((a) => {
    const r = activationRange(a, q, where);
    return r[0] === range[0] && r[1] === range[1];
  });
  if (!found) throw new ConfigError(`${where}: int8 range [${range.join(', ')}] is no TFLite fused activation's under scale ${q.scale}, zero point ${q.zeroPoint}`);
  return found;
}

class PlanWriter {
  readonly out = new TfliteBuilder();
  /** The TFLite tensor holding each plan tensor (as its producer writes it). */
  private readonly ids = new Map<number, number>();

  constructor(
    private readonly plan: Plan,
    private readonly float16: boolean,
  ) {}

  /** A float weight: float32, or float16 behind a DEQUANTIZE. */
  private weight(name: string, shape: readonly number[], values: Float32Array): number {
    return this.float16 ? this.out.float16Constant(name, shape, values) : this.out.constant(name, shape, values);
  }

  private quantization(t: PlanTensor): { scale: number[]; zeroPoint: number[] } | undefined {
    return t.quant && { scale: [t.quant.scale], zeroPoint: [t.quant.zeroPoint] };
  }

  /** A new TFLite tensor for plan tensor `id` (batch 1 in front of its shape), or a fresh intermediate of it. */
  define(id: number, shape = this.plan.tensors[id].shape, suffix = ''): number {
    const t = this.plan.tensors[id];
    const index = this.out.tensor({ name: t.name + suffix, shape: [1, ...shape], type: t.quant ? 'int8' : 'float32', quantization: this.quantization(t) });
    if (!suffix) this.ids.set(id, index);
    return index;
  }

  /** The TFLite tensor of plan tensor `id` as a step reads it. */
  input(id: number): number {
    const index = this.ids.get(id);
    if (index === undefined) throw new ConfigError(`plan tensor ${id} (${this.plan.tensors[id].name}) is read before it is written`);
    return index;
  }

  where(s: Step): string {
    return `step ${s.op} (${s.layers.at(-1)})`;
  }

  /** The options of a TFLite conv: SAME or VALID where the padding is one, else a PAD before it (filled with `padValue`). */
  private convInput(x: number, shape: readonly number[], padding: Padding4, kernel: [number, number], strides: [number, number], dilations: [number, number], name: string, quant: PlanTensor['quant']): { input: number; padding: 0 | 1 } {
    const [h, w] = shape;
    const same = resolvePadding('same', h, w, { kernel, strides, dilations });
    if (padding.every((p, i) => p === same[i])) return { input: x, padding: 0 };
    if (padding.every((p) => p === 0)) return { input: x, padding: 1 };
    const padded = this.out.tensor({ name: `${name}_pad`, shape: [1, h + padding[0] + padding[1], w + padding[2] + padding[3], shape[2]], type: quant ? 'int8' : 'float32', quantization: quant && { scale: [quant.scale], zeroPoint: [quant.zeroPoint] } });
    const amounts = this.out.constant(`${name}_paddings`, [4, 2], Int32Array.from([0, 0, padding[0], padding[1], padding[2], padding[3], 0, 0]));
    this.out.operator('PAD', [x, amounts], [padded]);
    return { input: padded, padding: 1 };
  }

  /** A conv (float or int8) as CONV_2D or DEPTHWISE_CONV_2D into `output`; returns nothing (the caller adds a residual). */
  private conv(s: ConvStep | QConvStep, x: number, output: number, activation: TfliteActivation, kernel: Float32Array | Int8Array, bias: Float32Array | Int32Array, filterQuant?: { scale: number[]; zeroPoint: number[]; dimension: number }, biasQuant?: { scale: number[]; zeroPoint: number[] }): void {
    const [kh, kw, cPerGroup, cOut] = s.kernelShape;
    const depthwise = s.conv.groups > 1 && cPerGroup === 1 && s.conv.groups === s.inShape[2];
    const name = this.plan.tensors[s.output].name;
    const { input, padding } = this.convInput(x, s.inShape, s.conv.padding, [kh, kw], [s.conv.strides[0], s.conv.strides[1]], [s.conv.dilations[0], s.conv.dilations[1]], name, this.plan.tensors[s.inputs[0]].quant);
    const filterShape = depthwise ? [1, kh, kw, cOut] : [cOut, kh, kw, cPerGroup];
    const filterValues = depthwise ? kernel : transposeMatrix(kernel, kh * kw * cPerGroup, cOut);
    const filter = filterValues instanceof Float32Array ? this.weight(`${name}_filter`, filterShape, filterValues) : this.out.constant(`${name}_filter`, filterShape, filterValues, filterQuant && { ...filterQuant, dimension: depthwise ? 3 : 0 });
    const biasTensor = bias instanceof Float32Array ? this.weight(`${name}_bias`, [cOut], bias) : this.out.constant(`${name}_bias`, [cOut], bias, biasQuant && { ...biasQuant, dimension: 0 });
    const slots = depthwise ? DEPTHWISE_OPTIONS : CONV_OPTIONS;
    const options: OptionsSpec = {
      type: depthwise ? 'DepthwiseConv2DOptions' : 'Conv2DOptions',
      bytes: { [slots.padding]: padding, [slots.activation]: ACTIVATIONS.indexOf(activation) },
      ints: { [slots.strideW]: s.conv.strides[1], [slots.strideH]: s.conv.strides[0], [slots.dilationW]: s.conv.dilations[1], [slots.dilationH]: s.conv.dilations[0] },
    };
    if (depthwise) options.ints = { ...options.ints, [DEPTHWISE_OPTIONS.depthMultiplier]: cOut / s.inShape[2] };
    this.out.operator(depthwise ? 'DEPTHWISE_CONV_2D' : 'CONV_2D', [input, filter, biasTensor], [output], options);
  }

  private floatConv(s: ConvStep, x: number, residual: number | null): number {
    const activation = floatActivation(s.clamp);
    if (activation === null) throw new ConfigError(`${this.where(s)}: clamp [${s.clamp!.join(', ')}] is no TFLite fused activation`);
    if (residual === null) {
      const output = this.define(s.output, s.outShape);
      this.conv(s, x, output, activation, s.kernel, s.bias);
      return output;
    }
    // y = clamp(conv + residual): the conv, then an ADD that carries the activation
    const sum = this.define(s.output, s.outShape, '_conv');
    this.conv(s, x, sum, 'NONE', s.kernel, s.bias);
    const output = this.define(s.output, s.outShape);
    this.out.operator('ADD', [sum, residual], [output], { type: 'AddOptions', bytes: { 0: ACTIVATIONS.indexOf(activation) } });
    return output;
  }

  private int8Conv(s: QConvStep, x: number, residual: number | null, outQuant: QParams): number {
    const where = this.where(s);
    const xq = this.plan.tensors[s.inputs[0]].quant;
    if (!xq || xq.zeroPoint !== s.inputZeroPoint) throw new ConfigError(`${where}: its input must be int8 with zero point ${s.inputZeroPoint}`);
    // with a residual, the conv's own result has a scale the plan keeps only inside the ADD's multipliers
    const convQuant: QParams = s.add && residual !== null ? { scale: this.addOperandScale(s.add, outQuant), zeroPoint: s.requant.zeroPoint } : outQuant;
    const cOut = s.kernelShape[3];
    const perChannel = s.requant.multiplier.length > 1;
    const scales = Array.from({ length: perChannel ? cOut : 1 }, (_, c) => filterScale({ multiplier: s.requant.multiplier[c], shift: s.requant.shift[c] }, xq.scale, convQuant.scale, false, where));
    const biasScales = Array.from({ length: cOut }, (_, c) => xq.scale * scales[perChannel ? c : 0]);
    const filterQuant = { scale: scales, zeroPoint: scales.map(() => 0), dimension: 0 };
    const biasQuant = { scale: biasScales.map((v) => Math.fround(v)), zeroPoint: biasScales.map(() => 0) };
    const activation = int8Activation(s.requant.range, convQuant, where);
    if (!s.add || residual === null) {
      const output = this.define(s.output, s.outShape);
      this.conv(s, x, output, activation, s.kernel, s.bias, filterQuant, biasQuant);
      return output;
    }
    const sum = this.out.tensor({ name: `${this.plan.tensors[s.output].name}_conv`, shape: [1, ...s.outShape], type: 'int8', quantization: { scale: [convQuant.scale], zeroPoint: [convQuant.zeroPoint] } });
    this.conv(s, x, sum, activation, s.kernel, s.bias, filterQuant, biasQuant);
    const output = this.define(s.output, s.outShape);
    this.out.operator('ADD', [sum, residual], [output], { type: 'AddOptions', bytes: { 0: ACTIVATIONS.indexOf(int8Activation(s.add.range, outQuant, where)) } });
    return output;
  }

  /** The scale of ADD's operand a, recovered from its multiplier a/(2·max(a, b)) and the output's 2·max/(2^20·out). */
  private addOperandScale(add: NonNullable<QConvStep['add']>, out: QParams): number {
    const real = (p: { multiplier: number; shift: number }): number => p.multiplier * 2 ** (p.shift - 31);
    const twiceMax = real(add.out) * 2 ** add.leftShift * out.scale;
    return Math.fround(real(add.a) >= 0.5 - 1e-9 ? twiceMax / 2 : twiceMax * real(add.a));
  }

  /** Layers that run on their own kernels in the plan: those with a TFLite op of their own. */
  private layer(s: LayerStep): void {
    const { layer } = s;
    const y = (): number => this.define(s.output);
    if (layer instanceof HardSwish) return this.out.operator('HARD_SWISH', [this.input(s.inputs[0])], [y()]);
    if (layer instanceof Arithmetic && (layer.op === 'add' || layer.op === 'mul')) {
      const operands = s.inputs.map((t) => this.input(t));
      if (layer.constant) {
        const c = this.out.constant(`${layer.name}_constant`, layer.constant.value.shape, layer.constant.value.data);
        operands.splice(layer.constant.side === 'left' ? 0 : 1, 0, c);
      }
      return this.out.operator(layer.op === 'add' ? 'ADD' : 'MUL', operands, [y()], { type: layer.op === 'add' ? 'AddOptions' : 'MulOptions', bytes: { 0: 0 } });
    }
    throw new ConfigError(`${this.where(s)}: layer ${layer.name} (${layer.kind}) has no TFLite form here`);
  }

  write(s: Step): void {
    const x = (k = 0): number => this.input(s.inputs[k]);
    const out = this.plan.tensors[s.output];
    const unary = (op: 'LOGISTIC' | 'DEQUANTIZE' | 'QUANTIZE', options?: OptionsSpec): void => this.out.operator(op, [x()], [this.define(s.output)], options);
    switch (s.op) {
      case 'conv':
        this.floatConv(s, x(), s.residual === null ? null : x(1));
        return;
      case 'chain': {
        const input = x();
        let current = input;
        s.stages.forEach((stage, i) => {
          const last = i === s.stages.length - 1;
          current = this.floatConv({ ...stage, output: last ? s.output : stage.output }, current, last && stage.residual !== null ? input : null);
        });
        return;
      }
      case 'qconv':
        this.int8Conv(s, x(), s.residual === null ? null : x(1), out.quant!);
        return;
      case 'qchain': {
        const input = x();
        let current = input;
        s.stages.forEach((stage, i) => {
          const last = i === s.stages.length - 1;
          const q = last ? out.quant! : this.plan.tensors[stage.output].quant!;
          current = this.int8Conv({ ...stage, output: last ? s.output : stage.output }, current, last && stage.residual !== null ? input : null, q);
        });
        return;
      }
      case 'dense':
      case 'qdense': {
        const features = this.plan.tensors[s.inputs[0]].size;
        const name = out.name;
        let weights: number;
        let bias: number;
        let activation: TfliteActivation | null;
        if (s.op === 'dense') {
          weights = this.weight(`${name}_weights`, [s.units, features], transposeMatrix(s.kernel, features, s.units));
          bias = this.weight(`${name}_bias`, [s.units], s.bias);
          activation = floatActivation(s.clamp);
          if (activation === null) throw new ConfigError(`${this.where(s)}: clamp [${s.clamp!.join(', ')}] is no TFLite fused activation`);
        } else {
          const xq = this.plan.tensors[s.inputs[0]].quant!;
          const perChannel = s.requant.multiplier.length > 1;
          const scales = Array.from(s.requant.multiplier, (m, c) => filterScale({ multiplier: m, shift: s.requant.shift[c] }, xq.scale, out.quant!.scale, !perChannel, this.where(s)));
          weights = this.out.constant(`${name}_weights`, [s.units, features], transposeMatrix(s.kernel, features, s.units), { scale: scales, zeroPoint: scales.map(() => 0), dimension: 0 });
          const biasScales = scales.map((w) => Math.fround(xq.scale * w));
          bias = this.out.constant(`${name}_bias`, [s.units], s.bias, { scale: biasScales, zeroPoint: biasScales.map(() => 0), dimension: 0 });
          activation = int8Activation(s.requant.range, out.quant!, this.where(s));
        }
        this.out.operator('FULLY_CONNECTED', [x(), weights, bias], [this.define(s.output, [s.units])], { type: 'FullyConnectedOptions', bytes: { 0: ACTIVATIONS.indexOf(activation) } });
        return;
      }
      case 'globalAvgPool':
      case 'qglobalAvgPool': {
        const axes = this.out.constant(`${out.name}_axes`, [2], Int32Array.from([1, 2]));
        const keepDims = out.shape.length === 3;
        this.out.operator('MEAN', [x(), axes], [this.define(s.output)], { type: 'ReducerOptions', bytes: { [REDUCER_OPTIONS.keepDims]: keepDims ? 1 : 0 } });
        return;
      }
      case 'avgPool':
      case 'maxPool':
      case 'qavgPool': {
        const inShape = this.plan.tensors[s.inputs[0]].shape;
        const { kernel, strides, padding } = s.pool;
        const same = resolvePadding('same', inShape[0], inShape[1], s.pool);
        const mode = padding.every((p) => p === 0) ? 1 : padding.every((p, i) => p === same[i]) && (s.op === 'maxPool' || !s.pool.countIncludePad) ? 0 : -1;
        if (mode < 0 || s.pool.dilations.some((d) => d !== 1)) throw new ConfigError(`${this.where(s)}: padding [${padding.join(', ')}] is neither SAME nor VALID (or it counts padding, or dilates)`);
        const activation = s.op === 'qavgPool' ? int8Activation(s.range, out.quant!, this.where(s)) : 'NONE';
        const options: OptionsSpec = { type: 'Pool2DOptions', bytes: { [POOL_OPTIONS.padding]: mode, [POOL_OPTIONS.activation]: ACTIVATIONS.indexOf(activation) }, ints: { [POOL_OPTIONS.strideW]: strides[1], [POOL_OPTIONS.strideH]: strides[0], [POOL_OPTIONS.filterW]: kernel[1], [POOL_OPTIONS.filterH]: kernel[0] } };
        this.out.operator(s.op === 'maxPool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D', [x()], [this.define(s.output)], options);
        return;
      }
      case 'add':
        this.out.operator('ADD', [x(), x(1)], [this.define(s.output)], { type: 'AddOptions', bytes: { 0: 0 } });
        return;
      case 'qadd':
        this.out.operator('ADD', [x(), x(1)], [this.define(s.output)], { type: 'AddOptions', bytes: { 0: ACTIVATIONS.indexOf(int8Activation(s.add.range, out.quant!, this.where(s))) } });
        return;
      case 'pad': {
        const p = s.padding;
        const amounts = this.out.constant(`${out.name}_paddings`, [4, 2], Int32Array.from([0, 0, p[0], p[1], p[2], p[3], 0, 0]));
        this.out.operator('PAD', [x(), amounts], [this.define(s.output)]);
        return;
      }
      case 'softmax':
      case 'qsoftmax':
        this.out.operator('SOFTMAX', [x()], [this.define(s.output)], { type: 'SoftmaxOptions', floats: { [SOFTMAX_OPTIONS.beta]: s.op === 'qsoftmax' ? s.beta : 1 } });
        return;
      case 'sigmoid':
        unary('LOGISTIC');
        return;
      case 'qlut':
        this.out.operator(s.fn === 'logistic' ? 'LOGISTIC' : 'HARD_SWISH', [x()], [this.define(s.output)]);
        return;
      case 'quantize':
      case 'requantize':
        unary('QUANTIZE');
        return;
      case 'dequantize':
        unary('DEQUANTIZE');
        return;
      case 'clamp': {
        const activation = floatActivation(s.clamp);
        if (activation !== 'RELU' && activation !== 'RELU6') throw new ConfigError(`${this.where(s)}: clamp [${s.clamp.join(', ')}] is neither RELU nor RELU6`);
        this.out.operator(activation, [x()], [this.define(s.output)]);
        return;
      }
      case 'concat': {
        if (out.shape.at(-1) !== s.blocks.reduce((a, b) => a + b, 0)) throw new ConfigError(`${this.where(s)}: only concatenation on the channel axis is written`);
        this.out.operator('CONCATENATION', s.inputs.map((_, k) => x(k)), [this.define(s.output)], { type: 'ConcatenationOptions', ints: { [CONCATENATION_OPTIONS.axis]: out.shape.length }, bytes: { [CONCATENATION_OPTIONS.activation]: 0 } });
        return;
      }
      case 'resize': {
        if (s.coordinates !== 'half-pixel' && s.coordinates !== 'align-corners') throw new ConfigError(`${this.where(s)}: resize coordinates ${s.coordinates} have no TFLite form`);
        const size = this.out.constant(`${out.name}_size`, [2], Int32Array.from(s.size));
        this.out.operator('RESIZE_BILINEAR', [x(), size], [this.define(s.output)], { type: 'ResizeBilinearOptions', bytes: { [RESIZE_BILINEAR_OPTIONS.alignCorners]: s.coordinates === 'align-corners' ? 1 : 0, [RESIZE_BILINEAR_OPTIONS.halfPixelCenters]: s.coordinates === 'half-pixel' ? 1 : 0 } });
        return;
      }
      case 'layer':
        return this.layer(s);
      default:
        throw new ConfigError(`${this.where(s)}: no TFLite form is written for this step`);
    }
  }

}

/** A .tflite file of a float Model (lowered to its plan) or of a PlannedModel (float or int8 steps). */
export function encodeTflite(model: Model | PlannedModel, options: TfliteWriteOptions = {}): Uint8Array {
  const plan = model instanceof Model ? lowerModel(model, { fuseBlocks: false }) : model.plan;
  const writer = new PlanWriter(plan, options.weights === 'float16');
  const input = writer.define(plan.input);
  for (const s of plan.steps) writer.write(s);
  const outputs = plan.outputs.map((id) => writer.input(id));
  const info: ModelFileInfo = { classNames: options.classNames, preprocessing: options.preprocessing, extra: options.extra };
  const described = describeExport(model, info);
  const json = new TextEncoder().encode(JSON.stringify(described));
  return writer.out.finish([input], outputs, options.description ?? 'mobilenet-ts', { [TFLITE_METADATA_NAME]: json });
}
