// Reference dense (fully connected) layer: y = x·W + b with x [N, in], W [in, out] (Keras layout;
// torch's Linear weight [out, in] is transposed at import).

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
