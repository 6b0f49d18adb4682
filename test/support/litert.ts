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

/** LiteRT.js, loaded once (single-threaded: the SIMD build, or the relaxed-SIMD one where the engine validates it). */
export function liteRt(): Promise<LiteRtInstance> {
  loading ??= (async () => {
    installShim();
    const core = (await import('@litertjs/core')) as unknown as { loadLiteRt(path: string): Promise<LiteRtInstance> };
    return core.loadLiteRt(wasmDir + '/');
  })();
  return loading;
}

/**
 * Runs .tflite bytes in LiteRT.js on one CPU thread: each input as the model's tensor type holds it (float32, int32,
 * int8 or uint8, in the model's input order); returns each output in the signature's output order.
 */
export async function runTflite(bytes: Uint8Array, inputs: readonly LiteRtArray[]): Promise<LiteRtArray[]> {
  const instance = await liteRt();
  const wasm = instance.liteRtWasm;
  const env = instance.getDefaultEnvironment().liteRtEnvironment;
  const ptr = wasm._malloc(bytes.byteLength);
  wasm.HEAPU8.set(bytes, ptr);
  const owned: Deletable[] = [];
  try {
    const model = wasm.loadModel(env, ptr, bytes.byteLength);
    owned.push(model);
    const compiled = await wasm.compileModel(env, model, { accelerator: 'wasm', cpuOptions: { numThreads: 1 }, gpuOptions: {}, webNNOptions: {} });
    owned.push(compiled);
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
    const outputs = await compiled.run(0, buffers);
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
    wasm._free(ptr);
  }
}
