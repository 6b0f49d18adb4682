// Optimizers, learning-rate schedules and gradient clipping: one step of each golden optimizer (PyTorch SGD and
// RMSprop, TF1 RMSProp) on the tiny MobileNetV2, plus hand-worked scalar cases for everything else.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { clipGradNorm, clipGradValue, globalNorm } from '../../src/train/clip.js';
import type { Optimizer } from '../../src/train/optimizers.js';
import { Adam, AdamW, RMSProp, RMSPropTF1, SGD, createOptimizer, paramInfo } from '../../src/train/optimizers.js';
import { constantSchedule, cosineDecay, exponentialDecay, stepDecay, withWarmup } from '../../src/train/schedules.js';
import { GOLDEN, goldenTensors, relativeError } from '../support/helpers.js';

const TRAIN = 'train/mnv2_035_32_c10';
/** float32 rounding of an element-wise update, relative to max(1, max|expected|) per tensor. */
const TOL = 1e-6;

const caseInfo = JSON.parse(readFileSync(join(GOLDEN, TRAIN, 'case.json'), 'utf8')) as {
  sgd: { lr: number; momentum: number; weight_decay: number; dampening: number; nesterov: boolean };
  rmsprop: { lr: number; alpha: number; eps: number; momentum: number; weight_decay: number; centered: boolean };
};

/** The trained parameters (those with a gradient) of weights_init, copied, with their gradients; torch names. */
function goldenStart(): { params: Map<string, Tensor>; grads: Map<string, Tensor> } {
  const init = goldenTensors(`models/mnv2_035_32_c10/weights.safetensors`) /* byte-identical to the train case's weights_init */;
  const grads = goldenTensors(`${TRAIN}/grads.safetensors`);
  const params = new Map([...grads.keys()].map((k) => [k, init.get(k)!.clone()]));
  return { params, grads };
}

/** Largest per-tensor relative error over `names`, asserting each is within TOL. */
function worstError(actual: (name: string) => Tensor, expected: Map<string, Tensor>, names: Iterable<string>, what: string): number {
  let worst = 0;
  for (const name of names) {
    const err = relativeError(actual(name), expected.get(name)!);
    assert.ok(err <= TOL, `${what} ${name}: error ${err.toExponential(3)} > ${TOL}`);
    worst = Math.max(worst, err);
  }
  return worst;
}

function scalar(v: number): Tensor {
  return new Tensor([1], Float32Array.of(v));
}

/** Runs `optimizer` on a single scalar weight starting at 1 with the given gradients and learning rates. */
function scalarRun(optimizer: Optimizer, grads: number[], lrs: number | number[]): number[] {
  const w = scalar(1);
  const params = new Map([['w', w]]);
  return grads.map((g, i) => {
    optimizer.step(params, new Map([['w', scalar(g)]]), Array.isArray(lrs) ? lrs[i] : lrs);
    return w.data[0];
  });
}

function assertNear(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `value ${i}: ${a} vs ${expected[i]}`));
}

describe('golden optimizer steps (torch 1.13 oracle, tiny MobileNetV2)', () => {
  it('SGD(lr 0.1, momentum 0.9, weight decay 4e-5): weights and momentum buffers', () => {
    const { sgd } = caseInfo;
    const { params, grads } = goldenStart();
    const optimizer = new SGD({ momentum: sgd.momentum, dampening: sgd.dampening, nesterov: sgd.nesterov, weightDecay: sgd.weight_decay });
    optimizer.step(params, grads, sgd.lr);
    const after = goldenTensors(`${TRAIN}/weights_after_sgd.safetensors`);
    const buffers = goldenTensors(`${TRAIN}/sgd_state.safetensors`);
    const state = optimizer.state();
    assert.equal(state.size, grads.size);
    const w = worstError((n) => params.get(n)!, after, grads.keys(), 'weights');
    const s = worstError((n) => state.get(`${n}.momentum_buffer`)!, buffers, grads.keys(), 'momentum_buffer');
    console.log(`SGD vs golden: weights ${w.toExponential(2)}, momentum buffers ${s.toExponential(2)}`);
  });

  it('torch RMSprop(lr 0.01, alpha 0.9, eps 1, momentum 0.9): weights, square_avg and momentum_buffer', () => {
    const { rmsprop } = caseInfo;
    const { params, grads } = goldenStart();
    const optimizer = new RMSProp({ alpha: rmsprop.alpha, eps: rmsprop.eps, momentum: rmsprop.momentum, centered: rmsprop.centered, weightDecay: rmsprop.weight_decay });
    optimizer.step(params, grads, rmsprop.lr);
    const after = goldenTensors(`${TRAIN}/weights_after_rmsprop.safetensors`);
    const expectedState = goldenTensors(`${TRAIN}/rmsprop_state.safetensors`);
    const state = optimizer.state();
    // our slot names are PyTorch's, so the oracle's state file compares name for name
    assert.deepEqual([...state.keys()].sort(), [...expectedState.keys()].sort());
    const w = worstError((n) => params.get(n)!, after, grads.keys(), 'weights');
    const s = worstError((n) => state.get(n)!, expectedState, expectedState.keys(), 'state');
    console.log(`torch RMSprop vs golden: weights ${w.toExponential(2)}, state ${s.toExponential(2)}`);
  });

  it('TF1 RMSProp (mean square from ones, eps inside the root, lr in the momentum): weights', () => {
    // the oracle: ms = 0.9·1 + 0.1g², mom = lr·g/√(ms + eps) (momentum slot from zero), w −= mom; same lr and eps as torch's
    const { rmsprop } = caseInfo;
    const { params, grads } = goldenStart();
    const optimizer = new RMSPropTF1({ decay: rmsprop.alpha, momentum: rmsprop.momentum, epsilon: rmsprop.eps });
    optimizer.step(params, grads, rmsprop.lr);
    const after = goldenTensors(`${TRAIN}/weights_after_rmsprop_tf1style.safetensors`);
    const w = worstError((n) => params.get(n)!, after, grads.keys(), 'weights');
    console.log(`TF1 RMSProp vs golden: weights ${w.toExponential(2)}`);
    // and it is a different optimizer from torch's: the two golden results differ by far more than rounding
    const torchAfter = goldenTensors(`${TRAIN}/weights_after_rmsprop.safetensors`);
    const gap = Math.max(...[...grads.keys()].map((n) => relativeError(params.get(n)!, torchAfter.get(n)!)));
    assert.ok(gap > 1e-3, `TF1 and torch RMSProp should differ, gap ${gap}`);
  });
});

describe('SGD, RMSProp, Adam on a scalar (hand-worked)', () => {
  it('SGD with Nesterov momentum', () => {
    // lr 0.1, μ 0.9, g = 1 then 0.5:
    // step 1: buf = g = 1;           d = g + μ·buf = 1.9;  w = 1 − 0.19 = 0.81
    // step 2: buf = 0.9 + 0.5 = 1.4; d = 0.5 + 1.26 = 1.76; w = 0.81 − 0.176 = 0.634
    assertNear(scalarRun(new SGD({ momentum: 0.9, nesterov: true }), [1, 0.5], 0.1), [0.81, 0.634]);
  });

  it('SGD with dampening starts the buffer undampened, as PyTorch', () => {
    // μ 0.9, dampening 0.5: buf = 1 → w = 0.9; buf = 0.9·1 + 0.5·0.5 = 1.15 → w = 0.9 − 0.115 = 0.785
    assertNear(scalarRun(new SGD({ momentum: 0.9, dampening: 0.5 }), [1, 0.5], 0.1), [0.9, 0.785]);
    assert.throws(() => new SGD({ momentum: 0, nesterov: true }), ConfigError);
  });

  it('torch RMSprop, centred, without momentum', () => {
    // α 0.9, eps 1e-8, g = 1: v = 0.1, ḡ = 0.1, v − ḡ² = 0.09, √ = 0.3; w = 1 − 0.01·1/0.3 = 0.966667
    assertNear(scalarRun(new RMSProp({ alpha: 0.9, eps: 1e-8, centered: true }), [1], 0.01), [1 - 0.01 / 0.3]);
  });

  it('TF1 RMSProp folds the learning rate into the momentum', () => {
    // ρ 0.9, μ 0.9, eps 0, g = 1 twice, lr 0.01 then 0.02; ms starts at 1 and stays 0.9·1 + 0.1·1 = 1:
    // step 1: mom = 0.01·1/1 = 0.01 → w = 0.99;  step 2: mom = 0.9·0.01 + 0.02 = 0.029 → w = 0.961
    // (torch's convention would give w = 0.99 − 0.02·(0.9·1 + 1) = 0.952 at step 2: lr scales the whole buffer there)
    assertNear(scalarRun(new RMSPropTF1({ decay: 0.9, momentum: 0.9, epsilon: 0 }), [1, 1], [0.01, 0.02]), [0.99, 0.961]);
    // centred: ms = 1, mg = 0.1, ms − mg² + eps = 0.99 → w = 1 − 0.01/√0.99
    assertNear(scalarRun(new RMSPropTF1({ epsilon: 0, centered: true }), [1], 0.01), [1 - 0.01 / Math.sqrt(0.99)]);
  });

  it('Adam: three steps with bias correction', () => {
    // lr 0.1, β 0.9/0.999, eps 1e-8, g = 1, 0.5, −2:
    // step 1: m̂ = 1, v̂ = 1 → w = 1 − 0.1 = 0.9 (every first Adam step moves by lr)
    // step 2: m = 0.14, v = 0.001249; m̂ = 0.14/0.19 = 0.7368421, v̂ = 0.001249/0.001999 = 0.6248124, √v̂ = 0.7904508
    //         → w = 0.9 − 0.1·0.9321796 = 0.8067820
    // step 3: m = −0.074, v = 0.005247751; m̂ = −0.074/0.271 = −0.2730627, √(v/0.002997001) = 1.3232538
    //         → w = 0.8067820 + 0.1·0.2063570 = 0.8274177
    assertNear(scalarRun(new Adam(), [1, 0.5, -2], 0.1), [0.9, 0.806782, 0.8274177]);
  });

  it('Adam couples weight decay into the gradient; AdamW decays the weight directly', () => {
    // Adam, wd 0.1: d₁ = 1 + 0.1·1 = 1.1 → w = 0.9 (still lr); d₂ = 0.5 + 0.09 = 0.59, m = 0.158, v = 0.00155689
    //   → w = 0.9 − 0.1·(0.158/0.19)/√(0.00155689/0.001999) = 0.9 − 0.1·0.9422820 = 0.8057718
    assertNear(scalarRun(new Adam({ weightDecay: 0.1 }), [1, 0.5], 0.1), [0.9, 0.8057718]);
    // AdamW, wd 0.1: w = 1·(1 − 0.01) − 0.1 = 0.89; w = 0.89·0.99 − 0.1·0.9321796 = 0.8811 − 0.0932180 = 0.7878820
    assertNear(scalarRun(new AdamW({ weightDecay: 0.1 }), [1, 0.5], 0.1), [0.89, 0.787882]);
    assert.equal(new AdamW().config().weightDecay, 0.01);
  });

  it('createOptimizer builds each kind by name', () => {
    assert.ok(createOptimizer({ kind: 'sgd', momentum: 0.9 }) instanceof SGD);
    assert.ok(createOptimizer({ kind: 'rmsprop-tf1' }) instanceof RMSPropTF1);
    assert.equal(createOptimizer({ kind: 'adamw' }).kind, 'adamw');
    assert.throws(() => createOptimizer({ kind: 'lamb' } as never), ConfigError);
  });
});

describe('optimizer contracts', () => {
  it('state saved through safetensors resumes bit-exactly', () => {
    const make = (): Map<string, Tensor> => new Map([['a.kernel', new Tensor([2, 3], Float32Array.from([0.5, -1, 2, 0.25, 3, -0.75]))], ['a.bias', new Tensor([3], Float32Array.of(0.1, 0.2, -0.3))]]);
    const gradAt = (k: number): Map<string, Tensor> => new Map([...make()].map(([n, t]) => [n, new Tensor(t.shape, t.data.map((v, i) => Math.sin(v * (k + 1) + i)))]));
    for (const build of [() => new SGD({ momentum: 0.9, nesterov: true }), () => new RMSProp({ momentum: 0.9, centered: true }), () => new RMSPropTF1({ centered: true }), () => new AdamW()]) {
      const straight = build();
      const params = make();
      for (let k = 0; k < 3; k++) straight.step(params, gradAt(k), 0.01);

      const first = build();
      const resumedParams = make();
      for (let k = 0; k < 2; k++) first.step(resumedParams, gradAt(k), 0.01);
      const saved = decodeSafetensors(encodeSafetensors(first.state())).tensors;
      const resumed = build();
      resumed.loadState(saved);
      resumed.step(resumedParams, gradAt(2), 0.01);
      for (const [n, t] of params) assert.deepEqual(resumedParams.get(n)!.data, t.data, `${straight.kind} ${n}`);
      assert.deepEqual(resumed.state(), straight.state());
    }
  });

  it('rejects foreign state, mismatched gradients and bad learning rates; skips parameters without a gradient', () => {
    const sgd = new SGD({ momentum: 0.9 });
    assert.throws(() => sgd.loadState(new Map([['w.exp_avg', scalar(0)]])), ConfigError);
    const w = scalar(1);
    const frozen = scalar(1);
    const params = new Map([['w', w], ['frozen', frozen]]);
    assert.throws(() => sgd.step(params, new Map([['w', new Tensor([2])]]), 0.1), ShapeError);
    assert.throws(() => sgd.step(params, new Map([['nope', scalar(1)]]), 0.1), ConfigError);
    assert.throws(() => sgd.step(params, new Map([['w', scalar(1)]]), Number.NaN), ConfigError);
    sgd.loadState(new Map([['w.momentum_buffer', new Tensor([2])]]));
    assert.throws(() => sgd.step(params, new Map([['w', scalar(1)]]), 0.1), ShapeError);
    sgd.loadState(new Map());
    const grad = scalar(1);
    sgd.step(params, new Map([['w', grad]]), 0.1);
    assert.equal(frozen.data[0], 1);
    assert.equal(grad.data[0], 1, 'gradients are not written');
    assert.deepEqual([...sgd.state().keys()], ['w.momentum_buffer']);
  });
});

describe('weight-decay exclusions', () => {
  const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
  const info = paramInfo(model);

  it('paramInfo lists every trained parameter, without BN moving statistics', () => {
    assert.equal(info.size, 158); // the torchvision state dict's weights and biases
    assert.ok([...info.values()].every((p) => p.role !== 'movingMean' && p.role !== 'movingVariance'));
    assert.ok([...info.values()].some((p) => p.layerKind === 'DepthwiseConv2D' && p.role === 'kernel'));
  });

  it('excluded parameters are not decayed, the rest are', () => {
    // zero gradients, lr 1, wd 0.5, plain SGD: a decayed weight halves, an excluded one stays
    const weights = model.weights();
    const params = new Map([...info.keys()].map((n) => [n, new Tensor(weights.get(n)!.shape, new Float32Array(weights.get(n)!.size).fill(2))]));
    const grads = new Map([...params].map(([n, t]) => [n, new Tensor(t.shape)]));
    new SGD({ weightDecay: 0.5, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true, paramInfo: info }).step(params, grads, 1);
    const seen = new Set<string>();
    for (const [name, p] of info) {
      const excluded = p.role === 'gamma' || p.role === 'beta' || p.role === 'bias' || p.layerKind === 'DepthwiseConv2D';
      seen.add(`${p.layerKind}.${p.role}:${excluded}`);
      assert.equal(params.get(name)!.data[0], excluded ? 2 : 1, name);
    }
    assert.deepEqual([...seen].sort(), ['BatchNormalization.beta:true', 'BatchNormalization.gamma:true', 'Conv2D.kernel:false', 'Dense.bias:true', 'Dense.kernel:false', 'DepthwiseConv2D.kernel:true']);

    // one switch at a time, with AdamW's decoupled decay (zero gradient: w *= 1 − lr·wd only)
    const only = (n: string): Map<string, Tensor> => new Map([[n, new Tensor([1], Float32Array.of(2))]]);
    const gamma = [...info].find(([, p]) => p.role === 'gamma')![0];
    const bias = [...info].find(([, p]) => p.role === 'bias')![0];
    const kernel = [...info].find(([, p]) => p.layerKind === 'Conv2D')![0];
    for (const [name, options, expected] of [
      [gamma, { excludeBias: true }, 1],
      [gamma, { excludeBatchNorm: true }, 2],
      [bias, { excludeBatchNorm: true }, 1],
      [kernel, { excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true }, 1],
    ] as const) {
      const p = only(name);
      new AdamW({ weightDecay: 0.5, paramInfo: info, ...options }).step(p, new Map([[name, new Tensor([1])]]), 1);
      assert.equal(p.get(name)!.data[0], expected, `${name} ${JSON.stringify(options)}`);
    }
  });

  it('exclusions without paramInfo for a parameter are an error', () => {
    assert.throws(() => new SGD({ weightDecay: 1e-4, excludeBias: true }).step(new Map([['w', scalar(1)]]), new Map([['w', scalar(1)]]), 0.1), /paramInfo/);
    // without exclusions no paramInfo is needed
    new SGD({ weightDecay: 1e-4 }).step(new Map([['w', scalar(1)]]), new Map([['w', scalar(1)]]), 0.1);
  });
});

describe('learning-rate schedules', () => {
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

  it('exponential per epoch (the paper: 0.045 · 0.98^epoch), continuous or staircase', () => {
    const smooth = exponentialDecay({ lr: 0.045, gamma: 0.98 });
    const stairs = exponentialDecay({ lr: 0.045, gamma: 0.98, staircase: true });
    close(smooth(0, 0, 100), 0.045);
    close(smooth(150, 1, 100), 0.045 * 0.98 ** 1.5); // 0.0436568
    close(stairs(150, 1, 100), 0.045 * 0.98);
    close(stairs(299, 2, 100), 0.045 * 0.9604);
    close(exponentialDecay({ lr: 1, gamma: 0.94, everyEpochs: 2, staircase: true })(0, 3, 10), 0.94);
    close(constantSchedule(0.1)(12345, 7, 10), 0.1);
  });

  it('step decay, every N epochs or at milestones', () => {
    const every = stepDecay({ lr: 0.1, gamma: 0.1, everyEpochs: 30 });
    close(every(0, 29, 10), 0.1);
    close(every(0, 30, 10), 0.01);
    close(every(0, 65, 10), 0.001);
    const milestones = stepDecay({ lr: 0.1, gamma: 0.5, milestones: [3, 6] });
    assert.deepEqual([2, 3, 5, 6, 9].map((e) => milestones(0, e, 10)), [0.1, 0.05, 0.05, 0.025, 0.025]);
    assert.throws(() => stepDecay({ lr: 0.1, gamma: 0.1 }), ConfigError);
    assert.throws(() => stepDecay({ lr: 0.1, gamma: 0.1, milestones: [5, 3] }), ConfigError);
  });

  it('cosine to a floor, per step', () => {
    const cosine = cosineDecay({ lr: 0.1, epochs: 10, floor: 0.001 });
    close(cosine(0, 0, 100), 0.1);
    close(cosine(250, 2, 100), 0.001 + 0.099 * (1 + Math.SQRT1_2) / 2); // a quarter through: 0.0855018
    close(cosine(500, 5, 100), 0.0505);
    close(cosine(1000, 10, 100), 0.001);
    close(cosine(5000, 50, 100), 0.001);
  });

  it('linear warm-up over any schedule', () => {
    // 2 epochs of 5 steps: W = 10 steps at (step + 1)/10 of the cosine, then the cosine itself on its own clock
    const cosine = cosineDecay({ lr: 0.1, epochs: 10 });
    const warm = withWarmup(cosine, { epochs: 2 });
    close(warm(0, 0, 5), 0.1 * 0.1);
    close(warm(4, 0, 5), cosine(4, 0, 5) * 0.5);
    close(warm(9, 1, 5), cosine(9, 1, 5));
    close(warm(10, 2, 5), cosine(10, 2, 5));
    const fromHalf = withWarmup(exponentialDecay({ lr: 0.045, gamma: 0.98, staircase: true }), { epochs: 1, startFactor: 0.5 });
    close(fromHalf(0, 0, 4), 0.045 * (0.5 + 0.5 * 0.25));
    close(fromHalf(4, 1, 4), 0.045 * 0.98);
    assert.throws(() => warm(0, 0, 0), ConfigError);
  });
});

describe('gradient clipping', () => {
  it('by global norm, as torch.nn.utils.clip_grad_norm_', () => {
    const grads = (): Map<string, Tensor> => new Map([['a', new Tensor([2], Float32Array.of(3, 0))], ['b', scalar(4)]]);
    const g = grads();
    assert.equal(globalNorm(g), 5);
    assert.equal(clipGradNorm(g, 1), 5); // returns the norm before clipping
    const scale = 1 / (5 + 1e-6);
    assert.deepEqual([...g.get('a')!.data, ...g.get('b')!.data], [Math.fround(3 * scale), 0, Math.fround(4 * scale)]);
    const untouched = grads();
    clipGradNorm(untouched, 10);
    assert.deepEqual([...untouched.get('a')!.data, untouched.get('b')!.data[0]], [3, 0, 4]);
    const broken = new Map([['a', new Tensor([2], Float32Array.of(Number.NaN, 1))]]);
    assert.ok(Number.isNaN(clipGradNorm(broken, 1)));
    assert.equal(broken.get('a')!.data[1], 1, 'a non-finite norm leaves the gradients for the caller to inspect');
  });

  it('by value', () => {
    const t = new Tensor([4], Float32Array.of(3, -4, 1, -1.5));
    assert.equal(clipGradValue([t], 1.5), 2);
    assert.deepEqual([...t.data], [1.5, -1.5, 1, -1.5]);
    assert.throws(() => clipGradValue([t], 0), ConfigError);
  });
});
