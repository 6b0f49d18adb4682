// Architectures by name, as the CLI and model files refer to them.

import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { mobilenetV1 } from './mobilenet-v1.js';
import type { MobileNetV1Options } from './mobilenet-v1.js';
import { mobilenetV2 } from './mobilenet-v2.js';
import type { MobileNetV2Options } from './mobilenet-v2.js';

export const ARCHITECTURES = ['mobilenet_v2', 'mobilenet_v1'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export type ArchitectureOptions = MobileNetV2Options & MobileNetV1Options;

export function isArchitecture(name: string): name is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(name);
}

export function buildModel(arch: string, options: ArchitectureOptions = {}): Model {
  if (!isArchitecture(arch)) throw new ConfigError(`unknown architecture ${JSON.stringify(arch)}: expected one of ${ARCHITECTURES.join(', ')}`);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigError(`${arch}: options must be an object, got ${JSON.stringify(options)}`);
  if (arch === 'mobilenet_v2') {
    const { depthMultiplier: _d, activation: _a, ...v2 } = options;
    return mobilenetV2(v2 as MobileNetV2Options);
  }
  const { blocks: _b, roundNearest: _r, firstChannel: _f, lastChannel: _l, stemStride: _s, ...v1 } = options;
  return mobilenetV1(v1 as MobileNetV1Options);
}
