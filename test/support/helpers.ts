// Shared test helpers: loading the PyTorch-made golden fixtures and comparing tensors relative to scale.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { main } from '../../src/cli/cli.js';
import type { CommandIO } from '../../src/cli/io.js';
import { Random } from '../../src/tensor/random.js';
import { BatchNormalization } from '../../src/nn/normalization.js';
import type { Model } from '../../src/graph/model.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const GOLDEN = join(FIXTURES, 'golden');

export interface GoldenCase {
  input: Tensor;
  output: Tensor;
  weights: Map<string, Tensor>;
  info: { description: string; input_shape: number[]; output_shape: number[] };
}

export function goldenCase(name: string): GoldenCase {
  const dir = join(GOLDEN, name);
  const npy = (f: string): Tensor => decodeNpy(readFileSync(join(dir, f)), f);
  return {
    input: npy('input.npy'),
    output: npy('output.npy'),
    weights: decodeSafetensors(readFileSync(join(dir, 'weights.safetensors'))).tensors,
    info: JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')),
  };
}

export function goldenTensors(path: string): Map<string, Tensor> {
  return decodeSafetensors(readFileSync(join(GOLDEN, path))).tensors;
}

/** Largest |a − b| relative to max(1, max|expected|). */
export function relativeError(actual: Tensor, expected: Tensor): number {
  assert.deepEqual([...actual.shape], [...expected.shape], 'shapes differ');
  let scale = 1;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < actual.size; i++) {
    const d = Math.abs(actual.data[i] - expected.data[i]);
    if (!(d <= worst)) worst = d; // NaN counts as the worst
  }
  return worst / scale;
}

export function assertClose(actual: Tensor, expected: Tensor, tol: number, what = 'tensor'): void {
  const err = relativeError(actual, expected);
  assert.ok(err <= tol, `${what}: max |a − b| / max(1, max|b|) = ${err.toExponential(3)} > ${tol}`);
}

/** Gives every BN random statistics, so that folding and fusion are exercised with non-trivial numbers. */
export function randomiseBatchNorm(model: Model, seed = 5): void {
  const rng = new Random(seed);
  for (const layer of model.layers) {
    if (!(layer instanceof BatchNormalization)) continue;
    rng.fillUniform(layer.param('gamma').data, 0.5, 1.5);
    rng.fillUniform(layer.param('beta').data, -0.5, 0.5);
    rng.fillUniform(layer.param('moving_mean').data, -0.3, 0.3);
    rng.fillUniform(layer.param('moving_variance').data, 0.5, 2);
  }
}

/** A seeded batch of uniform values in [−1, 1). */
export function randomBatch(shape: number[], seed: number): Tensor {
  return new Tensor(shape, new Random(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b)), -1, 1));
}

/** Runs the CLI in this process and captures what it prints. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
