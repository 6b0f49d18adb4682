// The golden SSDLite ONNX file (two outputs; heads as Conv → Transpose → Reshape with PyTorch's shape arithmetic →
// Concat over maps) against its scores and boxes; our exports of models with several outputs run in onnxruntime-node.

import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { ort } from '../support/onnxruntime.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { decodeNpy } from '../../src/io/npy.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { Model } from '../../src/graph/model.js';
import { ssdLite } from '../../src/models/ssd.js';
import { Conv2D } from '../../src/nn/conv.js';
import { Reshape, input } from '../../src/nn/core.js';
import { Concatenate } from '../../src/nn/extra.js';
import type { SymbolicTensor } from '../../src/nn/layer.js';
import { Tensor } from '../../src/tensor/tensor.js';

enableWasmFeatures();
const DIR = join(GOLDEN, 'apps', 'ssdlite_mnv2_a050_r160_k5_b2');
const npy = (file: string): Tensor => decodeNpy(readFileSync(join(DIR, file)), file);
/** The acceptance tolerance: 5e-5 × max(1, max|ref|) (assertClose's relative error). */
const TOL = 5e-5;

/** Runs ONNX bytes in onnxruntime-node; every graph output by name, with the shapes ORT gives. */
async function runOrtOutputs(bytes: Uint8Array, x: Tensor): Promise<Record<string, Tensor>> {
  const session = await ort!.InferenceSession.create(bytes);
  try {
    const results = await session.run({ input: new ort!.Tensor('float32', x.data, x.shape) });
    return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, new Tensor(t.dims, t.data as Float32Array)]));
  } finally {
    await session.release();
  }
}

describe('golden SSDLite (MobileNetV2 α 0.5, 160×160, 5 classes + background) from PyTorch ONNX', () => {
  const { model, info, notes } = decodeOnnx(readFileSync(join(DIR, 'model.onnx')), { source: 'ssdlite model.onnx' });
  const x = npy('input.npy');
  const expected = { scores: npy('scores.npy'), boxes: npy('boxes.npy') };

  it('imports two named outputs [N, 540, 6] and [N, 540, 4]; the heads need no transpose layer; the model says anchors must be given', () => {
    assert.deepEqual(model.outputNames, ['scores', 'boxes']);
    assert.deepEqual(info.outputs, [{ name: 'scores', shape: ['N', 540, 6] }, { name: 'boxes', shape: ['N', 540, 4] }]);
    for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Transpose', 'Reshape']) assert.ok(info.operators[op] > 0, op);
    // Transpose(NCHW → NHWC) of a conv output is our layout already: each head is conv → reshape, the maps one concatenation per output
    assert.deepEqual(model.layers.filter((l) => l.kind === 'Transpose').map((l) => l.name), []);
    assert.equal(model.layers.filter((l) => l.kind === 'Concatenate').length, 2);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^outputs scores \[540, 6\] and boxes \[540, 4\] .*540 anchors; the file carries no anchors: give them .*--anchors/);
  });

  it('model.predictOutputs: scores and boxes within 5e-5·max(1, max|ref|) of PyTorch', () => {
    const y = model.predictOutputs(x, { layout: 'NCHW' });
    for (const name of ['scores', 'boxes'] as const) assertClose(y[name], expected[name], TOL, name);
  });

  it('WasmEngine: the same scores and boxes', { skip: WasmEngine.supported() ? false : 'WebAssembly SIMD is not available' }, async () => {
    const engine = await WasmEngine.create(model);
    try {
      const y = engine.predictOutputs(x, { layout: 'NCHW' });
      for (const name of ['scores', 'boxes'] as const) assertClose(y[name], expected[name], TOL, `WasmEngine ${name}`);
    } finally {
      await engine.dispose();
    }
  });

  it('survives our model file: the same output names, scores and boxes', () => {
    const loaded = decodeModelFile(encodeModelFile(model), 'ssdlite.safetensors').model;
    assert.deepEqual(loaded.outputNames, ['scores', 'boxes']);
    const y = loaded.predictOutputs(x, { layout: 'NCHW' });
    for (const name of ['scores', 'boxes'] as const) assertClose(y[name], expected[name], TOL, `model file ${name}`);
  });

  it('exported again, onnxruntime-node gives the golden scores and boxes (BN kept and folded)', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    for (const foldBatchNorm of [false, true]) {
      const bytes = encodeOnnx(model, { foldBatchNorm });
      const y = await runOrtOutputs(bytes, x);
      assert.deepEqual(Object.keys(y).sort(), ['boxes', 'scores']);
      for (const name of ['scores', 'boxes'] as const) assertClose(y[name], expected[name], TOL, `onnxruntime ${name}, BN ${foldBatchNorm ? 'folded' : 'kept'}`);
      assert.deepEqual(decodeOnnx(bytes).info.outputs.map((o) => o.name), ['scores', 'boxes']);
    }
  });
});

describe('ONNX export of a model with several outputs', () => {
  /** Two maps (6×6 and 3×3), per map a class conv and a box conv reshaped to per-anchor rows, concatenated over maps. */
  function twoOutputs(): Model {
    const image = input([6, 6, 3]);
    const first = new Conv2D('features_0', { filters: 8, kernelSize: [3, 3], padding: 'same', activation: 'relu6' }).apply(image);
    const second = new Conv2D('features_1', { filters: 8, kernelSize: [3, 3], strides: [2, 2], padding: 'same', activation: 'relu6' }).apply(first);
    const head = (kind: 'cls' | 'box', depth: number): SymbolicTensor => {
      const maps = [first, second].map((map, k) => {
        const [h, w] = map.shape;
        const codes = new Conv2D(`${kind}_${k}`, { filters: 2 * depth, kernelSize: [1, 1] }).apply(map);
        return new Reshape(`${kind}_${k}_rows`, [h * w * 2, depth]).apply(codes);
      });
      return new Concatenate(`${kind}_concat`, 0, 2).apply(maps);
    };
    const model = new Model(image, { scores: head('cls', 4), boxes: head('box', 4) }, { name: 'two_outputs', seed: 3 });
    return model;
  }

  it('graph outputs named scores and boxes, each as onnxruntime-node computes it equal to ours within 1e-5', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    const model = twoOutputs();
    const x = randomBatch([2, 3, 6, 6], 31);
    const ours = model.predictOutputs(x, { layout: 'NCHW' });
    assert.deepEqual(ours.scores.shape, [2, 90, 4]);
    const y = await runOrtOutputs(encodeOnnx(model), x);
    assert.deepEqual(Object.keys(y).sort(), ['boxes', 'scores']);
    for (const name of ['scores', 'boxes']) assertClose(y[name], ours[name], 1e-5, `onnxruntime ${name}`);
  });

  it('a small ssdLite (α 0.25, 96×96, 3 classes, random BN statistics): onnxruntime-node runs the export to our scores and boxes within 1e-5, BN kept and folded', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    const model = ssdLite({ alpha: 0.25, resolution: 96, classes: 3 });
    randomiseBatchNorm(model, 12);
    const x = randomBatch([2, 3, 96, 96], 33);
    const ours = model.predictOutputs(x, { layout: 'NCHW' });
    for (const foldBatchNorm of [false, true]) {
      const y = await runOrtOutputs(encodeOnnx(model, { foldBatchNorm }), x);
      assert.deepEqual(Object.keys(y).sort(), ['boxes', 'scores']);
      for (const name of ['scores', 'boxes']) assertClose(y[name], ours[name], 1e-5, `onnxruntime ${name}, BN ${foldBatchNorm ? 'folded' : 'kept'}`);
    }
  });

  it('two outputs that are one tensor, or the input itself, go through Identity nodes', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    const image = input([2, 2, 3]);
    const conv = new Conv2D('conv', { filters: 2, kernelSize: [1, 1] }).apply(image);
    const model = new Model(image, { a: conv, b: conv, same: image }, { seed: 4 });
    const x = randomBatch([1, 3, 2, 2], 32);
    const y = await runOrtOutputs(encodeOnnx(model), x);
    assertClose(y.a, y.b, 0, 'a and b');
    assertClose(y.same, x, 0, 'the input');
    assertClose(y.a, model.predictOutputs(x, { layout: 'NCHW' }).a, 1e-5, 'a vs ours');
  });
});
