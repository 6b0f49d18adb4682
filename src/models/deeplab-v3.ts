// Mobile DeepLabv3 (MobileNetV2 paper §6.3, Table 7; TF `research/deeplab`): MobileNetV2's body at output stride
// 8, 16 or 32 under image pooling + a 1×1 branch (`mobile`) or the full ASPP (`aspp`), logits resized to the input.

import { ConfigError } from '../errors.js';
import { convBN } from '../blocks/conv-bn.js';
import { Model } from '../graph/model.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import { Conv2D } from '../nn/conv.js';
import { input } from '../nn/core.js';
import { Concatenate } from '../nn/extra.js';
import type { Layer } from '../nn/layer.js';
import { GlobalAveragePooling2D } from '../nn/pooling.js';
import { Resize } from '../nn/resize.js';
import { mobilenetV2Body, resolveBody } from './mobilenet-v2.js';
import type { CommonModelOptions } from './options.js';
import { commonMetadata, resolveCommon } from './options.js';
import type { OutputStride } from './output-stride.js';
import { checkOutputStride } from './output-stride.js';

export type DeepLabHead = 'mobile' | 'aspp';

/** The backbone's options DeepLab shares with the classifiers; `classes` counts per-pixel classes, background included. */
type SharedOptions = Pick<CommonModelOptions, 'alpha' | 'inputChannels' | 'classes' | 'convention' | 'bnEpsilon' | 'bnMomentum' | 'name' | 'seed'>;

export interface DeepLabV3Options extends SharedOptions {
  /**
   * Input size, one number or [height, width]: any size of at least the output stride; default 513, the paper's.
   * Sizes of the form k·OS + 1 (513 = 32·16 + 1, 129 = 8·16 + 1) put the align-corners resize's corners on pixels.
   */
  resolution?: number | readonly [number, number];
  /** Backbone downsampling: 16 (default) or 8 by atrous depthwise convs, or 32 (none). */
  outputStride?: OutputStride;
  /** `mobile`: image pooling and a 1×1 branch (the paper's on-device head); `aspp`: plus three 3×3 atrous branches. */
  head?: DeepLabHead;
}

/** Channels of every head branch and of the projection after the concatenation. */
export const DEEPLAB_HEAD_CHANNELS = 256;

/** The ASPP's atrous rates at output stride 16; they scale with 16 / outputStride (doubled at 8). */
export const ASPP_RATES_AT_16: readonly number[] = [6, 12, 18];

export function deeplabV3(options: DeepLabV3Options = {}): Model {
  const arch = 'deeplabv3_mobilenet_v2';
  // 513×513 and PASCAL VOC's 21 classes by default; the logits are per pixel, so no classifier top or pooling
  const c = resolveCommon({ ...options, resolution: options.resolution ?? 513, classes: options.classes ?? 21, includeTop: false, pooling: null }, arch, 'torchvision');
  const outputStride = checkOutputStride(options.outputStride ?? 16, arch);
  const headKind = options.head ?? 'mobile';
  if (headKind !== 'mobile' && headKind !== 'aspp') throw new ConfigError(`${arch}: head must be 'mobile' or 'aspp', got ${JSON.stringify(headKind)}`);
  const body = resolveBody({ alpha: c.alpha, outputStride }, c, arch);

  const x = input([c.height, c.width, c.inputChannels], 'input');
  const features = mobilenetV2Body(x, body);
  const [mapHeight, mapWidth] = features.shape;
  const branch = (y: SymbolicTensor, name: string, torchName: string, kernelSize: number, rate = 1): SymbolicTensor =>
    convBN(y, {
      ...body.norm,
      filters: DEEPLAB_HEAD_CHANNELS,
      kernelSize,
      dilation: rate,
      padding: kernelSize === 1 ? 'valid' : body.padding,
      activation: 'relu',
      names: { conv: name, bn: `${name}_BN`, activation: `${name}_relu` },
      block: name,
      torch: { conv: `${torchName}.0`, bn: `${torchName}.1` },
    });
  const inBlock = <L extends Layer>(layer: L, block: string): L => Object.assign(layer, { block });

  let pooled = inBlock(new GlobalAveragePooling2D('image_pooling', true), 'image_pooling').apply(features);
  pooled = branch(pooled, 'image_pooling_conv', 'pool_proj', 1);
  pooled = inBlock(new Resize('image_pooling_resize', { size: [mapHeight, mapWidth] }, 'align-corners'), 'image_pooling').apply(pooled);
  const branches = [pooled, branch(features, 'aspp0', 'aspp0', 1)];
  if (headKind === 'aspp') {
    ASPP_RATES_AT_16.forEach((rate, i) => branches.push(branch(features, `aspp${i + 1}`, `aspp${i + 1}`, 3, (rate * 16) / outputStride)));
  }
  let y = inBlock(new Concatenate('aspp_concat', -1, branches.length), 'concat_projection').apply(branches);
  y = branch(y, 'concat_projection', 'project', 1);
  const logits = inBlock(new Conv2D('logits', { filters: c.classes, kernelSize: 1, useBias: true }), 'logits');
  logits.torchName = 'logits';
  y = logits.apply(y);
  y = inBlock(new Resize('logits_resize', { size: [c.height, c.width] }, 'align-corners'), 'logits').apply(y);

  const model = new Model(x, y, { name: options.name ?? `${arch}_${c.alpha}_${c.height}_os${outputStride}`, seed: options.seed });
  model.metadata = { ...commonMetadata(arch, c, options), classes: c.classes };
  return model;
}
