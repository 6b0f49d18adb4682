// Keras 3 `.keras` archives: a zip of config.json (the model's serialized config), metadata.json and model.weights.h5,
// whose variables sit at `layers/<snake_case class>[_k]/vars/<i>` (Keras's saving_lib); rebuilt as our graph.

import { FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import type { Shape, Tensor } from '../../tensor/tensor.js';
import { decodeUtf8 } from '../elements.js';
import { ZipReader } from '../pth/zip.js';
import { isObject } from '../tfjs/keras-config.js';
import type { Json } from '../tfjs/keras-config.js';
import { assignKerasWeights, kerasTopologyToModel } from '../tfjs/keras-import.js';
import type { KerasWeightBinding } from '../tfjs/keras-import.js';
import { openH5 } from './h5.js';

import { KERAS_CONFIG_ENTRY, KERAS_METADATA_ENTRY, KERAS_WEIGHTS_ENTRY } from './archive-entries.js';

export { KERAS_CONFIG_ENTRY, KERAS_METADATA_ENTRY, KERAS_WEIGHTS_ENTRY };

export interface KerasArchiveOptions {
  source?: string;
  /** Per-sample input shape when the config leaves dimensions open. */
  inputShape?: Shape;
}

export interface KerasArchive {
  model: Model;
  /** metadata.json as it is: `keras_version`, `date_saved`. */
  metadata: Json;
  kerasVersion?: string;
}

/** Keras's `naming.to_snake_case`: `DepthwiseConv2D` → `depthwise_conv2d`, `ReLU` → `re_lu`. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

/**
 * Where each layer's variables are in model.weights.h5, by Keras layer name. Keras saves the `layers` list of a
 * Functional or Sequential as a container: each layer under its class name in snake case, numbered `_1`, `_2`, …
 * when the class repeats; a nested model's own layers under `<its path>/layers/`. Sequential lists no InputLayer.
 */
export function kerasVariablePaths(config: unknown, source: string, prefix = 'layers'): Map<string, string> {
  const paths = new Map<string, string>();
  if (!isObject(config) || !isObject(config.config) || !Array.isArray(config.config.layers)) throw new FormatError(`${source}: config.json has no config.layers list`);
  const sequential = config.class_name === 'Sequential';
  const used = new Map<string, number>();
  for (const layer of config.config.layers as unknown[]) {
    if (!isObject(layer) || typeof layer.class_name !== 'string') throw new FormatError(`${source}: a layer of config.json has no class_name`);
    if (sequential && layer.class_name === 'InputLayer') continue;
    const base = kerasSnakeCase(layer.class_name);
    const seen = used.get(base);
    used.set(base, seen === undefined ? 0 : seen + 1);
    const path = `${prefix}/${seen === undefined ? base : `${base}_${seen + 1}`}`;
    const name = typeof layer.name === 'string' ? layer.name : isObject(layer.config) && typeof layer.config.name === 'string' ? layer.config.name : undefined;
    if (name === undefined) throw new FormatError(`${source}: a ${layer.class_name} layer of config.json has no name`);
    paths.set(name, path);
    if (MODEL_CLASSES.has(layer.class_name)) for (const [inner, p] of kerasVariablePaths(layer, source, `${path}/layers`)) paths.set(inner, p);
  }
  return paths;
}

/** Reads a `.keras` archive (Keras 3 `model.save('m.keras')`) into our Model with its weights. */
export async function decodeKerasArchive(bytes: Uint8Array, options: KerasArchiveOptions = {}): Promise<KerasArchive> {
  const source = options.source ?? '<keras>';
  const zip = new ZipReader(bytes, source);
  const json = (entry: string): Json => {
    const text = decodeUtf8(zip.read(entry), (offset) => new FormatError(`${source}: ${entry} is not valid UTF-8`, offset));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new FormatError(`${source}: ${entry} is not valid JSON (${(e as Error).message})`);
    }
    if (!isObject(value)) throw new FormatError(`${source}: ${entry} must hold a JSON object`);
    return value;
  };
  for (const entry of [KERAS_CONFIG_ENTRY, KERAS_WEIGHTS_ENTRY]) {
    if (!zip.entries.has(entry)) {
      const npz = entry === KERAS_WEIGHTS_ENTRY && zip.entries.has('model.weights.npz') ? ' (weights saved as .npz are not supported)' : '';
      throw new FormatError(`${source}: not a Keras 3 archive: no ${entry}${npz}; entries ${[...zip.entries.keys()].slice(0, 8).join(', ') || 'none'}`);
    }
  }
  const config = json(KERAS_CONFIG_ENTRY);
  const metadata = zip.entries.has(KERAS_METADATA_ENTRY) ? json(KERAS_METADATA_ENTRY) : {};
  const imported = kerasTopologyToModel(config, { source, inputShape: options.inputShape });
  const paths = kerasVariablePaths(config, source);
  const h5 = await openH5(zip.read(KERAS_WEIGHTS_ENTRY), `${source}: ${KERAS_WEIGHTS_ENTRY}`);
  const byLayer = new Map<string, KerasWeightBinding[]>();
  for (const b of imported.weights) byLayer.set(b.layer, [...(byLayer.get(b.layer) ?? []), b]);
  const stored = new Map<string, Tensor>();
  for (const [layer, bindings] of byLayer) {
    const vars = `${paths.get(layer) ?? `layers/${layer}`}/vars`;
    const keys = h5.keys(vars);
    if (keys === null) continue; // reported as missing weights below
    // Keras saves a layer's variables in creation order, numbered: trainable ones first, then the rest
    if (keys.length !== bindings.length) throw new FormatError(`${source}: ${vars} holds ${keys.length} variables, layer ${layer} has ${bindings.length} (${bindings.map((b) => b.weight).join(', ')})`);
    bindings.forEach((b, i) => {
      const tensor = h5.dataset(`${vars}/${i}`);
      if (!tensor) throw new FormatError(`${source}: ${vars}/${i} is not a dataset`);
      stored.set(`${layer}/${b.weight}`, tensor);
    });
  }
  assignKerasWeights(imported, (b) => stored.get(`${b.layer}/${b.weight}`), source);
  const kerasVersion = typeof metadata.keras_version === 'string' ? metadata.keras_version : undefined;
  imported.model.metadata = { importedFrom: { format: 'keras', source, kerasVersion: kerasVersion ?? null } };
  return { model: imported.model, metadata, kerasVersion };
}
