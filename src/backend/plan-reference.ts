// Runs a lowered Plan with the reference kernels, one step at a time (chains stage by stage): the
// semantics every plan engine must reproduce, and the check that lowering (folding, fusion) is exact.

import { ConfigError } from '../errors.js';
import type { ConvStep, Plan, Step } from '../graph/plan.js';
import { clip, softmax } from '../ops/activation.js';
import { conv2d } from '../ops/conv2d.js';
import { sigmoid } from '../ops/pointwise.js';
import { dense } from '../ops/dense.js';
import { concat } from '../ops/concat.js';
import { add } from '../ops/elementwise.js';
import { zeroPad2d } from '../ops/pad.js';
import { avgPool2d, globalAvgPool, globalMaxPool, maxPool2d } from '../ops/pool.js';
import { resizeBilinear2d } from '../ops/resize.js';
import { Tensor } from '../tensor/tensor.js';
import { referenceBackend } from './reference.js';

function runConv(s: ConvStep, x: Tensor, residual: Tensor | null): Tensor {
  let y = conv2d(x, new Tensor(s.kernelShape, s.kernel), s.bias, s.conv);
  if (residual) y = add(y, residual);
  return s.clamp ? clip(y, s.clamp[0], s.clamp[1]) : y;
}

/** One step on reference kernels; `v` gives the tensor of an id, batch axis first, shaped as planned. */
export function runStep(s: Step, v: (t: number) => Tensor): Tensor {
  const x = v(s.inputs[0]);
  switch (s.op) {
    case 'conv':
      return runConv(s, x, s.residual === null ? null : v(s.residual));
    case 'chain': {
      let y = x;
      s.stages.forEach((stage, i) => (y = runConv(stage, y, i === s.stages.length - 1 && stage.residual !== null ? x : null)));
      return y;
    }
    case 'dense': {
      const y = dense(x.reshape([x.shape[0], x.size / x.shape[0]]), new Tensor([x.size / x.shape[0], s.units], s.kernel), s.bias);
      return s.clamp ? clip(y, s.clamp[0], s.clamp[1]) : y;
    }
    case 'globalAvgPool':
      return globalAvgPool(x);
    case 'globalMaxPool':
      return globalMaxPool(x);
    case 'avgPool':
      return avgPool2d(x, s.pool);
    case 'maxPool':
      return maxPool2d(x, s.pool);
    case 'affine': {
      const c = s.scale.length;
      const out = new Float32Array(x.size);
      for (let i = 0; i < out.length; i++) out[i] = x.data[i] * s.scale[i % c] + s.shift[i % c];
      return new Tensor(x.shape, out);
    }
    case 'clamp':
      return clip(x, s.clamp[0], s.clamp[1]);
    case 'add':
      // operands may be views planned with different (same-sized) shapes
      return add(x, v(s.inputs[1]).reshape(x.shape));
    case 'pad':
      return zeroPad2d(x, s.padding);
    case 'softmax':
      return softmax(x.reshape([x.size / s.channels, s.channels])).reshape(x.shape);
    case 'sigmoid':
      return sigmoid(x);
    case 'resize':
      return resizeBilinear2d(x.reshape([x.shape[0], ...s.inShape]), s.size, s.coordinates);
    case 'concat': {
      // inputs as [N, outer, block]: the axes before the concatenation axis as one, the rest as another
      const outer = x.size / (x.shape[0] * s.blocks[0]);
      return concat(s.inputs.map((t, k) => v(t).reshape([x.shape[0], outer, s.blocks[k]])), 2);
    }
    case 'layer':
      return s.layer.call(
        s.inputs.map((t, k) => v(t).reshape([x.shape[0], ...s.layer.inputShapes[k]])),
        { backend: referenceBackend },
      );
    default:
      throw new ConfigError(`step ${s.op} (${s.layers[0]}) has no float reference: int8 steps run on int8 values`);
  }
}

/** Runs the plan of a one-output model on an NHWC batch; returns the output with per-sample shape `outputShape`. */
export function runPlanReference(plan: Plan, x: Tensor, outputShape: readonly number[]): Tensor {
  if (plan.outputs.length !== 1) throw new ConfigError(`plan has ${plan.outputs.length} outputs: run it with runPlanOutputs`);
  return runPlanOutputs(plan, x, [outputShape])[0];
}

/** Runs `plan` on an NHWC batch; returns each of its outputs with its per-sample shape in `outputShapes`. */
export function runPlanOutputs(plan: Plan, x: Tensor, outputShapes: readonly (readonly number[])[]): Tensor[] {
  const values = new Map<number, Tensor>([[plan.input, x]]);
  const batch = x.shape[0];
  const v = (t: number): Tensor => {
    const value = values.get(t);
    if (!value) throw new ConfigError(`plan reads tensor ${t} (${plan.tensors[t]?.name}) before any step wrote it`);
    // views (dropout, flatten, keepDims pooling) share a tensor id; give each step the shape it planned
    return value.reshape([batch, ...plan.tensors[t].shape]);
  };
  for (const s of plan.steps) values.set(s.output, runStep(s, v));
  return plan.outputs.map((t, k) => v(t).reshape([batch, ...outputShapes[k]]));
}
