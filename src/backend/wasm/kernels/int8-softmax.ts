// TFLite's int8 softmax (src/quant/int8-softmax.ts) in scalar wasm, row by row: the row's maximum, its table terms summed in
// float32, each term times 1 / (sum · sy) rounded half away from zero, plus the zero point, saturated to int8.

import type { Local, ModuleBuilder } from '../assembler.js';
import type { QParams } from '../../../quant/qparams.js';
import { checkPositiveInts, repeatWhile } from './common.js';

/** Emits `name(x, y, rows, table)` (byte pointers; `table`: the step's 256 float32 terms) over rows of `channels` int8 values. */
export function emitInt8Softmax(mod: ModuleBuilder, name: string, spec: { channels: number; out: QParams }): void {
  const { channels, out } = spec;
  checkPositiveInts('int8 softmax', { channels });
  mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
    const [x, y, rows, table] = fn.params as [Local, Local, Local, Local];
    const j = fn.local('i32');
    const max = fn.local('i32');
    const terms = fn.local('i32');
    const sum = fn.local('f32');
    const inverse = fn.local('f32');
    const p = fn.local('f32');
    const whole = fn.local('f32');
    const q = fn.local('i32');
    /** Runs `body` for j = 0 … channels − 1. */
    const eachChannel = (body: () => void): void => {
      fn.i32.const(0).set(j);
      fn.loop((top) => {
        body();
        fn.get(j).i32.const(1).i32.add().tee(j).i32.const(channels).i32.lt_s().brIf(top);
      });
    };
    /** Pushes the table term of x[j]: table[255 − max + x[j]]. */
    const term = (): void => {
      fn.get(x).get(j).i32.add().i32.load8_s().i32.const(2).i32.shl().get(terms).i32.add().f32.load();
    };
    repeatWhile(fn, rows, () => {
      fn.i32.const(-128).set(max);
      eachChannel(() => {
        fn.get(x).get(j).i32.add().i32.load8_s().tee(q).get(max).get(q).get(max).i32.gt_s().select().set(max);
      });
      fn.get(table).i32.const(255).get(max).i32.sub().i32.const(2).i32.shl().i32.add().set(terms);
      fn.f32.const(0).set(sum);
      eachChannel(() => {
        fn.get(sum);
        term();
        fn.f32.add().set(sum);
      });
      fn.f32.const(1).get(sum).f32.const(out.scale).f32.mul().f32.div().set(inverse);
      eachChannel(() => {
        // p ≥ 0: half away from zero is ⌊p⌋ + (p − ⌊p⌋ ≥ ½), exact in float32
        term();
        fn.get(inverse).f32.mul().tee(p).f32.trunc().set(whole);
        fn.get(whole).i32.trunc_f32_s().get(p).get(whole).f32.sub().f32.const(0.5).f32.ge().i32.add().i32.const(out.zeroPoint).i32.add().set(q);
        fn.get(y).get(j).i32.add();
        fn.i32.const(-128).get(q).get(q).i32.const(-128).i32.lt_s().select().set(q);
        fn.i32.const(127).get(q).get(q).i32.const(127).i32.gt_s().select();
        fn.i32.store8();
      });
      fn.get(x).i32.const(channels).i32.add().set(x);
      fn.get(y).i32.const(channels).i32.add().set(y);
    });
  });
}
