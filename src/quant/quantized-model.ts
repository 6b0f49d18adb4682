// An int8 model: a lowered plan whose convolutions and dense layers run on int8 weights (per output channel) and int8
// activations (per tensor, calibrated), with pooling, adds and clamps in int8 too and any other step in float32.

import { ConfigError, ShapeError } from '../errors.js';
import { lowerModel } from '../graph/lower.js';
import type { Model } from '../graph/model.js';
import type { Clamp, ConvStep, DenseStep, Plan, Step } from '../graph/plan.js';
import { runStep } from '../backend/plan-reference.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';
import { RangeObserver } from './calibrate.js';
import type { Int8Tensor, Requantize } from './int8-ops.js';
import { addInt8, conv2dInt8Accumulate, globalAvgPoolInt8, requantize } from './int8-ops.js';
import type { QParams, QuantizedWeights } from './qparams.js';
import { affineParams, clampRange, dequantize, quantize, quantizeWeights, roundHalfEven } from './qparams.js';

/** A convolution or dense layer on int8 weights; dense runs as a 1×1 convolution of [N, 1, 1, in]. */
export interface Int8ConvStep {
  op: 'int8conv';
  /** The plan step it replaces: its layers, inputs, output and residual. */
  layers: string[];
  inputs: number[];
  output: number;
  residual: number | null;
  /** A dense layer: its input is flattened to [N, 1, 1, in]. */
  dense: boolean;
  kernelShape: [number, number, number, number];
  conv: Conv2DParams;
  weights: QuantizedWeights;
  /** Float32 bias (BatchNorm folded), quantized against the input's scale when the model is assembled. */
  bias: Float32Array;
  clamp: Clamp | null;
  requantize: Requantize;
}

/** What an int8 model runs: int8 convolutions, int8 forms of simple steps, and float steps. */
export type QuantizedStep = Int8ConvStep | { op: 'int8'; step: Step } | { op: 'float'; step: Step };

/** Faster kernels for some int8 convolutions (WasmInt8Kernels); null for a step they do not take. */
export interface Int8ConvKernels {
  conv(s: Int8ConvStep, x: Int8Tensor, residual: Int8Tensor | null): Int8Tensor | null;
}

export interface Int8PredictOptions {
  /** Sees each step's output as it is made (int8 or float32), e.g. to measure per-layer quantization error. */
  onStep?: (step: QuantizedStep, output: Tensor | Int8Tensor) => void;
  /** Kernels to try before the reference ones; their results must equal the reference's. */
  kernels?: Int8ConvKernels | null;
}

export interface QuantizeOptions {
  /** Layer names whose steps stay in float32 (e.g. the first convolution or the classifier). */
  keepFloat?: readonly string[];
}

/** What makes up an int8 model, as the file stores it: the plan's structure, each tensor's parameters, the int8 weights. */
export interface QuantizedParts {
  plan: Plan;
  /** Affine parameters per plan tensor. */
  params: QParams[];
  /** Int8 weights and float bias of each convolution or dense step that runs in int8, by the step's first layer name. */
  weights: Map<string, { weights: QuantizedWeights; bias: Float32Array }>;
}

/** Steps computed in int8 without weights: pooling to one value per channel, adds, clamps. */
const INT8_SIMPLE = new Set<Step['op']>(['globalAvgPool', 'add', 'clamp']);

const BIAS_LIMIT = 2 ** 31 - 1;

function dense1x1(s: DenseStep): { kernelShape: [number, number, number, number]; conv: Conv2DParams } {
  return { kernelShape: [1, 1, s.kernel.length / s.units, s.units], conv: { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 } };
}

/** Lowers a model for int8: no row-streamed chains (each convolution is its own step, so that every activation is calibrated). */
export function planForInt8(model: Model): Plan {
  return lowerModel(model, { fuseBlocks: false });
}

export class QuantizedModel {
  readonly steps: QuantizedStep[];
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];

  readonly parts: QuantizedParts;

  /**
   * Assembles an int8 model from its parts (as quantized or as read from a file); weights not in `weights` stay float.
   * The float kernels of the steps that run in int8 are not kept (`parts.plan` holds empty ones in their place).
   */
  constructor(parts: QuantizedParts) {
    const { plan, params, weights } = parts;
    if (params.length !== plan.tensors.length) throw new ConfigError(`int8 model: ${params.length} tensor parameters for ${plan.tensors.length} tensors`);
    this.parts = parts;
    this.inputShape = plan.tensors[plan.input].shape;
    if (plan.outputs.length !== 1) throw new ConfigError(`int8 model: one output, the plan has ${plan.outputs.length}`);
    this.outputShape = plan.tensors[plan.outputs[0]].shape;
    this.steps = plan.steps.map((step): QuantizedStep => {
      if (step.op === 'conv' || step.op === 'dense') {
        const w = weights.get(step.layers[0]);
        return w ? this.int8Conv(step, w.weights, w.bias) : { op: 'float', step };
      }
      if (step.op === 'chain') throw new ConfigError(`int8 model: step ${step.layers[0]} is a row-streamed chain; lower with planForInt8`);
      return { op: INT8_SIMPLE.has(step.op) ? 'int8' : 'float', step };
    });
    const dropped = (step: Step): Step => ((step.op === 'conv' || step.op === 'dense') && weights.has(step.layers[0]) ? { ...step, kernel: new Float32Array(0) } : step);
    this.parts = { ...parts, plan: { ...plan, steps: plan.steps.map(dropped) } };
  }

  private int8Conv(step: ConvStep | DenseStep, weights: QuantizedWeights, bias: Float32Array): Int8ConvStep {
    const { kernelShape, conv } = step.op === 'conv' ? step : dense1x1(step);
    const channels = kernelShape[3];
    const where = `int8 model, layer ${step.layers[0]}`;
    if (weights.q.length !== kernelShape.reduce((a, b) => a * b, 1) || weights.scales.length !== channels || bias.length !== channels) {
      throw new ShapeError(`${where}: int8 kernel of ${weights.q.length} values, ${weights.scales.length} scales and ${bias.length} biases do not fit kernel ${formatShape(kernelShape)}`);
    }
    const x = this.parts.params[step.inputs[0]];
    const y = this.parts.params[step.output];
    const residual = step.op === 'conv' ? step.residual : null;
    const multipliers = Float64Array.from(weights.scales, (s) => (x.scale * s) / y.scale);
    const residualMultiplier = residual === null ? undefined : this.parts.params[residual].scale / y.scale;
    for (const m of [...multipliers, residualMultiplier ?? 1]) {
      if (!(m > 0 && Number.isFinite(m))) throw new ConfigError(`${where}: requantization multiplier ${m} from the input, weight and output scales is not a finite positive number`);
    }
    const q: Int8ConvStep = {
      op: 'int8conv',
      layers: step.layers,
      inputs: step.inputs,
      output: step.output,
      residual,
      dense: step.op === 'dense',
      kernelShape,
      conv,
      weights,
      bias,
      clamp: step.clamp,
      requantize: {
        bias: Int32Array.from(bias, (b, c) => {
          const v = roundHalfEven(b / (x.scale * weights.scales[c]));
          if (!(Math.abs(v) <= BIAS_LIMIT)) throw new ConfigError(`${where}: bias ${b} of channel ${c} is ${v} steps of the accumulator, beyond int32`);
          return v;
        }),
        multipliers,
        out: y,
        range: clampRange(step.clamp, y),
        residualMultiplier,
      },
    };
    return q;
  }

  /** Quantizes `model` after observing its activations on `calibration` batches (NHWC, [N, ...input shape]). */
  static quantize(model: Model, calibration: Iterable<Tensor>, options: QuantizeOptions = {}): QuantizedModel {
    const observer = new RangeObserver(planForInt8(model));
    for (const batch of calibration) observer.observe(batch);
    return QuantizedModel.fromCalibration(observer, options);
  }

  /** Quantizes the plan `observer` ran (from planForInt8): activations to the ranges it saw, weights per output channel. */
  static fromCalibration(observer: RangeObserver, options: QuantizeOptions = {}): QuantizedModel {
    const { plan } = observer;
    if (observer.images === 0) throw new ConfigError('int8 quantization needs at least one calibration image');
    const params = observer.ranges.map((r, id) => affineParams(r.min, r.max, `tensor ${plan.tensors[id].name}`));
    const keep = new Set(options.keepFloat ?? []);
    for (const name of keep) if (!plan.steps.some((s) => s.layers.includes(name))) throw new ConfigError(`keepFloat: the model has no layer ${name}`);
    const weights = new Map<string, { weights: QuantizedWeights; bias: Float32Array }>();
    for (const s of plan.steps) {
      if ((s.op === 'conv' || s.op === 'dense') && !s.layers.some((l) => keep.has(l))) {
        weights.set(s.layers[0], { weights: quantizeWeights(s.kernel, s.op === 'conv' ? s.kernelShape[3] : s.units), bias: s.bias });
      }
    }
    return new QuantizedModel({ plan, params, weights });
  }

  /** The steps that run int8 convolutions (what faster kernels are prepared for). */
  get int8ConvSteps(): Int8ConvStep[] {
    return this.steps.filter((s): s is Int8ConvStep => s.op === 'int8conv');
  }

  /** Runs an NHWC batch [N, ...input shape]; returns float32 outputs [N, ...output shape]. */
  predict(x: Tensor, options: Int8PredictOptions = {}): Tensor {
    const { onStep, kernels } = options;
    const { plan, params } = this.parts;
    if (x.rank !== this.inputShape.length + 1 || !sameShape(x.shape.slice(1), this.inputShape)) {
      throw new ShapeError(`int8 model: input ${formatShape(x.shape)} does not fit [N, ${this.inputShape.join(', ')}]`);
    }
    const batch = x.shape[0];
    const values = new Map<number, Tensor | Int8Tensor>([[plan.input, x]]);
    const shapeOf = (id: number): number[] => [batch, ...plan.tensors[id].shape];
    const asInt8 = (id: number): Int8Tensor => {
      const v = values.get(id)!;
      return v instanceof Tensor ? { shape: shapeOf(id), data: quantize(v.data, params[id]), params: params[id] } : { ...v, shape: shapeOf(id) };
    };
    const asFloat = (id: number): Tensor => {
      const v = values.get(id)!;
      return v instanceof Tensor ? v.reshape(shapeOf(id)) : new Tensor(shapeOf(id), dequantize(v.data, v.params));
    };
    for (const s of this.steps) {
      if (s.op === 'int8conv') {
        const input = asInt8(s.inputs[0]);
        const x4 = s.dense ? { ...input, shape: [batch, 1, 1, s.kernelShape[2]] } : input;
        const residual = s.residual === null ? null : asInt8(s.residual);
        values.set(s.output, kernels?.conv(s, x4, residual) ?? this.referenceConv(s, x4, residual));
      } else if (s.op === 'int8') values.set(s.step.output, this.runInt8(s.step, asInt8));
      else values.set(s.step.output, runStep(s.step, asFloat));
      onStep?.(s, values.get(s.op === 'int8conv' ? s.output : s.step.output)!);
    }
    return asFloat(plan.outputs[0]).reshape([batch, ...this.outputShape]);
  }

  private referenceConv(s: Int8ConvStep, x: Int8Tensor, residual: Int8Tensor | null): Int8Tensor {
    const { acc, shape } = conv2dInt8Accumulate(x, s.weights.q, s.kernelShape, s.conv);
    return requantize(acc, shape, s.requantize, residual);
  }

  private runInt8(s: Step, v: (id: number) => Int8Tensor): Int8Tensor {
    const out = this.parts.params[s.output];
    if (s.op === 'globalAvgPool') return globalAvgPoolInt8(v(s.inputs[0]), out);
    if (s.op === 'add') return addInt8(v(s.inputs[0]), v(s.inputs[1]), out, clampRange(null, out));
    if (s.op === 'clamp') return addInt8(v(s.inputs[0]), null, out, clampRange(s.clamp, out));
    throw new ConfigError(`int8 model: no int8 kernel for step ${s.op} (${s.layers[0]})`);
  }

  /** Bytes of weights: int8 kernels plus float32 scales and biases; float steps' weights at 4 bytes each. */
  weightBytes(): number {
    let bytes = 0;
    for (const s of this.steps) {
      if (s.op === 'int8conv') bytes += s.weights.q.length + 4 * (s.weights.scales.length + s.bias.length);
      else if (s.op === 'float' && (s.step.op === 'conv' || s.step.op === 'dense')) bytes += 4 * (s.step.kernel.length + s.step.bias.length);
    }
    return bytes;
  }

  /** Layer names of the steps that run in float32. */
  floatLayers(): string[] {
    return this.steps.flatMap((s) => (s.op === 'float' ? s.step.layers : []));
  }
}
