// Output stride by atrous convolution (TF slim's `mobilenet_base` rule): once the running stride reaches the
// target, later layers run at stride 1 and dilate by the accumulated rate, so deeper maps keep their size.

import { ConfigError } from '../errors.js';

export type OutputStride = 8 | 16 | 32;

export const OUTPUT_STRIDES: readonly OutputStride[] = [8, 16, 32];

export function checkOutputStride(value: unknown, arch: string): OutputStride {
  if (!(OUTPUT_STRIDES as readonly unknown[]).includes(value)) throw new ConfigError(`${arch}: outputStride must be 8, 16 or 32, got ${JSON.stringify(value)}`);
  return value as OutputStride;
}

/** How one layer runs: its stride and the dilation rate of its window. */
export interface AtrousStep {
  stride: number;
  rate: number;
}

/**
 * Per layer, in order, given each layer's nominal stride: while the running stride is below `outputStride` a
 * layer keeps its stride (rate 1); from the layer where it equals the target on, each layer runs at stride 1 with
 * the current rate, and the rate is multiplied by that layer's nominal stride. No target: every layer as given.
 */
export function atrousSchedule(nominalStrides: readonly number[], outputStride?: number): AtrousStep[] {
  let running = 1;
  let rate = 1;
  return nominalStrides.map((stride) => {
    if (outputStride !== undefined && running >= outputStride) {
      const step = { stride: 1, rate };
      rate *= stride;
      return step;
    }
    running *= stride;
    return { stride, rate: 1 };
  });
}

/** The network's total downsampling under a schedule. */
export function scheduleStride(schedule: readonly AtrousStep[]): number {
  return schedule.reduce((s, step) => s * step.stride, 1);
}
