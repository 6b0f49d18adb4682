// ONNX import: a ModelProto (NCHW activations, batch axis first) becomes our functional graph (NHWC per-sample
// shapes). Each value's layout is tracked, so transposes and flattens cost nothing where a weight permutation can do.

import { FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { ReLU } from '../../nn/activation.js';
import { Exp, HardSigmoid, HardSwish, Sigmoid } from '../../nn/extra.js';
import { lookupTable } from '../../lookup-table.js';
import type { OpConverter, OpTable } from '../graph-import/importer.js';
import { missingAnchorsNote } from '../graph-import/detector-outputs.js';
import { OnnxImporter } from './importer.js';
import type { OnnxImportOptions, Value } from './importer.js';
import { argmax, arithmetic, batchNorm, clip, conv, elementwise, gemm, globalPool, matmul, pad, pool, softmax, spatialReduce } from './ops-layers.js';
import { resize } from './ops-resize.js';
import { cast, concat, constantNode, flattenNode, gather, reshape, shapeOf, slice, squeeze, transposeNode } from './ops-shapes.js';
import { EXTERNAL_DATA, modelProtoType } from './schema.js';
import type { ModelProto, TensorProto } from './schema.js';
import { externalReference, int64 } from './tensors.js';

export type { OnnxImportOptions };

export interface OnnxModelInfo {
  irVersion: number;
  /** Version of the default (ai.onnx) operator set. */
  opsetVersion: number;
  /** producer_name and producer_version, e.g. "pytorch 1.13.0". */
  producer: string;
  graphName: string;
  inputName: string;
  /** The first (often the only) graph output's name and shape; `outputs` has each. */
  outputName: string;
  /** ONNX order with the batch axis: its size, or its symbolic name (e.g. "N"). */
  inputShape: (number | string)[];
  outputShape: (number | string)[];
  /** Each graph output, in the file's order: the model's output names (where there are several) and ONNX shapes. */
  outputs: { name: string; shape: (number | string)[] }[];
  /** How many nodes of each operator type the graph has. */
  operators: Record<string, number>;
  /** The model's `metadata_props` (key → value); a key given twice is a FormatError. */
  metadataProps: Record<string, string>;
}

export interface DecodedOnnx {
  model: Model;
  /** Layout the file's input is in: pass `{ layout: 'NCHW' }` to `predict` to feed it as the file expects. */
  inputLayout: 'NCHW';
  info: OnnxModelInfo;
  /** What the file leaves to the caller, one line each (a detector's outputs without anchors). */
  notes: string[];
}

/** Decodes an ONNX file's bytes and builds our model from its graph. */
export function decodeOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): DecodedOnnx {
  return onnxToModel(parseOnnxModel(bytes, options.source), options);
}

/** Decodes the protobuf of an ONNX file; FormatError for anything that is not a model (truncated, wrong format). */
export function parseOnnxModel(bytes: Uint8Array, source = '<buffer>'): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new FormatError(`${source}: expected the bytes of an ONNX file`);
  if (bytes.length === 0) throw new FormatError(`${source}: empty file, not an ONNX model`);
  let model: ModelProto;
  try {
    model = modelProtoType().decode(bytes) as unknown as ModelProto;
  } catch (e) {
    throw new FormatError(`${source}: not an ONNX model, or truncated: protobuf decoding failed (${(e as Error).message})`);
  }
  if (!model.graph || int64(model.irVersion, source) < 1) throw new FormatError(`${source}: not an ONNX model: no ir_version or graph (the file may be truncated or of another format)`);
  if (model.graph.node.length === 0 || model.graph.output.length === 0) throw new FormatError(`${source}: the ONNX graph has no nodes or no outputs (the file may be truncated)`);
  return model;
}

/** Locations of the external data files the model's initializers and Constant nodes use, each checked to be relative and inside the folder. */
export function externalDataLocations(model: ModelProto, source = '<buffer>'): string[] {
  return [...externalDataExtents(model, source).keys()];
}

/** The widest element ONNX stores (DOUBLE, INT64, UINT64): an upper bound on any tensor's bytes per element. */
const MAX_ELEMENT_BYTES = 8;

/**
 * Each external data location with an upper bound on the bytes its tensors use (the largest offset + length,
 * or offset + elements × 8 where no length is given), so a reader can refuse a file far larger than that.
 */
export function externalDataExtents(model: ModelProto, source = '<buffer>'): Map<string, number> {
  const tensors: TensorProto[] = [...(model.graph?.initializer ?? [])];
  for (const node of model.graph?.node ?? []) for (const a of node.attribute) if (a.t) tensors.push(a.t);
  const extents = new Map<string, number>();
  for (const t of tensors) {
    if (t.dataLocation !== EXTERNAL_DATA) continue;
    const what = `${source}: tensor ${JSON.stringify(t.name)}`;
    const ref = externalReference(t.externalData, what);
    const elements = t.dims.reduce((n: number, d) => n * Math.max(0, int64(d, what)), 1);
    const end = ref.offset + (ref.length ?? elements * MAX_ELEMENT_BYTES);
    extents.set(ref.location, Math.max(extents.get(ref.location) ?? 0, end));
  }
  return extents;
}

/** Builds our model from a decoded ModelProto. */
export function onnxToModel(proto: ModelProto, options: OnnxImportOptions = {}): DecodedOnnx {
  const importer = new OnnxImporter(proto, options);
  const { model, outputs, input } = importer.build(ONNX_OPS);
  const { source, opset } = importer;
  const graph = proto.graph!;
  const producer = `${proto.producerName} ${proto.producerVersion}`.trim();
  model.metadata = { importedFrom: { format: 'onnx', source, producer, opsetVersion: opset } };
  const withBatch = outputs.map(({ name, shape }) => ({ name, shape: [input.shape[0], ...shape] }));
  const anchors = missingAnchorsNote(outputs);
  return {
    model,
    inputLayout: 'NCHW',
    notes: anchors ? [anchors] : [],
    info: {
      irVersion: int64(proto.irVersion, source),
      opsetVersion: opset,
      producer,
      graphName: graph.name,
      inputName: input.name,
      outputName: withBatch[0].name,
      inputShape: input.shape,
      outputShape: withBatch[0].shape,
      outputs: withBatch,
      operators: importer.operators,
      metadataProps: metadataProps(proto, source),
    },
  };
}

/** The model's metadata_props as a record (duplicate keys refused). */
export function metadataProps(proto: ModelProto, source: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const { key, value } of proto.metadataProps ?? []) {
    if (Object.hasOwn(props, key)) throw new FormatError(`${source}: metadata_props key ${JSON.stringify(key)} is given twice`);
    props[key] = value;
  }
  return props;
}

/** The operators of the default domain we map, each to its converter. */
export const ONNX_OPS: OpTable<OnnxImporter, Value> = lookupTable<OpConverter<OnnxImporter, Value>>({
  Conv: conv,
  BatchNormalization: batchNorm,
  Relu: (im) => elementwise(im, (name) => new ReLU(name)),
  Clip: clip,
  Sigmoid: (im) => elementwise(im, (name) => new Sigmoid(name)),
  Exp: (im) => elementwise(im, (name) => new Exp(name)),
  HardSigmoid: (im) => {
    const alpha = im.attrFloat('alpha', 0.2);
    const beta = im.attrFloat('beta', 0.5);
    return elementwise(im, (name) => new HardSigmoid(name, alpha, beta));
  },
  HardSwish: (im) => elementwise(im, (name) => new HardSwish(name)),
  Add: (im) => arithmetic(im, 'add'),
  Sub: (im) => arithmetic(im, 'sub'),
  Mul: (im) => arithmetic(im, 'mul'),
  Div: (im) => arithmetic(im, 'div'),
  GlobalAveragePool: (im) => globalPool(im, true),
  GlobalMaxPool: (im) => globalPool(im, false),
  AveragePool: (im) => pool(im, true),
  MaxPool: (im) => pool(im, false),
  Flatten: flattenNode,
  Reshape: reshape,
  Transpose: transposeNode,
  Concat: concat,
  Softmax: softmax,
  Gemm: gemm,
  MatMul: matmul,
  Pad: pad,
  Constant: constantNode,
  Identity: (im) => im.required(0),
  Dropout: (im) => {
    const mask = im.node.output[1];
    if (mask && im.readers.has(mask)) throw im.unsupported('the mask output is used');
    return im.required(0);
  },
  Squeeze: (im) => squeeze(im, false),
  Unsqueeze: (im) => squeeze(im, true),
  ReduceMean: (im) => spatialReduce(im, true),
  ReduceMax: (im) => spatialReduce(im, false),
  Shape: shapeOf,
  Gather: gather,
  Cast: cast,
  Slice: slice,
  ArgMax: argmax,
  Resize: (im) => resize(im),
  Upsample: (im) => resize(im, true),
});
