// One word for each convolution kind (hand-worked cases), and the rule it serves: every chain the lowering fuses
// is one the row kernels plan and run, over the awkward shapes of the kernel tests; shapes they refuse stay unfused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { convKind } from '../../src/ops/conv-kind.js';
import type { Conv2DParams } from '../../src/ops/conv2d.js';
import type { PaddingMode } from '../../src/ops/geometry.js';
import { lowerModel } from '../../src/graph/lower.js';
import { Model } from '../../src/graph/model.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { chainSpecOf, planChain } from '../../src/backend/wasm/kernels/chain.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { Add, input } from '../../src/nn/core.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { ReLU6 } from '../../src/nn/activation.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';

enableWasmFeatures();

const geometry = (strides: number, padding: Conv2DParams['padding'], groups: number, dilation = 1): Conv2DParams => ({ strides: [strides, strides], dilations: [dilation, dilation], padding, groups });
const NONE = [0, 0, 0, 0] as const;
const ONE = [1, 1, 1, 1] as const;

describe('convKind', () => {
  const cases: [string, number[], Conv2DParams, string][] = [
    ['1×1, stride 1, unpadded', [1, 1, 16, 96], geometry(1, NONE, 1), 'pointwise'],
    ['1×1 dilated 2 (one tap: still a matrix product)', [1, 1, 16, 96], geometry(1, NONE, 1, 2), 'pointwise'],
    ['1×1, stride 2 (ResNet projection)', [1, 1, 16, 32], geometry(2, NONE, 1), 'standard'],
    ['1×1, padded', [1, 1, 16, 32], geometry(1, ONE, 1), 'standard'],
    ['3×3 stem on a grey image, 1 → 16', [3, 3, 1, 16], geometry(2, ONE, 1), 'standard'],
    ['3×3 depthwise, 32 channels', [3, 3, 1, 32], geometry(1, ONE, 32), 'depthwise'],
    ['5×5 depthwise, stride 2, dilated', [5, 5, 1, 7], geometry(2, NONE, 7, 2), 'depthwise'],
    ['3×3 on one channel to one channel (groups 1)', [3, 3, 1, 1], geometry(1, ONE, 1), 'depthwise'],
    ['3×3 depthwise with depth multiplier 2', [3, 3, 1, 16], geometry(1, ONE, 8), 'grouped'],
    ['3×3, 2 groups of 4 channels', [3, 3, 4, 8], geometry(1, ONE, 2), 'grouped'],
    ['1×1, 2 groups (ShuffleNet)', [1, 1, 4, 8], geometry(1, NONE, 2), 'grouped'],
  ];
  for (const [title, kernelShape, p, kind] of cases) it(`${title}: ${kind}`, () => assert.equal(convKind(kernelShape, p), kind));
});

interface Block {
  size: [number, number];
  cin: number;
  hidden: number;
  cout: number;
  stride: number;
  padding: PaddingMode;
  residual?: boolean;
  expand?: boolean;
  stem?: { cin: number; padding: PaddingMode };
  depthMultiplier?: number;
  dilation?: number;
  /** Geometry of the project 1×1 (default stride 1, unpadded). */
  project?: { strides?: number; padding?: PaddingMode };
}

/** [stem] [expand 1×1] → depthwise 3×3 → project 1×1 (+ the block's input), each conv followed by BatchNorm and (not the project) ReLU6. */
function blockModel(c: Block): Model {
  const x = input([...c.size, c.stem ? c.stem.cin : c.cin]);
  const bn = (t: SymbolicTensor, name: string, relu6 = true): SymbolicTensor => {
    const y = new BatchNormalization(`${name}_bn`).apply(t);
    return relu6 ? new ReLU6(`${name}_relu`).apply(y) : y;
  };
  let y = x;
  if (c.stem) y = bn(new Conv2D('stem', { filters: c.cin, kernelSize: 3, strides: 2, padding: c.stem.padding }).apply(y), 'stem');
  const block = y;
  if (c.expand !== false) y = bn(new Conv2D('expand', { filters: c.hidden, kernelSize: 1 }).apply(y), 'expand');
  y = bn(new DepthwiseConv2D('depthwise', { kernelSize: 3, strides: c.stride, padding: c.padding, depthMultiplier: c.depthMultiplier, dilations: c.dilation }).apply(y), 'depthwise');
  y = bn(new Conv2D('project', { filters: c.cout, kernelSize: 1, strides: c.project?.strides, padding: c.project?.padding }).apply(y), 'project', false);
  if (c.residual) y = new Add('add').apply([block, y]);
  const model = new Model(x, y, { seed: 9 });
  randomiseBatchNorm(model);
  return model;
}

const noSimd = WasmEngine.supported() ? false : 'WebAssembly SIMD is not supported by this runtime';

/** Lowers the block: its chains must be ones the row kernels plan; the engine's output must match the layers'. */
async function check(c: Block, chains: number): Promise<void> {
  const model = blockModel(c);
  const plan = lowerModel(model);
  const fused = plan.steps.flatMap((s) => (s.op === 'chain' ? [s] : []));
  assert.equal(fused.length, chains, `chains in ${plan.steps.map((s) => s.op).join(', ')}`);
  for (const step of fused) assert.doesNotThrow(() => planChain(chainSpecOf(step)), `chain ${step.layers.join(' → ')}`);
  const x = randomBatch([2, ...model.inputShape], 4);
  const expected = model.predict(x);
  assertClose(runPlanReference(plan, x, model.outputShape), expected, 1e-5, 'plan');
  if (noSimd) return;
  const engine = await WasmEngine.create(model);
  try {
    assertClose(engine.predict(x), expected, 1e-4, 'wasm engine');
  } finally {
    await engine.dispose();
  }
}

describe('fused chains are ones the row kernels take', () => {
  const fused: [string, Block][] = [
    ['5×5, 5 → 30 → 5, stride 1 torch, residual', { size: [5, 5], cin: 5, hidden: 30, cout: 5, stride: 1, padding: 'torch', residual: true }],
    ['6×6, 5 → 30 → 7, stride 2 torch', { size: [6, 6], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'torch' }],
    ['8×8, 5 → 30 → 7, stride 2 same [0, 1, 0, 1]', { size: [8, 8], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'same' }],
    ['odd 7×9, 8 → 48 → 12, stride 2 same', { size: [7, 9], cin: 8, hidden: 48, cout: 12, stride: 2, padding: 'same' }],
    ['7×1 column, 5 → 30 → 5, stride 1, residual', { size: [7, 1], cin: 5, hidden: 30, cout: 5, stride: 1, padding: 'torch', residual: true }],
    ['5×2, 3 → 18 → 7, stride 2 torch', { size: [5, 2], cin: 3, hidden: 18, cout: 7, stride: 2, padding: 'torch' }],
    ['1×1, 5 → 30 → 7, stride 2 torch', { size: [1, 1], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'torch' }],
    ['expansion 1: 9×7, 13 → 7, stride 1', { size: [9, 7], cin: 13, hidden: 13, cout: 7, stride: 1, padding: 'torch', expand: false }],
    ['expansion 1: 6×5, 7 → 7, stride 1, residual', { size: [6, 5], cin: 7, hidden: 7, cout: 7, stride: 1, padding: 'torch', expand: false, residual: true }],
    ['stem RGB 11×9 → 8 (torch), expansion 1, → 5', { size: [11, 9], stem: { cin: 3, padding: 'torch' }, cin: 8, hidden: 8, cout: 5, stride: 1, padding: 'torch', expand: false }],
    ['stem grey 10×12 → 6 (same), expand → 30, stride 2 → 7', { size: [10, 12], stem: { cin: 1, padding: 'same' }, cin: 6, hidden: 30, cout: 7, stride: 2, padding: 'torch' }],
    ['stem RGB 3×2 → 5 (torch), expand → 30, stride 1 → 7', { size: [3, 2], stem: { cin: 3, padding: 'torch' }, cin: 5, hidden: 30, cout: 7, stride: 1, padding: 'torch' }],
    ['dilated depthwise (rate 2), 9×9, 5 → 30 → 5, residual', { size: [9, 9], cin: 5, hidden: 30, cout: 5, stride: 1, padding: [2, 2, 2, 2], dilation: 2, residual: true }],
  ];
  for (const [title, c] of fused) it(`${title}: one chain`, () => check(c, 1));

  const refused: [string, Block][] = [
    ['depth multiplier 2 (a grouped conv)', { size: [6, 6], cin: 5, hidden: 10, cout: 7, stride: 1, padding: 'torch', depthMultiplier: 2 }],
    ['padded 1×1 projection (a standard conv)', { size: [6, 6], cin: 5, hidden: 30, cout: 7, stride: 1, padding: 'torch', project: { padding: [1, 1, 1, 1] } }],
    ['stride-2 1×1 projection (a standard conv)', { size: [6, 6], cin: 5, hidden: 30, cout: 7, stride: 1, padding: 'torch', project: { strides: 2 } }],
  ];
  for (const [title, c] of refused) it(`${title}: no chain`, () => check(c, 0));
});
