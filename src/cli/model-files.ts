// Model files for the CLI: a model in any format the library reads (see loadAnyModel), or the bundled
// default model shipped in the package, with the preprocessing and class names to use (see conventions.ts).

import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PreprocessOptions } from '../data/preprocess.js';
import { ConfigError } from '../errors.js';
import { INT8_FILE_FORMAT, decodeModelFile } from '../io/model-file.js';
import { decodeSafetensorsMetadata } from '../io/safetensors.js';
import { WasmEngine } from '../backend/wasm/engine.js';
import { decodeInt8ModelFile } from '../quant/int8-file.js';
import type { QuantizedModel } from '../quant/quantized-model.js';
import { WasmInt8Kernels } from '../quant/wasm-int8.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../graph/model.js';
import type { LoadedModel } from '../io/model-file.js';
import { readBytes } from '../node/files.js';
import { decodeAnyModel, guessPreprocessing } from '../io/any-model.js';
import { loadAnyModel } from '../node/any-model.js';
import type { LoadAnyModelOptions, ModelFormat } from '../node/any-model.js';
import type { ResolveOptions } from './conventions.js';
import { resolveConventions } from './conventions.js';

/** The bundled Fashion-MNIST model, beside the package (models/), from both src/ (tsx) and dist/. */
export function defaultModelPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fashion-mnist.safetensors');
}

/**
 * A model in any format (default: the bundled one) with the preprocessing and class names to use: the flags'
 * (`conventions.given`; undefined where the command takes none) over the file's over a guess from its origin;
 * `notes` has the loader's notes and a line for what the file lacks or the flags replace.
 */
export async function loadModelOrDefault(
  path: string | undefined,
  options: LoadAnyModelOptions = {},
  conventions: Omit<ResolveOptions, 'guess'> = {},
  /** The file's bytes where the caller has read them already (a file without companion files: safetensors). */
  bytes?: Uint8Array,
): Promise<LoadedModel & { preprocessing: PreprocessOptions; source: string; format: ModelFormat; notes: string[] }> {
  const source = path ?? defaultModelPath();
  let loaded: LoadedModel & { format: ModelFormat; notes: string[] };
  let guess: ResolveOptions['guess'];
  if (path === undefined) {
    if (!existsSync(source)) throw new ConfigError(`no --model given and the bundled model ${source} is missing`);
    loaded = { ...decodeModelFile(await readBytes(source), source), format: 'model-file', notes: [] };
  } else {
    const any = bytes ? await decodeAnyModel({ bytes, source: path }, options) : await loadAnyModel(path, options);
    guess = guessPreprocessing(any);
    loaded = any;
  }
  const resolved = resolveConventions(source, loaded.model, loaded, { ...conventions, guess });
  return { ...loaded, ...resolved, source, notes: [...loaded.notes, ...resolved.notes] };
}

/** Batches in, outputs out, on whichever kernels suit the model. */
export interface Runner {
  predict(x: Tensor): Tensor;
  /** What runs it, for people: "wasm", "reference", "int8 wasm", "int8 reference". */
  engine: string;
  dispose(): Promise<void>;
}

/** A model file ready to run, float or int8: what eval and classify need of it. */
export interface RunnableModel {
  source: string;
  inputShape: readonly number[];
  outputShape: readonly number[];
  classNames?: string[];
  preprocessing: PreprocessOptions;
  /** The loader's notes and what the file lacks or the flags replace, one line each. */
  notes: string[];
  /** Whether the model ends in its own softmax (imported Keras, TF.js and ONNX models often do). */
  outputsProbabilities: boolean;
  start(): Promise<Runner>;
}

/**
 * Loads a model to run (default: the bundled one): an int8 model file (mobilenet quantize) runs on the int8 kernels;
 * any other format as loadModelOrDefault reads it, on the WebAssembly engine where SIMD validates.
 */
export async function loadRunnableModel(path: string | undefined, options: LoadAnyModelOptions = {}, conventions: Omit<ResolveOptions, 'guess'> = {}): Promise<RunnableModel> {
  const bytes = path !== undefined && extname(path).toLowerCase() === '.safetensors' ? await readBytes(path) : undefined;
  if (path !== undefined && bytes !== undefined) {
    if (decodeSafetensorsMetadata(bytes, path).format === INT8_FILE_FORMAT) {
      const { quantized, ...stored } = decodeInt8ModelFile(bytes, path);
      const { inputShape, outputShape } = quantized;
      const resolved = resolveConventions(path, quantized, stored, conventions);
      return { source: path, inputShape, outputShape, ...resolved, outputsProbabilities: false, start: () => int8Runner(quantized) };
    }
  }
  const { model, source, classNames, preprocessing, notes } = await loadModelOrDefault(path, options, conventions, bytes);
  return {
    source,
    inputShape: model.inputShape,
    outputShape: model.outputShape,
    classNames,
    preprocessing,
    notes,
    outputsProbabilities: model.getLayer(model.output.name).kind === 'Softmax',
    start: () => floatRunner(model),
  };
}

/** An int8 model on the WebAssembly int8 kernels where SIMD validates (equal results), on the reference kernels otherwise. */
export async function int8Runner(quantized: QuantizedModel): Promise<Runner & { kernels: WasmInt8Kernels | null }> {
  const kernels = WasmInt8Kernels.supported() ? await WasmInt8Kernels.create(quantized) : null;
  return { predict: (x) => quantized.predict(x, { kernels }), engine: kernels ? 'int8 wasm' : 'int8 reference', kernels, dispose: async () => {} };
}

/** A float model on the WebAssembly engine where SIMD validates, on the reference kernels otherwise. */
export async function floatRunner(model: Model): Promise<Runner> {
  if (!WasmEngine.supported()) return { predict: (x) => model.predict(x), engine: 'reference', dispose: async () => {} };
  const engine = await WasmEngine.create(model);
  return { predict: (x) => engine.predict(x), engine: 'wasm', dispose: () => engine.dispose() };
}
