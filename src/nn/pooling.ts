// Pooling layers: global average and max (to per-image feature vectors) and windowed average and max,
// each differentiable.

import { ShapeError } from '../errors.js';
import type { PaddingMode } from '../ops/geometry.js';
import type { Pool2DParams } from '../ops/pool.js';
import { checkPoolPadding, checkWindow, resolvePadding, windowOutputSize } from '../ops/geometry.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { Pair } from './conv.js';
import type { CallContext, TrainContext, TrainForward } from './layer.js';
import { Layer } from './layer.js';

function expectImage(layer: Layer, s: Shape): [number, number, number] {
  if (s.length !== 3) throw new ShapeError(`${layer.name} (${layer.kind}): input must be an image [H, W, C], got per-sample shape ${formatShape(s)}`);
  return s as unknown as [number, number, number];
}

/** Global pooling to [C]; with `keepDims` to [1, 1, C]. */
abstract class GlobalPooling extends Layer {
  constructor(name: string, readonly keepDims = false) {
    super(name);
  }

  protected override inferShape([s]: Shape[]): Shape {
    const [, , c] = expectImage(this, s);
    return this.keepDims ? [1, 1, c] : [c];
  }

  protected abstract pool(x: Tensor, ctx: CallContext): Tensor;
  /** dL/dx from dL/d(pooled) [N, C]. */
  protected abstract poolBackward(dy: Tensor, x: Tensor, ctx: TrainContext): Tensor;

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    const y = this.pool(x, ctx);
    return this.keepDims ? y.reshape([y.shape[0], 1, 1, y.shape[1]]) : y;
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    return {
      output: this.call([x], ctx),
      backward: (dy) => ({ inputs: [this.poolBackward(dy.reshape([x.shape[0], x.shape[3]]), x, ctx)], params: new Map() }),
    };
  }

  config(): Record<string, unknown> {
    return { keepDims: this.keepDims };
  }
}

export class GlobalAveragePooling2D extends GlobalPooling {
  readonly kind = 'GlobalAveragePooling2D';
  protected pool(x: Tensor, ctx: CallContext): Tensor {
    return ctx.backend.globalAvgPool(x);
  }
  protected poolBackward(dy: Tensor, x: Tensor, ctx: TrainContext): Tensor {
    return ctx.gradients.globalAvgPoolBackward(dy, x.shape);
  }
}

export class GlobalMaxPooling2D extends GlobalPooling {
  readonly kind = 'GlobalMaxPooling2D';
  protected pool(x: Tensor, ctx: CallContext): Tensor {
    return ctx.backend.globalMaxPool(x);
  }
  protected poolBackward(dy: Tensor, x: Tensor, ctx: TrainContext): Tensor {
    return ctx.gradients.globalMaxPoolBackward(dy, x);
  }
}

export interface Pooling2DOptions {
  poolSize: Pair;
  strides?: Pair;
  padding?: PaddingMode;
  /** Average pooling: divide by the whole window including padding (torch's default) or not (Keras). */
  countIncludePad?: boolean;
}

abstract class Pooling2D extends Layer {
  private plan: Pool2DParams | null = null;

  constructor(name: string, readonly options: Pooling2DOptions) {
    super(name);
  }

  protected override inferShape([s]: Shape[]): Shape {
    const [h, w, c] = expectImage(this, s);
    const size = typeof this.options.poolSize === 'number' ? [this.options.poolSize, this.options.poolSize] as const : this.options.poolSize;
    const stride = this.options.strides ?? size;
    const strides = typeof stride === 'number' ? [stride, stride] as const : stride;
    const win = { kernel: size, strides, dilations: [1, 1] as const };
    checkWindow(win, this.name);
    const padding = resolvePadding(this.options.padding ?? 'valid', h, w, win);
    checkPoolPadding(padding, win, `${this.name} (${this.kind})`);
    const [oh, ow] = windowOutputSize(h, w, padding, win, `${this.name} (${this.kind})`);
    this.plan = { ...win, padding, countIncludePad: this.options.countIncludePad ?? false };
    return [oh, ow, c];
  }

  /** Resolved window: explicit padding, fixed when the layer was applied. */
  get pool(): Pool2DParams {
    return this.plan!;
  }

  config(): Record<string, unknown> {
    return { ...this.options };
  }
}

export class AveragePooling2D extends Pooling2D {
  readonly kind = 'AveragePooling2D';
  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.avgPool2d(x, this.pool);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    return { output: this.call([x], ctx), backward: (dy) => ({ inputs: [ctx.gradients.avgPool2dBackward(dy, x.shape, this.pool)], params: new Map() }) };
  }
}

export class MaxPooling2D extends Pooling2D {
  readonly kind = 'MaxPooling2D';
  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.maxPool2d(x, this.pool);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    return { output: this.call([x], ctx), backward: (dy) => ({ inputs: [ctx.gradients.maxPool2dBackward(dy, x, this.pool)], params: new Map() }) };
  }
}
