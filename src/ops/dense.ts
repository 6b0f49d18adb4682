// Reference dense (fully connected) layer: y = x·W + b with x [N, in], W [in, out] (Keras layout;
// torch's Linear weight [out, in] is transposed at import), and its input and kernel gradients.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';

export function dense(x: Tensor, kernel: Tensor, bias: Float32Array | null): Tensor {
  if (x.rank !== 2) throw new ShapeError(`dense: input must be rank 2 [N, features], got ${formatShape(x.shape)}`);
  if (kernel.rank !== 2 || kernel.shape[0] !== x.shape[1]) {
    throw new ShapeError(`dense: kernel ${formatShape(kernel.shape)} does not fit input ${formatShape(x.shape)} (expected [${x.shape[1]}, units])`);
  }
  const [n, k] = x.shape;
  const units = kernel.shape[1];
  if (bias && bias.length !== units) throw new ShapeError(`dense: bias has ${bias.length} values, expected ${units}`);
  const out = new Float32Array(n * units);
  const acc = new Float64Array(units);
  for (let b = 0; b < n; b++) {
    if (bias) acc.set(bias);
    else acc.fill(0);
    for (let i = 0; i < k; i++) {
      const v = x.data[b * k + i];
      const row = i * units;
      for (let j = 0; j < units; j++) acc[j] += v * kernel.data[row + j];
    }
    out.set(acc, b * units);
  }
  return new Tensor([n, units], out);
}

/** dL/dx of y = x·W + b: dy·Wᵀ, each element a dot product over the units (contiguous in W's rows). */
export function denseBackwardInput(dy: Tensor, kernel: Tensor): Tensor {
  if (dy.rank !== 2 || kernel.rank !== 2 || dy.shape[1] !== kernel.shape[1]) {
    throw new ShapeError(`denseBackwardInput: gradient ${formatShape(dy.shape)} does not fit kernel ${formatShape(kernel.shape)}`);
  }
  const [n, units] = dy.shape;
  const k = kernel.shape[0];
  const dx = new Float32Array(n * k);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < k; i++) {
      let sum = 0;
      for (let j = 0; j < units; j++) sum += dy.data[b * units + j] * kernel.data[i * units + j];
      dx[b * k + i] = sum;
    }
  }
  return new Tensor([n, k], dx);
}

/** dL/dW of y = x·W + b: xᵀ·dy, [in, units] like the kernel, summed over the batch in float64. */
export function denseBackwardKernel(x: Tensor, dy: Tensor): Tensor {
  if (x.rank !== 2 || dy.rank !== 2 || x.shape[0] !== dy.shape[0]) {
    throw new ShapeError(`denseBackwardKernel: input ${formatShape(x.shape)} and gradient ${formatShape(dy.shape)} do not fit`);
  }
  const [n, k] = x.shape;
  const units = dy.shape[1];
  const acc = new Float64Array(k * units);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < k; i++) {
      const v = x.data[b * k + i];
      const row = i * units;
      for (let j = 0; j < units; j++) acc[row + j] += v * dy.data[b * units + j];
    }
  }
  return new Tensor([k, units], Float32Array.from(acc));
}
