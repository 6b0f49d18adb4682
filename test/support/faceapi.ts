// face-api (@vladmandic/face-api, a dev dependency) as the reference of the face-detector tests and a benchmark peer:
// its CommonJS build for Node on TF.js's cpu or wasm backend, typed by the parts used here, its SSD weights loaded.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Tfjs from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

export interface FaceApiDetection {
  score: number;
  /** In pixels of the input image. */
  box: { x: number; y: number; width: number; height: number };
}

export interface FaceApiNetInput {
  toBatchTensor(inputSize: number, isCenterInputs: boolean): Tfjs.Tensor4D;
}

/** The parts of face-api these tests and benchmarks use, typed against the TF.js it runs on. */
export interface FaceApi {
  tf: typeof Tfjs;
  /** The TF.js backend in use, and XNNPACK's thread count on wasm (1 elsewhere). */
  backend: string;
  threads: number;
  NetInput: new (inputs: Tfjs.Tensor3D[]) => FaceApiNetInput;
  SsdMobilenetv1Options: new (options: { minConfidence?: number; maxResults?: number }) => object;
  detectAllFaces(input: Tfjs.Tensor3D, options: object): PromiseLike<FaceApiDetection[]>;
  nets: {
    ssdMobilenetv1: {
      /** Decoded boxes (not clipped) and sigmoid face scores of every anchor, per batch item. */
      forwardInput(input: FaceApiNetInput): { boxes: Tfjs.Tensor2D[]; scores: Tfjs.Tensor1D[] };
      params?: { output_layer: { extra_dim: Tfjs.Tensor3D } };
    };
  };
}

/** The folder of face-api's shipped weights, or null when face-api is not installed. */
export function faceApiModelFolder(): string | null {
  try {
    return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  } catch {
    return null;
  }
}

/** The SSD-MobileNetV1 manifest's file name; its .bin lies beside it. */
export const FACEAPI_SSD_MANIFEST = 'ssd_mobilenetv1_model-weights_manifest.json';

/**
 * face-api on TF.js's `backend` with its SSD-MobileNetV1 weights loaded from its package (decoded by TF.js). On wasm,
 * `threads` goes to `setThreadsCount`; TF.js runs wasm on one thread in Node whatever it is asked (`threads` says).
 */
export async function loadFaceApi(backend: 'cpu' | 'wasm', threads = 1): Promise<FaceApi> {
  const folder = faceApiModelFolder();
  if (folder === null) throw new Error('face-api is not installed (dev dependency @vladmandic/face-api)');
  const tf = require('@tensorflow/tfjs') as typeof Tfjs;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as Omit<FaceApi, 'tf' | 'backend' | 'threads'> & {
    nets: { ssdMobilenetv1: { loadFromWeightMap(weights: Tfjs.NamedTensorMap): void } };
  };
  if (backend === 'wasm') {
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    wasm.setThreadsCount(threads);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
  const manifest = JSON.parse(readFileSync(join(folder, FACEAPI_SSD_MANIFEST), 'utf8')) as { paths: string[]; weights: Parameters<typeof tf.io.decodeWeights>[1] }[];
  const bin = readFileSync(join(folder, manifest[0].paths[0]));
  api.nets.ssdMobilenetv1.loadFromWeightMap(tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights));
  const { NetInput, SsdMobilenetv1Options, nets } = api;
  return { tf, backend, threads: backend === 'wasm' ? wasm.getThreadsCount() : 1, NetInput, SsdMobilenetv1Options, nets, detectAllFaces: (input, options) => api.detectAllFaces(input, options) };
}
