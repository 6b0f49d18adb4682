// Reference zero padding of NHWC activations by [top, bottom, left, right] pixels, and its backward (a crop).

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

/** dL/dx of zeroPad2d: the gradient cropped back to the unpadded input. */
export function zeroPad2dBackward(dy: Tensor, pad: Padding4): Tensor {
  if (dy.rank !== 4) throw new ShapeError(`zeroPad2dBackward: gradient must be NHWC rank 4, got ${formatShape(dy.shape)}`);
  const [n, oh, ow, c] = dy.shape;
  const [top, bottom, left, right] = pad;
  const h = oh - top - bottom;
  const w = ow - left - right;
  if (h < 0 || w < 0) throw new ShapeError(`zeroPad2dBackward: gradient ${formatShape(dy.shape)} is smaller than the padding [${pad.join(', ')}]`);
  const dx = new Float32Array(n * h * w * c);
  const rowLength = w * c;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const src = ((b * oh + y + top) * ow + left) * c;
      dx.set(dy.data.subarray(src, src + rowLength), (b * h + y) * rowLength);
    }
  }
  return new Tensor([n, h, w, c], dx);
}
