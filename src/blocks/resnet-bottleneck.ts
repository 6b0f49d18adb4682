// The classic ResNet bottleneck (He et al.; torchvision `Bottleneck`, stride on the 3×3): 1×1 squeeze →
// 3×3 → 1×1 expand, BN and ReLU, added to an identity or a 1×1 projection shortcut, then ReLU.

import { ConfigError } from '../errors.js';
import type { PaddingMode } from '../ops/geometry.js';
import { ActivationLayer } from '../nn/activation.js';
import { Add } from '../nn/core.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import type { NormOptions } from './conv-bn.js';
import { channelsOf, convBN } from './conv-bn.js';

export interface ResNetBottleneckOptions extends NormOptions {
  /** Channels of the narrow middle (torchvision's `width`). */
  squeeze: number;
  /** Output channels (torchvision's `planes × 4`). */
  expand: number;
  stride?: number;
  /** Projection shortcut: default when stride ≠ 1 or channels change. */
  projection?: boolean;
  name: string;
  padding?: PaddingMode;
  /** torchvision-style prefix: layers get `conv1`, `bn1`, …, `downsample.0` under it. */
  torchPrefix?: string;
}

export function resnetBottleneck(x: SymbolicTensor, o: ResNetBottleneckOptions): SymbolicTensor {
  const stride = o.stride ?? 1;
  const needsProjection = stride !== 1 || channelsOf(x) !== o.expand;
  const projection = o.projection ?? needsProjection;
  if (needsProjection && !projection) {
    throw new ConfigError(`${o.name}: an identity shortcut needs stride 1 and ${o.expand} input channels (got stride ${stride}, ${channelsOf(x)} channels)`);
  }
  const norm = { bnEpsilon: o.bnEpsilon, bnMomentum: o.bnMomentum };
  const torch = (conv: string, bn: string): { conv: string; bn: string } | undefined =>
    o.torchPrefix === undefined ? undefined : { conv: `${o.torchPrefix}${conv}`, bn: `${o.torchPrefix}${bn}` };
  let m = convBN(x, { ...norm, filters: o.squeeze, kernelSize: 1, padding: 'valid', activation: 'relu', names: { conv: `${o.name}_conv1`, bn: `${o.name}_bn1`, activation: `${o.name}_relu1` }, torch: torch('conv1', 'bn1') });
  m = convBN(m, { ...norm, filters: o.squeeze, kernelSize: 3, strides: stride, padding: o.padding ?? 'torch', activation: 'relu', names: { conv: `${o.name}_conv2`, bn: `${o.name}_bn2`, activation: `${o.name}_relu2` }, torch: torch('conv2', 'bn2') });
  m = convBN(m, { ...norm, filters: o.expand, kernelSize: 1, padding: 'valid', activation: 'linear', names: { conv: `${o.name}_conv3`, bn: `${o.name}_bn3` }, torch: torch('conv3', 'bn3') });
  const shortcut = projection
    ? convBN(x, { ...norm, filters: o.expand, kernelSize: 1, strides: stride, padding: 'valid', activation: 'linear', names: { conv: `${o.name}_shortcut`, bn: `${o.name}_shortcut_bn` }, torch: torch('downsample.0', 'downsample.1') })
    : x;
  const sum = new Add(`${o.name}_add`).apply([m, shortcut]);
  return new ActivationLayer(`${o.name}_out_relu`, 'relu').apply(sum);
}
