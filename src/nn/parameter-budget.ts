// A cap on the parameters a model build may allocate, for readers that build the network a file describes:
// metadata or a topology cannot make us allocate more weights than the file itself holds.

import { FormatError } from '../errors.js';
import type { MobileNetError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** The most values one parameter tensor may hold (1 GiB of float32): far beyond any MobileNet, below any crash. */
export const MAX_PARAMETER_ELEMENTS = 2 ** 28;

interface Budget {
  left: number;
  fail: () => MobileNetError;
  outer: Budget | null;
}

let budget: Budget | null = null;

/**
 * Runs `build` (synchronous, so no other build can interleave) with at most `elements` parameter values
 * allocated by the layers it connects; one more throws `fail()` before that parameter is allocated.
 * Budgets nest: a build inside another is charged to both.
 */
export function withParameterBudget<T>(elements: number, fail: () => MobileNetError, build: () => T): T {
  const outer = budget;
  budget = { left: elements, fail, outer };
  try {
    return build();
  } finally {
    budget = outer;
  }
}

/** Called by a layer before it allocates `elements` parameter values. */
export function reserveParameters(elements: number): void {
  for (let b = budget; b !== null; b = b.outer) {
    b.left -= elements;
    if (b.left < 0) throw b.fail();
  }
}

/**
 * Slack over the values a file holds: a file missing a few tensors still builds, so that the loader can name
 * them (a WeightsError), and Keras layers may store fewer weights than ours allocate (a BatchNormalization
 * without `scale` and `center` stores 2 of its 4 vectors). A lying architecture needs far more than this.
 */
const SLACK_FACTOR = 2;
const SLACK_ELEMENTS = 65_536;

/** Builds the network a file describes, allocating no more parameters than its `tensors` can account for. */
export function buildInBudget<T>(tensors: Map<string, Tensor>, source: string, build: () => T): T {
  const held = [...tensors.values()].reduce((n, t) => n + t.size, 0);
  return withParameterBudget(SLACK_FACTOR * held + SLACK_ELEMENTS, () => new FormatError(`${source}: the architecture the file describes has far more parameters than the ${held} values it holds`), build);
}
