// Loads a named set of tensors into a model, whichever naming it uses: torchvision state-dict names
// (`features.1.conv.0.0.weight`, PyTorch layouts) or ours (`expanded_conv_depthwise.depthwise_kernel`, HWIO).

import type { Model } from '../graph/model.js';
import type { Tensor } from '../tensor/tensor.js';
import { loadTorchStateDict } from './torch-names.js';

export type WeightNaming = 'torchvision' | 'ours';

/** Our names are `layer.param` with a Keras-style parameter; anything else is taken for torchvision's. */
export function detectNaming(names: Iterable<string>): WeightNaming {
  for (const name of names) {
    if (/\.(kernel|depthwise_kernel|gamma|moving_mean)$/.test(name)) return 'ours';
  }
  return 'torchvision';
}

export function loadWeights(model: Model, tensors: Map<string, Tensor>): WeightNaming {
  const naming = detectNaming(tensors.keys());
  if (naming === 'ours') model.setWeights(tensors);
  else loadTorchStateDict(model, tensors);
  return naming;
}
