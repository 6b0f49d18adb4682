// Recovers MobileNetV2 hyper-parameters from a torchvision state dict's shapes: input channels, classes,
// and the width multiplier α (any α that yields exactly these channel counts builds the same network).

import { WeightsError } from '../errors.js';
import { MOBILENET_V2_BLOCKS } from '../models/mobilenet-v2.js';
import type { BottleneckRow } from '../models/mobilenet-v2.js';
import { makeDivisible } from '../models/rounding.js';
import { formatShape } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';

export interface InferredV2 {
  alpha: number;
  classes: number | null;
  inputChannels: number;
  /** Every α on the search grid that gives the same channels, for the message. */
  alphaRange: [number, number];
}

/** Channels of the stem, of each block's output, and of the last conv at width α (torchvision rounding). */
export function mobilenetV2Channels(alpha: number, blocks: readonly BottleneckRow[] = MOBILENET_V2_BLOCKS, divisor = 8, lastChannel = 1280): number[] {
  const out = [makeDivisible(32 * alpha, divisor)];
  for (const [, c, n] of blocks) for (let i = 0; i < n; i++) out.push(makeDivisible(c * alpha, divisor));
  out.push(alpha > 1 ? makeDivisible(lastChannel * alpha, divisor) : lastChannel);
  return out;
}

const STANDARD_ALPHAS = [1, 0.75, 0.5, 0.35, 1.3, 1.4, 0.25];

export function inferMobileNetV2(state: Map<string, Tensor>, source: string): InferredV2 {
  const shape = (name: string): readonly number[] => {
    const t = state.get(name);
    if (!t) throw new WeightsError(`${source}: cannot infer the architecture: no tensor ${name} (is this a torchvision MobileNetV2 state dict?)`, [name]);
    return t.shape;
  };
  const stem = shape('features.0.0.weight');
  if (stem.length !== 4) throw new WeightsError(`${source}: features.0.0.weight should be a conv kernel [Cout, Cin, 3, 3], got ${formatShape(stem)}`);
  const depth = MOBILENET_V2_BLOCKS.reduce((s, [, , n]) => s + n, 0);
  const channels = [stem[0]];
  for (let i = 1; i <= depth; i++) {
    // the projection conv is conv.1 without expansion (block 1), conv.2 with it
    const name = state.has(`features.${i}.conv.2.weight`) ? `features.${i}.conv.2.weight` : `features.${i}.conv.1.weight`;
    channels.push(shape(name)[0]);
  }
  channels.push(shape(`features.${depth + 1}.0.weight`)[0]);
  const matches: number[] = [];
  for (let k = 1; k <= 400; k++) {
    const alpha = k / 100;
    const want = mobilenetV2Channels(alpha);
    if (want.every((c, i) => c === channels[i])) matches.push(alpha);
  }
  if (!matches.length) {
    throw new WeightsError(`${source}: channel counts [${channels.join(', ')}] match no width multiplier α of MobileNetV2's Table 2 (a custom blocks table? pass --alpha and the architecture explicitly)`);
  }
  const alpha = STANDARD_ALPHAS.find((a) => matches.includes(a)) ?? matches[0];
  const classifier = state.get('classifier.1.weight');
  return {
    alpha,
    classes: classifier ? classifier.shape[0] : null,
    inputChannels: stem[1],
    alphaRange: [matches[0], matches[matches.length - 1]],
  };
}
