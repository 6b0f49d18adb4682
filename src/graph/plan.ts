// The execution plan a model lowers to: numbered tensors and a list of steps whose weights are final
// (BatchNorm folded, activations and residual adds fused into conv epilogues), ready for any engine.

import type { Layer } from '../nn/layer.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import type { Padding4 } from '../ops/geometry.js';
import type { Pool2DParams } from '../ops/pool.js';
import type { ResizeCoordinates } from '../ops/resize.js';

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

export type Step = ConvStep | ChainStep | DenseStep | GlobalPoolStep | PoolStep | AffineStep | ClampStep | AddStep | PadStep | SoftmaxStep | SigmoidStep | ResizeStep | ConcatStep | LayerStep;

export interface Plan {
  tensors: PlanTensor[];
  steps: Step[];
  input: number;
  /** The tensor of each model output, in `Model.outputNames` order (two may be one tensor): alive to the end of the plan. */
  outputs: number[];
}
