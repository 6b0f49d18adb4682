// A small Mobile-DeepLab-like model built from our layers by hand, for the format tests (ONNX export, our model
// file): every layer a DeepLab head needs, with random BN statistics and biases so that nothing sits at its default.

import { Model } from '../../src/graph/model.js';
import { ArgMax } from '../../src/nn/argmax.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { GlobalAveragePooling2D } from '../../src/nn/pooling.js';
import { Resize } from '../../src/nn/resize.js';
import type { ResizeCoordinates } from '../../src/ops/resize.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randomiseBatchNorm } from './helpers.js';

/**
 * A small Mobile-DeepLab-like model from our layers: a stride-2 stem, a dilated (rate 2) depthwise conv, the image
 * pooling branch (global average kept 1×1, 1×1 conv, resized back) beside a 1×1 branch, concatenated on channels,
 * logits resized to the input by `coordinates`, and optionally the label map (ArgMax). Random BN statistics and biases.
 */
export function deeplabLike(coordinates: ResizeCoordinates, labels: boolean, seed = 7): Model {
  const x = input([17, 15, 3]);
  let y = new Conv2D('stem', { filters: 8, kernelSize: 3, strides: 2, padding: [1, 1, 1, 1] }).apply(x);
  y = new BatchNormalization('stem_bn').apply(y);
  y = new DepthwiseConv2D('atrous', { kernelSize: 3, dilations: 2, padding: [2, 2, 2, 2], activation: 'relu6' }).apply(y);
  const pooled = new GlobalAveragePooling2D('image_pool', true).apply(y);
  const pool = new Resize('pool_resize', { size: [9, 8] }, coordinates).apply(new Conv2D('pool_proj', { filters: 6, kernelSize: 1, activation: 'relu' }).apply(pooled));
  const branch = new Conv2D('aspp0', { filters: 6, kernelSize: 1, activation: 'relu' }).apply(y);
  const joined = new Concatenate('concat', -1, 2).apply([pool, branch]);
  const logits = new Conv2D('logits', { filters: 5, kernelSize: 1, useBias: true }).apply(new Conv2D('project', { filters: 8, kernelSize: 1, activation: 'relu' }).apply(joined));
  const full = new Resize('upsample', { size: [17, 15] }, coordinates).apply(logits);
  const model = new Model(x, labels ? new ArgMax('labels').apply(full) : full, { name: 'deeplab_like', seed });
  randomiseBatchNorm(model, seed);
  const rng = new Random(seed + 1);
  for (const layer of model.layers) if (layer.paramSpecs.some((p) => p.name === 'bias')) layer.setParam('bias', new Tensor(layer.param('bias').shape, rng.fillUniform(new Float32Array(layer.param('bias').size), -0.5, 0.5)));
  return model;
}
