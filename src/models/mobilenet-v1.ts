// MobileNetV1 (Howard et al., arXiv 1704.04861, Table 1): a 3×3 stem and 13 depthwise-separable
// blocks (depthwise 3×3 + pointwise 1×1, each with BN and ReLU6), with Keras application layer names.

import { ConfigError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { PaddingMode } from '../ops/geometry.js';
import type { NormOptions } from '../blocks/conv-bn.js';
import { convBN } from '../blocks/conv-bn.js';
import { input } from '../nn/core.js';
import { Model } from '../graph/model.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import { head } from './head.js';
import type { CommonModelOptions, ResolvedCommon } from './options.js';
import { checkDropout, checkResolution, commonMetadata, resolveCommon } from './options.js';
import type { AtrousStep, OutputStride } from './output-stride.js';
import { atrousSchedule, checkOutputStride, scheduleStride } from './output-stride.js';

/** Table 1 as data: pointwise output channels and stride of each depthwise-separable block. */
export const MOBILENET_V1_BLOCKS: readonly (readonly [channels: number, stride: number])[] = [
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 2],
  [256, 1],
  [512, 2],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [1024, 2],
  [1024, 1],
];

export interface MobileNetV1Options extends Omit<CommonModelOptions, 'padding'> {
  /** Depth multiplier of the depthwise convolutions (Keras `depth_multiplier`). */
  depthMultiplier?: number;
  /** ReLU6 as Keras, or the paper's plain ReLU. */
  activation?: Extract<Activation, 'relu' | 'relu6'>;
  /**
   * Stride-2 padding: `keras` pads (0, 1) as Keras's MobileNet does (`same` at stride 1), `same` is
   * TF SAME (equal to `keras` on even sizes), `torch` pads 1 on every side.
   */
  padding?: 'keras' | 'same' | 'torch';
  /** Limit the downsampling to 8 or 16 (or 32) by atrous depthwise convs (TF slim's `mobilenet_v1_base`). */
  outputStride?: OutputStride;
}

export function mobilenetV1(options: MobileNetV1Options = {}): Model {
  const arch = 'mobilenet_v1';
  const c = resolveCommon({ ...options, padding: undefined }, arch, 'keras');
  const body = resolveV1Body(options, c, arch);
  const dropout = checkDropout(options.dropout ?? 1e-3, arch);

  const x = input([c.height, c.width, c.inputChannels], 'input');
  const y = head(mobilenetV1Body(x, body), c, dropout);
  const model = new Model(x, y, { name: options.name ?? `${arch}_${c.alpha}_${c.height}`, seed: options.seed });
  model.metadata = {
    ...commonMetadata(arch, c, options),
    padding: body.paddingName,
    depthMultiplier: body.depthMultiplier,
    activation: body.activation,
  };
  return model;
}

/** The backbone options of MobileNetV1, checked, with each layer's stride and rate (stem first, then every block). */
export interface MobileNetV1Body {
  alpha: number;
  depthMultiplier: number;
  activation: Extract<Activation, 'relu' | 'relu6'>;
  paddingName: 'keras' | 'same' | 'torch';
  norm: NormOptions;
  schedule: AtrousStep[];
}

export function resolveV1Body(options: MobileNetV1Options, c: ResolvedCommon, arch: string): MobileNetV1Body {
  const depthMultiplier = options.depthMultiplier ?? 1;
  if (!Number.isInteger(depthMultiplier) || depthMultiplier < 1) throw new ConfigError(`${arch}: depthMultiplier must be a positive integer, got ${depthMultiplier}`);
  const activation = options.activation ?? 'relu6';
  if (activation !== 'relu' && activation !== 'relu6') throw new ConfigError(`${arch}: activation must be 'relu' or 'relu6', got ${JSON.stringify(activation)}`);
  const paddingName = options.padding ?? (c.convention === 'keras' ? 'keras' : 'torch');
  if (!['keras', 'same', 'torch'].includes(paddingName)) throw new ConfigError(`${arch}: padding must be 'keras', 'same' or 'torch', got ${JSON.stringify(paddingName)}`);
  const outputStride = options.outputStride === undefined ? undefined : checkOutputStride(options.outputStride, arch);
  const schedule = atrousSchedule([2, ...MOBILENET_V1_BLOCKS.map(([, stride]) => stride)], outputStride);
  checkResolution(c, scheduleStride(schedule), arch);
  return { alpha: c.alpha, depthMultiplier, activation, paddingName, norm: { bnEpsilon: c.bnEpsilon, bnMomentum: c.bnMomentum }, schedule };
}

/** The stem and the 13 depthwise-separable blocks (through `conv_pw_13`), on `x`. */
export function mobilenetV1Body(x: SymbolicTensor, b: MobileNetV1Body): SymbolicTensor {
  const { activation, norm } = b;
  const paddingFor = (stride: number): PaddingMode => (b.paddingName === 'keras' ? (stride === 2 ? [0, 1, 0, 1] : 'same') : b.paddingName);
  const width = (channels: number): number => Math.max(1, Math.trunc(channels * b.alpha));
  const [stem, ...steps] = b.schedule;
  let y = convBN(x, {
    ...norm,
    filters: width(32),
    kernelSize: 3,
    strides: stem.stride,
    padding: paddingFor(stem.stride),
    activation,
    names: { conv: 'conv1', bn: 'conv1_bn', activation: 'conv1_relu' },
    block: 'conv1',
  });
  MOBILENET_V1_BLOCKS.forEach(([channels], i) => {
    const id = i + 1;
    const { stride, rate } = steps[i];
    y = convBN(y, {
      ...norm,
      depthMultiplier: b.depthMultiplier,
      kernelSize: 3,
      strides: stride,
      dilation: rate,
      padding: paddingFor(stride),
      activation,
      names: { conv: `conv_dw_${id}`, bn: `conv_dw_${id}_bn`, activation: `conv_dw_${id}_relu` },
      block: `conv_dw_${id}`,
    });
    y = convBN(y, {
      ...norm,
      filters: width(channels),
      kernelSize: 1,
      padding: 'valid',
      activation,
      names: { conv: `conv_pw_${id}`, bn: `conv_pw_${id}_bn`, activation: `conv_pw_${id}_relu` },
      block: `conv_pw_${id}`,
    });
  });
  return y;
}
