// torchvision state-dict naming: maps each parameter of a model built with torch prefixes to its
// PyTorch name and layout (conv OIHW ↔ HWIO, Linear [out, in] ↔ Dense [in, out], BN running stats).

import { WeightsError } from '../errors.js';
import type { Model } from '../graph/model.js';
import type { ParamRole } from '../nn/layer.js';
import { formatShape, sameShape, transpose } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';

const TORCH_PARAM: Record<ParamRole, string> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  movingMean: 'running_mean',
  movingVariance: 'running_var',
};

interface TorchParam {
  /** Our name, `layer.param`. */
  ours: string;
  /** PyTorch's name, e.g. `features.1.conv.0.0.weight`. */
  torch: string;
  /** Axis permutation from the torch layout to ours (identity for vectors). */
  fromTorch: readonly number[] | null;
  toTorch: readonly number[] | null;
  torchShape: readonly number[];
}

/** Every parameter of `model` with its torchvision name; throws if some layer has no torch name. */
export function torchParams(model: Model): TorchParam[] {
  const out: TorchParam[] = [];
  const unnamed: string[] = [];
  for (const layer of model.layers) {
    for (const spec of layer.paramSpecs) {
      if (layer.torchName === undefined) {
        unnamed.push(`${layer.name}.${spec.name}`);
        continue;
      }
      const rank = spec.shape.length;
      // HWIO → OIHW is [3, 2, 0, 1]; OIHW → HWIO is [2, 3, 1, 0]; dense is a plain transpose
      const toTorch = spec.role !== 'kernel' ? null : rank === 4 ? [3, 2, 0, 1] : [1, 0];
      const fromTorch = spec.role !== 'kernel' ? null : rank === 4 ? [2, 3, 1, 0] : [1, 0];
      out.push({
        ours: `${layer.name}.${spec.name}`,
        torch: `${layer.torchName}.${TORCH_PARAM[spec.role]}`,
        toTorch,
        fromTorch,
        torchShape: toTorch ? toTorch.map((a) => spec.shape[a]) : spec.shape,
      });
    }
  }
  if (unnamed.length) throw new WeightsError(`model ${model.name} has no torchvision names for ${unnamed.length} parameters (e.g. ${unnamed.slice(0, 3).join(', ')})`);
  return out;
}

/**
 * Loads a torchvision `state_dict` (names → tensors in PyTorch layouts). Names, shapes and the set of
 * tensors must match exactly; `num_batches_tracked` buffers are ignored. Nothing changes on error.
 */
export function loadTorchStateDict(model: Model, state: Map<string, Tensor>): void {
  const params = torchParams(model);
  const byTorch = new Map(params.map((p) => [p.torch, p]));
  const given = [...state.keys()].filter((k) => !k.endsWith('.num_batches_tracked'));
  const missing = params.filter((p) => !state.has(p.torch)).map((p) => p.torch);
  const unexpected = given.filter((k) => !byTorch.has(k));
  const misshaped = given
    .filter((k) => byTorch.has(k) && !sameShape(state.get(k)!.shape, byTorch.get(k)!.torchShape))
    .map((k) => `${k} expected ${formatShape(byTorch.get(k)!.torchShape)} got ${formatShape(state.get(k)!.shape)}`);
  if (missing.length || unexpected.length || misshaped.length) {
    const parts: string[] = [];
    const few = (l: string[]): string => (l.length <= 6 ? l.join(', ') : `${l.slice(0, 6).join(', ')}, … (${l.length - 6} more)`);
    if (missing.length) parts.push(`missing ${missing.length}: ${few(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${few(unexpected)}`);
    if (misshaped.length) parts.push(`wrong shape ${misshaped.length}: ${few(misshaped)}`);
    throw new WeightsError(`state dict does not fit model ${model.name}: ${parts.join('; ')}`, missing, unexpected);
  }
  const weights = new Map<string, Tensor>();
  for (const p of params) {
    const t = state.get(p.torch)!;
    weights.set(p.ours, p.fromTorch ? transpose(t, p.fromTorch) : t);
  }
  model.setWeights(weights);
}

/** The model's parameters under torchvision names and layouts. */
export function torchStateDict(model: Model): Map<string, Tensor> {
  const own = model.weights();
  const out = new Map<string, Tensor>();
  for (const p of torchParams(model)) {
    const t = own.get(p.ours)!;
    out.set(p.torch, p.toTorch ? transpose(t, p.toTorch) : t);
  }
  return out;
}
