// Shared test helpers: loading the PyTorch-made golden fixtures and comparing tensors relative to scale.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy } from '../src/io/npy.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import type { Tensor } from '../src/tensor/tensor.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
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
