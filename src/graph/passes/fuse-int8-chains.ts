// Passes on int8 plans: a requantizing add joins the int8 convolution that made one operand (qconv.residual and
// `add`), then int8 inverted residuals become row-streamed qchain steps, matched as the float ones are (fuse-chains.ts).

import type { Plan, QConvStep } from '../plan.js';
import { fuseConvChains } from './fuse-chains.js';
import { PlanRewrite } from './rewrite.js';

/** Each qadd one of whose operands an int8 convolution made (its only reader the add) becomes that convolution's residual add. */
export function fuseInt8Residuals(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  rw.forEach('qadd', (add) => {
    const [a, b] = add.inputs;
    // the second operand's producer first, as the float pass does: x + f(x) fuses into f's last conv
    const target = [
      { made: b, rest: a, swapped: true },
      { made: a, rest: b, swapped: false },
    ]
      .map(({ made, rest, swapped }) => ({ step: rw.soleProducer(made), rest, swapped }))
      .find(({ step, rest }) => step?.op === 'qconv' && step.residual === null && rw.availableBefore(rest, step));
    if (target?.step?.op !== 'qconv') return;
    const conv = target.step;
    // the convolution's result is the add's operand a
    const parameters = target.swapped ? { ...add.add, a: add.add.b, b: add.add.a } : add.add;
    const fused: QConvStep = { ...conv, residual: target.rest, add: parameters, inputs: [...conv.inputs, target.rest], layers: [...conv.layers, ...add.layers] };
    rw.replace(conv, fused);
    rw.fuse(add, fused);
  });
  return rw.result();
}

/** Int8 inverted residuals (and the stem reading the quantized input) as qchain steps. */
export function fuseInt8Chains(plan: Plan): Plan {
  const quantized = plan.steps.find((s) => s.op === 'quantize' && s.inputs[0] === plan.input);
  return fuseConvChains<QConvStep>(plan, 'qconv', quantized?.output ?? plan.input, (stages, fields) => ({ op: 'qchain', ...fields, stages }));
}
