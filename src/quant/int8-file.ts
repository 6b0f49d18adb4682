// The int8 model file: a standard .safetensors holding, per convolution and dense layer, an I8 kernel with F32
// per-channel scales and bias (BatchNorm folded), and in its metadata the architecture and every activation's int8 parameters.

import { FormatError, WeightsError } from '../errors.js';
import type { Plan } from '../graph/plan.js';
import { INT8_FILE_FORMAT, describeModel, parseJson, rebuildModel } from '../io/model-file.js';
import type { ModelFileInfo } from '../io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { StoredTensor } from '../io/safetensors.js';
import type { Model } from '../graph/model.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { QParams, QuantizedWeights } from './qparams.js';
import { INT8_MAX, INT8_MIN, WEIGHT_MAX } from './qparams.js';
import { QuantizedModel, planForInt8 } from './quantized-model.js';

export { INT8_FILE_FORMAT };

export interface LoadedInt8Model extends ModelFileInfo {
  quantized: QuantizedModel;
  /** The architecture and builder options the file names, as a float model file would. */
  architecture: string;
}

/** Writes `quantized`, made from `model` (whose metadata names the architecture), with `info`. */
export function encodeInt8ModelFile(model: Model, quantized: QuantizedModel, info: ModelFileInfo = {}): Uint8Array {
  const metadata = describeModel(model, info, INT8_FILE_FORMAT);
  metadata.activations = JSON.stringify(quantized.parts.params.map((p) => [p.scale, p.zeroPoint]));
  const tensors = new Map<string, StoredTensor>();
  for (const s of quantized.steps) {
    if (s.op === 'int8conv') {
      tensors.set(`${s.layers[0]}.kernel`, { shape: s.kernelShape, data: s.weights.q });
      tensors.set(`${s.layers[0]}.scales`, new Tensor([s.weights.scales.length], s.weights.scales));
      tensors.set(`${s.layers[0]}.bias`, new Tensor([s.bias.length], s.bias));
    } else if (s.step.op === 'conv' || s.step.op === 'dense') {
      const shape = s.step.op === 'conv' ? s.step.kernelShape : [s.step.kernel.length / s.step.units, s.step.units];
      tensors.set(`${s.step.layers[0]}.kernel`, new Tensor(shape, s.step.kernel));
      tensors.set(`${s.step.layers[0]}.bias`, new Tensor([s.step.bias.length], s.step.bias));
    }
  }
  return encodeSafetensors(tensors, metadata);
}

function activationParams(text: string | undefined, plan: Plan, source: string): QParams[] {
  const list = parseJson<unknown>(text, 'activations', source);
  if (!Array.isArray(list) || list.length !== plan.tensors.length) {
    throw new FormatError(`${source}: metadata activations must list [scale, zeroPoint] for each of the architecture's ${plan.tensors.length} tensors`);
  }
  return list.map((entry: unknown, i) => {
    const [scale, zeroPoint] = Array.isArray(entry) ? (entry as unknown[]) : [];
    if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale) || !Number.isInteger(zeroPoint) || (zeroPoint as number) < INT8_MIN || (zeroPoint as number) > INT8_MAX) {
      throw new FormatError(`${source}: activations[${i}] (${plan.tensors[i].name}) is ${JSON.stringify(entry)}, expected [scale > 0, integer zero point in [-128, 127]]`);
    }
    return { scale, zeroPoint: zeroPoint as number };
  });
}

/** Reads an int8 model file: rebuilds the architecture, lowers it as it was quantized, and checks every stored tensor fits. */
export function decodeInt8ModelFile(bytes: Uint8Array, source = '<buffer>'): LoadedInt8Model {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== INT8_FILE_FORMAT) {
    throw new FormatError(`${source}: not a mobilenet-ts int8 model file (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected ${INT8_FILE_FORMAT})`);
  }
  const { model, ...info } = rebuildModel(tensors, metadata, source);
  const plan = planForInt8(model);
  const params = activationParams(metadata.activations, plan, source);
  const used = new Set<string>();
  const take = (name: string, size: number): Float32Array | undefined => {
    const t = tensors.get(name);
    if (t === undefined) return undefined;
    if (t.size !== size) throw new WeightsError(`${source}: tensor ${name} has shape ${formatShape(t.shape)} (${t.size} values), the architecture needs ${size}`);
    used.add(name);
    return t.data;
  };
  const weights = new Map<string, { weights: QuantizedWeights; bias: Float32Array }>();
  for (const s of plan.steps) {
    if (s.op !== 'conv' && s.op !== 'dense') continue;
    const name = s.layers[0];
    const channels = s.bias.length;
    const kernel = take(`${name}.kernel`, s.kernel.length);
    const bias = take(`${name}.bias`, channels);
    if (kernel === undefined || bias === undefined) throw new WeightsError(`${source}: layer ${name} needs tensors ${name}.kernel and ${name}.bias`);
    const scales = take(`${name}.scales`, channels);
    if (scales === undefined) {
      s.kernel.set(kernel);
      s.bias.set(bias);
      continue;
    }
    const bad = scales.findIndex((v) => !(v > 0) || !Number.isFinite(v));
    if (bad >= 0) throw new FormatError(`${source}: ${name}.scales[${bad}] is ${scales[bad]}, expected a finite scale > 0`);
    const q = new Int8Array(kernel.length);
    for (let i = 0; i < kernel.length; i++) {
      if (!Number.isInteger(kernel[i]) || Math.abs(kernel[i]) > WEIGHT_MAX) throw new FormatError(`${source}: ${name}.kernel[${i}] is ${kernel[i]}, expected an int8 weight in [-127, 127]`);
      q[i] = kernel[i];
    }
    weights.set(name, { weights: { q, scales }, bias });
  }
  const unused = [...tensors.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) throw new WeightsError(`${source}: tensors the architecture does not use: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}`);
  return { quantized: new QuantizedModel({ plan, params, weights }), architecture: metadata.architecture, ...info };
}
