// The unit every MobileNet is made of: convolution (standard or depthwise, no bias) → BatchNorm →
// optional ReLU/ReLU6, with Keras-style layer names and, where given, torchvision state-dict names.

import type { Activation } from '../ops/activation.js';
import type { PaddingMode } from '../ops/geometry.js';
import { ActivationLayer } from '../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../nn/conv.js';
import { BatchNormalization } from '../nn/normalization.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import type { Layer } from '../nn/layer.js';

/** BatchNorm settings shared by a whole network. */
export interface NormOptions {
  /** Keras MobileNets 1e-3, torchvision 1e-5. */
  bnEpsilon?: number;
  /** Keras convention (weight of the old running value); torchvision's 0.1 is 0.9 here. */
  bnMomentum?: number;
}

export interface ConvBNSpec extends NormOptions {
  /** Output channels; omit for a depthwise convolution. */
  filters?: number;
  depthMultiplier?: number;
  kernelSize: number;
  strides?: number;
  /** Dilation rate of the window (atrous convolution); default 1. */
  dilation?: number;
  padding: PaddingMode;
  activation: Activation;
  names: { conv: string; bn: string; activation?: string };
  /** torchvision prefixes of the conv and BN modules. */
  torch?: { conv: string; bn: string };
  /** Block tag given to every layer made here. */
  block?: string;
}

export function convBN(x: SymbolicTensor, s: ConvBNSpec): SymbolicTensor {
  const common = { kernelSize: s.kernelSize, strides: s.strides ?? 1, dilations: s.dilation ?? 1, padding: s.padding, useBias: false };
  const conv =
    s.filters === undefined
      ? new DepthwiseConv2D(s.names.conv, { ...common, depthMultiplier: s.depthMultiplier ?? 1 })
      : new Conv2D(s.names.conv, { ...common, filters: s.filters });
  const bn = new BatchNormalization(s.names.bn, { epsilon: s.bnEpsilon ?? 1e-3, momentum: s.bnMomentum ?? 0.999 });
  if (s.torch) {
    conv.torchName = s.torch.conv;
    bn.torchName = s.torch.bn;
  }
  const layers: Layer[] = [conv, bn];
  if (s.activation !== 'linear') layers.push(new ActivationLayer(s.names.activation ?? `${s.names.conv}_${s.activation}`, s.activation));
  let y = x;
  for (const layer of layers) {
    layer.block = s.block;
    y = layer.apply(y);
  }
  return y;
}

/** Channels of a per-sample image shape [H, W, C]. */
export function channelsOf(x: SymbolicTensor): number {
  return x.shape[x.shape.length - 1];
}
