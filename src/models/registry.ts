// Architectures by name, as the CLI and model files refer to them.

import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { withParameterBudget } from '../nn/parameter-budget.js';
import { deeplabV3 } from './deeplab-v3.js';
import type { DeepLabV3Options } from './deeplab-v3.js';
import { mobilenetV1 } from './mobilenet-v1.js';
import type { MobileNetV1Options } from './mobilenet-v1.js';
import { mobilenetV2 } from './mobilenet-v2.js';
import type { MobileNetV2Options } from './mobilenet-v2.js';
import { ssd } from './ssd.js';
import type { SsdArchitectureOptions, SsdBackbone, SsdHead } from './ssd.js';

export const ARCHITECTURES = ['mobilenet_v2', 'mobilenet_v1', 'deeplabv3_mobilenet_v2', 'ssdlite_mobilenet_v2', 'ssdlite_mobilenet_v1', 'ssd_mobilenet_v1', 'ssd_mobilenet_v2'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export type ArchitectureOptions = MobileNetV2Options & MobileNetV1Options & DeepLabV3Options & SsdArchitectureOptions;

/** The options DeepLab takes; any other given option is a ConfigError rather than silently dropped. */
const DEEPLAB_OPTIONS: readonly (keyof DeepLabV3Options)[] = ['alpha', 'resolution', 'inputChannels', 'classes', 'outputStride', 'head', 'convention', 'bnEpsilon', 'bnMomentum', 'name', 'seed'];

/** The options the detectors take (the name fixes the backbone and the head). */
const SSD_OPTIONS: readonly (keyof SsdArchitectureOptions)[] = ['alpha', 'resolution', 'inputChannels', 'classes', 'convention', 'padding', 'anchors', 'bnEpsilon', 'bnMomentum', 'name', 'seed'];

/** Each detector architecture's backbone and head. */
const DETECTORS: Readonly<Record<string, { backbone: SsdBackbone; head: SsdHead }>> = {
  ssdlite_mobilenet_v2: { backbone: 'mobilenet_v2', head: 'separable' },
  ssdlite_mobilenet_v1: { backbone: 'mobilenet_v1', head: 'separable' },
  ssd_mobilenet_v1: { backbone: 'mobilenet_v1', head: 'conv' },
  ssd_mobilenet_v2: { backbone: 'mobilenet_v2', head: 'conv' },
};

/** Throws a ConfigError naming every given option outside `accepted`. */
function onlyOptions(arch: string, options: ArchitectureOptions, accepted: readonly string[]): void {
  const foreign = Object.keys(options).filter((k) => !accepted.includes(k) && options[k as keyof ArchitectureOptions] !== undefined);
  if (foreign.length) throw new ConfigError(`${arch}: options ${foreign.join(', ')} do not apply (it takes ${accepted.join(', ')})`);
}

export function isArchitecture(name: string): name is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(name);
}

/** 2²⁶ parameters (256 MiB of float32): ten times MobileNetV2 at α 1.4, so only absurd options reach it. */
export const MAX_MODEL_PARAMETERS = 2 ** 26;

export function buildModel(arch: string, options: ArchitectureOptions = {}): Model {
  if (!isArchitecture(arch)) throw new ConfigError(`unknown architecture ${JSON.stringify(arch)}: expected one of ${ARCHITECTURES.join(', ')}`);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigError(`${arch}: options must be an object, got ${JSON.stringify(options)}`);
  const tooLarge = (): ConfigError => new ConfigError(`${arch}: options ${JSON.stringify(options)} describe a network of more than ${MAX_MODEL_PARAMETERS} parameters`);
  return withParameterBudget(MAX_MODEL_PARAMETERS, tooLarge, () => {
    if (arch === 'deeplabv3_mobilenet_v2') {
      onlyOptions(arch, options, DEEPLAB_OPTIONS);
      return deeplabV3(options);
    }
    const detector = DETECTORS[arch];
    if (detector) {
      onlyOptions(arch, options, SSD_OPTIONS);
      return ssd({ ...(options as SsdArchitectureOptions), ...detector });
    }
    if (arch === 'mobilenet_v2') {
      const { depthMultiplier: _d, activation: _a, head: _h, ...v2 } = options;
      return mobilenetV2(v2 as MobileNetV2Options);
    }
    const { blocks: _b, roundNearest: _r, firstChannel: _f, lastChannel: _l, stemStride: _s, head: _h, ...v1 } = options;
    return mobilenetV1(v1 as MobileNetV1Options);
  });
}
