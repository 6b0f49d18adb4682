// Optimizers that update parameters in place from their gradients: SGD (momentum, Nesterov), RMSProp in the
// PyTorch and the TF1 (paper) convention, Adam and AdamW; slot state named `${param}.${slot}` for checkpoints.

import { ConfigError, ShapeError } from '../errors.js';
import type { Model } from '../graph/model.js';
import type { ParamRole } from '../nn/layer.js';
import { isTrainableRole } from '../nn/layer.js';
import { Tensor, formatShape, sameShape } from '../tensor/tensor.js';

/**
 * Updates parameters from gradients. Only parameters that have a gradient move (a frozen parameter is
 * simply left out of `grads`); `grads` is read, never written. State tensors are named
 * `${param}.${slot}` with PyTorch's slot names where PyTorch has the optimizer, so a checkpoint written
 * from `state()` and given back to `loadState()` resumes bit-exactly.
 */
export interface Optimizer {
  /** Short name of the algorithm (`sgd`, `rmsprop`, `rmsprop-tf1`, `adam`, `adamw`). */
  readonly kind: string;
  step(params: Map<string, Tensor>, grads: Map<string, Tensor>, lr: number): void;
  /** Copies of every slot tensor. */
  state(): Map<string, Tensor>;
  /** Replaces the state with copies of `state`; names must use this optimizer's slots. */
  loadState(state: Map<string, Tensor>): void;
  /** The hyper-parameters, as plain data (for logs and checkpoint metadata). */
  config(): Record<string, unknown>;
}

/** What each trainable parameter is, keyed like `model.weights()` (`layer.param`). */
export type ParamInfo = Map<string, { role: ParamRole; layerKind: string }>;

/**
 * Role and layer kind of every trained parameter of `model`; BN moving statistics are not trained and are left
 * out. Frozen layers are kept (they have no gradients, so no step touches them, and unfreezing needs no new map).
 */
export function paramInfo(model: Model): ParamInfo {
  const info: ParamInfo = new Map();
  for (const layer of model.layers) {
    for (const spec of layer.paramSpecs) {
      if (!isTrainableRole(spec.role)) continue;
      info.set(`${layer.name}.${spec.name}`, { role: spec.role, layerKind: layer.kind });
    }
  }
  return info;
}

/** L2 weight decay and the parameters it skips. Skipping anything needs `paramInfo` to say what each parameter is. */
export interface WeightDecayOptions {
  /** Coefficient: coupled (g += wd·w) in SGD, RMSProp and Adam, decoupled (w −= lr·wd·w) in AdamW. Default 0. */
  weightDecay?: number;
  /** No decay on BatchNorm γ and β. */
  excludeBatchNorm?: boolean;
  /** No decay on biases (conv and dense). */
  excludeBias?: boolean;
  /** No decay on depthwise kernels (MobileNetV2 paper: they have few parameters and are easily over-regularised). */
  excludeDepthwise?: boolean;
  /** Role and layer kind per parameter name, e.g. `paramInfo(model)`. */
  paramInfo?: ParamInfo;
}

export interface SGDOptions extends WeightDecayOptions {
  momentum?: number;
  /** PyTorch's dampening: the new gradient enters the buffer scaled by 1 − dampening (not on the first step). */
  dampening?: number;
  nesterov?: boolean;
}

export interface RMSPropOptions extends WeightDecayOptions {
  /** Decay of the mean square (PyTorch's default 0.99). */
  alpha?: number;
  /** Added to √v, outside the square root (PyTorch's default 1e-8). */
  eps?: number;
  momentum?: number;
  /** Divide by the centred second moment (an estimate of the variance) instead of the mean square. */
  centered?: boolean;
}

export interface RMSPropTF1Options extends WeightDecayOptions {
  /** Decay of the mean square: 0.9 in the paper. */
  decay?: number;
  /** 0.9 in the paper. */
  momentum?: number;
  /** Added to the mean square inside the square root: 1.0 in TF-slim's ImageNet recipe, which the paper used. */
  epsilon?: number;
  centered?: boolean;
}

export interface AdamOptions extends WeightDecayOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

interface Slot {
  data: Float32Array;
  /** Created on this call (PyTorch starts some buffers from the first value rather than from zero). */
  fresh: boolean;
}

/** Slot bookkeeping, argument checks and weight-decay exclusions shared by every optimizer; `settings` are its hyper-parameters. */
abstract class SlotOptimizer<Settings extends Record<string, number | boolean>> implements Optimizer {
  abstract readonly kind: string;
  private slots = new Map<string, Tensor>();
  private readonly weightDecay: number;
  private readonly decayOptions: WeightDecayOptions;
  private readonly decayByParam = new Map<string, number>();

  constructor(
    options: WeightDecayOptions,
    readonly settings: Readonly<Settings>,
  ) {
    this.weightDecay = nonNegative(options.weightDecay ?? 0, 'weightDecay');
    this.decayOptions = options;
  }

  /** Slot names this optimizer writes with its current settings. */
  protected abstract slotNames(): readonly string[];

  /** Updates one parameter; `decay` is its weight-decay coefficient after exclusions. */
  protected abstract update(name: string, w: Float32Array, g: Float32Array, lr: number, decay: number, shape: readonly number[]): void;

  step(params: Map<string, Tensor>, grads: Map<string, Tensor>, lr: number): void {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new ConfigError(`${this.kind}: learning rate must be a finite number ≥ 0, got ${lr}`);
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (!param) throw new ConfigError(`${this.kind}: gradient ${name} has no parameter of that name`);
      if (!sameShape(param.shape, grad.shape)) {
        throw new ShapeError(`${this.kind}: gradient ${name} has shape ${formatShape(grad.shape)}, its parameter ${formatShape(param.shape)}`);
      }
      this.update(name, param.data, grad.data, lr, this.decayFor(name), param.shape);
    }
  }

  state(): Map<string, Tensor> {
    return new Map([...this.slots].map(([k, t]) => [k, t.clone()]));
  }

  loadState(state: Map<string, Tensor>): void {
    const known = this.slotNames();
    const slots = new Map<string, Tensor>();
    for (const [key, t] of state) {
      const dot = key.lastIndexOf('.');
      const slot = dot < 0 ? '' : key.slice(dot + 1);
      if (dot <= 0 || !known.includes(slot)) {
        throw new ConfigError(`${this.kind}: state ${JSON.stringify(key)} is not \`param.slot\` with a slot of this optimizer (${known.join(', ')})`);
      }
      slots.set(key, t.clone());
    }
    this.slots = slots;
  }

  /** The slot `${param}.${slot}`, created filled with `init` (shape of the parameter, or `shape`) when absent. */
  protected slot(param: string, slot: string, shape: readonly number[], init = 0): Slot {
    const key = `${param}.${slot}`;
    const have = this.slots.get(key);
    if (have) {
      if (!sameShape(have.shape, shape)) throw new ShapeError(`${this.kind}: state ${key} has shape ${formatShape(have.shape)}, expected ${formatShape(shape)}`);
      return { data: have.data, fresh: false };
    }
    const t = new Tensor(shape);
    if (init !== 0) t.data.fill(init);
    this.slots.set(key, t);
    return { data: t.data, fresh: true };
  }

  config(): Record<string, unknown> {
    const o = this.decayOptions;
    const decay = { weightDecay: this.weightDecay, excludeBatchNorm: !!o.excludeBatchNorm, excludeBias: !!o.excludeBias, excludeDepthwise: !!o.excludeDepthwise };
    return { kind: this.kind, ...this.settings, ...decay };
  }

  private decayFor(name: string): number {
    const cached = this.decayByParam.get(name);
    if (cached !== undefined) return cached;
    const o = this.decayOptions;
    let decay = this.weightDecay;
    if (decay !== 0 && (o.excludeBatchNorm || o.excludeBias || o.excludeDepthwise)) {
      const info = o.paramInfo?.get(name);
      if (!info) throw new ConfigError(`${this.kind}: weight-decay exclusions need paramInfo for every parameter; none for ${name}`);
      const excluded =
        (o.excludeBatchNorm && (info.role === 'gamma' || info.role === 'beta')) ||
        (o.excludeBias && info.role === 'bias') ||
        (o.excludeDepthwise && info.role === 'kernel' && info.layerKind === 'DepthwiseConv2D');
      if (excluded) decay = 0;
    }
    this.decayByParam.set(name, decay);
    return decay;
  }
}

/** SGD as PyTorch: g += wd·w; buf = μ·buf + (1 − dampening)·g (buf = g on the first step); w −= lr·(Nesterov ? g + μ·buf : buf). */
export class SGD extends SlotOptimizer<{ momentum: number; dampening: number; nesterov: boolean }> {
  readonly kind = 'sgd';

  constructor(options: SGDOptions = {}) {
    super(options, {
      momentum: nonNegative(options.momentum ?? 0, 'sgd: momentum'),
      dampening: nonNegative(options.dampening ?? 0, 'sgd: dampening'),
      nesterov: options.nesterov ?? false,
    });
    const { momentum, dampening, nesterov } = this.settings;
    if (nesterov && (momentum === 0 || dampening !== 0)) throw new ConfigError('sgd: Nesterov momentum needs momentum > 0 and dampening 0');
  }

  protected slotNames(): readonly string[] {
    return ['momentum_buffer'];
  }

  protected update(name: string, w: Float32Array, g: Float32Array, lr: number, decay: number, shape: readonly number[]): void {
    const { momentum: mu, dampening, nesterov } = this.settings;
    if (mu === 0) {
      for (let i = 0; i < w.length; i++) w[i] -= lr * (g[i] + decay * w[i]);
      return;
    }
    const { data: buf, fresh } = this.slot(name, 'momentum_buffer', shape);
    for (let i = 0; i < w.length; i++) {
      const d = g[i] + decay * w[i];
      buf[i] = fresh ? d : mu * buf[i] + (1 - dampening) * d;
      w[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i]);
    }
  }
}

/** RMSProp as PyTorch: v = α·v + (1 − α)·g² from v₀ = 0; buf = μ·buf + g/(√v + eps); w −= lr·buf (w −= lr·g/(√v + eps) without momentum). */
export class RMSProp extends SlotOptimizer<{ alpha: number; eps: number; momentum: number; centered: boolean }> {
  readonly kind = 'rmsprop';

  constructor(options: RMSPropOptions = {}) {
    super(options, {
      alpha: unitInterval(options.alpha ?? 0.99, 'rmsprop: alpha'),
      eps: nonNegative(options.eps ?? 1e-8, 'rmsprop: eps'),
      momentum: nonNegative(options.momentum ?? 0, 'rmsprop: momentum'),
      centered: options.centered ?? false,
    });
  }

  protected slotNames(): readonly string[] {
    return ['square_avg', 'momentum_buffer', 'grad_avg'];
  }

  protected update(name: string, w: Float32Array, g: Float32Array, lr: number, decay: number, shape: readonly number[]): void {
    const { alpha, eps, momentum: mu, centered } = this.settings;
    const v = this.slot(name, 'square_avg', shape).data;
    const gAvg = centered ? this.slot(name, 'grad_avg', shape).data : null;
    const buf = mu > 0 ? this.slot(name, 'momentum_buffer', shape).data : null;
    for (let i = 0; i < w.length; i++) {
      const d = g[i] + decay * w[i];
      v[i] = alpha * v[i] + (1 - alpha) * d * d;
      let meanSquare = v[i];
      if (gAvg) {
        gAvg[i] = alpha * gAvg[i] + (1 - alpha) * d;
        meanSquare -= gAvg[i] * gAvg[i];
      }
      const step = d / (Math.sqrt(meanSquare) + eps);
      if (buf) {
        buf[i] = mu * buf[i] + step;
        w[i] -= lr * buf[i];
      } else w[i] -= lr * step;
    }
  }
}

/**
 * RMSProp as TF1's `RMSPropOptimizer`, the MobileNet papers' optimizer: the mean square starts at ONES and eps is
 * inside the square root; lr is folded into the momentum: ms = ρ·ms + (1 − ρ)·g²; mom = μ·mom + lr·g/√(ms + eps); w −= mom.
 */
export class RMSPropTF1 extends SlotOptimizer<{ decay: number; momentum: number; epsilon: number; centered: boolean }> {
  readonly kind = 'rmsprop-tf1';

  constructor(options: RMSPropTF1Options = {}) {
    super(options, {
      decay: unitInterval(options.decay ?? 0.9, 'rmsprop-tf1: decay'),
      momentum: nonNegative(options.momentum ?? 0.9, 'rmsprop-tf1: momentum'),
      epsilon: nonNegative(options.epsilon ?? 1.0, 'rmsprop-tf1: epsilon'),
      centered: options.centered ?? false,
    });
  }

  protected slotNames(): readonly string[] {
    return ['rms', 'momentum', 'mg'];
  }

  protected update(name: string, w: Float32Array, g: Float32Array, lr: number, decay: number, shape: readonly number[]): void {
    const { decay: rho, momentum: mu, epsilon: eps, centered } = this.settings;
    const ms = this.slot(name, 'rms', shape, 1).data;
    const mom = this.slot(name, 'momentum', shape).data;
    const mg = centered ? this.slot(name, 'mg', shape).data : null;
    for (let i = 0; i < w.length; i++) {
      const d = g[i] + decay * w[i];
      ms[i] = rho * ms[i] + (1 - rho) * d * d;
      let denom = ms[i] + eps;
      if (mg) {
        mg[i] = rho * mg[i] + (1 - rho) * d;
        denom -= mg[i] * mg[i];
      }
      mom[i] = mu * mom[i] + (lr * d) / Math.sqrt(denom);
      w[i] -= mom[i];
    }
  }
}

/**
 * Adam as PyTorch, with bias correction and a per-parameter step count (slot `step`, a scalar, exact to 2²⁴ steps):
 * m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²; w −= lr/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + eps). Weight decay is coupled (g += wd·w).
 */
export class Adam extends SlotOptimizer<{ beta1: number; beta2: number; eps: number }> {
  readonly kind: string = 'adam';
  /** AdamW decays the weights directly (w *= 1 − lr·wd) instead of adding wd·w to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(options: AdamOptions = {}) {
    super(options, {
      beta1: unitInterval(options.beta1 ?? 0.9, 'adam: beta1'),
      beta2: unitInterval(options.beta2 ?? 0.999, 'adam: beta2'),
      eps: nonNegative(options.eps ?? 1e-8, 'adam: eps'),
    });
  }

  protected slotNames(): readonly string[] {
    return ['step', 'exp_avg', 'exp_avg_sq'];
  }

  protected update(name: string, w: Float32Array, g: Float32Array, lr: number, decay: number, shape: readonly number[]): void {
    const { beta1, beta2, eps } = this.settings;
    const count = this.slot(name, 'step', []).data;
    const t = ++count[0];
    const m = this.slot(name, 'exp_avg', shape).data;
    const v = this.slot(name, 'exp_avg_sq', shape).data;
    const stepSize = lr / (1 - beta1 ** t);
    const rootCorrection = Math.sqrt(1 - beta2 ** t);
    const coupled = this.decoupled ? 0 : decay;
    const shrink = this.decoupled ? 1 - lr * decay : 1;
    for (let i = 0; i < w.length; i++) {
      if (shrink !== 1) w[i] *= shrink;
      const d = g[i] + coupled * w[i];
      m[i] = beta1 * m[i] + (1 - beta1) * d;
      v[i] = beta2 * v[i] + (1 - beta2) * d * d;
      w[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / rootCorrection + eps);
    }
  }
}

/** AdamW as PyTorch (Loshchilov & Hutter): w *= 1 − lr·wd, then the Adam step on the raw gradient. Default wd 0.01. */
export class AdamW extends Adam {
  override readonly kind: string = 'adamw';
  protected override readonly decoupled: boolean = true;

  constructor(options: AdamOptions = {}) {
    super({ ...options, weightDecay: options.weightDecay ?? 0.01 });
  }
}

/** An optimizer by name, e.g. from a command line or a checkpoint's `config()`. */
export type OptimizerConfig =
  | ({ kind: 'sgd' } & SGDOptions)
  | ({ kind: 'rmsprop' } & RMSPropOptions)
  | ({ kind: 'rmsprop-tf1' } & RMSPropTF1Options)
  | ({ kind: 'adam' } & AdamOptions)
  | ({ kind: 'adamw' } & AdamOptions);

export const OPTIMIZER_KINDS = ['sgd', 'rmsprop', 'rmsprop-tf1', 'adam', 'adamw'] as const;

export function createOptimizer(config: OptimizerConfig): Optimizer {
  switch (config.kind) {
    case 'sgd':
      return new SGD(config);
    case 'rmsprop':
      return new RMSProp(config);
    case 'rmsprop-tf1':
      return new RMSPropTF1(config);
    case 'adam':
      return new Adam(config);
    case 'adamw':
      return new AdamW(config);
    default:
      throw new ConfigError(`unknown optimizer ${JSON.stringify((config as { kind: unknown }).kind)}: expected one of ${OPTIMIZER_KINDS.join(', ')}`);
  }
}

function nonNegative(value: number, what: string): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new ConfigError(`${what} must be a finite number ≥ 0, got ${value}`);
  return value;
}

function unitInterval(value: number, what: string): number {
  if (!(value >= 0 && value < 1)) throw new ConfigError(`${what} must be in [0, 1), got ${value}`);
  return value;
}
