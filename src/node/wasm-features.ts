// Node edge: turns on the WebAssembly features this Node's V8 has behind flags (relaxed SIMD on Node 20;
// Node 22+ ships it and ignores the flag). Must run before the first wasm validation; the engine still detects.

import { setFlagsFromString } from 'node:v8';

let done = false;

export function enableWasmFeatures(): void {
  if (done) return;
  done = true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}
