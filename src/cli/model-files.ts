// Model files for the CLI: a model in any format the library reads (see loadAnyModel), or the bundled
// default model shipped in the package; weights-only inputs get the preprocessing of their origin.

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
import { decodeAnyModel } from '../io/any-model.js';
import { loadAnyModel } from '../node/any-model.js';
import type { AnyModel, LoadAnyModelOptions, ModelFormat } from '../node/any-model.js';

/** The bundled Fashion-MNIST model, beside the package (models/), from both src/ (tsx) and dist/. */
export function defaultModelPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fashion-mnist.safetensors');
}

/** ImageNet mean and std on the 0..1 scale: torchvision's Normalize for its pretrained models. */
export const TORCHVISION_PIXELS: PreprocessOptions['pixels'] = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** The preprocessing a file without one most likely wants, by where it comes from; undefined when unknown. */
export function presetFor(loaded: Pick<AnyModel, 'format' | 'metadata'>): PreprocessOptions | undefined {
  if (loaded.format === 'keras-h5') return { pixels: 'symmetric' };
  if ((loaded.format === 'safetensors' || loaded.format === 'pytorch') && loaded.metadata.naming === 'torchvision') return { pixels: TORCHVISION_PIXELS };
  return undefined;
}

export async function loadModelOrDefault(
  path: string | undefined,
  options: LoadAnyModelOptions = {},
  /** The file's bytes where the caller has read them already (a file without companion files: safetensors). */
  bytes?: Uint8Array,
): Promise<LoadedModel & { source: string; format: ModelFormat; notes: string[] }> {
  const source = path ?? defaultModelPath();
  if (path === undefined) {
    if (!existsSync(source)) throw new ConfigError(`no --model given and the bundled model ${source} is missing`);
    return { ...decodeModelFile(await readBytes(source), source), source, format: 'model-file', notes: [] };
  }
  const loaded = bytes ? await decodeAnyModel({ bytes, source: path }, options) : await loadAnyModel(path, options);
  const notes = [...loaded.notes];
  let preprocessing = loaded.preprocessing;
  if (preprocessing === undefined) {
    const preset = presetFor(loaded);
    const [h, w] = loaded.model.inputShape;
    if (preset) {
      preprocessing = { size: [h, w], fit: 'bilinear', ...preset };
      notes.push(`no preprocessing stored: using the ${loaded.format === 'keras-h5' ? 'Keras (x/127.5 − 1)' : 'torchvision (ImageNet mean/std)'} preset`);
    } else notes.push('no preprocessing stored: pixels scaled to 0..1 and resized bilinearly');
  }
  return { model: loaded.model, classNames: loaded.classNames, preprocessing, source, format: loaded.format, notes };
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
  preprocessing?: PreprocessOptions;
  notes: string[];
  /** Whether the model ends in its own softmax (imported Keras, TF.js and ONNX models often do). */
  outputsProbabilities: boolean;
  start(): Promise<Runner>;
}

/**
 * Loads a model to run (default: the bundled one): an int8 model file (mobilenet quantize) runs on the int8 kernels;
 * any other format as loadModelOrDefault reads it, on the WebAssembly engine where SIMD validates.
 */
export async function loadRunnableModel(path: string | undefined, options: LoadAnyModelOptions = {}): Promise<RunnableModel> {
  const bytes = path !== undefined && extname(path).toLowerCase() === '.safetensors' ? await readBytes(path) : undefined;
  if (path !== undefined && bytes !== undefined) {
    if (decodeSafetensorsMetadata(bytes, path).format === INT8_FILE_FORMAT) {
      const { quantized, classNames, preprocessing } = decodeInt8ModelFile(bytes, path);
      const { inputShape, outputShape } = quantized;
      return { source: path, inputShape, outputShape, classNames, preprocessing, notes: [], outputsProbabilities: false, start: () => int8Runner(quantized) };
    }
  }
  const { model, source, classNames, preprocessing, notes } = await loadModelOrDefault(path, options, bytes);
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
