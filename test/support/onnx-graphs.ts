// Hand-built ONNX graphs for tests: a small spec (nodes, initializers, attributes as plain values) encoded as a
// ModelProto, float tensors in float_data and integer ones in int64_data (the golden files use raw_data).

import { AttributeType, DataType, modelProtoType } from '../../src/io/onnx/schema.js';

export type Message = Record<string, unknown>;
export const encode = (model: Message): Uint8Array => {
  const type = modelProtoType();
  return type.encode(type.fromObject(model)).finish();
};

/** A hand-built ModelProto: float tensors in float_data, integer ones in int64_data (the golden files use raw_data). */
/** Int64 values may be decimal strings, for those a double cannot hold (INT64_MAX). */
export function tensorProto(name: string, dims: number[], dataType: 'float' | 'int64', values: (number | string)[]): Message {
  return dataType === 'float' ? { name, dims, dataType: DataType.FLOAT, floatData: values } : { name, dims, dataType: DataType.INT64, int64Data: values };
}

export function attribute(name: string, value: Record<string, unknown>): Message {
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: value.ints };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  if ('i' in value) return { name, type: AttributeType.INT, i: value.i };
  if ('f' in value) return { name, type: AttributeType.FLOAT, f: value.f };
  if ('s' in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.s as string) };
  const t = value.t as { dims: number[]; dataType: 'float' | 'int64'; values: number[] };
  return { name, type: AttributeType.TENSOR, t: tensorProto('', t.dims, t.dataType, t.values) };
}

export interface GraphSpec {
  opset: number;
  input: { name: string; shape: number[] };
  initializers?: { name: string; dims: number[]; dataType: 'float' | 'int64'; values: (number | string)[] }[];
  nodes: { op: string; name?: string; domain?: string; inputs: string[]; outputs: string[]; attrs?: Record<string, Record<string, unknown>> }[];
  output: string;
  outputShape?: number[];
  /** More graph outputs after `output`, each with its declared shape where given. */
  moreOutputs?: { name: string; shape?: number[] }[];
}

export function buildOnnx(g: GraphSpec): Uint8Array {
  const dims = (shape: number[]): Message[] => [{ dimParam: 'N' }, ...shape.slice(1).map((d) => ({ dimValue: d }))];
  return encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: g.opset }],
    producerName: 'onnx.test.ts',
    graph: {
      name: 'hand_built',
      node: g.nodes.map((n, i) => ({ name: n.name ?? `${n.op}_${i}`, opType: n.op, domain: n.domain ?? '', input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)) })),
      initializer: (g.initializers ?? []).map((t) => tensorProto(t.name, t.dims, t.dataType, t.values)),
      input: [{ name: g.input.name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims(g.input.shape) } } } }],
      output: [{ name: g.output, shape: g.outputShape }, ...(g.moreOutputs ?? [])].map(({ name, shape }) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, ...(shape ? { shape: { dim: dims(shape) } } : {}) } } })),
    },
  });
}
