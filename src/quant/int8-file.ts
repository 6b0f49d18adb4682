// The int8 model file: a standard .safetensors holding, per convolution and dense layer, an I8 kernel with F32
// per-channel scales and bias (BatchNorm folded), and in its metadata the architecture and every activation's int8 parameters
// (planForInt8's tensors); files of the first format (residual adds fused before calibration) still load.

import { FormatError, WeightsError } from '../errors.js';
import { lowerModel } from '../graph/lower.js';
import type { Plan, PlanTensor } from '../graph/plan.js';
import { INT8_FILE_FORMAT, describeModel, parseJson, rebuildModel } from '../io/model-file.js';
import type { ModelFileInfo } from '../io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { StoredTensor } from '../io/safetensors.js';
import type { Model } from '../graph/model.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { QParams } from './qparams.js';
import { INT8_MAX, INT8_MIN, WEIGHT_MAX } from './qparams.js';
import { QuantizedModel, planForInt8 } from './quantized-model.js';
import type { Int8Weights } from './quantized-model.js';

export { INT8_FILE_FORMAT };

export interface LoadedInt8Model extends ModelFileInfo {
  quantized: QuantizedModel;
  /** The architecture and builder options the file names, as a float model file would. */
  architecture: string;
  /** How the file was read, when that is worth telling (a file of the first int8 format). */
  notes: string[];
}

/** The metadata entry of files whose activations are those of planForInt8 (residual adds apart), computed in TFLite's arithmetic. */
const ARITHMETIC_ENTRY = 'int8Arithmetic';
const ARITHMETIC = 'tflite';

/** Writes `quantized`, made from `model` (whose metadata names the architecture), with `info`. */
export function encodeInt8ModelFile(model: Model, quantized: QuantizedModel, info: ModelFileInfo = {}): Uint8Array {
  const metadata = describeModel(model, info, INT8_FILE_FORMAT);
  const { plan, params, weights } = quantized.parts;
  metadata.activations = JSON.stringify(params.map((p) => [p.scale, p.zeroPoint]));
  metadata[ARITHMETIC_ENTRY] = ARITHMETIC;
  const tensors = new Map<string, StoredTensor>();
  for (const s of plan.steps) {
    if (s.op !== 'conv' && s.op !== 'dense') continue;
    const name = s.layers[0];
    const w = weights.get(name);
    // the plan's kernels of int8 steps are emptied: the int8 weights give a dense layer's input size
    const size = w ? w.weights.q.length : s.kernel.length;
    const shape = s.op === 'conv' ? s.kernelShape : [size / s.units, s.units];
    tensors.set(`${name}.kernel`, w ? { shape, data: w.weights.q } : new Tensor(shape, s.kernel));
    if (w) tensors.set(`${name}.scales`, new Tensor([w.weights.scales.length], w.weights.scales));
    tensors.set(`${name}.bias`, new Tensor([s.bias.length], w?.bias ?? s.bias));
  }
  return encodeSafetensors(tensors, metadata);
}

/** The [scale, zeroPoint] list of the metadata, one per tensor of `tensors`. */
function activationParams(text: string | undefined, tensors: readonly PlanTensor[], source: string): QParams[] {
  const list = parseJson<unknown>(text, 'activations', source);
  if (!Array.isArray(list) || list.length !== tensors.length) {
    throw new FormatError(`${source}: metadata activations must list [scale, zeroPoint] for each of the architecture's ${tensors.length} tensors`);
  }
  return list.map((entry: unknown, i) => {
    const [scale, zeroPoint] = Array.isArray(entry) ? (entry as unknown[]) : [];
    if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale) || !Number.isInteger(zeroPoint) || (zeroPoint as number) < INT8_MIN || (zeroPoint as number) > INT8_MAX) {
      throw new FormatError(`${source}: activations[${i}] (${tensors[i].name}) is ${JSON.stringify(entry)}, expected [scale > 0, integer zero point in [-128, 127]]`);
    }
    return { scale, zeroPoint: zeroPoint as number };
  });
}

/**
 * A file of the first int8 format lists the tensors of a lowering with residual adds fused into convolutions: each tensor
 * of planForInt8 takes the entry of its name, and a convolution's result before the add (which that lowering never
 * wrote) takes the sum's parameters.
 */
function legacyActivationParams(text: string | undefined, model: Model, plan: Plan, source: string): QParams[] {
  const fused = lowerModel(model, { fuseBlocks: false });
  const listed = activationParams(text, fused.tensors, source);
  const byName = new Map(fused.tensors.map((t, i) => [t.name, listed[i]]));
  return plan.tensors.map((t) => {
    const sum = plan.steps.find((s) => s.op === 'add' && s.inputs.includes(t.id));
    const params = byName.get(t.name) ?? (sum && byName.get(plan.tensors[sum.output].name));
    if (!params) throw new FormatError(`${source}: an int8 model file of the first format without parameters for tensor ${t.name}: quantize the float model again (mobilenet quantize)`);
    return params;
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
  const legacy = metadata[ARITHMETIC_ENTRY] === undefined;
  if (!legacy && metadata[ARITHMETIC_ENTRY] !== ARITHMETIC) throw new FormatError(`${source}: metadata ${ARITHMETIC_ENTRY} is ${JSON.stringify(metadata[ARITHMETIC_ENTRY])}, expected ${JSON.stringify(ARITHMETIC)}`);
  const params = legacy ? legacyActivationParams(metadata.activations, model, plan, source) : activationParams(metadata.activations, plan.tensors, source);
  const notes = legacy ? ['an int8 model file of the first format: its residual adds now run in TFLite\'s int8 arithmetic, each convolution before its add at the sum\'s parameters (quantize again for calibrated ones)'] : [];
  const used = new Set<string>();
  const take = (name: string, size: number): Float32Array | undefined => {
    const t = tensors.get(name);
    if (t === undefined) return undefined;
    if (t.size !== size) throw new WeightsError(`${source}: tensor ${name} has shape ${formatShape(t.shape)} (${t.size} values), the architecture needs ${size}`);
    used.add(name);
    return t.data;
  };
  const weights = new Map<string, Int8Weights>();
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
  return { quantized: new QuantizedModel({ plan, params, weights, outputNames: model.outputNames }), architecture: metadata.architecture, notes, ...info };
}
