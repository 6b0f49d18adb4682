// Post-training calibration: runs a lowered float Plan on sample batches with the reference kernels and records
// each tensor's observed range, from which the int8 parameters of every activation are chosen (min/max, TFLite's default).

import { ShapeError } from '../errors.js';
import type { Plan } from '../graph/plan.js';
import { runStep } from '../backend/plan-reference.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

export interface TensorRange {
  min: number;
  max: number;
}

/** Accumulates per-tensor ranges of a plan over any number of batches. */
export class RangeObserver {
  readonly ranges: TensorRange[];
  /** Images observed so far. */
  images = 0;

  constructor(readonly plan: Plan) {
    this.ranges = plan.tensors.map(() => ({ min: Infinity, max: -Infinity }));
  }

  /** Runs one NHWC batch [N, ...input shape] through the plan, widening every tensor's range. */
  observe(x: Tensor): void {
    const inputShape = this.plan.tensors[this.plan.input].shape;
    if (x.rank !== inputShape.length + 1 || !sameShape(x.shape.slice(1), inputShape)) {
      throw new ShapeError(`calibration batch ${formatShape(x.shape)} does not fit the model's input [N, ${inputShape.join(', ')}]`);
    }
    const batch = x.shape[0];
    const values = new Map<number, Tensor>();
    const record = (id: number, t: Tensor): void => {
      values.set(id, t);
      const r = this.ranges[id];
      for (const v of t.data) {
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
    };
    record(this.plan.input, x);
    const v = (id: number): Tensor => values.get(id)!.reshape([batch, ...this.plan.tensors[id].shape]);
    for (const step of this.plan.steps) record(step.output, runStep(step, v));
    this.images += batch;
  }
}
