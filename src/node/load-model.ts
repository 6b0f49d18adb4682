// Node edge of the high-level API: loadModel also reads model files and folders (TF.js, ONNX with external data)
// by path or file: URL, the bundled model from the package's models/ folder, and images by file path.

import { fileURLToPath } from 'node:url';
import { MobileNetClassifier, bundledModelUrl, decodeModelSource, decodeOptions, isAbsoluteUrl } from '../api/load-model.js';
import type { ImageSource, LoadModelOptions, ModelSource } from '../api/load-model.js';
import type { AnyModel } from '../io/any-model.js';
import { loadAnyModel } from './any-model.js';
import { readBytes } from './files.js';

/** An image in Node: what the core takes, or a PNG or JPEG file's path. */
export type NodeImageSource = ImageSource | string;

/** The bundled Fashion-MNIST model's path in the installed package. */
export function bundledModelPath(): string {
  return fileURLToPath(bundledModelUrl());
}

/** A file path, or a file: URL as a path; null for every other source. */
function filePathOf(source: ModelSource | undefined): string | null {
  if (source === undefined || source === 'bundled') return bundledModelPath();
  if (source instanceof URL) return source.protocol === 'file:' ? fileURLToPath(source) : null;
  if (typeof source !== 'string') return null;
  if (!isAbsoluteUrl(source)) return source;
  return source.startsWith('file:') ? fileURLToPath(source) : null;
}

async function imageOf(image: NodeImageSource): Promise<ImageSource> {
  if (typeof image !== 'string') return image;
  return { bytes: await readBytes(image), name: image };
}

/**
 * Loads a model for classifying and embedding images: a file or folder path (any format the library reads), a
 * file: or http(s) URL, bytes, or nothing (or 'bundled') for the bundled Fashion-MNIST model. Images may also be
 * PNG or JPEG file paths.
 */
export async function loadModel(source?: ModelSource, options: LoadModelOptions = {}): Promise<MobileNetClassifier<NodeImageSource>> {
  const path = filePathOf(source);
  const decode = decodeOptions(options);
  const loaded: AnyModel = path !== null ? await loadAnyModel(path, decode) : await decodeModelSource(source, decode);
  return MobileNetClassifier.create(loaded, options, imageOf);
}
