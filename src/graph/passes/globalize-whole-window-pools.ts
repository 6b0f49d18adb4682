// Pass: a windowed pool whose one unpadded window covers the whole image (Keras/TF heads: AveragePooling2D(7) on
// 7×7) becomes the global pool, which the engine runs natively.

import type { Plan } from '../plan.js';
import { PlanRewrite } from './rewrite.js';

export function globalizeWholeWindowPools(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  const globalize = (step: Extract<Plan['steps'][number], { op: 'avgPool' | 'maxPool' }>): void => {
    const [h, w] = rw.shapeOf(step.inputs[0]);
    const { kernel, padding } = step.pool;
    if (kernel[0] !== h || kernel[1] !== w || padding.some((p) => p !== 0)) return;
    rw.replace(step, { op: step.op === 'avgPool' ? 'globalAvgPool' : 'globalMaxPool', layers: step.layers, inputs: step.inputs, output: step.output });
  };
  rw.forEach('avgPool', globalize);
  rw.forEach('maxPool', globalize);
  return rw.result();
}
