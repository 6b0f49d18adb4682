// Slice: a contiguous range of one per-sample axis, as detector graphs cut their outputs (the background slot off
// the scores, one box coordinate of four); the backward puts the gradient back in place with zeros around it.

import { ConfigError, ShapeError } from '../errors.js';
import { concat, split } from '../ops/concat.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { TrainForward } from './layer.js';
import { Layer } from './layer.js';

/** Elements `begin` to `begin + size − 1` of per-sample axis `axis` (0 is the first axis after the batch). */
export class Slice extends Layer {
  readonly kind = 'Slice';

  constructor(name: string, readonly axis: number, readonly begin: number, readonly size: number) {
    super(name);
    if (![axis, begin, size].every(Number.isInteger) || axis < 0 || begin < 0 || size < 1) throw new ConfigError(`${name}: axis ${axis}, begin ${begin} and size ${size} must be integers, the axis and begin ≥ 0, the size ≥ 1`);
  }

  protected override inferShape([s]: Shape[]): Shape {
    if (this.axis >= s.length || this.begin + this.size > s[this.axis]) throw new ShapeError(`${this.name} (Slice): elements ${this.begin} to ${this.begin + this.size - 1} of axis ${this.axis} are outside per-sample shape ${formatShape(s)}`);
    return s.map((d, i) => (i === this.axis ? this.size : d));
  }

  /** The sizes before, in and after the slice along the batched axis. */
  private pieces(x: Tensor): number[] {
    return [this.begin, this.size, x.shape[this.axis + 1] - this.begin - this.size];
  }

  override call([x]: Tensor[]): Tensor {
    return split(x, this.axis + 1, this.pieces(x))[1];
  }

  override forwardTrain([x]: Tensor[]): TrainForward {
    const [before, , after] = this.pieces(x);
    const zeros = (n: number, dy: Tensor): Tensor => new Tensor(dy.shape.map((d, i) => (i === this.axis + 1 ? n : d)));
    const backward = (dy: Tensor): Tensor => concat([zeros(before, dy), dy, zeros(after, dy)].filter((t) => t.shape[this.axis + 1] > 0), this.axis + 1);
    return { output: this.call([x]), backward: (dy) => ({ inputs: [backward(dy)], params: new Map() }) };
  }

  config(): Record<string, unknown> {
    return { axis: this.axis, begin: this.begin, size: this.size };
  }
}
