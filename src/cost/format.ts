// Human-readable reports of the cost model: a Keras-style per-layer summary with MACs, and the totals
// (parameters in three conventions, activation memory plain and per the paper's Table 3).

import type { ConvWindow, ModelCost } from './model-cost.js';

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

/** A pair as one number when both agree, else `h×w`. */
const pairText = ([h, w]: readonly [number, number]): string => (h === w ? `${h}` : `${h}×${w}`);

/** `3×3 s2 r1`, `3×3 r2`, `1×1`: the kernel, a stride other than 1, and the atrous rate of any kernel wider than 1×1. */
export function formatWindow(w: ConvWindow | null): string {
  if (w === null) return '';
  const parts = [`${w.kernel[0]}×${w.kernel[1]}`];
  if (w.strides.some((s) => s !== 1)) parts.push(`s${pairText(w.strides)}`);
  if (w.kernel.some((k) => k > 1)) parts.push(`r${pairText(w.rates)}`);
  return parts.join(' ');
}

export function formatSummary(c: ModelCost): string {
  const rows = c.layers.map((l) => [
    `${l.name} (${l.kind})`,
    `(N, ${l.outputShape.join(', ')})`,
    formatWindow(l.window),
    thousands(l.params.total),
    thousands(l.macs),
  ]);
  const lines = [
    `Model: ${c.model}   input (N, ${c.inputShape.join(', ')}), NHWC`,
    table(['Layer (type)', 'Output shape', 'Window', 'Params', 'MACs'], rows),
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
