// Keras HDF5 files: whole models (`model_config` + `model_weights`) rebuilt as our graph, and weights-only
// files (Keras `applications` MobileNet/MobileNetV2) loaded by layer name into models our builders make.

import { FormatError, WeightsError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import type { Shape, Tensor } from '../../tensor/tensor.js';
import { formatShape, sameShape } from '../../tensor/tensor.js';
import { assignKerasWeights, kerasTopologyToModel } from '../tfjs/keras-import.js';
import { buildInBudget } from '../../nn/parameter-budget.js';
import type { KerasWeightBinding } from '../tfjs/keras-import.js';
import { KERAS_APPLICATION_ALIASES } from './application-aliases.js';
import { openH5 } from './h5.js';
import type { H5Reader } from './h5.js';

export { KERAS_APPLICATION_ALIASES };

export interface KerasH5Weight {
  /** As stored in `weight_names`, e.g. `Conv1/kernel:0`. */
  name: string;
  tensor: Tensor;
}

export interface KerasH5Layer {
  name: string;
  /** In `weight_names` order (Keras's own weight order for the layer). */
  weights: KerasH5Weight[];
}

export interface KerasH5Contents {
  kerasVersion?: string;
  backend?: string;
  /** The parsed `model_config` of a whole-model file; absent in weights-only files. */
  modelConfig?: unknown;
  /** Layers in `layer_names` order, weightless ones included. */
  layers: KerasH5Layer[];
}

/** Reads a Keras H5 file: the model config if any, and every layer's weights. */
export async function readKerasH5(bytes: Uint8Array, source = '<h5>'): Promise<KerasH5Contents> {
  return readContents(await openH5(bytes, source), source);
}

function readContents(h5: H5Reader, source: string): KerasH5Contents {
  const text = (path: string, name: string): string | undefined => {
    const v = h5.attribute(path, name);
    return typeof v === 'string' ? v : undefined;
  };
  const contents: KerasH5Contents = { kerasVersion: text('/', 'keras_version'), backend: text('/', 'backend'), layers: [] };
  const config = text('/', 'model_config');
  if (config !== undefined) {
    try {
      contents.modelConfig = JSON.parse(config);
    } catch (e) {
      throw new FormatError(`${source}: model_config is not valid JSON (${(e as Error).message})`);
    }
  }
  const root = h5.keys('model_weights') ? 'model_weights' : '';
  const layerNames = stringList(h5, root, 'layer_names', source);
  if (layerNames === undefined) {
    throw new FormatError(`${source}: no layer_names attribute on ${root || 'the root group'}: not a Keras H5 file (Keras 3 .weights.h5 files are not supported)`);
  }
  for (const layer of layerNames) {
    const group = root ? `${root}/${layer}` : layer;
    if (h5.keys(group) === null) throw new FormatError(`${source}: layer_names lists ${JSON.stringify(layer)} but there is no group ${group}`);
    const names = stringList(h5, group, 'weight_names', source) ?? [];
    const weights = names.map((name) => {
      const tensor = h5.dataset(`${group}/${name}`);
      if (!tensor) throw new FormatError(`${source}: layer ${layer} lists weight ${name} but ${group}/${name} is not a dataset`);
      return { name, tensor };
    });
    contents.layers.push({ name: layer, weights });
  }
  return contents;
}

/**
 * A list-of-strings attribute as Keras writes it: whole, or (when over HDF5's 64 KiB header limit) in chunks
 * `name0`, `name1`, … (Keras's `save_attributes_to_hdf5_group`).
 */
function stringList(h5: H5Reader, path: string, name: string, source: string): string[] | undefined {
  const whole = h5.attribute(path, name);
  let values: unknown[] | undefined;
  if (whole !== undefined) values = Array.isArray(whole) ? whole : [whole];
  else {
    for (let chunk = 0; ; chunk++) {
      const part = h5.attribute(path, `${name}${chunk}`);
      if (part === undefined) break;
      values = [...(values ?? []), ...(Array.isArray(part) ? part : [part])];
    }
  }
  if (values === undefined) return undefined;
  // h5py writes an empty list as an empty float array
  return values.map((v) => {
    if (typeof v === 'string') return v;
    throw new FormatError(`${source}: attribute ${name} of ${path || '/'} must hold strings, got ${JSON.stringify(v)}`);
  });
}

/** The parameter a Keras weight name stands for: `block_1_expand/kernel:0` → `kernel`. */
export function kerasWeightParam(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/:\d+$/, '');
}

export interface KerasH5ModelOptions {
  source?: string;
  /** Per-sample input shape when the config leaves dimensions open. */
  inputShape?: Shape;
}

/** Rebuilds a whole Keras model saved as H5 (`model.save('x.h5')`) as our graph with its weights. */
export async function decodeKerasH5Model(bytes: Uint8Array, options: KerasH5ModelOptions = {}): Promise<{ model: Model; kerasVersion?: string; backend?: string }> {
  const source = options.source ?? '<h5>';
  const contents = await readKerasH5(bytes, source);
  return { model: kerasH5ContentsToModel(contents, options), kerasVersion: contents.kerasVersion, backend: contents.backend };
}

/** The synchronous half of decodeKerasH5Model, for contents already read. */
export function kerasH5ContentsToModel(contents: KerasH5Contents, options: KerasH5ModelOptions = {}): Model {
  const source = options.source ?? '<h5>';
  if (contents.modelConfig === undefined) throw new FormatError(`${source}: no model_config: this is a weights-only file; build the model and use loadKerasH5Weights`);
  const stored = new Map(contents.layers.flatMap((l) => l.weights.map((w) => [`${l.name}/${w.name}`, w.tensor] as const)));
  const imported = buildInBudget(stored, source, () => kerasTopologyToModel(contents.modelConfig, { source, inputShape: options.inputShape }));
  const byGroup = new Map(contents.layers.map((l) => [l.name, l.weights]));
  const bindingsOf = new Map<string, KerasWeightBinding[]>();
  for (const b of imported.weights) bindingsOf.set(b.group, [...(bindingsOf.get(b.group) ?? []), b]);
  assignKerasWeights(imported, (b) => {
    const stored = byGroup.get(b.group);
    if (!stored) return undefined;
    const path = (w: KerasH5Weight): string => w.name.replace(/:\d+$/, '');
    // a nested model's group holds every inner layer's weights as `layer/weight`
    const named = stored.filter((w) =>
      b.group !== b.layer
        ? path(w).endsWith(`${b.layer}/${b.weight}`)
        : kerasWeightParam(w.name) === b.weight || (b.weight === 'depthwise_kernel' && kerasWeightParam(w.name) === 'kernel' && !stored.some((s) => kerasWeightParam(s.name) === 'depthwise_kernel')),
    );
    if (named.length === 1) return named[0].tensor;
    // names that say nothing (Keras 3 legacy paths, renamed variables): Keras's own rule, by position
    const siblings = bindingsOf.get(b.group)!;
    return stored.length === siblings.length ? stored[siblings.indexOf(b)].tensor : undefined;
  }, source);
  return imported.model;
}

export interface KerasH5WeightsOptions {
  source?: string;
  /**
   * Every parameter of the model must be in the file and every weighted layer of the file in the model
   * (default true). False loads what matches and leaves the rest.
   */
  strict?: boolean;
  /** File layer name → model layer name, on top of the defaults (`Logits` and `conv_preds` → `predictions`). */
  aliases?: Record<string, string>;
}

/**
 * Loads a Keras H5 file's weights (weights-only, or the `model_weights` of a whole model) into `model` by layer
 * name, as `model.load_weights(path, by_name=True)` does. Kernels may come in Keras's shapes: a depthwise
 * kernel [kh, kw, C, m] fills our [kh, kw, 1, C·m], a 1×1 conv kernel [1, 1, C, K] fills a Dense [C, K].
 * Returns the model parameters it set. Nothing changes on error.
 */
export async function loadKerasH5Weights(model: Model, bytes: Uint8Array, options: KerasH5WeightsOptions = {}): Promise<string[]> {
  return assignKerasH5Weights(model, await readKerasH5(bytes, options.source ?? '<h5>'), options);
}

/** The synchronous half of loadKerasH5Weights, for contents already read. */
export function assignKerasH5Weights(model: Model, contents: KerasH5Contents, options: KerasH5WeightsOptions = {}): string[] {
  const source = options.source ?? '<h5>';
  const strict = options.strict ?? true;
  const aliases: Record<string, string> = { ...KERAS_APPLICATION_ALIASES, ...options.aliases };
  const own = model.weights();
  const values = new Map<string, Tensor>();
  const unexpected: string[] = [];
  const misshaped: string[] = [];
  for (const layer of contents.layers) {
    if (layer.weights.length === 0) continue;
    const target = model.hasLayer(layer.name) ? layer.name : aliases[layer.name];
    if (target === undefined || !model.hasLayer(target)) {
      unexpected.push(...layer.weights.map((w) => `${layer.name}/${kerasWeightParam(w.name)}`));
      continue;
    }
    const ours = model.getLayer(target);
    const specs = ours.paramSpecs.map((s) => s.name);
    const params = layer.weights.map((w) => ourParam(kerasWeightParam(w.name), specs));
    // unrecognised names: Keras's weight order is ours, layer for layer
    const byOrder = params.some((p) => p === undefined) && layer.weights.length === specs.length;
    layer.weights.forEach((w, i) => {
      const param = byOrder ? specs[i] : params[i];
      if (param === undefined) {
        unexpected.push(`${layer.name}/${kerasWeightParam(w.name)}`);
        return;
      }
      const key = `${target}.${param}`;
      const wanted = own.get(key)!.shape;
      if (!fits(w.tensor.shape, wanted)) misshaped.push(`${layer.name}/${kerasWeightParam(w.name)} → ${key}: expected ${formatShape(wanted)} got ${formatShape(w.tensor.shape)}`);
      else values.set(key, w.tensor.reshape(wanted));
    });
  }
  const missing = strict ? [...own.keys()].filter((k) => !values.has(k)) : [];
  if ((strict && unexpected.length) || misshaped.length || missing.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length}: ${few(missing)}`);
    if (strict && unexpected.length) parts.push(`not in the model ${unexpected.length}: ${few(unexpected)}`);
    if (misshaped.length) parts.push(`wrong shape ${misshaped.length}: ${few(misshaped)}`);
    throw new WeightsError(`${source}: Keras weights do not fit model ${model.name}: ${parts.join('; ')}`, missing, unexpected);
  }
  model.setWeights(values, { strict: false });
  return [...values.keys()];
}

/** Our parameter for a Keras weight name, given the layer's parameters (Keras 3 calls a depthwise kernel `kernel`). */
function ourParam(kerasName: string, specs: string[]): string | undefined {
  if (specs.includes(kerasName)) return kerasName;
  if (kerasName === 'kernel' && specs.includes('depthwise_kernel')) return 'depthwise_kernel';
  return undefined;
}

/** Same shape, or one of the two layouts Keras stores the same memory in. */
function fits(given: Shape, wanted: Shape): boolean {
  if (sameShape(given, wanted)) return true;
  // depthwise: Keras [kh, kw, C, m], ours [kh, kw, 1, C·m]
  if (given.length === 4 && wanted.length === 4 && wanted[2] === 1 && given[0] === wanted[0] && given[1] === wanted[1] && given[2] * given[3] === wanted[3]) return true;
  // a 1×1 conv classifier [1, 1, C, K] into a Dense [C, K]
  return given.length === 4 && wanted.length === 2 && given[0] === 1 && given[1] === 1 && given[2] === wanted[0] && given[3] === wanted[1];
}

function few(list: string[]): string {
  return list.length <= 6 ? list.join(', ') : `${list.slice(0, 6).join(', ')}, … (${list.length - 6} more)`;
}
