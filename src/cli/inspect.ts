// `mobilenet inspect FILE`: the format, metadata, layers, output shapes, parameters and multiply-adds of a
// model in any format the library reads, as a table or JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatSummary } from '../cost/format.js';
import { UsageError } from '../errors.js';
import { loadAnyModel } from '../node/any-model.js';
import type { AnyModel } from '../io/any-model.js';
import type { Model } from '../graph/model.js';
import { convKind } from '../ops/conv-kind.js';
import type { Plan, PlannedModel, Step } from '../graph/plan.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse } from './args.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';

export const INSPECT_HELP = `mobilenet inspect FILE [--json] [architecture flags]
The format (detected by magic bytes and extension), its metadata, class names and preprocessing, then per layer
the output shape, parameters and multiply-adds, with totals, of a model in any format \`mobilenet convert\`
reads. Weights-only files are built from the architecture flags (α and classes inferred from torchvision weights).
An int8 model file (\`mobilenet quantize\`) lists its steps: int8 or float32, kernel, weight bytes, int8 parameters.
${ARCHITECTURE_HELP}
  --json                             machine-readable output`;

export async function inspectCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parse(argv, { ...ARCHITECTURE_FLAGS, json: { type: 'boolean' } }, 'inspect', true);
  if (positionals.length !== 1) throw new UsageError(`give one model file, got ${positionals.length} (see mobilenet inspect --help)`);
  const { arch, options } = architectureFlags(values);
  const file = positionals[0];
  const loaded = await loadAnyModel(file, { ...options, arch, planned: true });
  printNotes(io, loaded.notes);
  const { model } = loaded;
  if ('plan' in model) {
    inspectPlan(file, model.plan, loaded, values.json === true, io);
    return;
  }
  const cost = modelCost(model);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          file,
          format: loaded.format,
          metadata: loaded.metadata,
          modelMetadata: model.metadata,
          classNames: loaded.classNames ?? null,
          preprocessing: loaded.preprocessing ?? null,
          notes: loaded.notes,
          outputShape: model.outputShape,
          ...cost,
        },
        null,
        2,
      ),
    );
    return;
  }
  io.out(`File: ${file}   format: ${loaded.format}`);
  printMetadata(loaded.metadata, io);
  printConventions(loaded, io);
  io.out(formatSummary(cost));
}

function printMetadata(metadata: Record<string, unknown>, io: CommandIO): void {
  for (const [k, v] of Object.entries(metadata)) if (v !== undefined) io.out(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** What int8 steps compute, in the float steps' words. */
const INT8_NAMES: Partial<Record<Step['op'], string>> = { qdense: 'dense', qadd: 'add', qglobalAvgPool: 'globalAvgPool', qavgPool: 'avgPool', qsoftmax: 'softmax' };

/**
 * A plan with no float model (an int8 model file, an int8 .tflite): per step what runs it, its kernel and weight bytes,
 * and the int8 parameters of its input and output.
 */
function inspectPlan(file: string, plan: Plan, loaded: AnyModel<Model | PlannedModel>, json: boolean, io: CommandIO): void {
  const { tensors } = plan;
  const steps = plan.steps.map((s) => {
    const kernel = s.op === 'qconv' || s.op === 'conv' ? s.kernelShape : null;
    const stages = s.op === 'qchain' ? s.stages : s.op === 'qconv' || s.op === 'qdense' ? [s] : [];
    const int8Bytes = stages.reduce((n, st) => n + st.kernel.length + 4 * (st.bias.length + st.requant.multiplier.length), 0);
    const bytes = s.op === 'conv' || s.op === 'dense' ? 4 * (s.kernel.length + s.bias.length) : int8Bytes;
    const what = s.op === 'qconv' ? convKind(s.kernelShape, s.conv) : s.op === 'qchain' ? `chain of ${s.stages.length}` : (INT8_NAMES[s.op] ?? s.op);
    const runs = tensors[s.output].quant ? `int8 ${what}` : s.op === 'dequantize' ? 'dequantize' : `float32 ${s.op}`;
    return { layer: s.layers[0], runs, kernel, weightBytes: bytes, input: tensors[s.inputs[0]].quant ?? null, output: tensors[s.output].quant ?? null };
  });
  const weightBytes = steps.reduce((n, s) => n + s.weightBytes, 0);
  const floatSteps = steps.filter((s) => s.runs.startsWith('float32')).map((s) => s.layer);
  if (json) {
    io.out(JSON.stringify({ file, format: loaded.format, metadata: loaded.metadata, classNames: loaded.classNames ?? null, preprocessing: loaded.preprocessing ?? null, extra: loaded.extra ?? null, notes: loaded.notes, weightBytes, steps }, null, 2));
    return;
  }
  io.out(`File: ${file}   format: ${loaded.format}   int8 plan`);
  printMetadata(loaded.metadata, io);
  printConventions(loaded, io);
  const p = (v: { scale: number; zeroPoint: number } | null): string => (v ? `${v.scale.toPrecision(4)} @ ${v.zeroPoint}` : 'float32');
  io.out(`${'layer'.padEnd(28)}${'runs'.padEnd(24)}${'kernel'.padEnd(18)}${'weights'.padStart(10)}  ${'input scale @ zero'.padEnd(20)}output scale @ zero`);
  for (const s of steps) io.out(`${s.layer.padEnd(28)}${s.runs.padEnd(24)}${(s.kernel ? s.kernel.join('×') : '').padEnd(18)}${String(s.weightBytes).padStart(10)}  ${p(s.input).padEnd(20)}${p(s.output)}`);
  io.out(`Weights: ${weightBytes} bytes; float32 steps: ${floatSteps.join(', ') || 'none'}`);
}

/** The class names and preprocessing a file stores, or that it stores none (eval and classify then take flags). */
function printConventions({ classNames, preprocessing }: { classNames?: string[]; preprocessing?: PreprocessOptions }, io: CommandIO): void {
  io.out(classNames ? `Classes (${classNames.length}): ${classNames.slice(0, 20).join(', ')}${classNames.length > 20 ? ', …' : ''}` : 'Classes: none stored');
  io.out(`Preprocessing: ${preprocessing ? JSON.stringify(preprocessing) : 'none stored'}`);
}
