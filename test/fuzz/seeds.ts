// Valid seed files for the fuzzer, one small set per format, made by our own writers (and the PyTorch-made
// .pth fixtures): tiny models so that thousands of mutated inputs per minute can be decoded.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { gzipSync } from 'fflate';

import { encodeIdx } from '../../src/data/idx.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { encodeInt8ModelFile } from '../../src/quant/int8-file.js';
import { QuantizedModel } from '../../src/quant/quantized-model.js';
import { encodeNpy } from '../../src/io/npy.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { encodeTorchStateDict } from '../../src/io/pth/torch-checkpoint.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { encodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import { encodeTflite } from '../../src/io/tflite/write.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { Model } from '../../src/graph/model.js';
import { Conv2D } from '../../src/nn/conv.js';
import { input } from '../../src/nn/core.js';
import { Arithmetic, Clip, Concatenate, HardSigmoid, HardSwish, Transpose } from '../../src/nn/extra.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Random } from '../../src/tensor/random.js';
import { encodeCheckpoint } from '../../src/train/checkpoint.js';
import { createOptimizer } from '../../src/train/optimizers.js';
import type { TrainConfig, TrainerState } from '../../src/train/trainer.js';
import { FIXTURES } from '../support/helpers.js';

/** A MobileNetV2 of a few thousand parameters: every layer kind, files of a few tens of KB. */
export function tinyV2(): Model {
  return mobilenetV2({ alpha: 0.25, resolution: 32, classes: 3, blocks: [[1, 8, 1, 1], [2, 8, 2, 2]], lastChannel: 16, seed: 1 });
}

/** An imported-style graph with the layers Keras has no class for, and concat and transpose: our model file keeps it as its topology. */
export function graphBeyondKeras(): Model {
  const x = input([4, 5, 3]);
  const scaled = new Arithmetic('scale', 'mul', { side: 'right', value: new Tensor([3], new Float32Array([0.5, -2, 1 / 3])) }).apply(x);
  const shifted = new Arithmetic('shift', 'sub', { side: 'left', value: new Tensor([], new Float32Array([0.25])) }).apply(scaled);
  const clipped = new Clip('clip', -1, Infinity).apply(shifted);
  const gate = new HardSigmoid('gate', 0.2, 0.5).apply(x);
  const product = new Arithmetic('product', 'mul').apply([clipped, gate]);
  const joined = new Concatenate('joined', -1, 2).apply([product, new HardSwish('swish').apply(x)]);
  const turned = new Transpose('turned', [2, 0, 1]).apply(joined);
  const conv = new Conv2D('conv', { filters: 2, kernelSize: 1 }).apply(turned);
  return new Model(x, conv, { name: 'extended', seed: 4 });
}

function tinyV1(): Model {
  return mobilenetV1({ alpha: 0.1, resolution: 32, classes: 3, seed: 2 });
}

const CONFIG: TrainConfig = {
  epochs: 1,
  batchSize: 4,
  seed: 3,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4, excludeBatchNorm: true, excludeBias: true, excludeDepthwise: true },
  schedule: { kind: 'constant', lr: 0.01 },
  labelSmoothing: 0,
  augment: {},
  checkpointEvery: 1,
};

/** model.json and one shard in one byte string: u32 LE length of the JSON, the JSON, the shard. */
export function packTfjs(modelJson: Uint8Array, shard: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + modelJson.length + shard.length);
  new DataView(out.buffer).setUint32(0, modelJson.length, true);
  out.set(modelJson, 4);
  out.set(shard, 4 + modelJson.length);
  return out;
}

export function unpackTfjs(bytes: Uint8Array): { modelJson: Uint8Array; shard: Uint8Array } {
  const length = bytes.length >= 4 ? Math.min(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true), bytes.length - 4) : 0;
  return { modelJson: bytes.subarray(4, 4 + length), shard: bytes.subarray(4 + length) };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function tfjsSeed(model: Model): Uint8Array {
  const { modelJson, shards } = encodeTfjsLayersModel(model, { shardBytes: 1 << 30 });
  const [shard] = [...shards.values()];
  return packTfjs(text(JSON.stringify(modelJson)), shard ?? new Uint8Array(0));
}

function pngSeeds(): Uint8Array[] {
  const rgb = new Uint8Array(6 * 5 * 3).map((_, i) => (i * 37) % 256);
  const grey16 = new Uint16Array(4 * 3).map((_, i) => i * 5000);
  return [
    encodePng({ width: 6, height: 5, data: rgb, channels: 3, depth: 8 }),
    encodePng({ width: 4, height: 3, data: grey16, channels: 1, depth: 16 }),
    encodePng({ width: 3, height: 3, data: new Uint8Array(36).fill(200), channels: 4, depth: 8 }),
  ];
}

function jpegSeeds(): Uint8Array[] {
  const rgba = new Uint8Array(16 * 12 * 4).map((_, i) => (i * 53) % 256);
  return [jpeg.encode({ data: rgba, width: 16, height: 12 }, 90).data, jpeg.encode({ data: new Uint8Array(8 * 8 * 4).fill(128), width: 8, height: 8 }, 50).data];
}

function idxSeeds(): Uint8Array[] {
  const images = new Uint8Array(3 * 4 * 5).map((_, i) => i);
  return [
    encodeIdx({ dtype: 'uint8', shape: [3, 4, 5], data: images }),
    encodeIdx({ dtype: 'uint8', shape: [7], data: new Uint8Array([0, 1, 2, 3, 4, 5, 9]) }),
    encodeIdx({ dtype: 'float32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-3, 7]) }),
    encodeIdx({ dtype: 'int16', shape: [2, 2], data: new Int16Array([-1, 2, 300, -400]) }),
  ];
}

function npySeeds(): Uint8Array[] {
  const t = new Tensor([2, 3, 4], new Random(4).fillUniform(new Float32Array(24), -1, 1));
  const bytes = encodeNpy(t);
  // the same array as '<f8' in Fortran order and as big-endian int16: other dtypes and layouts
  const header = (descr: string, fortran: boolean, shape: string): string => `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const npy = (h: string, data: Uint8Array): Uint8Array => {
    const padded = h + ' '.repeat(63 - ((10 + h.length) % 64)) + '\n';
    const out = new Uint8Array(10 + padded.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(out.buffer).setUint16(8, padded.length, true);
    out.set(text(padded), 10);
    out.set(data, 10 + padded.length);
    return out;
  };
  const f8 = new Uint8Array(new Float64Array([1, 2, 3, 4, 5, 6]).buffer);
  const i2 = new Uint8Array([0, 1, 0xff, 0xfe, 0x7f, 0xff, 0x80, 0x00]);
  return [bytes, npy(header('<f8', true, '(2, 3)'), f8), npy(header('>i2', false, '(4,)'), i2), npy(header('|b1', false, '()'), new Uint8Array([1]))];
}

function pthSeeds(): Uint8Array[] {
  const dir = join(FIXTURES, 'pth');
  const files = readdirSync(dir).filter((f) => f.endsWith('.pth') && !f.startsWith('evil'));
  return [...files.map((f) => new Uint8Array(readFileSync(join(dir, f)))), encodeTorchStateDict(torchStateDict(tinyV2()))];
}

/** CLI invocations: each seed is a JSON list of arguments; paths name files that do not exist. */
function cliSeeds(): Uint8Array[] {
  const missing = '/nonexistent/mobilenet-fuzz';
  const argvs = [
    ['summary', '--arch', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '32', '--classes', '3'],
    ['summary', '--alpha', '0.35', '--resolution', '96x128', '--no-top', '--pooling', 'max', '--input-channels', '1'],
    ['infer', '--model', `${missing}/m.safetensors`, '--input', `${missing}/x.npy`, '--out', `${missing}/y.npy`],
    ['inspect', `${missing}/model.onnx`, '--json'],
    ['convert', `${missing}/a.safetensors`, `${missing}/b.onnx`],
    ['eval', '--model', `${missing}/m.safetensors`, '--data', missing, '--batch', '8'],
    ['classify', '--model', `${missing}/m.safetensors`, `${missing}/cat.png`, '--top', '3'],
    ['quantize', '--data', missing, '--out', `${missing}/q.safetensors`, '--images', '8', '--keep-float', 'conv1', '--eval'],
    ['eval', '--model', `${missing}/q.safetensors`, '--data', missing, '--limit', '10'],
    ['train', '--data', missing, '--out', `${missing}/run`, '--epochs', '2', '--batch', '16', '--lr', '0.1', '--optimizer', 'adamw'],
    ['--help'],
  ];
  return argvs.map((a) => text(JSON.stringify(a)));
}

export const FORMATS = ['npy', 'safetensors', 'model-file', 'int8-model', 'checkpoint', 'onnx', 'tfjs', 'keras-h5', 'pth', 'idx', 'idx-gz', 'png', 'jpeg', 'cli', 'tflite'] as const;
export type FuzzFormat = (typeof FORMATS)[number];

/** The valid files mutations start from, as plain Uint8Arrays (a Buffer's `slice` is a view, not a copy). */
export async function seedsFor(format: FuzzFormat): Promise<Uint8Array[]> {
  return (await writeSeeds(format)).map((b) => Uint8Array.from(b));
}

async function writeSeeds(format: FuzzFormat): Promise<Uint8Array[]> {
  switch (format) {
    case 'npy':
      return npySeeds();
    case 'safetensors': {
      const weights = tinyV2().weights();
      return [encodeSafetensors(weights, { note: 'seed' }), encodeSafetensors(new Map([['a', new Tensor([2, 2], new Float32Array([1, 2, 3, 4]))], ['b', new Tensor([0])]]))];
    }
    case 'model-file':
      return [encodeModelFile(tinyV2(), { classNames: ['a', 'b', 'c'], preprocessing: { size: [32, 32] } }), encodeModelFile(tinyV1()), encodeModelFile(graphBeyondKeras())];
    case 'int8-model': {
      const [v2, v1] = [tinyV2(), tinyV1()];
      const batch = new Tensor([2, 32, 32, 3], new Random(4).fillUniform(new Float32Array(2 * 32 * 32 * 3), -1, 1));
      return [
        encodeInt8ModelFile(v2, QuantizedModel.quantize(v2, [batch]), { classNames: ['a', 'b', 'c'] }),
        encodeInt8ModelFile(v1, QuantizedModel.quantize(v1, [batch], { keepFloat: ['conv1', 'predictions'] })),
      ];
    }
    case 'checkpoint': {
      const model = tinyV2();
      const state: TrainerState = { epoch: 0, batch: 1, step: 1, epochLossSum: 1.5, epochCorrect: 2, epochImages: 4, epochSeconds: 0.1, bestTop1: -1, bestEpoch: -1, history: [], done: false };
      return [encodeCheckpoint(model, createOptimizer(CONFIG.optimizer), state, CONFIG, { classNames: ['a', 'b', 'c'] })];
    }
    case 'onnx':
      return [encodeOnnx(tinyV2()), encodeOnnx(tinyV1(), { opset: 17 })];
    case 'tfjs':
      return [tfjsSeed(tinyV2()), tfjsSeed(tinyV1())];
    case 'keras-h5':
      // kept as files (test/support/keras-h5-writer.ts given the TF.js export of tinyV2(), and h5py's gzip-chunked
      // copy of it): HDF5 stores creation times, so freshly written seeds would change every run and fuzz runs
      // could not be replayed
      return [join(FIXTURES, 'fuzz-seeds', 'tiny-mobilenet-v2.h5'), join(FIXTURES, 'keras-h5', 'tiny-mobilenet-v2.h5py-gzip.h5')].map((f) => new Uint8Array(readFileSync(f)));
    case 'pth':
      return pthSeeds();
    case 'idx':
      return idxSeeds();
    case 'idx-gz':
      return idxSeeds().map((b) => gzipSync(b, { level: 6, mtime: 0 }));
    case 'png':
      return pngSeeds();
    case 'jpeg':
      return jpegSeeds();
    case 'cli':
      return cliSeeds();
    case 'tflite':
      return [encodeTflite(tinyV2()), encodeTflite(tinyV1())];
  }
}
