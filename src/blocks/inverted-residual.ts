// The MobileNetV2 building block (paper §3.3, torchvision `InvertedResidual`): 1×1 expansion with
// ReLU6 → 3×3 depthwise with ReLU6 → linear 1×1 projection, and a shortcut when stride 1 and channels match.

import { ConfigError, ShapeError } from '../errors.js';
import type { PaddingMode } from '../ops/geometry.js';
import { Add } from '../nn/core.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import type { NormOptions } from './conv-bn.js';
import { channelsOf, convBN } from './conv-bn.js';

export interface InvertedResidualOptions extends NormOptions {
  /** Expected input channels; checked against the input when given. */
  inputChannels?: number;
  outputChannels: number;
  stride: 1 | 2;
  /** Dilation rate of the depthwise conv (atrous, for a smaller output stride); default 1. */
  dilation?: number;
  /** The expansion factor t; 1 skips the expansion conv. */
  expansion: number;
  /** Layer-name prefix, e.g. `block_3` (Keras names `block_3_expand`, …). */
  name: string;
  /** `torch` (pad 1 all round) or `same` (TF/Keras). */
  padding?: PaddingMode;
  /** torchvision prefix of this block, e.g. `features.3`; its layers get `features.3.conv.0.0` etc. */
  torchPrefix?: string;
}

export function invertedResidual(x: SymbolicTensor, o: InvertedResidualOptions): SymbolicTensor {
  const inputChannels = channelsOf(x);
  if (o.inputChannels !== undefined && o.inputChannels !== inputChannels) {
    throw new ShapeError(`${o.name}: block expects ${o.inputChannels} input channels, input has ${inputChannels}`);
  }
  if (o.stride !== 1 && o.stride !== 2) throw new ConfigError(`${o.name}: stride must be 1 or 2, got ${o.stride}`);
  if (!(o.expansion > 0)) throw new ConfigError(`${o.name}: expansion factor must be positive, got ${o.expansion}`);
  if (!Number.isInteger(o.outputChannels) || o.outputChannels < 1) throw new ConfigError(`${o.name}: outputChannels must be a positive integer, got ${o.outputChannels}`);
  const hidden = Math.round(inputChannels * o.expansion);
  const padding = o.padding ?? 'torch';
  const norm = { bnEpsilon: o.bnEpsilon, bnMomentum: o.bnMomentum, block: o.name };
  const torch = (i: string, j: string): { conv: string; bn: string } | undefined =>
    o.torchPrefix === undefined ? undefined : { conv: `${o.torchPrefix}.conv.${i}`, bn: `${o.torchPrefix}.conv.${j}` };
  let y = x;
  let next = 0;
  if (o.expansion !== 1) {
    y = convBN(y, {
      ...norm,
      filters: hidden,
      kernelSize: 1,
      padding: 'valid',
      activation: 'relu6',
      names: { conv: `${o.name}_expand`, bn: `${o.name}_expand_BN`, activation: `${o.name}_expand_relu` },
      torch: torch('0.0', '0.1'),
    });
    next = 1;
  }
  y = convBN(y, {
    ...norm,
    kernelSize: 3,
    strides: o.stride,
    dilation: o.dilation ?? 1,
    padding,
    activation: 'relu6',
    names: { conv: `${o.name}_depthwise`, bn: `${o.name}_depthwise_BN`, activation: `${o.name}_depthwise_relu` },
    torch: torch(`${next}.0`, `${next}.1`),
  });
  y = convBN(y, {
    ...norm,
    filters: o.outputChannels,
    kernelSize: 1,
    padding: 'valid',
    activation: 'linear',
    names: { conv: `${o.name}_project`, bn: `${o.name}_project_BN` },
    torch: torch(`${next + 1}`, `${next + 2}`),
  });
  if (o.stride === 1 && inputChannels === o.outputChannels) {
    const add = new Add(`${o.name}_add`);
    add.block = o.name;
    y = add.apply([x, y]);
  }
  return y;
}
