// Layers that imported graphs need beyond the MobileNets' own: Clip to any range, Sigmoid, Exp, HardSigmoid and
// HardSwish (MobileNetV3), broadcasting arithmetic (with a constant operand or two inputs), Concatenate and Transpose.

import { ConfigError, ShapeError } from '../errors.js';
import type { ArithmeticOp } from '../ops/broadcast.js';
import { broadcastArithmetic, broadcastShape, reduceToShape } from '../ops/broadcast.js';
import { concat, split } from '../ops/concat.js';
import { clipRange, clipRangeBackward, exp, expBackward, hardSigmoid, hardSigmoidBackward, hardSwish, hardSwishBackward, sigmoid, sigmoidBackward } from '../ops/pointwise.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape, transpose } from '../tensor/tensor.js';
import type { TrainForward } from './layer.js';
import { Layer } from './layer.js';

const noParams = (): Map<string, Tensor> => new Map();

/** A function applied to every element; the shape is unchanged. */
abstract class ElementwiseLayer extends Layer {
  protected override inferShape([s]: Shape[]): Shape {
    return s;
  }
}

/** min(max(x, lo), hi) for any range (ONNX Clip); ReLU and ReLU6 are the [0, ∞) and [0, 6] cases with layers of their own. */
export class Clip extends ElementwiseLayer {
  readonly kind = 'Clip';

  constructor(name: string, readonly lo: number, readonly hi: number) {
    super(name);
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) throw new ConfigError(`${name}: clip range must have lo ≤ hi, got [${lo}, ${hi}]`);
  }

  override call([x]: Tensor[]): Tensor {
    return clipRange(x, this.lo, this.hi);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    const y = this.call([x]);
    return { output: y, backward: (dy) => ({ inputs: [clipRangeBackward(dy, y, this.lo, this.hi)], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return { lo: this.lo, hi: this.hi };
  }
}

export class Sigmoid extends ElementwiseLayer {
  readonly kind = 'Sigmoid';

  override call([x]: Tensor[]): Tensor {
    return sigmoid(x);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    const y = this.call([x]);
    return { output: y, backward: (dy) => ({ inputs: [sigmoidBackward(dy, y)], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return {};
  }
}

/** e^x: detector graphs decode box sizes with it. */
export class Exp extends ElementwiseLayer {
  readonly kind = 'Exp';

  override call([x]: Tensor[]): Tensor {
    return exp(x);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    const y = this.call([x]);
    return { output: y, backward: (dy) => ({ inputs: [expBackward(dy, y)], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return {};
  }
}

/** max(0, min(1, α·x + β)): ONNX's defaults α 0.2, β 0.5; torch's Hardsigmoid (MobileNetV3) is α 1/6. */
export class HardSigmoid extends ElementwiseLayer {
  readonly kind = 'HardSigmoid';

  constructor(name: string, readonly alpha = 0.2, readonly beta = 0.5) {
    super(name);
    if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw new ConfigError(`${name}: alpha and beta must be finite, got ${alpha}, ${beta}`);
  }

  override call([x]: Tensor[]): Tensor {
    return hardSigmoid(x, this.alpha, this.beta);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    return { output: this.call([x]), backward: (dy) => ({ inputs: [hardSigmoidBackward(dy, x, this.alpha, this.beta)], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return { alpha: this.alpha, beta: this.beta };
  }
}

/** x · hardSigmoid(x, 1/6, 1/2) (MobileNetV3's h-swish). */
export class HardSwish extends ElementwiseLayer {
  readonly kind = 'HardSwish';

  override call([x]: Tensor[]): Tensor {
    return hardSwish(x);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    return { output: this.call([x]), backward: (dy) => ({ inputs: [hardSwishBackward(dy, x)], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return {};
  }
}

/** A fixed operand of Arithmetic: a per-sample tensor (no batch axis) that broadcasts against the input, on either side. */
export interface ConstantOperand {
  value: Tensor;
  side: 'left' | 'right';
}

const ARITHMETIC_KINDS: Record<ArithmeticOp, string> = { add: 'BroadcastAdd', sub: 'Subtract', mul: 'Multiply', div: 'Divide' };

/**
 * Element-wise add, subtract, multiply or divide with broadcasting over per-sample axes (the batch axis is
 * never stretched): of two inputs of the same rank, or of one input and a constant. The constant is part of
 * the layer's definition, not a parameter: it is neither trained nor listed by `weights()`.
 */
export class Arithmetic extends Layer {
  readonly kind: string;

  constructor(name: string, readonly op: ArithmeticOp, readonly constant: ConstantOperand | null = null) {
    super(name);
    if (!(op in ARITHMETIC_KINDS)) throw new ConfigError(`${name}: unknown arithmetic ${JSON.stringify(op)}`);
    this.kind = ARITHMETIC_KINDS[op];
  }

  protected override arity(): number {
    return this.constant ? 1 : 2;
  }

  protected override inferShape(shapes: Shape[]): Shape {
    const [a, b] = this.constant ? (this.constant.side === 'left' ? [this.constant.value.shape, shapes[0]] : [shapes[0], this.constant.value.shape]) : shapes;
    const out = broadcastShape(a, b, `${this.name} (${this.kind})`);
    const sample = shapes[0].length;
    if (out.length !== sample || shapes.some((s) => s.length !== sample)) {
      throw new ShapeError(`${this.name} (${this.kind}): operands ${formatShape(a)} and ${formatShape(b)} must broadcast within the per-sample rank ${sample}`);
    }
    return out;
  }

  /** The operands as the op sees them, batch axis first; the constant gets a batch axis of 1. */
  private operands(inputs: Tensor[]): [Tensor, Tensor] {
    if (!this.constant) return [inputs[0], inputs[1]];
    const c = this.constant.value;
    const rank = inputs[0].rank;
    const batched = c.reshape([...new Array<number>(rank - c.rank).fill(1), ...c.shape]);
    return this.constant.side === 'left' ? [batched, inputs[0]] : [inputs[0], batched];
  }

  override call(inputs: Tensor[]): Tensor {
    const [a, b] = this.operands(inputs);
    return broadcastArithmetic(a, b, this.op);
  }

  override forwardTrain(inputs: Tensor[]): TrainForward {
    const [a, b] = this.operands(inputs);
    const y = broadcastArithmetic(a, b, this.op);
    return {
      output: y,
      backward: (dy) => {
        let da: Tensor;
        let db: Tensor;
        switch (this.op) {
          case 'add':
            [da, db] = [dy, dy];
            break;
          case 'sub':
            [da, db] = [dy, broadcastArithmetic(dy, new Tensor([1], new Float32Array([-1])), 'mul')];
            break;
          case 'mul':
            [da, db] = [broadcastArithmetic(dy, b, 'mul'), broadcastArithmetic(dy, a, 'mul')];
            break;
          case 'div': {
            // d(a/b)/db = −a/b² = −y/b
            da = broadcastArithmetic(dy, b, 'div');
            db = broadcastArithmetic(broadcastArithmetic(dy, y, 'mul'), broadcastArithmetic(b, new Tensor([1], new Float32Array([-1])), 'mul'), 'div');
            break;
          }
        }
        const grads = [reduceToShape(da, a.shape), reduceToShape(db, b.shape)];
        const inputGrads = !this.constant ? grads : [this.constant.side === 'left' ? grads[1] : grads[0]];
        return { inputs: inputGrads, params: noParams() };
      },
    };
  }

  config(): Record<string, unknown> {
    return { op: this.op, constant: this.constant ? { shape: this.constant.value.shape, side: this.constant.side } : null };
  }
}

/** Joins its inputs along a per-sample axis (0 is the first axis after the batch; negative counts from the end). */
export class Concatenate extends Layer {
  readonly kind = 'Concatenate';
  private resolvedAxis = 0;

  constructor(name: string, readonly axis: number, readonly inputCount: number) {
    super(name);
    if (!Number.isInteger(axis)) throw new ConfigError(`${name}: axis must be an integer, got ${axis}`);
    if (!Number.isInteger(inputCount) || inputCount < 1) throw new ConfigError(`${name}: needs at least one input, got ${inputCount}`);
  }

  protected override arity(): number {
    return this.inputCount;
  }

  protected override inferShape(shapes: Shape[]): Shape {
    const rank = shapes[0].length;
    const axis = this.axis < 0 ? this.axis + rank : this.axis;
    if (!(axis >= 0 && axis < rank)) throw new ShapeError(`${this.name} (Concatenate): axis ${this.axis} is outside per-sample rank ${rank}`);
    if (shapes.some((s) => s.length !== rank || s.some((d, i) => i !== axis && d !== shapes[0][i]))) {
      throw new ShapeError(`${this.name} (Concatenate): shapes ${shapes.map(formatShape).join(', ')} differ outside axis ${axis}`);
    }
    this.resolvedAxis = axis;
    const out = [...shapes[0]];
    out[axis] = shapes.reduce((sum, s) => sum + s[axis], 0);
    return out;
  }

  override call(inputs: Tensor[]): Tensor {
    return concat(inputs, this.resolvedAxis + 1);
  }

  override forwardTrain(inputs: Tensor[]): TrainForward {
    const sizes = inputs.map((t) => t.shape[this.resolvedAxis + 1]);
    return { output: this.call(inputs), backward: (dy) => ({ inputs: split(dy, this.resolvedAxis + 1, sizes), params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return { axis: this.axis };
  }
}

/** Permutes the per-sample axes: output axis i is input axis perm[i] (the batch axis stays first). */
export class Transpose extends Layer {
  readonly kind = 'Transpose';

  constructor(name: string, readonly perm: readonly number[]) {
    super(name);
    if ([...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ConfigError(`${name}: [${perm.join(', ')}] is not a permutation of the per-sample axes`);
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length !== this.perm.length) throw new ShapeError(`${this.name} (Transpose): permutation [${this.perm.join(', ')}] does not fit per-sample shape ${formatShape(s)}`);
    return this.perm.map((p) => s[p]);
  }

  override call([x]: Tensor[]): Tensor {
    return transpose(x, [0, ...this.perm.map((p) => p + 1)]);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    const inverse = this.perm.map((_, i) => this.perm.indexOf(i));
    return { output: this.call([x]), backward: (dy) => ({ inputs: [transpose(dy, [0, ...inverse.map((p) => p + 1)])], params: noParams() }) };
  }

  config(): Record<string, unknown> {
    return { perm: this.perm };
  }
}
