// Writes HDF5 files (through h5wasm, as h5py would) in Keras's `save_weights_to_hdf5_group` / `save_model_to_hdf5`
// layout: root attrs, fixed-length `layer_names`/`weight_names`, a group per layer, datasets at `<layer>/<weight name>`.

import h5wasm from 'h5wasm';
import type { Tensor } from '../src/tensor/tensor.js';

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
