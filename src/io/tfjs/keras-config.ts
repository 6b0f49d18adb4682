// Reading Keras layer configs as JSON gives them (tfjs-layers, Keras 2 `model_config`, Keras 3): typed getters
// that name the layer and key in every error, and the tensor references of both inbound-node formats.

import { ConfigError, FormatError } from '../../errors.js';

export type Json = Record<string, unknown>;

/** One layer of a Keras topology, normalised across Keras 2, Keras 3 and tfjs-layers. */
export interface KerasLayerSpec {
  className: string;
  name: string;
  config: Json;
  /** Each call of the layer (one per inbound node), with the tensors it was called on. */
  inbound: KerasTensorRef[][];
}

/** `[layer, nodeIndex, tensorIndex]`: which output of which call of a layer. */
export interface KerasTensorRef {
  layer: string;
  node: number;
  tensor: number;
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed access to one layer's config. */
export class ConfigReader {
  constructor(readonly spec: { className: string; name: string; config: Json }, readonly source: string) {}

  get where(): string {
    return `${this.source}: layer ${JSON.stringify(this.spec.name)} (${this.spec.className})`;
  }

  fail(message: string): FormatError {
    return new FormatError(`${this.where}: ${message}`);
  }

  unsupported(message: string): ConfigError {
    return new ConfigError(`${this.where}: ${message}`);
  }

  has(key: string): boolean {
    const v = this.spec.config[key];
    return v !== undefined && v !== null;
  }

  raw(key: string): unknown {
    return this.spec.config[key];
  }

  number(key: string, fallback?: number): number {
    const v = this.spec.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(`${key} must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  positiveInteger(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!Number.isInteger(v) || v < 1) throw this.fail(`${key} must be a positive integer, got ${v}`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.spec.config[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.fail(`${key} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.spec.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'string') throw this.fail(`${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** An int or a pair of ints, as Keras writes kernel sizes and strides. */
  pair(key: string, fallback?: number): [number, number] {
    const v = this.spec.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return [fallback, fallback];
    const p = typeof v === 'number' ? [v, v] : v;
    if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= 1)) {
      throw this.fail(`${key} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
    }
    return [p[0] as number, p[1] as number];
  }

  /** Only channels-last data is ours (NHWC); `channels_first` is refused. */
  channelsLast(): void {
    const format = this.spec.config.data_format;
    if (format !== undefined && format !== null && format !== 'channels_last') {
      throw this.unsupported(`data_format ${JSON.stringify(format)} is not supported (only channels_last)`);
    }
  }

  /** Keras padding names we run: `same` (TF SAME) and `valid`. */
  padding(): 'same' | 'valid' {
    const p = this.string('padding', 'valid').toLowerCase();
    if (p !== 'same' && p !== 'valid') throw this.unsupported(`padding ${JSON.stringify(p)} is not supported (same or valid)`);
    return p;
  }

  /** An activation by name; Keras 3 writes `{class_name: 'function', config: 'relu'}`. */
  activation(key = 'activation'): string {
    const v = this.spec.config[key];
    if (v === undefined || v === null) return 'linear';
    if (typeof v === 'string') return v.toLowerCase();
    if (isObject(v) && typeof v.config === 'string') return v.config.toLowerCase();
    if (isObject(v) && typeof v.class_name === 'string' && v.class_name !== 'function') return v.class_name.toLowerCase();
    throw this.fail(`${key} must be an activation name, got ${JSON.stringify(v)}`);
  }
}

/**
 * The tensors each call of a layer consumed. Keras 2 and tfjs write `[[[name, node, tensor, kwargs], …]]`;
 * Keras 3 writes `[{args: [...], kwargs: {...}}]` with `__keras_tensor__` objects carrying `keras_history`.
 */
export function parseInboundNodes(value: unknown, where: string): KerasTensorRef[][] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new FormatError(`${where}: inbound_nodes must be a list, got ${JSON.stringify(value)}`);
  return value.map((node, i) => {
    if (Array.isArray(node)) return node.map((ref) => tensorRef(ref, `${where}: inbound node ${i}`));
    if (isObject(node)) {
      const refs: KerasTensorRef[] = [];
      collectKerasTensors(node.args, refs, `${where}: inbound node ${i}`, 0);
      return refs;
    }
    throw new FormatError(`${where}: inbound node ${i} must be a list or {args, kwargs}, got ${JSON.stringify(node)}`);
  });
}

function collectKerasTensors(value: unknown, out: KerasTensorRef[], where: string, depth: number): void {
  if (depth > 16) throw new FormatError(`${where}: arguments nest too deeply`);
  if (Array.isArray(value)) {
    for (const item of value) collectKerasTensors(item, out, where, depth + 1);
  } else if (isObject(value) && value.class_name === '__keras_tensor__') {
    const config = value.config;
    if (!isObject(config)) throw new FormatError(`${where}: a __keras_tensor__ has no config`);
    out.push(tensorRef(config.keras_history, where));
  }
}

/** `[name, node, tensor]` (the kwargs a Keras 2 reference may carry are ignored). */
export function tensorRef(value: unknown, where: string): KerasTensorRef {
  if (!Array.isArray(value) || value.length < 3 || typeof value[0] !== 'string' || !Number.isInteger(value[1]) || !Number.isInteger(value[2])) {
    throw new FormatError(`${where}: a tensor reference must be [layer, node, tensor], got ${JSON.stringify(value)}`);
  }
  return { layer: value[0], node: value[1] as number, tensor: value[2] as number };
}

/** `input_layers` / `output_layers`: a list of references, or (Keras 3, one tensor) a single one. */
export function parseRefList(value: unknown, where: string): KerasTensorRef[] {
  if (!Array.isArray(value)) throw new FormatError(`${where} must be a list of [layer, node, tensor], got ${JSON.stringify(value)}`);
  if (typeof value[0] === 'string') return [tensorRef(value, where)];
  return value.map((v) => tensorRef(v, where));
}

/** Per-sample input shape from `batch_input_shape` (Keras 2, tfjs) or `batch_shape` (Keras 3). */
export function batchShapeOf(config: Json): (number | null)[] | undefined {
  const v = config.batch_input_shape ?? config.batch_shape;
  if (!Array.isArray(v)) return undefined;
  return v.slice(1).map((d) => (typeof d === 'number' ? d : null));
}
