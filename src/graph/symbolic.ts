// Symbolic tensors: per-sample shapes ([H, W, C], batch left open) that flow through layers
// before any data does, so every shape is checked when the graph is built.

import type { Shape } from '../tensor/tensor.js';
import { formatShape } from '../tensor/tensor.js';
import type { Layer } from '../nn/layer.js';

/** One application of a layer: the graph edge from its inputs to its output. */
export interface GraphNode {
  readonly layer: Layer;
  readonly inputs: readonly SymbolicTensor[];
  readonly output: SymbolicTensor;
}

export class SymbolicTensor {
  /** The node that produced this tensor; null for a graph input. */
  node: GraphNode | null = null;

  /** `shape` has no batch axis: [H, W, C] for images, [C] after pooling. */
  constructor(readonly shape: Shape, readonly name: string) {}

  toString(): string {
    return `${this.name} (N, ${this.shape.join(', ')})`;
  }

  describe(): string {
    return `${this.name} ${formatShape([-1, ...this.shape])}`;
  }
}
