// Learning-rate schedules as pure functions of where training stands: constant, exponential per epoch
// (the MobileNet papers' 0.98), step decay, cosine to a floor, and a linear warm-up that wraps any of them.

import { ConfigError } from '../errors.js';

/**
 * The learning rate of the optimizer step about to be taken. `step` counts steps taken before it over the
 * whole run (0 for the first), `epoch` is the 0-based epoch it belongs to, `stepsPerEpoch` the steps in an
 * epoch. Per-epoch (staircase) schedules read `epoch`, so the rate changes exactly where the trainer's
 * epochs begin; smooth ones read the fractional epoch `step / stepsPerEpoch`.
 */
export type LearningRateSchedule = (step: number, epoch: number, stepsPerEpoch: number) => number;

export function constantSchedule(lr: number): LearningRateSchedule {
  positive(lr, 'lr');
  return () => lr;
}

export interface ExponentialDecayOptions {
  lr: number;
  /** Factor per `everyEpochs` epochs: 0.98 per epoch in MobileNetV2. */
  gamma: number;
  /** Default 1. */
  everyEpochs?: number;
  /** Decay in whole steps at epoch boundaries (TF's staircase) instead of continuously through each epoch. */
  staircase?: boolean;
}

/** lr·γ^(e / everyEpochs): e is the fractional epoch, or, with `staircase`, ⌊epoch / everyEpochs⌋ replaces the exponent. */
export function exponentialDecay(o: ExponentialDecayOptions): LearningRateSchedule {
  positive(o.lr, 'exponentialDecay: lr');
  factor(o.gamma, 'exponentialDecay: gamma');
  const every = o.everyEpochs ?? 1;
  positive(every, 'exponentialDecay: everyEpochs');
  if (o.staircase) return (_step, epoch) => o.lr * o.gamma ** Math.floor(epoch / every);
  return (step, _epoch, stepsPerEpoch) => o.lr * o.gamma ** (progress(step, stepsPerEpoch) / every);
}

export interface StepDecayOptions {
  lr: number;
  /** Factor at each drop, e.g. 0.1. */
  gamma: number;
  /** Drop every this many epochs… */
  everyEpochs?: number;
  /** …or at these epochs (the rate of epoch `m` is already reduced). */
  milestones?: readonly number[];
}

/** lr·γ^(number of drops so far), dropping at epoch boundaries. */
export function stepDecay(o: StepDecayOptions): LearningRateSchedule {
  positive(o.lr, 'stepDecay: lr');
  factor(o.gamma, 'stepDecay: gamma');
  if ((o.everyEpochs === undefined) === (o.milestones === undefined)) throw new ConfigError('stepDecay: give exactly one of everyEpochs and milestones');
  if (o.everyEpochs !== undefined) {
    const every = o.everyEpochs;
    if (!(Number.isInteger(every) && every >= 1)) throw new ConfigError(`stepDecay: everyEpochs must be a positive integer, got ${every}`);
    return (_step, epoch) => o.lr * o.gamma ** Math.floor(epoch / every);
  }
  const milestones = [...o.milestones!];
  if (milestones.some((m, i) => !Number.isInteger(m) || m < 1 || (i > 0 && m <= milestones[i - 1]))) {
    throw new ConfigError(`stepDecay: milestones must be increasing positive integers, got [${milestones.join(', ')}]`);
  }
  return (_step, epoch) => o.lr * o.gamma ** milestones.filter((m) => epoch >= m).length;
}

export interface CosineDecayOptions {
  lr: number;
  /** Length of the decay; the rate stays at `floor` afterwards. */
  epochs: number;
  /** Final rate, default 0. */
  floor?: number;
}

/** floor + (lr − floor)·(1 + cos(π·e/epochs))/2 over the fractional epoch e, updated every step. */
export function cosineDecay(o: CosineDecayOptions): LearningRateSchedule {
  positive(o.lr, 'cosineDecay: lr');
  positive(o.epochs, 'cosineDecay: epochs');
  const floor = o.floor ?? 0;
  if (!(floor >= 0 && floor <= o.lr)) throw new ConfigError(`cosineDecay: floor must be in [0, lr], got ${floor}`);
  return (step, _epoch, stepsPerEpoch) => {
    const t = Math.min(progress(step, stepsPerEpoch) / o.epochs, 1);
    return floor + ((o.lr - floor) * (1 + Math.cos(Math.PI * t))) / 2;
  };
}

export interface WarmupOptions {
  /** Length of the warm-up in epochs (fractions allowed); rounded to whole steps. */
  epochs: number;
  /** Fraction of the schedule's rate the ramp starts from, default 0 (the first step then gets 1/warm-up steps of it). */
  startFactor?: number;
}

/**
 * Linear warm-up over `schedule`: during the first W = round(epochs·stepsPerEpoch) steps the rate is
 * schedule(...)·(s + (1 − s)·(step + 1)/W), reaching the schedule itself on step W − 1; afterwards it is the
 * schedule unchanged. The schedule keeps its own clock (it is not delayed by the warm-up).
 */
export function withWarmup(schedule: LearningRateSchedule, o: WarmupOptions): LearningRateSchedule {
  if (!(Number.isFinite(o.epochs) && o.epochs >= 0)) throw new ConfigError(`withWarmup: epochs must be a finite number ≥ 0, got ${o.epochs}`);
  const start = o.startFactor ?? 0;
  if (!(start >= 0 && start <= 1)) throw new ConfigError(`withWarmup: startFactor must be in [0, 1], got ${start}`);
  return (step, epoch, stepsPerEpoch) => {
    const lr = schedule(step, epoch, stepsPerEpoch);
    const warmupSteps = Math.round(o.epochs * checkStepsPerEpoch(stepsPerEpoch));
    if (step >= warmupSteps) return lr;
    return lr * (start + ((1 - start) * (step + 1)) / warmupSteps);
  };
}

function progress(step: number, stepsPerEpoch: number): number {
  return step / checkStepsPerEpoch(stepsPerEpoch);
}

function checkStepsPerEpoch(stepsPerEpoch: number): number {
  if (!(Number.isInteger(stepsPerEpoch) && stepsPerEpoch >= 1)) throw new ConfigError(`stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`);
  return stepsPerEpoch;
}

function positive(value: number, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) throw new ConfigError(`${what} must be a finite number > 0, got ${value}`);
}

function factor(value: number, what: string): void {
  if (!(value > 0 && value <= 1)) throw new ConfigError(`${what} must be in (0, 1], got ${value}`);
}
