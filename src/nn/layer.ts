// The Layer base class: a named op with parameters, shape inference before data, execution on a backend, and a
// differentiable forward with its backward. Parameters are named like Keras (`kernel`, `gamma`, `moving_mean`).

import { ConfigError, ShapeError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import type { Activation } from '../ops/activation.js';
import type { GradientBackend } from '../backend/gradients.js';
import type { Random } from '../tensor/random.js';
import { Tensor, formatShape, sizeOf } from '../tensor/tensor.js';
import { MAX_PARAMETER_ELEMENTS, reserveParameters } from './parameter-budget.js';
import type { Shape } from '../tensor/tensor.js';

// The graph's symbolic tensors live beside Layer because each names the other (graph/symbolic.ts re-exports them).

/** One application of a layer: the graph edge from its inputs to its output. */
export interface GraphNode {
  readonly layer: Layer;
  readonly inputs: readonly SymbolicTensor[];
  readonly output: SymbolicTensor;
}

/** A per-sample shape ([H, W, C], batch left open) flowing through layers before any data does. */
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

/** What a parameter is, which decides how it is counted, initialised and converted between frameworks. */
export type ParamRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance';

export interface ParamSpec {
  name: string;
  shape: Shape;
  role: ParamRole;
}

/** Roles that gradient descent updates; moving statistics are state, not parameters to learn. */
export function isTrainableRole(role: ParamRole): boolean {
  return role !== 'movingMean' && role !== 'movingVariance';
}

export interface CallContext {
  backend: Backend;
}

/** Context of a differentiable forward. */
export interface TrainContext extends CallContext {
  gradients: GradientBackend;
  /**
   * Training mode: BatchNorm normalises with batch statistics and updates its moving ones, dropout drops.
   * Off: inference behaviour, still differentiable.
   */
  training: boolean;
  /** Source of dropout masks. */
  rng: Random;
}

/** What one layer's backward yields. */
export interface LayerGradients {
  /** dL/d(input) per input; null where not asked for. */
  inputs: (Tensor | null)[];
  /** dL/d(parameter) by parameter name; empty for frozen layers and moving statistics. */
  params: Map<string, Tensor>;
}

/** One layer's differentiable forward: its output, and the backward that holds what the forward recorded. */
export interface TrainForward {
  output: Tensor;
  /** Gradients from dL/d(output); `wantInputs` false skips the input gradients. Never modifies `dy`. */
  backward(dy: Tensor, wantInputs: boolean): LayerGradients;
}

export abstract class Layer {
  abstract readonly kind: string;
  /** torchvision `state_dict` prefix of this layer (e.g. `features.1.conv.0.0`), when it has one. */
  torchName: string | undefined;
  /** The block this layer belongs to (e.g. `block_3`): an operator boundary for fused execution and cost reports. */
  block: string | undefined;
  readonly params = new Map<string, Tensor>();
  private specs: ParamSpec[] = [];
  private shapesIn: Shape[] | null = null;
  private shapeOut: Shape | null = null;
  node: GraphNode | null = null;
  /**
   * False freezes the layer: its backward yields no parameter gradients (input gradients still flow),
   * and a frozen BatchNorm runs in inference mode, as in Keras.
   */
  trainable = true;

  constructor(readonly name: string) {
    if (!/^[A-Za-z0-9_.\-/]+$/.test(name)) throw new ConfigError(`invalid layer name ${JSON.stringify(name)}: use letters, digits, '_', '-', '.', '/'`);
  }

  /** Per-sample output shape for per-sample input shapes; throws ShapeError naming this layer. */
  protected abstract inferShape(inputShapes: Shape[]): Shape;

  /** Parameters this layer needs for the given input shapes. */
  protected paramSpecsFor(_inputShapes: Shape[]): ParamSpec[] {
    return [];
  }

  /** Runs the layer on a batch; inputs have a leading batch axis. */
  abstract call(inputs: Tensor[], ctx: CallContext): Tensor;

  /**
   * Runs the layer differentiably on a batch (training mode per `ctx.training`) and returns the output
   * with its backward. Every layer of the library overrides this.
   */
  forwardTrain(_inputs: Tensor[], _ctx: TrainContext): TrainForward {
    throw new ConfigError(`layer ${this.name} (${this.kind}) has no backward`);
  }

  /** Whether backward yields parameter gradients: the layer is trainable and has parameters that learn. */
  get learns(): boolean {
    return this.trainable && this.specs.some((s) => isTrainableRole(s.role));
  }

  /** Multiply-adds per image (conv and dense layers; zero elsewhere). */
  macs(): number {
    return 0;
  }

  /** The layer's settings, as plain data (for summaries and model files). */
  abstract config(): Record<string, unknown>;

  /** How many inputs the layer takes. */
  protected arity(): number {
    return 1;
  }

  get inputShapes(): Shape[] {
    if (!this.shapesIn) throw new ConfigError(`layer ${this.name} has not been applied to an input yet`);
    return this.shapesIn;
  }

  get outputShape(): Shape {
    if (!this.shapeOut) throw new ConfigError(`layer ${this.name} has not been applied to an input yet`);
    return this.shapeOut;
  }

  get paramSpecs(): readonly ParamSpec[] {
    return this.specs;
  }

  /** Connects the layer into a graph: infers the output shape and allocates parameters. */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (this.node) throw new ConfigError(`layer ${this.name} is already part of a graph; create a new layer to apply it again`);
    if (list.length !== this.arity()) throw new ShapeError(`layer ${this.name} (${this.kind}) takes ${this.arity()} input(s), got ${list.length}`);
    const shapes = list.map((t) => t.shape);
    const out = this.inferShape(shapes);
    const specs = this.paramSpecsFor(shapes);
    for (const spec of specs) {
      const size = sizeOf(spec.shape);
      if (!(size <= MAX_PARAMETER_ELEMENTS)) {
        throw new ConfigError(`layer ${this.name}: parameter ${spec.name} of shape ${formatShape(spec.shape)} would hold ${size} values, more than the ${MAX_PARAMETER_ELEMENTS} allowed (an absurd width, class count or channel count?)`);
      }
    }
    reserveParameters(specs.reduce((n, spec) => n + sizeOf(spec.shape), 0));
    this.shapesIn = shapes;
    this.shapeOut = out;
    this.specs = specs;
    for (const spec of this.specs) this.params.set(spec.name, new Tensor(spec.shape));
    const output = new SymbolicTensor(out, this.name);
    this.node = { layer: this, inputs: list, output };
    output.node = this.node;
    return output;
  }

  /** Fills parameters with their default initialisers (He-normal kernels, BN at identity). */
  initialize(rng: Random): void {
    for (const spec of this.specs) {
      const t = this.params.get(spec.name)!;
      initialise(spec, t.data, rng);
    }
  }

  param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new ConfigError(`layer ${this.name} has no parameter ${name}`);
    return t;
  }

  /** Replaces a parameter's values with a copy of `value`; the shape must match exactly. */
  setParam(name: string, value: Tensor): void {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new ConfigError(`layer ${this.name} has no parameter ${name}`);
    if (value.size !== sizeOf(spec.shape) || value.shape.length !== spec.shape.length || value.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ShapeError(`${this.name}.${name}: expected shape ${formatShape(spec.shape)}, got ${formatShape(value.shape)}`);
    }
    this.params.set(name, new Tensor(spec.shape, value.data.slice()));
  }
}

/** How a conv or dense layer turns the gradient before its activation into kernel and input gradients. */
export interface LinearGradients {
  kernelName: string;
  useBias: boolean;
  kernel(g: Tensor): Tensor;
  input(g: Tensor): Tensor;
}

/**
 * The training forward shared by conv and dense, y = activation(linear(x) + bias), given its output:
 * the backward goes through the activation (from y) and then yields kernel, bias and input gradients.
 */
export function linearTrainForward(layer: Layer, y: Tensor, activation: Activation, ctx: TrainContext, linear: LinearGradients): TrainForward {
  return {
    output: y,
    backward: (dy, wantInputs) => {
      const g = ctx.gradients.activationBackward(dy, y, activation);
      const params = new Map<string, Tensor>();
      if (layer.learns) {
        params.set(linear.kernelName, linear.kernel(g));
        if (linear.useBias) params.set('bias', ctx.gradients.sumToChannels(g));
      }
      return { inputs: [wantInputs ? linear.input(g) : null], params };
    },
  };
}

function initialise(spec: ParamSpec, out: Float32Array, rng: Random): void {
  switch (spec.role) {
    case 'kernel': {
      // He-normal over fan-out, as torchvision initialises MobileNets; dense kernels N(0, 0.01)
      if (spec.shape.length === 2) rng.fillNormal(out, 0.01);
      else {
        const [kh, kw, , cOut] = spec.shape as [number, number, number, number];
        rng.fillNormal(out, Math.sqrt(2 / (kh * kw * cOut)));
      }
      return;
    }
    case 'gamma':
    case 'movingVariance':
      out.fill(1);
      return;
    case 'bias':
    case 'beta':
    case 'movingMean':
      out.fill(0);
      return;
  }
}
