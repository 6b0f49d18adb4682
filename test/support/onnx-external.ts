// A one-node ONNX model for the external-data tests: y = x · w, w (2 floats) in an external file,
// written by hand with the schema (not by our exporter, which never writes external data).

import { DataType, modelProtoType } from '../../src/io/onnx/schema.js';

/** The model bytes, w read from `location` at byte `offset` (and `length` bytes, where given). */
export function onnxWithExternalWeights(location: string, offset?: number, length?: number): Uint8Array {
  const externalData = [{ key: 'location', value: location }];
  if (offset !== undefined) externalData.push({ key: 'offset', value: String(offset) });
  if (length !== undefined) externalData.push({ key: 'length', value: String(length) });
  const type = modelProtoType();
  const proto = {
    irVersion: 7,
    opsetImport: [{ version: 13 }],
    graph: {
      node: [{ opType: 'Mul', input: ['x', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dims: [2], dataType: DataType.FLOAT, dataLocation: 1, externalData }],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 2 }] } } } }],
      output: [{ name: 'y' }],
    },
  };
  return type.encode(type.fromObject(proto)).finish();
}
