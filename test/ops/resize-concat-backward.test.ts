// Backward of the segmentation head's ops against central differences of float64 forwards written here from their
// definitions: bilinear resize in each convention, channel concatenation, and image pooling (GAP keepDims → resize).

import { describe, it } from 'node:test';
import { referenceBackend } from '../../src/backend/reference.js';
import { referenceGradients } from '../../src/backend/gradients.js';
import { input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import type { Layer, TrainContext, TrainForward } from '../../src/nn/layer.js';
import { GlobalAveragePooling2D } from '../../src/nn/pooling.js';
import { Resize } from '../../src/nn/resize.js';
import { RESIZE_COORDINATES, type ResizeCoordinates } from '../../src/ops/resize.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertGradient, dot, numericGradient, operand } from '../support/gradient-check.js';

const ctx: TrainContext = { backend: referenceBackend, gradients: referenceGradients, training: true, rng: new Random(1) };

/** The layer's differentiable forward; `inputGradients(dy)` its input gradients. */
function forward(layer: Layer, xs: Tensor[]): { output: Tensor; inputGradients: (dy: Tensor) => Tensor[] } {
  const f: TrainForward = layer.forwardTrain(xs, ctx);
  return { output: f.output, inputGradients: (dy) => f.backward(dy, true).inputs.map((g) => g!) };
}

/** Where output pixel i of m samples an axis of n pixels, by the convention's formula (torch, TF, ONNX docs). */
function sourcePosition(i: number, n: number, m: number, coordinates: ResizeCoordinates): number {
  if (coordinates === 'align-corners') return m > 1 ? (i * (n - 1)) / (m - 1) : 0;
  if (coordinates === 'asymmetric') return (i * n) / m;
  return Math.max(0, ((i + 0.5) * n) / m - 0.5);
}

/** y = Σ over the 2×2 neighbours of the sampled position of x·(1 − |dy|)(1 − |dx|), positions past the edge at the edge. */
function resize64(x: Float64Array, [n, h, w, c]: readonly number[], [th, tw]: readonly [number, number], coordinates: ResizeCoordinates): Float64Array {
  const y = new Float64Array(n * th * tw * c);
  const clampAt = (v: number, size: number): number => Math.min(Math.max(v, 0), size - 1);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < th; i++)
      for (let j = 0; j < tw; j++) {
        const py = clampAt(sourcePosition(i, h, th, coordinates), h);
        const px = clampAt(sourcePosition(j, w, tw, coordinates), w);
        const [y0, x0] = [Math.floor(py), Math.floor(px)];
        for (const yy of [y0, y0 + 1])
          for (const xx of [x0, x0 + 1]) {
            const weight = Math.max(0, 1 - Math.abs(py - yy)) * Math.max(0, 1 - Math.abs(px - xx));
            if (weight === 0) continue;
            for (let ch = 0; ch < c; ch++) y[((b * th + i) * tw + j) * c + ch] += weight * x[((b * h + clampAt(yy, h)) * w + clampAt(xx, w)) * c + ch];
          }
      }
  return y;
}

describe('Resize backward vs finite differences', () => {
  // up, down, odd sizes, 1×1 broadcast, a single row, batch 2, channel counts not a multiple of 4
  const cases: [number[], [number, number]][] = [
    [[2, 3, 5, 3], [7, 4]],
    [[1, 7, 6, 2], [3, 5]],
    [[2, 1, 1, 5], [4, 3]],
    [[1, 1, 6, 1], [3, 9]],
    [[2, 4, 4, 3], [4, 4]],
  ];
  for (const coordinates of RESIZE_COORDINATES) {
    it(`${coordinates}: up, down, 1×1, one row, same size, batch 2`, () => {
      for (const [shape, size] of cases) {
        const layer = new Resize('resize', { size }, coordinates);
        layer.apply(input(shape.slice(1)));
        const x = operand(shape, 31);
        const weights = operand([shape[0], ...size, shape[3]], 32).d;
        // linear in x: central differences with a unit step are exact in float64
        const expected = numericGradient(() => dot(resize64(x.d, shape, size, coordinates), weights), x.d, 1);
        const [dx] = forward(layer, [x.t]).inputGradients(new Tensor([shape[0], ...size, shape[3]], Float32Array.from(weights)));
        assertGradient(dx, expected, `${coordinates} [${shape.join(', ')}] → ${size.join('×')}`, 1e-6);
      }
    });
  }
});

describe('Concatenate backward vs finite differences', () => {
  it('channels 3, 1 and 6 of [2, 3, 5, ·]: each input gets its slice of the gradient', () => {
    const channels = [3, 1, 6];
    const layer = new Concatenate('concat', -1, channels.length);
    layer.apply(channels.map((c) => input([3, 5, c])));
    const xs = channels.map((c, k) => operand([2, 3, 5, c], 40 + k));
    const total = channels.reduce((a, b) => a + b, 0);
    const weights = operand([2, 3, 5, total], 49).d;
    // y[p, offset_k + i] = x_k[p, i]
    const concat64 = (): Float64Array => {
      const y = new Float64Array(weights.length);
      let offset = 0;
      xs.forEach((x, k) => {
        for (let p = 0; p < 2 * 3 * 5; p++) for (let i = 0; i < channels[k]; i++) y[p * total + offset + i] = x.d[p * channels[k] + i];
        offset += channels[k];
      });
      return y;
    };
    const grads = forward(layer, xs.map((x) => x.t)).inputGradients(new Tensor([2, 3, 5, total], Float32Array.from(weights)));
    xs.forEach((x, k) => assertGradient(grads[k], numericGradient(() => dot(concat64(), weights), x.d, 1), `input ${k} (${channels[k]} channels)`, 1e-7));
  });
});

describe('image pooling (GAP keepDims → resize 1×1 → H×W) backward vs finite differences', () => {
  for (const coordinates of RESIZE_COORDINATES) {
    it(`${coordinates}: [2, 5, 3, 6] pooled and broadcast to 4×7`, () => {
      const shape = [2, 5, 3, 6];
      const [n, h, w, c] = shape;
      const size: [number, number] = [4, 7];
      const x = operand(shape, 51);
      const pool = new GlobalAveragePooling2D('pool', true);
      const resize = new Resize('pool_resize', { size }, coordinates);
      resize.apply(pool.apply(input(shape.slice(1))));
      // the mean over pixels, as a 1×1 image, then resized
      const mean64 = (): Float64Array => {
        const m = new Float64Array(n * c);
        for (let i = 0; i < x.d.length; i++) m[Math.floor(i / (h * w * c)) * c + (i % c)] += x.d[i] / (h * w);
        return m;
      };
      const weights = operand([n, ...size, c], 52).d;
      const expected = numericGradient(() => dot(resize64(mean64(), [n, 1, 1, c], size, coordinates), weights), x.d, 1);
      const pooled = forward(pool, [x.t]);
      const [dPooled] = forward(resize, [pooled.output]).inputGradients(new Tensor([n, ...size, c], Float32Array.from(weights)));
      assertGradient(pooled.inputGradients(dPooled)[0], expected, `image pooling (${coordinates})`, 1e-6);
    });
  }
});
