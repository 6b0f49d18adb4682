// The golden SSDLite ONNX file (two outputs; heads as Conv → Transpose → Reshape with PyTorch's shape arithmetic → Concat
// over maps) against its scores and boxes; exports with several outputs, Slice and Exp in onnxruntime-node.

import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, assertClose, randomBatch, randomiseBatchNorm } from '../support/helpers.js';
import { ort } from '../support/onnxruntime.js';
import { buildOnnx } from '../support/onnx-graphs.js';
import type { GraphSpec } from '../support/onnx-graphs.js';
import { UnsupportedOperatorError } from '../../src/io/onnx/errors.js';
import { FormatError } from '../../src/errors.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { decodeModelFile, describeExport, encodeModelFile, metadataEntries } from '../../src/io/model-file.js';
import { decodeAnyModel } from '../../src/io/any-model.js';
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

  it('loading: our export (with its metadata) comes back a detector with the same anchors and no note; the golden file says anchors must be given', async () => {
    const model = ssdLite({ alpha: 0.25, resolution: 96, classes: 3 });
    const ours = await decodeAnyModel({ bytes: encodeOnnx(model, { metadata: metadataEntries(describeExport(model, {})) }), source: 'ssdlite.onnx' });
    assert.deepEqual([...ours.model.metadata.detection!.anchors], [...model.metadata.detection!.anchors]);
    assert.ok(!ours.notes.some((n) => /--anchors/.test(n)), ours.notes.join('; '));
    const golden = await decodeAnyModel({ bytes: readFileSync(join(DIR, 'model.onnx')), source: 'golden.onnx' });
    assert.equal(golden.model.metadata.detection, undefined);
    assert.equal(golden.notes.filter((n) => /^outputs scores \[540, 6\] and boxes \[540, 4\] .*--anchors/.test(n)).length, 1, golden.notes.join('; '));
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

describe('ONNX Slice and Exp of activations (as decoding heads write them)', () => {
  /** x [N, 4, 3, 5] → Slice (channels 1..2, the last three columns, the batch "to INT64_MAX") → Exp. */
  const graph = (batchAxis: { starts: number; ends: number | string }): Uint8Array => buildOnnx({
    opset: 13,
    input: { name: 'input', shape: [1, 4, 3, 5] },
    initializers: [
      { name: 'starts', dims: [3], dataType: 'int64', values: [1, -3, batchAxis.starts] },
      { name: 'ends', dims: [3], dataType: 'int64', values: [3, '9223372036854775807', batchAxis.ends] },
      { name: 'axes', dims: [3], dataType: 'int64', values: [1, 3, 0] },
    ],
    nodes: [
      { op: 'Slice', name: 'cut', inputs: ['input', 'starts', 'ends', 'axes'], outputs: ['cut'] },
      { op: 'Exp', name: 'exp', inputs: ['cut'], outputs: ['y'] },
    ],
    output: 'y',
  });

  it('our import equals onnxruntime-node on the same file; cutting the batch axis is refused by name', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    const bytes = graph({ starts: 0, ends: '9223372036854775807' });
    const x = randomBatch([2, 4, 3, 5], 34);
    const { model } = decodeOnnx(bytes);
    const expected = (await runOrtOutputs(bytes, x)).y;
    assert.deepEqual(expected.shape, [2, 2, 3, 3]);
    assertClose(model.predict(x, { layout: 'NCHW' }), expected, 1e-6, 'Slice → Exp');
    assert.throws(() => decodeOnnx(graph({ starts: 1, ends: 2 })), (e: unknown) => e instanceof UnsupportedOperatorError && /node "cut".*only the whole batch axis/.test(e.message));
  });
});

describe("torchvision's SSD head layout: view(N, -1, K, H, W) → permute(0, 3, 4, 1, 2) → reshape(N, -1, K), two maps concatenated", () => {
  it('our import equals onnxruntime-node on the same file', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, async () => {
    // map 1: x itself [N, 6, 3, 4] (2 anchors × 3 values); map 2: a 2×2 average pool of it [N, 6, 1, 2]
    const head = (k: number, map: string): GraphSpec['nodes'] => [
      { op: 'Reshape', name: `view_${k}`, inputs: [map, `shape5_${k}`], outputs: [`v${k}`] },
      { op: 'Transpose', name: `permute_${k}`, inputs: [`v${k}`], outputs: [`p${k}`], attrs: { perm: { ints: [0, 3, 4, 1, 2] } } },
      { op: 'Reshape', name: `rows_${k}`, inputs: [`p${k}`, 'shape3'], outputs: [`r${k}`] },
    ];
    const bytes = buildOnnx({
      opset: 13,
      input: { name: 'input', shape: [1, 6, 3, 4] },
      initializers: [
        { name: 'shape5_1', dims: [5], dataType: 'int64', values: [0, -1, 3, 3, 4] },
        { name: 'shape5_2', dims: [5], dataType: 'int64', values: [0, -1, 3, 1, 2] },
        { name: 'shape3', dims: [3], dataType: 'int64', values: [0, -1, 3] },
      ],
      nodes: [
        { op: 'AveragePool', name: 'pool', inputs: ['input'], outputs: ['pooled'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
        ...head(1, 'input'),
        ...head(2, 'pooled'),
        { op: 'Concat', name: 'cat', inputs: ['r1', 'r2'], outputs: ['y'], attrs: { axis: { i: 1 } } },
      ],
      output: 'y',
    });
    const x = randomBatch([2, 6, 3, 4], 35);
    const expected = (await runOrtOutputs(bytes, x)).y;
    assert.deepEqual(expected.shape, [2, 28, 3]);
    assertClose(decodeOnnx(bytes).model.predict(x, { layout: 'NCHW' }), expected, 1e-6, 'torchvision-style head');
  });
});

describe('ONNX import of several graph outputs', () => {
  /** x [N, 2, 3] → Relu → `a`; Sigmoid of x → `b`; `b`'s declared shape as given. */
  const graph = (bShape: number[]): Uint8Array => buildOnnx({
    opset: 13,
    input: { name: 'x', shape: [1, 2, 3] },
    nodes: [
      { op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['a'] },
      { op: 'Sigmoid', name: 'sigmoid', inputs: ['x'], outputs: ['b'] },
    ],
    output: 'a',
    outputShape: [1, 2, 3],
    moreOutputs: [{ name: 'b', shape: bShape }],
  });

  it('each becomes a named output in the file\'s order, computed as written (hand-worked values); a declared shape that differs names its output', () => {
    const { model, info } = decodeOnnx(graph([1, 2, 3]));
    assert.deepEqual(model.outputNames, ['a', 'b']);
    assert.deepEqual(info.outputs.map((o) => o.name), ['a', 'b']);
    const y = model.predictOutputs(new Tensor([1, 2, 3], Float32Array.from([-2, -1, 0, 1, 2, 3])));
    assert.deepEqual([...y.a.data], [0, 0, 0, 1, 2, 3]);
    assertClose(y.b, new Tensor([1, 2, 3], Float32Array.from([-2, -1, 0, 1, 2, 3], (v) => 1 / (1 + Math.exp(-v)))), 1e-7, 'sigmoid');
    assert.throws(() => decodeOnnx(graph([1, 3, 2]), { source: 'two.onnx' }), (e: unknown) => e instanceof FormatError && /two\.onnx: the graph declares output "b" of shape \[\?, 3, 2\], the nodes compute \[N, 2, 3\]/.test(e.message));
  });
});
