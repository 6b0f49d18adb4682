// Reference element-wise functions beyond ReLU: clip to [lo, hi], sigmoid, exp, hard sigmoid and hard swish
// (MobileNetV3's activations), each with the backward a training forward needs.

import { ShapeError } from '../errors.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

function map(x: Tensor, f: (v: number) => number): Tensor {
  const out = new Float32Array(x.size);
  const d = x.data;
  for (let i = 0; i < d.length; i++) out[i] = f(d[i]);
  return new Tensor(x.shape, out);
}

function zipGradient(dy: Tensor, t: Tensor, what: string, f: (g: number, v: number) => number): Tensor {
  if (!sameShape(dy.shape, t.shape)) throw new ShapeError(`${what}: gradient ${formatShape(dy.shape)} and tensor ${formatShape(t.shape)} differ`);
  const dx = new Float32Array(dy.size);
  for (let i = 0; i < dx.length; i++) dx[i] = f(dy.data[i], t.data[i]);
  return new Tensor(dy.shape, dx);
}

/** min(max(x, lo), hi), as ONNX Clip; NaN passes through. */
export function clipRange(x: Tensor, lo: number, hi: number): Tensor {
  return map(x, (v) => {
    const low = v < lo ? lo : v;
    return low > hi ? hi : low;
  });
}

/** dL/dx of clip from its output: the gradient passes where lo < y < hi (torch's hardtanh rule at the clip points). */
export function clipRangeBackward(dy: Tensor, y: Tensor, lo: number, hi: number): Tensor {
  // a clipped output holds the bound rounded to float32
  const [low, high] = [Math.fround(lo), Math.fround(hi)];
  return zipGradient(dy, y, 'clipBackward', (g, v) => (v > low && v < high ? g : 0));
}

export function sigmoid(x: Tensor): Tensor {
  return map(x, (v) => 1 / (1 + Math.exp(-v)));
}

/** e^x (the box decoding of detector graphs: sizes from log-scale codes). */
export function exp(x: Tensor): Tensor {
  return map(x, Math.exp);
}

/** dL/dx of exp from its output: dy · y. */
export function expBackward(dy: Tensor, y: Tensor): Tensor {
  return zipGradient(dy, y, 'expBackward', (g, v) => g * v);
}

/** dL/dx of sigmoid from its output: dy · y · (1 − y). */
export function sigmoidBackward(dy: Tensor, y: Tensor): Tensor {
  return zipGradient(dy, y, 'sigmoidBackward', (g, v) => g * v * (1 - v));
}

/** max(0, min(1, α·x + β)); ONNX's defaults are α 0.2, β 0.5, torch's Hardsigmoid α 1/6. */
export function hardSigmoid(x: Tensor, alpha: number, beta: number): Tensor {
  return map(x, (v) => Math.max(0, Math.min(1, alpha * v + beta)));
}

/** dL/dx of hardSigmoid from its input: α·dy inside the linear part, 0 where it saturates. */
export function hardSigmoidBackward(dy: Tensor, x: Tensor, alpha: number, beta: number): Tensor {
  return zipGradient(dy, x, 'hardSigmoidBackward', (g, v) => {
    const z = alpha * v + beta;
    return z > 0 && z < 1 ? g * alpha : 0;
  });
}

/** x · hardSigmoid(x, 1/6, 1/2) (ONNX HardSwish, torch Hardswish). */
export function hardSwish(x: Tensor): Tensor {
  return map(x, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)));
}

/** dL/dx of hardSwish from its input: 0 below −3, dy above 3, dy·(x/3 + 1/2) between (torch's rule at the ends). */
export function hardSwishBackward(dy: Tensor, x: Tensor): Tensor {
  return zipGradient(dy, x, 'hardSwishBackward', (g, v) => (v < -3 ? 0 : v > 3 ? g : g * (v / 3 + 0.5)));
}
