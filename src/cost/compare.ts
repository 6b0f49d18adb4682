// The seeds' cost comparisons: a standard vs a depthwise-separable convolution (ratio 1/N + 1/Dk²),
// the classic residual vs the inverted residual block, and MobileNetV1 vs V2, all from real graphs.

import { ConfigError } from '../errors.js';
import { Model } from '../graph/model.js';
import { input } from '../nn/core.js';
import { residualBlock, invertedResidualBlock } from '../blocks/seed-blocks.js';
import { modelCost } from './model-cost.js';
import type { ParamCounts } from './model-cost.js';

export interface SeparableComparison {
  kernel: number;
  inputChannels: number;
  outputChannels: number;
  featureSize: number;
  /** Dk·Dk·M·N·DF·DF */
  standardMacs: number;
  /** Dk·Dk·M·DF·DF */
  depthwiseMacs: number;
  /** M·N·DF·DF */
  pointwiseMacs: number;
  separableMacs: number;
  standardParams: number;
  separableParams: number;
  /** separable / standard, which equals 1/N + 1/Dk². */
  ratio: number;
}

/** Cost of one Dk×Dk convolution from M to N channels on a DF×DF map, standard vs depthwise-separable (paper §3.1). */
export function separableVsStandard(kernel: number, inputChannels: number, outputChannels: number, featureSize: number): SeparableComparison {
  for (const [k, v] of Object.entries({ kernel, inputChannels, outputChannels, featureSize })) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${k} must be a positive integer, got ${v}`);
  }
  const area = featureSize * featureSize;
  const k2 = kernel * kernel;
  const standardMacs = k2 * inputChannels * outputChannels * area;
  const depthwiseMacs = k2 * inputChannels * area;
  const pointwiseMacs = inputChannels * outputChannels * area;
  return {
    kernel,
    inputChannels,
    outputChannels,
    featureSize,
    standardMacs,
    depthwiseMacs,
    pointwiseMacs,
    separableMacs: depthwiseMacs + pointwiseMacs,
    standardParams: k2 * inputChannels * outputChannels,
    separableParams: k2 * inputChannels + inputChannels * outputChannels,
    ratio: (depthwiseMacs + pointwiseMacs) / standardMacs,
  };
}

export interface BlockComparison {
  wide: number;
  narrow: number;
  size: number;
  residual: { params: ParamCounts; macs: number };
  inverted: { params: ParamCounts; macs: number };
}

/**
 * The seeds' residual block (wide → narrow → wide, input has `wide` channels) against the inverted
 * residual (narrow → wide → narrow, input has `narrow` channels), on a size×size map.
 */
export function residualVsInverted(wide: number, narrow: number, size: number): BlockComparison {
  const cost = (channels: number, build: typeof residualBlock): { params: ParamCounts; macs: number } => {
    const x = input([size, size, channels]);
    const c = modelCost(new Model(x, build(x, { expand: wide, squeeze: narrow, name: 'block' })));
    return { params: c.params, macs: c.macs };
  };
  return { wide, narrow, size, residual: cost(wide, residualBlock), inverted: cost(narrow, invertedResidualBlock) };
}
