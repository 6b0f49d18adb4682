// The segmentation head's ops in WebAssembly (bilinear resize in every convention, channel concatenation) against the
// reference ops on awkward shapes, and a DeepLab-like head through WasmEngine against model.predict, 1 and 2 threads.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WasmRuntime, type Kernel } from '../../../src/backend/wasm/runtime.js';
import { WasmEngine } from '../../../src/backend/wasm/engine.js';
import { emitChannelSlice } from '../../../src/backend/wasm/kernels/concat.js';
import { emitResize, emitResizeRows, packResizeTaps, type ResizeSpec } from '../../../src/backend/wasm/kernels/resize.js';
import { createWasmTrainingBackends } from '../../../src/backend/wasm/ops-backend.js';
import { planRequests } from '../../../src/graph/arena.js';
import { lowerModel } from '../../../src/graph/lower.js';
import { concatSlices } from '../../../src/backend/wasm/memory-plan.js';
import { Model } from '../../../src/graph/model.js';
import { Conv2D } from '../../../src/nn/conv.js';
import { input } from '../../../src/nn/core.js';
import { Concatenate } from '../../../src/nn/extra.js';
import { BatchNormalization } from '../../../src/nn/normalization.js';
import { GlobalAveragePooling2D } from '../../../src/nn/pooling.js';
import { Resize } from '../../../src/nn/resize.js';
import { concat } from '../../../src/ops/concat.js';
import { RESIZE_COORDINATES, resizeBilinear2d } from '../../../src/ops/resize.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { assertClose, randomBatch, randomiseBatchNorm } from '../../support/helpers.js';
import { SIMD_MODES } from '../../support/wasm-modes.js';
import { SENTINEL, guarded } from '../../support/wasm-guard.js';

// [height, width, channels] → [height, width]: up, down, odd sizes, channel tails, 1×1 (image pooling), one row or column, same size
const RESIZE_CASES: [ResizeSpec['inShape'], ResizeSpec['size']][] = [
  [[5, 7, 3], [9, 4]],
  [[6, 5, 4], [3, 2]],
  [[3, 3, 9], [17, 13]],
  [[1, 1, 6], [5, 7]],
  [[1, 1, 1], [2, 3]],
  [[2, 9, 13], [1, 1]],
  [[1, 8, 5], [4, 3]],
  [[7, 7, 8], [7, 7]],
  [[4, 3, 2], [9, 1]],
];

describe('wasm resize kernel vs resizeBilinear2d', () => {
  for (const mode of SIMD_MODES) {
    it(`every convention, up and down, odd sizes, 1×1, batch 2: the batch kernel, and rows in pieces (${mode.name})`, { skip: mode.skip }, async () => {
      const rt = new WasmRuntime();
      const mod = rt.module({ relaxedSimd: mode.relaxed });
      const specs = RESIZE_CASES.flatMap(([inShape, size]) => RESIZE_COORDINATES.map((coordinates): ResizeSpec => ({ inShape, size, coordinates })));
      // a slice of 3 more channels: the output's pixels `c + 3` floats apart
      specs.forEach((spec, i) => {
        emitResizeRows(mod, `rows${i}`, spec);
        emitResize(mod, `batch${i}`, spec);
        emitResize(mod, `slice${i}`, { ...spec, outChannels: spec.inShape[2] + 3 });
      });
      const kernels: Record<string, Kernel> = await rt.instantiate(mod);
      specs.forEach((spec, i) => {
        const [h, w, c] = spec.inShape;
        const [th, tw] = spec.size;
        const x = randomBatch([2, h, w, c], 100 + i);
        const expected = resizeBilinear2d(x, spec.size, spec.coordinates);
        const xp = rt.upload(x.data);
        const taps = rt.upload(packResizeTaps(spec));
        const imageIn = 4 * h * w * c;
        const rowOut = 4 * tw * c;
        const what = `${spec.coordinates} [${spec.inShape.join(', ')}] → ${th}×${tw}`;
        const whole = guarded(rt, expected.size);
        kernels[`batch${i}`](xp, taps, whole.pointer, 2);
        assertClose(new Tensor(expected.shape, whole.read()), expected, 1e-6, `${what}, the batch kernel`);
        // rows of each image in uneven pieces, as threads split them: [0, 1), [1, ⌈th/2⌉), the rest
        const pieces = [[0, 1], [1, Math.ceil(th / 2)], [Math.ceil(th / 2), th]].filter(([a, b]) => b > a);
        const out = guarded(rt, expected.size);
        for (let b = 0; b < 2; b++) {
          for (const [first, end] of pieces) kernels[`rows${i}`](xp + b * imageIn, taps, out.pointer + (b * th + first) * rowOut, first, end - first);
        }
        assertClose(new Tensor(expected.shape, out.read()), expected, 1e-6, `${what}, rows in ${pieces.length} piece(s)`);
        // into channels [2, 2 + c) of c + 3: the others keep what they held
        const wide = guarded(rt, 2 * th * tw * (c + 3));
        kernels[`slice${i}`](xp, taps, wide.pointer + 2 * 4, 2);
        const pixels = wide.read();
        const slice = Float32Array.from({ length: expected.size }, (_, j) => pixels[Math.floor(j / c) * (c + 3) + 2 + (j % c)]);
        assertClose(new Tensor(expected.shape, slice), expected, 1e-6, `${what}, into a channel slice`);
        assert.equal(pixels.filter((v) => v === SENTINEL).length, 2 * th * tw * 3, `${what}: wrote outside its channel slice`);
      });
    });
  }
});

describe('wasm channel-slice kernel vs concat', () => {
  for (const mode of SIMD_MODES) {
    it(`inputs of 3, 5, 4 and 1 channels into 13, 7 pixels × batch 2, exactly (${mode.name})`, { skip: mode.skip }, async () => {
      const rt = new WasmRuntime();
      const mod = rt.module({ relaxedSimd: mode.relaxed });
      const channels = [3, 5, 4, 1];
      const total = channels.reduce((a, b) => a + b, 0);
      let offset = 0;
      channels.forEach((ch, k) => {
        emitChannelSlice(mod, `slice${k}`, { channels: ch, outChannels: total, offset });
        offset += ch;
      });
      const kernels = await rt.instantiate(mod);
      const inputs = channels.map((ch, k) => randomBatch([2, 7, ch], 200 + k));
      const out = guarded(rt, 2 * 7 * total);
      inputs.forEach((t, k) => kernels[`slice${k}`](rt.upload(t.data), out.pointer, 2 * 7));
      assert.deepEqual(out.read(), concat(inputs, 2).data);
    });
  }
  it('a slice that does not fit is refused, naming it', () => {
    const mod = new WasmRuntime().module();
    assert.throws(() => emitChannelSlice(mod, 'bad', { channels: 4, outChannels: 6, offset: 3 }), /4 channels at 3 does not fit in 6/);
  });
});

/**
 * The Mobile DeepLabv3 head in small (golden README): image pooling (GAP keepDims → 1×1 conv + BN + ReLU → resize
 * to the map, align-corners), a 1×1 conv branch, concatenated → 1×1 conv → resize to a larger size.
 */
function headLike(): Model {
  const x = input([9, 11, 6]);
  const features = new Conv2D('features', { kernelSize: 3, strides: 2, padding: 'same', filters: 10, activation: 'relu' }).apply(x);
  let pooled = new GlobalAveragePooling2D('pool', true).apply(features);
  pooled = new Conv2D('pool_conv', { kernelSize: 1, filters: 7, useBias: false }).apply(pooled);
  pooled = new BatchNormalization('pool_bn').apply(pooled);
  pooled = new Resize('pool_resize', { size: [5, 6] }, 'align-corners').apply(new Conv2D('pool_relu', { kernelSize: 1, filters: 7, activation: 'relu' }).apply(pooled));
  const branch = new Conv2D('branch', { kernelSize: 1, filters: 9, activation: 'relu' }).apply(features);
  const joined = new Concatenate('concat', -1, 2).apply([pooled, branch]);
  const logits = new Conv2D('logits', { kernelSize: 1, filters: 5 }).apply(joined);
  const model = new Model(x, new Resize('upsample', { size: [9, 11] }, 'align-corners').apply(logits), { seed: 3 });
  randomiseBatchNorm(model);
  return model;
}

/** Resize alone in a convention and a concatenation of three inputs of odd widths. */
function resizeAndConcat(coordinates: (typeof RESIZE_COORDINATES)[number]): Model {
  const x = input([5, 7, 3]);
  const up = new Resize('up', { size: [11, 6] }, coordinates).apply(x);
  const a = new Conv2D('a', { kernelSize: 1, filters: 5 }).apply(up);
  const b = new Conv2D('b', { kernelSize: 1, filters: 2 }).apply(up);
  const joined = new Concatenate('concat', 2, 3).apply([a, up, b]);
  return new Model(x, new Resize('down', { size: [4, 3] }, coordinates).apply(joined), { seed: 8 });
}

describe('segmentation head through WasmEngine', () => {
  it('the head lowers to native steps only: resize, concat and the keepDims global pool', () => {
    const ops = lowerModel(headLike()).steps.map((s) => s.op);
    assert.ok(!ops.includes('layer'), `plan has 'layer' steps: ${ops.join(', ')}`);
    for (const op of ['globalAvgPool', 'resize', 'concat'] as const) assert.ok(ops.includes(op), `no ${op} step in ${ops.join(', ')}`);
  });

  it('producers that can write a channel slice write into the concatenation; the others are copied, and the arena has no buffer for the slices', () => {
    const head = lowerModel(headLike());
    const concatStep = head.steps.find((s) => s.op === 'concat')!;
    const slices = concatSlices(head);
    // the pooled branch's resize (7 channels) at 0, the 1×1 branch's GEMM (9 channels) at 7
    assert.deepEqual(concatStep.inputs.map((t) => slices.get(t)), [{ tensor: concatStep.output, offset: 0, stride: 16 }, { tensor: concatStep.output, offset: 7, stride: 16 }]);
    const requests = planRequests(head, 1, undefined, slices);
    assert.ok(concatStep.inputs.every((t) => !requests.some((r) => r.key === `t${t}`)));
    // the concatenation's buffer lives from the first producer on
    const firstProducer = Math.min(...concatStep.inputs.map((t) => head.steps.findIndex((s) => s.output === t)));
    assert.equal(requests.find((r) => r.key === `t${concatStep.output}`)!.first, firstProducer);

    // [a (GEMM), up (resize, also read by a and b: copied), b (GEMM)]
    const mixed = lowerModel(resizeAndConcat('half-pixel'));
    const joined = mixed.steps.find((s) => s.op === 'concat')!;
    assert.deepEqual(joined.inputs.map((t) => mixed.tensors[t].name), ['a', 'up', 'b']);
    assert.deepEqual(joined.inputs.map((t) => concatSlices(mixed).get(t)?.offset), [0, undefined, 8]);
  });

  it('edge concatenations run natively: an input twice, the model input itself, pooled vectors', async () => {
    const x = input([4, 3, 5]);
    const conv = new Conv2D('conv', { kernelSize: 1, filters: 3 }).apply(x);
    const twice = new Concatenate('twice', -1, 3).apply([conv, x, conv]);
    const pooled = new GlobalAveragePooling2D('pool').apply(twice);
    const vectors = new Concatenate('vectors', 0, 2).apply([pooled, new GlobalAveragePooling2D('pool_x').apply(x)]);
    const model = new Model(x, vectors, { seed: 12 });
    const plan = lowerModel(model);
    assert.deepEqual(plan.steps.map((s) => s.op), ['conv', 'concat', 'globalAvgPool', 'globalAvgPool', 'concat']);
    // read twice by one step: copied, not written in place
    assert.equal(concatSlices(plan).size, 0);
    const engine = await WasmEngine.create(model);
    try {
      assert.deepEqual(engine.coverage.fallback, []);
      const batch = randomBatch([3, 4, 3, 5], 6);
      assertClose(engine.predict(batch), model.predict(batch), 1e-6);
    } finally {
      await engine.dispose();
    }
  });

  for (const axis of [0, 1]) {
    it(`a concatenation on another axis (${axis === 0 ? 'rows' : 'columns'}) is a native copy of runs too`, async () => {
      const x = input([3, 4, 2]);
      const model = new Model(x, new Concatenate('joined', axis, 2).apply([x, new Conv2D('c', { kernelSize: 1, filters: 2 }).apply(x)]), { seed: 1 });
      assert.deepEqual(lowerModel(model).steps.map((s) => s.op), ['conv', 'concat']);
      const engine = await WasmEngine.create(model);
      try {
        assert.deepEqual(engine.coverage.fallback, []);
        const batch = randomBatch([2, 3, 4, 2], 5);
        assertClose(engine.predict(batch), model.predict(batch), 1e-6);
      } finally {
        await engine.dispose();
      }
    });
  }

  for (const mode of SIMD_MODES) {
    for (const threads of [1, 2]) {
      it(`head-like model and resize/concat in each convention vs model.predict within 1e-5, batch 1 and 3 (${mode.name}, ${threads} thread(s))`, { skip: mode.skip }, async () => {
        const models = [headLike(), ...RESIZE_COORDINATES.map(resizeAndConcat)];
        for (const model of models) {
          const engine = await WasmEngine.create(model, { relaxedSimd: mode.relaxed, threads });
          try {
            assert.deepEqual(engine.coverage.fallback, []);
            for (const batch of [1, 3]) {
              const x = randomBatch([batch, ...model.inputShape], 40 + batch);
              assertClose(engine.predict(x), model.predict(x), 1e-5, `${model.layers.at(-1)!.name} of ${model.layers.length} layers, batch ${batch}`);
            }
          } finally {
            await engine.dispose();
          }
        }
      });
    }
  }
});

describe('wasm training backend: resize forward', () => {
  for (const mode of SIMD_MODES) {
    for (const threads of [1, 2]) {
      it(`matches resizeBilinear2d in each convention, batch 3, and refuses what the reference refuses (${mode.name}, ${threads} thread(s))`, { skip: mode.skip }, async () => {
        const w = await createWasmTrainingBackends({ relaxedSimd: mode.relaxed, threads });
        try {
          for (const [[h, wd, c], size] of RESIZE_CASES) {
            for (const coordinates of RESIZE_COORDINATES) {
              const x = randomBatch([3, h, wd, c], 300 + h * wd);
              const what = `${coordinates} [${h}, ${wd}, ${c}] → ${size.join('×')}`;
              assertClose(w.backend.resizeBilinear(x, size, coordinates), resizeBilinear2d(x, size, coordinates), 1e-6, what);
            }
          }
          assert.equal(w.coverage().wasm.resizeBilinear, RESIZE_CASES.length * RESIZE_COORDINATES.length);
          assert.throws(() => w.backend.resizeBilinear(randomBatch([1, 2, 2, 1], 1), [0, 3], 'half-pixel'), /resizeBilinear.*\[0, 3\]/);
        } finally {
          await w.dispose();
        }
      });
    }
  }
});
