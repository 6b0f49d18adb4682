// Options shared by the MobileNet builders, checked once: width multiplier α, input resolution,
// classes, top and pooling, and the framework convention that sets padding, BN epsilon and rounding.

import { ConfigError } from '../errors.js';
import type { ModelMetadata } from '../graph/model.js';
import type { PaddingMode } from '../ops/geometry.js';

/** Which reference implementation the defaults follow. */
export type Convention = 'torchvision' | 'keras';

export interface CommonModelOptions {
  /** Width multiplier α > 0. */
  alpha?: number;
  /** Input size: one number for square inputs, or [height, width]. */
  resolution?: number | readonly [number, number];
  /** Input channels (3 for RGB, 1 for grey). */
  inputChannels?: number;
  classes?: number;
  /** Dense classifier on top; without it the output is the feature map (or pooled features). */
  includeTop?: boolean;
  /** Pooling after the last conv: `avg` (default with a top), `max`, or none (feature map). */
  pooling?: 'avg' | 'max' | null;
  /** Dropout rate before the classifier. */
  dropout?: number;
  /** Append a softmax to the classifier; default: raw logits, as torchvision. */
  classifierActivation?: 'softmax' | null;
  convention?: Convention;
  padding?: PaddingMode;
  bnEpsilon?: number;
  /** Keras-convention momentum (weight of the old running value). */
  bnMomentum?: number;
  name?: string;
  seed?: number;
}

export interface ResolvedCommon {
  alpha: number;
  height: number;
  width: number;
  inputChannels: number;
  classes: number;
  includeTop: boolean;
  pooling: 'avg' | 'max' | null;
  classifierActivation: 'softmax' | null;
  convention: Convention;
  bnEpsilon: number;
  bnMomentum: number;
}

function positiveInteger(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${what} must be a positive integer, got ${v}`);
  return v;
}

export function resolveCommon(o: CommonModelOptions, arch: string, defaultConvention: Convention): ResolvedCommon {
  const alpha = o.alpha ?? 1;
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) throw new ConfigError(`${arch}: alpha (width multiplier) must be a positive number, got ${alpha}`);
  const res = o.resolution ?? 224;
  const [height, width] = typeof res === 'number' ? [res, res] : res;
  positiveInteger(height, `${arch}: resolution (height)`);
  positiveInteger(width, `${arch}: resolution (width)`);
  const convention = o.convention ?? defaultConvention;
  if (convention !== 'torchvision' && convention !== 'keras') throw new ConfigError(`${arch}: convention must be 'torchvision' or 'keras', got ${JSON.stringify(convention)}`);
  const includeTop = o.includeTop ?? true;
  const pooling = o.pooling === undefined ? (includeTop ? 'avg' : null) : o.pooling;
  if (pooling !== null && pooling !== 'avg' && pooling !== 'max') throw new ConfigError(`${arch}: pooling must be 'avg', 'max' or null, got ${JSON.stringify(pooling)}`);
  if (includeTop && pooling === null) throw new ConfigError(`${arch}: a classifier top needs pooling 'avg' or 'max'`);
  const classifierActivation = o.classifierActivation ?? null;
  if (classifierActivation !== null && classifierActivation !== 'softmax') throw new ConfigError(`${arch}: classifierActivation must be 'softmax' or null`);
  return {
    alpha,
    height,
    width,
    inputChannels: positiveInteger(o.inputChannels ?? 3, `${arch}: inputChannels`),
    classes: positiveInteger(o.classes ?? 1000, `${arch}: classes`),
    includeTop,
    pooling,
    classifierActivation,
    convention,
    bnEpsilon: o.bnEpsilon ?? (convention === 'keras' ? 1e-3 : 1e-5),
    bnMomentum: o.bnMomentum ?? (convention === 'keras' ? 0.999 : 0.9),
  };
}

/** Throws unless the input survives the network's total downsampling (`outputStride`). */
export function checkResolution(c: ResolvedCommon, outputStride: number, arch: string): void {
  const min = Math.min(c.height, c.width);
  if (min < outputStride) {
    throw new ConfigError(`${arch}: resolution ${c.height}×${c.width} is too small: the network downsamples by ${outputStride}, so inputs must be at least ${outputStride}×${outputStride}`);
  }
}

export function checkDropout(rate: number, arch: string): number {
  if (!(rate >= 0 && rate < 1)) throw new ConfigError(`${arch}: dropout must be in [0, 1), got ${rate}`);
  return rate;
}

/**
 * Model metadata every architecture records: the builder's options as given (so `buildModel(architecture,
 * options)` rebuilds the same network from a file) and the resolved values people read.
 */
export function commonMetadata(arch: string, c: ResolvedCommon, options: object): ModelMetadata {
  return {
    architecture: arch,
    options: JSON.parse(JSON.stringify(options)) as Record<string, unknown>,
    alpha: c.alpha,
    resolution: [c.height, c.width],
    inputChannels: c.inputChannels,
    classes: c.includeTop ? c.classes : null,
    pooling: c.pooling,
    convention: c.convention,
  };
}
