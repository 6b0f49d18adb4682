// Training checkpoints: one safetensors file with the model's weights (BN statistics included), the
// optimizer's slots and, in the metadata, the trainer state and configuration: enough to resume exactly.

import { FormatError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { buildModel, isArchitecture } from '../models/registry.js';
import type { ArchitectureOptions } from '../models/registry.js';
import { buildInBudget } from '../nn/parameter-budget.js';
import type { ModelFileInfo } from '../io/model-file.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Optimizer } from './optimizers.js';
import type { TrainConfig, TrainerState } from './trainer.js';

export const CHECKPOINT_FORMAT = 'mobilenet-ts-checkpoint/1';
const MODEL = 'model/';
const OPTIMIZER = 'optimizer/';

export function encodeCheckpoint(model: Model, optimizer: Optimizer, state: TrainerState, config: TrainConfig, info: ModelFileInfo = {}): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model.weights()) tensors.set(MODEL + k, t);
  for (const [k, t] of optimizer.state()) tensors.set(OPTIMIZER + k, t);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    architecture: String(model.metadata.architecture),
    options: JSON.stringify(model.metadata.options ?? {}),
    state: JSON.stringify(state),
    config: JSON.stringify(config),
    info: JSON.stringify(info),
  };
  return encodeSafetensors(tensors, metadata);
}

export interface DecodedCheckpoint {
  model: Model;
  optimizerState: Map<string, Tensor>;
  state: TrainerState;
  config: TrainConfig;
  info: ModelFileInfo;
}

function json<T>(metadata: Record<string, string>, key: string, source: string): T {
  try {
    return JSON.parse(metadata[key] ?? '') as T;
  } catch {
    throw new FormatError(`${source}: checkpoint metadata ${key} is missing or not valid JSON`);
  }
}

export function decodeCheckpoint(bytes: Uint8Array, source = '<buffer>'): DecodedCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new FormatError(`${source}: not a mobilenet-ts training checkpoint (format ${JSON.stringify(metadata.format ?? null)})`);
  const architecture = metadata.architecture ?? '';
  if (!isArchitecture(architecture)) throw new FormatError(`${source}: unknown architecture ${JSON.stringify(architecture)}`);
  const weights = new Map<string, Tensor>();
  const optimizerState = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith(MODEL)) weights.set(k.slice(MODEL.length), t);
    else if (k.startsWith(OPTIMIZER)) optimizerState.set(k.slice(OPTIMIZER.length), t);
    else throw new FormatError(`${source}: unexpected tensor ${k} in a checkpoint`);
  }
  const model = buildInBudget(weights, source, () => buildModel(architecture, json<ArchitectureOptions>(metadata, 'options', source)));
  model.setWeights(weights);
  return { model, optimizerState, state: json(metadata, 'state', source), config: json(metadata, 'config', source), info: json(metadata, 'info', source) };
}
