// The Resize layer: bilinear resize of [H, W, C] feature maps to a given size or by a scale factor (Keras
// `Resizing`, `UpSampling2D(interpolation='bilinear')`, torch `Upsample(mode='bilinear')`), for segmentation heads.

import { ConfigError, ShapeError } from '../errors.js';
import type { ResizeCoordinates } from '../ops/resize.js';
import { checkResizeCoordinates, resizeBilinear2dBackward } from '../ops/resize.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import { formatShape } from '../tensor/tensor.js';
import type { CallContext, TrainContext, TrainForward } from './layer.js';
import { Layer } from './layer.js';

/**
 * The output's [height, width]: fixed (`size`), or the input's times `scale` rounded down, as torch's
 * `Upsample(scale_factor)` and Keras' `UpSampling2D(size)` have it. The coordinates then use the sizes' ratio
 * (torch's `recompute_scale_factor=True`; the same as the factor itself whenever the factor is a whole number).
 */
export type ResizeTarget = { size: readonly [height: number, width: number] } | { scale: readonly [height: number, width: number] };

export class Resize extends Layer {
  readonly kind = 'Resize';

  constructor(name: string, readonly target: ResizeTarget, readonly coordinates: ResizeCoordinates = 'half-pixel') {
    super(name);
    const [h, w] = 'size' in target ? target.size : target.scale;
    const valid = 'size' in target ? Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1 : Number.isFinite(h) && Number.isFinite(w) && h > 0 && w > 0;
    if (!valid) throw new ConfigError(`${name} (Resize): ${'size' in target ? 'size must be positive integers' : 'scale must be positive'} [height, width], got [${h}, ${w}]`);
    checkResizeCoordinates(`${name} (Resize)`, coordinates);
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length !== 3) throw new ShapeError(`${this.name} (Resize): input must be [H, W, C] per sample, got ${formatShape(s)}`);
    const [h, w, c] = s;
    const size = 'size' in this.target ? this.target.size : [Math.floor(h * this.target.scale[0]), Math.floor(w * this.target.scale[1])];
    if (h < 1 || w < 1 || size[0] < 1 || size[1] < 1) throw new ShapeError(`${this.name} (Resize): cannot resize ${formatShape(s)} to [${size[0]}, ${size[1]}, ${c}]`);
    return [size[0], size[1], c];
  }

  /** The output's [height, width], once the layer is applied. */
  get size(): [number, number] {
    const [h, w] = this.outputShape;
    return [h, w];
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    return ctx.backend.resizeBilinear(x, this.size, this.coordinates);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const inputSize: [number, number] = [x.shape[1], x.shape[2]];
    return { output: this.call([x], ctx), backward: (dy) => ({ inputs: [resizeBilinear2dBackward(dy, inputSize, this.coordinates)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { ...('size' in this.target ? { size: [...this.target.size] } : { scale: [...this.target.scale] }), coordinates: this.coordinates };
  }
}
