// The ops backend's output arrays: fresh outside a scope; inside one, arrays of the same length that a finished
// scope gave back, so that a training step reuses the previous step's activations' memory.

import { ConfigError } from '../../../errors.js';

export class OutputRecycler {
  /** Op output arrays by length that finished scopes gave back. */
  private readonly free = new Map<number, Float32Array[]>();
  /** The outputs handed out in the current scope; null outside one. */
  private scoped: Float32Array[] | null = null;

  /** An op's output, every float of which the op writes: inside a scope, an array a finished scope gave back. */
  output(length: number): Float32Array {
    if (this.scoped === null) return new Float32Array(length);
    const out = this.free.get(length)?.pop() ?? new Float32Array(length);
    this.scoped.push(out);
    return out;
  }

  /** Runs the synchronous `body`, then takes back the outputs handed out inside it; nested scopes join the outermost. */
  scope<T>(body: () => T): T {
    if (this.scoped !== null) return body();
    const handed: Float32Array[] = [];
    this.scoped = handed;
    let result: T;
    try {
      result = body();
    } catch (e) {
      this.scoped = null;
      this.recycle(handed);
      throw e;
    }
    this.scoped = null;
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      // its outputs may still be in use: they are left to the garbage collector
      throw new ConfigError('wasm training backends: scope() needs a synchronous body (it returned a promise)');
    }
    this.recycle(handed);
    return result;
  }

  clear(): void {
    this.free.clear();
  }

  private recycle(arrays: Float32Array[]): void {
    for (const a of arrays) {
      let free = this.free.get(a.length);
      if (!free) this.free.set(a.length, (free = []));
      free.push(a);
    }
  }
}
