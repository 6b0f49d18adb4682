// `mobilenet summary`: the per-layer cost table of an architecture, or its JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatSummary } from '../cost/format.js';
import { buildModel } from '../models/registry.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse } from './args.js';
import type { CommandIO } from './io.js';

export const SUMMARY_HELP = `mobilenet summary [architecture flags] [--json]
Per-layer output shapes, parameters and multiply-adds, with totals: MACs, parameters counted three ways
(weights: TF-slim; trainable: torchvision; total: Keras) and activation memory.
${ARCHITECTURE_HELP}
  --json                             machine-readable output`;

export async function summaryCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { ...ARCHITECTURE_FLAGS, json: { type: 'boolean' } }, 'summary');
  const { arch, options } = architectureFlags(values);
  const model = buildModel(arch, options);
  const cost = modelCost(model);
  if (values.json) io.out(JSON.stringify({ arch, options: model.metadata, ...cost }, null, 2));
  else io.out(formatSummary(cost));
}
