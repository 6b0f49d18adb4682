// BatchNormalization over the channel axis (any epsilon): moving statistics at inference, batch statistics
// in training with the moving ones updated (Keras momentum convention: the weight of the old value).

import { ConfigError, ShapeError } from '../errors.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import { updateMovingStatistics } from '../ops/normalization.js';
import type { CallContext, ParamSpec, TrainContext, TrainForward } from './layer.js';
import { Layer } from './layer.js';

export interface BatchNormalizationOptions {
  /** Added to the variance; Keras MobileNets use 1e-3, torchvision 1e-5. */
  epsilon?: number;
  /** Keras convention: running = momentum·running + (1 − momentum)·batch; torch's momentum m is 1 − m here. */
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

  /**
   * In training mode (and not frozen) normalises with the batch mean and biased variance, and moves the
   * running statistics toward the batch's (unbiased variance); otherwise behaves as at inference.
   */
  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const gamma = this.param('gamma').data;
    const beta = this.param('beta').data;
    const batchStatistics = ctx.training && this.trainable;
    let y: Tensor;
    let mean: Float32Array;
    let invStd: Float32Array;
    if (batchStatistics) {
      const r = ctx.gradients.batchNormTrain(x, gamma, beta, this.epsilon);
      updateMovingStatistics(this.param('moving_mean').data, this.param('moving_variance').data, r.stats, this.momentum);
      y = r.y;
      mean = r.stats.mean;
      invStd = r.stats.invStd;
    } else {
      y = this.call([x], ctx);
      mean = this.param('moving_mean').data.slice();
      invStd = this.param('moving_variance').data.map((v) => 1 / Math.sqrt(v + this.epsilon));
    }
    return {
      output: y,
      backward: (dy) => {
        const g = ctx.gradients.batchNormBackward(dy, x, gamma, mean, invStd, batchStatistics);
        const params = new Map<string, Tensor>();
        if (this.learns) {
          params.set('gamma', g.dGamma);
          params.set('beta', g.dBeta);
        }
        return { inputs: [g.dx], params };
      },
    };
  }

  config(): Record<string, unknown> {
    return { epsilon: this.epsilon, momentum: this.momentum };
  }
}
