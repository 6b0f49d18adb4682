// What the TF.js graph-model importer maps, and its error for what it does not: apart from the importer, so that
// the library's entry exports them without loading the importer itself (it loads on first use).

import { FormatError } from '../../errors.js';

/** A node whose op (or a use of it: a fused op, a data format, an attribute) has no equivalent in our graph. */
export class UnsupportedGraphOpError extends FormatError {
  constructor(
    readonly source: string,
    readonly op: string,
    readonly nodeName: string,
    readonly reason?: string,
  ) {
    super(`${source}: unsupported TensorFlow op ${op} in node ${JSON.stringify(nodeName)}${reason ? `: ${reason}` : ''}`);
  }
}

/** The ops this importer maps, for messages and `inspect`. */
export const GRAPH_OPS = [
  'Placeholder', 'Const', 'Identity', 'StopGradient', 'Conv2D', 'FusedConv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative',
  'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Relu', 'Relu6', 'Sigmoid',
  'AvgPool', 'MaxPool', 'Mean', 'Max', 'Reshape', 'Squeeze', 'MatMul', '_FusedMatMul', 'Softmax', 'Pad', 'PadV2', 'ConcatV2', 'Transpose',
  'ResizeBilinear', 'ArgMax', 'Shape', 'StridedSlice', 'Pack', 'Cast', 'Exp', 'Slice', 'Split', 'SplitV', 'Unpack', 'ExpandDims', 'Tile',
] as const;
