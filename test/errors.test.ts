// Every error path of the engine throws a typed error (src/errors.ts) whose message names the problem:
// bad inputs to predict, ill-fitting weights and state dicts, impossible layers, graphs and model options.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, FormatError, MobileNetError, ShapeError, WeightsError } from '../src/errors.js';
import { Model } from '../src/graph/model.js';
import { Add, Dense, Dropout, input } from '../src/nn/core.js';
import { Conv2D, DepthwiseConv2D } from '../src/nn/conv.js';
import { GlobalAveragePooling2D, MaxPooling2D } from '../src/nn/pooling.js';
import { BatchNormalization } from '../src/nn/normalization.js';
import { loadTorchStateDict } from '../src/io/torch-names.js';
import { decodeNpy } from '../src/io/npy.js';
import { conv2d } from '../src/ops/conv2d.js';
import { add } from '../src/ops/elementwise.js';
import { resolvePadding } from '../src/ops/geometry.js';
import { mobilenetV1 } from '../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import { invertedResidual } from '../src/blocks/inverted-residual.js';
import { residualBlock } from '../src/blocks/seed-blocks.js';
import { Tensor } from '../src/tensor/tensor.js';

type ErrorClass = new (...args: never[]) => Error;

/** Asserts `fn` throws an instance of `type` whose message matches every pattern. */
function throwsTyped(fn: () => unknown, type: ErrorClass, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    if (!(e instanceof type)) assert.fail(`expected ${type.name}, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    if (!(e instanceof MobileNetError)) assert.fail(`${type.name} should extend MobileNetError`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** input [8, 8, 3] → Conv2D 'conv' (4 filters, 3×3, torch padding, bias), torch name 'conv'. */
function smallModel(): Model {
  const x = input([8, 8, 3]);
  const conv = new Conv2D('conv', { filters: 4, kernelSize: 3, padding: 'torch' });
  conv.torchName = 'conv';
  return new Model(x, conv.apply(x), { name: 'small' });
}

const zeros = (...shape: number[]): Tensor => new Tensor(shape);

describe('Model.predict rejects ill-shaped inputs', () => {
  it('wrong rank (NHWC)', () => {
    throwsTyped(() => smallModel().predict(zeros(8, 8, 3)), ShapeError, /rank 4/, /NHWC/, /\[8, 8, 3\]/);
  });

  it('wrong rank (NCHW)', () => {
    throwsTyped(() => smallModel().predict(zeros(3, 8, 8), { layout: 'NCHW' }), ShapeError, /rank 4/, /NCHW/, /\[3, 8, 8\]/);
  });

  it('wrong channel count (NHWC)', () => {
    throwsTyped(() => smallModel().predict(zeros(1, 8, 8, 4)), ShapeError, /expected input \[\?, 8, 8, 3\] \(NHWC\)/, /got \[1, 8, 8, 4\]/);
  });

  it('NHWC data passed as NCHW names the NCHW shape it wanted', () => {
    throwsTyped(() => smallModel().predict(zeros(1, 8, 8, 3), { layout: 'NCHW' }), ShapeError, /expected input \[\?, 3, 8, 8\] \(NCHW\)/, /got \[1, 8, 8, 3\]/);
  });

  it('wrong spatial size', () => {
    throwsTyped(() => smallModel().predict(zeros(2, 9, 8, 3)), ShapeError, /\[\?, 8, 8, 3\]/, /\[2, 9, 8, 3\]/);
  });

  it('empty batch', () => {
    throwsTyped(() => smallModel().predict(zeros(0, 8, 8, 3)), ShapeError, /batch is empty/);
  });

  it('a non-tensor input', () => {
    throwsTyped(() => smallModel().predict([1, 2, 3] as unknown as Tensor), ShapeError, /must be a Tensor/);
  });

  it('asking run() for a layer the model does not have', () => {
    throwsTyped(() => smallModel().run(zeros(1, 8, 8, 3), ['nope']), ConfigError, /no layer named "nope"/);
  });
});

describe('model.setWeights names the tensors that do not fit', () => {
  const good = (): Map<string, Tensor> => new Map([['conv.kernel', zeros(3, 3, 3, 4)], ['conv.bias', zeros(4)]]);

  it('mis-shaped', () => {
    const w = good();
    w.set('conv.kernel', zeros(3, 3, 4, 3));
    throwsTyped(() => smallModel().setWeights(w), WeightsError, /wrong shape 1/, /conv\.kernel expected \[3, 3, 3, 4\] got \[3, 3, 4, 3\]/);
  });

  it('missing', () => {
    const w = good();
    w.delete('conv.bias');
    throwsTyped(() => smallModel().setWeights(w), WeightsError, /missing 1: conv\.bias/);
    assert.throws(() => smallModel().setWeights(w), (e: unknown) => e instanceof WeightsError && e.missing.join() === 'conv.bias');
  });

  it('unexpected', () => {
    const w = good();
    w.set('conv2.kernel', zeros(1));
    throwsTyped(() => smallModel().setWeights(w), WeightsError, /unexpected 1: conv2\.kernel/);
    assert.throws(() => smallModel().setWeights(w), (e: unknown) => e instanceof WeightsError && e.unexpected.join() === 'conv2.kernel');
  });

  it('nothing changes when the weights do not fit', () => {
    const model = smallModel();
    const before = model.weights().get('conv.kernel')!.data.slice();
    const w = good();
    w.get('conv.kernel')!.data.fill(7);
    w.set('conv.extra', zeros(1));
    assert.throws(() => model.setWeights(w), WeightsError);
    assert.deepEqual(model.weights().get('conv.kernel')!.data, before);
  });
});

describe('loadTorchStateDict names the tensors that do not fit', () => {
  const good = (): Map<string, Tensor> => new Map([['conv.weight', zeros(4, 3, 3, 3)], ['conv.bias', zeros(4)]]);

  it('mis-shaped (an HWIO kernel where OIHW is expected)', () => {
    const s = good();
    s.set('conv.weight', zeros(3, 3, 3, 4));
    throwsTyped(() => loadTorchStateDict(smallModel(), s), WeightsError, /conv\.weight expected \[4, 3, 3, 3\] got \[3, 3, 3, 4\]/);
  });

  it('missing', () => {
    const s = good();
    s.delete('conv.weight');
    throwsTyped(() => loadTorchStateDict(smallModel(), s), WeightsError, /missing 1: conv\.weight/);
  });

  it('unexpected (num_batches_tracked is ignored, others are not)', () => {
    const s = good();
    s.set('conv.num_batches_tracked', zeros(1));
    loadTorchStateDict(smallModel(), s);
    s.set('fc.weight', zeros(10, 4));
    throwsTyped(() => loadTorchStateDict(smallModel(), s), WeightsError, /unexpected 1: fc\.weight/);
  });

  it('a layer without a torch name', () => {
    const x = input([4, 4, 1]);
    const model = new Model(x, new Conv2D('anon', { filters: 1, kernelSize: 1 }).apply(x), { name: 'anon_model' });
    throwsTyped(() => loadTorchStateDict(model, new Map()), WeightsError, /no torchvision names/, /anon\.kernel/);
  });
});

describe('layers and ops refuse impossible geometry', () => {
  it('Conv2D with groups not dividing the input channels', () => {
    const x = input([8, 8, 4]);
    throwsTyped(() => new Conv2D('grouped', { filters: 6, kernelSize: 3, groups: 3 }).apply(x), ShapeError, /grouped/, /groups 3 must divide input channels 4/);
  });

  it('Conv2D with groups not dividing the filters', () => {
    const x = input([8, 8, 4]);
    throwsTyped(() => new Conv2D('grouped', { filters: 5, kernelSize: 3, groups: 2 }).apply(x), ShapeError, /filters 5/);
  });

  it('conv2d op: kernel channels do not match the input', () => {
    const p = { strides: [1, 1] as const, dilations: [1, 1] as const, padding: [0, 0, 0, 0] as const, groups: 1 };
    throwsTyped(() => conv2d(zeros(1, 4, 4, 3), zeros(3, 3, 2, 4), null, p), ShapeError, /expects 2 input channels/, /has 3/);
    throwsTyped(() => conv2d(zeros(1, 4, 4, 3), zeros(3, 3, 3, 4), new Float32Array(5), p), ShapeError, /bias has 5 values, expected 4/);
  });

  it('kernel too large for the input', () => {
    const x = input([3, 3, 1]);
    throwsTyped(() => new Conv2D('big', { filters: 1, kernelSize: 5 }).apply(x), ShapeError, /big/, /5×5 window/, /3×3 input/);
    // dilation 2 spreads a 3×3 kernel over 5 pixels, one more than the input has
    const y = input([4, 4, 2]);
    throwsTyped(() => new DepthwiseConv2D('bigdw', { kernelSize: 3, dilations: 2 }).apply(y), ShapeError, /bigdw/, /does not fit a 4×4 input/);
  });

  it('non-integer or zero kernel size and stride', () => {
    throwsTyped(() => new Conv2D('c', { filters: 1, kernelSize: 0 }), ConfigError, /kernelSize/);
    throwsTyped(() => new Conv2D('c', { filters: 1, kernelSize: 3, strides: 1.5 }), ConfigError, /strides/);
    throwsTyped(() => new Conv2D('c', { filters: 0, kernelSize: 3 }), ConfigError, /filters must be a positive integer, got 0/);
    throwsTyped(() => new DepthwiseConv2D('d', { kernelSize: 3, depthMultiplier: 0 }), ConfigError, /depthMultiplier/);
  });

  it('explicit padding that is not four non-negative integers', () => {
    const win = { kernel: [3, 3] as const, strides: [1, 1] as const, dilations: [1, 1] as const };
    throwsTyped(() => resolvePadding([1, -1, 0, 0], 8, 8, win), ConfigError, /four non-negative integers/, /\[1, -1, 0, 0\]/);
    throwsTyped(() => resolvePadding('half' as never, 8, 8, win), ConfigError, /unknown padding mode "half"/);
  });

  it('Add of mismatched shapes (layer and op)', () => {
    const x = input([8, 8, 3]);
    const y = new Conv2D('down', { filters: 3, kernelSize: 3, strides: 2, padding: 'same' }).apply(x);
    throwsTyped(() => new Add('sum').apply([x, y]), ShapeError, /sum/, /\[8, 8, 3\] and \[4, 4, 3\] differ/);
    throwsTyped(() => add(zeros(1, 2), zeros(2, 1)), ShapeError, /\[1, 2\] and \[2, 1\] differ/);
  });

  it('Dense on an image, Dropout ≥ 1, BN epsilon negative', () => {
    throwsTyped(() => new Dense('fc', { units: 10 }).apply(input([4, 4, 3])), ShapeError, /fc/, /feature vector/);
    throwsTyped(() => new Dropout('drop', 1.5), ConfigError, /dropout rate must be in \[0, 1\), got 1.5/);
    throwsTyped(() => new BatchNormalization('bn', { epsilon: -1e-3 }), ConfigError, /bn/, /epsilon/, /-0\.001/);
  });

  it('a Tensor whose data does not fit its shape', () => {
    throwsTyped(() => new Tensor([2, 3], new Float32Array(5)), ShapeError, /needs 6 values, got 5/);
    throwsTyped(() => new Tensor([2, -1]), ShapeError, /non-negative integers/);
  });
});

describe('graphs and blocks refuse inconsistent structure', () => {
  it('duplicate layer names in a Model', () => {
    const x = input([4, 4, 2]);
    const a = new Conv2D('dup', { filters: 2, kernelSize: 1 }).apply(x);
    const b = new Conv2D('dup', { filters: 2, kernelSize: 1 }).apply(a);
    throwsTyped(() => new Model(x, b), ConfigError, /two layers are named "dup"/);
  });

  it('a layer applied twice', () => {
    const x = input([4, 4, 2]);
    const conv = new Conv2D('once', { filters: 2, kernelSize: 1 });
    conv.apply(x);
    throwsTyped(() => conv.apply(x), ConfigError, /once/, /already part of a graph/);
  });

  it('a seed residual block whose input channels differ from its output', () => {
    throwsTyped(() => residualBlock(input([4, 4, 8]), { expand: 16, squeeze: 4, name: 'res' }), ShapeError, /res/, /16/, /input has 8/);
  });

  it('an inverted residual given the wrong input channels', () => {
    throwsTyped(
      () => invertedResidual(input([4, 4, 8]), { inputChannels: 16, outputChannels: 16, stride: 1, expansion: 6, name: 'block_1' }),
      ShapeError,
      /block_1/,
      /expects 16 input channels, input has 8/,
    );
  });
});

describe('model builders refuse bad options', () => {
  it('mobilenetV2 alpha 0 and −1', () => {
    throwsTyped(() => mobilenetV2({ alpha: 0 }), ConfigError, /alpha/, /got 0/);
    throwsTyped(() => mobilenetV2({ alpha: -1 }), ConfigError, /alpha/, /got -1/);
  });

  it('mobilenetV2 resolution 16 is too small for output stride 32', () => {
    throwsTyped(() => mobilenetV2({ resolution: 16 }), ConfigError, /16×16 is too small/, /32/);
  });

  it('mobilenetV2 with a bad (t, c, n, s) row', () => {
    throwsTyped(() => mobilenetV2({ blocks: [[1, 16, 1, 1], [6, 24, 2, 3]] }), ConfigError, /row 1/, /\[6, 24, 2, 3\]/, /s ∈ \{1, 2\}/);
    throwsTyped(() => mobilenetV2({ blocks: [[0, 16, 1, 1]] }), ConfigError, /row 0/, /t > 0/);
    throwsTyped(() => mobilenetV2({ blocks: [] }), ConfigError, /non-empty/);
  });

  it('mobilenetV2 dropout 1.5', () => {
    throwsTyped(() => mobilenetV2({ dropout: 1.5 }), ConfigError, /dropout must be in \[0, 1\), got 1.5/);
  });

  it('mobilenetV1 depthMultiplier 0', () => {
    throwsTyped(() => mobilenetV1({ depthMultiplier: 0 }), ConfigError, /depthMultiplier must be a positive integer, got 0/);
  });

  it('mobilenetV1 resolution 31 is too small for output stride 32', () => {
    throwsTyped(() => mobilenetV1({ resolution: 31 }), ConfigError, /31×31 is too small/);
  });

  it('classes, input channels and pooling', () => {
    throwsTyped(() => mobilenetV2({ classes: 0 }), ConfigError, /classes/);
    throwsTyped(() => mobilenetV2({ inputChannels: 2.5 }), ConfigError, /inputChannels/);
    throwsTyped(() => mobilenetV2({ pooling: null }), ConfigError, /classifier top needs pooling/);
  });
});

describe('file decoding errors are FormatErrors with a byte offset', () => {
  it('.npy with a bad magic', () => {
    throwsTyped(() => decodeNpy(new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x58, 1, 0, 0, 0]), 'x.npy'), FormatError, /x\.npy/, /bad magic/, /at byte 5/);
  });

  it('.npy truncated', () => {
    throwsTyped(() => decodeNpy(new Uint8Array([0x93, 0x4e, 0x55]), 'y.npy'), FormatError, /y\.npy/, /truncated/);
  });
});

describe('pooling padding', () => {
  it('refuses padding that leaves whole windows in the padding (torch: pad at most half the window)', () => {
    const x = input([2, 2, 1]);
    assert.throws(() => new MaxPooling2D('p', { poolSize: 2, strides: 2, padding: [2, 2, 2, 2] }).apply(x), (e: unknown) => e instanceof ConfigError && /whole 2×2 windows/.test(e.message));
  });
});

describe('weights are copied in', () => {
  it('setWeights keeps its own copy: changing the given tensor later does not change the model', () => {
    const x = input([2, 2, 1]);
    const model = new Model(x, new Dense('fc', { units: 1 }).apply(new Dense('flat', { units: 1 }).apply(new GlobalAveragePooling2D('gap').apply(x))));
    const kernel = new Tensor([1, 1], new Float32Array([2]));
    model.setWeights(new Map([['fc.kernel', kernel]]), { strict: false });
    kernel.data[0] = 5;
    assert.equal(model.getLayer('fc').param('kernel').data[0], 2);
  });
});
