// What each fuzzed format's input goes through (the library's public decoder for it), with its time limit
// and allocation bound: a multiple of the input's size plus a small constant, so a lying length is caught.

import { decodeIdx } from '../../src/data/idx.js';
import { decodeImage } from '../../src/data/image.js';
import { ExternalDataError } from '../../src/io/onnx/errors.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { decodeInt8ModelFile } from '../../src/quant/int8-file.js';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { decodeTorchStateDict } from '../../src/io/pth/torch-checkpoint.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { decodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import { importTflite } from '../../src/io/tflite/import.js';
import { decodeKerasH5Model } from '../../src/io/keras-h5/keras-h5.js';
import { decodeCheckpoint } from '../../src/train/checkpoint.js';
import { main } from '../../src/cli/cli.js';
import type { CommandIO } from '../../src/cli/io.js';
import { UsageError } from '../../src/errors.js';
import { MAX_MODEL_PARAMETERS } from '../../src/models/registry.js';
import type { FuzzTarget } from './oracle.js';
import type { FuzzFormat } from './seeds.js';
import { unpackTfjs } from './seeds.js';

const MiB = 1024 * 1024;

/** Decoding may expand (uint8 → float32, fp16 → fp32, building the model the file describes): this many bytes per input byte. */
const EXPANSION = 64;
/** Deflate's largest expansion, for compressed inputs, times the float32 conversion that may follow. */
const INFLATE = 1032 * 4;

const bounded = (perByte: number, constant = 4 * MiB) => (size: number): number => perByte * size + constant;

const quiet: CommandIO = { out: () => {}, err: () => {}, isTTY: false };

function cliArgs(bytes: Uint8Array): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new UsageError('fuzz input is not a JSON list of arguments'); // the harness's framing, not the CLI's
  }
  if (!Array.isArray(argv)) throw new UsageError('fuzz input is not a JSON list of arguments');
  return argv.map(String);
}

/** Commands that could run for minutes on valid arguments (benchmarks, the demo) are not fuzzed. */
const SLOW_COMMANDS = new Set(['bench', 'demo']);

export const TARGETS: Record<FuzzFormat, FuzzTarget> = {
  npy: { run: (b) => decodeNpy(b, 'fuzz.npy'), allocationBound: bounded(EXPANSION), timeLimitMs: 2000 },
  safetensors: { run: (b) => decodeSafetensors(b, 'fuzz.safetensors'), allocationBound: bounded(EXPANSION), timeLimitMs: 2000 },
  'model-file': { run: (b) => decodeModelFile(b, 'fuzz.safetensors'), allocationBound: bounded(EXPANSION), timeLimitMs: 3000 },
  'int8-model': { run: (b) => decodeInt8ModelFile(b, 'fuzz-int8.safetensors'), allocationBound: bounded(EXPANSION), timeLimitMs: 3000 },
  checkpoint: { run: (b) => decodeCheckpoint(b, 'checkpoint.safetensors'), allocationBound: bounded(EXPANSION), timeLimitMs: 3000 },
  onnx: {
    run: (b) =>
      decodeOnnx(b, {
        source: 'fuzz.onnx',
        externalData: (location) => {
          throw new ExternalDataError(`fuzz: no external data (${location})`, location);
        },
      }),
    allocationBound: bounded(EXPANSION),
    timeLimitMs: 3000,
  },
  tfjs: {
    run: (b) => {
      const { modelJson, shard } = unpackTfjs(b);
      return decodeTfjsLayersModel(modelJson, () => shard, { source: 'fuzz/model.json' });
    },
    allocationBound: bounded(EXPANSION),
    timeLimitMs: 3000,
  },
  'keras-h5': { run: (b) => decodeKerasH5Model(b, { source: 'fuzz.h5' }), allocationBound: bounded(EXPANSION, 16 * MiB), timeLimitMs: 5000 },
  pth: { run: (b) => decodeTorchStateDict(b, { source: 'fuzz.pth' }), allocationBound: bounded(INFLATE), timeLimitMs: 3000 },
  idx: { run: (b) => decodeIdx(b, 'fuzz-idx'), allocationBound: bounded(8), timeLimitMs: 2000 },
  'idx-gz': { run: (b) => decodeIdx(b, 'fuzz-idx.gz'), allocationBound: bounded(INFLATE * 2), timeLimitMs: 2000 },
  png: { run: (b) => decodeImage(b, { source: 'fuzz.png' }), allocationBound: bounded(INFLATE * 4), timeLimitMs: 3000 },
  jpeg: { run: (b) => decodeImage(b, { source: 'fuzz.jpg' }), allocationBound: bounded(1024 * 4 * 4), timeLimitMs: 3000 },
  tflite: { run: (b) => importTflite(b, 'fuzz.tflite'), allocationBound: bounded(EXPANSION), timeLimitMs: 3000 },
  cli: {
    run: async (b) => {
      const argv = cliArgs(b);
      if (SLOW_COMMANDS.has(argv[0] ?? '')) return 0;
      return main(argv, quiet);
    },
    // no file: the bound is the largest network the builders accept (MAX_MODEL_PARAMETERS float32 values)
    allocationBound: () => 4 * MAX_MODEL_PARAMETERS + 64 * MiB,
    timeLimitMs: 5000,
  },
};
