// `mobilenet inspect FILE`: the format, metadata, layers, output shapes, parameters and multiply-adds of a
// model in any format the library reads, as a table or JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatSummary } from '../cost/format.js';
import { UsageError } from '../errors.js';
import { loadAnyModel } from '../node/any-model.js';
import { readBytes } from '../node/files.js';
import { INT8_FILE_FORMAT } from '../io/model-file.js';
import { decodeSafetensorsMetadata } from '../io/safetensors.js';
import { convKind } from '../ops/conv-kind.js';
import type { Step } from '../graph/plan.js';
import { decodeInt8ModelFile } from '../quant/int8-file.js';
import type { LoadedInt8Model } from '../quant/int8-file.js';
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
  if (file.toLowerCase().endsWith('.safetensors')) {
    const bytes = await readBytes(file);
    if (decodeSafetensorsMetadata(bytes, file).format === INT8_FILE_FORMAT) {
      inspectInt8(file, decodeInt8ModelFile(bytes, file), values.json === true, io);
      return;
    }
  }
  const loaded = await loadAnyModel(file, { ...options, arch });
  printNotes(io, loaded.notes);
  const cost = modelCost(loaded.model);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          file,
          format: loaded.format,
          metadata: loaded.metadata,
          modelMetadata: loaded.model.metadata,
          classNames: loaded.classNames ?? null,
          preprocessing: loaded.preprocessing ?? null,
          notes: loaded.notes,
          outputShape: loaded.model.outputShape,
          ...cost,
        },
        null,
        2,
      ),
    );
    return;
  }
  io.out(`File: ${file}   format: ${loaded.format}`);
  for (const [k, v] of Object.entries(loaded.metadata)) if (v !== undefined) io.out(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  printConventions(loaded, io);
  io.out(formatSummary(cost));
}

/** What int8 steps compute, in the float steps' words. */
const INT8_NAMES: Partial<Record<Step['op'], string>> = { qdense: 'dense', qadd: 'add', qglobalAvgPool: 'globalAvgPool', qavgPool: 'avgPool' };

/** An int8 model file: per step of its plan what runs it, its kernel and weight bytes, and the int8 parameters of its input and output. */
function inspectInt8(file: string, loaded: LoadedInt8Model, json: boolean, io: CommandIO): void {
  const { quantized: q } = loaded;
  const { tensors } = q.plan;
  const steps = q.plan.steps.map((s) => {
    const kernel = s.op === 'qconv' || s.op === 'conv' ? s.kernelShape : null;
    const stages = s.op === 'qchain' ? s.stages : s.op === 'qconv' || s.op === 'qdense' ? [s] : [];
    const int8Bytes = stages.reduce((n, st) => n + st.kernel.length + 4 * (st.bias.length + st.requant.multiplier.length), 0);
    const bytes = s.op === 'conv' || s.op === 'dense' ? 4 * (s.kernel.length + s.bias.length) : int8Bytes;
    const what = s.op === 'qconv' ? convKind(s.kernelShape, s.conv) : s.op === 'qchain' ? `chain of ${s.stages.length}` : (INT8_NAMES[s.op] ?? s.op);
    const runs = tensors[s.output].quant ? `int8 ${what}` : s.op === 'dequantize' ? 'dequantize' : `float32 ${s.op}`;
    return { layer: s.layers[0], runs, kernel, weightBytes: bytes, input: tensors[s.inputs[0]].quant ?? null, output: tensors[s.output].quant ?? null };
  });
  if (json) {
    io.out(JSON.stringify({ file, format: INT8_FILE_FORMAT, architecture: loaded.architecture, classNames: loaded.classNames ?? null, preprocessing: loaded.preprocessing ?? null, extra: loaded.extra ?? null, weightBytes: q.weightBytes(), steps }, null, 2));
    return;
  }
  io.out(`File: ${file}   format: ${INT8_FILE_FORMAT}   architecture: ${loaded.architecture}`);
  printConventions(loaded, io);
  const p = (v: { scale: number; zeroPoint: number } | null): string => (v ? `${v.scale.toPrecision(4)} @ ${v.zeroPoint}` : 'float32');
  io.out(`${'layer'.padEnd(28)}${'runs'.padEnd(24)}${'kernel'.padEnd(18)}${'weights'.padStart(10)}  ${'input scale @ zero'.padEnd(20)}output scale @ zero`);
  for (const s of steps) io.out(`${s.layer.padEnd(28)}${s.runs.padEnd(24)}${(s.kernel ? s.kernel.join('×') : '').padEnd(18)}${String(s.weightBytes).padStart(10)}  ${p(s.input).padEnd(20)}${p(s.output)}`);
  io.out(`Weights: ${q.weightBytes()} bytes; float32 steps: ${q.floatLayers().join(', ') || 'none'}`);
}

/** The class names and preprocessing a file stores, or that it stores none (eval and classify then take flags). */
function printConventions({ classNames, preprocessing }: { classNames?: string[]; preprocessing?: PreprocessOptions }, io: CommandIO): void {
  io.out(classNames ? `Classes (${classNames.length}): ${classNames.slice(0, 20).join(', ')}${classNames.length > 20 ? ', …' : ''}` : 'Classes: none stored');
  io.out(`Preprocessing: ${preprocessing ? JSON.stringify(preprocessing) : 'none stored'}`);
}
