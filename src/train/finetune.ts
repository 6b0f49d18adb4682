// Fine-tuning: freeze layers by name or up to a block, swap the classifier for a new number of classes (keeping
// every other weight), carry a backbone into another model (a classifier's into a DeepLab), and `embed` images.

import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { GlobalAveragePooling2D, GlobalMaxPooling2D } from '../nn/pooling.js';
import { buildModel } from '../models/registry.js';
import type { ArchitectureOptions } from '../models/registry.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RunOptions } from '../graph/model.js';

export interface FreezeSpec {
  /** Freeze every layer up to and including this one (or, for a block name like `block_12`, its last layer). */
  upTo?: string;
  /** Freeze layers whose names match any of these (exact strings or regular expressions). */
  names?: (string | RegExp)[];
}

/** Sets `trainable = false` on the chosen layers, true on the rest; returns the frozen names. */
export function freezeLayers(model: Model, spec: FreezeSpec): string[] {
  const layers = model.layers;
  let last = -1;
  if (spec.upTo !== undefined) {
    const upTo = spec.upTo;
    layers.forEach((l, i) => {
      if (l.name === upTo || l.block === upTo) last = i;
    });
    if (last < 0) throw new ConfigError(`cannot freeze up to ${JSON.stringify(upTo)}: model ${model.name} has no such layer or block`);
  }
  const matches = (name: string): boolean => (spec.names ?? []).some((p) => (typeof p === 'string' ? p === name : p.test(name)));
  const frozen: string[] = [];
  layers.forEach((l, i) => {
    l.trainable = !(i <= last || matches(l.name));
    if (!l.trainable && l.paramSpecs.length > 0) frozen.push(l.name);
  });
  return frozen;
}

/** A copy of `model` with a new classifier for `classes` outputs; every other weight carried over. */
export function replaceHead(model: Model, classes: number, overrides: ArchitectureOptions = {}): Model {
  const arch = model.metadata.architecture;
  if (typeof arch !== 'string') throw new ConfigError(`model ${model.name} was not built by a MobileNet builder; cannot rebuild its head`);
  const options = { ...(model.metadata.options as ArchitectureOptions), ...overrides, classes, includeTop: true };
  const fresh = buildModel(arch, options);
  const head = new Set(['predictions.kernel', 'predictions.bias']);
  fresh.setWeights(new Map([...model.weights()].filter(([k]) => !head.has(k) && fresh.weights().has(k))), { strict: false });
  return fresh;
}

/**
 * Copies into `target` every weight of `source` with the same name and shape (a classification MobileNetV2's backbone
 * into a DeepLab built on the same backbone: its head stays as initialised). Returns the names copied and those of
 * `target` left as they were; refuses when nothing matches, which means the two do not share a backbone.
 */
export function transferWeights(source: Model, target: Model): { copied: string[]; kept: string[] } {
  const from = source.weights();
  const copied = new Map<string, Tensor>();
  const kept: string[] = [];
  for (const [name, t] of target.weights()) {
    const w = from.get(name);
    if (w && w.shape.length === t.shape.length && w.shape.every((d, i) => d === t.shape[i])) copied.set(name, w);
    else kept.push(name);
  }
  if (copied.size === 0) {
    throw new ConfigError(`none of the ${from.size} weights of ${source.name} fits ${target.name} by name and shape (${[...from.keys()].slice(0, 3).join(', ')}… vs ${[...target.weights().keys()].slice(0, 3).join(', ')}…): they do not share a backbone`);
  }
  target.setWeights(copied, { strict: false });
  return { copied: [...copied.keys()], kept };
}

/** The pooled features of a batch: the global pooling layer's output, [N, channels]. */
export function embed(model: Model, x: Tensor, options: RunOptions = {}): Tensor {
  const pool = model.layers.find((l) => l instanceof GlobalAveragePooling2D || l instanceof GlobalMaxPooling2D);
  if (!pool) throw new ConfigError(`model ${model.name} has no global pooling layer to take features from`);
  return model.run(x, [pool.name], options).get(pool.name)!;
}
