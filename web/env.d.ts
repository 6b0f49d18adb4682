// Types of the page's build-time modules: onnxruntime-web through the optional `virtual:ort-web` (see vite.config.ts),
// typed here by the little the benchmark uses, and Vite's import.meta.glob.

declare module 'virtual:ort-web' {
  /** Set when onnxruntime-web is not installed: why, and how to install it. */
  export const missing: string | undefined;
  export const env: { wasm: { numThreads?: number; simd?: boolean; proxy?: boolean } };
  export class Tensor {
    constructor(type: 'float32', data: Float32Array, dims: readonly number[]);
  }
  export class InferenceSession {
    static create(model: Uint8Array, options?: { executionProviders?: string[]; graphOptimizationLevel?: string }): Promise<InferenceSession>;
    readonly inputNames: readonly string[];
    run(feeds: Record<string, Tensor>): Promise<Record<string, unknown>>;
    release(): Promise<void>;
  }
}

interface ImportMeta {
  glob<T>(pattern: string, options: { query?: string; import?: string; eager: true }): Record<string, T>;
}

declare module '*?url' {
  const url: string;
  export default url;
}
