// Node edge for ONNX files: reads a model with its external data from the model's folder (relative locations only,
// symlinks resolved and required to stay inside), and writes our models as .onnx atomically.

import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

import type { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';
import { ExternalDataError } from '../io/onnx/errors.js';
import { encodeOnnx } from '../io/onnx/export.js';
import type { OnnxExportOptions } from '../io/onnx/export.js';
import { externalDataExtents, onnxToModel, parseOnnxModel } from '../io/onnx/import.js';
import type { DecodedOnnx, OnnxImportOptions } from '../io/onnx/import.js';
import { readBytes, writeFileAtomic } from './files.js';

/**
 * Reads an .onnx file and the external data files its tensors name. Each location must be relative and free of
 * `..` (checked before the disk is touched); its real path, symlinks resolved, must lie inside the model's folder.
 */
export async function readOnnxFile(path: string, options: Omit<OnnxImportOptions, 'source' | 'externalData'> = {}): Promise<DecodedOnnx> {
  const proto = parseOnnxModel(await readBytes(path), path);
  const files = new Map<string, Uint8Array>();
  for (const [location, used] of externalDataExtents(proto, path)) files.set(location, await readOnnxExternal(path, location, used));
  return onnxToModel(proto, {
    ...options,
    source: path,
    externalData: (location) => {
      const bytes = files.get(location);
      if (!bytes) throw new ExternalDataError(`${path}: external data ${JSON.stringify(location)} was not read`, location);
      return bytes;
    },
  });
}

/**
 * Reads the external data file `location` of the ONNX model at `modelPath`, confined to the model's folder and
 * refused when it is far larger than the `usedBytes` its tensors can use (see externalDataExtents).
 */
export async function readOnnxExternal(modelPath: string, location: string, usedBytes: number): Promise<Uint8Array> {
  return readExternal(await realpath(dirname(modelPath)), location, usedBytes, modelPath);
}

/** Writes `model` as an ONNX file (see encodeOnnx), replacing `path` atomically. */
export async function writeOnnxFile(path: string, model: Model | PlannedModel, options: OnnxExportOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeOnnx(model, options));
}

/** Slack over the bytes an external data file's tensors use (alignment padding, data of other models). */
const EXTERNAL_SLACK_BYTES = 1024 * 1024;

async function readExternal(folder: string, location: string, used: number, source: string): Promise<Uint8Array> {
  let real: string;
  try {
    real = await realpath(resolve(folder, location));
  } catch (e) {
    throw new ExternalDataError(`${source}: cannot open external data ${JSON.stringify(location)}: ${(e as Error).message}`, location);
  }
  const inside = relative(folder, real);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new ExternalDataError(`${source}: external data ${JSON.stringify(location)} resolves to ${real}, outside the model's folder ${folder}`, location);
  }
  const info = await stat(real);
  if (!info.isFile()) throw new ExternalDataError(`${source}: external data ${JSON.stringify(location)} is not a file`, location);
  // a file far larger than its tensors can use is not read into memory
  if (info.size > used + EXTERNAL_SLACK_BYTES) {
    throw new ExternalDataError(`${source}: external data ${JSON.stringify(location)} is ${info.size} bytes, more than its tensors can use (${used})`, location);
  }
  return readBytes(real);
}
