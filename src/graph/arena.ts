// Activation memory planning for a Plan: every tensor (and each step's scratch) gets an offset in one
// arena, reusing memory between tensors whose lifetimes do not overlap ("greedy by size", as TFLite does).

import type { Plan } from './plan.js';

/** A buffer to place: its size and the first and last step during which it must exist. */
export interface ArenaRequest {
  key: string;
  floats: number;
  first: number;
  last: number;
}

export interface ArenaLayout {
  /** Offset in floats of each request, by key. */
  offsets: Map<string, number>;
  /** Arena size in floats. */
  floats: number;
}

/** Offsets are multiples of this many floats (64 bytes: a cache line, and v128-aligned). */
export const ARENA_ALIGN_FLOATS = 16;

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN_FLOATS) * ARENA_ALIGN_FLOATS;

/** Places the largest buffers first, each at the lowest offset free of every buffer alive at the same time. */
export function placeBuffers(requests: readonly ArenaRequest[]): ArenaLayout {
  const placed: (ArenaRequest & { offset: number })[] = [];
  const order = [...requests].sort((a, b) => b.floats - a.floats || a.first - b.first);
  let floats = 0;
  for (const r of order) {
    const size = align(r.floats);
    const busy = placed.filter((p) => p.first <= r.last && r.first <= p.last).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (p.offset - offset >= size) break;
      offset = Math.max(offset, p.offset + align(p.floats));
    }
    placed.push({ ...r, offset });
    floats = Math.max(floats, offset + size);
  }
  return { offsets: new Map(placed.map((p) => [p.key, p.offset])), floats };
}

/**
 * A tensor that lives inside another, as a concatenation's input written straight into its slice: the other, the
 * slice's first float in each of its runs (a pixel's channels), and the floats from one run to the next.
 */
export interface ChannelSlice {
  tensor: number;
  offset: number;
  stride: number;
}

/**
 * The buffers a plan needs for `batch` images: every tensor from the step that writes it to the last step
 * that reads it (the input from before the first step, the outputs to after the last), and `scratch(step)`
 * floats for each step that asks for them, alive during that step only. A tensor in `slices` has no buffer of
 * its own: the tensor it is a slice of lives for both lifetimes.
 */
export function planRequests(plan: Plan, batch: number, scratch: (stepIndex: number) => number = () => 0, slices: ReadonlyMap<number, ChannelSlice> = new Map()): ArenaRequest[] {
  const first = new Map<number, number>([[plan.input, -1]]);
  const last = new Map<number, number>(plan.outputs.map((t) => [t, plan.steps.length]));
  plan.steps.forEach((s, i) => {
    if (!first.has(s.output)) first.set(s.output, i);
    for (const t of s.inputs) last.set(t, Math.max(last.get(t) ?? i, i));
  });
  for (const [t, { tensor }] of slices) {
    first.set(tensor, Math.min(first.get(tensor)!, first.get(t)!));
    last.set(tensor, Math.max(last.get(tensor)!, last.get(t)!));
    first.delete(t);
  }
  const requests: ArenaRequest[] = [...first].map(([t, f]) => ({ key: `t${t}`, floats: plan.tensors[t].size * batch, first: f, last: last.get(t) ?? f }));
  plan.steps.forEach((_, i) => {
    const floats = scratch(i);
    if (floats > 0) requests.push({ key: `s${i}`, floats, first: i, last: i });
  });
  return requests;
}
