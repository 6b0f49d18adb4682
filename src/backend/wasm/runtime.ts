// One linear memory (shared when threads will use it), a bump allocator over it, copies in and out,
// and instantiation of emitted modules against it. Web-platform APIs only: runs in Node and browsers.

import { ModuleBuilder, relaxedSimdSupported } from './assembler.js';
import { ConfigError } from '../../errors.js';

const PAGE = 65536;

/** An exported kernel: i32 byte pointers and counts in, nothing out. */
export type Kernel = (...args: number[]) => void;

export interface WasmRuntimeOptions {
  /** Use this memory (e.g. a shared one created for workers) instead of making one. */
  memory?: WebAssembly.Memory;
  initialBytes?: number;
  /** Growth limit; a shared memory needs one up front. Default 1 GiB. */
  maximumBytes?: number;
  /** Create a shared memory (needs SharedArrayBuffer: Node, or a cross-origin-isolated page). */
  shared?: boolean;
}

export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly maximumPages: number;
  /** First free byte; address 0 stays unused so that 0 can mean "no tensor". */
  private top = 64;

  constructor(options: WasmRuntimeOptions = {}) {
    this.maximumPages = Math.ceil((options.maximumBytes ?? 1 << 30) / PAGE);
    if (options.memory) {
      this.memory = options.memory;
      this.shared = typeof SharedArrayBuffer !== 'undefined' && options.memory.buffer instanceof SharedArrayBuffer;
    } else {
      this.shared = options.shared ?? false;
      if (this.shared && typeof SharedArrayBuffer === 'undefined') throw new ConfigError('a shared wasm memory needs SharedArrayBuffer, which this context lacks (cross-origin isolation?)');
      const initial = Math.max(1, Math.ceil((options.initialBytes ?? PAGE) / PAGE));
      this.memory = new WebAssembly.Memory({ initial, maximum: this.maximumPages, shared: this.shared } as WebAssembly.MemoryDescriptor);
    }
  }

  /** Bytes handed out so far, alignment padding included. */
  get used(): number {
    return this.top;
  }

  /** Reserves `bytes` at an address aligned to `align` (a power of two), growing the memory if needed. */
  alloc(bytes: number, align = 64): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new ConfigError(`alloc: byte count must be a non-negative integer, got ${bytes}`);
    if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) throw new ConfigError(`alloc: alignment must be a power of two, got ${align}`);
    const start = Math.ceil(this.top / align) * align;
    const end = start + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new ConfigError(`wasm memory: ${end} bytes needed, growth beyond ${have} bytes refused (maximum ${this.maximumPages * PAGE})`);
      }
    }
    this.top = end;
    return start;
  }

  /** Reserves room for `count` floats, 64-byte aligned so vectors never straddle cache lines. */
  allocF32(count: number): number {
    return this.alloc(count * 4, 64);
  }

  /** Everything allocated after `mark` (a value of `used`) is freed: plan-time scratch, tests. */
  reset(mark = 64): void {
    if (mark < 64 || mark > this.top) throw new ConfigError(`reset: mark ${mark} outside 64..${this.top}`);
    this.top = mark;
  }

  /** A live view of `count` floats at `pointer`; it goes stale when the memory grows. */
  f32(pointer: number, count: number): Float32Array {
    return new Float32Array(this.memory.buffer, pointer, count);
  }

  write(pointer: number, data: Float32Array): void {
    this.f32(pointer, data.length).set(data);
  }

  /** Copies `count` floats out of wasm memory. */
  read(pointer: number, count: number): Float32Array {
    return this.f32(pointer, count).slice();
  }

  /** Allocates and fills: for packed weights and inputs. */
  upload(data: Float32Array): number {
    const pointer = this.allocF32(data.length);
    this.write(pointer, data);
    return pointer;
  }

  /** A builder whose memory import matches this runtime's memory; relaxed SIMD where it validates. */
  module(options: { relaxedSimd?: boolean } = {}): ModuleBuilder {
    return new ModuleBuilder({
      // a shared import must declare a maximum; the assembler's default (4 GiB) admits any memory's
      memory: { initialPages: 1, shared: this.shared },
      relaxedSimd: options.relaxedSimd ?? relaxedSimdSupported(),
    });
  }

  /** Compiles off the main thread where the platform can; browsers refuse large synchronous compiles there. */
  async instantiate(module: ModuleBuilder): Promise<Record<string, Kernel>> {
    const { instance } = await WebAssembly.instantiate(module.bytes(), { env: { memory: this.memory } });
    return this.kernels(module, instance);
  }

  /** As `instantiate`, also returning the compiled module: workers instantiate it against the same shared memory. */
  async instantiateWithModule(module: ModuleBuilder): Promise<{ module: WebAssembly.Module; kernels: Record<string, Kernel> }> {
    const { module: compiled, instance } = await WebAssembly.instantiate(module.bytes(), { env: { memory: this.memory } });
    return { module: compiled, kernels: this.kernels(module, instance) };
  }

  instantiateSync(module: ModuleBuilder): Record<string, Kernel> {
    return this.instantiateSyncWithModule(module).kernels;
  }

  /** As `instantiateSync`, also returning the compiled module (for workers; small modules only in a browser's main thread). */
  instantiateSyncWithModule(module: ModuleBuilder): { module: WebAssembly.Module; kernels: Record<string, Kernel> } {
    const compiled = new WebAssembly.Module(module.bytes());
    const instance = new WebAssembly.Instance(compiled, { env: { memory: this.memory } });
    return { module: compiled, kernels: this.kernels(module, instance) };
  }

  private kernels(module: ModuleBuilder, instance: WebAssembly.Instance): Record<string, Kernel> {
    const out: Record<string, Kernel> = {};
    for (const name of module.exportNames) out[name] = instance.exports[name] as Kernel;
    return out;
  }
}
