// BatchNormalization over the channel axis (inference form, any epsilon). Momentum is kept for
// training and file formats: `torch` convention weighs the new batch, Keras's weighs the old value.

import { ConfigError, ShapeError } from '../errors.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { CallContext, ParamSpec } from './layer.js';
import { Layer } from './layer.js';

export interface BatchNormalizationOptions {
  /** Added to the variance; Keras MobileNets use 1e-3, torchvision 1e-5. */
  epsilon?: number;
  /** Keras convention: running = momentum·running + (1 − momentum)·batch. */
  momentum?: number;
}

export class BatchNormalization extends Layer {
  readonly kind = 'BatchNormalization';
  readonly epsilon: number;
  readonly momentum: number;

  constructor(name: string, o: BatchNormalizationOptions = {}) {
    super(name);
    this.epsilon = o.epsilon ?? 1e-3;
    this.momentum = o.momentum ?? 0.99;
    if (!(this.epsilon >= 0) || !Number.isFinite(this.epsilon)) throw new ConfigError(`${name}: epsilon must be a finite number ≥ 0, got ${o.epsilon}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new ConfigError(`${name}: momentum must be in [0, 1], got ${o.momentum}`);
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length < 1) throw new ShapeError(`${this.name} (BatchNormalization): input needs a channel axis, got ${formatShape(s)}`);
    return s;
  }

  protected override paramSpecsFor([s]: Shape[]): ParamSpec[] {
    const c = s[s.length - 1];
    return [
      { name: 'gamma', shape: [c], role: 'gamma' },
      { name: 'beta', shape: [c], role: 'beta' },
      { name: 'moving_mean', shape: [c], role: 'movingMean' },
      { name: 'moving_variance', shape: [c], role: 'movingVariance' },
    ];
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.batchNorm(x, {
      gamma: this.param('gamma').data,
      beta: this.param('beta').data,
      mean: this.param('moving_mean').data,
      variance: this.param('moving_variance').data,
      epsilon: this.epsilon,
    });
  }

  config(): Record<string, unknown> {
    return { epsilon: this.epsilon, momentum: this.momentum };
  }
}
