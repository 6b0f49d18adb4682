// TF.js graph models written by hand for tests, as the TF.js converter lays them out (GraphDef nodes, Consts in a
// weights manifest, the signature's output), and tfjs-converter executing them: the reference our importer is checked against.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import type { TfjsModelJson } from '../../src/io/tfjs/layers-model.js';
import type { TfjsWeightEntry } from '../../src/io/tfjs/weights-manifest.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { concatBytes } from './tfjs-reference.js';

export interface GraphFiles {
  modelJson: TfjsModelJson;
  shards: Map<string, Uint8Array>;
}

/** Runs a graph model with tfjs-converter (CPU backend), as `tf.loadGraphModel` would from these files; `outputs` names nodes to fetch. */
async function executeTfjs(files: GraphFiles, x: Tensor, outputs?: string[]): Promise<Tensor[]> {
  await tf.setBackend('cpu');
  const model = await loadGraphModel({
    load: async () => ({
      modelTopology: files.modelJson.modelTopology,
      weightSpecs: files.modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
      weightData: concatBytes(files.modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => files.shards.get(p)!))).buffer,
      format: 'graph-model',
      userDefinedMetadata: files.modelJson.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    }),
  });
  const input = tf.tensor(x.data, [...x.shape]);
  const out = model.execute(input, outputs);
  const list = Array.isArray(out) ? out : [out];
  const results = list.map((t) => new Tensor(t.shape, t.dataSync() as Float32Array));
  tf.dispose([input, ...list]);
  model.dispose();
  return results;
}

/** The graph model's (one) output as tfjs-converter computes it. */
export async function runTfjs(files: GraphFiles, x: Tensor): Promise<Tensor> {
  return (await executeTfjs(files, x))[0];
}

/** The named nodes' outputs as tfjs-converter computes them. */
export async function runTfjsOutputs(files: GraphFiles, x: Tensor, outputs: string[]): Promise<Record<string, Tensor>> {
  const results = await executeTfjs(files, x, outputs);
  return Object.fromEntries(outputs.map((name, k) => [name, results[k]]));
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
export const ints = (...v: number[]): Record<string, unknown> => ({ list: { i: v.map(String) } });
export const str = (s: string): Record<string, unknown> => ({ s: b64(s) });
export const strs = (...v: string[]): Record<string, unknown> => ({ list: { s: v.map(b64) } });
export const NHWC = str('NHWC');
export const FLOAT = { type: 'DT_FLOAT' };

export class GraphWriter {
  readonly nodes: Record<string, unknown>[] = [];
  private readonly weights: { entry: TfjsWeightEntry; bytes: Uint8Array }[] = [];
  private readonly rng: Random;

  constructor(seed: number) {
    this.rng = new Random(seed);
  }

  node(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    this.nodes.push({ name, op, input, attr: { T: FLOAT, ...attr } });
    return name;
  }

  /** A float32 Const of random values in [lo, hi). */
  random(name: string, shape: number[], lo = -0.5, hi = 0.5): string {
    const data = this.rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), lo, hi);
    return this.constant(name, shape, data);
  }

  constant(name: string, shape: number[], data: Float32Array | Int32Array): string {
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    this.weights.push({ entry: { name, shape, dtype }, bytes: new Uint8Array(data.buffer.slice(0)) });
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } });
    return name;
  }

  ints(name: string, values: number[]): string {
    return this.constant(name, [values.length], Int32Array.from(values));
  }

  /** The model.json and shard, the signature naming `outputs`. */
  files(...outputs: string[]): GraphFiles {
    return {
      modelJson: {
        format: 'graph-model',
        generatedBy: '2.15.0',
        convertedBy: 'hand-written (test/io/tfjs-graph-model.test.ts)',
        modelTopology: { node: this.nodes, versions: { producer: 1395 } },
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: this.weights.map((w) => w.entry) }],
        userDefinedMetadata: { signature: { outputs: Object.fromEntries(outputs.map((output) => [`${output}:0`, { name: `${output}:0` }])) } },
      },
      shards: new Map([['group1-shard1of1.bin', concatBytes(this.weights.map((w) => w.bytes))]]),
    };
  }
}
