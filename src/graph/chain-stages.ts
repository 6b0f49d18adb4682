// What a row-streamed chain may hold, decided once for the lowering that builds chains and the kernels that run them:
// [stem: standard conv, undilated] [expand: pointwise] depthwise (any dilation) → project: pointwise, each reading the one before.

import { ConfigError, ShapeError } from '../errors.js';
import { type ConvKind, convKind } from '../ops/conv-kind.js';
import { type Conv2DParams, conv2dOutputShape } from '../ops/conv2d.js';

/** The fields of a convolution that decide whether it can be a chain's stage. */
export interface ChainStageShape {
  /** HWIO [kh, kw, Cin/groups, Cout]. */
  kernelShape: readonly [number, number, number, number];
  conv: Conv2DParams;
  /** Per-sample [H, W, C]. */
  inShape: readonly [number, number, number];
  outShape: readonly [number, number, number];
}

export interface ChainRoles<S> {
  stem: S | null;
  expand: S | null;
  depthwise: S;
  project: S;
}

const kindOf = (s: ChainStageShape): ConvKind => convKind(s.kernelShape, s.conv);

/** Checks one stage's shapes against its geometry. */
function checkStage(s: ChainStageShape, what: string): void {
  const [, oh, ow, oc] = conv2dOutputShape([1, ...s.inShape], s.kernelShape, null, s.conv, `chain ${what}`);
  if (oh !== s.outShape[0] || ow !== s.outShape[1] || oc !== s.outShape[2]) {
    throw new ShapeError(`chain ${what}: output shape [${s.outShape.join(', ')}] disagrees with its geometry, which gives [${oh}, ${ow}, ${oc}]`);
  }
}

/**
 * The role of each of `stages` in a chain (with the chain's input added to the last stage when `residual`).
 * Throws ConfigError for stages that make no chain, ShapeError for inconsistent shapes.
 */
export function chainRoles<S extends ChainStageShape>(stages: readonly S[], residual: boolean): ChainRoles<S> {
  if (stages.length < 2 || stages.length > 4) throw new ConfigError(`chain: expected 2 to 4 stages ([stem] [expand] depthwise project), got ${stages.length}`);
  const project = stages[stages.length - 1];
  const depthwise = stages[stages.length - 2];
  const before = stages.slice(0, -2);
  const expand = before.length > 0 && kindOf(before[before.length - 1]) === 'pointwise' ? before[before.length - 1] : null;
  const stem = before.length - (expand ? 1 : 0) === 1 ? before[0] : null;
  if (before.length - (expand ? 1 : 0) - (stem ? 1 : 0) !== 0) throw new ConfigError('chain: only a stem conv and an expand 1×1 may come before the depthwise stage');
  if (kindOf(project) !== 'pointwise') throw new ConfigError('chain: the last stage must be a 1×1 stride-1 unpadded projection');
  if (kindOf(depthwise) !== 'depthwise') throw new ConfigError('chain: the next-to-last stage must be depthwise (groups = channels, depth multiplier 1)');
  if (stem && kindOf(stem) !== 'standard') throw new ConfigError(`chain: the stem must be a standard conv, got a ${kindOf(stem)} one`);
  // the stem's row kernel spreads no taps; a dilated depthwise streams (its ring holds the rows its window spans)
  if (stem && stem.conv.dilations.some((d) => d !== 1)) throw new ConfigError(`chain: the stem conv must be undilated, got dilations [${stem.conv.dilations.join(', ')}]`);
  stages.forEach((s, i) => checkStage(s, `stage ${i}`));
  for (let i = 1; i < stages.length; i++) {
    if (stages[i].inShape.join() !== stages[i - 1].outShape.join()) {
      throw new ShapeError(`chain: stage ${i} reads [${stages[i].inShape.join(', ')}] but stage ${i - 1} makes [${stages[i - 1].outShape.join(', ')}]`);
    }
  }
  const [first, last] = [stages[0].inShape, project.outShape];
  if (residual && first.join() !== last.join()) {
    throw new ShapeError(`chain: a residual needs equal input and output shapes, got [${first.join(', ')}] and [${last.join(', ')}]`);
  }
  return { stem, expand, depthwise, project };
}
