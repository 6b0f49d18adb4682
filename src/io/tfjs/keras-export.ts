// Our functional graph → a Keras topology as tfjs-layers writes it (class names, snake_case configs, inbound
// nodes), with each parameter under its Keras weight name and shape; padding Keras cannot say becomes ZeroPadding2D.

import { ConfigError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { ActivationLayer, Softmax } from '../../nn/activation.js';
import { Conv2D, ConvLayer, DepthwiseConv2D } from '../../nn/conv.js';
import { Arithmetic, Clip, Concatenate, HardSigmoid, HardSwish, Sigmoid, Transpose } from '../../nn/extra.js';
import { Add, Dense, Dropout, Flatten, InputLayer, Reshape, ZeroPadding2D } from '../../nn/core.js';
import type { Layer } from '../../nn/layer.js';
import { ArgMax } from '../../nn/argmax.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { Resize } from '../../nn/resize.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import type { Padding4 } from '../../ops/geometry.js';
import { resolvePadding } from '../../ops/geometry.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Json } from './keras-config.js';

/** What tfjs-layers writes as `keras_version`; we write our own name in its place. */
export const KERAS_VERSION_TAG = 'mobilenet-ts';

export interface KerasExport {
  /** `{class_name: 'Model', config: {name, layers, input_layers, output_layers}, keras_version, backend}`. */
  topology: Json;
  /** Weights in Keras order, named `layer/weight`, in Keras shapes (same memory as ours). */
  weights: { name: string; tensor: Tensor }[];
}

interface LayerEntry {
  class_name: string;
  name: string;
  config: Json;
  inbound_nodes: unknown[];
}

export interface KerasTopologyOptions {
  /**
   * Also write the layers Keras has no class for — arithmetic with a constant (its values in the config), clip,
   * hard sigmoid, hard swish, bilinear resize, argmax — under our own class names, which kerasTopologyToModel reads and Keras does not:
   * for our model file's graph entry, not for TF.js.
   */
  extended?: boolean;
}

/** Describes `model` as a Keras functional model. Throws ConfigError for layers Keras cannot express. */
export function modelToKerasTopology(model: Model, options: KerasTopologyOptions = {}): KerasExport {
  const layers: LayerEntry[] = [];
  const weights: { name: string; tensor: Tensor }[] = [];
  const taken = new Set(model.layers.map((l) => l.name));
  // our tensor names are their producing layer's names; an inserted ZeroPadding2D renames a conv's input
  const inputOf = (name: string): unknown[] => [[[name, 0, 0, {}]]];
  const uniqueName = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  for (const node of model.nodes) {
    const layer = node.layer;
    const inputs = node.inputs.map((t) => t.name);
    let source = inputs[0];
    const entry = (className: string, config: Json, from: unknown[] = inputOf(source)): void => {
      layers.push({ class_name: className, name: layer.name, config: { name: layer.name, trainable: layer.trainable, dtype: 'float32', ...config }, inbound_nodes: from });
    };
    const weight = (param: string, shape?: number[]): void => {
      const t = layer.param(param);
      weights.push({ name: `${layer.name}/${param}`, tensor: shape ? t.reshape(shape) : t });
    };
    if (layer instanceof InputLayer) {
      layers.push({
        class_name: 'InputLayer',
        name: layer.name,
        config: { batch_input_shape: [null, ...layer.shape], dtype: 'float32', sparse: false, name: layer.name },
        inbound_nodes: [],
      });
    } else if (layer instanceof ConvLayer) {
      const [h, w] = layer.inputShapes[0];
      const padding = kerasPadding(layer.resolvedPadding, h, w, layer);
      if (padding.explicit) {
        const padName = uniqueName(`${layer.name}_pad`);
        const [t, b, l, r] = padding.explicit;
        layers.push({ class_name: 'ZeroPadding2D', name: padName, config: { name: padName, trainable: false, dtype: 'float32', padding: [[t, b], [l, r]], data_format: 'channels_last' }, inbound_nodes: inputOf(source) });
        source = padName;
      }
      const common = {
        kernel_size: [...layer.kernelSize],
        strides: [...layer.strides],
        padding: padding.mode,
        data_format: 'channels_last',
        dilation_rate: [...layer.dilations],
        activation: layer.activation,
        use_bias: layer.useBias,
      };
      if (layer instanceof DepthwiseConv2D) {
        const [kh, kw, , cm] = layer.kernel.shape;
        entry('DepthwiseConv2D', { ...common, depth_multiplier: layer.depthMultiplier });
        weight('depthwise_kernel', [kh, kw, cm / layer.depthMultiplier, layer.depthMultiplier]);
      } else if (layer instanceof Conv2D) {
        entry('Conv2D', { filters: layer.filters, ...common, ...(layer.groups > 1 ? { groups: layer.groups } : {}) });
        weight('kernel');
      } else throw unsupported(layer);
      if (layer.useBias) weight('bias');
    } else if (layer instanceof BatchNormalization) {
      entry('BatchNormalization', { axis: -1, momentum: layer.momentum, epsilon: layer.epsilon, center: true, scale: true });
      for (const p of ['gamma', 'beta', 'moving_mean', 'moving_variance']) weight(p);
    } else if (layer instanceof Dense) {
      entry('Dense', { units: layer.units, activation: layer.activation, use_bias: layer.useBias });
      weight('kernel');
      if (layer.useBias) weight('bias');
    } else if (layer instanceof ActivationLayer) {
      if (layer.activation === 'relu6') entry('ReLU', { max_value: 6 });
      else if (layer.activation === 'relu') entry('ReLU', { max_value: null });
      else entry('Activation', { activation: layer.activation });
    } else if (layer instanceof Sigmoid) {
      entry('Activation', { activation: 'sigmoid' });
    } else if (layer instanceof Clip && layer.lo === 0) {
      entry('ReLU', { max_value: Number.isFinite(layer.hi) ? layer.hi : null });
    } else if (layer instanceof Softmax) {
      entry('Softmax', { axis: -1 });
    } else if (layer instanceof Add) {
      entry('Add', {}, [inputs.map((name) => [name, 0, 0, {}])]);
    } else if (layer instanceof ZeroPadding2D) {
      const [t, b, l, r] = layer.padding;
      entry('ZeroPadding2D', { padding: [[t, b], [l, r]], data_format: 'channels_last' });
    } else if (layer instanceof GlobalAveragePooling2D || layer instanceof GlobalMaxPooling2D) {
      entry(layer.kind, { data_format: 'channels_last', ...(layer.keepDims ? { keepdims: true } : {}) });
    } else if (layer instanceof AveragePooling2D || layer instanceof MaxPooling2D) {
      const o = layer.options;
      const pair = (v: number | readonly [number, number]): number[] => (typeof v === 'number' ? [v, v] : [...v]);
      const mode = o.padding ?? 'valid';
      if (mode !== 'same' && mode !== 'valid') throw new ConfigError(`layer ${layer.name} (${layer.kind}): padding ${JSON.stringify(mode)} has no Keras equivalent (same or valid)`);
      if (layer instanceof AveragePooling2D && o.countIncludePad && mode === 'same') throw new ConfigError(`layer ${layer.name}: average pooling that counts padding has no Keras equivalent`);
      entry(layer.kind, { pool_size: pair(o.poolSize), strides: pair(o.strides ?? o.poolSize), padding: mode, data_format: 'channels_last' });
    } else if (layer instanceof Flatten) {
      entry('Flatten', { data_format: 'channels_last' });
    } else if (layer instanceof Reshape) {
      entry('Reshape', { target_shape: [...layer.outputShape] });
    } else if (layer instanceof Dropout) {
      entry('Dropout', { rate: layer.rate });
    } else if (layer instanceof Concatenate) {
      entry('Concatenate', { axis: layer.axis < 0 ? layer.axis : layer.axis + 1 }, [inputs.map((name) => [name, 0, 0, {}])]);
    } else if (layer instanceof Transpose) {
      entry('Permute', { dims: layer.perm.map((p) => p + 1) });
    } else if (options.extended && layer instanceof Arithmetic) {
      const c = layer.constant;
      const constant = c ? { constant: { side: c.side, shape: [...c.value.shape], values: [...c.value.data] } } : {};
      entry('Arithmetic', { op: layer.op, ...constant }, [inputs.map((name) => [name, 0, 0, {}])]);
    } else if (options.extended && layer instanceof Clip) {
      // JSON has no infinities: an open bound is null
      entry('Clip', { min: Number.isFinite(layer.lo) ? layer.lo : null, max: Number.isFinite(layer.hi) ? layer.hi : null });
    } else if (options.extended && layer instanceof HardSigmoid) {
      entry('HardSigmoid', { alpha: layer.alpha, beta: layer.beta });
    } else if (options.extended && layer instanceof HardSwish) {
      entry('HardSwish', {});
    } else if (options.extended && layer instanceof Resize) {
      // Keras' Resizing is half-pixel but tfjs-layers' is align-corners: no class means the same in both, so ours
      entry('Resize', layer.config());
    } else if (options.extended && layer instanceof ArgMax) {
      entry('ArgMax', {});
    } else throw unsupported(layer);
  }
  const topology: Json = {
    class_name: 'Model',
    config: { name: model.name, layers, input_layers: [[model.input.name, 0, 0]], ...outputLayers(model, options) },
    keras_version: KERAS_VERSION_TAG,
    backend: 'tensor_flow.js',
  };
  return { topology, weights };
}

/** `output_layers`, one per output; in the extended form also `output_names` where they are not the layers' names. */
function outputLayers(model: Model, options: KerasTopologyOptions): Json {
  const layerNames = model.outputNames.map((name) => model.outputTensor(name).name);
  const renamed = model.outputNames.some((name, k) => name !== layerNames[k]);
  return { output_layers: layerNames.map((name) => [name, 0, 0]), ...(options.extended && renamed ? { output_names: model.outputNames } : {}) };
}

function unsupported(layer: Layer): ConfigError {
  return new ConfigError(`layer ${layer.name} (${layer.kind}) has no Keras/TF.js equivalent`);
}

/** `same` or `valid` where Keras's rule gives exactly our padding; otherwise explicit zero padding before a valid conv. */
function kerasPadding(pad: Padding4, h: number, w: number, layer: ConvLayer): { mode: 'same' | 'valid'; explicit?: Padding4 } {
  if (layer.padding === 'same' || layer.padding === 'valid') return { mode: layer.padding };
  if (pad.every((p) => p === 0)) return { mode: 'valid' };
  const win = { kernel: layer.kernelSize, strides: layer.strides, dilations: layer.dilations };
  const same = resolvePadding('same', h, w, win);
  if (pad.every((p, i) => p === same[i])) return { mode: 'same' };
  return { mode: 'valid', explicit: pad };
}
