// Where an int8 model loses precision: each step's output against the float model's, on the same batch, as a
// signal-to-quantization-noise ratio; errors compound, so the first steps with a low ratio are the ones to keep in float.

import { runPlanValues, runStep } from '../backend/plan-reference.js';
import type { PlanValue } from '../backend/plan-reference.js';
import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { Tensor } from '../tensor/tensor.js';
import { dequantize } from './qparams.js';
import type { QuantizedModel } from './quantized-model.js';
import { planForInt8 } from './quantized-model.js';

export interface StepError {
  layer: string;
  /** 'int8' or 'float32': how the int8 model runs the step. */
  runs: 'int8' | 'float32';
  /** 10·log10(Σ f² / Σ (f − q)²) over the batch, f the float model's output, q the int8 model's (dequantized); Infinity when equal. */
  sqnrDb: number;
  /** max |f − q|. */
  maxAbsError: number;
}

/**
 * Runs `model` (float, reference kernels) and its quantized form `quantized` (its unfused int8 plan, whose tensors are
 * the float plan's) on `x` and compares the output of every step the float plan has.
 */
export function quantizationErrors(model: Model, quantized: QuantizedModel, x: Tensor): StepError[] {
  const plan = planForInt8(model);
  const { unfused } = quantized;
  if (plan.tensors.length > unfused.tensors.length) throw new ConfigError(`quantizationErrors: the model lowers to ${plan.tensors.length} tensors, the int8 model has ${unfused.tensors.length}`);
  const batch = x.shape[0];
  const values = new Map<number, Tensor>([[plan.input, x]]);
  const v = (id: number): Tensor => values.get(id)!.reshape([batch, ...plan.tensors[id].shape]);
  for (const s of plan.steps) values.set(s.output, runStep(s, v));
  const errors: StepError[] = [];
  runPlanValues(unfused, x, (s, out: PlanValue) => {
    const want = values.get(s.output)?.data;
    // conversions write tensors of their own, which the float plan has not
    if (s.output >= plan.tensors.length || want === undefined) return;
    const got = out instanceof Tensor ? out.data : dequantize(out.data, out.params);
    let signal = 0;
    let noise = 0;
    let worst = 0;
    for (let k = 0; k < want.length; k++) {
      const d = want[k] - got[k];
      signal += want[k] * want[k];
      noise += d * d;
      worst = Math.max(worst, Math.abs(d));
    }
    errors.push({ layer: s.layers[0], runs: out instanceof Tensor ? 'float32' : 'int8', sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise), maxAbsError: worst });
  });
  return errors;
}
