// Pass: a ZeroPadding2D read only by a convolution (Keras's stride-2 idiom: pad, then a valid conv) becomes
// padding of that convolution, one step instead of two.

import type { Plan } from '../plan.js';
import { PlanRewrite } from './rewrite.js';

export function mergePadding(plan: Plan): Plan {
  const rw = new PlanRewrite(plan);
  rw.forEach('conv', (conv) => {
    const pad = rw.soleProducer(conv.inputs[0]);
    if (pad?.op !== 'pad') return;
    const [p, q] = [conv.conv.padding, pad.padding];
    const input = pad.inputs[0];
    rw.remove(pad);
    rw.replace(conv, {
      ...conv,
      layers: [...pad.layers, ...conv.layers],
      inputs: [input, ...conv.inputs.slice(1)],
      conv: { ...conv.conv, padding: [p[0] + q[0], p[1] + q[1], p[2] + q[2], p[3] + q[3]] },
      inShape: [...rw.shapeOf(input)] as [number, number, number],
    });
  });
  return rw.result();
}
