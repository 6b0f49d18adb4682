// `mobilenet-ts/node`: the Node-only edge: reading model and tensor files, writing them atomically.

export * from './files.js';
export { enableWasmFeatures } from './wasm-features.js';
export { peakRssBytes } from './memory.js';
