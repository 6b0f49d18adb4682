// The four blocks of the seed texts, with their parameter names: residualBlock (wide→narrow→wide),
// invertedResidualBlock (narrow→wide→narrow), its linear-bottleneck form, and bottleneckBlock (BN + ReLU6).

import { ShapeError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { PaddingMode } from '../ops/geometry.js';
import { Conv2D, DepthwiseConv2D } from '../nn/conv.js';
import { Add } from '../nn/core.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import type { NormOptions } from './conv-bn.js';
import { channelsOf, convBN } from './conv-bn.js';

export interface SeedBlockOptions {
  /** Channels of the expanded (wide) tensor. */
  expand?: number;
  /** Channels of the squeezed (narrow) tensor. */
  squeeze?: number;
  /** Layer-name prefix. */
  name?: string;
  /** Padding of the 3×3 conv. The seed snippets omit it, but the add needs equal sizes, so the default is `same`. */
  padding?: PaddingMode;
  /** Bias on the convolutions (Keras's default, as in the seeds). */
  useBias?: boolean;
}

function requireChannels(x: SymbolicTensor, channels: number, block: string, name: string): void {
  if (channelsOf(x) !== channels) {
    throw new ShapeError(`${name} (${block}): the residual add needs input channels equal to the block's output, ${channels}; input has ${channelsOf(x)}`);
  }
}

/** conv → depthwise or 3×3 conv → conv, each with an activation, then the residual add. */
function threeConvBlock(
  x: SymbolicTensor,
  kind: 'residual' | 'inverted' | 'invertedLinear',
  o: SeedBlockOptions,
): SymbolicTensor {
  const expand = o.expand ?? 64;
  const squeeze = o.squeeze ?? 16;
  const name = o.name ?? kind;
  const inner = kind === 'residual' ? squeeze : expand;
  const outer = kind === 'residual' ? expand : squeeze;
  const last: Activation = kind === 'invertedLinear' ? 'linear' : 'relu';
  const common = { useBias: o.useBias ?? true };
  requireChannels(x, outer, `${kind} block`, name);
  let m = new Conv2D(`${name}_conv1`, { ...common, filters: inner, kernelSize: 1, activation: 'relu' }).apply(x);
  m =
    kind === 'residual'
      ? new Conv2D(`${name}_conv2`, { ...common, filters: inner, kernelSize: 3, padding: o.padding ?? 'same', activation: 'relu' }).apply(m)
      : new DepthwiseConv2D(`${name}_depthwise`, { ...common, kernelSize: 3, padding: o.padding ?? 'same', activation: 'relu' }).apply(m);
  m = new Conv2D(`${name}_conv3`, { ...common, filters: outer, kernelSize: 1, activation: last }).apply(m);
  return new Add(`${name}_add`).apply([m, x]);
}

/** Classic residual block, wide → narrow → wide: `residual_block(x, squeeze=16, expand=64)`. */
export function residualBlock(x: SymbolicTensor, o: SeedBlockOptions = {}): SymbolicTensor {
  return threeConvBlock(x, 'residual', o);
}

/** Inverted residual block, narrow → wide → narrow, ReLU after every conv: `inverted_residual_block(x, expand=64, squeeze=16)`. */
export function invertedResidualBlock(x: SymbolicTensor, o: SeedBlockOptions = {}): SymbolicTensor {
  return threeConvBlock(x, 'inverted', o);
}

/** Inverted residual with a linear bottleneck: the last conv has no activation. */
export function invertedLinearResidualBlock(x: SymbolicTensor, o: SeedBlockOptions = {}): SymbolicTensor {
  return threeConvBlock(x, 'invertedLinear', o);
}

/** The seeds' final block: 1×1 expand, BN, ReLU6 → depthwise 3×3, BN, ReLU6 → linear 1×1 squeeze, BN → add. */
export function bottleneckBlock(x: SymbolicTensor, o: Omit<SeedBlockOptions, 'useBias'> & NormOptions = {}): SymbolicTensor {
  const expand = o.expand ?? 64;
  const squeeze = o.squeeze ?? 16;
  const name = o.name ?? 'bottleneck';
  requireChannels(x, squeeze, 'bottleneck block', name);
  const norm = { bnEpsilon: o.bnEpsilon, bnMomentum: o.bnMomentum };
  let m = convBN(x, { ...norm, filters: expand, kernelSize: 1, padding: 'valid', activation: 'relu6', names: { conv: `${name}_expand`, bn: `${name}_expand_BN`, activation: `${name}_expand_relu` } });
  m = convBN(m, { ...norm, kernelSize: 3, padding: o.padding ?? 'same', activation: 'relu6', names: { conv: `${name}_depthwise`, bn: `${name}_depthwise_BN`, activation: `${name}_depthwise_relu` } });
  m = convBN(m, { ...norm, filters: squeeze, kernelSize: 1, padding: 'valid', activation: 'linear', names: { conv: `${name}_project`, bn: `${name}_project_BN` } });
  return new Add(`${name}_add`).apply([m, x]);
}
