// Pass: a clamp (ReLU, ReLU6, Clip) read from a convolution or dense step without one becomes that step's
// epilogue, applied after its bias and residual: one step instead of two.

import type { Plan } from '../plan.js';
import { PlanRewrite } from './rewrite.js';

export function fuseClamp(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  rw.forEach('clamp', (clamp) => {
    const prev = rw.soleProducer(clamp.inputs[0]);
    if ((prev?.op !== 'conv' && prev?.op !== 'dense') || prev.clamp !== null) return;
    const fused = { ...prev, clamp: clamp.clamp, layers: [...prev.layers, ...clamp.layers] };
    rw.replace(prev, fused);
    rw.fuse(clamp, fused);
  });
  return rw.result();
}
