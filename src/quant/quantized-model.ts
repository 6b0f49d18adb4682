// An int8 model is a plan: a float model's plan quantized after calibration (convolutions, dense layers, adds and pools
// in TFLite's int8 arithmetic, quantize/dequantize where float32 steps remain), fused, and run by any engine of plans.

import { ConfigError, ShapeError } from '../errors.js';
import { lowerModel } from '../graph/lower.js';
import type { Model } from '../graph/model.js';
import type { ConvStep, DenseStep, Plan, PlannedModel, PlanTensor, Step } from '../graph/plan.js';
import { fuseInt8Chains, fuseInt8Residuals } from '../graph/passes/fuse-int8-chains.js';
import { formatShape } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import { RangeObserver } from './calibrate.js';
import { addRequantization, requantization } from './fixed-point.js';
import type { QParams, QuantizedWeights } from './qparams.js';
import { affineParams, clampRange, quantizeWeights, roundHalfEven } from './qparams.js';

export interface QuantizeOptions {
  /** Layer names whose steps stay in float32 (e.g. the first convolution or the classifier). */
  keepFloat?: readonly string[];
  /** The names of the plan's outputs (default: their tensors' names); `quantize` gives the model's. */
  outputNames?: readonly string[];
}

/** Int8 weights (per output channel) and the float32 bias (BatchNorm folded) of a convolution or dense step. */
export interface Int8Weights {
  weights: QuantizedWeights;
  bias: Float32Array;
}

/** What makes up an int8 model, as the file stores it: the float plan, each tensor's int8 parameters, the int8 weights. */
export interface QuantizedParts {
  /** The float plan it was quantized from (planForInt8); the kernels of the steps that run in int8 are emptied. */
  plan: Plan;
  /** Int8 parameters of each of the plan's tensors (scales float32 values, as TFLite holds them). */
  params: QParams[];
  /** By the step's first layer name; a convolution or dense step without an entry stays float. */
  weights: Map<string, Int8Weights>;
  outputNames: readonly string[];
}

/** Lowers a model for int8: every convolution its own step and residual adds apart, so that every activation is calibrated. */
export function planForInt8(model: Model): Plan {
  return lowerModel(model, { fuseBlocks: false, fuseResiduals: false });
}

const BIAS_LIMIT = 2 ** 31 - 1;

export class QuantizedModel implements PlannedModel {
  /** The int8 plan, residual adds and inverted residuals fused: what engines run. */
  readonly plan: Plan;
  readonly outputNames: readonly string[];
  /** The int8 plan before fusion: a step per float step (and the conversions), tensor numbers as in `parts.plan`. */
  readonly unfused: Plan;
  readonly inputShape: readonly number[];
  /** The first output's per-sample shape. */
  readonly outputShape: readonly number[];
  readonly parts: QuantizedParts;

  /** Quantizes the float plan of `parts` with its parameters and weights (as calibrated, or as read from a file). */
  constructor(parts: QuantizedParts) {
    const { plan, params, outputNames } = parts;
    if (params.length !== plan.tensors.length) throw new ConfigError(`int8 model: ${params.length} tensor parameters for ${plan.tensors.length} tensors`);
    if (outputNames.length !== plan.outputs.length) throw new ConfigError(`int8 model: ${outputNames.length} output names for ${plan.outputs.length} outputs`);
    this.unfused = int8Plan(parts);
    this.plan = fuseInt8Chains(fuseInt8Residuals(this.unfused));
    this.outputNames = outputNames;
    this.inputShape = plan.tensors[plan.input].shape;
    this.outputShape = this.plan.tensors[this.plan.outputs[0]].shape;
    const emptied = (step: Step): Step => ((step.op === 'conv' || step.op === 'dense') && parts.weights.has(step.layers[0]) ? { ...step, kernel: new Float32Array(0) } : step);
    this.parts = { ...parts, plan: { ...plan, steps: plan.steps.map(emptied) } };
  }

  /** Quantizes `model` after observing its activations on `calibration` batches (NHWC, [N, ...input shape]). */
  static quantize(model: Model, calibration: Iterable<Tensor>, options: QuantizeOptions = {}): QuantizedModel {
    const observer = new RangeObserver(planForInt8(model));
    for (const batch of calibration) observer.observe(batch);
    return QuantizedModel.fromCalibration(observer, { outputNames: model.outputNames, ...options });
  }

  /** Quantizes the plan `observer` ran (from planForInt8): activations to the ranges it saw, weights per output channel. */
  static fromCalibration(observer: RangeObserver, options: QuantizeOptions = {}): QuantizedModel {
    const { plan } = observer;
    if (observer.images === 0) throw new ConfigError('int8 quantization needs at least one calibration image');
    const params = observer.ranges.map((r, id) => affineParams(r.min, r.max, `tensor ${plan.tensors[id].name}`));
    const keep = new Set(options.keepFloat ?? []);
    for (const name of keep) if (!plan.steps.some((s) => s.layers.includes(name))) throw new ConfigError(`keepFloat: the model has no layer ${name}`);
    const weights = new Map<string, Int8Weights>();
    for (const s of plan.steps) {
      if ((s.op === 'conv' || s.op === 'dense') && !s.layers.some((l) => keep.has(l))) {
        weights.set(s.layers[0], { weights: quantizeWeights(s.kernel, s.op === 'conv' ? s.kernelShape[3] : s.units), bias: s.bias });
      }
    }
    const outputNames = options.outputNames ?? plan.outputs.map((t) => plan.tensors[t].name);
    return new QuantizedModel({ plan, params, weights, outputNames });
  }

  /** Bytes of weights: int8 kernels plus float32 scales and biases; float steps' weights at 4 bytes each. */
  weightBytes(): number {
    let bytes = 0;
    for (const s of this.parts.plan.steps) {
      if (s.op !== 'conv' && s.op !== 'dense') continue;
      const w = this.parts.weights.get(s.layers[0]);
      bytes += w ? w.weights.q.length + 4 * (w.weights.scales.length + w.bias.length) : 4 * (s.kernel.length + s.bias.length);
    }
    return bytes;
  }

  /** Layer names of the steps that run in float32. */
  floatLayers(): string[] {
    const { steps, tensors } = this.unfused;
    return steps.flatMap((s) => (tensors[s.output].quant || s.op === 'dequantize' ? [] : s.layers));
  }
}

/** The int8 form of a float plan: each step int8 where it can be, conversions where int8 and float32 tensors meet. */
function int8Plan({ plan, params, weights }: QuantizedParts): Plan {
  const tensors: PlanTensor[] = plan.tensors.map((t) => ({ ...t, shape: [...t.shape] }));
  const steps: Step[] = [];
  const quantOf = (t: number): QParams => ({ scale: Math.fround(params[t].scale), zeroPoint: params[t].zeroPoint });
  const isInt8 = (t: number): boolean => tensors[t].quant !== undefined;
  const made = new Map<string, number>();
  /** A new tensor shaped as `t`, written by `step` (memoised by `key`: one conversion per tensor). */
  const derived = (key: string, t: number, suffix: string, quant: QParams | undefined, step: (output: number) => Step): number => {
    let id = made.get(key);
    if (id === undefined) {
      id = tensors.length;
      const { shape, size, name } = tensors[t];
      tensors.push({ id, shape: [...shape], size, name: `${name}/${suffix}`, ...(quant ? { quant } : {}) });
      steps.push(step(id));
      made.set(key, id);
    }
    return id;
  };
  const int8 = (t: number): number => (isInt8(t) ? t : derived(`q${t}`, t, 'quantized', quantOf(t), (output) => ({ op: 'quantize', layers: [tensors[t].name], inputs: [t], output })));
  const float = (t: number): number => (isInt8(t) ? derived(`f${t}`, t, 'dequantized', undefined, (output) => ({ op: 'dequantize', layers: [tensors[t].name], inputs: [t], output })) : t);
  const requantized = (t: number, to: QParams): number => {
    const from = tensors[t].quant!;
    if (from.scale === to.scale && from.zeroPoint === to.zeroPoint) return t;
    return derived(`r${t}:${to.scale}:${to.zeroPoint}`, t, 'requantized', to, (output) => ({ op: 'requantize', layers: [tensors[t].name], inputs: [t], output, inputZeroPoint: from.zeroPoint, requant: requantization([from.scale / to.scale], to.zeroPoint) }));
  };
  /** The step's output becomes int8 with `quant` (default: its calibrated parameters). */
  const int8Output = (s: Step, quant = quantOf(s.output)): QParams => (tensors[s.output].quant = quant);

  for (const s of plan.steps) {
    const where = `int8 quantization, layer ${s.layers[0]}`;
    const w = s.op === 'conv' || s.op === 'dense' ? weights.get(s.layers[0]) : undefined;
    if ((s.op === 'conv' || s.op === 'dense') && w) {
      const x = int8(s.inputs[0]);
      const out = int8Output(s);
      steps.push(quantizedConv(s, w, x, tensors[x].quant!, out, where));
    } else if (s.op === 'add' && s.inputs.some(isInt8)) {
      const [a, b] = s.inputs.map(int8);
      const out = int8Output(s);
      steps.push({ op: 'qadd', layers: s.layers, inputs: [a, b], output: s.output, add: addRequantization(tensors[a].quant!, tensors[b].quant!, out) });
    } else if (s.op === 'globalAvgPool' && isInt8(s.inputs[0])) {
      const x = tensors[s.inputs[0]];
      const out = int8Output(s);
      const pixels = x.size / x.shape[x.shape.length - 1];
      steps.push({ op: 'qglobalAvgPool', layers: s.layers, inputs: s.inputs, output: s.output, inputZeroPoint: x.quant!.zeroPoint, requant: requantization([x.quant!.scale / (pixels * out.scale)], out.zeroPoint) });
    } else if (s.op === 'avgPool' && isInt8(s.inputs[0])) {
      // TFLite's int8 average pool keeps its input's parameters
      int8Output(s, tensors[s.inputs[0]].quant);
      steps.push({ op: 'qavgPool', layers: s.layers, inputs: s.inputs, output: s.output, pool: s.pool, range: [-128, 127] });
    } else if ((s.op === 'pad' || s.op === 'maxPool' || s.op === 'globalMaxPool' || s.op === 'clamp') && isInt8(s.inputs[0])) {
      int8Output(s, tensors[s.inputs[0]].quant);
      steps.push(s);
    } else if (s.op === 'concat' && s.inputs.every(isInt8)) {
      const out = int8Output(s);
      steps.push({ ...s, inputs: s.inputs.map((t) => requantized(t, out)) });
    } else {
      if ((s.op === 'conv' && s.residual !== null) || s.op === 'chain') throw new ConfigError(`${where}: the plan has fused residuals or chains; lower it with planForInt8`);
      steps.push({ ...s, inputs: s.inputs.map(float) });
    }
  }
  return { tensors, steps, input: plan.input, outputs: plan.outputs.map(float) };
}

/** A float convolution or dense step as its int8 step: int32 bias on the accumulator's scale, fixed-point requantization. */
function quantizedConv(s: ConvStep | DenseStep, w: Int8Weights, input: number, x: QParams, out: QParams, where: string): Step {
  const { weights, bias } = w;
  const channels = s.op === 'conv' ? s.kernelShape[3] : s.units;
  if (weights.q.length !== s.kernel.length && s.kernel.length > 0) throw new ShapeError(`${where}: ${weights.q.length} int8 weights for a kernel of ${s.kernel.length}`);
  if (weights.scales.length !== channels || bias.length !== channels) {
    throw new ShapeError(`${where}: ${weights.scales.length} weight scales and ${bias.length} biases for ${channels} output channels${s.op === 'conv' ? ` (kernel ${formatShape(s.kernelShape)})` : ''}`);
  }
  const accScales = Array.from(weights.scales, (sw) => x.scale * sw);
  const int32Bias = Int32Array.from(bias, (b, c) => {
    const v = roundHalfEven(b / accScales[c]);
    if (!(Math.abs(v) <= BIAS_LIMIT)) throw new ConfigError(`${where}: bias ${b} of channel ${c} is ${v} steps of the accumulator, beyond int32`);
    return v;
  });
  const requant = requantization(accScales.map((a) => a / out.scale), out.zeroPoint, clampRange(s.clamp, out));
  const common = { layers: s.layers, inputs: [input], output: s.output, kernel: weights.q, bias: int32Bias, inputZeroPoint: x.zeroPoint, requant };
  if (s.op === 'dense') return { op: 'qdense', ...common, units: s.units };
  return { op: 'qconv', ...common, kernelShape: s.kernelShape, conv: s.conv, inShape: s.inShape, outShape: s.outShape, residual: null, add: null };
}
