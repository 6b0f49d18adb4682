// The cost model: per layer name, kind, output shape, parameters, multiply-adds and activation bytes,
// and totals with parameters counted three ways (TF-slim `weights`, torchvision `trainable`, Keras `total`).

import type { Model } from '../graph/model.js';
import { ConvLayer } from '../nn/conv.js';
import { convKind } from '../ops/conv-kind.js';
import { Dense } from '../nn/core.js';
import type { Layer, ParamRole } from '../nn/layer.js';
import { sizeOf } from '../tensor/tensor.js';
import { activationMemory } from './activation-memory.js';
import type { ActivationMemory } from './activation-memory.js';

/** Parameter counts in the three conventions in use. */
export interface ParamCounts {
  /** Conv and dense weights and biases, no BatchNorm: the TF-slim table's rule. */
  weights: number;
  /** Plus BN γ and β: torchvision's `sum(p.numel() for p in parameters())`. */
  trainable: number;
  /** Plus BN moving mean and variance: Keras's `count_params()`. */
  total: number;
}

/** What a layer computes, for cost accounting: the four conv families, dense, or something cheap. */
export type CostKind = 'conv_standard' | 'conv_depthwise' | 'conv_pointwise' | 'conv_grouped' | 'linear' | 'other';

export interface LayerCost {
  name: string;
  kind: string;
  costKind: CostKind;
  block: string | null;
  /** Per-sample output shape. */
  outputShape: number[];
  /** A convolution's window: kernel, strides and dilation rates ([height, width] each); null for other layers. */
  window: ConvWindow | null;
  params: ParamCounts;
  /** Multiply-adds per image: Cout·Hout·Wout·(Cin/groups)·kh·kw for convs, in·out for dense. */
  macs: number;
  /** Bytes of the layer's float32 output for one image. */
  activationBytes: number;
}

export interface ConvWindow {
  kernel: [number, number];
  strides: [number, number];
  /** Atrous rate; dilation does not change the MACs (the same taps, spread out). */
  rates: [number, number];
}

export interface ModelCost {
  model: string;
  inputShape: number[];
  macs: number;
  params: ParamCounts;
  /** Peak float32 activation bytes of plain layer-by-layer execution, batch 1. */
  activationBytes: number;
  memory: ActivationMemory;
  macsByKind: Partial<Record<CostKind, { macs: number; params: number }>>;
  layers: LayerCost[];
}

const WEIGHT_ROLES: ReadonlySet<ParamRole> = new Set(['kernel', 'bias']);
const TRAINABLE_ROLES: ReadonlySet<ParamRole> = new Set(['kernel', 'bias', 'gamma', 'beta']);

export function countParams(layer: Layer): ParamCounts {
  const counts = { weights: 0, trainable: 0, total: 0 };
  for (const spec of layer.paramSpecs) {
    const n = sizeOf(spec.shape);
    if (WEIGHT_ROLES.has(spec.role)) counts.weights += n;
    if (TRAINABLE_ROLES.has(spec.role)) counts.trainable += n;
    counts.total += n;
  }
  return counts;
}

export function costKind(layer: Layer): CostKind {
  if (layer instanceof Dense) return 'linear';
  if (!(layer instanceof ConvLayer)) return 'other';
  return `conv_${convKind(layer.kernel.shape, layer.conv)}`;
}

export function layerCost(layer: Layer): LayerCost {
  const outputShape = [...layer.outputShape];
  return {
    name: layer.name,
    kind: layer.kind,
    costKind: costKind(layer),
    block: layer.block ?? null,
    outputShape,
    window: layer instanceof ConvLayer ? { kernel: [...layer.kernelSize], strides: [...layer.strides], rates: [...layer.dilations] } : null,
    params: countParams(layer),
    macs: layer.macs(),
    activationBytes: 4 * sizeOf(outputShape),
  };
}

export function modelCost(model: Model): ModelCost {
  const layers = model.layers.map(layerCost);
  const params = { weights: 0, trainable: 0, total: 0 };
  const macsByKind: ModelCost['macsByKind'] = {};
  let macs = 0;
  for (const l of layers) {
    params.weights += l.params.weights;
    params.trainable += l.params.trainable;
    params.total += l.params.total;
    macs += l.macs;
    if (l.costKind !== 'other') {
      const k = (macsByKind[l.costKind] ??= { macs: 0, params: 0 });
      k.macs += l.macs;
      k.params += l.params.weights;
    }
  }
  const memory = activationMemory(model);
  return { model: model.name, inputShape: [...model.inputShape], macs, params, activationBytes: memory.peakBytes, memory, macsByKind, layers };
}
