// MobileNetV1 (Howard et al., arXiv 1704.04861, Table 1): a 3×3 stem and 13 depthwise-separable
// blocks (depthwise 3×3 + pointwise 1×1, each with BN and ReLU6), with Keras application layer names.

import { ConfigError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { PaddingMode } from '../ops/geometry.js';
import { convBN } from '../blocks/conv-bn.js';
import { input } from '../nn/core.js';
import { Model } from '../graph/model.js';
import { head } from './head.js';
import type { CommonModelOptions } from './options.js';
import { checkDropout, checkResolution, commonMetadata, resolveCommon } from './options.js';
import type { OutputStride } from './output-stride.js';
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
  const depthMultiplier = options.depthMultiplier ?? 1;
  if (!Number.isInteger(depthMultiplier) || depthMultiplier < 1) throw new ConfigError(`${arch}: depthMultiplier must be a positive integer, got ${depthMultiplier}`);
  const activation = options.activation ?? 'relu6';
  if (activation !== 'relu' && activation !== 'relu6') throw new ConfigError(`${arch}: activation must be 'relu' or 'relu6', got ${JSON.stringify(activation)}`);
  const paddingName = options.padding ?? (c.convention === 'keras' ? 'keras' : 'torch');
  if (!['keras', 'same', 'torch'].includes(paddingName)) throw new ConfigError(`${arch}: padding must be 'keras', 'same' or 'torch', got ${JSON.stringify(paddingName)}`);
  const paddingFor = (stride: number): PaddingMode => (paddingName === 'keras' ? (stride === 2 ? [0, 1, 0, 1] : 'same') : paddingName);
  const outputStride = options.outputStride === undefined ? undefined : checkOutputStride(options.outputStride, arch);
  const [stem, ...steps] = atrousSchedule([2, ...MOBILENET_V1_BLOCKS.map(([, stride]) => stride)], outputStride);
  checkResolution(c, scheduleStride([stem, ...steps]), arch);
  const dropout = checkDropout(options.dropout ?? 1e-3, arch);
  const norm = { bnEpsilon: c.bnEpsilon, bnMomentum: c.bnMomentum };
  const width = (channels: number): number => Math.max(1, Math.trunc(channels * c.alpha));

  const x = input([c.height, c.width, c.inputChannels], 'input');
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
      depthMultiplier,
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
  y = head(y, c, dropout);
  const model = new Model(x, y, { name: options.name ?? `${arch}_${c.alpha}_${c.height}`, seed: options.seed });
  model.metadata = {
    ...commonMetadata(arch, c, options),
    padding: paddingName,
    depthMultiplier,
    activation,
  };
  return model;
}
