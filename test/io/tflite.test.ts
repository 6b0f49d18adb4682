// .tflite written by us and run by LiteRT.js (the independent reference) against our reference kernels; read back
// into our Model; and the reader's typed errors on truncated files, lying offsets, out-of-range buffers, unknown ops.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Builder } from 'flatbuffers';

import { FormatError } from '../../src/errors.js';
import { Model } from '../../src/graph/model.js';
import { ReLU6 } from '../../src/nn/activation.js';
import { AveragePooling2D, MaxPooling2D } from '../../src/nn/pooling.js';
import { Arithmetic, Concatenate, HardSwish, Sigmoid } from '../../src/nn/extra.js';
import { Conv2D } from '../../src/nn/conv.js';
import { input } from '../../src/nn/core.js';
import { Resize } from '../../src/nn/resize.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { importTflite } from '../../src/io/tflite/import.js';
import { decodeTflite } from '../../src/io/tflite/read.js';
import { encodeTflite } from '../../src/io/tflite/write.js';
import { halfBits } from '../../src/io/tflite/builder.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Random } from '../../src/tensor/random.js';
import { FIXTURES, assertClose, randomBatch, randomiseBatchNorm, relativeError } from '../support/helpers.js';
import { runTflite } from '../support/litert.js';

/** Gives every weight of `model` seeded values, so that no layer is an identity. */
function randomiseWeights(model: Model, seed: number): Model {
  const rng = new Random(seed);
  for (const layer of model.layers) for (const w of layer.params.values()) rng.fillUniform(w.data, -0.3, 0.3);
  randomiseBatchNorm(model, seed);
  return model;
}

const models: [string, () => Model][] = [
  ['MobileNetV2 α 0.35, 48×48, 10 classes (softmax)', () => mobilenetV2({ alpha: 0.35, resolution: 48, classes: 10, classifierActivation: 'softmax' })],
  ['MobileNetV1 α 0.25, 40×40, 7 classes', () => mobilenetV1({ alpha: 0.25, resolution: 40, classes: 7 })],
  [
    'a graph of sigmoid, hard-swish, multiplies, pools, a concat and a resize',
    () => {
      const x = input([12, 10, 5], 'image');
      const a = new Conv2D('a', { filters: 6, kernelSize: [3, 3], padding: 'same', activation: 'relu' }).apply(x);
      const b = new Sigmoid('b').apply(new Conv2D('b_conv', { filters: 3, kernelSize: [1, 1] }).apply(x));
      const c = new Concatenate('c', -1, 2).apply([a, b]);
      const scaled = new Arithmetic('c_scale', 'mul', { value: new Tensor([9], new Random(2).fillUniform(new Float32Array(9), 0.5, 1.5)), side: 'right' }).apply(c);
      const squared = new Arithmetic('c_square', 'mul').apply([scaled, c]);
      const d = new HardSwish('d').apply(new AveragePooling2D('d_pool', { poolSize: [2, 2], strides: [2, 2] }).apply(squared));
      const e = new MaxPooling2D('e', { poolSize: [3, 3], strides: [1, 1], padding: 'same' }).apply(d);
      const f = new ReLU6('f').apply(new Resize('f_resize', { size: [9, 7] }).apply(e));
      return new Model(x, new Conv2D('out', { filters: 4, kernelSize: [1, 1] }).apply(f), { name: 'mixed' });
    },
  ],
];

describe('TFLite float: written by us, run by LiteRT.js and read back', () => {
  for (const [what, make] of models) {
    it(`${what}: LiteRT.js gives our outputs within 1e-5, and the file reads back to the same model`, async () => {
      const model = randomiseWeights(make(), 3);
      const x = randomBatch([1, ...model.inputShape], 11);
      const expected = model.predict(x);
      const bytes = encodeTflite(model, { classNames: Array.from({ length: expected.shape[1] ?? 1 }, (_, i) => `class ${i}`) });
      const [litert] = await runTflite(bytes, [x.data]);
      assertClose(new Tensor(expected.shape, litert as Float32Array), expected, 1e-5, `${what}: LiteRT.js`);
      const back = importTflite(bytes, `${model.name}.tflite`);
      assert.ok(back.model instanceof Model);
      assert.equal(back.inputLayout, 'NHWC');
      assert.deepEqual(back.description?.classNames?.slice(0, 2), ['class 0', 'class 1']);
      assertClose(back.model.predict(x).reshape(expected.shape), expected, 1e-5, `${what}: read back`);
    });
  }
});

describe('LiteRT.js threaded (2 threads, in a process with relaxed SIMD)', () => {
  it('runs a written MobileNetV1 to the single-threaded outputs', async () => {
    const model = randomiseWeights(mobilenetV1({ alpha: 0.25, resolution: 32, classes: 6 }), 5);
    const x = randomBatch([1, 32, 32, 3], 7);
    const dir = mkdtempSync(join(tmpdir(), 'mnts-litert-'));
    try {
      const bytes = encodeTflite(model);
      writeFileSync(join(dir, 'm.tflite'), bytes);
      writeFileSync(join(dir, 'x.bin'), new Uint8Array(x.data.buffer));
      const child = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', join(FIXTURES, '..', 'support', 'litert-threads.ts'), join(dir, 'm.tflite'), join(dir, 'x.bin'), '2'], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(child.status, 0, child.stderr);
      const threaded = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as number[];
      const [single] = await runTflite(bytes, [x.data]);
      assertClose(new Tensor([1, 6], Float32Array.from(threaded)), new Tensor([1, 6], single as Float32Array), 1e-5, 'threaded');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TFLite float16 weights', () => {
  it('a MobileNetV2 written with float16 weights: half the size, LiteRT.js and our import of it agree within 1e-5', async () => {
    const model = randomiseWeights(mobilenetV2({ alpha: 0.35, resolution: 32, classes: 5 }), 8);
    const x = randomBatch([1, 32, 32, 3], 2);
    const full = encodeTflite(model);
    const half = encodeTflite(model, { weights: 'float16' });
    assert.ok(half.length < 0.6 * full.length, `${half.length} bytes against ${full.length}`);
    const [litert] = await runTflite(half, [x.data]);
    const back = importTflite(half, 'half.tflite').model as Model;
    const ours = back.predict(x);
    assertClose(ours, new Tensor(ours.shape, litert as Float32Array), 1e-5, 'float16 weights');
    // and the rounding to float16 is real: the float32 model differs from it by more than float32 noise
    assert.ok(relativeError(ours, model.predict(x)) > 1e-5);
  });

  it('float16 conversion: rounding to nearest even, subnormals, overflow', () => {
    // hand-worked bit patterns of IEEE binary16
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.1, 0x2e66], [-0, 0x8000]];
    for (const [v, bits] of cases) assert.equal(halfBits(v), bits, `${v}`);
  });
});

describe('TFLite reader: typed errors', () => {
  const bytes = encodeTflite(randomiseWeights(mobilenetV1({ alpha: 0.25, resolution: 32, classes: 3 }), 1));

  it('a truncated file', () => {
    for (const length of [0, 7, 100, bytes.length >> 1, bytes.length - 9]) {
      assert.throws(() => decodeTflite(bytes.subarray(0, length), 'cut.tflite'), (e: unknown) => e instanceof FormatError && /cut\.tflite/.test(e.message), `${length} bytes`);
    }
  });

  it('a file that is not TFLite', () => {
    const other = bytes.slice();
    other.set([0x4f, 0x4e, 0x4e, 0x58], 4);
    assert.throws(() => decodeTflite(other, 'x.tflite'), /not a TFLite file \(file identifier "ONNX"/);
  });

  it('a root offset that lies', () => {
    const lying = bytes.slice();
    new DataView(lying.buffer).setUint32(0, bytes.length + 40, true);
    assert.throws(() => decodeTflite(lying, 'lying.tflite'), (e: unknown) => e instanceof FormatError && /outside the file/.test(e.message));
  });

  it('an unknown op is named with its index; a buffer out of range, a tensor index out of range', () => {
    assert.equal(decodeTflite(rawModel({ builtinCode: 14 })).subgraphs[0].operators[0].op, 'LOGISTIC');
    assert.throws(() => decodeTflite(rawModel({ builtinCode: 28 }), 't.tflite'), /t\.tflite: subgraph 0 operator 0 is builtin operator 28, which mobilenet-ts does not run/);
    assert.throws(() => decodeTflite(rawModel({ builtinCode: 14, buffer: 7 }), 'b.tflite'), /b\.tflite: tensor 1 \(y\): buffer 7 is out of range \(the model has 1 buffers\)/);
    assert.throws(() => decodeTflite(rawModel({ builtinCode: 14, output: 5 }), 'o.tflite'), /output names tensor 5, but subgraph 0 has 2 tensors/);
  });
});

/**
 * A model written field by field with the flatbuffers Builder (slots as schema.fbs declares them): tensors x and y,
 * one operator of `builtinCode` from x to `output`, y in `buffer`; one (empty) buffer.
 */
function rawModel(o: { builtinCode: number; buffer?: number; output?: number }): Uint8Array {
  const b = new Builder(256);
  const ints = (values: number[]): number => {
    b.startVector(4, values.length, 4);
    for (const v of [...values].reverse()) b.addInt32(v);
    return b.endVector();
  };
  const offsets = (values: number[]): number => {
    b.startVector(4, values.length, 4);
    for (const v of [...values].reverse()) b.addOffset(v);
    return b.endVector();
  };
  const tensor = (name: string, buffer: number): number => {
    const n = b.createString(name);
    const shape = ints([1, 4]);
    b.startObject(4);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt32(2, buffer, 0);
    b.addFieldOffset(3, n, 0);
    return b.endObject();
  };
  const tensors = offsets([tensor('x', 0), tensor('y', o.buffer ?? 0)]);
  const opInputs = ints([0]);
  const opOutputs = ints([o.output ?? 1]);
  b.startObject(3);
  b.addFieldInt32(0, 0, null);
  b.addFieldOffset(1, opInputs, 0);
  b.addFieldOffset(2, opOutputs, 0);
  const operators = offsets([b.endObject()]);
  const graphInputs = ints([0]);
  const graphOutputs = ints([1]);
  b.startObject(4);
  b.addFieldOffset(0, tensors, 0);
  b.addFieldOffset(1, graphInputs, 0);
  b.addFieldOffset(2, graphOutputs, 0);
  b.addFieldOffset(3, operators, 0);
  const graphs = offsets([b.endObject()]);
  b.startObject(4);
  b.addFieldInt8(0, Math.min(o.builtinCode, 127), 0);
  b.addFieldInt32(3, o.builtinCode, 0);
  const codes = offsets([b.endObject()]);
  b.startObject(1);
  const buffers = offsets([b.endObject()]);
  b.startObject(5);
  b.addFieldInt32(0, 3, 0);
  b.addFieldOffset(1, codes, 0);
  b.addFieldOffset(2, graphs, 0);
  b.addFieldOffset(4, buffers, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}
