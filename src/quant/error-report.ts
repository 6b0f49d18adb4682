// Where an int8 model loses precision: each step's output against the float model's, on the same batch, as a
// signal-to-quantization-noise ratio; errors compound, so the first steps with a low ratio are the ones to keep in float.

import { runStep } from '../backend/plan-reference.js';
import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { Tensor } from '../tensor/tensor.js';
import type { Int8Tensor } from './int8-ops.js';
import { dequantize } from './qparams.js';
import type { Int8ConvKernels, QuantizedModel } from './quantized-model.js';
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

/** Runs `model` (float, reference kernels) and its quantized form `quantized` on `x` and compares every step's output. */
export function quantizationErrors(model: Model, quantized: QuantizedModel, x: Tensor, kernels?: Int8ConvKernels | null): StepError[] {
  const plan = planForInt8(model);
  if (plan.steps.length !== quantized.steps.length) throw new ConfigError(`quantizationErrors: the model lowers to ${plan.steps.length} steps, the int8 model has ${quantized.steps.length}`);
  const batch = x.shape[0];
  const values = new Map<number, Tensor>([[plan.input, x]]);
  const v = (id: number): Tensor => values.get(id)!.reshape([batch, ...plan.tensors[id].shape]);
  const float = plan.steps.map((s) => {
    const y = runStep(s, v);
    values.set(s.output, y);
    return y.data;
  });
  const errors: StepError[] = [];
  quantized.predict(x, {
    kernels,
    onStep: (s, out) => {
      const i = errors.length;
      const got = out instanceof Tensor ? out.data : dequantize(out.data, (out as Int8Tensor).params);
      const want = float[i];
      let signal = 0;
      let noise = 0;
      let worst = 0;
      for (let k = 0; k < want.length; k++) {
        const d = want[k] - got[k];
        signal += want[k] * want[k];
        noise += d * d;
        worst = Math.max(worst, Math.abs(d));
      }
      const layer = s.op === 'int8conv' ? s.layers[0] : s.step.layers[0];
      errors.push({ layer, runs: s.op === 'float' ? 'float32' : 'int8', sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise), maxAbsError: worst });
    },
  });
  return errors;
}
