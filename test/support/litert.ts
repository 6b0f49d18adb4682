// LiteRT.js (@litertjs/core: TFLite with XNNPACK in WebAssembly) loaded in Node through a small shim, the independent
// runtime the .tflite tests run files in: float and int8 inputs and outputs, through its low-level binding.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';

/** What LiteRT.js takes and gives, by the model's tensor types. */
export type LiteRtArray = Float32Array | Int32Array | Int8Array | Uint8Array;

const require = createRequire(import.meta.url);
const corePackage = require.resolve('@litertjs/core/package.json');
const wasmDir = join(dirname(corePackage), 'wasm');

interface EnumValue {
  value: number;
}
interface Deletable {
  delete(): void;
}
interface WasmVector<T> extends Deletable {
  size(): number;
  get(i: number): T;
}
interface RankedType extends Deletable {
  elementType(): EnumValue;
  layout(): Deletable & { dimensions(): WasmVector<number> };
  bytes(): number;
}
interface TensorBuffer extends Deletable {
  lock(mode: EnumValue): number;
  unlock(): void;
  tensorType(): RankedType;
}
interface LiteRtWasm {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  loadModel(env: unknown, ptr: number, size: number): Deletable & {
    getInputTensorType(signature: number, input: number): RankedType;
    getSignature(signature: number): Deletable & { inputNames(): WasmVector<string>; outputNames(): WasmVector<string> };
  };
  compileModel(env: unknown, model: unknown, options: unknown): (Deletable & { run(signature: number, inputs: TensorBuffer[]): TensorBuffer[] | Promise<TensorBuffer[]> }) | Promise<never>;
  LiteRtTensorBuffer: { createManaged(env: unknown, type: EnumValue, tensorType: RankedType, bytes: number): TensorBuffer };
  LiteRtTensorBufferType: { HOST_MEMORY: EnumValue };
  LiteRtTensorBufferLockMode: { READ: EnumValue; WRITE: EnumValue };
}
interface LiteRtInstance {
  liteRtWasm: LiteRtWasm;
  getDefaultEnvironment(): { liteRtEnvironment: unknown };
}

// litert::ElementType values (the package's index.d.ts) and the arrays that hold them
const ARRAYS: Record<number, new (buffer: ArrayBuffer) => LiteRtArray> = { 1: Float32Array, 2: Int32Array, 3: Uint8Array, 9: Int8Array };

let loading: Promise<LiteRtInstance> | null = null;

/**
 * The browser globals LiteRT.js's loader expects: `self`, `navigator`, and `importScripts`, which here compiles its Emscripten glue
 * as CommonJS (so that the glue sees Node's `require` and reads its .wasm from the file beside it).
 */
function installShim(): void {
  const g = globalThis as Record<string, unknown>;
  g.self ??= globalThis;
  // Node 20 has no navigator: LiteRT.js reads it for WebGPU (absent here) and the threaded build's core count
  g.navigator ??= { hardwareConcurrency: 1 };
  g.importScripts = (url: string): void => {
    const file = url.startsWith('file:') ? new URL(url).pathname : url;
    const module = { exports: {} as unknown };
    const wrapped = runInThisContext(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file }) as (...args: unknown[]) => void;
    wrapped(module.exports, createRequire(file), module, file, dirname(file));
    g.ModuleFactory = module.exports;
  };
}

/**
 * LiteRT.js, loaded once: the SIMD build, or the relaxed-SIMD one where the engine validates it; with `threads`, the
 * threaded build (relaxed SIMD needed: Node 20 with --experimental-wasm-relaxed-simd), whose pthread workers start
 * from litert-pthread.cjs. The first call decides.
 */
export function liteRt(options: { threads?: boolean } = {}): Promise<LiteRtInstance> {
  loading ??= (async () => {
    installShim();
    if (options.threads) (globalThis as Record<string, unknown>).Module = { mainScriptUrlOrBlob: join(dirname(new URL(import.meta.url).pathname), 'litert-pthread.cjs') };
    const core = (await import('@litertjs/core')) as unknown as { loadLiteRt(path: string, options?: { threads: boolean }): Promise<LiteRtInstance> };
    return core.loadLiteRt(wasmDir + '/', { threads: options.threads === true });
  })();
  return loading;
}

/** A model compiled once for repeated runs (benchmarks): inputs as in runTflite, on `threads` CPU threads. */
export async function compileTflite(bytes: Uint8Array, threads = 1): Promise<{ run(inputs: readonly LiteRtArray[]): Promise<LiteRtArray[]>; dispose(): void }> {
  const instance = await liteRt({ threads: threads > 1 });
  return compiled(instance, bytes, threads);
}

/** Loads and compiles `bytes`; `run` feeds inputs through LiteRT.js's tensor buffers and copies the outputs out. */
async function compiled(instance: LiteRtInstance, bytes: Uint8Array, threads: number): Promise<{ run(inputs: readonly LiteRtArray[]): Promise<LiteRtArray[]>; dispose(): void }> {
  const wasm = instance.liteRtWasm;
  const env = instance.getDefaultEnvironment().liteRtEnvironment;
  const ptr = wasm._malloc(bytes.byteLength);
  wasm.HEAPU8.set(bytes, ptr);
  const kept: Deletable[] = [];
  const dispose = (): void => {
    for (const o of kept.reverse()) o.delete();
    wasm._free(ptr);
  };
  try {
    const model = wasm.loadModel(env, ptr, bytes.byteLength);
    kept.push(model);
    const compiledModel = await wasm.compileModel(env, model, { accelerator: 'wasm', cpuOptions: { numThreads: threads }, gpuOptions: {}, webNNOptions: {} });
    kept.push(compiledModel);
    const run = async (inputs: readonly LiteRtArray[]): Promise<LiteRtArray[]> => {
      const owned: Deletable[] = [];
      try {
        const buffers = inputs.map((data, i) => {
          const type = model.getInputTensorType(0, i);
          owned.push(type);
          if (type.bytes() !== data.byteLength) throw new Error(`LiteRT.js: input ${i} holds ${type.bytes()} bytes, given ${data.byteLength}`);
          const buffer = wasm.LiteRtTensorBuffer.createManaged(env, wasm.LiteRtTensorBufferType.HOST_MEMORY, type, data.byteLength);
          owned.push(buffer);
          const at = buffer.lock(wasm.LiteRtTensorBufferLockMode.WRITE);
          wasm.HEAPU8.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
          buffer.unlock();
          return buffer;
        });
        const outputs = await compiledModel.run(0, buffers);
        owned.push(...outputs);
        return outputs.map((buffer, k) => {
          const type = buffer.tensorType();
          owned.push(type);
          const Array = ARRAYS[type.elementType().value];
          if (!Array) throw new Error(`LiteRT.js: output ${k} has element type ${type.elementType().value}, not float32, int32, int8 or uint8`);
          const at = buffer.lock(wasm.LiteRtTensorBufferLockMode.READ);
          const copy = wasm.HEAPU8.slice(at, at + type.bytes());
          buffer.unlock();
          return new Array(copy.buffer);
        });
      } finally {
        for (const o of owned.reverse()) o.delete();
      }
    };
    return { run, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * Runs .tflite bytes in LiteRT.js on one CPU thread: each input as the model's tensor type holds it (float32, int32,
 * int8 or uint8, in the model's input order); returns each output in the signature's output order.
 */
export async function runTflite(bytes: Uint8Array, inputs: readonly LiteRtArray[]): Promise<LiteRtArray[]> {
  const model = await compiled(await liteRt(), bytes, 1);
  try {
    return await model.run(inputs);
  } finally {
    model.dispose();
  }
}
