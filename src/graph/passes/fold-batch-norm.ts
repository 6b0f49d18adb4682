// Pass: a BatchNorm (an affine step) read from a convolution or dense step with no clamp or residual yet is folded
// into that step's kernel and bias (scaled per output channel), one step instead of two.

import type { AffineStep, ConvStep, DenseStep, Plan } from '../plan.js';
import { PlanRewrite } from './rewrite.js';

export function foldBatchNorm(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  rw.forEach('affine', (affine) => {
    const prev = rw.soleProducer(affine.inputs[0]);
    if (!((prev?.op === 'conv' && prev.residual === null) || prev?.op === 'dense') || prev.clamp !== null) return;
    const folded = { ...prev, ...foldedWeights(prev, affine), layers: [...prev.layers, ...affine.layers] };
    rw.replace(prev, folded);
    rw.fuse(affine, folded);
  });
  return rw.result();
}

/** Output channel c (the kernel's last axis) scaled by scale[c]; bias ← bias·scale + shift. */
function foldedWeights(step: ConvStep | DenseStep, { scale, shift }: AffineStep): { kernel: Float32Array; bias: Float32Array } {
  const c = scale.length;
  const kernel = step.kernel.slice();
  const bias = step.bias.slice();
  for (let i = 0; i < kernel.length; i++) kernel[i] *= scale[i % c];
  for (let i = 0; i < c; i++) bias[i] = bias[i] * scale[i] + shift[i];
  return { kernel, bias };
}
