// A small SSD-like model with three named outputs (scores, boxes, and a tap of a block's expansion) and the same
// network computed op by op with the reference kernels, for the several-outputs tests of the graph, engine and CLI.

import { Model } from '../../src/graph/model.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { Reshape, input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';
import { clip } from '../../src/ops/activation.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { concat } from '../../src/ops/concat.js';
import { batchNorm } from '../../src/ops/normalization.js';
import type { Padding4 } from '../../src/ops/geometry.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

export const CLASSES = 3;
/** Per-sample input shape [H, W, C]. */
export const SSD_LIKE_INPUT = [11, 9, 3];
const SAME: Padding4 = [1, 1, 1, 1];

/** conv → BN → ReLU6, as SSDLite's backbone and extra layers have them. */
function convBnRelu6(x: SymbolicTensor, name: string, layer: Conv2D | DepthwiseConv2D): SymbolicTensor {
  return new ReLU6(`${name}_relu`).apply(new BatchNormalization(`${name}_bn`, { epsilon: 1e-3 }).apply(layer.apply(x)));
}

/** A head: 3×3 depthwise + BN + ReLU6 (on `separable`), then a 1×1 conv with bias to anchors·values, reshaped to [H·W·anchors, values]. */
function head(x: SymbolicTensor, name: string, anchors: number, values: number, separable: boolean): SymbolicTensor {
  const features = separable ? convBnRelu6(x, `${name}_dw`, new DepthwiseConv2D(`${name}_dw`, { kernelSize: 3, padding: SAME, useBias: false })) : x;
  const y = new Conv2D(`${name}_pw`, { filters: anchors * values, kernelSize: 1 }).apply(features);
  return new Reshape(`${name}_reshape`, [(y.shape[0] * y.shape[1] * anchors), values]).apply(y);
}

/**
 * input [11, 9, 3] → stem 3×3/2 → block: expand 1×1 (the tap) → depthwise 3×3/2 → project 1×1 → 1×1 conv (the last map);
 * per map a class head and a box head; outputs { scores, boxes, tap }.
 */
export function ssdLike(seed = 1): Model {
  const x = input(SSD_LIKE_INPUT);
  const stem = convBnRelu6(x, 'stem', new Conv2D('stem', { filters: 8, kernelSize: 3, strides: 2, padding: SAME, useBias: false }));
  const tap = convBnRelu6(stem, 'expand', new Conv2D('expand', { filters: 12, kernelSize: 1, useBias: false }));
  const dw = convBnRelu6(tap, 'depthwise', new DepthwiseConv2D('depthwise', { kernelSize: 3, strides: 2, padding: SAME, useBias: false }));
  const project = new BatchNormalization('project_bn', { epsilon: 1e-3 }).apply(new Conv2D('project', { filters: 10, kernelSize: 1, useBias: false }).apply(dw));
  const last = convBnRelu6(project, 'last', new Conv2D('last', { filters: 14, kernelSize: 1, useBias: false }));
  const scores = new Concatenate('scores_concat', 0, 2).apply([head(tap, 'cls0', 2, CLASSES, true), head(last, 'cls1', 3, CLASSES, false)]);
  const boxes = new Concatenate('boxes_concat', 0, 2).apply([head(tap, 'box0', 2, 4, true), head(last, 'box1', 3, 4, false)]);
  const model = new Model(x, { scores, boxes, tap }, { name: 'ssd_like', seed });
  const rng = new Random(seed + 10);
  for (const [name, t] of model.weights()) {
    if (/(gamma|moving_variance)$/.test(name)) rng.fillUniform(t.data, 0.5, 1.5);
    else if (/(beta|moving_mean|bias)$/.test(name)) rng.fillUniform(t.data, -0.3, 0.3);
    else rng.fillUniform(t.data, -0.5, 0.5);
  }
  return model;
}

/** The same network computed op by op with the reference kernels, every padding and shape spelt out here. */
export function referenceOutputs(model: Model, x: Tensor): Record<string, Tensor> {
  const w = model.weights();
  const p = (name: string): Tensor => w.get(name)!;
  const bn = (t: Tensor, name: string): Tensor => batchNorm(t, { gamma: p(`${name}_bn.gamma`).data, beta: p(`${name}_bn.beta`).data, mean: p(`${name}_bn.moving_mean`).data, variance: p(`${name}_bn.moving_variance`).data, epsilon: 1e-3 });
  const conv = (t: Tensor, name: string, stride: number, padding: Padding4, groups: number, bias: boolean): Tensor => {
    const kernel = p(`${name}.${groups > 1 ? 'depthwise_kernel' : 'kernel'}`);
    return conv2d(t, kernel, bias ? p(`${name}.bias`).data : null, { strides: [stride, stride], dilations: [1, 1], padding, groups });
  };
  const none: Padding4 = [0, 0, 0, 0];
  const block = (t: Tensor, name: string, stride: number, padding: Padding4, groups: number): Tensor => clip(bn(conv(t, name, stride, padding, groups, false), name), 0, 6);
  const stem = block(x, 'stem', 2, SAME, 1);
  const tap = block(stem, 'expand', 1, none, 1);
  const dw = block(tap, 'depthwise', 2, SAME, 12);
  const last = block(bn(conv(dw, 'project', 1, none, 1, false), 'project'), 'last', 1, none, 1);
  const batch = x.shape[0];
  const headOf = (t: Tensor, name: string, values: number, separable: boolean): Tensor => {
    const features = separable ? block(t, `${name}_dw`, 1, SAME, t.shape[3]) : t;
    const y = conv(features, `${name}_pw`, 1, none, 1, true);
    // NHWC [N, H, W, A·values] is [N, H·W·A, values] in memory
    return new Tensor([batch, y.size / batch / values, values], y.data);
  };
  return {
    scores: concat([headOf(tap, 'cls0', CLASSES, true), headOf(last, 'cls1', CLASSES, false)], 1),
    boxes: concat([headOf(tap, 'box0', 4, true), headOf(last, 'box1', 4, false)], 1),
    tap,
  };
}

