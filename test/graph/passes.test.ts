// Each lowering pass against the reference runner of plans: the plan before and after the pass give the same
// outputs on random inputs (within float tolerance where it changes arithmetic), and the pass does what it says.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { lowerLayers } from '../../src/graph/lower.js';
import type { Plan } from '../../src/graph/plan.js';
import { Model } from '../../src/graph/model.js';
import { foldBatchNorm } from '../../src/graph/passes/fold-batch-norm.js';
import { fuseChains } from '../../src/graph/passes/fuse-chains.js';
import { fuseClamp } from '../../src/graph/passes/fuse-clamp.js';
import { fuseResidual } from '../../src/graph/passes/fuse-residual.js';
import { globalizeWholeWindowPools } from '../../src/graph/passes/globalize-whole-window-pools.js';
import { mergePadding } from '../../src/graph/passes/merge-padding.js';
import { ReLU, ReLU6 } from '../../src/nn/activation.js';
import { Conv2D, DepthwiseConv2D } from '../../src/nn/conv.js';
import { Add, Dense, Dropout, Flatten, ZeroPadding2D, input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import { AveragePooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import type { SymbolicTensor } from '../../src/graph/symbolic.js';

type Pass = (plan: Plan) => Plan;

const ops = (plan: Plan): string[] => plan.steps.map((s) => s.op);
const count = (plan: Plan, op: string): number => plan.steps.filter((s) => s.op === op).length;
/** Every tensor a step or the plan reads is one the plan lists, written before it is read. */
function checkWiring(plan: Plan): void {
  const written = new Set([plan.input]);
  plan.tensors.forEach((t, i) => assert.equal(t.id, i, `tensor ${i} numbered ${t.id}`));
  for (const s of plan.steps) {
    for (const t of s.inputs) assert.ok(written.has(t), `${s.op} ${s.layers[0]} reads tensor ${t} before any step writes it`);
    written.add(s.output);
  }
  for (const t of plan.outputs) assert.ok(written.has(t));
}

/** The plan as text, weights included; a 'layer' step's layer by its name. */
const serialized = (plan: Plan): string => JSON.stringify(plan, (key, v: unknown) => (v instanceof Float32Array ? [...v] : key === 'layer' ? (v as { name: string }).name : v));

/**
 * Lowers `model` to plain steps, runs the passes in `before`, then `pass`: returns the plan before and after it,
 * after checking that both give the same outputs (and the pass left its input as it was).
 */
function applied(model: Model, before: readonly Pass[], pass: Pass, tol: number): { before: Plan; after: Plan } {
  const plan = before.reduce((p, f) => f(p), lowerLayers(model));
  const snapshot = serialized(plan);
  const after = pass(plan);
  assert.equal(serialized(plan), snapshot, 'the pass changed its input plan');
  checkWiring(after);
  const x = randomBatch([3, ...model.inputShape], 7);
  const expected = runPlanReference(plan, x, model.outputShape);
  assertClose(runPlanReference(after, x, model.outputShape), expected, tol, 'plan after the pass vs before');
  assertClose(expected, model.predict(x), 1e-5, 'plan before the pass vs the layers');
  return { before: plan, after };
}

function built(x: SymbolicTensor, y: SymbolicTensor): Model {
  const model = new Model(x, y, { seed: 3 });
  randomiseBatchNorm(model);
  return model;
}

describe('lowering passes', () => {
  it('mergePadding: a ZeroPadding2D read only by a conv becomes its padding; one read twice stays', () => {
    const x = input([9, 8, 5]);
    const padded = new ZeroPadding2D('pad', [0, 1, 1, 0]).apply(x);
    const conv = new Conv2D('conv', { filters: 6, kernelSize: 3, strides: 2 }).apply(padded);
    const shared = new ZeroPadding2D('pad2', [1, 1, 1, 1]).apply(conv);
    const a = new Conv2D('a', { filters: 4, kernelSize: 3 }).apply(shared);
    const b = new Conv2D('b', { filters: 4, kernelSize: 3 }).apply(shared);
    const model = built(x, new Add('add').apply([a, b]));
    const { before, after } = applied(model, [], mergePadding, 1e-6);
    assert.deepEqual([count(before, 'pad'), count(after, 'pad')], [2, 1]);
    const merged = after.steps[0];
    assert.ok(merged.op === 'conv');
    assert.deepEqual([merged.layers, merged.conv.padding, merged.inShape], [['pad', 'conv'], [0, 1, 1, 0], [9, 8, 5]]);
  });

  it('foldBatchNorm: BN after a conv or dense folds into it (even two in a row); BN after a ReLU stays an affine step', () => {
    const x = input([6, 7, 3]);
    let y = new Conv2D('conv', { filters: 5, kernelSize: 3, padding: 'same' }).apply(x);
    y = new BatchNormalization('bn1').apply(y);
    y = new BatchNormalization('bn2').apply(y);
    y = new Conv2D('conv_relu', { filters: 4, kernelSize: 1, activation: 'relu' }).apply(y);
    y = new BatchNormalization('bn_after_relu').apply(y);
    y = new Dense('fc', { units: 6 }).apply(new Flatten('flat').apply(y));
    const model = built(x, new BatchNormalization('bn_fc').apply(y));
    const { before, after } = applied(model, [], foldBatchNorm, 1e-5);
    assert.deepEqual([count(before, 'affine'), count(after, 'affine')], [4, 1]);
    assert.deepEqual(after.steps.map((s) => s.layers), [['conv', 'bn1', 'bn2'], ['conv_relu'], ['bn_after_relu'], ['fc', 'bn_fc']]);
    assert.equal(after.tensors.length, before.tensors.length - 3);
    assert.equal(after.tensors[after.outputs[0]].name, 'bn_fc');
  });

  it('foldBatchNorm counts readers per plan tensor: a conv read through a view and directly keeps its own output', () => {
    const x = input([5, 5, 3]);
    const conv = new Conv2D('conv', { filters: 4, kernelSize: 3 }).apply(x);
    const normed = new BatchNormalization('bn').apply(new Dropout('drop', 0.5).apply(conv));
    const model = built(x, new Add('add').apply([conv, normed]));
    const { after } = applied(model, [], foldBatchNorm, 1e-6);
    assert.deepEqual(ops(after), ['conv', 'affine', 'add']);
  });

  it('fuseClamp: ReLU6 and ReLU join the conv or dense before them; a second clamp stays', () => {
    const x = input([5, 5, 4]);
    let y = new ReLU6('relu6').apply(new Conv2D('conv', { filters: 8, kernelSize: 3 }).apply(x));
    y = new ReLU('again').apply(y);
    y = new Dense('fc', { units: 3 }).apply(new Flatten('flat').apply(y));
    const model = built(x, new ReLU('fc_relu').apply(y));
    const { after } = applied(model, [], fuseClamp, 0);
    assert.deepEqual(ops(after), ['conv', 'clamp', 'dense']);
    assert.deepEqual(after.steps.map((s) => s.layers), [['conv', 'relu6'], ['again'], ['fc', 'fc_relu']]);
    const conv = after.steps[0];
    assert.ok(conv.op === 'conv' && conv.clamp?.[1] === 6);
  });

  it('fuseResidual: x + f(x) becomes the residual of f\'s last conv; a clamped operand does not take it', () => {
    const x = input([6, 6, 8]);
    const stem = new Conv2D('stem', { filters: 8, kernelSize: 1 }).apply(x);
    const branch = new Conv2D('branch', { filters: 8, kernelSize: 3, padding: 'same' }).apply(stem);
    let y = new ReLU('relu').apply(new Add('add').apply([stem, branch]));
    const clamped = new Conv2D('clamped', { filters: 8, kernelSize: 1, activation: 'relu6' }).apply(y);
    y = new Add('add2').apply([clamped, new ReLU6('relu6').apply(y)]);
    const model = built(x, y);
    const { after } = applied(model, [fuseClamp], fuseResidual, 0);
    const fused = after.steps.find((s) => s.layers.includes('add'));
    assert.ok(fused?.op === 'conv' && fused.layers[0] === 'branch' && fused.residual === fused.inputs[1]);
    assert.equal(count(after, 'add'), 1);
    // the ReLU after the add joins the conv the add went into when clamps fuse again
    assert.deepEqual(fuseClamp(after).steps.find((s) => s.layers.includes('add'))?.layers, ['branch', 'add', 'relu']);
  });

  it('globalizeWholeWindowPools: one unpadded window over the whole image is a global pool; a partial or padded one stays', () => {
    const x = input([5, 6, 7]);
    const conv = new Conv2D('conv', { filters: 7, kernelSize: 1 }).apply(x);
    const avg = new AveragePooling2D('avg', { poolSize: [5, 6] }).apply(conv);
    const max = new MaxPooling2D('max', { poolSize: [5, 6], strides: 3 }).apply(conv);
    const partial = new AveragePooling2D('partial', { poolSize: [5, 5] }).apply(conv);
    const padded = new MaxPooling2D('padded', { poolSize: [5, 6], padding: [0, 0, 1, 0] }).apply(conv);
    const model = built(x, new Flatten('flat').apply(new Concatenate('joined', 1, 4).apply([avg, max, partial, padded])));
    const { after } = applied(model, [], globalizeWholeWindowPools, 1e-6);
    assert.deepEqual(['avg', 'max', 'partial', 'padded'].map((n) => after.steps.find((s) => s.layers.includes(n))?.op), ['globalAvgPool', 'globalMaxPool', 'avgPool', 'maxPool']);
  });

  it('fuseChains: the stem and each expand → depthwise → project (+ residual) become chains', () => {
    const x = input([9, 8, 3]);
    let y = new Conv2D('stem', { filters: 8, kernelSize: 3, strides: 2, padding: 'torch', activation: 'relu6' }).apply(x);
    y = new DepthwiseConv2D('dw0', { kernelSize: 3, padding: 'torch', activation: 'relu6' }).apply(y);
    y = new Conv2D('project0', { filters: 8, kernelSize: 1 }).apply(y);
    let z = new Conv2D('expand1', { filters: 24, kernelSize: 1, activation: 'relu6' }).apply(y);
    z = new DepthwiseConv2D('dw1', { kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(z);
    z = new Conv2D('project1', { filters: 8, kernelSize: 1 }).apply(z);
    const model = built(x, new Add('add1').apply([y, z]));
    const { after } = applied(model, [fuseResidual], fuseChains, 0);
    assert.deepEqual(ops(after), ['chain', 'chain']);
    assert.deepEqual(after.steps.map((s) => s.layers), [['stem', 'dw0', 'project0'], ['expand1', 'dw1', 'project1', 'add1']]);
    assert.deepEqual(after.steps[1].inputs, [after.steps[0].output, after.steps[0].output]);
  });
});
