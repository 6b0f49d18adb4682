// Model files for the CLI: our model files by path, or the bundled default model shipped in the package.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { decodeModelFile } from '../io/model-file.js';
import type { LoadedModel } from '../io/model-file.js';
import { readBytes } from '../node/files.js';

/** The bundled Fashion-MNIST model, beside the package (models/), from both src/ (tsx) and dist/. */
export function defaultModelPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fashion-mnist.safetensors');
}

export async function loadModelOrDefault(path: string | undefined): Promise<LoadedModel & { source: string }> {
  const source = path ?? defaultModelPath();
  if (path === undefined && !existsSync(source)) throw new ConfigError(`no --model given and the bundled model ${source} is missing`);
  return { ...decodeModelFile(await readBytes(source), source), source };
}
