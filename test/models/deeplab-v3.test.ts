// Mobile DeepLabv3 against the PyTorch-made golden case (α 0.5, 129×129, 5 classes, OS 16): logits and the argmax
// mask through the reference kernels and the wasm engine; both heads on the engine, the output-stride schedule, refusals.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { deeplabV3 } from '../../src/models/deeplab-v3.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { buildModel } from '../../src/models/registry.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { encodeModelFile, decodeModelFile } from '../../src/io/model-file.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { DepthwiseConv2D } from '../../src/nn/conv.js';
import { ConfigError } from '../../src/errors.js';
import type { Model } from '../../src/graph/model.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const DIR = join(GOLDEN, 'apps/deeplab_mnv2_a050_r129_k5_os16_b2');
const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DIR, file)), file);

function goldenModel(): Model {
  const model = deeplabV3({ alpha: 0.5, outputStride: 16, classes: 5, resolution: 129 });
  loadTorchStateDict(model, decodeSafetensors(readFileSync(join(DIR, 'weights.safetensors'))).tensors);
  return model;
}

/** Argmax over the class axis of NCHW logits [N, K, H, W], first maximum on ties (numpy's rule). */
function argmaxClasses(logits: Tensor): number[] {
  const [n, k, h, w] = logits.shape;
  const plane = h * w;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits.data[(b * k + c) * plane + p] > logits.data[(b * k + best) * plane + p]) best = c;
      out.push(best);
    }
  }
  return out;
}

function assertGolden(logits: Tensor, what: string): void {
  assertClose(logits, npy('logits.npy'), 5e-5, `${what}: logits`);
  assert.deepEqual(argmaxClasses(logits), [...npy('mask.npy').data], `${what}: mask`);
}

/** [stride, rate] of every depthwise conv, in order. */
function depthwiseSchedule(model: Model): [number, number][] {
  return model.layers.filter((l): l is DepthwiseConv2D => l instanceof DepthwiseConv2D).map((l) => [l.strides[0], l.dilations[0]]);
}

describe('deeplabV3: the golden Mobile DeepLabv3 (PyTorch, torchvision 0.14 backbone)', () => {
  it('reproduces the logits and the mask through model.predict (NCHW batch of 2)', () => {
    const logits = goldenModel().predict(npy('input.npy'), { layout: 'NCHW' });
    assert.deepEqual([...logits.shape], [2, 5, 129, 129]);
    assertGolden(logits, 'reference kernels');
  });

  it('reproduces them through the wasm engine', async () => {
    const engine = await WasmEngine.create(goldenModel());
    try {
      assertGolden(engine.predict(npy('input.npy'), { layout: 'NCHW' }), 'WasmEngine');
    } finally {
      await engine.dispose();
    }
  });

  for (const [head, outputStride] of [['aspp', 8], ['aspp', 16], ['mobile', 32]] as const) {
    it(`the wasm engine equals the reference kernels: ${head} head, OS ${outputStride}, odd 41×37 input, batch 2, random BN`, async () => {
      const model = deeplabV3({ alpha: 0.35, resolution: [41, 37], classes: 4, head, outputStride, seed: 3 });
      randomiseBatchNorm(model, 7);
      const x = randomBatch([2, 41, 37, 3], 11);
      const reference = model.predict(x);
      for (const fuseBlocks of [true, false]) {
        const engine = await WasmEngine.create(model, { fuseBlocks });
        try {
          assertClose(engine.predict(x), reference, 1e-4, `fuseBlocks ${fuseBlocks}`);
        } finally {
          await engine.dispose();
        }
      }
    });
  }

  it('defaults to the paper\'s Table 7 model: 513×513, 21 classes, OS 16, no ASPP', () => {
    const model = deeplabV3();
    assert.deepEqual([[...model.inputShape], [...model.outputShape]], [[513, 513, 3], [513, 513, 21]]);
    assert.deepEqual([...model.getLayer('aspp0').outputShape], [33, 33, 256], '513 = 32·16 + 1 → a 33×33 map');
    assert.ok(!model.layers.some((l) => l.name === 'aspp1'));
  });

  it('outputs per-pixel logits [H, W, K] in NHWC at any input size, and travels through a model file', () => {
    const model = deeplabV3({ alpha: 0.35, classes: 3, resolution: [40, 56], head: 'aspp', outputStride: 8 });
    assert.deepEqual([...model.outputShape], [40, 56, 3]);
    const again = decodeModelFile(encodeModelFile(model), 'deeplab.safetensors').model;
    assert.equal(again.metadata.architecture, 'deeplabv3_mobilenet_v2');
    assert.deepEqual(depthwiseSchedule(again), depthwiseSchedule(model));
    assert.deepEqual(
      again.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
    );
  });
});

describe('output stride (TF slim mobilenet_base rule)', () => {
  // The golden README's statement, written out per depthwise conv: stem excluded, 17 bottlenecks.
  const natural: [number, number][] = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1].map((s) => [s, 1]);
  it('OS 16: the first 160-channel block at stride 1 rate 1, the three after it at rate 2', () => {
    const expected = natural.map(([s, r], i): [number, number] => (i === 13 ? [1, 1] : i > 13 ? [1, 2] : [s, r]));
    assert.deepEqual(depthwiseSchedule(mobilenetV2({ outputStride: 16 })), expected);
  });

  it('OS 8: the first 64-channel block at stride 1, the six after it at rate 2, then the 160s at rate 2 then 4', () => {
    const expected = natural.map(([s, r], i): [number, number] => (i < 6 ? [s, r] : i === 6 ? [1, 1] : i < 13 ? [1, 2] : i === 13 ? [1, 2] : [1, 4]));
    const model = mobilenetV2({ outputStride: 8, resolution: 64, includeTop: false, pooling: null });
    assert.deepEqual(depthwiseSchedule(model), expected);
    assert.deepEqual([...model.outputShape], [8, 8, 1280], 'maps keep their size: padding = rate');
  });

  it('OS 32 is the plain network; MobileNetV1 follows the same rule', () => {
    assert.deepEqual(depthwiseSchedule(mobilenetV2({ outputStride: 32 })), natural);
    // V1's 13 depthwise strides 1 2 1 2 1 2 1 1 1 1 1 2 1; OS 8 reached after conv_dw_4
    const v1 = mobilenetV1({ outputStride: 8, resolution: 64, includeTop: false, pooling: null });
    assert.deepEqual(depthwiseSchedule(v1), [[1, 1], [2, 1], [1, 1], [2, 1], [1, 1], [1, 1], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 4]]);
    assert.deepEqual([...v1.outputShape], [8, 8, 1024]);
  });
});

describe('typed refusals', () => {
  it('an output stride that is not 8, 16 or 32', () => {
    for (const build of [() => mobilenetV2({ outputStride: 4 as 8 }), () => mobilenetV1({ outputStride: 12 as 8 }), () => deeplabV3({ outputStride: 64 as 8 })]) {
      assert.throws(build, (e: unknown) => e instanceof ConfigError && /outputStride must be 8, 16 or 32/.test(e.message));
    }
  });

  it('a resolution below the network stride', () => {
    assert.throws(() => deeplabV3({ resolution: 15 }), (e: unknown) => e instanceof ConfigError && /15×15 is too small.*16/.test(e.message));
    assert.throws(() => mobilenetV2({ outputStride: 8, resolution: [7, 64] }), (e: unknown) => e instanceof ConfigError && /7×64 is too small.*8/.test(e.message));
    assert.doesNotThrow(() => deeplabV3({ resolution: 16, alpha: 0.35, classes: 2 }));
  });

  it('a head that is not mobile or aspp, and options that do not apply to DeepLab', () => {
    assert.throws(() => deeplabV3({ head: 'lraspp' as 'mobile' }), (e: unknown) => e instanceof ConfigError && /head must be 'mobile' or 'aspp'/.test(e.message));
    assert.throws(() => buildModel('deeplabv3_mobilenet_v2', { includeTop: false }), (e: unknown) => e instanceof ConfigError && /includeTop do not apply/.test(e.message));
  });
});
