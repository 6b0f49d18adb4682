// Convolution layers: Conv2D (standard, pointwise and grouped) and DepthwiseConv2D (groups = channels,
// with a depth multiplier). Kernels are HWIO; an optional fused activation follows, as Keras allows.
// Both are differentiable: kernel, bias and input gradients.

import { ConfigError, ShapeError } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import type { Conv2DParams } from '../ops/conv2d.js';
import type { Padding4, PaddingMode } from '../ops/geometry.js';
import { checkWindow, resolvePadding, windowOutputSize } from '../ops/geometry.js';
import type { Shape } from '../tensor/tensor.js';
import { Tensor, formatShape } from '../tensor/tensor.js';
import type { CallContext, ParamSpec, TrainContext, TrainForward } from './layer.js';
import { Layer, linearTrainForward } from './layer.js';

export type Pair = number | readonly [number, number];

function pair(v: Pair, what: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= 1)) throw new ConfigError(`${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

export interface ConvOptions {
  kernelSize: Pair;
  strides?: Pair;
  dilations?: Pair;
  padding?: PaddingMode;
  useBias?: boolean;
  activation?: Activation;
}

/** Shared planning and execution of standard and depthwise convolution. */
export abstract class ConvLayer extends Layer {
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly padding: PaddingMode;
  readonly useBias: boolean;
  readonly activation: Activation;
  private plan: Conv2DParams | null = null;

  constructor(name: string, o: ConvOptions) {
    super(name);
    this.kernelSize = pair(o.kernelSize, `${name}: kernelSize`);
    this.strides = pair(o.strides ?? 1, `${name}: strides`);
    this.dilations = pair(o.dilations ?? 1, `${name}: dilations`);
    this.padding = o.padding ?? 'valid';
    this.useBias = o.useBias ?? true;
    this.activation = o.activation ?? 'linear';
    checkWindow({ kernel: this.kernelSize, strides: this.strides, dilations: this.dilations }, name);
  }

  protected abstract kernelName(): string;
  protected abstract groupsFor(inChannels: number): number;
  protected abstract outChannels(inChannels: number): number;

  protected override inferShape([s]: Shape[]): Shape {
    if (s.length !== 3) throw new ShapeError(`${this.name} (${this.kind}): input must be an image [H, W, C], got per-sample shape ${formatShape(s)}`);
    const [h, w, c] = s as [number, number, number];
    const win = { kernel: this.kernelSize, strides: this.strides, dilations: this.dilations };
    const pad = resolvePadding(this.padding, h, w, win);
    const [oh, ow] = windowOutputSize(h, w, pad, win, `${this.name} (${this.kind})`);
    const groups = this.groupsFor(c);
    this.plan = { strides: this.strides, dilations: this.dilations, padding: pad, groups };
    return [oh, ow, this.outChannels(c)];
  }

  protected override paramSpecsFor([s]: Shape[]): ParamSpec[] {
    const c = s[2];
    const groups = this.groupsFor(c);
    const cOut = this.outChannels(c);
    const specs: ParamSpec[] = [{ name: this.kernelName(), shape: [this.kernelSize[0], this.kernelSize[1], c / groups, cOut], role: 'kernel' }];
    if (this.useBias) specs.push({ name: 'bias', shape: [cOut], role: 'bias' });
    return specs;
  }

  /** Resolved geometry: explicit padding and groups, fixed when the layer was applied. */
  get conv(): Conv2DParams {
    if (!this.plan) throw new ConfigError(`layer ${this.name} has not been applied to an input yet`);
    return this.plan;
  }

  get resolvedPadding(): Padding4 {
    return this.conv.padding;
  }

  get kernel(): Tensor {
    return this.param(this.kernelName());
  }

  get bias(): Float32Array | null {
    return this.useBias ? this.param('bias').data : null;
  }

  override call([x]: Tensor[], ctx: CallContext): Tensor {
    const y = ctx.backend.conv2d(x, this.kernel, this.bias, this.conv);
    return this.activation === 'linear' ? y : ctx.backend.activation(y, this.activation);
  }

  override forwardTrain([x]: Tensor[], ctx: TrainContext): TrainForward {
    const kernel = this.kernel;
    const plan = this.conv;
    return linearTrainForward(this, this.call([x], ctx), this.activation, ctx, {
      kernelName: this.kernelName(),
      useBias: this.useBias,
      kernel: (g) => ctx.gradients.conv2dBackwardKernel(x, g, kernel.shape, plan),
      input: (g) => ctx.gradients.conv2dBackwardInput(g, kernel, x.shape, plan),
    });
  }

  override macs(): number {
    const [oh, ow, cOut] = this.outputShape as [number, number, number];
    const [kh, kw, cPerGroup] = this.kernel.shape as [number, number, number, number];
    return cOut * oh * ow * cPerGroup * kh * kw;
  }

  protected baseConfig(): Record<string, unknown> {
    return {
      kernelSize: this.kernelSize,
      strides: this.strides,
      dilations: this.dilations,
      padding: this.padding,
      useBias: this.useBias,
      activation: this.activation,
    };
  }
}

export interface Conv2DOptions extends ConvOptions {
  filters: number;
  groups?: number;
}

export class Conv2D extends ConvLayer {
  readonly kind = 'Conv2D';
  readonly filters: number;
  readonly groups: number;

  constructor(name: string, o: Conv2DOptions) {
    super(name, o);
    if (!Number.isInteger(o.filters) || o.filters < 1) throw new ConfigError(`${name}: filters must be a positive integer, got ${o.filters}`);
    this.filters = o.filters;
    this.groups = o.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1) throw new ConfigError(`${name}: groups must be a positive integer, got ${o.groups}`);
  }

  protected kernelName(): string {
    return 'kernel';
  }

  protected groupsFor(c: number): number {
    if (c % this.groups !== 0 || this.filters % this.groups !== 0) {
      throw new ShapeError(`${this.name} (Conv2D): groups ${this.groups} must divide input channels ${c} and filters ${this.filters}`);
    }
    return this.groups;
  }

  protected outChannels(): number {
    return this.filters;
  }

  config(): Record<string, unknown> {
    return { filters: this.filters, groups: this.groups, ...this.baseConfig() };
  }
}

export interface DepthwiseConv2DOptions extends ConvOptions {
  depthMultiplier?: number;
}

export class DepthwiseConv2D extends ConvLayer {
  readonly kind = 'DepthwiseConv2D';
  readonly depthMultiplier: number;

  constructor(name: string, o: DepthwiseConv2DOptions) {
    super(name, o);
    this.depthMultiplier = o.depthMultiplier ?? 1;
    if (!Number.isInteger(this.depthMultiplier) || this.depthMultiplier < 1) {
      throw new ConfigError(`${name}: depthMultiplier must be a positive integer, got ${o.depthMultiplier}`);
    }
  }

  protected kernelName(): string {
    return 'depthwise_kernel';
  }

  protected groupsFor(c: number): number {
    return c;
  }

  protected outChannels(c: number): number {
    return c * this.depthMultiplier;
  }

  config(): Record<string, unknown> {
    return { depthMultiplier: this.depthMultiplier, ...this.baseConfig() };
  }
}
