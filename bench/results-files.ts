// Where the bench scripts put their results: the committed files in bench/ only when `--write` asks for it,
// otherwise a fresh folder under the system's temporary directory, so that a run never replaces the published numbers.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/node/files.js';

/** bench/, where the committed results live. */
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** The folder results go to: bench/ with `write`, else a new temporary folder. */
export async function resultsFolder(write: boolean): Promise<string> {
  return write ? BENCH_DIR : mkdtemp(join(tmpdir(), 'mobilenet-bench-'));
}

/** Writes each `name → text` into `folder` atomically and says where, with how to update the committed copies. */
export async function writeResults(folder: string, files: Record<string, string>): Promise<void> {
  const encoder = new TextEncoder();
  for (const [name, text] of Object.entries(files)) await writeFileAtomic(join(folder, name), encoder.encode(text));
  const names = Object.keys(files).map((name) => join(folder, name));
  const note = folder === BENCH_DIR ? '' : ' (not the committed results: add --write to replace those in bench/)';
  console.error(`wrote ${names.join(', ')}${note}`);
}

/** The peers `npm ci` would install into bench/peers/node_modules, as "name@version, …", from bench/peers/package.json. */
export function peerList(manifest: { dependencies?: Record<string, string> }): string {
  return Object.entries(manifest.dependencies ?? {})
    .map(([name, version]) => `${name}@${version}`)
    .join(', ');
}
