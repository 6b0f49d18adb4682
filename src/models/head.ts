// The top shared by both MobileNets: global pooling, then (with `includeTop`) dropout, the dense
// classifier and an optional softmax.

import { Softmax } from '../nn/activation.js';
import { Dense, Dropout } from '../nn/core.js';
import { GlobalAveragePooling2D, GlobalMaxPooling2D } from '../nn/pooling.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import type { ResolvedCommon } from './options.js';

export function head(x: SymbolicTensor, c: ResolvedCommon, dropout: number, classifierTorchName?: string): SymbolicTensor {
  let y = x;
  if (c.pooling === 'avg') y = new GlobalAveragePooling2D('global_average_pooling2d').apply(y);
  else if (c.pooling === 'max') y = new GlobalMaxPooling2D('global_max_pooling2d').apply(y);
  if (!c.includeTop) return y;
  if (dropout > 0) y = new Dropout('dropout', dropout).apply(y);
  const classifier = new Dense('predictions', { units: c.classes });
  classifier.torchName = classifierTorchName;
  y = classifier.apply(y);
  if (c.classifierActivation === 'softmax') y = new Softmax('softmax').apply(y);
  return y;
}
