// Dilated (atrous) depthwise convolutions on WebAssembly against the reference `conv2d`: standalone (training ops forward
// and both gradients, engine steps; standard atrous convs too) and inside row-streamed chains, rates 1, 2, 4, strides 1 and 2.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmTrainingBackends, type WasmTrainingBackends } from '../../../src/backend/wasm/ops-backend.js';
import { WasmEngine, type WasmEngineOptions } from '../../../src/backend/wasm/engine.js';
import { threadsUnavailable } from '../../../src/backend/wasm/threads.js';
import { chainSpecOf, planChain } from '../../../src/backend/wasm/kernels/chain.js';
import { lowerModel } from '../../../src/graph/lower.js';
import { referenceGradients } from '../../../src/backend/gradients.js';
import type { ChainStep } from '../../../src/graph/plan.js';
import { Model } from '../../../src/graph/model.js';
import { Add, input } from '../../../src/nn/core.js';
import { Conv2D, DepthwiseConv2D } from '../../../src/nn/conv.js';
import { BatchNormalization } from '../../../src/nn/normalization.js';
import { ReLU6 } from '../../../src/nn/activation.js';
import type { SymbolicTensor } from '../../../src/graph/symbolic.js';
import { conv2d, type Conv2DParams } from '../../../src/ops/conv2d.js';
import { resolvePadding, type PaddingMode } from '../../../src/ops/geometry.js';
import { assertClose, randomBatch, randomiseBatchNorm } from '../../support/helpers.js';
import { SIMD_MODES } from '../../support/wasm-modes.js';

/** Relative to max(1, max|reference|): float32 sums of at most 25 taps (forward), a few hundred (kernel gradients). */
const TOL = 1e-5;

interface DepthwiseCase {
  what: string;
  /** NHWC input. */
  shape: [number, number, number, number];
  kernel: [number, number];
  stride: number;
  rate: number | [number, number];
  padding: PaddingMode;
}

const pairOf = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Awkward shapes: odd sizes and channel counts, 1-pixel maps, windows wider than the image, windows wholly in padding. */
const CASES: DepthwiseCase[] = [
  { what: 'rate 1 (the undilated kernel, same code path)', shape: [2, 10, 9, 8], kernel: [3, 3], stride: 1, rate: 1, padding: 'same' },
  { what: 'rate 2, stride 1, SAME, 7 channels, batch 2', shape: [2, 13, 11, 7], kernel: [3, 3], stride: 1, rate: 2, padding: 'same' },
  { what: 'rate 2, stride 1, 37 wide (row kernels in pixel order), 6 channels', shape: [1, 5, 37, 6], kernel: [3, 3], stride: 1, rate: 2, padding: 'same' },
  { what: 'rate 4, stride 1, SAME, 5 channels', shape: [1, 17, 9, 5], kernel: [3, 3], stride: 1, rate: 4, padding: 'same' },
  { what: 'rate 2, stride 2, SAME, batch 3', shape: [3, 9, 10, 6], kernel: [3, 3], stride: 2, rate: 2, padding: 'same' },
  { what: 'rate 4, stride 2, SAME, 9 channels', shape: [2, 15, 14, 9], kernel: [3, 3], stride: 2, rate: 4, padding: 'same' },
  { what: '5×5 rate 2, stride 1, torch padding, 3 channels', shape: [1, 12, 15, 3], kernel: [5, 5], stride: 1, rate: 2, padding: 'torch' },
  { what: '5×5 rate 4, stride 2, explicit asymmetric padding [3, 1, 0, 5]', shape: [2, 14, 13, 9], kernel: [5, 5], stride: 2, rate: 4, padding: [3, 1, 0, 5] },
  { what: 'rates [2, 3] per axis, VALID, 1 channel', shape: [1, 11, 12, 1], kernel: [3, 3], stride: 1, rate: [2, 3], padding: 'valid' },
  { what: 'rate 4, VALID, window as tall as the image', shape: [2, 9, 10, 4], kernel: [3, 3], stride: 1, rate: 4, padding: 'valid' },
  { what: 'rate 2, padding 5 on every side (outputs whose window is all padding)', shape: [1, 6, 6, 3], kernel: [3, 3], stride: 1, rate: 2, padding: [5, 5, 5, 5] },
  { what: '1-pixel map, rate 4, stride 1, SAME (only the centre tap lands)', shape: [2, 1, 1, 7], kernel: [3, 3], stride: 1, rate: 4, padding: 'same' },
  { what: '1-pixel map, rate 2, stride 2, SAME', shape: [1, 1, 1, 4], kernel: [3, 3], stride: 2, rate: 2, padding: 'same' },
  { what: '2×3 map, 5×5 rate 4, SAME', shape: [1, 2, 3, 5], kernel: [5, 5], stride: 1, rate: 4, padding: 'same' },
];

function paramsOf(c: DepthwiseCase): Conv2DParams {
  const win = { kernel: c.kernel, strides: [c.stride, c.stride] as const, dilations: pairOf(c.rate) };
  return { strides: win.strides, dilations: win.dilations, padding: resolvePadding(c.padding, c.shape[1], c.shape[2], win), groups: c.shape[3] };
}

for (const mode of SIMD_MODES) {
  for (const threads of [1, 2]) {
    const skip = mode.skip || (threads > 1 && threadsUnavailable()) || false;
    describe(`dilated depthwise, training ops backend (${mode.name}, ${threads} thread${threads > 1 ? 's' : ''})`, { skip }, () => {
      let w: WasmTrainingBackends;
      before(async () => {
        w = await createWasmTrainingBackends({ relaxedSimd: mode.relaxed, threads });
      });
      after(() => w?.dispose());

      /** Forward and both gradients of one convolution against the reference, each run once on wasm. */
      const check = (c: DepthwiseCase, p: Conv2DParams, kernelShape: number[], seed: number): void => {
        const x = randomBatch(c.shape, 100 + seed);
        const kernel = randomBatch(kernelShape, 200 + seed);
        const bias = randomBatch([kernelShape[3]], 300 + seed).data;
        const before = w.coverage();
        const y = conv2d(x, kernel, bias, p);
        assertClose(w.backend.conv2d(x, kernel, bias, p), y, TOL, 'forward');
        const dy = randomBatch([...y.shape], 400 + seed);
        assertClose(w.gradients.conv2dBackwardInput(dy, kernel, x.shape, p), referenceGradients.conv2dBackwardInput(dy, kernel, x.shape, p), TOL, 'input gradient');
        assertClose(w.gradients.conv2dBackwardKernel(x, dy, kernel.shape, p), referenceGradients.conv2dBackwardKernel(x, dy, kernel.shape, p), TOL, 'kernel gradient');
        const now = w.coverage();
        for (const op of ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardKernel']) {
          assert.equal(now.reference[op] ?? 0, before.reference[op] ?? 0, `${op} fell back to the reference`);
          assert.equal(now.wasm[op] ?? 0, (before.wasm[op] ?? 0) + 1, `${op} ran on wasm once`);
        }
      };

      CASES.forEach((c, i) => {
        it(`${c.what}: forward and both gradients equal the reference, on wasm`, () => check(c, paramsOf(c), [...c.kernel, 1, c.shape[3]], i));
      });

      // DeepLab's ASPP branches: atrous standard convolutions, through im2col and the GEMMs
      CASES.slice(1, 8).forEach((c, i) => {
        it(`standard conv (→ 6 channels), ${c.what}: forward and both gradients equal the reference, on wasm`, () => check(c, { ...paramsOf(c), groups: 1 }, [...c.kernel, c.shape[3], 6], 50 + i));
      });
    });
  }
}

/** A standalone depthwise layer in a model: the engine runs it as a step of its own (and by row kernels on threads). */
function depthwiseModel(c: DepthwiseCase): Model {
  const x = input(c.shape.slice(1));
  const y = new DepthwiseConv2D('dw', { kernelSize: c.kernel, strides: c.stride, dilations: c.rate, padding: c.padding, activation: 'relu6' }).apply(x);
  const model = new Model(x, y);
  model.initialize(7);
  return model;
}

interface BlockOptions {
  name: string;
  /** Expanded channels; null: no expand (depthwise straight on the input). */
  expand: number | null;
  out: number;
  kernel?: number;
  stride: number;
  rate: number;
  padding?: PaddingMode;
}

/** An inverted residual as MobileNetV2 builds it: [expand 1×1 → BN → ReLU6] → depthwise (atrous) → BN → ReLU6 → project → BN (+ input). */
function block(x: SymbolicTensor, o: BlockOptions): SymbolicTensor {
  const channels = x.shape[2];
  let y = x;
  if (o.expand !== null) {
    y = new Conv2D(`${o.name}_expand`, { filters: o.expand, kernelSize: 1, useBias: false }).apply(y);
    y = new ReLU6(`${o.name}_expand_relu`).apply(new BatchNormalization(`${o.name}_expand_bn`).apply(y));
  }
  y = new DepthwiseConv2D(`${o.name}_depthwise`, { kernelSize: o.kernel ?? 3, strides: o.stride, dilations: o.rate, padding: o.padding ?? 'same', useBias: false }).apply(y);
  y = new ReLU6(`${o.name}_depthwise_relu`).apply(new BatchNormalization(`${o.name}_depthwise_bn`).apply(y));
  y = new Conv2D(`${o.name}_project`, { filters: o.out, kernelSize: 1, useBias: false }).apply(y);
  y = new BatchNormalization(`${o.name}_project_bn`).apply(y);
  return o.stride === 1 && o.out === channels ? new Add(`${o.name}_add`).apply([x, y]) : y;
}

/**
 * DeepLab's tail in miniature: a stem joined to an atrous block, then residual blocks at rates 2 and 4 (3×3 and 5×5),
 * a strided one, one with no expand, odd channel counts and widths.
 */
function atrousNet(height: number, width: number): Model {
  const x = input([height, width, 3]);
  let y = new Conv2D('stem', { filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(x);
  y = new ReLU6('stem_relu').apply(new BatchNormalization('stem_bn').apply(y));
  y = block(y, { name: 'b0', expand: 18, out: 7, stride: 1, rate: 2 });
  y = block(y, { name: 'b1', expand: 21, out: 7, stride: 1, rate: 2 });
  y = block(y, { name: 'b2', expand: 13, out: 7, kernel: 5, stride: 1, rate: 4 });
  y = block(y, { name: 'b3', expand: 22, out: 9, stride: 2, rate: 2 });
  y = block(y, { name: 'b4', expand: null, out: 9, stride: 1, rate: 4, padding: 'torch' });
  y = block(y, { name: 'b5', expand: 27, out: 9, stride: 1, rate: 1 });
  const model = new Model(x, y);
  model.initialize(11);
  randomiseBatchNorm(model);
  return model;
}

/** Each chain's depthwise stage: its rate and stride, and whether a stem leads the chain. */
function chainSummary(engine: WasmEngine): { depthwise: string; rate: number; stride: number; stages: number }[] {
  return engine.plan.steps
    .filter((s): s is ChainStep => s.op === 'chain')
    .map((s) => {
      const dw = s.stages[s.stages.length - 2];
      return { depthwise: dw.layers[0], rate: dw.conv.dilations[0], stride: dw.conv.strides[0], stages: s.stages.length };
    });
}

async function withEngine(model: Model, options: WasmEngineOptions, body: (engine: WasmEngine) => void): Promise<void> {
  const engine = await WasmEngine.create(model, options);
  try {
    body(engine);
  } finally {
    await engine.dispose();
  }
}

for (const mode of SIMD_MODES) {
  for (const threads of [1, 2]) {
    const skip = mode.skip || (threads > 1 && threadsUnavailable()) || false;
    describe(`dilated depthwise, WasmEngine (${mode.name}, ${threads} thread${threads > 1 ? 's' : ''})`, { skip }, () => {
      const base: WasmEngineOptions = { relaxedSimd: mode.relaxed, threads };

      it('standalone depthwise steps at rates 1, 2, 4 run natively and equal the reference layers', async () => {
        for (const c of CASES) {
          const model = depthwiseModel(c);
          const x = randomBatch(c.shape, 17);
          await withEngine(model, base, (engine) => {
            assert.deepEqual(engine.coverage.fallback, [], c.what);
            assertClose(engine.predict(x), model.predict(x), TOL, c.what);
          });
        }
      });

      it('atrous inverted residuals are fused into row-streamed chains (stem joined to a rate-2 block)', async () => {
        await withEngine(atrousNet(23, 19), base, (engine) => {
          assert.deepEqual(engine.plan.steps.map((s) => s.op), ['chain', 'chain', 'chain', 'chain', 'chain', 'chain']);
          assert.deepEqual(chainSummary(engine), [
            { depthwise: 'b0_depthwise', rate: 2, stride: 1, stages: 4 },
            { depthwise: 'b1_depthwise', rate: 2, stride: 1, stages: 3 },
            { depthwise: 'b2_depthwise', rate: 4, stride: 1, stages: 3 },
            { depthwise: 'b3_depthwise', rate: 2, stride: 2, stages: 3 },
            { depthwise: 'b4_depthwise', rate: 4, stride: 1, stages: 2 },
            { depthwise: 'b5_depthwise', rate: 1, stride: 1, stages: 3 },
          ]);
          assert.deepEqual(engine.coverage.fallback, []);
        });
      });

      const chainSplits: WasmEngineOptions['chainSplit'][] = threads > 1 ? ['rows', 'stages'] : ['auto'];
      for (const chainSplit of chainSplits) {
        for (const fuseBlocks of [true, false]) {
          it(`atrous blocks (fuseBlocks ${fuseBlocks}, chainSplit ${chainSplit}), batch 1 and 3, 23×19, 9×8 and 7×70 inputs: equal to model.predict`, async () => {
            // 7×70: rows 35 wide after the stem, which the depthwise row kernel runs in pixel order
            for (const [h, w] of [[23, 19], [9, 8], [7, 70]] as const) {
              const model = atrousNet(h, w);
              await withEngine(model, { ...base, fuseBlocks, chainSplit }, (engine) => {
                for (const batch of [1, 3]) {
                  const x = randomBatch([batch, h, w, 3], 5 + batch);
                  assertClose(engine.predict(x), model.predict(x), TOL, `${h}×${w}, batch ${batch}`);
                }
              });
            }
          });
        }
      }
    });
  }
}

describe('dilated depthwise, chain plans', () => {
  it('the ring holds the (k − 1)·rate + 1 rows a window spans, plus a row per stride for each further output row', () => {
    const chains = lowerModel(atrousNet(23, 19)).steps.filter((s): s is ChainStep => s.op === 'chain');
    const chainsOf = (rowsPerStep: number): { rate: number; stride: number; kh: number; ringRows: number; height: number }[] =>
      chains.map((step) => {
        const plan = planChain(chainSpecOf(step), { rowsPerStep });
        return { rate: plan.rows.dilation, stride: plan.rows.stride, kh: plan.rows.kernelHeight, ringRows: plan.ringRows, height: plan.rows.height };
      });
    // 23×19 → stem stride 2 → 12×10; b3 strides to 6×5
    assert.deepEqual(chainsOf(1), [
      { rate: 2, stride: 1, kh: 3, ringRows: 5, height: 12 },
      { rate: 2, stride: 1, kh: 3, ringRows: 5, height: 12 },
      { rate: 4, stride: 1, kh: 5, ringRows: 12, height: 12 },
      { rate: 2, stride: 2, kh: 3, ringRows: 5, height: 12 },
      { rate: 4, stride: 1, kh: 3, ringRows: 0, height: 6 },
      { rate: 1, stride: 1, kh: 3, ringRows: 3, height: 6 },
    ]);
    assert.deepEqual(chainsOf(2).map((c) => c.ringRows), [6, 6, 12, 7, 0, 4]);
  });
});
