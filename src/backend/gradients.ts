// The kernels a differentiable forward and its backward need beyond the inference Backend: batch-statistics
// BatchNorm and the backward of every op. The plain-TS reference here; a WebAssembly one implements the same interface.

import type { Activation } from '../ops/activation.js';
import { activationBackward, softmaxBackward } from '../ops/activation.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import { conv2dBackwardInput, conv2dBackwardKernel } from '../ops/conv2d.js';
import { denseBackwardInput, denseBackwardKernel } from '../ops/dense.js';
import { applyMask } from '../ops/dropout.js';
import { addInPlace, sumToChannels } from '../ops/elementwise.js';
import type { Padding4 } from '../ops/geometry.js';
import type { BatchStatistics } from '../ops/normalization.js';
import { batchNormBackward, batchNormTrain } from '../ops/normalization.js';
import { zeroPad2dBackward } from '../ops/pad.js';
import type { Pool2DParams } from '../ops/pool.js';
import { avgPool2dBackward, globalAvgPoolBackward, globalMaxPoolBackward, maxPool2dBackward } from '../ops/pool.js';
import type { Tensor } from '../tensor/tensor.js';

export interface GradientBackend {
  readonly name: string;
  conv2dBackwardInput(dy: Tensor, kernel: Tensor, xShape: readonly number[], p: Conv2DParams): Tensor;
  conv2dBackwardKernel(x: Tensor, dy: Tensor, kernelShape: readonly number[], p: Conv2DParams): Tensor;
  /** Sum over all axes but the last: bias gradients. */
  sumToChannels(dy: Tensor): Tensor;
  batchNormTrain(x: Tensor, gamma: Float32Array, beta: Float32Array, epsilon: number): { y: Tensor; stats: BatchStatistics };
  batchNormBackward(dy: Tensor, x: Tensor, gamma: Float32Array, mean: Float32Array, invStd: Float32Array, batchStatistics: boolean): { dx: Tensor; dGamma: Tensor; dBeta: Tensor };
  /** From the activation's output; may return `dy` itself for `linear`. */
  activationBackward(dy: Tensor, y: Tensor, activation: Activation): Tensor;
  softmaxBackward(dy: Tensor, y: Tensor): Tensor;
  zeroPad2dBackward(dy: Tensor, pad: Padding4): Tensor;
  globalAvgPoolBackward(dy: Tensor, xShape: readonly number[]): Tensor;
  globalMaxPoolBackward(dy: Tensor, x: Tensor): Tensor;
  avgPool2dBackward(dy: Tensor, xShape: readonly number[], p: Pool2DParams): Tensor;
  maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2DParams): Tensor;
  denseBackwardInput(dy: Tensor, kernel: Tensor): Tensor;
  denseBackwardKernel(x: Tensor, dy: Tensor): Tensor;
  /** x ⊙ mask (dropout forward and backward). */
  applyMask(x: Tensor, mask: Float32Array): Tensor;
  /** acc += x, in place (gradients of a tensor with several readers). */
  addInPlace(acc: Tensor, x: Tensor): void;
}

export const referenceGradients: GradientBackend = {
  name: 'reference',
  conv2dBackwardInput,
  conv2dBackwardKernel,
  sumToChannels,
  batchNormTrain,
  batchNormBackward,
  activationBackward,
  softmaxBackward,
  zeroPad2dBackward,
  globalAvgPoolBackward,
  globalMaxPoolBackward,
  avgPool2dBackward,
  maxPool2dBackward,
  denseBackwardInput,
  denseBackwardKernel,
  applyMask,
  addInPlace,
};
