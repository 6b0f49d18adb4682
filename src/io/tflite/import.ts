// A .tflite file as something our engines run: a float graph as a Model, an int8 graph as a PlannedModel of int8
// plan steps; an NCHW input (a leading TRANSPOSE to NHWC, as PyTorch's converters write) is recognised and dropped.

import { FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import type { PlannedModel } from '../../graph/plan.js';
import { floatModel } from './import-float.js';
import { int8PlannedModel } from './import-int8.js';
import type { InputLayout } from './convert-base.js';
import type { TfliteModel } from './read.js';
import { constantInt32s, decodeTflite } from './read.js';
import { TFLITE_METADATA_NAME } from './schema.js';
import { readDescription } from '../model-file.js';
import type { ModelDescription } from '../model-file.js';

export interface TfliteImport {
  model: Model | PlannedModel;
  /** The file's own input layout; the model takes NHWC (a leading TRANSPOSE from NCHW is left out). */
  inputLayout: InputLayout;
  /** Per-sample NHWC input shape. */
  inputShape: number[];
  /** The input's int8 parameters where the file takes int8 (feed it floats: the plan quantizes them with these). */
  inputQuant: { scale: number; zeroPoint: number } | null;
  /** How many operators of each kind the file has. */
  operators: Record<string, number>;
  /** What our export stored beside the graph (class names, preprocessing, architecture), where the file has it. */
  description: ModelDescription | null;
}

/** Our description in a file's metadata, checked; null where the file has none. */
function ourDescription(file: TfliteModel, source: string): ModelDescription | null {
  const bytes = file.metadata[TFLITE_METADATA_NAME];
  if (!bytes) return null;
  let entries: unknown;
  try {
    entries = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new FormatError(`${source}: metadata ${TFLITE_METADATA_NAME} is not JSON`);
  }
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) throw new FormatError(`${source}: metadata ${TFLITE_METADATA_NAME} is not a JSON object`);
  return readDescription(entries as Record<string, unknown>, source);
}

/** Imports a .tflite file's main subgraph; `source` names it in errors. */
export function importTflite(file: Uint8Array | TfliteModel, source = 'model.tflite', name = 'tflite_model'): TfliteImport {
  const decoded = file instanceof Uint8Array ? decodeTflite(file, source) : file;
  const graph = decoded.subgraphs[0];
  if (graph.inputs.length !== 1) throw new FormatError(`${source}: the model has ${graph.inputs.length} inputs; mobilenet-ts runs models of one image input`);
  let input = graph.inputs[0];
  let ops = graph.operators;
  let inputLayout: InputLayout = 'NHWC';
  const first = ops[0];
  if (first?.op === 'TRANSPOSE' && first.inputs[0] === input && graph.tensors[input].shape.length === 4) {
    const perm = constantInt32s(graph.tensors[first.inputs[1]], source);
    if (perm.join() !== '0,2,3,1') throw new FormatError(`${source}: operator 0 (TRANSPOSE) permutes the input by [${perm.join(', ')}]; only NCHW → NHWC ([0, 2, 3, 1]) is recognised`);
    input = first.outputs[0];
    ops = ops.slice(1);
    inputLayout = 'NCHW';
  }
  const stray = ops.find((op) => op.op === 'TRANSPOSE');
  if (stray) throw new FormatError(`${source}: operator ${stray.index} (TRANSPOSE) is not supported beyond an NCHW input's first operator`);
  const int8 = ops.some((op) => op.outputs.some((t) => graph.tensors[t].type === 'int8'));
  const operators: Record<string, number> = {};
  for (const op of graph.operators) operators[op.op] = (operators[op.op] ?? 0) + 1;
  const inputTensor = graph.tensors[input];
  const q = inputTensor.quantization;
  return {
    model: int8 ? int8PlannedModel(graph, input, ops, source) : floatModel(graph, input, ops, source, name),
    inputLayout,
    inputShape: inputTensor.shape.slice(1),
    inputQuant: inputTensor.type === 'int8' && q ? { scale: q.scale[0], zeroPoint: q.zeroPoint[0] } : null,
    operators,
    description: ourDescription(decoded, source),
  };
}
