// Vite config for the browser page (web/) and the library's browser bundle: the page is served cross-origin
// isolated (COOP/COEP, so the wasm engine may use threads), and onnxruntime-web is an optional peer from bench/peers.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin, UserConfig } from 'vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
/** onnxruntime-web's wasm build with its glue inlined; installed by `cd bench/peers && npm ci`, not by the library. */
export const ORT_WEB = `${root}bench/peers/node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs`;

/** Cross-origin isolation: SharedArrayBuffer and so the engine's worker threads. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** `virtual:ort-web`: onnxruntime-web when bench/peers has it, otherwise a module that says how to get it. */
function optionalOrtWeb(): Plugin {
  const missing = '\0ort-web-missing';
  return {
    name: 'optional-ort-web',
    resolveId(id) {
      if (id !== 'virtual:ort-web') return null;
      return existsSync(ORT_WEB) ? ORT_WEB : missing;
    },
    load(id) {
      if (id !== missing) return null;
      return `export const missing = ${JSON.stringify('onnxruntime-web is not installed: run `cd bench/peers && npm ci` and rebuild the page')};`;
    },
  };
}

/**
 * `node:` modules in the core are imported dynamically on Node-only paths (the engine's worker_threads and core
 * count): in a page they become a module that throws if ever reached, instead of a warning per import.
 */
function nodeOnly(): Plugin {
  const prefix = '\0node-only:';
  return {
    name: 'node-only',
    enforce: 'pre',
    resolveId(id) {
      return id.startsWith('node:') ? prefix + id : null;
    },
    load(id) {
      if (!id.startsWith(prefix)) return null;
      return `throw new Error(${JSON.stringify(`${id.slice(prefix.length)} is Node-only: this path of mobilenet-ts runs in Node alone`)});`;
    },
  };
}

export default defineConfig(({ mode }): UserConfig => {
  const port = Number(process.env.PORT ?? 5173);
  if (mode === 'lib') {
    // the library as one ES module for a plain <script type="module">; the lazily loaded readers and the wasm workers as their own chunks
    // (not Vite's library mode, which leaves ES output unminified)
    return {
      build: {
        outDir: 'dist/bundle',
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: true,
        chunkSizeWarningLimit: 6000,
        rollupOptions: {
          input: `${root}src/browser/bundle.ts`,
          preserveEntrySignatures: 'strict',
          // how long plugins took is a note about the machine's load, not about the bundle
          checks: { bundlerTimings: false },
          output: { format: 'es', entryFileNames: 'mobilenet.js', chunkFileNames: '[name]-[hash].js' },
        },
      },
      plugins: [nodeOnly()],
      worker: { format: 'es', plugins: () => [nodeOnly()] },
    };
  }
  return {
    root: 'web',
    base: './',
    plugins: [optionalOrtWeb(), nodeOnly()],
    server: { port, strictPort: process.env.PORT !== undefined, headers: ISOLATION_HEADERS, fs: { allow: [root] } },
    preview: { port, headers: ISOLATION_HEADERS },
    optimizeDeps: { exclude: ['virtual:ort-web'] },
    worker: { format: 'es', plugins: () => [nodeOnly()] },
    build: { outDir: '../dist-web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 6000 },
  };
});
