// The independent reference for the TF.js and Keras tests: @tensorflow/tfjs-layers on the CPU backend, with
// in-memory IOHandlers that save a model to model.json + shard bytes and load one back from them.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { TfjsModelJson } from '../../src/io/tfjs/layers-model.js';
import type { TfjsWeightGroup } from '../../src/io/tfjs/weights-manifest.js';

export { tf, tfl };

export async function ready(): Promise<void> {
  await tf.setBackend('cpu');
}

export interface SavedTfjs {
  modelJson: TfjsModelJson;
  shards: Map<string, Uint8Array>;
}

/** Saves a tfjs-layers model the way a converter would lay it out: model.json with one shard. */
export async function saveTfjs(model: tfl.LayersModel): Promise<SavedTfjs> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({
    save: async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  const a = artifacts!;
  const data = Array.isArray(a.weightData) ? tf.io.concatenateArrayBuffers(a.weightData) : a.weightData!;
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: a.generatedBy,
      convertedBy: a.convertedBy ?? null,
      modelTopology: a.modelTopology as Record<string, unknown>,
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs as TfjsWeightGroup['weights'] }],
      ...(a.userDefinedMetadata ? { userDefinedMetadata: a.userDefinedMetadata as Record<string, unknown> } : {}),
    },
    shards: new Map([['group1-shard1of1.bin', new Uint8Array(data)]]),
  };
}

/** Loads model.json + shards into tfjs-layers, concatenating each group's shards as its HTTP loader does. */
export async function loadTfjs(saved: SavedTfjs): Promise<tfl.LayersModel> {
  const specs = saved.modelJson.weightsManifest.flatMap((g) => g.weights);
  const data = concatBytes(saved.modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => saved.shards.get(p)!)));
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: saved.modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: specs as tf.io.WeightsManifestEntry[],
      weightData: data.buffer,
      format: 'layers-model',
      userDefinedMetadata: saved.modelJson.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    }),
  };
  return tfl.loadLayersModel(handler);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = Buffer.concat(parts);
  return new Uint8Array(joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength));
}

/** Replaces every weight with seeded random values (moving variances positive), so no weight is at its default. */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Random(seed);
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    layer.setWeights(
      weights.map((w) => {
        const data = new Float32Array(w.shape.reduce<number>((n, d) => n * (d ?? 1), 1));
        if (w.originalName.endsWith('moving_variance')) rng.fillUniform(data, 0.5, 1.5);
        else rng.fillUniform(data, -0.5, 0.5);
        return tf.tensor(data, w.shape as number[]);
      }),
    );
  }
}

/** Runs a tfjs model on our tensor and returns ours. */
export function predictTfjs(model: tfl.LayersModel, x: Tensor): Tensor {
  const out = tf.tidy(() => model.predict(tf.tensor(x.data, [...x.shape])) as tf.Tensor);
  const result = new Tensor(out.shape, out.dataSync() as Float32Array);
  out.dispose();
  return result;
}

export function randomInput(shape: number[], seed: number): Tensor {
  const t = new Tensor(shape);
  new Random(seed).fillUniform(t.data, -1, 1);
  return t;
}
