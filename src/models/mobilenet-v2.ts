// MobileNetV2 (Sandler et al., arXiv 1801.04381): the paper's Table 2 as data, built with Keras layer
// names and torchvision state-dict names. Rounding, last-channel and padding rules follow the chosen convention.

import { ConfigError } from '../errors.js';
import type { PaddingMode } from '../ops/geometry.js';
import type { NormOptions } from '../blocks/conv-bn.js';
import { convBN } from '../blocks/conv-bn.js';
import { invertedResidual } from '../blocks/inverted-residual.js';
import { input } from '../nn/core.js';
import { Model } from '../graph/model.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import { head } from './head.js';
import type { CommonModelOptions, Convention, ResolvedCommon } from './options.js';
import { checkDropout, checkResolution, commonMetadata, resolveCommon } from './options.js';
import type { AtrousStep, OutputStride } from './output-stride.js';
import { atrousSchedule, checkOutputStride, scheduleStride } from './output-stride.js';
import { makeDivisible, scaledChannels } from './rounding.js';

/** One row of Table 2: expansion factor t, output channels c, repeats n, first stride s. */
export type BottleneckRow = readonly [t: number, c: number, n: number, s: number];

/** MobileNetV2's Table 2 (the 17 bottlenecks between the 32-channel stem and the 1280-channel conv). */
export const MOBILENET_V2_BLOCKS: readonly BottleneckRow[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export interface MobileNetV2Options extends CommonModelOptions {
  /** The (t, c, n, s) table; default Table 2. */
  blocks?: readonly BottleneckRow[];
  /** Channel counts are multiples of this (torchvision's `round_nearest`). */
  roundNearest?: number;
  /** Channels of the stem conv before α. */
  firstChannel?: number;
  /** Channels of the last 1×1 conv before α; α scales it only when α > 1. */
  lastChannel?: number;
  /** Stride of the stem conv (2 in the paper; 1 suits small inputs such as 28×28). */
  stemStride?: number;
  /** Limit the downsampling to 8 or 16 (or 32) by atrous depthwise convs, as DeepLab's backbone runs. */
  outputStride?: OutputStride;
}

export function mobilenetV2(options: MobileNetV2Options = {}): Model {
  const arch = 'mobilenet_v2';
  const c = resolveCommon(options, arch, 'torchvision');
  const body = resolveBody(options, c, arch);
  const dropout = checkDropout(options.dropout ?? (c.convention === 'keras' ? 0 : 0.2), arch);

  const x = input([c.height, c.width, c.inputChannels], 'input');
  let y = mobilenetV2LastConv(mobilenetV2Body(x, body), body, options.lastChannel);
  y = head(y, c, dropout, 'classifier.1');
  const model = new Model(x, y, { name: options.name ?? `${arch}_${c.alpha}_${c.height}`, seed: options.seed });
  model.metadata = {
    ...commonMetadata(arch, c, options),
    padding: body.padding,
    blocks: body.blocks.map((r) => [...r]),
    stemStride: body.stemStride,
  };
  return model;
}

/** The backbone options of MobileNetV2, checked, with each layer's stride and rate (stem first, then every bottleneck). */
export interface MobileNetV2Body {
  alpha: number;
  convention: Convention;
  blocks: readonly BottleneckRow[];
  divisor: number;
  firstChannels: number;
  stemStride: number;
  padding: PaddingMode;
  norm: NormOptions;
  schedule: AtrousStep[];
}

export function resolveBody(options: MobileNetV2Options, c: ResolvedCommon, arch: string): MobileNetV2Body {
  const blocks = options.blocks ?? MOBILENET_V2_BLOCKS;
  const divisor = options.roundNearest ?? 8;
  if (!Number.isInteger(divisor) || divisor < 1) throw new ConfigError(`${arch}: roundNearest must be a positive integer, got ${divisor}`);
  const stemStride = options.stemStride ?? 2;
  if (stemStride !== 1 && stemStride !== 2) throw new ConfigError(`${arch}: stemStride must be 1 or 2, got ${stemStride}`);
  checkBlocks(blocks, arch);
  const outputStride = options.outputStride === undefined ? undefined : checkOutputStride(options.outputStride, arch);
  const nominal = [stemStride, ...blocks.flatMap(([, , n, s]) => Array.from({ length: n }, (_, i) => (i === 0 ? s : 1)))];
  const schedule = atrousSchedule(nominal, outputStride);
  checkResolution(c, scheduleStride(schedule), arch);
  return {
    alpha: c.alpha,
    convention: c.convention,
    blocks,
    divisor,
    firstChannels: makeDivisible((options.firstChannel ?? 32) * c.alpha, divisor),
    stemStride,
    padding: options.padding ?? (c.convention === 'keras' ? 'same' : 'torch'),
    norm: { bnEpsilon: c.bnEpsilon, bnMomentum: c.bnMomentum },
    schedule,
  };
}

/** The stem and every bottleneck (torchvision's `features[:-1]`, slim's through `layer_18`), on `x`. */
export function mobilenetV2Body(x: SymbolicTensor, b: MobileNetV2Body): SymbolicTensor {
  const [stem, ...steps] = b.schedule;
  let y = convBN(x, {
    ...b.norm,
    filters: b.firstChannels,
    kernelSize: 3,
    strides: stem.stride,
    padding: b.padding,
    activation: 'relu6',
    names: { conv: 'Conv1', bn: 'bn_Conv1', activation: 'Conv1_relu' },
    block: 'Conv1',
    torch: { conv: 'features.0.0', bn: 'features.0.1' },
  });
  let index = 0;
  for (const [t, channels, n] of b.blocks) {
    const outputChannels = scaledChannels(channels, b.alpha, b.divisor, b.convention);
    for (let i = 0; i < n; i++) {
      const { stride, rate } = steps[index];
      y = invertedResidual(y, {
        ...b.norm,
        outputChannels,
        stride: stride as 1 | 2,
        dilation: rate,
        expansion: t,
        name: index === 0 ? 'expanded_conv' : `block_${index}`,
        padding: b.padding,
        torchPrefix: `features.${index + 1}`,
      });
      index++;
    }
  }
  return y;
}

/**
 * The 1×1 conv after the bottlenecks (torchvision's `features[-1]`, slim's `layer_19`) to `lastChannel` channels
 * (default 1280), scaled by α only when α > 1.
 */
export function mobilenetV2LastConv(y: SymbolicTensor, b: MobileNetV2Body, lastChannel = 1280): SymbolicTensor {
  const index = b.schedule.length;
  return convBN(y, {
    ...b.norm,
    filters: b.alpha > 1 ? makeDivisible(lastChannel * b.alpha, b.divisor) : lastChannel,
    kernelSize: 1,
    padding: 'valid',
    activation: 'relu6',
    names: { conv: 'Conv_1', bn: 'Conv_1_bn', activation: 'out_relu' },
    block: 'Conv_1',
    torch: { conv: `features.${index}.0`, bn: `features.${index}.1` },
  });
}

function checkBlocks(blocks: readonly BottleneckRow[], arch: string): void {
  if (!Array.isArray(blocks) || blocks.length === 0) throw new ConfigError(`${arch}: blocks must be a non-empty list of [t, c, n, s] rows`);
  blocks.forEach((row, i) => {
    const [t, ch, n, s] = row;
    if (row.length !== 4 || !(t > 0) || !Number.isInteger(ch) || ch < 1 || !Number.isInteger(n) || n < 1 || (s !== 1 && s !== 2)) {
      throw new ConfigError(`${arch}: blocks row ${i} [${row.join(', ')}] must be [t > 0, c ≥ 1, n ≥ 1, s ∈ {1, 2}]`);
    }
  });
}
