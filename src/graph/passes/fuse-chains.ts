// Pass: each inverted residual — [expand 1×1] → depthwise → project 1×1 (+ the block's input) — becomes one chain
// step that engines may stream row by row (MobileNetV2 §5.1), the stem joining the first; only chains `chainRoles` takes.

import { MobileNetError } from '../../errors.js';
import { type ConvKind, convKind } from '../../ops/conv-kind.js';
import { chainRoles } from '../chain-stages.js';
import type { ConvStep, Plan, QConvStep, Step } from '../plan.js';
import { readerCounts } from './rewrite.js';

/** What a chain step holds besides its stages. */
export interface ChainFields {
  layers: string[];
  inputs: number[];
  output: number;
}

export function fuseChains(plan: Plan): Plan {
  return fuseConvChains<ConvStep>(plan, 'conv', plan.input, (stages, fields) => ({ op: 'chain', ...fields, stages }));
}

/**
 * Finds [expand 1×1]? → depthwise → project 1×1 sequences of `op` steps (float or int8 convolutions) whose
 * intermediates have one reader and whose residual (if any) is the chain's input, and merges each into the step
 * `chain` makes; a standard conv reading `stemInput` and feeding only a residual-free chain joins it as its first
 * stage (the paper's stem trick).
 */
export function fuseConvChains<S extends ConvStep | QConvStep>(plan: Plan, op: S['op'], stemInput: number, chain: (stages: S[], fields: ChainFields) => Step): Plan {
  const isConv = (s: Step | undefined, kind: ConvKind): s is S => s?.op === op && convKind(s.kernelShape, s.conv) === kind;
  const isPointwise = (s: Step | undefined): s is S => isConv(s, 'pointwise');
  const isDepthwise = (s: Step | undefined): s is S => isConv(s, 'depthwise');
  const isStandard = (s: Step | undefined): s is S => isConv(s, 'standard');
  const readers = readerCounts(plan);
  const feeds = (a: Step, b: Step): boolean => b.inputs[0] === a.output && readers.get(a.output) === 1;
  const steps: Step[] = [];
  for (let i = 0; i < plan.steps.length; i++) {
    const s = plan.steps;
    let stages: S[] | null = null;
    if (isPointwise(s[i]) && isDepthwise(s[i + 1]) && isPointwise(s[i + 2]) && feeds(s[i], s[i + 1]) && feeds(s[i + 1], s[i + 2])) stages = [s[i], s[i + 1], s[i + 2]] as S[];
    else if (isDepthwise(s[i]) && isPointwise(s[i + 1]) && feeds(s[i], s[i + 1])) stages = [s[i], s[i + 1]] as S[];
    const last = stages?.[stages.length - 1];
    if (!stages || !last || stages.slice(0, -1).some((st) => st.residual !== null) || (last.residual !== null && last.residual !== stages[0].inputs[0]) || !isChain(stages, last.residual !== null)) {
      steps.push(s[i]);
      continue;
    }
    const before = steps[steps.length - 1];
    if (isStandard(before) && before.inputs[0] === stemInput && before.residual === null && last.residual === null && feeds(before, stages[0]) && isChain([before, ...stages], false)) {
      steps.pop();
      stages.unshift(before);
    }
    steps.push(chain(stages, { layers: stages.flatMap((st) => st.layers), inputs: [...stages[0].inputs.slice(0, 1), ...(last.residual === null ? [] : [last.residual])], output: last.output }));
    i += stages.length - (stages[0] === before ? 2 : 1);
  }
  return { ...plan, steps };
}

/** Whether `stages` make a chain the row kernels run (the rule is theirs: `chainRoles`). */
function isChain(stages: readonly (ConvStep | QConvStep)[], residual: boolean): boolean {
  try {
    chainRoles(stages, residual);
    return true;
  } catch (e) {
    if (e instanceof MobileNetError) return false;
    throw e;
  }
}
