// Activation memory, two ways: the peak of plain layer-by-layer float32 execution (every layer output
// materialised, freed after its last reader), and the MobileNetV2 paper's Table 3 measure (16-bit, per resolution).

import type { Model } from '../graph/model.js';
import { sizeOf } from '../tensor/tensor.js';
import type { GraphNode } from '../graph/symbolic.js';

/** One operator of the Table 3 measure: a block (or a lone layer) whose input and output must exist at once. */
export interface MaterialisedOperator {
  name: string;
  /** Spatial size of the operator's input, e.g. `112x112`. */
  resolution: string;
  inputShape: number[];
  outputShape: number[];
  /** (inputs + output) elements × 2 bytes; every input of a join such as a concatenation counts. */
  bytes: number;
}

export interface ActivationMemory {
  /** Peak bytes of layer-by-layer float32 execution, batch 1, input included (views such as Dropout cost nothing). */
  peakBytes: number;
  /** The layer whose execution hits the peak. */
  peakAt: string;
  /**
   * Table 3 measure: each block (an inverted residual with its expansion never whole, or a lone layer)
   * needs its input and output materialised; per input resolution, the largest such pair at 16-bit.
   * The stem is fused into the first block, as §5.1 allows.
   */
  table3: { resolution: string; operator: string; bytes: number }[];
  table3MaxBytes: number;
  operators: MaterialisedOperator[];
}

/** Layers that only re-label their input's memory (no copy, no new activation). */
const VIEW_KINDS: ReadonlySet<string> = new Set(['Dropout', 'Flatten', 'Reshape']);

function outputBytes(node: GraphNode, bytesPerValue: number): number {
  return VIEW_KINDS.has(node.layer.kind) ? 0 : bytesPerValue * sizeOf(node.output.shape);
}

export function activationMemory(model: Model): ActivationMemory {
  const { peakBytes, peakAt } = plainPeak(model.nodes);
  const operators = materialisedOperators(model.nodes);
  const byResolution = new Map<string, { resolution: string; operator: string; bytes: number }>();
  for (const op of operators) {
    const best = byResolution.get(op.resolution);
    if (!best || op.bytes > best.bytes) byResolution.set(op.resolution, { resolution: op.resolution, operator: op.name, bytes: op.bytes });
  }
  const table3 = [...byResolution.values()];
  return { peakBytes, peakAt, table3, table3MaxBytes: Math.max(0, ...table3.map((r) => r.bytes)), operators };
}

function plainPeak(nodes: readonly GraphNode[]): { peakBytes: number; peakAt: string } {
  const index = new Map(nodes.map((n, i) => [n.output, i]));
  const lastUse = nodes.map(() => -1);
  nodes.forEach((n, i) => n.inputs.forEach((t) => (lastUse[index.get(t)!] = i)));
  lastUse[nodes.length - 1] = nodes.length;
  let live = 0;
  let peakBytes = 0;
  let peakAt = '';
  nodes.forEach((n, i) => {
    live += outputBytes(n, 4);
    if (live > peakBytes) {
      peakBytes = live;
      peakAt = n.layer.name;
    }
    n.inputs.forEach((t) => {
      const j = index.get(t)!;
      if (lastUse[j] === i) live -= outputBytes(nodes[j], 4);
    });
  });
  return { peakBytes, peakAt };
}

/**
 * Groups consecutive layers with the same block tag into one operator (untagged layers stand alone),
 * merges the stem into the block after it, and returns each operator's input and output.
 */
function materialisedOperators(nodes: readonly GraphNode[]): MaterialisedOperator[] {
  const groups: GraphNode[][] = [];
  for (const node of nodes.slice(1)) {
    if (VIEW_KINDS.has(node.layer.kind)) continue;
    const last = groups[groups.length - 1];
    const tag = node.layer.block;
    if (last && tag !== undefined && last[0].layer.block === tag) last.push(node);
    else groups.push([node]);
  }
  // the stem conv's output feeds only the first block: compute both row by row, never holding it whole
  if (groups.length > 1 && groups[0][0].inputs[0] === nodes[0].output && groups[0][0].layer.block !== undefined && groups[1][0].layer.block !== undefined) {
    groups.splice(0, 2, [...groups[0], ...groups[1]]);
  }
  return groups.map((g) => {
    const inputShape = [...g[0].inputs[0].shape];
    const outputShape = [...g[g.length - 1].output.shape];
    const resolution = inputShape.length === 3 ? `${inputShape[0]}x${inputShape[1]}` : '1x1';
    return {
      name: g[0].layer.block ?? g[0].layer.name,
      resolution,
      inputShape,
      outputShape,
      bytes: 2 * (g[0].inputs.reduce((sum, t) => sum + sizeOf(t.shape), 0) + sizeOf(outputShape)),
    };
  });
}
