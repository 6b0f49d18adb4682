// Human-readable reports of the cost model: a Keras-style per-layer summary with MACs, and the totals
// (parameters in three conventions, activation memory plain and per the paper's Table 3).

import type { ModelCost } from './model-cost.js';

export function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Lays out rows as a text table; columns after the first are right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = '─'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [line(header), rule, ...rows.map(line), rule].join('\n');
}

export function formatSummary(c: ModelCost): string {
  const rows = c.layers.map((l) => [
    `${l.name} (${l.kind})`,
    `(N, ${l.outputShape.join(', ')})`,
    thousands(l.params.total),
    thousands(l.macs),
  ]);
  const lines = [
    `Model: ${c.model}   input (N, ${c.inputShape.join(', ')}), NHWC`,
    table(['Layer (type)', 'Output shape', 'Params', 'MACs'], rows),
    `Multiply-adds:        ${thousands(c.macs)} per image`,
    `Params (weights):     ${thousands(c.params.weights)}   conv + dense weights and biases (TF-slim table)`,
    `Params (trainable):   ${thousands(c.params.trainable)}   + BN γ, β (torchvision)`,
    `Params (total):       ${thousands(c.params.total)}   + BN moving mean, variance (Keras count_params)`,
    `Activation memory:    ${formatBytes(c.activationBytes)} peak, float32, layer by layer, batch 1 (at ${c.memory.peakAt})`,
    `Table 3 measure (16-bit, largest input + output materialised per resolution; max ${formatBytes(c.memory.table3MaxBytes)}):`,
    ...c.memory.table3.map((r) => `  ${r.resolution.padEnd(9)} ${formatBytes(r.bytes).padStart(10)}  (${r.operator})`),
  ];
  return lines.join('\n');
}
