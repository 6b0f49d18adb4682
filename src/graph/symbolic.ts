// Symbolic tensors: per-sample shapes ([H, W, C], batch left open) that flow through layers
// before any data does, so every shape is checked when the graph is built.

// Defined in nn/layer.ts beside Layer, since a tensor's node holds its layer and a layer makes its tensors:
// one file holds the pair, so the two modules do not import each other.
export { SymbolicTensor, type GraphNode } from '../nn/layer.js';
