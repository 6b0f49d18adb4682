// Pass: an add of two tensors becomes the residual of the convolution that made one of them (its only reader
// being the add), when that convolution has no clamp or residual yet and the other operand exists before it runs.

import type { Plan } from '../plan.js';
import { PlanRewrite } from './rewrite.js';

export function fuseResidual(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  rw.forEach('add', (add) => {
    const [a, b] = add.inputs;
    // the second operand's producer first, as the layers wrote it: x + f(x) fuses into f's last conv
    const target = [
      { made: b, rest: a },
      { made: a, rest: b },
    ]
      .map(({ made, rest }) => ({ step: rw.soleProducer(made), rest }))
      .find(({ step, rest }) => step?.op === 'conv' && step.clamp === null && step.residual === null && rw.availableBefore(rest, step));
    if (target?.step?.op !== 'conv') return;
    const conv = target.step;
    const fused = { ...conv, residual: target.rest, inputs: [...conv.inputs, target.rest], layers: [...conv.layers, ...add.layers] };
    rw.replace(conv, fused);
    rw.fuse(add, fused);
  });
  return rw.result();
}
