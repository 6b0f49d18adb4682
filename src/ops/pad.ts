// Reference zero padding of NHWC activations by [top, bottom, left, right] pixels.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { Padding4 } from './geometry.js';

export function zeroPad2d(x: Tensor, pad: Padding4): Tensor {
  if (x.rank !== 4) throw new ShapeError(`zeroPad2d: input must be NHWC rank 4, got ${formatShape(x.shape)}`);
  const [n, h, w, c] = x.shape;
  const [top, bottom, left, right] = pad;
  const oh = h + top + bottom;
  const ow = w + left + right;
  const out = new Float32Array(n * oh * ow * c);
  const rowLength = w * c;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const src = (b * h + y) * rowLength;
      out.set(x.data.subarray(src, src + rowLength), ((b * oh + y + top) * ow + left) * c);
    }
  }
  return new Tensor([n, oh, ow, c], out);
}
