// The blocks' `dilation` option: the depthwise conv of an inverted residual (and a convBN unit) runs atrous,
// torch padding equal to the rate keeps the map's size, the shortcut stays, and a bad rate is a ConfigError.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { invertedResidual } from '../../src/blocks/inverted-residual.js';
import { convBN } from '../../src/blocks/conv-bn.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { DepthwiseConv2D } from '../../src/nn/conv.js';
import { ConfigError } from '../../src/errors.js';

describe('atrous blocks', () => {
  it('an inverted residual at rate 4 keeps 11×13, pads 4 on every side and keeps its shortcut', () => {
    const x = input([11, 13, 8]);
    const model = new Model(x, invertedResidual(x, { outputChannels: 8, stride: 1, dilation: 4, expansion: 6, name: 'block' }));
    const dw = model.layers.find((l): l is DepthwiseConv2D => l instanceof DepthwiseConv2D)!;
    assert.deepEqual(dw.dilations, [4, 4]);
    assert.deepEqual(dw.resolvedPadding, [4, 4, 4, 4]);
    assert.deepEqual([...model.outputShape], [11, 13, 8]);
    assert.ok(model.layers.some((l) => l.name === 'block_add'));
  });

  it('TF "same" padding at rate 2 also keeps the size; stride 2 with rate 2 halves it', () => {
    const x = input([10, 10, 4]);
    const same = convBN(x, { kernelSize: 3, dilation: 2, padding: 'same', activation: 'relu6', names: { conv: 'a', bn: 'a_bn' } });
    assert.deepEqual([...same.shape], [10, 10, 4]);
    const strided = convBN(x, { kernelSize: 3, strides: 2, dilation: 2, padding: 'torch', activation: 'relu6', names: { conv: 'b', bn: 'b_bn' } });
    // (10 + 2·2 − (2·2 + 1)) / 2 + 1 = 5
    assert.deepEqual([...strided.shape], [5, 5, 4]);
  });

  it('a rate that is not a positive integer is a ConfigError naming the layer', () => {
    const x = input([8, 8, 4]);
    assert.throws(
      () => invertedResidual(x, { outputChannels: 4, stride: 1, dilation: 1.5, expansion: 1, name: 'odd' }),
      (e: unknown) => e instanceof ConfigError && /odd_depthwise.*dilations/.test(e.message),
    );
  });
});
