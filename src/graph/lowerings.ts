// How each layer lowers to plain plan steps, one entry per layer class and no fusion (the passes in ./passes/ do
// that): a layer the engine should run natively gets an entry here; a layer without one runs itself (a 'layer' step).

import { ActivationLayer, Softmax } from '../nn/activation.js';
import { ConvLayer } from '../nn/conv.js';
import { Add, Dense, Dropout, InputLayer, Reshape, ZeroPadding2D } from '../nn/core.js';
import { Clip, Concatenate, Sigmoid, Transpose } from '../nn/extra.js';
import { Layer } from '../nn/layer.js';
import { BatchNormalization } from '../nn/normalization.js';
import { Resize } from '../nn/resize.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../nn/pooling.js';
import type { Activation } from '../ops/activation.js';
import { batchNormAffine } from '../ops/normalization.js';
import { sizeOf } from '../tensor/tensor.js';
import type { Clamp, Step } from './plan.js';

type StepFields<S> = S extends Step ? Omit<S, 'layers' | 'inputs' | 'output'> : never;

/** What a layer's lowering sees of the node it lowers, and how it says what the node becomes. */
export interface LoweringContext {
  /** Per-sample shapes of the node's inputs and output, as the layer sees them. */
  readonly inputShapes: readonly (readonly number[])[];
  readonly outputShape: readonly number[];
  /** One step from the node's inputs to a new tensor, its output. */
  step(fields: StepFields<Step>): void;
  /** The output is input 0's memory as it is (dropout at inference, a reshape, a linear activation): no step. */
  view(): void;
  /** The output is a tensor no step writes: the plan's input. */
  source(): void;
}

type Lowering<L extends Layer> = (layer: L, ctx: LoweringContext) => void;
type LayerClass<L extends Layer> = abstract new (...args: never[]) => L;

const LOWERINGS = new Map<LayerClass<Layer>, Lowering<Layer>>();

function register<L extends Layer>(layerClass: LayerClass<L>, lowering: Lowering<L>): void {
  LOWERINGS.set(layerClass, lowering as Lowering<Layer>);
}

const CLAMPS: Record<Activation, Clamp | null> = { linear: null, relu: [0, Infinity], relu6: [0, 6] };

/** Lowers one node: by the entry of the layer's class or its nearest registered ancestor, else as a 'layer' step. */
export function lowerLayer(layer: Layer, ctx: LoweringContext): void {
  for (let proto: unknown = Object.getPrototypeOf(layer); proto && proto !== Layer.prototype; proto = Object.getPrototypeOf(proto)) {
    const lowering = LOWERINGS.get((proto as { constructor: LayerClass<Layer> }).constructor);
    if (lowering) return lowering(layer, ctx);
  }
  ctx.step({ op: 'layer', layer });
}

register(InputLayer, (_, ctx) => ctx.source());
register(Dropout, (_, ctx) => ctx.view());
register(Reshape, (_, ctx) => ctx.view());
// a permutation that keeps the order of the axes longer than 1 moves no float (an imported head's NCHW → NHWC on a 1×1 map)
register(Transpose, (layer, ctx) => {
  const shape = ctx.inputShapes[0];
  const kept = layer.perm.filter((axis) => shape[axis] !== 1);
  if (kept.every((axis, i) => i === 0 || kept[i - 1] < axis)) ctx.view();
  else ctx.step({ op: 'layer', layer });
});
register(ActivationLayer, (layer, ctx) => {
  const clamp = CLAMPS[layer.activation];
  if (clamp) ctx.step({ op: 'clamp', clamp });
  else ctx.view();
});
register(Clip, (layer, ctx) => ctx.step({ op: 'clamp', clamp: [layer.lo, layer.hi] }));
register(Sigmoid, (_, ctx) => ctx.step({ op: 'sigmoid' }));
register(GlobalAveragePooling2D, (_, ctx) => ctx.step({ op: 'globalAvgPool' }));
register(GlobalMaxPooling2D, (_, ctx) => ctx.step({ op: 'globalMaxPool' }));
register(AveragePooling2D, (layer, ctx) => ctx.step({ op: 'avgPool', pool: layer.pool }));
register(MaxPooling2D, (layer, ctx) => ctx.step({ op: 'maxPool', pool: layer.pool }));
register(ZeroPadding2D, (layer, ctx) => ctx.step({ op: 'pad', padding: layer.padding }));
register(Add, (_, ctx) => ctx.step({ op: 'add' }));
register(ConvLayer, (layer, ctx) => {
  const kernel = layer.kernel;
  ctx.step({
    op: 'conv',
    kernel: kernel.data.slice(),
    kernelShape: [...kernel.shape] as [number, number, number, number],
    bias: layer.bias ? layer.bias.slice() : new Float32Array(kernel.shape[3]),
    conv: layer.conv,
    inShape: [...ctx.inputShapes[0]] as [number, number, number],
    outShape: [...ctx.outputShape] as [number, number, number],
    clamp: CLAMPS[layer.activation],
    residual: null,
  });
});
register(Dense, (layer, ctx) => {
  const bias = layer.useBias ? layer.param('bias').data.slice() : new Float32Array(layer.units);
  ctx.step({ op: 'dense', kernel: layer.param('kernel').data.slice(), bias, units: layer.units, clamp: CLAMPS[layer.activation] });
});
register(BatchNormalization, (layer, ctx) => {
  const p = (name: string): Float32Array => layer.param(name).data;
  const { scale, shift } = batchNormAffine({ gamma: p('gamma'), beta: p('beta'), mean: p('moving_mean'), variance: p('moving_variance'), epsilon: layer.epsilon });
  ctx.step({ op: 'affine', scale, shift });
});
// over the layer's last axis, whatever shape the plan gives a view (SSD's scores: [H, W, anchors·classes] as [H·W·anchors, classes])
register(Softmax, (_, ctx) => ctx.step({ op: 'softmax', channels: ctx.inputShapes[0].at(-1)! }));
register(Resize, (layer, ctx) => {
  const [h, w, c] = ctx.inputShapes[0];
  ctx.step({ op: 'resize', inShape: [h, w, c], size: layer.size, coordinates: layer.coordinates });
});
// per index of the axes before the concatenation axis, each input is one contiguous run (a pixel's channels, or a
// head's anchors × values on SSD's anchor axis): the engine copies the runs into their slices
register(Concatenate, (layer, ctx) => {
  const axis = layer.axis < 0 ? layer.axis + ctx.outputShape.length : layer.axis;
  ctx.step({ op: 'concat', blocks: ctx.inputShapes.map((s) => sizeOf(s.slice(axis))) });
});
