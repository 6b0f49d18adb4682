// A Model is a built graph of layers from inputs to outputs: topologically ordered, checked for
// unique names, callable on NHWC (or NCHW) batches, and inspectable layer by layer.

import { ConfigError, ShapeError, WeightsError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import { referenceBackend } from '../backend/reference.js';
import { InputLayer } from '../nn/core.js';
import type { Layer } from '../nn/layer.js';
import { Random } from '../tensor/random.js';
import type { Layout } from '../tensor/tensor.js';
import { Tensor, formatShape, sameShape, toLayout } from '../tensor/tensor.js';
import type { GraphNode, SymbolicTensor } from './symbolic.js';

export interface ModelOptions {
  name?: string;
  /** Seed of the default weight initialisation. */
  seed?: number;
}

export interface RunOptions {
  backend?: Backend;
  /** Layout of the input batch; outputs of rank 4 come back in the same layout. Default NHWC. */
  layout?: Layout;
}

export class Model {
  readonly name: string;
  readonly input: SymbolicTensor;
  readonly output: SymbolicTensor;
  /** Graph nodes in execution order (the input layer first). */
  readonly nodes: readonly GraphNode[];
  private readonly byName = new Map<string, Layer>();
  /** For each node, the indices of nodes whose outputs it consumes. */
  private readonly inputIndices: number[][];
  /** For each node, the index of the last node that reads its output. */
  private readonly lastUse: number[];
  /** Free-form facts about the model (architecture options, class names, preprocessing). */
  metadata: Record<string, unknown> = {};

  constructor(input: SymbolicTensor, output: SymbolicTensor, options: ModelOptions = {}) {
    this.name = options.name ?? 'model';
    this.input = input;
    this.output = output;
    if (!(input.node?.layer instanceof InputLayer)) throw new ConfigError('model input must come from input(shape)');
    this.nodes = topologicalOrder(output);
    const inputs = this.nodes.filter((n) => n.layer instanceof InputLayer);
    if (inputs.length !== 1 || this.nodes[0].output !== input) {
      throw new ConfigError(`model output ${output.name} must depend on input ${input.name} and on no other input (found ${inputs.map((n) => n.layer.name).join(', ') || 'none'})`);
    }
    for (const node of this.nodes) {
      if (this.byName.has(node.layer.name)) throw new ConfigError(`two layers are named ${JSON.stringify(node.layer.name)}; layer names must be unique in a model`);
      this.byName.set(node.layer.name, node.layer);
    }
    const index = new Map(this.nodes.map((n, i) => [n.output, i]));
    this.inputIndices = this.nodes.map((n) => n.inputs.map((t) => index.get(t)!));
    this.lastUse = this.nodes.map(() => -1);
    this.inputIndices.forEach((ins, i) => ins.forEach((j) => (this.lastUse[j] = i)));
    this.lastUse[this.nodes.length - 1] = this.nodes.length;
    this.initialize(options.seed ?? 0);
  }

  get layers(): Layer[] {
    return this.nodes.map((n) => n.layer);
  }

  /** Per-sample input shape, e.g. [224, 224, 3]. */
  get inputShape(): readonly number[] {
    return this.input.shape;
  }

  get outputShape(): readonly number[] {
    return this.output.shape;
  }

  getLayer(name: string): Layer {
    const layer = this.byName.get(name);
    if (!layer) throw new ConfigError(`model ${this.name} has no layer named ${JSON.stringify(name)}`);
    return layer;
  }

  hasLayer(name: string): boolean {
    return this.byName.has(name);
  }

  /** Re-draws every parameter from its default initialiser. */
  initialize(seed: number): void {
    const rng = new Random(seed);
    for (const layer of this.layers) layer.initialize(rng);
  }

  /** Runs a batch through the model and returns its output. */
  predict(x: Tensor, options: RunOptions = {}): Tensor {
    return this.run(x, [this.output.name], options).get(this.output.name)!;
  }

  /** Runs a batch and returns the outputs of the named layers (intermediate activations included). */
  run(x: Tensor, outputs: readonly string[], options: RunOptions = {}): Map<string, Tensor> {
    const layout = options.layout ?? 'NHWC';
    const backend = options.backend ?? referenceBackend;
    const wanted = new Set(outputs);
    for (const name of wanted) this.getLayer(name);
    const feed = this.checkInput(x, layout);
    const values: (Tensor | null)[] = new Array(this.nodes.length).fill(null);
    const result = new Map<string, Tensor>();
    values[0] = feed;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i];
      if (i > 0) {
        const args = this.inputIndices[i].map((j) => values[j]!);
        values[i] = node.layer.call(args, { backend });
      }
      if (wanted.has(node.layer.name)) result.set(node.layer.name, values[i]!);
      // release inputs whose last reader was this node
      for (const j of this.inputIndices[i]) if (this.lastUse[j] === i) values[j] = null;
    }
    if (layout === 'NCHW') for (const [k, v] of result) if (v.rank === 4) result.set(k, toLayout(v, 'NHWC', 'NCHW'));
    return result;
  }

  private checkInput(x: Tensor, layout: Layout): Tensor {
    if (!(x instanceof Tensor)) throw new ShapeError(`model ${this.name}: input must be a Tensor`);
    const expected = this.inputShape;
    if (x.rank !== expected.length + 1) {
      throw new ShapeError(`model ${this.name}: input must be a batch of rank ${expected.length + 1} (${layout}), got shape ${formatShape(x.shape)}`);
    }
    const nhwc = x.rank === 4 ? toLayout(x, layout, 'NHWC') : x;
    if (!sameShape(nhwc.shape.slice(1), expected)) {
      const want = layout === 'NCHW' && expected.length === 3 ? [expected[2], expected[0], expected[1]] : expected;
      throw new ShapeError(`model ${this.name}: expected input ${formatShape([-1, ...want])} (${layout}), got ${formatShape(x.shape)}`);
    }
    if (x.shape[0] < 1) throw new ShapeError(`model ${this.name}: batch is empty`);
    return nhwc;
  }

  /** All parameters, keyed `layer.param` (e.g. `block_1_expand.kernel`). */
  weights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const layer of this.layers) for (const [p, t] of layer.params) out.set(`${layer.name}.${p}`, t);
    return out;
  }

  /**
   * Loads parameters by `layer.param` name. Every name must exist with the right shape; with
   * `strict` (the default) every model parameter must also be given. Nothing changes on error.
   */
  setWeights(weights: Map<string, Tensor>, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const own = this.weights();
    const unexpected = [...weights.keys()].filter((k) => !own.has(k));
    const missing = strict ? [...own.keys()].filter((k) => !weights.has(k)) : [];
    const misshaped = [...weights].filter(([k, t]) => own.has(k) && !sameShape(own.get(k)!.shape, t.shape));
    if (unexpected.length || missing.length || misshaped.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing ${missing.length}: ${list(missing)}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${list(unexpected)}`);
      if (misshaped.length) parts.push(`wrong shape ${misshaped.length}: ${list(misshaped.map(([k, t]) => `${k} expected ${formatShape(own.get(k)!.shape)} got ${formatShape(t.shape)}`))}`);
      throw new WeightsError(`weights do not fit model ${this.name}: ${parts.join('; ')}`, missing, unexpected);
    }
    for (const [k, t] of weights) {
      const dot = k.lastIndexOf('.');
      this.getLayer(k.slice(0, dot)).setParam(k.slice(dot + 1), t);
    }
  }
}

function list(names: string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … (${names.length - 8} more)`;
}

/** Depth-first post-order from the output: every node after the nodes it reads. */
function topologicalOrder(output: SymbolicTensor): GraphNode[] {
  const order: GraphNode[] = [];
  const state = new Map<GraphNode, 'visiting' | 'done'>();
  const stack: { node: GraphNode; next: number }[] = [];
  const push = (t: SymbolicTensor): void => {
    const node = t.node;
    if (!node) throw new ConfigError(`tensor ${t.name} was not produced by a layer`);
    const s = state.get(node);
    if (s === 'done') return;
    if (s === 'visiting') throw new ConfigError(`the graph has a cycle through layer ${node.layer.name}`);
    state.set(node, 'visiting');
    stack.push({ node, next: 0 });
  };
  push(output);
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.next < top.node.inputs.length) push(top.node.inputs[top.next++]);
    else {
      stack.pop();
      state.set(top.node, 'done');
      order.push(top.node);
    }
  }
  return order;
}
