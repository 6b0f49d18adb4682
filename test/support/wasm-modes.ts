// The WebAssembly modes the kernel suites run in (plain SIMD, relaxed SIMD), each with its reason to skip here.
// Relaxed SIMD (Node 20: behind a V8 flag) is turned on first, before this process validates any wasm.

import { relaxedSimdSupported, simdSupported } from '../../src/backend/wasm/assembler.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';

enableWasmFeatures();

export const noSimd: string | false = simdSupported() ? false : 'WebAssembly SIMD is not supported by this runtime';

export const SIMD_MODES = [
  { name: 'SIMD', relaxed: false, skip: noSimd },
  {
    name: 'relaxed SIMD',
    relaxed: true,
    skip: noSimd || (relaxedSimdSupported() ? false : 'relaxed SIMD does not validate here (Node 20: run with --experimental-wasm-relaxed-simd)'),
  },
] as const;
