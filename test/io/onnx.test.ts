// ONNX import and export: every PyTorch-made golden model.onnx against its output.npy (reference backend, lowered
// plan, WasmEngine), hand-built graphs against NumPy and by-hand values, round trips, onnxruntime, and every error path.

import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, GOLDEN, assertClose, randomBatch, randomiseBatchNorm, relativeError } from '../support/helpers.js';
import { decodeOnnx, externalDataLocations, parseOnnxModel } from '../../src/io/onnx/import.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { ExternalDataError, UnsupportedOperatorError } from '../../src/io/onnx/errors.js';
import { DataType } from '../../src/io/onnx/schema.js';
import { buildOnnx, encode } from '../support/onnx-graphs.js';
import type { GraphSpec, Message } from '../support/onnx-graphs.js';
import { onnxWithExternalWeights } from '../support/onnx-external.js';
import { ort, runOrt } from '../support/onnxruntime.js';
import { readOnnxFile, writeOnnxFile } from '../../src/node/onnx-files.js';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { lowerModel } from '../../src/graph/lower.js';
import { runPlanReference } from '../../src/backend/plan-reference.js';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { Layer } from '../../src/nn/layer.js';
import { FormatError, MobileNetError } from '../../src/errors.js';
import { Tensor, toLayout } from '../../src/tensor/tensor.js';

enableWasmFeatures();
const wasm = WasmEngine.supported();

// ---------------------------------------------------------------------------------------------------------------
// helpers

interface OnnxCase extends GraphSpec {
  name: string;
  description: string;
  x: number[];
  expected: number[];
  expectedShape: number[];
}
const cases = (JSON.parse(readFileSync(join(FIXTURES, 'onnx', 'cases.json'), 'utf8')) as { cases: OnnxCase[] }).cases.map((c) => ({ ...c, outputShape: c.expectedShape }));
const caseBytes = (c: OnnxCase): Uint8Array => buildOnnx(c);
const caseCalled = (name: string): OnnxCase => cases.find((c) => c.name === name)!;

/** Runs a batch given in the file's layout (NCHW, or as is for other ranks); returns the output in the file's layout. */
const run = (model: Model, x: Tensor): Tensor => model.predict(x, { layout: 'NCHW' });
const runPlan = (model: Model, x: Tensor): Tensor => {
  const y = runPlanReference(lowerModel(model), x.rank === 4 ? toLayout(x, 'NCHW', 'NHWC') : x, model.outputShape);
  return y.rank === 4 ? toLayout(y, 'NHWC', 'NCHW') : y;
};
const kinds = (model: Model): string[] => model.layers.map((l) => l.kind);
const count = (model: Model, kind: string): number => kinds(model).filter((k) => k === kind).length;

const npy = (path: string): Tensor => decodeNpy(readFileSync(path), path);
const goldenCases = (['ops', 'blocks', 'models'] as const).flatMap((group) =>
  readdirSync(join(GOLDEN, group)).flatMap((name) =>
    ['model.onnx', 'model_bnfolded.onnx'].filter((f) => existsSync(join(GOLDEN, group, name, f))).map((file) => ({ group, name, file, dir: join(GOLDEN, group, name) })),
  ),
);

function randomisedV2(): Model {
  const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 3 });
  randomiseBatchNorm(model, 11);
  return model;
}
function randomisedV1Keras(): Model {
  // Keras convention: ZeroPadding2D before stride-2 convs, BN ε 1e-3
  const model = mobilenetV1({ alpha: 0.25, resolution: 35, classes: 7, seed: 4, convention: 'keras', classifierActivation: 'softmax' });
  randomiseBatchNorm(model, 12);
  return model;
}

function assertThrowsTyped(f: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------------

describe('ONNX import: the PyTorch golden files', () => {
  for (const c of goldenCases) {
    const big = c.name === 'mnv2_100_224';
    const tol = c.group === 'models' ? 1e-4 : 1e-5;
    it(`${c.group}/${c.name}/${c.file} matches output.npy within ${tol}${big ? ' (WasmEngine)' : ''}`, { skip: big && !wasm ? 'no WebAssembly SIMD' : false }, async () => {
      const { model, info, inputLayout } = decodeOnnx(readFileSync(join(c.dir, c.file)), { source: c.file });
      assert.equal(inputLayout, 'NCHW');
      assert.equal(info.opsetVersion, 13);
      assert.equal(info.producer, 'pytorch 1.13.0');
      assert.equal(info.inputShape[0], 'N');
      const x = npy(join(c.dir, 'input.npy'));
      const expected = npy(join(c.dir, 'output.npy'));
      assert.deepEqual(info.inputShape.slice(1), x.shape.slice(1));
      if (c.group === 'models') {
        // convs fold their BN and fuse ReLU6 and residual adds: imported graphs get the same plan as our own
        const plan = lowerModel(model);
        assert.ok(plan.steps.every((s) => s.op !== 'layer' && s.op !== 'affine' && s.op !== 'clamp'), plan.steps.map((s) => s.op).join(' '));
        assert.ok(plan.steps.some((s) => s.op === 'chain'));
      }
      if (!big) {
        assertClose(run(model, x), expected, tol, 'reference backend');
        assertClose(runPlan(model, x), expected, tol, 'lowered plan');
      }
      if (wasm && (c.group === 'models' || c.group === 'blocks')) {
        const engine = await WasmEngine.create(model);
        try {
          if (c.group === 'models') assert.deepEqual(engine.coverage.fallback, []);
          assertClose(engine.predict(x, { layout: 'NCHW' }), expected, tol, 'WasmEngine');
        } finally {
          await engine.dispose();
        }
      }
    });
  }

  it('weights come out under their torchvision names, bit for bit (OIHW → HWIO and back)', () => {
    const dir = join(GOLDEN, 'models', 'mnv2_035_32_c10');
    const { model } = decodeOnnx(readFileSync(join(dir, 'model.onnx')));
    const golden = decodeSafetensors(readFileSync(join(dir, 'weights.safetensors'))).tensors;
    const ours = torchStateDict(model);
    assert.deepEqual([...ours.keys()].sort(), [...golden.keys()].sort());
    for (const [name, t] of golden) {
      assert.deepEqual([...ours.get(name)!.shape], [...t.shape], name);
      assert.ok(ours.get(name)!.data.every((v, i) => Object.is(v, t.data[i])), `${name} differs`);
    }
  });
});

describe('ONNX import: hand-built graphs vs NumPy (test/fixtures/onnx/make_cases.py)', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.description}`, async () => {
      const { model } = decodeOnnx(caseBytes(c), { source: c.name });
      const x = new Tensor(c.input.shape, Float32Array.from(c.x));
      const expected = new Tensor(c.expectedShape, Float32Array.from(c.expected));
      assertClose(run(model, x), expected, 1e-5, 'reference backend');
      assertClose(runPlan(model, x), expected, 1e-5, 'lowered plan');
      if (wasm) {
        const engine = await WasmEngine.create(model);
        try {
          assertClose(engine.predict(x, { layout: 'NCHW' }), expected, 1e-5, 'WasmEngine');
        } finally {
          await engine.dispose();
        }
      }
      // every imported layer also trains: forward in training mode equals inference (no BN statistics, no dropout here)
      if (!kinds(model).includes('BatchNormalization')) assertClose(model.forwardTrain(x, { layout: 'NCHW' }).output, expected, 1e-5, 'forwardTrain');
    });
  }

  it('maps layouts without copies where it can', () => {
    // ONNX transposes only relabel axes; a copy happens where a conv needs H and W swapped, and for the NHWC output
    assert.equal(count(decodeOnnx(caseBytes(caseCalled('transposes'))).model, 'Transpose'), 2);
    // a flatten of a 3×4 map in NCHW order goes into the MatMul's weight rows; the Add becomes the Dense bias
    const flat = decodeOnnx(caseBytes(caseCalled('flatten_matmul_add_softmax'))).model;
    assert.deepEqual(kinds(flat), ['InputLayer', 'ReLU', 'Flatten', 'Dense', 'Softmax']);
    // Clip [0, 6] is ReLU6 (so lowering fuses it), other ranges a Clip
    assert.deepEqual(kinds(decodeOnnx(caseBytes(caseCalled('clip_attributes_opset7'))).model).sort(), ['Add', 'Clip', 'InputLayer', 'ReLU6']);
    // a bias-free conv followed by Add of a per-channel constant gets the constant as its bias
    const conv = decodeOnnx(caseBytes(caseCalled('conv_add_sub_div'))).model;
    assert.equal(count(conv, 'BroadcastAdd'), 0);
    assert.equal((conv.layers[1] as unknown as { useBias: boolean }).useBias, true);
    // Pad + valid conv lower to one conv step
    assert.deepEqual(lowerModel(decodeOnnx(caseBytes(caseCalled('pad_input_then_conv'))).model).steps.map((s) => s.op), ['conv']);
  });
});

describe('ONNX import: values worked by hand', () => {
  const single = (op: string, opset: number, shape: number[], attrs: Record<string, Record<string, unknown>> = {}, extra: Partial<GraphSpec> = {}): Model =>
    decodeOnnx(buildOnnx({ opset, input: { name: 'x', shape }, nodes: [{ op, inputs: ['x', ...(extra.nodes?.[0]?.inputs ?? [])], outputs: ['y'], attrs }], output: 'y', initializers: extra.initializers })).model;
  const values = (t: Tensor): number[] => [...t.data].map((v) => Math.round(v * 1e6) / 1e6 + 0);

  it('HardSigmoid (ONNX defaults α 0.2, β 0.5), HardSwish, Sigmoid', () => {
    const x = new Tensor([1, 7], Float32Array.from([-5, -3, -1, 0, 1, 3, 5]));
    assert.deepEqual(values(run(single('HardSigmoid', 13, [1, 7]), x)), [0, 0, 0.3, 0.5, 0.7, 1, 1]);
    assert.deepEqual(values(run(single('HardSwish', 14, [1, 7]), x)), [0, 0, -0.333333, 0, 0.666667, 3, 5]);
    assert.deepEqual(values(run(single('Sigmoid', 13, [1, 7]), x)), [0.006693, 0.047426, 0.268941, 0.5, 0.731059, 0.952574, 0.993307]);
  });

  it('Clip with attributes (opset 6) and Softmax over the last axis', () => {
    const x = new Tensor([1, 4], Float32Array.from([-3, -1, 0.5, 2]));
    assert.deepEqual(values(run(single('Clip', 6, [1, 4], { min: { f: -1 }, max: { f: 1.5 } }), x)), [-1, -1, 0.5, 1.5]);
    assert.deepEqual(values(run(single('Softmax', 13, [1, 3]), new Tensor([1, 3], Float32Array.from([1, 2, 3])))), [0.090031, 0.244728, 0.665241]);
  });

  it('MaxPool and AveragePool 2×2 stride 2 on a 4×4 ramp', () => {
    const ramp = new Tensor([1, 1, 4, 4], Float32Array.from({ length: 16 }, (_, i) => i));
    const attrs = { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } };
    assert.deepEqual(values(run(single('MaxPool', 13, [1, 1, 4, 4], attrs), ramp)), [5, 7, 13, 15]);
    assert.deepEqual(values(run(single('AveragePool', 13, [1, 1, 4, 4], attrs), ramp)), [2.5, 4.5, 10.5, 12.5]);
  });

  it('Transpose, Concat and MatMul', () => {
    // [N, 2, 3] → perm (0, 2, 1) → [N, 3, 2]
    const x = new Tensor([1, 2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    assert.deepEqual(values(run(single('Transpose', 13, [1, 2, 3], { perm: { ints: [0, 2, 1] } }), x)), [1, 4, 2, 5, 3, 6]);
    const concat = decodeOnnx(buildOnnx({ opset: 13, input: { name: 'x', shape: [1, 2, 3] }, nodes: [{ op: 'Concat', inputs: ['x', 'x'], outputs: ['y'], attrs: { axis: { i: 2 } } }], output: 'y' })).model;
    assert.deepEqual(values(run(concat, x)), [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    const matmul = single('MatMul', 13, [1, 2], {}, { nodes: [{ op: 'MatMul', inputs: ['w'], outputs: [] }], initializers: [{ name: 'w', dims: [2, 2], dataType: 'float', values: [1, 2, 3, 4] }] });
    assert.deepEqual(values(run(matmul, new Tensor([1, 2], Float32Array.from([1, 1])))), [4, 6]);
  });
});

describe('ONNX export and round trips', () => {
  for (const [label, make] of [['MobileNetV2 0.35 (torch padding, BN ε 1e-5)', randomisedV2], ['MobileNetV1 0.25 (Keras ZeroPadding2D, BN ε 1e-3, softmax)', randomisedV1Keras]] as const) {
    it(`${label}: ours → ONNX → ours, BN kept (exact layers and weights) and folded`, () => {
      const model = make();
      const [h, w, c] = model.inputShape;
      const x = randomBatch([3, c, h, w], 21);
      const ours = run(model, x);
      const kept = decodeOnnx(encodeOnnx(model)).model;
      // same layer names and weights, bit for bit; the outputs then agree to BN ε's float32 rounding
      assert.deepEqual([...kept.weights().keys()], [...model.weights().keys()]);
      for (const [name, t] of model.weights()) assert.ok(kept.weights().get(name)!.data.every((v, i) => Object.is(v, t.data[i])), name);
      assert.ok(relativeError(run(kept, x), ours) <= 1e-6);
      const folded = decodeOnnx(encodeOnnx(model, { foldBatchNorm: true })).model;
      assert.equal(count(folded, 'BatchNormalization'), 0);
      assert.ok(relativeError(run(folded, x), ours) <= 1e-6);
    });
  }

  it('torchvision-convention MobileNetV2 round trip is bit-exact', () => {
    const model = randomisedV2();
    const x = randomBatch([2, 3, 32, 32], 22);
    assert.equal(relativeError(run(decodeOnnx(encodeOnnx(model)).model, x), run(model, x)), 0);
  });

  it('golden model.onnx → ours → ONNX → ours is bit-exact', () => {
    const dir = join(GOLDEN, 'models', 'mnv2_035_32_c10');
    const first = decodeOnnx(readFileSync(join(dir, 'model.onnx'))).model;
    const second = decodeOnnx(encodeOnnx(first)).model;
    const x = npy(join(dir, 'input.npy'));
    assert.equal(relativeError(run(second, x), run(first, x)), 0);
  });

  for (const name of ['se_sigmoid_mul', 'hard_activations', 'concat_channels_and_height', 'transposes', 'flatten_matmul_add_softmax', 'conv_add_sub_div', 'batchnorm_rank3', 'softmax_after_reshape', 'reshape_vector_to_image', 'avgpool_3x3_s2_p1_include_pad', 'maxpool_same_lower_2x2_s2', 'pad_input_then_conv', 'global_max_pool', 'clip_max_input_only']) {
    it(`imported ${name} → ONNX → ours within 1e-6`, () => {
      const c = caseCalled(name);
      const first = decodeOnnx(caseBytes(c)).model;
      const x = new Tensor(c.input.shape, Float32Array.from(c.x));
      for (const opset of [13, 14]) assert.ok(relativeError(run(decodeOnnx(encodeOnnx(first, { opset })).model, x), run(first, x)) <= 1e-6, `opset ${opset}`);
    });
  }

  it('the file has a dynamic batch axis N, input `input`, output `output`, opset 13', () => {
    const proto = parseOnnxModel(encodeOnnx(randomisedV2()));
    assert.equal(proto.opsetImport[0].version.toString(), '13');
    const graph = proto.graph!;
    assert.equal(graph.input[0].name, 'input');
    assert.equal(graph.output[0].name, 'output');
    assert.equal(graph.input[0].type!.tensorType!.shape!.dim[0].dimParam, 'N');
    assert.equal(graph.output[0].type!.tensorType!.shape!.dim[0].dimParam, 'N');
    const ops = new Set(graph.node.map((n) => n.opType));
    assert.deepEqual([...ops].sort(), ['Add', 'BatchNormalization', 'Clip', 'Constant', 'Conv', 'Flatten', 'Gemm', 'GlobalAveragePool']);
    assert.ok(graph.node.filter((n) => n.opType === 'Gemm').every((n) => n.attribute.some((a) => a.name === 'transB' && a.i.toString() === '1')));
  });

  it('layers with no ONNX equivalent are refused by name', () => {
    class Mystery extends Layer {
      readonly kind = 'Mystery';
      protected override inferShape([s]: readonly (readonly number[])[]): readonly number[] {
        return s;
      }
      override call([x]: Tensor[]): Tensor {
        return x;
      }
      config(): Record<string, unknown> {
        return {};
      }
    }
    const x = input([4], 'x');
    const model = new Model(x, new Mystery('puzzle').apply(x));
    assert.throws(() => encodeOnnx(model), (e: unknown) => e instanceof MobileNetError && /puzzle of kind Mystery/.test((e as Error).message));
    assert.throws(() => encodeOnnx(randomisedV2(), { opset: 9 }), /opset 9/);
  });

  it('writeOnnxFile and readOnnxFile round trip through a folder', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'onnx-write-'));
    try {
      const model = randomisedV2();
      await writeOnnxFile(join(folder, 'm.onnx'), model);
      const x = randomBatch([1, 3, 32, 32], 23);
      assert.equal(relativeError(run((await readOnnxFile(join(folder, 'm.onnx'))).model, x), run(model, x)), 0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('onnxruntime-node runs our exports', { skip: ort ? false : 'bench/peers/node_modules/onnxruntime-node is not installed' }, () => {
  for (const [label, make] of [['MobileNetV2 0.35', randomisedV2], ['MobileNetV1 0.25 Keras', randomisedV1Keras]] as const) {
    for (const foldBatchNorm of [false, true]) {
      it(`${label}, BN ${foldBatchNorm ? 'folded' : 'kept'}: same outputs as ours`, async () => {
        const model = make();
        const [h, w, c] = model.inputShape;
        const x = randomBatch([3, c, h, w], 24);
        assertClose(await runOrt(encodeOnnx(model, { foldBatchNorm }), x), run(model, x), 1e-5, 'onnxruntime vs ours');
      });
    }
  }

  it('imported graphs with the extra layers, re-exported at opset 13 and 14', async () => {
    for (const name of ['se_sigmoid_mul', 'hard_activations', 'concat_channels_and_height', 'transposes', 'conv_add_sub_div', 'batchnorm_rank3', 'softmax_after_reshape', 'reshape_vector_to_image', 'flatten_matmul_add_softmax', 'avgpool_3x3_s2_p1_include_pad']) {
      const c = caseCalled(name);
      const model = decodeOnnx(caseBytes(c)).model;
      const x = new Tensor(c.input.shape, Float32Array.from(c.x));
      for (const opset of [13, 14]) assertClose(await runOrt(encodeOnnx(model, { opset }), x), run(model, x), 1e-5, `${name} opset ${opset}`);
    }
  });

  it('agrees with the NumPy expectations of the hand-built graphs (checks the fixtures themselves)', async () => {
    for (const c of cases) {
      const x = new Tensor(c.input.shape, Float32Array.from(c.x));
      assertClose(await runOrt(caseBytes(c), x, 'x', c.output), new Tensor(c.expectedShape, Float32Array.from(c.expected)), 1e-5, c.name);
    }
  });
});

describe('ONNX import: errors', () => {
  const tiny = (nodes: GraphSpec['nodes'], extra: Partial<GraphSpec> = {}): Uint8Array => buildOnnx({ opset: 13, input: { name: 'x', shape: [1, 2, 4, 4] }, nodes, output: nodes.at(-1)!.outputs[0], ...extra });

  it('an unsupported operator names its op type and node', () => {
    const bytes = tiny([{ op: 'Relu', name: 'first', inputs: ['x'], outputs: ['r'] }, { op: 'LpNormalization', name: 'the_norm_node', inputs: ['r'], outputs: ['y'] }]);
    assert.throws(
      () => decodeOnnx(bytes, { source: 'norm.onnx' }),
      (e: unknown) => {
        assert.ok(e instanceof UnsupportedOperatorError && e instanceof FormatError);
        assert.equal(e.opType, 'LpNormalization');
        assert.equal(e.nodeName, 'the_norm_node');
        assert.match(e.message, /norm\.onnx: unsupported ONNX operator LpNormalization in node "the_norm_node"/);
        return true;
      },
    );
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Relu', name: 'mine', domain: 'com.example', inputs: ['x'], outputs: ['y'] }])), UnsupportedOperatorError, /com\.example\.Relu in node "mine".*domain/);
  });

  it('uses of supported operators that would mix the batch axis are refused, naming the node', () => {
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Flatten', name: 'f0', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: 0 } } }])), UnsupportedOperatorError, /Flatten in node "f0": axis 0/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Transpose', name: 't', inputs: ['x'], outputs: ['y'], attrs: { perm: { ints: [1, 0, 2, 3] } } }])), UnsupportedOperatorError, /batch axis/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Softmax', name: 's', inputs: ['x'], outputs: ['y'], attrs: { axis: { i: 0 } } }])), UnsupportedOperatorError, /batch axis/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Reshape', name: 'r', inputs: ['x', 'shape'], outputs: ['y'] }], { initializers: [{ name: 'shape', dims: [2], dataType: 'int64', values: [2, -1] }] })), UnsupportedOperatorError, /Reshape in node "r".*batch axis/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Conv', name: 'c', inputs: ['x', 'x'], outputs: ['y'] }])), UnsupportedOperatorError, /Conv in node "c".*constant/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Pad', name: 'p', inputs: ['x', 'pads'], outputs: ['y'], attrs: { mode: { s: 'reflect' } } }], { initializers: [{ name: 'pads', dims: [8], dataType: 'int64', values: [0, 0, 1, 1, 0, 0, 1, 1] }] })), UnsupportedOperatorError, /Pad in node "p": mode "reflect"/);
  });

  it('truncated files, other formats and random bytes are FormatErrors, never hangs', () => {
    const bytes = readFileSync(join(GOLDEN, 'blocks', 'ir_16_16_s1_t6', 'model.onnx'));
    for (const cut of [1, 2, 10, 100, 1000, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 200, bytes.length - 20, bytes.length - 1]) {
      assert.throws(() => decodeOnnx(bytes.subarray(0, cut)), FormatError, `cut at ${cut}`);
    }
    assert.throws(() => decodeOnnx(new Uint8Array(0)), FormatError);
    assert.throws(() => decodeOnnx(readFileSync(join(GOLDEN, 'ops', 'relu6', 'input.npy'))), FormatError);
    assert.throws(() => decodeOnnx(readFileSync(join(GOLDEN, 'ops', 'relu6', 'weights.safetensors'))), FormatError);
    const random = new Uint8Array(4096);
    let seed = 7;
    for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16;
    assert.throws(() => decodeOnnx(random), FormatError);
  });

  it('lying lengths and absurd shapes are refused before allocating', () => {
    const lie = (t: Message): Uint8Array =>
      encode({ irVersion: 7, opsetImport: [{ version: 13 }], graph: { node: [{ opType: 'Mul', input: ['x', 'w'], output: ['y'] }], initializer: [{ name: 'w', ...t }], input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }], output: [{ name: 'y' }] } });
    assertThrowsTyped(() => decodeOnnx(lie({ dims: [4], dataType: DataType.FLOAT, rawData: new Uint8Array(12) })), FormatError, /needs 16 bytes of data, found 12/);
    assertThrowsTyped(() => decodeOnnx(lie({ dims: [4], dataType: DataType.FLOAT, floatData: [1, 2] })), FormatError, /needs 4 values, float_data has 2/);
    assertThrowsTyped(() => decodeOnnx(lie({ dims: [1e6, 1e6], dataType: DataType.FLOAT, rawData: new Uint8Array(4) })), FormatError, /more than this reader allocates/);
    assertThrowsTyped(() => decodeOnnx(lie({ dims: [4], dataType: DataType.STRING })), FormatError, /data type 8/);
    // float16 and double storage are read, not refused
    const half = new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0xc000, 0x3800]).buffer);
    const y = run(decodeOnnx(lie({ dims: [4], dataType: DataType.FLOAT16, rawData: half })).model, new Tensor([1, 4], Float32Array.from([1, 1, 1, 1])));
    assert.deepEqual([...y.data], [1, 2, -2, 0.5]);
  });

  it('external data: read through the callback; absolute paths and .. refused before it is called', () => {
    const external = (location: string, offset = 0, length?: number): Uint8Array => onnxWithExternalWeights(location, offset, length);
    const file = new Uint8Array(new Float32Array([0, 3, -2, 0]).buffer);
    const asked: string[] = [];
    const reader = (location: string): Uint8Array => (asked.push(location), file);
    const y = run(decodeOnnx(external('weights/w.bin', 4, 8), { externalData: reader }).model, new Tensor([1, 2], Float32Array.from([2, 5])));
    assert.deepEqual([...y.data], [6, -10]);
    assert.deepEqual(asked, ['weights/w.bin']);
    for (const escape of ['../secret.bin', 'a/../../b.bin', '/etc/passwd', '\\\\server\\share\\w.bin', 'C:\\w.bin', 'a\\..\\..\\b.bin', '']) {
      assertThrowsTyped(() => decodeOnnx(external(escape), { externalData: reader }), ExternalDataError, /external data location/);
    }
    assert.deepEqual(asked, ['weights/w.bin'], 'the reader is never asked for an escaping location');
    assertThrowsTyped(() => decodeOnnx(external('w.bin', 8, 16), { externalData: reader }), ExternalDataError, /has 16 bytes, the tensor needs bytes 8…24/);
    assertThrowsTyped(() => decodeOnnx(external('w.bin')), ExternalDataError, /externalData reader/);
    assert.deepEqual(externalDataLocations(parseOnnxModel(external('w.bin'))), ['w.bin']);
  });

  it('readOnnxFile reads external data from the model folder only, symlinks resolved', async () => {
    const root = mkdtempSync(join(tmpdir(), 'onnx-ext-'));
    try {
      await readWithExternalData(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  async function readWithExternalData(root: string): Promise<void> {
    const folder = join(root, 'model');
    const outside = join(root, 'outside.bin');
    const weights = new Uint8Array(new Float32Array([3, -2]).buffer);
    writeFileSync(outside, weights);
    mkdirSync(join(folder, 'data'), { recursive: true });
    writeFileSync(join(folder, 'data', 'w.bin'), weights);
    symlinkSync(outside, join(folder, 'escape.bin'));
    symlinkSync(join(folder, 'data', 'w.bin'), join(folder, 'inside.bin'));
    const write = (file: string, location: string): string => {
      const bytes = onnxWithExternalWeights(location);
      writeFileSync(join(folder, file), bytes);
      return join(folder, file);
    };
    const x = new Tensor([1, 2], Float32Array.from([2, 5]));
    for (const location of ['data/w.bin', 'inside.bin']) assert.deepEqual([...run((await readOnnxFile(write('ok.onnx', location))).model, x).data], [6, -10]);
    await assert.rejects(readOnnxFile(write('escape.onnx', 'escape.bin')), (e: unknown) => e instanceof ExternalDataError && /outside the model's folder/.test((e as Error).message));
    await assert.rejects(readOnnxFile(write('dots.onnx', '../outside.bin')), (e: unknown) => e instanceof ExternalDataError && /'\.\.'/.test((e as Error).message));
    await assert.rejects(readOnnxFile(write('absolute.onnx', outside)), (e: unknown) => e instanceof ExternalDataError && /absolute/.test((e as Error).message));
    await assert.rejects(readOnnxFile(write('missing.onnx', 'nope.bin')), ExternalDataError);
  }

  it('inputs the importer cannot shape are refused', () => {
    const symbolic = encode({ irVersion: 7, opsetImport: [{ version: 13 }], graph: { node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimParam: 'H' }, { dimParam: 'W' }] } } } }], output: [{ name: 'y' }] } });
    assert.throws(() => decodeOnnx(symbolic), /pass inputShape/);
    assert.deepEqual([...decodeOnnx(symbolic, { inputShape: [3, 8, 8] }).model.inputShape], [8, 8, 3]);
    assert.throws(() => decodeOnnx(tiny([{ op: 'Relu', inputs: ['nowhere'], outputs: ['y'] }])), /not computed by any earlier node/);
    // a layer's own shape or configuration error comes back naming the node
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'MaxPool', name: 'too_padded', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [2, 2] }, pads: { ints: [2, 2, 2, 2] } } }])), FormatError, /node "too_padded" \(MaxPool\): .*padding/);
    assertThrowsTyped(() => decodeOnnx(tiny([{ op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['y'] }], { initializers: [{ name: 'w', dims: [4, 3, 1, 1], dataType: 'float', values: new Array(12).fill(1) }] })), FormatError, /node "c" \(Conv\): weights \[4, 3, 1, 1\] with group 1 do not fit 2 input channels/);
  });
});
