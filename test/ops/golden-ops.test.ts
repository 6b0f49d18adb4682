// Every single-op golden case (PyTorch-made) through our layers and the reference kernels:
// NCHW fixtures converted at the edge, torch weights mapped by name and layout.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goldenCase, assertClose } from '../support/helpers.js';
import { Model } from '../../src/graph/model.js';
import { input, Dense } from '../../src/nn/core.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { GlobalAveragePooling2D } from '../../src/nn/pooling.js';
import type { Layer } from '../../src/nn/layer.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { toLayout } from '../../src/tensor/tensor.js';

/** Builds a one-layer model for a golden case, loads its torch weights, returns the NCHW output. */
function runOneLayer(name: string, layer: Layer): void {
  const c = goldenCase(name);
  const [, ch, h, w] = c.info.input_shape;
  const perSample = c.info.input_shape.length === 4 ? [h, w, ch] : [ch];
  const x = input(perSample);
  layer.torchName = '';
  const model = new Model(x, layer.apply(x));
  // golden names have no prefix ('weight'); our torch names are `${prefix}.weight`
  loadTorchStateDict(model, new Map([...c.weights].map(([k, v]) => [`.${k}`, v])));
  const out = model.predict(c.input, { layout: c.input.rank === 4 ? 'NCHW' : 'NHWC' });
  const expected = c.output.rank === 4 && out.rank === 2 ? c.output.reshape(out.shape) : c.output;
  assertClose(out, expected, 1e-5, name);
}

describe('golden ops (PyTorch 1.13)', () => {
  it('conv 3×3 stride 1, pad 1, bias', () => runOneLayer('ops/conv3x3_s1_p1_bias', new Conv2D('conv', { filters: 16, kernelSize: 3, padding: 'torch' })));
  it('conv 3×3 stride 2 on an odd input', () => runOneLayer('ops/conv3x3_s2_p1_bias_odd', new Conv2D('conv', { filters: 16, kernelSize: 3, strides: 2, padding: 'torch' })));
  it('conv 3×3 stride 2 on an even input', () => runOneLayer('ops/conv3x3_s2_p1_bias_even', new Conv2D('conv', { filters: 16, kernelSize: 3, strides: 2, padding: 'torch' })));
  it('depthwise 3×3 stride 1', () => runOneLayer('ops/dwconv3x3_s1', new DepthwiseConv2D('dw', { kernelSize: 3, padding: 'torch', useBias: false })));
  it('depthwise 3×3 stride 2, even', () => runOneLayer('ops/dwconv3x3_s2_even', new DepthwiseConv2D('dw', { kernelSize: 3, strides: 2, padding: 'torch', useBias: false })));
  it('depthwise 3×3 stride 2, odd', () => runOneLayer('ops/dwconv3x3_s2_odd', new DepthwiseConv2D('dw', { kernelSize: 3, strides: 2, padding: 'torch', useBias: false })));
  it('pointwise 1×1 without bias', () => runOneLayer('ops/pwconv1x1', new Conv2D('pw', { filters: 16, kernelSize: 1, useBias: false })));
  it('pointwise 1×1 with bias', () => runOneLayer('ops/pwconv1x1_bias', new Conv2D('pw', { filters: 8, kernelSize: 1 })));
  it('batch norm, inference, eps 1e-5', () => runOneLayer('ops/batchnorm2d_eval', new BatchNormalization('bn', { epsilon: 1e-5 })));
  it('ReLU6 clips at 0 and 6', () => {
    const c = goldenCase('ops/relu6');
    assert.ok(c.input.data.some((v) => v > 6) && c.input.data.some((v) => v < 0), 'fixture exercises both clips');
    runOneLayer('ops/relu6', new ReLU6('relu6'));
  });
  it('global average pool', () => runOneLayer('ops/global_avgpool', new GlobalAveragePooling2D('gap')));
  it('linear', () => runOneLayer('ops/linear', new Dense('fc', { units: 10 })));
  it('NCHW ↔ NHWC at the edge is a pure permutation', () => {
    const c = goldenCase('ops/relu6');
    const back = toLayout(toLayout(c.input, 'NCHW', 'NHWC'), 'NHWC', 'NCHW');
    assert.deepEqual(back.data, c.input.data);
  });
});
