// Models from files a user drops or picks in a page: the model file is told from its companions (TF.js shards, a .pt's sidecar JSON,
// ONNX external data), which the decoder then asks for by the path the model names them with.

import { FormatError } from '../errors.js';
import { decodeAnyModel, extensionOf, torchSidecarPath } from '../io/any-model.js';
import type { AnyModel, LoadAnyModelOptions, LoadPlannedOptions } from '../io/any-model.js';
import type { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';

/** A file's name (or its path within a dropped folder) and bytes: a File read, or bytes from anywhere else. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** Extensions of model files, in the order they win when several files are given: the others are companions. */
const MODEL_EXTENSIONS = ['.json', '.onnx', '.safetensors', '.h5', '.keras', '.hdf5', '.pt', '.pth', '.bin'];

/** The file among `files` that is the model; the rest are the files it names. */
export function mainModelFile(files: readonly NamedBytes[]): NamedBytes {
  if (files.length === 0) throw new FormatError('no file given');
  if (files.length === 1) return files[0];
  // a .pt's sidecar JSON (model.pt.json) is a companion, not a TF.js model.json
  const models = files.filter((f) => !files.some((g) => torchSidecarPath(g.name) === f.name));
  for (const ext of MODEL_EXTENSIONS) {
    const found = models.filter((f) => extensionOf(f.name) === ext);
    if (found.length === 1) return found[0];
    if (found.length > 1 && ext !== '.bin') throw new FormatError(`several ${ext} files given (${found.map((f) => f.name).join(', ')}): give one model at a time`);
  }
  throw new FormatError(`cannot tell which of ${files.map((f) => f.name).join(', ')} is the model: give one model file, with its shards or external data`);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Decodes the model among `files` (see mainModelFile), in any format decodeAnyModel reads. Its companions are
 * matched by the path the model names them with, or by file name where the files came without their folder.
 */
export async function decodeModelFiles(files: readonly NamedBytes[], options: LoadPlannedOptions): Promise<AnyModel<Model | PlannedModel>>;
export async function decodeModelFiles(files: readonly NamedBytes[], options?: LoadAnyModelOptions): Promise<AnyModel>;
export async function decodeModelFiles(files: readonly NamedBytes[], options: LoadAnyModelOptions | LoadPlannedOptions = {}): Promise<AnyModel<Model | PlannedModel>> {
  const main = mainModelFile(files);
  const others = files.filter((f) => f !== main);
  const companion = async (path: string): Promise<Uint8Array> => {
    const found = others.find((f) => f.name === path) ?? others.find((f) => baseName(f.name) === baseName(path));
    if (!found) throw new FormatError(`${main.name}: names ${JSON.stringify(path)}, which was not given: drop it together with the model`);
    return found.bytes;
  };
  const sidecar = others.find((f) => f.name === torchSidecarPath(main.name))?.bytes;
  return decodeAnyModel({ bytes: main.bytes, source: main.name, companion, ...(sidecar ? { sidecar } : {}) }, options);
}
