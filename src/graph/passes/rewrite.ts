// What the plan passes share: a copy of a plan to rewrite step by step (the pass's input stays as it was), who
// writes and who reads each tensor, and fusing a step into the one that made its input.

import type { Plan, PlanTensor, Step } from '../plan.js';

/** Readers of each tensor: the steps that read it (once per input slot) and the plan's outputs (once each). */
export function readerCounts(plan: Plan): Map<number, number> {
  const readers = new Map<number, number>();
  for (const t of [...plan.steps.flatMap((s) => s.inputs), ...plan.outputs]) readers.set(t, (readers.get(t) ?? 0) + 1);
  return readers;
}

export class PlanRewrite {
  private readonly steps: Step[];
  private readonly tensors: PlanTensor[];
  private outputs: number[];
  private readonly readers: Map<number, number>;
  private readonly producer = new Map<number, Step>();
  /** Tensors of fused steps, now one with their producer's output. */
  private readonly merged = new Set<number>();
  private readonly visited = new Set<Step>();

  constructor(private readonly plan: Plan) {
    this.steps = [...plan.steps];
    this.tensors = plan.tensors.map((t) => ({ ...t }));
    this.outputs = plan.outputs;
    this.readers = readerCounts(plan);
    for (const s of this.steps) this.producer.set(s.output, s);
  }

  /**
   * Calls `visit` on each step of kind `op` in plan order, once, as the steps are when it gets there (an earlier
   * fusion may have rewritten a later step); steps that `replace` makes are not visited again.
   */
  forEach<Op extends Step['op']>(op: Op, visit: (step: Extract<Step, { op: Op }>) => void): void {
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i];
      if (s.op !== op || this.visited.has(s)) continue;
      this.visited.add(s);
      visit(s as Extract<Step, { op: Op }>);
      i = -1; // steps before this one may have gone: start again, skipping those visited
    }
  }

  /** The step that writes `tensor`, if `tensor` has that one reader only and may be rewritten. */
  soleProducer(tensor: number): Step | undefined {
    return this.readers.get(tensor) === 1 ? this.producer.get(tensor) : undefined;
  }

  shapeOf(tensor: number): number[] {
    return this.tensors[tensor].shape;
  }

  /** Whether `tensor` exists before `step` runs. */
  availableBefore(tensor: number, step: Step): boolean {
    const made = this.producer.get(tensor);
    return made === undefined || this.steps.indexOf(made) < this.steps.indexOf(step);
  }

  /** Puts `next` where `step` was (a rewrite makes a new step; the pass's input keeps the old one). */
  replace(step: Step, next: Step): void {
    this.steps[this.steps.indexOf(step)] = next;
    this.producer.set(next.output, next);
    this.visited.add(next);
  }

  /** Drops `step`, whose output no step reads any more (its tensor stays in the list: tensor numbers do not move). */
  remove(step: Step): void {
    this.steps.splice(this.steps.indexOf(step), 1);
    this.producer.delete(step.output);
    for (const t of step.inputs) this.readers.set(t, this.readers.get(t)! - 1);
  }

  /**
   * Fuses `step` into `into` (already in the plan, now doing both): `step` is dropped, its output becomes `into`'s,
   * which takes its name (and int8 parameters), and whatever read it reads `into`'s output.
   */
  fuse(step: Step, into: Step): void {
    const [from, to] = [step.output, into.output];
    this.steps.splice(this.steps.indexOf(step), 1);
    this.producer.delete(from);
    this.tensors[to].name = this.tensors[from].name;
    // the merged tensor holds what `step` wrote: an int8 sum has the sum's parameters, not its operand's
    if (this.tensors[from].quant) this.tensors[to].quant = this.tensors[from].quant;
    this.readers.set(to, this.readers.get(from) ?? 0);
    this.merged.add(from);
    const rename = (t: number): number => (t === from ? to : t);
    for (const [i, s] of this.steps.entries()) {
      if (!s.inputs.includes(from)) continue;
      const next: Step = { ...s, inputs: s.inputs.map(rename) };
      if ((next.op === 'conv' || next.op === 'qconv') && next.residual === from) next.residual = to;
      this.steps[i] = next;
      this.producer.set(next.output, next);
    }
    this.outputs = this.outputs.map(rename);
  }

  /** The rewritten plan: the tensors of fused steps gone, the others numbered in their order as before. */
  result(): Plan {
    if (this.merged.size === 0) return { ...this.plan, steps: this.steps, outputs: this.outputs };
    const ids = new Map<number, number>();
    const tensors = this.tensors.filter((t) => !this.merged.has(t.id)).map((t, id) => (ids.set(t.id, id), { ...t, id }));
    const id = (t: number): number => ids.get(t)!;
    const renumber = <S extends Step>(s: S): S => {
      const next = { ...s, inputs: s.inputs.map(id), output: id(s.output) };
      if (next.op === 'conv' || next.op === 'qconv') next.residual = next.residual === null ? null : id(next.residual);
      if (next.op === 'chain' || next.op === 'qchain') next.stages = next.stages.map(renumber) as typeof next.stages;
      return next;
    };
    return { tensors, steps: this.steps.map(renumber), input: id(this.plan.input), outputs: this.outputs.map(id) };
  }
}
