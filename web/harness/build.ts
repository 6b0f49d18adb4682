// Builds the page and the library bundle with Vite's API (the same config as `npm run build:web`) into a given
// folder, for the browser tests and `npm run bench:web`. Node only.

import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const CONFIG = fileURLToPath(new URL('../../vite.config.ts', import.meta.url));

/** The page (web/) into `outDir`. */
export async function buildPage(outDir: string): Promise<void> {
  await build({ configFile: CONFIG, logLevel: 'error', build: { outDir, emptyOutDir: true } });
}

/** The library as one ES module, `mobilenet.js`, with its chunks (workers, the lazily loaded readers), into `outDir`. */
export async function buildLibrary(outDir: string): Promise<void> {
  await build({ configFile: CONFIG, mode: 'lib', logLevel: 'error', build: { outDir, emptyOutDir: true } });
}
