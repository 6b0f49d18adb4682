// A Model is a built graph of layers from inputs to outputs: topologically ordered, checked for unique
// names, callable on NHWC (or NCHW) batches, inspectable layer by layer, and differentiable for training.

import { ConfigError, ShapeError, WeightsError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import { referenceBackend } from '../backend/reference.js';
import type { GradientBackend } from '../backend/gradients.js';
import { referenceGradients } from '../backend/gradients.js';
import { Softmax } from '../nn/activation.js';
import { InputLayer } from '../nn/core.js';
import type { Layer, TrainContext, TrainForward } from '../nn/layer.js';
import { isTrainableRole } from '../nn/layer.js';
import { softmaxCrossEntropy } from '../train/loss.js';
import { Random } from '../tensor/random.js';
import type { Layout } from '../tensor/tensor.js';
import { Tensor, formatShape, sameShape, toLayout } from '../tensor/tensor.js';
import type { GraphNode } from './symbolic.js';
import { SymbolicTensor } from './symbolic.js';
import type { Activation } from '../ops/activation.js';
import type { PaddingMode } from '../ops/geometry.js';
import type { DetectionHead } from '../detect/types.js';

/**
 * What a model records about itself, set by the builders (mobilenetV1/V2: the architecture, its options as given and
 * the resolved values people read) or the importers (where the graph came from); exports carry it.
 */
export interface ModelMetadata {
  /** The builder (`mobilenet_v2`, `mobilenet_v1`): with `options`, what rebuilds the network from a file. */
  architecture?: string;
  /** The builder's options as given, as plain JSON: an `ArchitectureOptions` (models/registry.ts; not named here). */
  options?: Readonly<Record<string, unknown>>;
  alpha?: number;
  /** [height, width]. */
  resolution?: readonly [number, number];
  inputChannels?: number;
  /** Classifier outputs; null without a classifier. */
  classes?: number | null;
  pooling?: 'avg' | 'max' | null;
  /** The models/options.ts `Convention` (spelt out here: the builders depend on the graph, not the other way round). */
  convention?: 'torchvision' | 'keras';
  /** MobileNetV2: the padding mode; MobileNetV1: its stride-2 padding rule (`keras`, `same`, `torch`). */
  padding?: PaddingMode | 'keras';
  /** MobileNetV2: the bottleneck table, [t, c, n, s] per row, and the stem's stride. */
  blocks?: readonly (readonly number[])[];
  stemStride?: number;
  /** MobileNetV1: the depthwise multiplier and the activation. */
  depthMultiplier?: number;
  activation?: Activation;
  /** An imported graph: the format and file it came from, with what that file says about its maker. */
  importedFrom?: ImportedFrom;
  /** A detector: how its raw outputs become detections (anchors, box coding, score conversion, output names). */
  detection?: DetectionHead;
}

export type ImportedFrom =
  | { format: 'onnx'; source: string; producer: string; opsetVersion: number }
  | { format: 'tfjs-graph'; source: string; convertedBy: string | null }
  | { format: 'keras'; source: string; kerasVersion: string | null };

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

export interface TrainOptions extends RunOptions {
  /**
   * Training mode (default true): BatchNorm normalises with batch statistics and updates its moving
   * statistics (frozen BatchNorm layers excepted), dropout drops. False: inference behaviour, still differentiable.
   */
  training?: boolean;
  /** Dropout masks come from here; default a generator the model keeps (seed 0), so successive steps differ. */
  rng?: Random;
  gradients?: GradientBackend;
  /** Also compute dLoss/d(input), in the input's layout. Default false. */
  inputGradient?: boolean;
}

export interface Gradients {
  /** dLoss/d(parameter), keyed `layer.param` as in `weights()`: every trainable parameter of every unfrozen layer. */
  params: Map<string, Tensor>;
  /** dLoss/d(input) when asked for with `inputGradient`, else null. */
  input: Tensor | null;
}

/** A differentiable forward: the output, and a backward to run once from dLoss/d(output). */
export interface ForwardTrainResult {
  output: Tensor;
  backward(dOutput: Tensor): Gradients;
}

/** A differentiable forward of every output by name, and a backward to run once from dLoss/d(each output); a missing name is a zero gradient. */
export interface ForwardTrainOutputsResult {
  outputs: Record<string, Tensor>;
  backward(dOutputs: Readonly<Record<string, Tensor>>): Gradients;
}

/** A model's outputs: one tensor (named as its layer), or several by name (`{ scores, boxes }`). */
export type ModelOutputs = SymbolicTensor | Readonly<Record<string, SymbolicTensor>>;

export interface ForwardBackwardOptions extends TrainOptions {
  /** Label smoothing ε of the cross-entropy (torch's `label_smoothing`). Default 0. */
  labelSmoothing?: number;
}

export interface ForwardBackwardResult extends Gradients {
  /** Mean softmax cross-entropy over the batch. */
  loss: number;
  /** The classifier's logits (before a final Softmax layer, if the model has one), [N, classes]. */
  logits: Tensor;
  /** Same as `params`. */
  grads: Map<string, Tensor>;
}

export class Model {
  readonly name: string;
  readonly input: SymbolicTensor;
  /** The first (for most models the only) output. */
  readonly output: SymbolicTensor;
  /** The outputs' names, in order: the layer's name for a model built with one output tensor, else the record's keys. */
  readonly outputNames: readonly string[];
  /** The output tensor of each name in `outputNames`. */
  private readonly outputTensors: readonly SymbolicTensor[];
  /** The node index of each output. */
  private readonly outputNodes: readonly number[];
  /** Graph nodes in execution order (the input layer first). */
  readonly nodes: readonly GraphNode[];
  private readonly byName = new Map<string, Layer>();
  /** For each node, the indices of nodes whose outputs it consumes. */
  private readonly inputIndices: number[][];
  /** For each node, the index of the last node that reads its output. */
  private readonly lastUse: number[];
  /** What the model records about itself (architecture and options, or where it was imported from). */
  metadata: ModelMetadata = {};
  private dropoutRng: Random | null = null;

  constructor(input: SymbolicTensor, outputs: ModelOutputs, options: ModelOptions = {}) {
    this.name = options.name ?? 'model';
    this.input = input;
    const named = outputs instanceof SymbolicTensor ? { [outputs.name]: outputs } : outputs;
    this.outputNames = Object.keys(named);
    this.outputTensors = Object.values(named);
    if (this.outputTensors.length === 0) throw new ConfigError(`model ${this.name}: needs at least one output`);
    for (const [name, t] of Object.entries(named)) {
      if (!(t instanceof SymbolicTensor)) throw new ConfigError(`model ${this.name}: output ${JSON.stringify(name)} is not a symbolic tensor`);
    }
    this.output = this.outputTensors[0];
    if (!(input.node?.layer instanceof InputLayer)) throw new ConfigError('model input must come from input(shape)');
    this.nodes = topologicalOrder(this.outputTensors);
    const inputs = this.nodes.filter((n) => n.layer instanceof InputLayer);
    if (inputs.length !== 1 || this.nodes[0].output !== input) {
      throw new ConfigError(`model outputs ${this.outputTensors.map((t) => t.name).join(', ')} must depend on input ${input.name} and on no other input (found ${inputs.map((n) => n.layer.name).join(', ') || 'none'})`);
    }
    for (const node of this.nodes) {
      if (this.byName.has(node.layer.name)) throw new ConfigError(`two layers are named ${JSON.stringify(node.layer.name)}; layer names must be unique in a model`);
      this.byName.set(node.layer.name, node.layer);
    }
    const index = new Map(this.nodes.map((n, i) => [n.output, i]));
    this.inputIndices = this.nodes.map((n) => n.inputs.map((t) => index.get(t)!));
    this.lastUse = this.nodes.map(() => -1);
    this.inputIndices.forEach((ins, i) => ins.forEach((j) => (this.lastUse[j] = i)));
    this.outputNodes = this.outputTensors.map((t) => index.get(t)!);
    // outputs live to the end, whoever else reads them
    for (const i of this.outputNodes) this.lastUse[i] = this.nodes.length;
    this.initialize(options.seed ?? 0);
  }

  get layers(): Layer[] {
    return this.nodes.map((n) => n.layer);
  }

  /** Per-sample input shape, e.g. [224, 224, 3]. */
  get inputShape(): readonly number[] {
    return this.input.shape;
  }

  /** Per-sample shape of the first (for most models the only) output. */
  get outputShape(): readonly number[] {
    return this.output.shape;
  }

  /** Per-sample shape of each output, by name. */
  get outputShapes(): Record<string, readonly number[]> {
    return Object.fromEntries(this.outputNames.map((name, k) => [name, this.outputTensors[k].shape]));
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

  /** Runs a batch through a model with one output and returns it; a model with several outputs runs with `predictOutputs`. */
  predict(x: Tensor, options: RunOptions = {}): Tensor {
    this.checkSingleOutput('predict', 'predictOutputs');
    return this.run(x, [this.output.name], options).get(this.output.name)!;
  }

  /** Runs a batch and returns every output by name (the one output of a single-output model under its layer's name). */
  predictOutputs(x: Tensor, options: RunOptions = {}): Record<string, Tensor> {
    const values = this.run(x, [...new Set(this.outputTensors.map((t) => t.name))], options);
    return Object.fromEntries(this.outputNames.map((name, k) => [name, values.get(this.outputTensors[k].name)!]));
  }

  /** The symbolic tensor of output `name`. */
  outputTensor(name: string): SymbolicTensor {
    const k = this.outputNames.indexOf(name);
    if (k < 0) throw new ConfigError(`model ${this.name} has no output named ${JSON.stringify(name)} (outputs: ${this.outputNames.join(', ')})`);
    return this.outputTensors[k];
  }

  /** Throws where a method that returns one tensor is called on a model with several outputs. */
  checkSingleOutput(method: string, instead: string): void {
    if (this.outputNames.length > 1) throw new ConfigError(`model ${this.name} has ${this.outputNames.length} outputs (${this.outputNames.join(', ')}): ${method} returns one tensor, use ${instead}`);
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

  /**
   * Runs a batch differentiably (see `TrainOptions.training`) and returns the output with a backward
   * that turns dLoss/d(output) into dLoss/d(every trainable parameter). Gradients of a tensor read by
   * several layers (residual connections) add up.
   */
  forwardTrain(x: Tensor, options: TrainOptions = {}): ForwardTrainResult {
    this.checkSingleOutput('forwardTrain', 'forwardTrainOutputs');
    const traced = this.trace(x, [this.outputNodes[0]], options);
    return { output: traced.outputs[0], backward: (dOutput) => traced.backward([dOutput]) };
  }

  /**
   * `forwardTrain` for every output: the outputs by name, and a backward from dLoss/d(each output) (a name left
   * out has a zero gradient) to the same gradients. Gradients reaching a tensor from several outputs add up.
   */
  forwardTrainOutputs(x: Tensor, options: TrainOptions = {}): ForwardTrainOutputsResult {
    const traced = this.trace(x, this.outputNodes, options);
    const outputs = Object.fromEntries(this.outputNames.map((name, k) => [name, traced.outputs[k]]));
    const backward = (dOutputs: Readonly<Record<string, Tensor>>): Gradients => {
      const unknown = Object.keys(dOutputs).filter((name) => !this.outputNames.includes(name));
      if (unknown.length) throw new ConfigError(`model ${this.name}: no output named ${unknown.join(', ')} (outputs: ${this.outputNames.join(', ')})`);
      return traced.backward(this.outputNames.map((name) => dOutputs[name] ?? null));
    };
    return { outputs, backward };
  }

  /**
   * One training step's forward and backward with softmax cross-entropy on integer labels, averaged
   * over the batch. A model ending in a Softmax layer is differentiated through its logits (the
   * Softmax's input), the numerically sound form of the same loss.
   */
  forwardBackward(x: Tensor, labels: ArrayLike<number>, options: ForwardBackwardOptions = {}): ForwardBackwardResult {
    this.checkSingleOutput('forwardBackward', 'forwardTrainOutputs');
    const last = this.outputNodes[0];
    const end = this.nodes[last].layer instanceof Softmax ? this.inputIndices[last][0] : last;
    if (this.nodes[end].output.shape.length !== 1) {
      throw new ShapeError(`model ${this.name}: cross-entropy needs logits [N, classes], the output ${this.nodes[end].layer.name} is ${formatShape([-1, ...this.nodes[end].output.shape])}`);
    }
    const traced = this.trace(x, [end], options);
    const [logits] = traced.outputs;
    const { loss, gradient } = softmaxCrossEntropy(logits, labels, { labelSmoothing: options.labelSmoothing });
    const grads = traced.backward([gradient]);
    return { loss, logits, grads: grads.params, ...grads };
  }

  /** Parameters that gradient descent updates: kernels, biases, γ and β of unfrozen layers (no moving statistics). */
  trainableWeights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const layer of this.layers) {
      if (!layer.trainable) continue;
      for (const spec of layer.paramSpecs) if (isTrainableRole(spec.role)) out.set(`${layer.name}.${spec.name}`, layer.param(spec.name));
    }
    return out;
  }

  /**
   * Differentiable forward up to the nodes `ends` (in the given layout), recording a backward only where a gradient
   * is needed; the backward takes dLoss/d(each end), null for none.
   */
  private trace(x: Tensor, ends: readonly number[], options: TrainOptions): { outputs: Tensor[]; backward(dEnds: readonly (Tensor | null)[]): Gradients } {
    const layout = options.layout ?? 'NHWC';
    const ctx: TrainContext = {
      backend: options.backend ?? referenceBackend,
      gradients: options.gradients ?? referenceGradients,
      training: options.training ?? true,
      rng: options.rng ?? (this.dropoutRng ??= new Random(0)),
    };
    const end = Math.max(...ends);
    // a node needs a backward if it learns or feeds one that needs its gradient
    const needs = this.nodes.map(() => false);
    needs[0] = options.inputGradient ?? false;
    for (let i = 1; i <= end; i++) needs[i] = this.nodes[i].layer.learns || this.inputIndices[i].some((j) => needs[j]);
    const values: (Tensor | null)[] = new Array(end + 1).fill(null);
    const records: (TrainForward | null)[] = new Array(end + 1).fill(null);
    const keep = new Set(ends);
    values[0] = this.checkInput(x, layout);
    for (let i = 1; i <= end; i++) {
      const forward = this.nodes[i].layer.forwardTrain(this.inputIndices[i].map((j) => values[j]!), ctx);
      values[i] = forward.output;
      if (needs[i]) records[i] = forward;
      for (const j of this.inputIndices[i]) if (this.lastUse[j] === i && !keep.has(j)) values[j] = null;
    }
    const outputs = ends.map((i) => values[i]!);
    let done = false;
    const backward = (dEnds: readonly (Tensor | null)[]): Gradients => {
      if (done) throw new ConfigError(`model ${this.name}: backward runs once per forward`);
      done = true;
      const grads: (Tensor | null)[] = new Array(end + 1).fill(null);
      // a gradient handed over by a layer (Add passes its own twice) or by the caller may be shared: sum into a fresh tensor
      const owned = new Array<boolean>(end + 1).fill(false);
      const accumulate = (j: number, dx: Tensor): void => {
        const prior = grads[j];
        if (!prior) grads[j] = dx;
        else if (owned[j]) ctx.gradients.addInPlace(prior, dx);
        else {
          const sum = prior.clone();
          ctx.gradients.addInPlace(sum, dx);
          grads[j] = sum;
          owned[j] = true;
        }
      };
      ends.forEach((i, k) => {
        const dOutput = dEnds[k];
        if (!dOutput) return;
        const dOut = dOutput.rank === 4 ? toLayout(dOutput, layout, 'NHWC') : dOutput;
        if (!sameShape(dOut.shape, outputs[k].shape)) {
          throw new ShapeError(`model ${this.name}: gradient ${formatShape(dOutput.shape)} of output ${this.nodes[i].layer.name} does not match the output ${formatShape(outputs[k].shape)}`);
        }
        accumulate(i, dOut);
      });
      const params = new Map<string, Tensor>();
      for (let i = end; i >= 1; i--) {
        const record = records[i];
        const dy = grads[i];
        records[i] = null;
        grads[i] = null;
        if (!record || !dy) continue;
        const inputs = this.inputIndices[i];
        const g = record.backward(dy, inputs.some((j) => needs[j]));
        const layer = this.nodes[i].layer;
        for (const [name, t] of g.params) params.set(`${layer.name}.${name}`, t);
        inputs.forEach((j, k) => {
          const dx = g.inputs[k];
          if (needs[j] && dx) accumulate(j, dx);
        });
      }
      // a layer no output's gradient reached (a head left out) has zero gradients
      for (const node of this.nodes.slice(1, end + 1)) {
        if (!node.layer.trainable) continue;
        for (const spec of node.layer.paramSpecs) {
          const key = `${node.layer.name}.${spec.name}`;
          if (isTrainableRole(spec.role) && !params.has(key)) params.set(key, new Tensor(node.layer.param(spec.name).shape, new Float32Array(node.layer.param(spec.name).size)));
        }
      }
      const dx = grads[0];
      return { params, input: dx && needs[0] ? (layout === 'NCHW' && dx.rank === 4 ? toLayout(dx, 'NHWC', 'NCHW') : dx) : null };
    };
    return { outputs: outputs.map((y) => (layout === 'NCHW' && y.rank === 4 ? toLayout(y, 'NHWC', 'NCHW') : y)), backward };
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

/** Depth-first post-order from each output in turn: every node after the nodes it reads. */
function topologicalOrder(outputs: readonly SymbolicTensor[]): GraphNode[] {
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
  for (const output of outputs) {
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
  }
  return order;
}
