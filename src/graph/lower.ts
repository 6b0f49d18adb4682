// Lowers a Model to an execution Plan once, at load: each layer to plain steps (./lowerings.ts), then the passes
// (./passes/) fold BatchNorm, fuse clamps, residual adds and zero padding into convolutions, make whole-image pools
// global and (optionally) fuse each inverted residual, with the stem before the first one, into a row-streamed chain.

import type { Model } from './model.js';
import type { SymbolicTensor } from './symbolic.js';
import { sizeOf } from '../tensor/tensor.js';
import { lowerLayer } from './lowerings.js';
import { fuseChains } from './passes/fuse-chains.js';
import { foldBatchNorm } from './passes/fold-batch-norm.js';
import { fuseClamp } from './passes/fuse-clamp.js';
import { fuseResidual } from './passes/fuse-residual.js';
import { globalizeWholeWindowPools } from './passes/globalize-whole-window-pools.js';
import { mergePadding } from './passes/merge-padding.js';
import type { Plan, PlanTensor, Step } from './plan.js';

export interface LowerOptions {
  /** Fuse inverted residual blocks (and the stem into the first) into row-streamed chains. Default true. */
  fuseBlocks?: boolean;
  /** Fuse residual adds into the convolutions that make an operand. Default true; int8 quantization keeps them apart to calibrate the sum and its operand. */
  fuseResiduals?: boolean;
}

/**
 * The rewrites, in order. Clamps fuse twice: before residual adds (a ReLU on an operand is not the add's) and
 * after them (a ReLU after the add, as ResNet's bottleneck has it, joins the conv the add went into).
 */
const PASSES: readonly ((plan: Plan) => Plan)[] = [mergePadding, foldBatchNorm, fuseClamp, fuseResidual, fuseClamp, globalizeWholeWindowPools];

export function lowerModel(model: Model, options: LowerOptions = {}): Plan {
  const passes = options.fuseResiduals === false ? PASSES.filter((pass) => pass !== fuseResidual) : PASSES;
  const plan = passes.reduce((p, pass) => pass(p), lowerLayers(model));
  return options.fuseBlocks === false ? plan : fuseChains(plan);
}

/** Each node as its layer lowers itself: a tensor per step, views sharing their source's. */
export function lowerLayers(model: Model): Plan {
  const tensors: PlanTensor[] = [];
  const steps: Step[] = [];
  const ids = new Map<SymbolicTensor, number>();
  const newTensor = (shape: readonly number[], name: string): number => {
    tensors.push({ id: tensors.length, shape: [...shape], size: sizeOf(shape), name });
    return tensors.length - 1;
  };
  for (const { layer, inputs, output } of model.nodes) {
    const inputIds = inputs.map((t) => ids.get(t)!);
    lowerLayer(layer, {
      inputShapes: inputs.map((t) => t.shape),
      outputShape: output.shape,
      step: (fields) => {
        const id = newTensor(output.shape, layer.name);
        steps.push({ ...fields, layers: [layer.name], inputs: inputIds, output: id } as Step);
        ids.set(output, id);
      },
      view: () => ids.set(output, inputIds[0]),
      source: () => ids.set(output, newTensor(output.shape, layer.name)),
    });
  }
  return { tensors, steps, input: ids.get(model.input)!, outputs: model.outputNames.map((name) => ids.get(model.outputTensor(name))!) };
}
