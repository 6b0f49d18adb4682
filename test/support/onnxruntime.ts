// onnxruntime-node from the benchmark's peer packages (bench/peers), when they are installed: the independent
// runtime the ONNX export tests run our files in; `ort` is null where it is not installed (tests skip with a reason).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from './helpers.js';

const peers = join(FIXTURES, '..', '..', 'bench', 'peers');
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array): Promise<{ run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>; release(): Promise<void> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}
export const ort: Ort | null = existsSync(join(peers, 'node_modules', 'onnxruntime-node', 'package.json')) ? (createRequire(join(peers, 'package.json'))('onnxruntime-node') as Ort) : null;
/** Runs ONNX bytes in onnxruntime-node on one float input; returns the named output. */
export async function runOrt(bytes: Uint8Array, x: Tensor, input = 'input', output = 'output'): Promise<Tensor> {
  const session = await ort!.InferenceSession.create(bytes);
  try {
    const result = (await session.run({ [input]: new ort!.Tensor('float32', x.data, x.shape) }))[output];
    return new Tensor(result.dims, result.data as Float32Array);
  } finally {
    await session.release();
  }
}
