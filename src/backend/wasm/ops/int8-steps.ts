// The engine's phases of the steps that touch int8 tensors: the int8 plan steps (quantize, dequantize, requantize, qadd,
// pools, qconv, qdense, qchain) and the steps without a q-form on int8 data (clamp, pad, concat, max pools).

import type { ConcatStep, PadStep, Step } from '../../../graph/plan.js';
import { clampRange } from '../../../quant/qparams.js';
import { emitDequantize, emitInt8Clamp, emitQuantize } from '../kernels/int8-elementwise.js';
import { emitInt8AvgPool, emitInt8MaxPool } from '../kernels/int8-pool.js';
import type { Kernel } from '../runtime.js';
import type { Work } from '../threads-work.js';
import { tensorPlaces } from './phase.js';
import type { Compiler, Phase, SerialRun } from './phase.js';

/** Whether `step` reads or writes an int8 tensor (or is an int8 plan step): `compileInt8Step` compiles it. */
export function touchesInt8(step: Step, c: Compiler): boolean {
  return [...step.inputs, step.output].some((t) => c.plan.tensors[t].quant !== undefined);
}

/** Bytes per element of plan tensor `t`: 1 for int8, 4 for float32. */
function elementBytes(c: Compiler, t: number): number {
  return c.plan.tensors[t].quant ? 1 : 4;
}

/** Work for a kernel `(x, y, images)` split by whole images across threads. */
function imageWork(c: Compiler, kernel: string, step: Step): Work {
  const [input, output] = [step.inputs[0], step.output];
  const perImage = (t: number): number => c.plan.tensors[t].size * elementBytes(c, t);
  return { kind: 'split', grain: 1, calls: [{ kernel, args: [{ pointer: 0, perUnit: perImage(input) }, { pointer: 1, perUnit: perImage(output) }], unitScale: 1 }] };
}

/** The phases of a step that touches int8 tensors, or null where the engine has no kernel for it (the caller falls back). */
export function compileInt8Step(step: Step, index: number, c: Compiler): Phase[] | null {
  const name = `step${index}`;
  const tensors = [step.inputs[0], step.output] as const;
  const input = c.plan.tensors[step.inputs[0]];
  const output = c.plan.tensors[step.output];
  const phase = (work: Work): Phase[] => [{ step: index, places: tensorPlaces(step), tensors, work, serial: null, native: true }];
  const serial = (run: (k: Record<string, Kernel>) => SerialRun): Phase[] => [{ step: index, places: tensorPlaces(step), tensors, work: null, serial: run, native: true }];
  switch (step.op) {
    case 'quantize':
      emitQuantize(c.mod, name, { size: input.size, params: output.quant! });
      return phase(imageWork(c, name, step));
    case 'dequantize':
      emitDequantize(c.mod, name, { size: input.size, params: input.quant! });
      return phase(imageWork(c, name, step));
    case 'clamp':
      // equal parameters in and out: the clamp's reals map to one int8 interval
      emitInt8Clamp(c.mod, name, { size: input.size, range: clampRange(step.clamp, input.quant!) });
      return phase(imageWork(c, name, step));
    case 'maxPool':
    case 'globalMaxPool':
    case 'qavgPool': {
      const [height, width, channels] = input.shape;
      const pool = 'pool' in step ? step.pool : null;
      if (pool?.dilations.some((d) => d !== 1)) return null;
      const window = pool ? { kernel: pool.kernel, strides: pool.strides, padding: pool.padding } : { kernel: [height, width] as const, strides: [1, 1] as const, padding: [0, 0, 0, 0] as const };
      const spec = { height, width, channels, ...window, range: step.op === 'qavgPool' ? step.range : undefined };
      if (step.op === 'qavgPool') emitInt8AvgPool(c.mod, name, spec);
      else emitInt8MaxPool(c.mod, name, spec);
      return phase(imageWork(c, name, step));
    }
    case 'pad':
      return serial(() => padCopies(step, c));
    case 'concat':
      return serial(() => concatCopies(step, c));
    default:
      return null;
  }
}

/** Bytes of the engine's linear memory, as a view made per run (the memory may have grown since the last). */
function bytesOf(c: Compiler): Uint8Array {
  return new Uint8Array(c.runtime.memory.buffer);
}

/**
 * A pad as byte copies on the calling thread (memory-bound): the output filled with the tensor's zero (the int8 zero point,
 * or float 0), then each input row copied into its place.
 */
function padCopies(step: PadStep, c: Compiler): SerialRun {
  const [h, w, ch] = c.plan.tensors[step.inputs[0]].shape;
  const [top, , left] = step.padding;
  const [oh, ow] = c.plan.tensors[step.output].shape;
  const bytes = elementBytes(c, step.output);
  const fill = c.plan.tensors[step.output].quant?.zeroPoint ?? 0;
  const rowBytes = w * ch * bytes;
  const outRowBytes = ow * ch * bytes;
  return (at, batch) => {
    const memory = bytesOf(c);
    const [x, y] = [at(step.inputs[0]), at(step.output)];
    memory.fill(fill & 0xff, y, y + batch * oh * outRowBytes);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < h; r++) {
        const from = x + (b * h + r) * rowBytes;
        memory.copyWithin(y + (b * oh + top + r) * outRowBytes + left * ch * bytes, from, from + rowBytes);
      }
    }
  };
}

/** A concatenation of int8 tensors (equal parameters) as byte copies of each input's runs into its slice of the output's. */
function concatCopies(step: ConcatStep, c: Compiler): SerialRun {
  const total = step.blocks.reduce((a, b) => a + b, 0);
  const outer = c.plan.tensors[step.output].size / total;
  return (at, batch) => {
    const memory = bytesOf(c);
    const y = at(step.output);
    let offset = 0;
    step.blocks.forEach((block, k) => {
      const x = at(step.inputs[k]);
      for (let i = 0; i < batch * outer; i++) memory.copyWithin(y + i * total + offset, x + i * block, x + (i + 1) * block);
      offset += block;
    });
  };
}
