// Element-wise kernels over flat float arrays, one shape-free module: clamps (ReLU, ReLU6), their backward
// masks, add and multiply. Counts are in whole vectors; callers pad buffers to a multiple of 4 floats.

import type { FunctionBuilder, Local, ModuleBuilder } from '../assembler.js';
import { V128, advance, repeatWhile } from './common.js';

/** Runs `body` over `vectors` vectors, advancing each pointer in `pointers` by one vector per step. */
function vectorLoop(fn: FunctionBuilder, vectors: Local, pointers: Local[], body: () => void): void {
  repeatWhile(fn, vectors, () => {
    body();
    for (const p of pointers) advance(fn, p, V128);
  });
}

/**
 * Emits into `mod` (byte pointers, counts in vectors of 4 floats):
 * `relu(x, y, n)`, `relu6(x, y, n)`: y = clamp(x) (NaN passes, as the reference clip);
 * `reluBackward(dy, y, dx, n)`, `relu6Backward(dy, y, dx, n)`: dx = dy where 0 < y < ∞ (or 6), else 0;
 * `add(a, b, out, n)`, `mul(a, b, out, n)`.
 */
export function emitElementwiseKernels(mod: ModuleBuilder): void {
  for (const [name, hi] of [['relu', Infinity], ['relu6', 6]] as const) {
    mod.function(name, ['i32', 'i32', 'i32'], [], (fn) => {
      const [x, y, n] = fn.params as [Local, Local, Local];
      const zero = fn.local('v128');
      const top = fn.local('v128');
      fn.f32x4.const(0).set(zero);
      fn.f32x4.const(hi).set(top);
      vectorLoop(fn, n, [x, y], () => {
        fn.get(y).get(x).v128.load(0).get(zero).f32x4.pmax();
        if (hi < Infinity) fn.get(top).f32x4.pmin();
        fn.v128.store(0);
      });
    });
    mod.function(`${name}Backward`, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
      const [dy, y, dx, n] = fn.params as [Local, Local, Local, Local];
      const zero = fn.local('v128');
      const top = fn.local('v128');
      const out = fn.local('v128');
      fn.f32x4.const(0).set(zero);
      fn.f32x4.const(hi).set(top);
      vectorLoop(fn, n, [dy, y, dx], () => {
        // mask = 0 < y < hi (hi = ∞ for ReLU): NaN compares false, so no gradient flows through NaN or ∞, as in the reference
        fn.get(y).v128.load(0).set(out);
        fn.get(out).get(zero).f32x4.gt();
        fn.get(out).get(top).f32x4.lt().v128.and();
        fn.get(dy).v128.load(0).v128.and().set(out);
        fn.get(dx).get(out).v128.store(0);
      });
    });
  }
  for (const [name, op] of [['add', 'add'], ['mul', 'mul']] as const) {
    mod.function(name, ['i32', 'i32', 'i32', 'i32'], [], (fn) => {
      const [a, b, out, n] = fn.params as [Local, Local, Local, Local];
      vectorLoop(fn, n, [a, b, out], () => {
        fn.get(out).get(a).v128.load(0).get(b).v128.load(0);
        fn.f32x4[op]();
        fn.v128.store(0);
      });
    });
  }
}
