// `mobilenet summary`: the per-layer cost table of an architecture, or its JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatBytes, formatSummary } from '../cost/format.js';
import { lowerModel } from '../graph/lower.js';
import type { Model } from '../graph/model.js';
import { planChains, planMemory } from '../backend/wasm/memory-plan.js';
import { buildModel } from '../models/registry.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse } from './args.js';
import type { CommandIO } from './io.js';

export const SUMMARY_HELP = `mobilenet summary [architecture flags] [--json]
Per-layer output shapes, parameters and multiply-adds, with totals: MACs, parameters counted three ways
(weights: TF-slim; trainable: torchvision; total: Keras), activation memory, and the wasm engine's
planned arena with and without row-streamed blocks (JSON: plannedArenaBytes {fused, unfused}).
${ARCHITECTURE_HELP}
  --json                             machine-readable output`;

export async function summaryCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { ...ARCHITECTURE_FLAGS, json: { type: 'boolean' } }, 'summary');
  const { arch, options } = architectureFlags(values);
  const model = buildModel(arch, options);
  const cost = modelCost(model);
  const plannedArenaBytes = { fused: plannedBytes(model, true), unfused: plannedBytes(model, false) };
  if (values.json) io.out(JSON.stringify({ arch, options: model.metadata, ...cost, plannedArenaBytes }, null, 2));
  else {
    io.out(formatSummary(cost));
    io.out(`Planned arena (wasm engine, batch 1, float32): ${formatBytes(plannedArenaBytes.fused)} with row-streamed blocks, ${formatBytes(plannedArenaBytes.unfused)} without`);
  }
}

/** Activation memory the wasm engine plans for one image, BN folded, blocks streamed or not. */
function plannedBytes(model: Model, fuseBlocks: boolean): number {
  const plan = lowerModel(model, { fuseBlocks });
  return planMemory(plan, planChains(plan), 1).totalBytes;
}
