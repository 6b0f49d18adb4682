// Node edge for TF.js layers and graph models: reads model.json and the shards it names, each confined to the model's
// folder (relative paths only, no `..`, symlinks resolved and checked), and writes a model as model.json + shards.

import { mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

import { FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { decodeTfjsLayersModel, encodeTfjsLayersModel, parseTfjsModelJson } from '../io/tfjs/layers-model.js';
import type { TfjsExportOptions, TfjsImport, TfjsImportOptions, TfjsModelJson } from '../io/tfjs/layers-model.js';
import { storedBytes } from '../io/tfjs/weights-manifest.js';
import type { TfjsWeightGroup } from '../io/tfjs/weights-manifest.js';
import { decodeTfjsGraphModel } from '../io/tfjs/graph-model.js';
import type { TfjsGraphImport, TfjsGraphImportOptions } from '../io/tfjs/graph-model.js';
import { FileError, readBytes, writeFileAtomic } from './files.js';

export interface TfjsModelFiles {
  modelJson: TfjsModelJson;
  /** Shard path as the manifest names it → bytes. */
  shards: Map<string, Uint8Array>;
}

/**
 * Checks that a manifest path stays inside the model's folder: relative, `/`-separated, no `.`/`..` or empty
 * segments, no drive letters, backslashes or URL schemes. Returns the path's segments.
 */
export function checkShardPath(path: string, source: string): string[] {
  const fail = (why: string): FormatError => new FormatError(`${source}: weight path ${JSON.stringify(path)} ${why}; shards must lie in the model's folder`);
  if (path.length === 0 || path.length > 1024) throw fail('is empty or too long');
  if (isAbsolute(path) || path.startsWith('/') || /^[A-Za-z]:/.test(path)) throw fail('is absolute');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path)) throw fail('is a URL');
  if (path.includes('\\') || path.includes('\0')) throw fail('contains a backslash or NUL');
  const segments = path.split('/');
  if (segments.some((s) => s === '..')) throw fail("climbs out with '..'");
  if (segments.some((s) => s === '' || s === '.')) throw fail('has an empty or "." segment');
  return segments;
}

/** Reads model.json and every shard it names; the shards must be regular files inside model.json's folder. */
export async function readTfjsModelFiles(modelJsonPath: string): Promise<TfjsModelFiles> {
  const modelJson = parseTfjsModelJson(await readBytes(modelJsonPath), modelJsonPath, { graph: true });
  return { modelJson, shards: await readWeightShards(modelJsonPath, modelJson.weightsManifest) };
}

/**
 * Reads every shard a weights manifest names (model.json's, or a manifest file's own: `jsonPath`): regular files
 * inside `jsonPath`'s folder, none far larger than its group's weights.
 */
export async function readWeightShards(jsonPath: string, weightsManifest: readonly TfjsWeightGroup[]): Promise<Map<string, Uint8Array>> {
  const folder = dirname(jsonPath);
  let realFolder: string;
  try {
    realFolder = await realpath(folder);
  } catch (e) {
    throw new FileError(`cannot resolve ${folder}: ${(e as Error).message}`, folder, (e as NodeJS.ErrnoException).code, { cause: e });
  }
  const needed = new Map<string, number>();
  for (const group of weightsManifest) {
    const bytes = group.weights.reduce((n, w) => n + storedBytes(w), 0);
    for (const p of group.paths) needed.set(p, bytes);
  }
  const shards = new Map<string, Uint8Array>();
  for (const path of new Set(weightsManifest.flatMap((g) => g.paths))) {
    const segments = checkShardPath(path, jsonPath);
    const file = join(folder, ...segments);
    let real: string;
    try {
      real = await realpath(file);
    } catch (e) {
      throw new FileError(`cannot read weight shard ${file}: ${(e as Error).message}`, file, (e as NodeJS.ErrnoException).code, { cause: e });
    }
    const inside = relative(realFolder, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new FormatError(`${jsonPath}: weight path ${JSON.stringify(path)} resolves to ${real}, outside the model's folder ${realFolder} (through a symbolic link)`);
    }
    const info = await stat(real);
    if (!info.isFile()) throw new FormatError(`${jsonPath}: weight path ${JSON.stringify(path)} is not a regular file`);
    // a shard far larger than its whole group is not ours to read into memory
    if (info.size > needed.get(path)! + 1024 * 1024) {
      throw new FormatError(`${jsonPath}: weight shard ${JSON.stringify(path)} is ${info.size} bytes, more than its group's ${needed.get(path)} bytes of weights`);
    }
    shards.set(path, await readBytes(real));
  }
  return shards;
}

/** Reads a TF.js layers model (model.json and shards) into our Model. */
export async function readTfjsModel(modelJsonPath: string, options: Omit<TfjsImportOptions, 'source'> = {}): Promise<TfjsImport> {
  const { modelJson, shards } = await readTfjsModelFiles(modelJsonPath);
  return decodeTfjsLayersModel(modelJson, shards, { ...options, source: modelJsonPath });
}

/** Reads a TF.js graph model (model.json with a GraphDef, and shards) into our Model. */
export async function readTfjsGraphModel(modelJsonPath: string, options: Omit<TfjsGraphImportOptions, 'source'> = {}): Promise<TfjsGraphImport> {
  const { modelJson, shards } = await readTfjsModelFiles(modelJsonPath);
  return decodeTfjsGraphModel(modelJson, shards, { ...options, source: modelJsonPath });
}

/**
 * Writes `model` as a TF.js layers model: the shards, then model.json (so a reader never sees a model.json
 * whose shards are missing), each atomically. `modelJsonPath` names model.json; its folder is created.
 * Returns the paths written.
 */
export async function writeTfjsModel(modelJsonPath: string, model: Model, options: TfjsExportOptions = {}): Promise<string[]> {
  const { modelJson, shards } = encodeTfjsLayersModel(model, options);
  const folder = dirname(modelJsonPath);
  await mkdir(folder, { recursive: true });
  const written: string[] = [];
  for (const [name, bytes] of shards) {
    const path = join(folder, name);
    await writeFileAtomic(path, bytes);
    written.push(path);
  }
  await writeFileAtomic(modelJsonPath, new TextEncoder().encode(JSON.stringify(modelJson)));
  written.push(modelJsonPath);
  return written;
}
