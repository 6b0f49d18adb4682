// Keras model topology (tfjs-layers `modelTopology`, Keras 2 `model_config`, Keras 3 config) → our functional
// graph with the same layer names, and the Keras weights (`layer/weight`) it needs with where each one goes.

import { ConfigError, FormatError, WeightsError } from '../../errors.js';
import { lookupTable } from '../../lookup-table.js';
import { Model } from '../../graph/model.js';
import type { SymbolicTensor } from '../../graph/symbolic.js';
import { ActivationLayer, Softmax } from '../../nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../nn/conv.js';
import { Add, Dense, Dropout, Flatten, Reshape, ZeroPadding2D, input } from '../../nn/core.js';
import type { Layer } from '../../nn/layer.js';
import { Arithmetic, Clip, Concatenate, HardSigmoid, HardSwish, Sigmoid, Transpose } from '../../nn/extra.js';
import type { ArithmeticOp } from '../../ops/broadcast.js';
import { ArgMax } from '../../nn/argmax.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { Resize } from '../../nn/resize.js';
import { RESIZE_COORDINATES } from '../../ops/resize.js';
import type { ResizeCoordinates } from '../../ops/resize.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../nn/pooling.js';
import type { Activation } from '../../ops/activation.js';
import type { Shape } from '../../tensor/tensor.js';
import { Tensor, formatShape, sameShape, sizeOf } from '../../tensor/tensor.js';
import type { Json, KerasLayerSpec, KerasTensorRef } from './keras-config.js';
import { ConfigReader, batchShapeOf, isObject, parseInboundNodes, parseRefList } from './keras-config.js';

/** One Keras weight and the parameter of ours it fills. */
export interface KerasWeightBinding {
  /** Keras layer name, e.g. `Conv1`. */
  layer: string;
  /** Keras weight name within the layer, e.g. `kernel`, `depthwise_kernel`, `moving_mean`. */
  weight: string;
  /** The top-level layer whose H5 group holds the weight: the layer itself, or the nested model it belongs to. */
  group: string;
  /** Our parameter, `layer.param`. */
  target: string;
  /** The shape Keras stores (a depthwise kernel is [kh, kw, C, m]; ours is [kh, kw, 1, C·m], the same memory). */
  shape: number[];
}

export interface KerasImport {
  model: Model;
  /** Every Keras weight the model needs, in the topology's layer order and Keras's weight order per layer. */
  weights: KerasWeightBinding[];
  /** Parameters with no Keras weight (γ = 1 or β = 0 of a BatchNorm built with `scale`/`center` false). */
  defaults: Map<string, Tensor>;
}

export interface KerasImportOptions {
  /** Names the file in errors. */
  source?: string;
  /** Per-sample input shape [H, W, C] when the topology leaves dimensions open (null). */
  inputShape?: Shape;
}

/** Activations our conv and dense layers fuse. */
const FUSED = lookupTable<Activation>({ linear: 'linear', relu: 'relu', relu6: 'relu6' });
/** Activations that become a layer of their own after the conv or dense layer. */
const SEPARATE = lookupTable<(name: string) => Layer>({ softmax: (name) => new Softmax(name), sigmoid: (name) => new Sigmoid(name) });
const SUPPORTED_ACTIVATIONS = [...Object.keys(FUSED), ...Object.keys(SEPARATE)].join(', ');

interface BuildContext {
  source: string;
  weights: KerasWeightBinding[];
  defaults: Map<string, Tensor>;
  /** Names taken by Keras layers or by layers we added, so added ones stay unique. */
  names: Set<string>;
  /** While a nested model is inlined: its name in the outermost model. */
  container: string | undefined;
}

type Converter = (r: ConfigReader, inputs: SymbolicTensor[], ctx: BuildContext) => SymbolicTensor;

/** Class names of functional models (a model used as a layer inside another is inlined). */
const MODEL_CLASSES = new Set(['Model', 'Functional']);

/** Builds our Model from a Keras topology object (the `model_config` wrapper of converter output is unwrapped). */
export function kerasTopologyToModel(topology: unknown, options: KerasImportOptions = {}): KerasImport {
  const source = options.source ?? '<topology>';
  let root = topology;
  if (isObject(root) && isObject(root.model_config)) root = root.model_config;
  if (!isObject(root) || typeof root.class_name !== 'string') throw new FormatError(`${source}: model topology must be an object with class_name and config`);
  const ctx: BuildContext = { source, weights: [], defaults: new Map(), names: new Set(), container: undefined };
  const className = root.class_name;
  let built: Built;
  if (className === 'Sequential') built = buildSequential(root.config, ctx, options, null);
  else if (MODEL_CLASSES.has(className)) built = buildFunctional(root.config, ctx, options, null);
  else throw new ConfigError(`${source}: model class ${JSON.stringify(className)} is not supported (Sequential, Model or Functional)`);
  const model = new Model(built.input, built.outputs ?? built.output, { name: built.name });
  // layers the output does not depend on are not part of the model, nor are their weights
  const weights = ctx.weights.filter((w) => model.hasLayer(w.target.slice(0, w.target.lastIndexOf('.'))));
  return { model, weights, defaults: ctx.defaults };
}

/**
 * Loads Keras weights found by `find` into an imported model. Every binding must find a tensor of exactly
 * the Keras shape; nothing changes on error.
 */
export function assignKerasWeights(imported: KerasImport, find: (binding: KerasWeightBinding) => Tensor | undefined, source = '<weights>'): void {
  const values = new Map(imported.defaults);
  const missing: string[] = [];
  const misshaped: string[] = [];
  const own = imported.model.weights();
  for (const b of imported.weights) {
    const t = find(b);
    if (!t) {
      missing.push(`${b.layer}/${b.weight}`);
      continue;
    }
    if (!sameShape(t.shape, b.shape)) {
      misshaped.push(`${b.layer}/${b.weight} expected ${formatShape(b.shape)} got ${formatShape(t.shape)}`);
      continue;
    }
    values.set(b.target, t.reshape(own.get(b.target)!.shape));
  }
  if (missing.length || misshaped.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length}: ${few(missing)}`);
    if (misshaped.length) parts.push(`wrong shape ${misshaped.length}: ${few(misshaped)}`);
    throw new WeightsError(`${source}: weights do not fit the model's topology: ${parts.join('; ')}`, missing);
  }
  imported.model.setWeights(values);
}

function few(list: string[]): string {
  return list.length <= 6 ? list.join(', ') : `${list.slice(0, 6).join(', ')}, … (${list.length - 6} more)`;
}

function modelName(config: unknown, fallback: string): string {
  return isObject(config) && typeof config.name === 'string' ? config.name : fallback;
}

function readSpec(entry: unknown, index: number, source: string): KerasLayerSpec {
  if (!isObject(entry) || typeof entry.class_name !== 'string') throw new FormatError(`${source}: layer ${index} must be an object with class_name and config`);
  const config = isObject(entry.config) ? entry.config : {};
  const name = typeof entry.name === 'string' ? entry.name : typeof config.name === 'string' ? config.name : undefined;
  if (name === undefined) throw new FormatError(`${source}: layer ${index} (${entry.class_name}) has no name`);
  return { className: entry.class_name, name, config, inbound: parseInboundNodes(entry.inbound_nodes, `${source}: layer ${JSON.stringify(name)}`) };
}

function graphInput(spec: { name: string; className: string; config: Json }, ctx: BuildContext, options: KerasImportOptions): SymbolicTensor {
  const r = new ConfigReader(spec, ctx.source);
  const declared = batchShapeOf(spec.config);
  const given = options.inputShape;
  if (!declared && !given) throw r.fail('no batch_input_shape: pass inputShape');
  let shape: number[];
  if (declared && given) {
    if (declared.length !== given.length || declared.some((d, i) => d !== null && d !== given[i])) {
      throw r.unsupported(`inputShape ${formatShape(given)} contradicts the declared per-sample shape [${declared.map((d) => d ?? '?').join(', ')}]`);
    }
    shape = [...given];
  } else if (declared) {
    if (declared.some((d) => d === null)) throw r.unsupported(`input shape [${declared.map((d) => d ?? '?').join(', ')}] has open dimensions: pass inputShape`);
    shape = declared as number[];
  } else shape = [...given!];
  const dtype = spec.config.dtype;
  if (typeof dtype === 'string' && !dtype.startsWith('float')) throw r.unsupported(`input dtype ${dtype} is not supported (float inputs only)`);
  ctx.names.add(spec.name);
  return input(shape, spec.name);
}

/** A Sequential model; with `feed`, inlined into an outer model with `feed` as its input. */
/** A built topology: its input, its (first) output, and for a functional model every output by name. */
interface Built {
  input: SymbolicTensor;
  output: SymbolicTensor;
  outputs?: Record<string, SymbolicTensor>;
  name: string;
}

function buildSequential(config: unknown, ctx: BuildContext, options: KerasImportOptions, feed: SymbolicTensor | null): Built {
  // very old Keras wrote the layer list itself as the config
  const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new FormatError(`${ctx.source}: Sequential config has no layers`);
  const specs = list.map((e, i) => readSpec(e, i, ctx.source));
  for (const s of specs) ctx.names.add(s.name);
  let x: SymbolicTensor;
  let rest = specs;
  if (feed) {
    x = feed;
    if (specs[0].className === 'InputLayer') rest = specs.slice(1);
  } else if (specs[0].className === 'InputLayer') {
    x = graphInput(specs[0], ctx, options);
    rest = specs.slice(1);
  } else {
    // Keras names the implicit input after the first layer, which declares its shape (or, for a model, its input does)
    x = graphInput({ ...specs[0], name: `${specs[0].name}_input`, className: 'InputLayer', config: declaringConfig(specs[0]) }, ctx, options);
  }
  const input = x;
  for (const spec of rest) x = convertLayer(spec, [x], ctx);
  return { input, output: x, name: modelName(config, 'sequential') };
}

/** The config that declares a layer's input shape: its own, or for a nested model, that of its first InputLayer. */
function declaringConfig(spec: KerasLayerSpec): Json {
  if (batchShapeOf(spec.config) || !(MODEL_CLASSES.has(spec.className) || spec.className === 'Sequential')) return spec.config;
  const layers = Array.isArray(spec.config.layers) ? spec.config.layers : [];
  const first = layers.find((l) => isObject(l) && (l.class_name === 'InputLayer' || (isObject(l.config) && batchShapeOf(l.config))));
  return isObject(first) && isObject(first.config) ? first.config : spec.config;
}

/** A functional model; with `feed`, inlined into an outer model with `feed` as its input. */
function buildFunctional(config: unknown, ctx: BuildContext, options: KerasImportOptions, feed: SymbolicTensor | null): Built {
  if (!isObject(config) || !Array.isArray(config.layers)) throw new FormatError(`${ctx.source}: functional config has no layers list`);
  const specs = config.layers.map((e, i) => readSpec(e, i, ctx.source));
  const byName = new Map<string, KerasLayerSpec>();
  for (const s of specs) {
    if (byName.has(s.name)) throw new FormatError(`${ctx.source}: two layers are named ${JSON.stringify(s.name)}`);
    byName.set(s.name, s);
    ctx.names.add(s.name);
  }
  const inputs = parseRefList(config.input_layers, `${ctx.source}: input_layers`);
  const outputs = parseRefList(config.output_layers, `${ctx.source}: output_layers`);
  if (inputs.length !== 1 || outputs.length < 1 || (feed && outputs.length !== 1)) {
    throw new ConfigError(`${ctx.source}: only models with one input and${feed ? ' (nested in another) one output' : ' at least one output'} are supported, ${feed ? 'a nested' : 'this'} one has ${inputs.length} and ${outputs.length}`);
  }
  const outputNames = readOutputNames(config.output_names, outputs, ctx.source);
  // Kahn's algorithm: a layer is built once every layer it reads is built (the config's order is not trusted)
  const produced = new Map<string, SymbolicTensor>();
  const waiting = new Map<string, number>();
  const readers = new Map<string, string[]>();
  const ready: KerasLayerSpec[] = [];
  for (const s of specs) {
    if (s.inbound.length > 1) throw new ConfigError(`${ctx.source}: layer ${JSON.stringify(s.name)} is called ${s.inbound.length} times; shared layers are not supported`);
    const refs = s.inbound[0] ?? [];
    for (const ref of refs) {
      if (!byName.has(ref.layer)) throw new FormatError(`${ctx.source}: layer ${JSON.stringify(s.name)} reads unknown layer ${JSON.stringify(ref.layer)}`);
      checkRef(ref, s.name, ctx.source);
      readers.set(ref.layer, [...(readers.get(ref.layer) ?? []), s.name]);
    }
    waiting.set(s.name, new Set(refs.map((r) => r.layer)).size);
    if (refs.length === 0) ready.push(s);
  }
  while (ready.length > 0) {
    const spec = ready.shift()!;
    let y: SymbolicTensor;
    if (spec.className === 'InputLayer') {
      if (feed && spec.name !== inputs[0].layer) throw new ConfigError(`${ctx.source}: nested model input ${JSON.stringify(spec.name)} is not its only input`);
      y = feed ?? graphInput(spec, ctx, options);
    } else {
      const refs = spec.inbound[0] ?? [];
      if (refs.length === 0) throw new FormatError(`${ctx.source}: layer ${JSON.stringify(spec.name)} (${spec.className}) has no inputs`);
      y = convertLayer(spec, refs.map((r) => produced.get(r.layer)!), ctx);
    }
    produced.set(spec.name, y);
    for (const reader of new Set(readers.get(spec.name) ?? [])) {
      const left = waiting.get(reader)! - 1;
      waiting.set(reader, left);
      if (left === 0) ready.push(byName.get(reader)!);
    }
  }
  const unbuilt = specs.filter((s) => !produced.has(s.name));
  if (unbuilt.length) throw new FormatError(`${ctx.source}: layers ${unbuilt.slice(0, 5).map((s) => s.name).join(', ')} are in a cycle or read nothing that exists`);
  checkRef(inputs[0], 'input_layers', ctx.source);
  const x = feed ?? produced.get(inputs[0].layer);
  if (!x || byName.get(inputs[0].layer)!.className !== 'InputLayer') throw new FormatError(`${ctx.source}: input_layers names ${JSON.stringify(inputs[0].layer)}, which is not an InputLayer`);
  const ys = outputs.map((ref) => {
    checkRef(ref, 'output_layers', ctx.source);
    const y = produced.get(ref.layer);
    if (!y) throw new FormatError(`${ctx.source}: output_layers names unknown layer ${JSON.stringify(ref.layer)}`);
    return y;
  });
  const named = outputs.length > 1 || outputNames[0] !== outputs[0].layer ? Object.fromEntries(outputNames.map((name, k) => [name, ys[k]])) : undefined;
  return { input: x, output: ys[0], outputs: named, name: modelName(config, 'model') };
}

/** The outputs' names: `output_names` (our model file's, where they differ from the layers' names) or the layers' names. */
function readOutputNames(value: unknown, outputs: readonly KerasTensorRef[], source: string): string[] {
  const names = value === undefined || value === null ? outputs.map((ref) => ref.layer) : value;
  if (!Array.isArray(names) || names.length !== outputs.length || !names.every((n) => typeof n === 'string')) {
    throw new FormatError(`${source}: output_names must be ${outputs.length} strings, one per output layer, got ${JSON.stringify(value)}`);
  }
  if (new Set(names).size !== names.length) throw new FormatError(`${source}: output names repeat (${names.join(', ')}); give output_names`);
  return names as string[];
}

function checkRef(ref: KerasTensorRef, reader: string, source: string): void {
  if (ref.node !== 0 || ref.tensor !== 0) {
    throw new ConfigError(`${source}: ${reader} reads output ${ref.tensor} of call ${ref.node} of layer ${JSON.stringify(ref.layer)}; only single-call, single-output layers are supported`);
  }
}

function convertLayer(spec: KerasLayerSpec, inputs: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const r = new ConfigReader(spec, ctx.source);
  const convert = CONVERTERS[spec.className];
  if (!convert) throw r.unsupported(`layer class ${spec.className} is not supported (supported: ${Object.keys(CONVERTERS).join(', ')})`);
  const many = spec.className === 'Add' || spec.className === 'Concatenate' || (spec.className === 'Arithmetic' && !isObject(spec.config.constant));
  if (many ? inputs.length < 2 : inputs.length !== 1) {
    throw r.fail(`takes ${many ? 'two or more inputs' : 'one input'}, got ${inputs.length}`);
  }
  return convert(r, inputs, ctx);
}

/** A name for a layer we add (a split activation, the depthwise half of a separable conv), unique in the model. */
function addedName(base: string, ctx: BuildContext): string {
  let name = base;
  for (let i = 1; ctx.names.has(name); i++) name = `${base}_${i}`;
  ctx.names.add(name);
  return name;
}

function bind(ctx: BuildContext, r: ConfigReader, weight: string, layer: Layer, param: string, shape: number[]): void {
  const ours = layer.param(param);
  if (sizeOf(shape) !== ours.size) throw r.fail(`weight ${weight} shape ${formatShape(shape)} does not fit parameter ${layer.name}.${param} ${formatShape(ours.shape)}`);
  ctx.weights.push({ layer: r.spec.name, weight, group: ctx.container ?? r.spec.name, target: `${layer.name}.${param}`, shape });
}

/** Splits a Keras activation into what the layer fuses and what follows it as a layer (softmax, sigmoid). */
function splitActivation(r: ConfigReader): { fused: Activation; after: string | null } {
  const name = r.activation();
  if (name in FUSED) return { fused: FUSED[name], after: null };
  if (name in SEPARATE) return { fused: 'linear', after: name };
  throw r.unsupported(`activation ${JSON.stringify(name)} is not supported (${SUPPORTED_ACTIVATIONS})`);
}

function afterActivation(y: SymbolicTensor, after: string | null, r: ConfigReader, ctx: BuildContext): SymbolicTensor {
  return after === null ? y : SEPARATE[after](addedName(`${r.spec.name}_${after}`, ctx)).apply(y);
}

function convCommon(r: ConfigReader): { kernelSize: [number, number]; strides: [number, number]; dilations: [number, number]; padding: 'same' | 'valid'; useBias: boolean } {
  r.channelsLast();
  const strides = r.pair('strides', 1);
  const dilations = r.pair('dilation_rate', 1);
  if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) throw r.fail('strides > 1 and dilation_rate > 1 cannot be combined (Keras refuses it too)');
  return { kernelSize: r.pair('kernel_size'), strides, dilations, padding: r.padding(), useBias: r.boolean('use_bias', true) };
}

function channelsOf(x: SymbolicTensor): number {
  return x.shape[x.shape.length - 1];
}

function conv2d(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const common = convCommon(r);
  const act = splitActivation(r);
  const layer = new Conv2D(r.spec.name, { ...common, filters: r.positiveInteger('filters'), groups: r.positiveInteger('groups', 1), activation: act.fused });
  const y = layer.apply(x);
  bind(ctx, r, 'kernel', layer, 'kernel', [...layer.kernel.shape]);
  if (common.useBias) bind(ctx, r, 'bias', layer, 'bias', [layer.filters]);
  return afterActivation(y, act.after, r, ctx);
}

function depthwise(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const common = convCommon(r);
  const act = splitActivation(r);
  const depthMultiplier = r.positiveInteger('depth_multiplier', 1);
  const layer = new DepthwiseConv2D(r.spec.name, { ...common, depthMultiplier, activation: act.fused });
  const y = layer.apply(x);
  const [kh, kw] = common.kernelSize;
  bind(ctx, r, 'depthwise_kernel', layer, 'depthwise_kernel', [kh, kw, channelsOf(x), depthMultiplier]);
  if (common.useBias) bind(ctx, r, 'bias', layer, 'bias', [channelsOf(y)]);
  return afterActivation(y, act.after, r, ctx);
}

/** SeparableConv2D = depthwise (named `<name>_depthwise`, no bias) then a 1×1 conv that keeps the Keras name. */
function separable(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const common = convCommon(r);
  const act = splitActivation(r);
  const depthMultiplier = r.positiveInteger('depth_multiplier', 1);
  const dw = new DepthwiseConv2D(addedName(`${r.spec.name}_depthwise`, ctx), { ...common, useBias: false, depthMultiplier });
  const pw = new Conv2D(r.spec.name, { kernelSize: 1, filters: r.positiveInteger('filters'), useBias: common.useBias, activation: act.fused });
  const y = pw.apply(dw.apply(x));
  const [kh, kw] = common.kernelSize;
  bind(ctx, r, 'depthwise_kernel', dw, 'depthwise_kernel', [kh, kw, channelsOf(x), depthMultiplier]);
  bind(ctx, r, 'pointwise_kernel', pw, 'kernel', [...pw.kernel.shape]);
  if (common.useBias) bind(ctx, r, 'bias', pw, 'bias', [pw.filters]);
  return afterActivation(y, act.after, r, ctx);
}

function batchNorm(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const rank = x.shape.length + 1;
  const raw = r.raw('axis');
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw ?? -1;
  if (axis !== -1 && axis !== rank - 1) throw r.unsupported(`axis ${JSON.stringify(raw)} is not supported (only the last, channel axis)`);
  const layer = new BatchNormalization(r.spec.name, { epsilon: r.number('epsilon', 1e-3), momentum: r.number('momentum', 0.99) });
  const y = layer.apply(x);
  const c = [channelsOf(x)];
  if (r.boolean('scale', true)) bind(ctx, r, 'gamma', layer, 'gamma', c);
  else ctx.defaults.set(`${layer.name}.gamma`, new Tensor(c, new Float32Array(c[0]).fill(1)));
  if (r.boolean('center', true)) bind(ctx, r, 'beta', layer, 'beta', c);
  else ctx.defaults.set(`${layer.name}.beta`, new Tensor(c, new Float32Array(c[0])));
  bind(ctx, r, 'moving_mean', layer, 'moving_mean', c);
  bind(ctx, r, 'moving_variance', layer, 'moving_variance', c);
  return y;
}

function dense(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  if (x.shape.length !== 1) throw r.unsupported(`Dense on a per-sample shape ${formatShape(x.shape)} is not supported (only feature vectors; add Flatten or pooling)`);
  const act = splitActivation(r);
  const useBias = r.boolean('use_bias', true);
  const units = r.positiveInteger('units');
  const layer = new Dense(r.spec.name, { units, useBias, activation: act.fused });
  const y = layer.apply(x);
  bind(ctx, r, 'kernel', layer, 'kernel', [x.shape[0], units]);
  if (useBias) bind(ctx, r, 'bias', layer, 'bias', [units]);
  return afterActivation(y, act.after, r, ctx);
}

function activationLayer(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const name = r.activation();
  if (name in SEPARATE) return SEPARATE[name](r.spec.name).apply(x);
  if (!(name in FUSED)) throw r.unsupported(`activation ${JSON.stringify(name)} is not supported (${SUPPORTED_ACTIVATIONS})`);
  return new ActivationLayer(r.spec.name, FUSED[name]).apply(x);
}

function relu(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const negativeSlope = r.number('negative_slope', 0);
  const threshold = r.number('threshold', 0);
  if (negativeSlope !== 0 || threshold !== 0) throw r.unsupported(`negative_slope ${negativeSlope} and threshold ${threshold} are not supported (both 0)`);
  const max = r.has('max_value') ? r.number('max_value') : null;
  if (max === null || max === 6) return new ActivationLayer(r.spec.name, max === 6 ? 'relu6' : 'relu').apply(x);
  if (!(max >= 0)) throw r.fail(`max_value must be ≥ 0, got ${max}`);
  return new Clip(r.spec.name, 0, max).apply(x);
}

function softmax(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const raw = r.raw('axis');
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw ?? -1;
  if (axis !== -1 && axis !== x.shape.length) throw r.unsupported(`axis ${JSON.stringify(raw)} is not supported (only the last axis)`);
  return new Softmax(r.spec.name).apply(x);
}

function add(r: ConfigReader, inputs: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  // our Add sums two tensors; Keras's sums any number, so longer sums become a chain ending in the Keras name
  let y = inputs[0];
  for (let i = 1; i < inputs.length; i++) {
    const name = i === inputs.length - 1 ? r.spec.name : addedName(`${r.spec.name}_partial_${i}`, ctx);
    y = new Add(name).apply([y, inputs[i]]);
  }
  return y;
}

function zeroPadding(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  r.channelsLast();
  const v = r.raw('padding') ?? 1;
  const nonNegative = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0;
  let pad: [number, number, number, number] | undefined;
  if (nonNegative(v)) pad = [v, v, v, v];
  else if (Array.isArray(v) && v.length === 2 && v.every(nonNegative)) pad = [v[0], v[0], v[1], v[1]];
  else if (Array.isArray(v) && v.length === 2 && v.every((p) => Array.isArray(p) && p.length === 2 && p.every(nonNegative))) {
    const [[t, b], [left, right]] = v as number[][];
    pad = [t, b, left, right];
  }
  if (!pad) throw r.fail(`padding must be n, [h, w] or [[top, bottom], [left, right]], got ${JSON.stringify(v)}`);
  return new ZeroPadding2D(r.spec.name, pad).apply(x);
}

function globalPooling(kind: 'avg' | 'max'): Converter {
  return (r, [x]) => {
    r.channelsLast();
    const keepDims = r.boolean('keepdims', false);
    return (kind === 'avg' ? new GlobalAveragePooling2D(r.spec.name, keepDims) : new GlobalMaxPooling2D(r.spec.name, keepDims)).apply(x);
  };
}

function pooling(kind: 'avg' | 'max'): Converter {
  return (r, [x]) => {
    r.channelsLast();
    const poolSize = r.pair('pool_size', 2);
    const strides = r.has('strides') ? r.pair('strides') : poolSize;
    const options = { poolSize, strides, padding: r.padding() };
    return (kind === 'avg' ? new AveragePooling2D(r.spec.name, options) : new MaxPooling2D(r.spec.name, options)).apply(x);
  };
}

function reshape(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const target = r.raw('target_shape');
  if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d >= 1 || d === -1)) || target.filter((d) => d === -1).length > 1) {
    throw r.fail(`target_shape must be a list of positive integers with at most one -1, got ${JSON.stringify(target)}`);
  }
  const known = (target as number[]).reduce((n, d) => (d === -1 ? n : n * d), 1);
  const total = sizeOf(x.shape);
  if (total % known !== 0) throw r.fail(`cannot reshape ${formatShape(x.shape)} (${total} values) to ${JSON.stringify(target)}`);
  return new Reshape(r.spec.name, (target as number[]).map((d) => (d === -1 ? total / known : d))).apply(x);
}

function concatenate(r: ConfigReader, inputs: SymbolicTensor[]): SymbolicTensor {
  const axis = r.number('axis', -1);
  if (!Number.isInteger(axis) || axis === 0) throw r.fail(`axis must be a non-zero integer (0 is the batch axis), got ${axis}`);
  return new Concatenate(r.spec.name, axis > 0 ? axis - 1 : axis, inputs.length).apply(inputs);
}

/** Our Resize (a class of our model file, not of Keras): `size` or `scale` as [height, width], and the coordinate convention. */
function resize(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const coordinates = r.string('coordinates', 'half-pixel') as ResizeCoordinates;
  if (!RESIZE_COORDINATES.includes(coordinates)) throw r.fail(`coordinates must be one of ${RESIZE_COORDINATES.join(', ')}, got ${JSON.stringify(coordinates)}`);
  const key = r.has('size') ? 'size' : 'scale';
  const v = r.raw(key);
  const valid = Array.isArray(v) && v.length === 2 && v.every((d) => typeof d === 'number' && (key === 'size' ? Number.isInteger(d) && d >= 1 : Number.isFinite(d) && d > 0));
  if (!valid) throw r.fail(`size or scale must be a positive [height, width], got ${JSON.stringify(v)}`);
  const pair = [v[0], v[1]] as const;
  return new Resize(r.spec.name, key === 'size' ? { size: pair } : { scale: pair }, coordinates).apply(x);
}

function permute(r: ConfigReader, [x]: SymbolicTensor[]): SymbolicTensor {
  const dims = r.raw('dims');
  const rank = x.shape.length;
  if (!Array.isArray(dims) || dims.length !== rank || [...dims].sort().some((d, i) => d !== i + 1)) throw r.fail(`dims must be a permutation of 1..${rank}, got ${JSON.stringify(dims)}`);
  return new Transpose(r.spec.name, (dims as number[]).map((d) => d - 1)).apply(x);
}

const ARITHMETIC_OPS: readonly ArithmeticOp[] = ['add', 'sub', 'mul', 'div'];

/**
 * Layers Keras has no class for, as our model file writes an imported graph's topology (see modelToKerasTopology's
 * `extended`): arithmetic with a constant operand (its values in the config), clip, hard sigmoid, hard swish, bilinear resize and argmax.
 */
function arithmetic(r: ConfigReader, inputs: SymbolicTensor[]): SymbolicTensor {
  const op = r.string('op') as ArithmeticOp;
  if (!ARITHMETIC_OPS.includes(op)) throw r.fail(`op must be one of ${ARITHMETIC_OPS.join(', ')}, got ${JSON.stringify(op)}`);
  const constant = r.raw('constant');
  if (constant === undefined) {
    if (inputs.length !== 2) throw r.fail(`takes two inputs without a constant, got ${inputs.length}`);
    return new Arithmetic(r.spec.name, op).apply(inputs);
  }
  if (!isObject(constant)) throw r.fail('constant must be an object {side, shape, values}');
  const { side, shape, values } = constant;
  if (side !== 'left' && side !== 'right') throw r.fail(`constant side must be "left" or "right", got ${JSON.stringify(side)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) throw r.fail(`constant shape must be a list of positive integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(values) || values.length !== sizeOf(shape as number[]) || !values.every((v) => typeof v === 'number')) throw r.fail(`constant values must be ${sizeOf(shape as number[])} numbers`);
  return new Arithmetic(r.spec.name, op, { side, value: new Tensor(shape as number[], Float32Array.from(values as number[])) }).apply(inputs);
}

/** A bound that may be infinite: JSON writes ±Infinity as null. */
function bound(r: ConfigReader, key: string, infinite: number): number {
  return r.raw(key) === null ? infinite : r.number(key);
}

/** A model used as a layer: its layers join the outer graph under their own names, reading `x`. */
function nestedModel(r: ConfigReader, [x]: SymbolicTensor[], ctx: BuildContext): SymbolicTensor {
  const outer = ctx.container;
  ctx.container = outer ?? r.spec.name;
  try {
    const build = r.spec.className === 'Sequential' ? buildSequential : buildFunctional;
    return build(r.spec.config, ctx, {}, x).output;
  } finally {
    ctx.container = outer;
  }
}

const CONVERTERS = lookupTable<Converter>({
  Model: nestedModel,
  Functional: nestedModel,
  Sequential: nestedModel,
  Conv2D: conv2d,
  Convolution2D: conv2d,
  DepthwiseConv2D: depthwise,
  SeparableConv2D: separable,
  SeparableConvolution2D: separable,
  BatchNormalization: batchNorm,
  Dense: dense,
  Activation: activationLayer,
  ReLU: relu,
  Softmax: softmax,
  Add: add,
  ZeroPadding2D: zeroPadding,
  GlobalAveragePooling2D: globalPooling('avg'),
  GlobalAvgPool2D: globalPooling('avg'),
  GlobalMaxPooling2D: globalPooling('max'),
  GlobalMaxPool2D: globalPooling('max'),
  AveragePooling2D: pooling('avg'),
  AvgPool2D: pooling('avg'),
  MaxPooling2D: pooling('max'),
  MaxPool2D: pooling('max'),
  Flatten: (r, [x]) => new Flatten(r.spec.name).apply(x),
  Reshape: reshape,
  Dropout: (r, [x]) => new Dropout(r.spec.name, r.number('rate', 0)).apply(x),
  Concatenate: concatenate,
  Permute: permute,
  Arithmetic: arithmetic,
  Clip: (r, [x]) => new Clip(r.spec.name, bound(r, 'min', -Infinity), bound(r, 'max', Infinity)).apply(x),
  HardSigmoid: (r, [x]) => new HardSigmoid(r.spec.name, r.number('alpha'), r.number('beta')).apply(x),
  HardSwish: (r, [x]) => new HardSwish(r.spec.name).apply(x),
  Resize: resize,
  ArgMax: (r, [x]) => new ArgMax(r.spec.name).apply(x),
});
