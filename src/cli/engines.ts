// Which kernels the CLI's long jobs use: the WebAssembly engine for evaluation where SIMD is available (compiled
// from the current weights), and the training backends, with the reference as the fallback.

import type { Dataset } from '../data/dataset.js';
import type { Model } from '../graph/model.js';
import { WasmEngine } from '../backend/wasm/engine.js';
import { modelRunner } from '../backend/model-runner.js';
import { createWasmTrainingBackends } from '../backend/wasm/ops-backend.js';
import type { EvaluationMetrics } from '../train/metrics.js';
import type { TrainerOptions } from '../train/trainer.js';
import { evaluate } from '../train/trainer.js';
import type { CommandIO } from './io.js';

/**
 * Evaluates through a WasmEngine compiled from the model's current weights, on `threads` threads where memory can be
 * shared (its results are the same at any count); reference kernels without SIMD.
 */
export function engineEvaluator(batchSize = 100, threads = 1): (model: Model, data: Dataset) => Promise<EvaluationMetrics> {
  return async (model, data) => {
    const runner = await modelRunner(model, { threads });
    try {
      return await evaluate(model, data, { batchSize, predict: (x) => runner.predict(x) });
    } finally {
      await runner.dispose();
    }
  };
}

export interface TrainingBackends {
  name: string;
  options: TrainerOptions;
  /** Terminates the kernels' worker threads, if any. */
  dispose(): Promise<void>;
}

/**
 * WebAssembly training kernels where SIMD validates (forward and backward) on `threads` threads where memory can be
 * shared (one otherwise, with a note), the reference kernels otherwise.
 */
export async function trainingBackends(kind: 'wasm' | 'reference', io: CommandIO, threads = 1): Promise<TrainingBackends> {
  if (kind === 'wasm' && WasmEngine.supported()) {
    const wasm = await createWasmTrainingBackends({ threads });
    if (wasm.threadsNote) io.err(`note: ${wasm.threadsNote}`);
    const name = `wasm (${wasm.relaxedSimd ? 'relaxed' : 'plain'} SIMD, ${wasm.threads} thread${wasm.threads > 1 ? 's' : ''})`;
    return { name, options: { backend: wasm.backend, gradients: wasm.gradients, scope: (body) => wasm.scope(body) }, dispose: () => wasm.dispose() };
  }
  if (kind === 'wasm') io.err('note: WebAssembly SIMD is not available here; training on the reference kernels');
  else if (threads > 1) io.err(`note: --threads ${threads} applies to the wasm kernels; the reference kernels run on one thread`);
  return { name: 'reference', options: {}, dispose: async () => {} };
}
