// Model files for the CLI: a model in any format the library reads (see loadAnyModel), or the bundled
// default model shipped in the package, with the preprocessing and class names to use (see conventions.ts).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PreprocessOptions } from '../data/preprocess.js';
import { ConfigError } from '../errors.js';
import { decodeModelFile } from '../io/model-file.js';
import type { ModelFileInfo } from '../io/model-file.js';
import type { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';
import { readBytes } from '../node/files.js';
import { endsInSoftmax, guessPreprocessing, modelSignature } from '../io/any-model.js';
import { loadAnyModel } from '../node/any-model.js';
import type { LoadAnyModelOptions, LoadPlannedOptions, ModelFormat } from '../node/any-model.js';
import { modelRunner } from '../backend/model-runner.js';
import type { Runner } from '../backend/model-runner.js';
import type { ResolveOptions } from './conventions.js';
import { resolveConventions } from './conventions.js';

/** The bundled Fashion-MNIST model, beside the package (models/), from both src/ (tsx) and dist/. */
export function defaultModelPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fashion-mnist.safetensors');
}

/** A decoded model (float, or a plan where `planned`) with the preprocessing and class names to use, and notes. */
export type ResolvedModel<M extends Model | PlannedModel = Model> = ModelFileInfo & { model: M; preprocessing: PreprocessOptions; source: string; format: ModelFormat; notes: string[] };

/**
 * A model in any format (default: the bundled one) with the preprocessing and class names to use: the flags'
 * (`conventions.given`; undefined where the command takes none) over the file's over a guess from its origin;
 * `notes` has the loader's notes and a line for what the file lacks or the flags replace. With `planned` options, files
 * holding a plan (an int8 model file) give it.
 */
export async function loadModelOrDefault(path: string | undefined, options: LoadPlannedOptions, conventions?: Omit<ResolveOptions, 'guess'>): Promise<ResolvedModel<Model | PlannedModel>>;
export async function loadModelOrDefault(path: string | undefined, options?: LoadAnyModelOptions, conventions?: Omit<ResolveOptions, 'guess'>): Promise<ResolvedModel>;
export async function loadModelOrDefault(path: string | undefined, options: LoadAnyModelOptions | LoadPlannedOptions = {}, conventions: Omit<ResolveOptions, 'guess'> = {}): Promise<ResolvedModel<Model | PlannedModel>> {
  const source = path ?? defaultModelPath();
  let loaded: ModelFileInfo & { model: Model | PlannedModel; format: ModelFormat; notes: string[] };
  let guess: ResolveOptions['guess'];
  if (path === undefined) {
    if (!existsSync(source)) throw new ConfigError(`no --model given and the bundled model ${source} is missing`);
    loaded = { ...decodeModelFile(await readBytes(source), source), format: 'model-file', notes: [] };
  } else {
    const any = await loadAnyModel(path, options);
    guess = guessPreprocessing(any);
    loaded = any;
  }
  const { inputShape, outputShapes } = modelSignature(loaded.model);
  const resolved = resolveConventions(source, { inputShape, outputShape: outputShapes[0] }, loaded, { ...conventions, guess });
  return { ...loaded, ...resolved, source, notes: [...loaded.notes, ...resolved.notes] };
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

/** Loads a model to run (default: the bundled one), in any format, a float model or an int8 plan alike (see modelRunner). */
export async function loadRunnableModel(path: string | undefined, options: LoadAnyModelOptions = {}, conventions: Omit<ResolveOptions, 'guess'> = {}): Promise<RunnableModel> {
  const { model, source, classNames, preprocessing, notes } = await loadModelOrDefault(path, { ...options, planned: true }, conventions);
  const { inputShape, outputShapes } = modelSignature(model);
  return { source, inputShape, outputShape: outputShapes[0], classNames, preprocessing, notes, outputsProbabilities: endsInSoftmax(model), start: () => modelRunner(model) };
}
