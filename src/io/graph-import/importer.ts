// The skeleton the ONNX and TF.js graph importers share: the value table, unique layer names, errors that name the
// node, activation and constant inputs, weights set once the model is built, and the loop that converts node by node.

import { FormatError, asFormatError } from '../../errors.js';
import type { Layer } from '../../nn/layer.js';
import type { Tensor } from '../../tensor/tensor.js';

/** A value computed from the graph's input at run time; each format adds what it tracks of it (ONNX: its layout). */
export interface ActivationValue {
  kind: 'activation';
}

/** A value known while importing (a weight, a folded shape computation), as the format holds tensors. */
export interface ConstantValue<T> {
  kind: 'constant';
  tensor: T;
}

/** Converts the importer's current node to the value of its (first) output. */
export type OpConverter<I, V> = (importer: I) => V;

/** Op converters by op type: build with `lookupTable`, so that an op named "constructor" is unknown like any other. */
export type OpTable<I, V> = Readonly<Record<string, OpConverter<I, V>>>;

/** A folded shape's values for messages: the batch size, unknown until run time and held as NaN, reads `N`. */
export function formatDims(values: readonly number[]): string {
  return `[${values.map((v) => (Number.isNaN(v) ? 'N' : v)).join(', ')}]`;
}

/** Characters a layer name keeps from the file's node names; others become `_`. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.\-/]/g, '_');
}

/** What an importer says where an input is of the wrong kind. */
export interface InputWording {
  /** Ends "input k is a constant; …". */
  activationOnly: string;
  /** Ends "what (input k) must be a constant…", e.g. where constants come from. */
  constantSources: string;
}

/**
 * Node `N`'s converter: a format's importer supplies how to read a node (its op, its label, its inputs, its
 * unsupported-op error), its attribute decoding and a table of op converters; this base owns the rest.
 */
export abstract class GraphImporter<N, A extends ActivationValue, T> {
  /** Each value by the name the graph reads it by. */
  readonly values = new Map<string, A | ConstantValue<T>>();
  /** How many nodes of each op type were converted. */
  readonly operators: Record<string, number> = {};
  /** Position of the current node in the converted order. */
  nodeIndex = 0;
  private readonly names = new Set<string>();
  private readonly pendingWeights: { layer: Layer; name: string; value: Tensor }[] = [];
  private current: N | null = null;

  constructor(
    /** Names the file in errors. */
    readonly source: string,
    private readonly wording: InputWording,
  ) {}

  /** The node being converted. */
  get node(): N {
    return this.current as N;
  }

  protected abstract opOf(node: N): string;
  /** How errors quote the node (its name, or what stands for it). */
  protected abstract labelOf(node: N): string | undefined;
  /** The name the node's value is stored under. */
  protected abstract outputOf(node: N): string | undefined;
  /** The format's typed error for an op, or a use of one, it does not map; names the current node. */
  abstract unsupported(reason?: string): FormatError;
  /** The error for an op type the table lacks. */
  protected abstract unknownOp(): FormatError;
  /** Input `k` of the current node, undefined where the node leaves it out. */
  abstract input(k: number): A | ConstantValue<T> | undefined;
  /** A fresh layer name for the current node. */
  abstract layerName(suffix?: string): string;

  /**
   * The value of a node that needs no converting: one an earlier node took into its own layer, or one the format
   * makes itself (the graph input). Undefined: convert the node.
   */
  protected given(_node: N): A | ConstantValue<T> | undefined {
    return undefined;
  }

  /** Converts `nodes` in order (each after its inputs) through `ops`, storing each node's value. */
  protected convertNodes(nodes: Iterable<N>, ops: OpTable<this, A | ConstantValue<T>>): void {
    let index = 0;
    for (const node of nodes) {
      this.current = node;
      this.nodeIndex = index++;
      const op = this.opOf(node);
      this.operators[op] = (this.operators[op] ?? 0) + 1;
      const value = this.given(node) ?? this.convertNamingNode(node, ops);
      const name = this.outputOf(node);
      if (name) this.values.set(name, value);
    }
    this.current = null;
  }

  /** Converts a node; shape and configuration errors from our layers come back as FormatErrors naming the node. */
  private convertNamingNode(node: N, ops: OpTable<this, A | ConstantValue<T>>): A | ConstantValue<T> {
    return asFormatError(() => this.convert(node, ops), (message) => this.invalid(message));
  }

  protected convert(node: N, ops: OpTable<this, A | ConstantValue<T>>): A | ConstantValue<T> {
    const op = this.opOf(node);
    if (!(op in ops)) throw this.unknownOp();
    return ops[op](this);
  }

  /** `base`, or `base_2`, `base_3`, … where that is taken: layer names are unique in a model. */
  unique(base: string): string {
    let name = base;
    for (let k = 2; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** A FormatError naming the current node and its op. */
  invalid(message: string): FormatError {
    const node = this.node;
    return new FormatError(`${this.source}: node ${JSON.stringify(this.labelOf(node))} (${this.opOf(node)}): ${message}`);
  }

  required(k: number): A | ConstantValue<T> {
    const v = this.input(k);
    if (!v) throw this.invalid(`input ${k} is missing`);
    return v;
  }

  activationInput(k: number): A {
    const v = this.required(k);
    if (v.kind !== 'activation') throw this.unsupported(`input ${k} is a constant; ${this.wording.activationOnly}`);
    return v as A;
  }

  constantInput(k: number, what: string): T {
    const v = this.required(k);
    if (v.kind !== 'constant') throw this.unsupported(`${what} (input ${k}) must be a constant${this.wording.constantSources}`);
    return (v as ConstantValue<T>).tensor;
  }

  /** Sets `layer`'s weight `name` once the model is built (a layer's weights exist from its first apply on). */
  setWeight(layer: Layer, name: string, value: Tensor): void {
    this.pendingWeights.push({ layer, name, value });
  }

  protected assignWeights(): void {
    for (const w of this.pendingWeights) w.layer.setParam(w.name, w.value);
  }
}
