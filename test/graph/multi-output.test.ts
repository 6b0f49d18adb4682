// Models with several named outputs (an SSD-like detector: a tap of a block's expansion, two heads per map reshaped
// and concatenated): predictOutputs, the plan runner and WasmEngine against a layer-by-layer reference, and training.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, randomBatch } from '../support/helpers.js';
import { numericGradient } from '../support/gradient-check.js';
import { noSimd } from '../support/wasm-modes.js';
import { CLASSES, referenceOutputs, ssdLike } from '../support/ssd-like.js';
import { lowerModel } from '../../src/graph/lower.js';
import { runPlanOutputs, runPlanReference } from '../../src/backend/plan-reference.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';
import { ConfigError } from '../../src/errors.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { kerasTopologyToModel } from '../../src/io/tfjs/keras-import.js';
import { modelToKerasTopology } from '../../src/io/tfjs/keras-export.js';

const X = randomBatch([2, 11, 9, 3], 3);

function assertOutputs(actual: Record<string, Tensor>, expected: Record<string, Tensor>, tol: number, what: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${what}: output names in order`);
  for (const [name, t] of Object.entries(expected)) {
    assert.deepEqual([...actual[name].shape], [...t.shape], `${what}: ${name} shape`);
    assertClose(actual[name], t, tol, `${what}: ${name}`);
  }
}

describe('a model with several named outputs', () => {
  const model = ssdLike();
  const expected = referenceOutputs(model, X);

  it('names its outputs in order, with per-sample shapes; predict refuses and names predictOutputs', () => {
    assert.deepEqual(model.outputNames, ['scores', 'boxes', 'tap']);
    // 6×5 map × 2 anchors + 3×3 map × 3 anchors
    assert.deepEqual(model.outputShapes, { scores: [87, CLASSES], boxes: [87, 4], tap: [6, 5, 12] });
    assert.throws(() => model.predict(X), (e: unknown) => e instanceof ConfigError && /predictOutputs/.test(e.message));
    assert.throws(() => model.forwardTrain(X), (e: unknown) => e instanceof ConfigError && /forwardTrainOutputs/.test(e.message));
  });

  it('predictOutputs equals the op-by-op reference, NHWC and NCHW (the tap comes back in the input layout)', () => {
    assertOutputs(model.predictOutputs(X), expected, 1e-6, 'predictOutputs');
    const nchw = model.predictOutputs(toLayout(X, 'NHWC', 'NCHW'), { layout: 'NCHW' });
    assertOutputs(nchw, { ...expected, tap: toLayout(expected.tap, 'NHWC', 'NCHW') }, 1e-6, 'predictOutputs NCHW');
  });

  it('the plan, fused and not, keeps every output; the tapped expansion is written by one step and read by the block and both heads', () => {
    for (const fuseBlocks of [false, true]) {
      const plan = lowerModel(model, { fuseBlocks });
      const shapes = model.outputNames.map((name) => model.outputShapes[name]);
      const outputs = runPlanOutputs(plan, X, shapes);
      assertOutputs(Object.fromEntries(model.outputNames.map((name, k) => [name, outputs[k]])), expected, 1e-5, `plan (fuseBlocks ${fuseBlocks})`);
      const tap = plan.outputs[2];
      assert.equal(plan.steps.filter((s) => s.output === tap).length, 1, 'one step writes the tap');
      assert.equal(plan.steps.filter((s) => s.inputs.includes(tap)).length, 3, 'the depthwise and the two heads read it');
      assert.throws(() => runPlanReference(plan, X, shapes[0]), ConfigError);
    }
    const chains = lowerModel(model).steps.filter((s) => s.op === 'chain');
    // the block streams from its depthwise on (the expansion is no chain stage); the separable heads are chains of their own
    assert.deepEqual(chains.map((s) => s.layers[0]), ['cls0_dw', 'depthwise', 'box0_dw']);
  });

  for (const threads of [1, 2]) {
    it(`WasmEngine, ${threads} thread(s): every output equals the reference, predict refuses`, { skip: noSimd }, async () => {
      const engine = await WasmEngine.create(model, { threads });
      try {
        assertOutputs(engine.predictOutputs(X), expected, 1e-5, `WasmEngine ${threads}`);
        const one = new Tensor([1, 11, 9, 3], X.data.slice(0, 11 * 9 * 3));
        assertOutputs(engine.predictOutputs(one), referenceOutputs(model, one), 1e-5, `WasmEngine ${threads}, batch 1`);
        assert.throws(() => engine.predict(X), (e: unknown) => e instanceof ConfigError && /predictOutputs/.test(e.message));
      } finally {
        await engine.dispose();
      }
    });
  }

  it('our model file keeps the outputs and their names (the graph entry); a Keras topology lists every output layer', () => {
    const { model: back } = decodeModelFile(encodeModelFile(model), 'ssd-like.safetensors');
    assert.deepEqual(back.outputNames, model.outputNames);
    assertOutputs(back.predictOutputs(X), model.predictOutputs(X), 0, 'model file round trip');
    const { topology } = modelToKerasTopology(model);
    const config = topology.config as Record<string, unknown>;
    assert.deepEqual(config.output_layers, [['scores_concat', 0, 0], ['boxes_concat', 0, 0], ['expand_relu', 0, 0]]);
    assert.equal(config.output_names, undefined, 'plain Keras has no output names: the layers name the outputs');
    assert.deepEqual(kerasTopologyToModel(topology).model.outputNames, ['scores_concat', 'boxes_concat', 'expand_relu']);
  });

  it('forwardTrainOutputs: inference-mode outputs equal predictOutputs; gradients of a loss on two outputs match central differences', () => {
    const small = ssdLike(2);
    const x = randomBatch([2, 11, 9, 3], 4);
    const weightsOf = (name: string, seed: number): Tensor => {
      const shape = [2, ...small.outputShapes[name]];
      return new Tensor(shape, new Random(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b)), -1, 1));
    };
    // loss = Σ scores·A + Σ tap·B (boxes left out: a zero gradient)
    const dOutputs = { scores: weightsOf('scores', 5), tap: weightsOf('tap', 6) };
    const loss = (): number => {
      const y = small.predictOutputs(x);
      let sum = 0;
      for (const [name, d] of Object.entries(dOutputs)) y[name].data.forEach((v, i) => (sum += v * d.data[i]));
      return sum;
    };
    const f = small.forwardTrainOutputs(x, { training: false, inputGradient: true });
    assertOutputs(f.outputs, small.predictOutputs(x), 0, 'forwardTrainOutputs vs predictOutputs');
    const grads = f.backward(dOutputs);
    assert.throws(() => f.backward(dOutputs), ConfigError, 'backward runs once');
    const targets: [string, Float32Array, Tensor][] = [...small.trainableWeights()].map(([name, t]) => [name, t.data, grads.params.get(name)!]);
    targets.push(['input', x.data, grads.input!]);
    for (const [name, values, grad] of targets) {
      assert.ok(grad, `no gradient for ${name}`);
      let scale = 0;
      for (const v of grad.data) scale = Math.max(scale, Math.abs(v));
      const picked = [0, 1, 2].map((k) => Math.floor((k * 0.618034 + 0.1) * values.length) % values.length);
      const numeric = numericGradient(loss, values, 1e-3, picked);
      for (const i of picked) assert.ok(Math.abs(grad.data[i] - numeric[i]) <= 3e-3 * scale + 3e-4, `${name}[${i}]: ours ${grad.data[i]}, numeric ${numeric[i]} (max |g| ${scale})`);
    }
    const boxHead = grads.params.get('box1_pw.kernel')!;
    assert.ok(boxHead.data.every((v) => v === 0), 'no gradient reaches a head whose output was left out');
    assert.throws(() => small.forwardTrainOutputs(x).backward({ logits: dOutputs.scores }), ConfigError, 'an unknown output name');
  });
});
