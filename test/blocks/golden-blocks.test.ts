// The golden blocks (torchvision InvertedResidual and a classic ResNet bottleneck, PyTorch-made)
// built with our block functions and torch names, run on NCHW fixtures through the reference backend.

import { describe, it } from 'node:test';
import { goldenCase, assertClose } from '../support/helpers.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { invertedResidual } from '../../src/blocks/inverted-residual.js';
import { resnetBottleneck } from '../../src/blocks/resnet-bottleneck.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';

function check(name: string, build: (x: SymbolicTensor) => SymbolicTensor): void {
  const c = goldenCase(name);
  const [, ch, h, w] = c.info.input_shape;
  const x = input([h, w, ch]);
  const model = new Model(x, build(x));
  loadTorchStateDict(model, new Map([...c.weights].map(([k, v]) => [`block.${k}`, v])));
  assertClose(model.predict(c.input, { layout: 'NCHW' }), c.output, 1e-5, name);
}

const ir = (outputChannels: number, stride: 1 | 2, expansion: number) => (x: SymbolicTensor) =>
  invertedResidual(x, { outputChannels, stride, expansion, name: 'block', torchPrefix: 'block', bnEpsilon: 1e-5 });

describe('golden blocks (torchvision InvertedResidual, ResNet bottleneck)', () => {
  it('16→16 stride 1, t = 6, residual add', () => check('blocks/ir_16_16_s1_t6', ir(16, 1, 6)));
  it('16→24 stride 2, t = 6, odd input, no residual', () => check('blocks/ir_16_24_s2_t6_odd', ir(24, 2, 6)));
  it('24→32 stride 2, t = 6, even input', () => check('blocks/ir_24_32_s2_t6_even', ir(32, 2, 6)));
  it('32→32 stride 1, t = 1: no expansion conv, residual add', () => check('blocks/ir_32_32_s1_t1', ir(32, 1, 1)));
  it('32→16 stride 1, t = 1: no expansion, no residual', () => check('blocks/ir_32_16_s1_t1', ir(16, 1, 1)));
  it('ResNet bottleneck 64→16→64, identity shortcut', () =>
    check('blocks/bottleneck_64_16_64_s1', (x) => resnetBottleneck(x, { squeeze: 16, expand: 64, name: 'b', torchPrefix: 'block.', bnEpsilon: 1e-5 })));
  it('ResNet bottleneck 32→16→64 stride 2, projection shortcut', () =>
    check('blocks/bottleneck_32_16_64_s2_proj', (x) => resnetBottleneck(x, { squeeze: 16, expand: 64, stride: 2, name: 'b', torchPrefix: 'block.', bnEpsilon: 1e-5 })));
});
