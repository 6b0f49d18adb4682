// Writes HDF5 files (through h5wasm, as h5py would) in Keras's `save_weights_to_hdf5_group` / `save_model_to_hdf5`
// layout: root attrs, fixed-length `layer_names`/`weight_names`, a group per layer, datasets at `<layer>/<weight name>`;
// and Keras 3's forms: configs as Keras 3 serializes them, and `.keras` archives (config, metadata, model.weights.h5).

import h5wasm from 'h5wasm';
import type { Tensor } from '../../src/tensor/tensor.js';
import { writeStoredZip } from '../../src/io/pth/zip.js';

export interface KerasH5LayerSpec {
  name: string;
  /** Weight name as Keras stores it (`Conv1/kernel:0`) and its value in Keras's shape. */
  weights: { name: string; tensor: Tensor }[];
}

export interface KerasH5Spec {
  layers: KerasH5LayerSpec[];
  /** A whole model: `model_config` at the root and the weights under `model_weights`. */
  modelConfig?: unknown;
  kerasVersion?: string;
}

let counter = 0;

/** h5py stores a list of Python bytes as a fixed-length string array sized to the longest; an empty list as float64[0]. */
function stringListAttribute(target: InstanceType<typeof h5wasm.Group>, name: string, values: string[]): void {
  if (values.length === 0) target.create_attribute(name, new Float64Array(0), [0]);
  else target.create_attribute(name, values, [values.length], `A${Math.max(...values.map((v) => v.length))}`);
}

export async function writeKerasH5(spec: KerasH5Spec): Promise<Uint8Array> {
  const module = await h5wasm.ready;
  const path = `/keras-writer-${++counter}.h5`;
  const file = new h5wasm.File(path, 'w');
  const version = spec.kerasVersion ?? '2.13.1';
  file.create_attribute('keras_version', version);
  file.create_attribute('backend', 'tensorflow');
  let weights: InstanceType<typeof h5wasm.Group> = file;
  if (spec.modelConfig !== undefined) {
    // Keras writes json.dumps(config).encode('utf8'): a fixed-length byte string
    const json = JSON.stringify(spec.modelConfig);
    file.create_attribute('model_config', json, null, `S${json.length}`);
    weights = file.create_group('model_weights');
    weights.create_attribute('backend', 'tensorflow');
    weights.create_attribute('keras_version', version);
  }
  stringListAttribute(weights, 'layer_names', spec.layers.map((l) => l.name));
  for (const layer of spec.layers) {
    const group = weights.create_group(layer.name);
    stringListAttribute(group, 'weight_names', layer.weights.map((w) => w.name));
    for (const { name, tensor } of layer.weights) {
      // `Conv1/kernel:0` lives at <layer>/Conv1/kernel:0: h5py creates the intermediate group
      const parts = name.split('/');
      let parent = group;
      for (const part of parts.slice(0, -1)) parent = (parent.get(part) as typeof group | null) ?? parent.create_group(part);
      parent.create_dataset({ name: parts.at(-1)!, data: tensor.data, shape: [...tensor.shape], dtype: '<f' });
    }
  }
  file.close();
  const bytes = module.FS!.readFile(path) as Uint8Array;
  module.FS!.unlink(path);
  return bytes;
}

/** Rewrites a Keras 2 / tfjs topology in the form Keras 3 saves. */
export function toKeras3(topology: Record<string, unknown>): unknown {
  const config = structuredClone(topology.config) as { layers: Record<string, unknown>[]; input_layers: unknown[][]; output_layers: unknown[][] };
  const tensor = ([name]: unknown[]): unknown => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [name, 0, 0] } });
  for (const layer of config.layers) {
    const c = layer.config as Record<string, unknown>;
    if ('batch_input_shape' in c) {
      c.batch_shape = c.batch_input_shape;
      delete c.batch_input_shape;
    }
    if (typeof c.activation === 'string') c.activation = { module: 'keras.activations', class_name: 'function', config: c.activation, registered_name: 'function' };
    const nodes = layer.inbound_nodes as unknown[][][];
    layer.inbound_nodes = nodes.map((refs) => ({ args: refs.length === 1 ? [tensor(refs[0])] : [refs.map(tensor)], kwargs: {} }));
    layer.module = 'keras.layers';
    layer.registered_name = null;
    layer.name = c.name;
  }
  return { module: 'keras', class_name: 'Functional', config: { ...config, input_layers: config.input_layers[0], output_layers: config.output_layers[0] }, registered_name: 'Functional' };
}

export interface KerasArchiveSpec {
  /** config.json: the model as Keras 3's serialize_keras_object writes it. */
  config: unknown;
  /** Every saveable's variables group: its path (`layers/conv2d`) and variables in Keras's order (`vars/0`, …). */
  saveables: { path: string; vars: Tensor[] }[];
  kerasVersion?: string;
}

/**
 * A `.keras` file as Keras 3's saving_lib writes it: a stored (uncompressed) zip of metadata.json, config.json and
 * model.weights.h5, where the H5 holds an empty `vars` group for the model itself and `<path>/vars/<i>` datasets.
 */
export async function writeKerasArchive(spec: KerasArchiveSpec): Promise<Uint8Array> {
  const module = await h5wasm.ready;
  const path = `/keras-archive-${++counter}.h5`;
  const file = new h5wasm.File(path, 'w');
  file.create_group('vars');
  for (const saveable of spec.saveables) {
    let group: InstanceType<typeof h5wasm.Group> = file;
    for (const part of [...saveable.path.split('/'), 'vars']) group = (group.get(part) as typeof group | null) ?? group.create_group(part);
    saveable.vars.forEach((t, i) => group.create_dataset({ name: String(i), data: t.data, shape: [...t.shape], dtype: '<f' }));
  }
  file.close();
  const weights = module.FS!.readFile(path) as Uint8Array;
  module.FS!.unlink(path);
  const text = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
  return writeStoredZip([
    { name: 'metadata.json', data: text({ keras_version: spec.kerasVersion ?? '3.6.0', date_saved: '2026-01-01@00:00:00' }) },
    { name: 'config.json', data: text(spec.config) },
    { name: 'model.weights.h5', data: weights },
  ]);
}
