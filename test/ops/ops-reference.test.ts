// Ops, layers and seed blocks checked against an independent numpy reference (test/fixtures/numpy,
// made by make_fixtures.py) where the PyTorch golden files stop, plus small cases worked out by hand.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, assertClose } from '../support/helpers.js';
import { decodeNpy } from '../../src/io/npy.js';
import { Model } from '../../src/graph/model.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';
import { input, ZeroPadding2D } from '../../src/nn/core.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { ReLU, Softmax } from '../../src/nn/activation.js';
import { AveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import type { Layer } from '../../src/nn/layer.js';
import { bottleneckBlock, invertedLinearResidualBlock, invertedResidualBlock, residualBlock } from '../../src/blocks/seed-blocks.js';
import type { Padding4, PaddingMode } from '../../src/ops/geometry.js';
import { resolvePadding } from '../../src/ops/geometry.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { avgPool2d, maxPool2d } from '../../src/ops/pool.js';
import { relu6, softmax } from '../../src/ops/activation.js';
import { zeroPad2d } from '../../src/ops/pad.js';
import { Tensor } from '../../src/tensor/tensor.js';

const NUMPY = join(FIXTURES, 'numpy');
const TOLERANCE = 1e-5;

interface CaseInfo {
  description: string;
  op: string;
  kernel_size?: [number, number];
  filters?: number;
  strides?: [number, number];
  dilations?: [number, number];
  padding?: PaddingMode;
  resolved_padding?: Padding4;
  groups?: number;
  use_bias?: boolean;
  depth_multiplier?: number;
  pool_size?: [number, number];
  count_include_pad?: boolean;
  expand?: number;
  squeeze?: number;
  name?: string;
  weights?: string[];
}

interface NumpyCase {
  info: CaseInfo;
  tensors: Map<string, Tensor>;
  get(name: string): Tensor;
}

function numpyCase(name: string): NumpyCase {
  const dir = join(NUMPY, name);
  const tensors = new Map<string, Tensor>();
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.npy')) tensors.set(file.slice(0, -4), decodeNpy(readFileSync(join(dir, file)), `${name}/${file}`));
  }
  return {
    info: JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseInfo,
    tensors,
    get(key: string): Tensor {
      const t = tensors.get(key);
      if (!t) throw new Error(`${name}: fixture has no ${key}.npy`);
      return t;
    },
  };
}

function casesUnder(folder: string): string[] {
  return readdirSync(join(NUMPY, folder), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `${folder}/${e.name}`)
    .sort();
}

/** Builds input → layer, loads weights by `layer.param` name, returns the model's output on the case input. */
function predictOneLayer(c: NumpyCase, layer: Layer, weights: Map<string, Tensor> = new Map()): Tensor {
  const x = input(c.get('input').shape.slice(1));
  const model = new Model(x, layer.apply(x));
  if (weights.size) model.setWeights(weights);
  return model.predict(c.get('input'));
}

function convWeights(c: NumpyCase, layerName: string, kernelName: string): Map<string, Tensor> {
  const w = new Map([[`${layerName}.${kernelName}`, c.get('kernel')]]);
  if (c.tensors.has('bias')) w.set(`${layerName}.bias`, c.get('bias'));
  return w;
}

describe('numpy reference: conv2d (SAME, asymmetric padding, dilation, groups, odd channels)', () => {
  for (const name of casesUnder('conv')) {
    it(`${name}: Conv2D layer`, () => {
      const c = numpyCase(name);
      const i = c.info;
      const layer = new Conv2D('conv', {
        filters: i.filters!,
        kernelSize: i.kernel_size!,
        strides: i.strides,
        dilations: i.dilations,
        padding: i.padding,
        groups: i.groups,
        useBias: i.use_bias,
      });
      const out = predictOneLayer(c, layer, convWeights(c, 'conv', 'kernel'));
      assert.deepEqual([...layer.resolvedPadding], i.resolved_padding, `${name}: resolved padding`);
      assertClose(out, c.get('output'), TOLERANCE, name);
    });

    it(`${name}: conv2d op with resolvePadding`, () => {
      const c = numpyCase(name);
      const i = c.info;
      const x = c.get('input');
      const win = { kernel: i.kernel_size!, strides: i.strides!, dilations: i.dilations! };
      const padding = resolvePadding(i.padding!, x.shape[1], x.shape[2], win);
      assert.deepEqual([...padding], i.resolved_padding, `${name}: resolved padding`);
      const bias = c.tensors.get('bias')?.data ?? null;
      const out = conv2d(x, c.get('kernel'), bias, { strides: win.strides, dilations: win.dilations, padding, groups: i.groups! });
      assertClose(out, c.get('output'), TOLERANCE, name);
    });
  }
});

describe('numpy reference: depthwise with a depth multiplier', () => {
  for (const name of casesUnder('depthwise')) {
    it(name, () => {
      const c = numpyCase(name);
      const i = c.info;
      const layer = new DepthwiseConv2D('dw', { kernelSize: i.kernel_size!, strides: i.strides, padding: i.padding, depthMultiplier: i.depth_multiplier });
      const out = predictOneLayer(c, layer, convWeights(c, 'dw', 'depthwise_kernel'));
      assert.deepEqual([...layer.resolvedPadding], i.resolved_padding, `${name}: resolved padding`);
      assertClose(out, c.get('output'), TOLERANCE, name);
    });
  }
});

describe('numpy reference: pooling', () => {
  for (const name of casesUnder('pool').filter((n) => !n.endsWith('global_max'))) {
    it(`${name}: pooling layer`, () => {
      const c = numpyCase(name);
      const i = c.info;
      const options = { poolSize: i.pool_size!, strides: i.strides, padding: i.padding, countIncludePad: i.count_include_pad };
      const layer = i.op === 'avg_pool' ? new AveragePooling2D('pool', options) : new MaxPooling2D('pool', options);
      assertClose(predictOneLayer(c, layer), c.get('output'), TOLERANCE, name);
    });

    it(`${name}: pooling op with resolvePadding`, () => {
      const c = numpyCase(name);
      const i = c.info;
      const x = c.get('input');
      const win = { kernel: i.pool_size!, strides: i.strides!, dilations: [1, 1] as const };
      const padding = resolvePadding(i.padding!, x.shape[1], x.shape[2], win);
      assert.deepEqual([...padding], i.resolved_padding);
      const params = { ...win, padding, countIncludePad: i.count_include_pad ?? false };
      const out = i.op === 'avg_pool' ? avgPool2d(x, params) : maxPool2d(x, params);
      assertClose(out, c.get('output'), TOLERANCE, name);
    });
  }

  it('pool/global_max: all-negative input', () => {
    const c = numpyCase('pool/global_max');
    assertClose(predictOneLayer(c, new GlobalMaxPooling2D('gmp')), c.get('output'), TOLERANCE);
  });
});

describe('numpy reference: zero padding, softmax, ReLU', () => {
  it('zero padding [1, 2, 3, 0], layer and op', () => {
    const c = numpyCase('misc/zero_pad');
    const pad = c.info as unknown as { padding: Padding4 };
    assertClose(predictOneLayer(c, new ZeroPadding2D('pad', pad.padding)), c.get('output'), 0);
    assertClose(zeroPad2d(c.get('input'), pad.padding), c.get('output'), 0);
  });

  it('softmax, logits near ±1000 stay finite', () => {
    const c = numpyCase('misc/softmax');
    const out = predictOneLayer(c, new Softmax('softmax'));
    assert.ok(out.data.every(Number.isFinite), 'no NaN or Infinity');
    assertClose(out, c.get('output'), TOLERANCE);
    assertClose(softmax(c.get('input')), c.get('output'), TOLERANCE);
  });

  it('ReLU', () => {
    const c = numpyCase('misc/relu');
    assertClose(predictOneLayer(c, new ReLU('relu')), c.get('output'), 0);
  });
});

describe('numpy reference: seed blocks (residual, inverted, linear bottleneck, BN + ReLU6)', () => {
  const builders: Record<string, (x: SymbolicTensor, i: CaseInfo) => SymbolicTensor> = {
    residual: (x, i) => residualBlock(x, { expand: i.expand, squeeze: i.squeeze, name: i.name }),
    inverted: (x, i) => invertedResidualBlock(x, { expand: i.expand, squeeze: i.squeeze, name: i.name }),
    inverted_linear: (x, i) => invertedLinearResidualBlock(x, { expand: i.expand, squeeze: i.squeeze, name: i.name }),
    bottleneck: (x, i) => bottleneckBlock(x, { expand: i.expand, squeeze: i.squeeze, name: i.name, bnEpsilon: 1e-3 }),
  };
  for (const [kind, build] of Object.entries(builders)) {
    it(`${kind} block`, () => {
      const c = numpyCase(`blocks/${kind}`);
      const x = input(c.get('input').shape.slice(1));
      const model = new Model(x, build(x, c.info));
      const weights = new Map(c.info.weights!.map((k) => [k, c.get(k)] as const));
      // strict: the fixture names every parameter of the block, no more, no fewer
      model.setWeights(weights);
      assertClose(model.predict(c.get('input')), c.get('output'), TOLERANCE, kind);
    });
  }
});

describe('hand-worked values', () => {
  const stride2 = (k: number) => ({ kernel: [k, k] as const, strides: [2, 2] as const, dilations: [1, 1] as const });

  it("resolvePadding 'same', 3×3 stride 2: (0, 1) on even sizes, (1, 1) on odd (Keras correct_pad)", () => {
    // out = ceil(n / 2); total = (out − 1)·2 + 3 − n; before = floor(total / 2)
    // 224: out 112, total 222 + 3 − 224 = 1 → (0, 1)    112: out 56, total 110 + 3 − 112 = 1 → (0, 1)
    //   7: out 4,   total   6 + 3 −   7 = 2 → (1, 1)     11: out 6,  total  10 + 3 −  11 = 2 → (1, 1)
    assert.deepEqual([...resolvePadding('same', 224, 224, stride2(3))], [0, 1, 0, 1]);
    assert.deepEqual([...resolvePadding('same', 112, 112, stride2(3))], [0, 1, 0, 1]);
    assert.deepEqual([...resolvePadding('same', 7, 7, stride2(3))], [1, 1, 1, 1]);
    assert.deepEqual([...resolvePadding('same', 11, 11, stride2(3))], [1, 1, 1, 1]);
    // rows and columns independently: 224 rows (0, 1), 7 columns (1, 1)
    assert.deepEqual([...resolvePadding('same', 224, 7, stride2(3))], [0, 1, 1, 1]);
  });

  it("resolvePadding 'torch' is (k − 1)/2 on every side whatever the size", () => {
    for (const n of [224, 112, 7, 11]) assert.deepEqual([...resolvePadding('torch', n, n, stride2(3))], [1, 1, 1, 1]);
    // dilation 2 spreads a 3×3 kernel over 5 pixels: pad 2
    assert.deepEqual([...resolvePadding('torch', 9, 9, { kernel: [3, 3], strides: [1, 1], dilations: [2, 2] })], [2, 2, 2, 2]);
    assert.deepEqual([...resolvePadding('valid', 9, 9, stride2(3))], [0, 0, 0, 0]);
  });

  // 4×4 ramp x[i][j] = 4i + j:
  //    0  1  2  3
  //    4  5  6  7
  //    8  9 10 11
  //   12 13 14 15
  const ramp = new Tensor([1, 4, 4, 1], Float32Array.from({ length: 16 }, (_, k) => k));

  it('3×3 all-ones conv on a 4×4 ramp, valid: window sums 45, 54, 81, 90 (total 270)', () => {
    // top-left window: Σ_{i,j<3} (4i + j) = 3·4·(0+1+2) + 3·(0+1+2) = 36 + 9 = 45;
    // one step right adds 1 to each of 9 pixels (+9), one step down adds 4 to each (+36)
    const ones = new Tensor([3, 3, 1, 1], new Float32Array(9).fill(1));
    const y = conv2d(ramp, ones, null, { strides: [1, 1], dilations: [1, 1], padding: [0, 0, 0, 0], groups: 1 });
    assert.deepEqual([...y.shape], [1, 2, 2, 1]);
    assert.deepEqual([...y.data], [45, 54, 81, 90]);
    assert.equal(y.data.reduce((a, b) => a + b, 0), 270);
  });

  it('3×3 conv picking the top-left tap, torch padding: shifts the ramp down-right by one', () => {
    // only kernel[0][0] = 1: y[i][j] = x[i − 1][j − 1], 0 where that falls in the padding
    const kernel = new Tensor([3, 3, 1, 1], Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0]));
    const conv = new Conv2D('tap', { filters: 1, kernelSize: 3, padding: 'torch', useBias: false });
    const x = input([4, 4, 1]);
    const model = new Model(x, conv.apply(x));
    model.setWeights(new Map([['tap.kernel', kernel]]));
    assert.deepEqual([...model.predict(ramp).data], [0, 0, 0, 0, 0, 0, 1, 2, 0, 4, 5, 6, 0, 8, 9, 10]);
  });

  it('3×3 all-ones conv, SAME stride 2 on the 4×4 ramp: pads (0, 1), sums 45, 39, 66, 50', () => {
    // SAME on 4 with stride 2: out 2, total (2 − 1)·2 + 3 − 4 = 1 → pad (0, 1)
    // windows start at rows/cols 0 and 2; those starting at 2 reach one row/column of zero padding
    // (0,0): 45 as above;  (0,2): rows 0–2, cols 2–3 = (2+3) + (6+7) + (10+11) = 39
    const ones = new Tensor([3, 3, 1, 1], new Float32Array(9).fill(1));
    const padding = resolvePadding('same', 4, 4, stride2(3));
    assert.deepEqual([...padding], [0, 1, 0, 1]);
    const y = conv2d(ramp, ones, null, { strides: [2, 2], dilations: [1, 1], padding, groups: 1 });
    // (2,0): rows 2–3, cols 0–2 = (8+9+10) + (12+13+14) = 66;  (2,2): rows 2–3, cols 2–3 = 10+11+14+15 = 50
    assert.deepEqual([...y.data], [45, 39, 66, 50]);
  });

  it('ReLU6 on [−1, 0, 3, 6, 7, NaN] is [0, 0, 3, 6, 6, NaN]', () => {
    const y = relu6(new Tensor([6], Float32Array.from([-1, 0, 3, 6, 7, NaN])));
    assert.deepEqual([...y.data.slice(0, 5)], [0, 0, 3, 6, 6]);
    assert.ok(Number.isNaN(y.data[5]), 'NaN passes through');
  });

  it('softmax of [0, ln 3] is [1/4, 3/4]; of [1000, 1000] is [1/2, 1/2]', () => {
    // e^0 : e^{ln 3} = 1 : 3
    const y = softmax(new Tensor([2, 2], Float32Array.from([0, Math.log(3), 1000, 1000])));
    assertClose(y, new Tensor([2, 2], Float32Array.from([0.25, 0.75, 0.5, 0.5])), 1e-7);
  });
});
