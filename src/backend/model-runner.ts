// One way to run whatever a model file decodes to (a float Model or a plan: an int8 model): the WebAssembly engine
// where SIMD validates, the reference kernels otherwise; what the CLI and the page hand every loaded model to.

import { ConfigError } from '../errors.js';
import { Model } from '../graph/model.js';
import type { PlannedModel } from '../graph/plan.js';
import { toLayout } from '../tensor/tensor.js';
import type { Layout, Tensor } from '../tensor/tensor.js';
import { runPlanOutputs } from './plan-reference.js';
import { WasmEngine } from './wasm/engine.js';

/** Batches in, outputs out, on whichever kernels run the model. */
export interface Runner {
  /** The first (or only) output of an NHWC batch. */
  predict(x: Tensor): Tensor;
  /** Every output by name; a batch in NCHW (`layout`) gives rank-4 outputs in NCHW too. */
  predictOutputs(x: Tensor, options?: { layout?: Layout }): Record<string, Tensor>;
  /** What runs it, for people: "wasm", "reference". */
  engine: string;
  /** Why the engine is not the fast one, where that is worth telling. */
  notes: string[];
  /** The WebAssembly engine, when it runs the model. */
  wasm: WasmEngine | null;
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  /** Worker threads of the engine (default 1). */
  threads?: number;
  /** The reference kernels even where the engine runs. */
  reference?: boolean;
  /** Row-streamed inverted residuals of a float model (default true). */
  fuseBlocks?: boolean;
}

/** Every output of a model or a plan, by name, on the reference kernels. */
function referenceOutputs(model: Model | PlannedModel, x: Tensor, layout: Layout): Record<string, Tensor> {
  if (model instanceof Model) return model.predictOutputs(x, { layout });
  const outputs = runPlanOutputs(model.plan, x.rank === 4 ? toLayout(x, layout, 'NHWC') : x);
  return Object.fromEntries(model.outputNames.map((name, k) => [name, outputs[k].rank === 4 ? toLayout(outputs[k], 'NHWC', layout) : outputs[k]]));
}

/**
 * A float model or a plan on the WebAssembly engine where SIMD validates; on the reference kernels when asked, without
 * SIMD, or for a plan with steps the engine has no kernel for (said in `notes`).
 */
export async function modelRunner(model: Model | PlannedModel, options: RunnerOptions = {}): Promise<Runner> {
  const notes: string[] = [];
  if (WasmEngine.supported() && !options.reference) {
    try {
      const wasm = await WasmEngine.create(model, { threads: options.threads ?? 1, fuseBlocks: options.fuseBlocks });
      const predictOutputs = (x: Tensor, o: { layout?: Layout } = {}): Record<string, Tensor> => wasm.predictOutputs(x, o);
      return { predict: (x) => Object.values(predictOutputs(x))[0], predictOutputs, engine: 'wasm', notes, wasm, dispose: () => wasm.dispose() };
    } catch (e) {
      if (model instanceof Model || !(e instanceof ConfigError)) throw e;
      notes.push(`${e.message}: the plan runs on the reference kernels`);
    }
  }
  const predictOutputs = (x: Tensor, o: { layout?: Layout } = {}): Record<string, Tensor> => referenceOutputs(model, x, o.layout ?? 'NHWC');
  return { predict: (x) => Object.values(predictOutputs(x))[0], predictOutputs, engine: 'reference', notes, wasm: null, dispose: async () => {} };
}
