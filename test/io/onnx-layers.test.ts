// The layers graph imports add (Clip, Sigmoid, Exp, HardSigmoid, HardSwish, broadcasting Arithmetic, Concatenate, Transpose, Slice):
// forwards against float64 definitions written here, backwards against central differences of those.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { referenceBackend } from '../../src/backend/reference.js';
import { referenceGradients } from '../../src/backend/gradients.js';
import { input } from '../../src/nn/core.js';
import { Arithmetic, Clip, Concatenate, Exp, HardSigmoid, HardSwish, Sigmoid, Transpose } from '../../src/nn/extra.js';
import { Slice } from '../../src/nn/slice.js';
import { ShapeError } from '../../src/errors.js';
import type { Layer, TrainContext } from '../../src/nn/layer.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, stridesOf } from '../../src/tensor/tensor.js';
import type { ArithmeticOp } from '../../src/ops/broadcast.js';
import { assertGradient, dot, numericGradient, operand } from '../support/gradient-check.js';
import type { Operand } from '../support/gradient-check.js';

const ctx = (): TrainContext => ({ backend: referenceBackend, gradients: referenceGradients, training: true, rng: new Random(0) });

/**
 * Checks `layer` on `inputs`: forward equals `reference` (float64, from the definition) within float32 rounding, and
 * the backward of Σ w·y equals the numeric gradient of the reference for every input.
 */
function check(layer: Layer, inputs: Operand[], reference: (xs: Float64Array[]) => Float64Array, what: string): void {
  const forward = layer.forwardTrain(inputs.map((o) => o.t), ctx());
  const expected = reference(inputs.map((o) => o.d));
  assertGradient(forward.output, expected, `${what} forward`, 1e-6);
  const weights = operand(forward.output.shape, 99);
  const grads = forward.backward(weights.t, true).inputs;
  inputs.forEach((o, k) => assertGradient(grads[k]!, numericGradient(() => dot(reference(inputs.map((p) => p.d)), weights.d), o.d), `${what} d/dx${k}`));
}

const map = (f: (v: number) => number) => ([x]: Float64Array[]): Float64Array => x.map(f);

/** a ∘ b with NumPy broadcasting, in float64, index by index. */
function broadcast64(a: Float64Array, aShape: number[], b: Float64Array, bShape: number[], outShape: number[], f: (x: number, y: number) => number): Float64Array {
  const out = new Float64Array(outShape.reduce((p, d) => p * d, 1));
  const strides = stridesOf(outShape);
  const offset = (shape: number[], index: number[]): number => {
    const own = stridesOf(shape);
    const lead = outShape.length - shape.length;
    return shape.reduce((sum, d, i) => sum + (d === 1 ? 0 : index[i + lead] * own[i]), 0);
  };
  for (let i = 0; i < out.length; i++) {
    const index = strides.map((s, axis) => Math.floor(i / s) % outShape[axis]);
    out[i] = f(a[offset(aShape, index)], b[offset(bShape, index)]);
  }
  return out;
}

const OPS: Record<ArithmeticOp, (x: number, y: number) => number> = { add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y };

describe('layers for imported graphs: forward and backward', () => {
  it('Clip, Sigmoid, HardSigmoid, HardSwish', () => {
    const x = operand([2, 3, 4, 5], 1, -4, 4);
    check(new Clip('clip', -0.5, 0.7), [x], map((v) => Math.min(Math.max(v, -0.5), 0.7)), 'Clip');
    check(new Clip('open', -Infinity, 1.5), [x], map((v) => Math.min(v, 1.5)), 'Clip(−∞, 1.5)');
    check(new Sigmoid('sigmoid'), [x], map((v) => 1 / (1 + Math.exp(-v))), 'Sigmoid');
    check(new Exp('exp'), [x], map(Math.exp), 'Exp');
    check(new HardSigmoid('hs', 0.3, 0.4), [x], map((v) => Math.min(1, Math.max(0, 0.3 * v + 0.4))), 'HardSigmoid');
    check(new HardSwish('hswish'), [x], map((v) => v * Math.min(1, Math.max(0, v / 6 + 0.5))), 'HardSwish');
    assert.throws(() => new Clip('bad', 2, 1), /lo ≤ hi/);
  });

  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it(`Arithmetic ${op}: two inputs broadcasting per sample, and a constant on either side`, () => {
      const a = operand([2, 3, 4, 5], 2, 0.5, 2);
      const b = operand([2, 1, 1, 5], 3, 0.5, 2);
      const two = new Arithmetic(op, op);
      two.apply([input([3, 4, 5]), input([1, 1, 5], 'other')]);
      check(two, [a, b], ([x, y]) => broadcast64(x, [2, 3, 4, 5], y, [2, 1, 1, 5], [2, 3, 4, 5], OPS[op]), `${op} two inputs`);
      const c = operand([4, 1], 4, 0.5, 2);
      for (const side of ['left', 'right'] as const) {
        const layer = new Arithmetic(`${op}_${side}`, op, { value: c.t, side });
        const f = side === 'left' ? (x: number, y: number) => OPS[op](y, x) : OPS[op];
        check(layer, [a], ([x]) => broadcast64(x, [2, 3, 4, 5], c.d, [1, 1, 4, 1], [2, 3, 4, 5], f), `${op} constant ${side}`);
      }
    });
  }

  it('Concatenate along a middle per-sample axis, and Transpose', () => {
    const a = operand([2, 3, 2, 4], 5);
    const b = operand([2, 3, 5, 4], 6);
    const concat = new Concatenate('concat', 1, 2);
    concat.apply([input([3, 2, 4]), input([3, 5, 4], 'b')]);
    check(concat, [a, b], ([x, y]) => {
      const out = new Float64Array(2 * 3 * 7 * 4);
      for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) for (let j = 0; j < 7; j++) for (let k = 0; k < 4; k++) out[((n * 3 + i) * 7 + j) * 4 + k] = j < 2 ? x[((n * 3 + i) * 2 + j) * 4 + k] : y[((n * 3 + i) * 5 + j - 2) * 4 + k];
      return out;
    }, 'Concatenate');
    const transpose = new Transpose('t', [2, 0, 1]);
    check(transpose, [a], ([x]) => {
      const out = new Float64Array(x.length);
      // out[n, k, i, j] = x[n, i, j, k]
      for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 4; k++) out[((n * 4 + k) * 3 + i) * 2 + j] = x[((n * 3 + i) * 2 + j) * 4 + k];
      return out;
    }, 'Transpose');
    assert.deepEqual([...new Transpose('shape', [2, 0, 1]).apply(input([3, 2, 4], 'x2')).shape], [4, 3, 2]);
  });

  it('Slice of a middle per-sample axis (an odd range), and of the last; ranges outside the shape are ShapeErrors', () => {
    const a = operand([2, 3, 7, 5], 7);
    const middle = new Slice('middle', 1, 2, 3);
    assert.deepEqual([...middle.apply(input([3, 7, 5], 's1')).shape], [3, 3, 5]);
    // out[n, i, j, k] = x[n, i, j + 2, k]
    check(middle, [a], ([x]) => Float64Array.from({ length: 2 * 3 * 3 * 5 }, (_, o) => {
      const [k, j, i, n] = [o % 5, Math.floor(o / 5) % 3, Math.floor(o / 15) % 3, Math.floor(o / 45)];
      return x[((n * 3 + i) * 7 + j + 2) * 5 + k];
    }), 'Slice axis 1');
    const last = new Slice('last', 2, 4, 1);
    last.apply(input([3, 7, 5], 's2'));
    check(last, [a], ([x]) => Float64Array.from({ length: 2 * 3 * 7 }, (_, o) => x[o * 5 + 4]), 'Slice axis 2');
    assert.throws(() => new Slice('outside', 1, 5, 3).apply(input([3, 7, 5], 's3')), (e: unknown) => e instanceof ShapeError && /elements 5 to 7 of axis 1/.test(e.message));
    assert.throws(() => new Slice('empty', 0, 0, 0), /size 0/);
  });

  it('Arithmetic refuses operands that broadcast beyond the per-sample rank', () => {
    assert.throws(() => new Arithmetic('m', 'mul', { value: new Tensor([2, 1, 1, 3]), side: 'right' }).apply(input([4, 4, 3], 'x3')), /per-sample rank/);
    assert.throws(() => new Arithmetic('m2', 'mul').apply([input([4, 4, 3], 'x4'), input([4, 3], 'x5')]), /per-sample rank/);
  });
});
