// Structural layers: the graph input, Dense, Dropout (identity at inference, a seeded mask in training),
// Add (the residual connection), ZeroPadding2D, Flatten and Reshape; each differentiable.

import { ConfigError, ShapeError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { Padding4 } from '../ops/geometry.js';
import { resolvePadding } from '../ops/geometry.js';
import { SymbolicTensor } from '../graph/symbolic.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape, sameShape, sizeOf } from '../tensor/tensor.js';
import { dropoutMask } from '../ops/dropout.js';
import type { CallContext, ParamSpec, TrainContext, TrainForward } from './layer.js';
import { Layer, linearTrainForward } from './layer.js';

/** The graph's entry: holds the per-sample input shape. */
export class InputLayer extends Layer {
  readonly kind = 'InputLayer';

  constructor(name: string, readonly shape: Shape) {
    super(name);
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) throw new ConfigError(`input ${name}: shape ${formatShape(shape)} must have positive integer dimensions`);
  }

  protected override arity(): number {
    return 0;
  }

  protected override inferShape(): Shape {
    return this.shape;
  }

  override call(): Tensor {
    throw new ConfigError(`input layer ${this.name} is fed, not called`);
  }

  config(): Record<string, unknown> {
    return { shape: this.shape };
  }
}

/** Creates a graph input with per-sample shape `shape` (e.g. [224, 224, 3]). */
export function input(shape: Shape, name = 'input'): SymbolicTensor {
  return new InputLayer(name, shape).apply([]);
}

export interface DenseOptions {
  units: number;
  useBias?: boolean;
  activation?: Activation;
}

export class Dense extends Layer {
  readonly kind = 'Dense';
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: Activation;

  constructor(name: string, o: DenseOptions) {
    super(name);
    if (!Number.isInteger(o.units) || o.units < 1) throw new ConfigError(`${name}: units must be a positive integer, got ${o.units}`);
    this.units = o.units;
    this.useBias = o.useBias ?? true;
    this.activation = o.activation ?? 'linear';
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length !== 1) throw new ShapeError(`${this.name} (Dense): input must be a feature vector [features], got per-sample shape ${formatShape(s)}; add Flatten or global pooling first`);
    return [this.units];
  }

  protected override paramSpecsFor([s]: Shape[]): ParamSpec[] {
    const specs: ParamSpec[] = [{ name: 'kernel', shape: [s[0], this.units], role: 'kernel' }];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.units], role: 'bias' });
    return specs;
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    const y = ctx.backend.dense(x, this.param('kernel'), this.useBias ? this.param('bias').data : null);
    return this.activation === 'linear' ? y : ctx.backend.activation(y, this.activation);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const kernel = this.param('kernel');
    return linearTrainForward(this, this.call([x], ctx), this.activation, ctx, {
      kernelName: 'kernel',
      useBias: this.useBias,
      kernel: (g) => ctx.gradients.denseBackwardKernel(x, g),
      input: (g) => ctx.gradients.denseBackwardInput(g, kernel),
    });
  }

  override macs(): number {
    return this.inputShapes[0][0] * this.units;
  }

  config(): Record<string, unknown> {
    return { units: this.units, useBias: this.useBias, activation: this.activation };
  }
}

/** Dropout: identity at inference (the rate applies in training). */
export class Dropout extends Layer {
  readonly kind = 'Dropout';

  constructor(name: string, readonly rate: number) {
    super(name);
    if (!(rate >= 0 && rate < 1)) throw new ConfigError(`${name}: dropout rate must be in [0, 1), got ${rate}`);
  }

  protected override inferShape([s]: Shape[]): Shape {
    return s;
  }

  override call([x]: Tensor[]): Tensor {
    return x;
  }

  /** In training mode zeroes each value with probability `rate` and scales the rest by 1/(1 − rate). */
  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    if (!ctx.training || this.rate === 0) return { output: x, backward: (dy) => ({ inputs: [dy], params: new Map() }) };
    const mask = dropoutMask(x.size, this.rate, ctx.rng);
    return { output: ctx.gradients.applyMask(x, mask), backward: (dy) => ({ inputs: [ctx.gradients.applyMask(dy, mask)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { rate: this.rate };
  }
}

/** Element-wise sum of same-shaped inputs: the residual connection. */
export class Add extends Layer {
  readonly kind = 'Add';

  protected override arity(): number {
    return 2;
  }

  protected override inferShape([a, b]: Shape[]): Shape {
    if (!sameShape(a, b)) throw new ShapeError(`${this.name} (Add): input shapes ${formatShape(a)} and ${formatShape(b)} differ`);
    return a;
  }

  override call([a, b]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.add(a, b);
  }

  override forwardTrain(inputs: Tensor[], ctx: TrainContext): TrainForward {
    return { output: this.call(inputs, ctx), backward: (dy) => ({ inputs: [dy, dy], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return {};
  }
}

export class ZeroPadding2D extends Layer {
  readonly kind = 'ZeroPadding2D';
  readonly padding: Padding4;

  /** `padding` is [top, bottom, left, right]. */
  constructor(name: string, padding: Padding4) {
    super(name);
    this.padding = resolvePadding(padding, 0, 0, { kernel: [1, 1], strides: [1, 1], dilations: [1, 1] });
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length !== 3) throw new ShapeError(`${this.name} (ZeroPadding2D): input must be an image [H, W, C], got per-sample shape ${formatShape(s)}`);
    const [t, b, l, r] = this.padding;
    return [s[0] + t + b, s[1] + l + r, s[2]];
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.zeroPad2d(x, this.padding);
  }

  override forwardTrain(inputs: Tensor[], ctx: TrainContext): TrainForward {
    return { output: this.call(inputs, ctx), backward: (dy) => ({ inputs: [ctx.gradients.zeroPad2dBackward(dy, this.padding)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { padding: this.padding };
  }
}

/** Reshapes each sample to `shape` (same element count). */
export class Reshape extends Layer {
  readonly kind: string = 'Reshape';

  constructor(name: string, readonly target: Shape | null) {
    super(name);
  }

  protected override inferShape([s]: Shape[]): Shape {
    const target = this.target ?? [sizeOf(s)];
    if (sizeOf(target) !== sizeOf(s)) throw new ShapeError(`${this.name} (${this.kind}): cannot reshape ${formatShape(s)} (${sizeOf(s)} values) to ${formatShape(target)}`);
    return target;
  }

  override call([x]: Tensor[]): Tensor {
    return x.reshape([x.shape[0], ...this.outputShape]);
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    return { output: this.call([x]), backward: (dy) => ({ inputs: [dy.reshape(x.shape)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { shape: this.target };
  }
}

/** Flattens each sample to a vector. */
export class Flatten extends Reshape {
  override readonly kind = 'Flatten';

  constructor(name: string) {
    super(name, null);
  }
}
