// The ops backend's kernel modules by key (an op and its shapes): each emitted and compiled on first use, then
// reused; the compile time is kept for `stats()`.

import type { ModuleBuilder } from '../assembler.js';
import type { Kernel, WasmRuntime } from '../runtime.js';

export interface CompiledModule {
  module: WebAssembly.Module;
  kernels: Record<string, Kernel>;
}

export class ModuleCache {
  private readonly modules = new Map<string, CompiledModule>();
  /** Milliseconds spent emitting and compiling so far. */
  compileMs = 0;

  constructor(
    private readonly rt: WasmRuntime,
    private readonly relaxedSimd: boolean,
  ) {}

  get size(): number {
    return this.modules.size;
  }

  /** The module for `key`, emitted and compiled on first use (small modules compile synchronously everywhere). */
  compiled(key: string, emit: (m: ModuleBuilder) => void): CompiledModule {
    let k = this.modules.get(key);
    if (!k) {
      const start = performance.now();
      const m = this.rt.module({ relaxedSimd: this.relaxedSimd });
      emit(m);
      k = this.rt.instantiateSyncWithModule(m);
      this.compileMs += performance.now() - start;
      this.modules.set(key, k);
    }
    return k;
  }

  kernels(key: string, emit: (m: ModuleBuilder) => void): Record<string, Kernel> {
    return this.compiled(key, emit).kernels;
  }

  clear(): void {
    this.modules.clear();
  }
}
