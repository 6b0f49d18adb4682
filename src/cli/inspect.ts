// `mobilenet inspect FILE`: the format, metadata, layers, output shapes, parameters and multiply-adds of a
// model in any format the library reads, as a table or JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatSummary } from '../cost/format.js';
import { UsageError } from '../errors.js';
import { loadAnyModel } from '../node/any-model.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, parse } from './args.js';
import type { CommandIO } from './io.js';

export const INSPECT_HELP = `mobilenet inspect FILE [--json] [architecture flags]
The format (detected by magic bytes and extension), its metadata, class names and preprocessing, then per layer
the output shape, parameters and multiply-adds, with totals, of a model in any format \`mobilenet convert\`
reads. Weights-only files are built from the architecture flags (α and classes inferred from torchvision weights).
${ARCHITECTURE_HELP}
  --json                             machine-readable output`;

export async function inspectCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parse(argv, { ...ARCHITECTURE_FLAGS, json: { type: 'boolean' } }, 'inspect');
  if (positionals.length !== 1) throw new UsageError(`mobilenet inspect: give one model file, got ${positionals.length} (see mobilenet inspect --help)`);
  const { arch, options } = architectureFlags(values);
  const file = positionals[0];
  const loaded = await loadAnyModel(file, { ...options, arch });
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
  if (loaded.classNames) io.out(`Classes (${loaded.classNames.length}): ${loaded.classNames.slice(0, 20).join(', ')}${loaded.classNames.length > 20 ? ', …' : ''}`);
  if (loaded.preprocessing) io.out(`Preprocessing: ${JSON.stringify(loaded.preprocessing)}`);
  for (const note of loaded.notes) io.out(`Note: ${note}`);
  io.out(formatSummary(cost));
}
