// The ArgMax layer: the label map of a segmentation head, [H, W, C] logits → [H, W] class indices (float32), as
// tfjs-models' DeepLab graphs end. It has no gradient: train on the logits before it.

import { ConfigError, ShapeError } from '../errors.js';
import { argmaxLastAxis } from '../ops/argmax.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { formatShape } from '../tensor/tensor.js';
import type { TrainForward } from './layer.js';
import { Layer } from './layer.js';

export class ArgMax extends Layer {
  readonly kind = 'ArgMax';

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length < 1 || s[s.length - 1] < 1) throw new ShapeError(`${this.name} (ArgMax): input must end in a class axis, got ${formatShape(s)} per sample`);
    return s.slice(0, -1);
  }

  override call([x]: Tensor[]): Tensor {
    return argmaxLastAxis(x);
  }

  override forwardTrain(): TrainForward {
    throw new ConfigError(`${this.name} (ArgMax): an argmax has no gradient; train the model without it (on the logits before it)`);
  }

  config(): Record<string, unknown> {
    return {};
  }
}
