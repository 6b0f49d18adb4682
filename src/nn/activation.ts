// Activation layers: ReLU (with an optional cap, as Keras's ReLU(max_value)), ReLU6 and Softmax,
// each differentiable from its output.

import { ConfigError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { Shape } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CallContext, TrainContext, TrainForward } from './layer.js';
import { Layer } from './layer.js';

/** Element-wise activation: `relu`, `relu6` (min(max(0, x), 6)) or `linear`. */
export class ActivationLayer extends Layer {
  readonly kind: string;

  constructor(name: string, readonly activation: Activation) {
    super(name);
    if (!['relu', 'relu6', 'linear'].includes(activation)) throw new ConfigError(`${name}: unknown activation ${JSON.stringify(activation)}`);
    this.kind = activation === 'relu6' ? 'ReLU6' : activation === 'relu' ? 'ReLU' : 'Activation';
  }

  protected override inferShape([s]: Shape[]): Shape {
    return s;
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.activation(x, this.activation);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const y = this.call([x], ctx);
    return { output: y, backward: (dy) => ({ inputs: [ctx.gradients.activationBackward(dy, y, this.activation)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { activation: this.activation };
  }
}

export class ReLU6 extends ActivationLayer {
  constructor(name: string) {
    super(name, 'relu6');
  }
}

export class ReLU extends ActivationLayer {
  constructor(name: string) {
    super(name, 'relu');
  }
}

/** Softmax over the last axis. */
export class Softmax extends Layer {
  readonly kind = 'Softmax';

  protected override inferShape([s]: Shape[]): Shape {
    return s;
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.softmax(x);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const y = this.call([x], ctx);
    return { output: y, backward: (dy) => ({ inputs: [ctx.gradients.softmaxBackward(dy, y)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return {};
  }
}
