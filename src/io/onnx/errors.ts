// Typed errors of ONNX import and export: an operator (or a use of one) we do not map, and external tensor
// data that is missing or points outside the model's folder. Both are FormatErrors of the file they come from.

import { FormatError } from '../../errors.js';

/** A node whose operator, domain or attributes have no equivalent in our graph; names the op type and the node. */
export class UnsupportedOperatorError extends FormatError {
  constructor(
    readonly source: string,
    readonly opType: string,
    readonly nodeName: string,
    readonly domain: string,
    readonly reason?: string,
  ) {
    super(`${source}: unsupported ONNX operator ${domain && domain !== 'ai.onnx' ? `${domain}.` : ''}${opType} in node ${JSON.stringify(nodeName)}${reason ? `: ${reason}` : ''}`);
  }
}

/** An initializer's external data is missing, unreadable, or its location would leave the model's folder. */
export class ExternalDataError extends FormatError {
  constructor(
    message: string,
    readonly location: string,
  ) {
    super(message);
  }
}
