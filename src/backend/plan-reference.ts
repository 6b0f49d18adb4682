// Runs a lowered Plan with the reference kernels, one step at a time (chains stage by stage), float32 and int8 tensors
// mixed (int8 steps in TFLite's arithmetic): the semantics every plan engine must reproduce, and the check that lowering is exact.

import { softmaxInt8 } from '../quant/int8-softmax.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { ConvStep, Plan, QConvStep, Step } from '../graph/plan.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import { clip, softmax } from '../ops/activation.js';
import { conv2d } from '../ops/conv2d.js';
import { sigmoid } from '../ops/pointwise.js';
import { dense } from '../ops/dense.js';
import { concat } from '../ops/concat.js';
import { add } from '../ops/elementwise.js';
import { zeroPad2d } from '../ops/pad.js';
import { avgPool2d, globalAvgPool, globalMaxPool, maxPool2d } from '../ops/pool.js';
import { resizeBilinear2d } from '../ops/resize.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { Int8Tensor } from '../quant/int8-ops.js';
import { addFixed, avgPool2dInt8, conv2dInt8Accumulate, globalSumInt8, requantizeFixed, shiftedInt8 } from '../quant/int8-ops.js';
import type { QParams } from '../quant/qparams.js';
import { clampRange, dequantize, quantize, saturate } from '../quant/qparams.js';
import { referenceBackend } from './reference.js';

function runConv(s: ConvStep, x: Tensor, residual: Tensor | null): Tensor {
  let y = conv2d(x, new Tensor(s.kernelShape, s.kernel), s.bias, s.conv);
  if (residual) y = add(y, residual);
  return s.clamp ? clip(y, s.clamp[0], s.clamp[1]) : y;
}

/** One step on reference kernels; `v` gives the tensor of an id, batch axis first, shaped as planned. */
export function runStep(s: Step, v: (t: number) => Tensor): Tensor {
  const x = v(s.inputs[0]);
  switch (s.op) {
    case 'conv':
      return runConv(s, x, s.residual === null ? null : v(s.residual));
    case 'chain': {
      let y = x;
      s.stages.forEach((stage, i) => (y = runConv(stage, y, i === s.stages.length - 1 && stage.residual !== null ? x : null)));
      return y;
    }
    case 'dense': {
      const y = dense(x.reshape([x.shape[0], x.size / x.shape[0]]), new Tensor([x.size / x.shape[0], s.units], s.kernel), s.bias);
      return s.clamp ? clip(y, s.clamp[0], s.clamp[1]) : y;
    }
    case 'globalAvgPool':
      return globalAvgPool(x);
    case 'globalMaxPool':
      return globalMaxPool(x);
    case 'avgPool':
      return avgPool2d(x, s.pool);
    case 'maxPool':
      return maxPool2d(x, s.pool);
    case 'affine': {
      const c = s.scale.length;
      const out = new Float32Array(x.size);
      for (let i = 0; i < out.length; i++) out[i] = x.data[i] * s.scale[i % c] + s.shift[i % c];
      return new Tensor(x.shape, out);
    }
    case 'clamp':
      return clip(x, s.clamp[0], s.clamp[1]);
    case 'add':
      // operands may be views planned with different (same-sized) shapes
      return add(x, v(s.inputs[1]).reshape(x.shape));
    case 'pad':
      return zeroPad2d(x, s.padding);
    case 'softmax':
      return softmax(x.reshape([x.size / s.channels, s.channels])).reshape(x.shape);
    case 'sigmoid':
      return sigmoid(x);
    case 'resize':
      return resizeBilinear2d(x.reshape([x.shape[0], ...s.inShape]), s.size, s.coordinates);
    case 'concat': {
      // inputs as [N, outer, block]: the axes before the concatenation axis as one, the rest as another
      const outer = x.size / (x.shape[0] * s.blocks[0]);
      return concat(s.inputs.map((t, k) => v(t).reshape([x.shape[0], outer, s.blocks[k]])), 2);
    }
    case 'layer':
      return s.layer.call(
        s.inputs.map((t, k) => v(t).reshape([x.shape[0], ...s.layer.inputShapes[k]])),
        { backend: referenceBackend },
      );
    default:
      throw new ConfigError(`step ${s.op} (${s.layers[0]}) has no float reference: int8 steps run on int8 values`);
  }
}

/** A tensor's value while a plan runs: float32, or int8 with its parameters; batch axis first. */
export type PlanValue = Tensor | Int8Tensor;

const reshaped = (v: PlanValue, shape: readonly number[]): PlanValue => (v instanceof Tensor ? v.reshape(shape) : { ...v, shape });

/** A 1×1 convolution's geometry: the form a dense layer runs in. */
const POINTWISE: Conv2DParams = { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 };

/** An int8 convolution (its input and residual int8), requantized, then added to the residual by TFLite's ADD. */
function runQConv(s: QConvStep, x: Int8Tensor, residual: Int8Tensor | null, out: QParams): Int8Tensor {
  const input = { ...x, params: { scale: x.params.scale, zeroPoint: s.inputZeroPoint } };
  const { acc, shape } = conv2dInt8Accumulate(input, s.kernel, s.kernelShape, s.conv);
  const y = requantizeFixed(acc, s.bias, s.requant);
  if (s.residual !== null && (!residual || !s.add)) throw new ConfigError(`int8 step ${s.layers[0]}: a residual needs its tensor and its add parameters`);
  return { shape, data: residual && s.add ? addFixed(y, residual.data, s.add) : y, params: out };
}

/**
 * One int8 step, or a step without a q-form on int8 values, on the reference int8 kernels (src/quant/int8-ops.ts); `out`
 * is the output tensor's parameters (undefined for a float output: dequantize).
 */
function runInt8Step(s: Step, v: (t: number) => PlanValue, out: QParams | undefined): PlanValue {
  const int8 = (t: number): Int8Tensor => {
    const value = v(t);
    if (value instanceof Tensor) throw new ConfigError(`step ${s.op} (${s.layers[0]}) reads tensor ${t} as int8, but it holds float32`);
    return value;
  };
  const params = (): QParams => {
    if (!out) throw new ConfigError(`step ${s.op} (${s.layers[0]}) writes int8, but its output tensor has no int8 parameters`);
    return out;
  };
  const x = (): Int8Tensor => int8(s.inputs[0]);
  switch (s.op) {
    case 'qconv':
      return runQConv(s, x(), s.residual === null ? null : int8(s.residual), params());
    case 'qchain': {
      const input = x();
      let y = input;
      s.stages.forEach((stage, i) => {
        const last = i === s.stages.length - 1;
        y = runQConv(stage, y, last && stage.residual !== null ? input : null, last ? params() : y.params);
      });
      return y;
    }
    case 'qdense': {
      const input = x();
      const batch = input.shape[0];
      const features = input.data.length / batch;
      return runQConv({ ...s, op: 'qconv', kernelShape: [1, 1, features, s.units], conv: POINTWISE, inShape: [1, 1, features], outShape: [1, 1, s.units], residual: null, add: null }, { ...input, shape: [batch, 1, 1, features] }, null, params());
    }
    case 'qadd':
      return { shape: x().shape, data: addFixed(x().data, int8(s.inputs[1]).data, s.add), params: params() };
    case 'qglobalAvgPool': {
      const input = x();
      const channels = input.shape[3];
      return { shape: [input.shape[0], channels], data: requantizeFixed(globalSumInt8(input, s.inputZeroPoint), new Int32Array(channels), s.requant), params: params() };
    }
    case 'qavgPool':
      return avgPool2dInt8(x(), s.pool, s.range);
    case 'qsoftmax':
      return { shape: x().shape, data: softmaxInt8(x().data, s.channels, s.table, params()), params: params() };
    case 'requantize': {
      const input = x();
      return { shape: input.shape, data: requantizeFixed(Int32Array.from(input.data, (q) => q - s.inputZeroPoint), new Int32Array(1), s.requant), params: params() };
    }
    case 'quantize': {
      const input = v(s.inputs[0]);
      if (!(input instanceof Tensor)) throw new ConfigError(`step quantize (${s.layers[0]}) reads int8 tensor ${s.inputs[0]}: int8 to int8 is a requantize step`);
      return { shape: input.shape, data: quantize(input.data, params()), params: params() };
    }
    case 'dequantize':
      return new Tensor(x().shape, dequantize(x().data, x().params));
    case 'clamp': {
      const input = x();
      const [lo, hi] = clampRange(s.clamp, input.params);
      return { ...input, data: input.data.map((q) => saturate(q, lo, hi)) };
    }
    case 'pad':
    case 'maxPool':
    case 'globalMaxPool':
    case 'concat': {
      // moves, pads and picks: the float kernel on q − zero point
      const inputs = s.inputs.map(int8);
      return shiftedInt8(inputs, (xs) => runStep(s, (t) => xs[s.inputs.indexOf(t)]), `int8 ${s.op} (${s.layers[0]})`);
    }
    default:
      throw new ConfigError(`step ${s.op} (${s.layers[0]}) has no int8 form: dequantize its input first`);
  }
}

const INT8_OPS = new Set<Step['op']>(['qconv', 'qchain', 'qdense', 'qadd', 'qglobalAvgPool', 'qavgPool', 'qsoftmax', 'quantize', 'dequantize', 'requantize']);

/** One step of `plan` on reference kernels, float32 or int8 as its tensors are; `v` gives a tensor's value, batch axis first, shaped as planned. */
export function runPlanStep(plan: Plan, s: Step, v: (t: number) => PlanValue): PlanValue {
  const int8 = INT8_OPS.has(s.op) || s.inputs.some((t) => plan.tensors[t].quant !== undefined);
  return int8 ? runInt8Step(s, v, plan.tensors[s.output].quant) : runStep(s, v as (t: number) => Tensor);
}

/**
 * Runs `plan` on its input as the input tensor holds it (int8 values for an int8 input) and returns each output as its
 * tensor holds it; float and int8 tensors mix, each step running in its tensors' types. `onStep` sees every step's output.
 */
export function runPlanValues(plan: Plan, input: PlanValue, onStep?: (step: Step, output: PlanValue) => void): PlanValue[] {
  const { tensors } = plan;
  const inputTensor = tensors[plan.input];
  const batch = input.shape[0];
  if ((input instanceof Tensor) === (inputTensor.quant !== undefined) || batch * inputTensor.size !== input.data.length) {
    throw new ShapeError(`plan input ${inputTensor.name} takes ${inputTensor.quant ? 'int8' : 'float32'} [N, ${inputTensor.shape.join(', ')}], got ${input instanceof Tensor ? 'float32' : 'int8'} ${formatShape(input.shape)}`);
  }
  const values = new Map<number, PlanValue>([[plan.input, input]]);
  const v = (t: number): PlanValue => {
    const value = values.get(t);
    if (!value) throw new ConfigError(`plan reads tensor ${t} (${tensors[t]?.name}) before any step wrote it`);
    // views (dropout, flatten, keepDims pooling) share a tensor id; give each step the shape it planned
    return reshaped(value, [batch, ...tensors[t].shape]);
  };
  for (const s of plan.steps) {
    const y = runPlanStep(plan, s, v);
    values.set(s.output, y);
    onStep?.(s, y);
  }
  return plan.outputs.map(v);
}

/** Runs the plan of a one-output model on an NHWC batch; returns the output with per-sample shape `outputShape`. */
export function runPlanReference(plan: Plan, x: Tensor, outputShape: readonly number[]): Tensor {
  if (plan.outputs.length !== 1) throw new ConfigError(`plan has ${plan.outputs.length} outputs: run it with runPlanOutputs`);
  return runPlanOutputs(plan, x, [outputShape])[0];
}

/**
 * Runs `plan` on a float NHWC batch (quantized by the input tensor's parameters when it holds int8); returns each of its
 * outputs in float32 (dequantized when int8), shaped [N, ...outputShapes[k]] (default: the output tensor's shape).
 */
export function runPlanOutputs(plan: Plan, x: Tensor, outputShapes: readonly (readonly number[])[] = plan.outputs.map((t) => plan.tensors[t].shape)): Tensor[] {
  const quant = plan.tensors[plan.input].quant;
  const input: PlanValue = quant ? { shape: x.shape, data: quantize(x.data, quant), params: quant } : x;
  const batch = x.shape[0];
  return runPlanValues(plan, input).map((y, k) => {
    const shape = [batch, ...outputShapes[k]];
    return y instanceof Tensor ? y.reshape(shape) : new Tensor(shape, dequantize(y.data, y.params));
  });
}
