// Loads a named set of tensors into a model, whichever naming it uses: torchvision state-dict names
// (`features.1.conv.0.0.weight`, PyTorch layouts), timm's (`blocks.1.0.conv_pw.weight`) or ours (HWIO).

import type { Model } from '../graph/model.js';
import type { Tensor } from '../tensor/tensor.js';
import { isTimmNaming, timmArchitecture, timmToOursV1, timmToTorchvisionV2 } from './timm-names.js';
import { loadTorchStateDict } from './torch-names.js';

export type WeightNaming = 'torchvision' | 'timm' | 'ours';

/** Our names are `layer.param` with a Keras-style parameter; timm's have `conv_stem` and `blocks`; anything else is taken for torchvision's. */
export function detectNaming(names: Iterable<string>): WeightNaming {
  const list = [...names];
  if (isTimmNaming(list)) return 'timm';
  for (const name of list) {
    if (/\.(kernel|depthwise_kernel|gamma|moving_mean)$/.test(name)) return 'ours';
  }
  return 'torchvision';
}

export function loadWeights(model: Model, tensors: Map<string, Tensor>): WeightNaming {
  const naming = detectNaming(tensors.keys());
  if (naming === 'ours') model.setWeights(tensors);
  else if (naming === 'timm') {
    if (timmArchitecture(tensors.keys()) === 'mobilenet_v1') model.setWeights(timmToOursV1(tensors));
    else loadTorchStateDict(model, timmToTorchvisionV2(tensors));
  } else loadTorchStateDict(model, tensors);
  return naming;
}
