// The execution plan a model lowers to: numbered tensors and a list of steps whose weights are final
// (BatchNorm folded, activations and residual adds fused into conv epilogues), ready for any engine.

import type { Layer } from '../nn/layer.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import type { Padding4 } from '../ops/geometry.js';
import type { Pool2DParams } from '../ops/pool.js';
import type { ResizeCoordinates } from '../ops/resize.js';
import type { AddRequantization, Requantization } from '../quant/fixed-point.js';
import type { QParams } from '../quant/qparams.js';

/** A fused activation: y = min(max(y, lo), hi). ReLU is [0, ∞), ReLU6 [0, 6]. */
export type Clamp = readonly [lo: number, hi: number];

export interface PlanTensor {
  id: number;
  /** Per-sample shape, e.g. [H, W, C]. */
  shape: number[];
  /** Elements per sample. */
  size: number;
  /** The layer whose output this is (the last one fused into it). */
  name: string;
  /**
   * Present: the tensor holds int8, real = scale·(q − zeroPoint), one byte per element. Absent: float32. Steps without a
   * q-prefixed form (views, pad, concat, maxPool, globalMaxPool, clamp, layer-free reshapes) run on either: pad fills
   * the zero point, concat needs equal parameters on every input, clamp maps its reals through the parameters.
   */
  quant?: QParams;
}

interface StepBase {
  /** Layer names fused into this step, first to last. */
  layers: string[];
  inputs: number[];
  output: number;
}

/** Convolution (standard, pointwise, grouped or depthwise): y = clamp(conv(x) + bias + residual). */
export interface ConvStep extends StepBase {
  op: 'conv';
  /** HWIO [kh, kw, Cin/groups, Cout], BatchNorm folded in. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array;
  conv: Conv2DParams;
  inShape: [number, number, number];
  outShape: [number, number, number];
  clamp: Clamp | null;
  /** Tensor added before the clamp (inputs[1]), or null. */
  residual: number | null;
}

/**
 * A chain of convolutions run row by row, so that only the chain's input and output are ever whole
 * (paper §5.1): an inverted residual block, optionally preceded by the stem. The residual, if any, is
 * the chain's input added to the last stage.
 */
export interface ChainStep extends StepBase {
  op: 'chain';
  stages: ConvStep[];
}

export interface DenseStep extends StepBase {
  op: 'dense';
  /** [in, out] */
  kernel: Float32Array;
  bias: Float32Array;
  units: number;
  clamp: Clamp | null;
}

export interface GlobalPoolStep extends StepBase {
  op: 'globalAvgPool' | 'globalMaxPool';
}

export interface PoolStep extends StepBase {
  op: 'avgPool' | 'maxPool';
  pool: Pool2DParams;
}

export interface AffineStep extends StepBase {
  /** A BatchNorm that could not be folded: y = x·scale + shift per channel. */
  op: 'affine';
  scale: Float32Array;
  shift: Float32Array;
}

export interface ClampStep extends StepBase {
  op: 'clamp';
  clamp: Clamp;
}

export interface AddStep extends StepBase {
  op: 'add';
}

export interface PadStep extends StepBase {
  op: 'pad';
  padding: Padding4;
}

/** Softmax over runs of `channels` floats: the layer's last axis (a view's source may group them otherwise). */
export interface SoftmaxStep extends StepBase {
  op: 'softmax';
  channels: number;
}

/** 1 / (1 + e^−x), element by element. */
export interface SigmoidStep extends StepBase {
  op: 'sigmoid';
}

/** Bilinear resize of an image to [height, width] = `size`, as src/ops/resize.ts does it in `coordinates`. */
export interface ResizeStep extends StepBase {
  op: 'resize';
  /** The input as the layer sees it: [H, W, C]. */
  inShape: [number, number, number];
  size: [number, number];
  coordinates: ResizeCoordinates;
}

/**
 * Concatenation of the inputs, in order, on one axis: for each index of the axes before it (a pixel, for the channel
 * axis; the whole sample, for the first axis: SSD's anchors), each input's run of floats there, one after another.
 */
export interface ConcatStep extends StepBase {
  op: 'concat';
  /** Each input's floats per index of the axes before the concatenation axis (its channels, on the last axis). */
  blocks: number[];
}

/**
 * A layer with no engine step of its own (an imported graph's Transpose, Concatenate, Sigmoid, …): run by
 * its own `call` on the reference kernels, each input shaped as the layer expects it.
 */
export interface LayerStep extends StepBase {
  op: 'layer';
  layer: Layer;
}

/**
 * Int8 convolution (standard, pointwise, grouped or depthwise) in TFLite's arithmetic: acc = bias[c] + Σ (x − zx)·w over
 * the window (taps outside the input add nothing), requantized (src/quant/fixed-point.ts). With a residual, that int8
 * result is then added to inputs[1] by TFLite's ADD (`add`: operand a is the result, in `requant`'s zero point).
 */
export interface QConvStep extends StepBase {
  op: 'qconv';
  /** HWIO [kh, kw, Cin/groups, Cout], symmetric (zero point 0); the per-channel scales are folded into `requant`. */
  kernel: Int8Array;
  kernelShape: [number, number, number, number];
  /** Int32 per output channel, on the accumulator's scale sx·sw[c]. */
  bias: Int32Array;
  conv: Conv2DParams;
  inShape: [number, number, number];
  outShape: [number, number, number];
  inputZeroPoint: number;
  requant: Requantization;
  /** Tensor added after requantization (inputs[1]), or null. */
  residual: number | null;
  add: AddRequantization | null;
}

/** A row-streamed chain of int8 convolutions (ChainStep's int8 form); a residual is the chain's input, added by the last stage's `add`. */
export interface QChainStep extends StepBase {
  op: 'qchain';
  stages: QConvStep[];
}

/** Int8 dense layer: acc = bias[o] + Σ (x − zx)·w, requantized (per output unit or one for all). */
export interface QDenseStep extends StepBase {
  op: 'qdense';
  /** [in, out], symmetric. */
  kernel: Int8Array;
  bias: Int32Array;
  units: number;
  inputZeroPoint: number;
  requant: Requantization;
}

/** TFLite's int8 ADD of inputs[0] and inputs[1]. */
export interface QAddStep extends StepBase {
  op: 'qadd';
  add: AddRequantization;
}

/** Int8 global average pool: acc = Σ (x − zx) over the map, y = clamp(zy + MBQM(acc, m, s)), m = sx / (H·W·sy). */
export interface QGlobalAvgPoolStep extends StepBase {
  op: 'qglobalAvgPool';
  inputZeroPoint: number;
  requant: Requantization;
}

/** Int8 average pool with equal parameters in and out (TFLite's rule): the window's taps inside the input, averaged with rounding half away from zero, clamped to `range`. */
export interface QAvgPoolStep extends StepBase {
  op: 'qavgPool';
  pool: Pool2DParams;
  range: readonly [number, number];
}

/** TFLite's int8 SOFTMAX over runs of `channels` values (src/quant/int8-softmax.ts): `table` holds e^(−sx·β·v), v = 255 − index. */
export interface QSoftmaxStep extends StepBase {
  op: 'qsoftmax';
  channels: number;
  beta: number;
  table: Float32Array;
}

/** Float32 → int8 by the output tensor's parameters, as `quantize` in src/quant/qparams.ts. */
export interface QuantizeStep extends StepBase {
  op: 'quantize';
}

/** Int8 → float32 by the input tensor's parameters: real = scale·(q − zeroPoint). */
export interface DequantizeStep extends StepBase {
  op: 'dequantize';
}

/** Int8 → int8 with other parameters (TFLite's QUANTIZE of an int8 tensor): y = clamp(zy + MBQM(x − zx, m, s)). */
export interface RequantizeStep extends StepBase {
  op: 'requantize';
  inputZeroPoint: number;
  requant: Requantization;
}

export type Int8Step = QConvStep | QChainStep | QDenseStep | QAddStep | QGlobalAvgPoolStep | QAvgPoolStep | QSoftmaxStep | QuantizeStep | DequantizeStep | RequantizeStep;

export type Step = ConvStep | ChainStep | DenseStep | GlobalPoolStep | PoolStep | AffineStep | ClampStep | AddStep | PadStep | SoftmaxStep | SigmoidStep | ResizeStep | ConcatStep | LayerStep | Int8Step;

export interface Plan {
  tensors: PlanTensor[];
  steps: Step[];
  input: number;
  /** The tensor of each model output, in `Model.outputNames` order (two may be one tensor): alive to the end of the plan. */
  outputs: number[];
}

/** What an engine runs when no float Model stands behind it (an int8 plan, an imported TFLite graph): a plan and its outputs' names. */
export interface PlannedModel {
  readonly plan: Plan;
  /** One per `plan.outputs`, in order. */
  readonly outputNames: readonly string[];
}
