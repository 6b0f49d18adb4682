// The op-by-op backend interface, implemented by the plain-TS kernels (reference.ts) and WebAssembly SIMD (wasm/):
// one method per op, NHWC activations, explicit padding, no hidden state.

import type { Tensor } from '../tensor/tensor.js';
import type { Activation } from '../ops/activation.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import type { Padding4 } from '../ops/geometry.js';
import type { BatchNormParams } from '../ops/normalization.js';
import type { Pool2DParams } from '../ops/pool.js';
import type { ResizeCoordinates } from '../ops/resize.js';

export interface Backend {
  readonly name: string;
  conv2d(x: Tensor, kernel: Tensor, bias: Float32Array | null, p: Conv2DParams): Tensor;
  batchNorm(x: Tensor, p: BatchNormParams): Tensor;
  activation(x: Tensor, activation: Activation): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  zeroPad2d(x: Tensor, pad: Padding4): Tensor;
  globalAvgPool(x: Tensor): Tensor;
  globalMaxPool(x: Tensor): Tensor;
  avgPool2d(x: Tensor, p: Pool2DParams): Tensor;
  maxPool2d(x: Tensor, p: Pool2DParams): Tensor;
  dense(x: Tensor, kernel: Tensor, bias: Float32Array | null): Tensor;
  softmax(x: Tensor): Tensor;
  /** Bilinear resize of NHWC images to [height, width] = `size` (src/ops/resize.ts). */
  resizeBilinear(x: Tensor, size: readonly [number, number], coordinates: ResizeCoordinates): Tensor;
}
