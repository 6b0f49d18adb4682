// Command-line parsing on Node's built-in `util.parseArgs`, with typed errors for unknown flags
// and bad values, and the architecture flags shared by several commands.

import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import type { ArchitectureOptions } from '../models/registry.js';
import { ARCHITECTURES, isArchitecture } from '../models/registry.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/**
 * Parses `argv` strictly. Arguments besides flags (operands: files, images) are errors unless the command
 * `takesOperands`. A value that looks like a negative number (`--alpha -1`) is the flag's value,
 * so that the flag's own check can judge it.
 */
export function parse(argv: string[], options: OptionSpec, command: string, takesOperands = false): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    const { values, positionals } = parseArgs({ args: withNegativeValues(argv, options), options, strict: true, allowPositionals: true });
    parsed = { values: values as Values, positionals };
  } catch (e) {
    // node's messages run over several lines, and suggest `--` for operands most commands do not take
    const message = (e instanceof Error ? e.message : String(e)).replace(/\. To specify a positional argument.*$/s, '').replace(/\n/g, ' ');
    throw new UsageError(`${message} (see mobilenet ${command} --help)`);
  }
  const stray = parsed.positionals[0];
  if (!takesOperands && stray !== undefined) {
    const hint = isArchitecture(stray) ? `; did you mean --arch ${stray}?` : '';
    throw new UsageError(`unexpected argument ${JSON.stringify(stray)}: ${command} takes flags only${hint} (see mobilenet ${command} --help)`);
  }
  return parsed;
}

const NEGATIVE_NUMBER = /^-(?:\d|\.\d)/;

/** `--name -1` as `--name=-1` for string flags, which parseArgs would otherwise call ambiguous. */
function withNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && Object.hasOwn(options, name) && options[name].type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** What a number flag accepts, and how its error names that. */
export interface NumberRule {
  readonly accepts: (v: number) => boolean;
  readonly what: string;
}

const ANY_NUMBER: NumberRule = { accepts: Number.isFinite, what: 'a number' };
export const INTEGER: NumberRule = { accepts: Number.isInteger, what: 'an integer' };
export const POSITIVE_INTEGER: NumberRule = { accepts: (v) => Number.isInteger(v) && v >= 1, what: 'a positive integer' };
export const NON_NEGATIVE_INTEGER: NumberRule = { accepts: (v) => Number.isInteger(v) && v >= 0, what: 'a non-negative integer' };
export const POSITIVE: NumberRule = { accepts: (v) => Number.isFinite(v) && v > 0, what: 'a number > 0' };
export const NON_NEGATIVE: NumberRule = { accepts: (v) => Number.isFinite(v) && v >= 0, what: 'a number ≥ 0' };

/** A number flag's value, undefined when it is not given; a value the rule refuses is a UsageError naming the flag. */
export function numberFlag(values: Values, name: string, rule: NumberRule = ANY_NUMBER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!rule.accepts(v)) throw new UsageError(`--${name} must be ${rule.what}, got ${typeof raw === 'string' && raw.trim() !== '' ? raw : JSON.stringify(raw)}`);
  return v;
}

/** Numbers separated by commas (`--mean 0.485,0.456,0.406`), undefined when the flag is not given. */
export function numberListFlag(values: Values, name: string): number[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const list = String(raw).split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (!list.every(Number.isFinite)) throw new UsageError(`--${name} must be numbers separated by commas, got ${String(raw)}`);
  return list;
}

/** Names separated by commas (`--keep-float a,b`; empty items dropped), none when the flag is not given. */
export function listFlag(values: Values, name: string): string[] {
  const raw = values[name];
  return typeof raw === 'string' ? raw.split(',').filter((item) => item !== '') : [];
}

/** A string flag the command cannot do without; `metavar` names its value in the error (`--data DIR is required`). */
export function requiredFlag(values: Values, name: string, command: string, metavar?: string): string {
  const raw = values[name];
  if (typeof raw !== 'string') throw new UsageError(`--${name}${metavar ? ` ${metavar}` : ''} is required (see mobilenet ${command} --help)`);
  return raw;
}

export function stringFlag<T extends string>(values: Values, name: string, allowed: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

/** Flags that choose and shape an architecture. */
export const ARCHITECTURE_FLAGS: OptionSpec = {
  arch: { type: 'string' },
  alpha: { type: 'string' },
  resolution: { type: 'string' },
  classes: { type: 'string' },
  'input-channels': { type: 'string' },
  'depth-multiplier': { type: 'string' },
  convention: { type: 'string' },
  'no-top': { type: 'boolean' },
  pooling: { type: 'string' },
  'stem-stride': { type: 'string' },
};

export const ARCHITECTURE_HELP = `  --arch mobilenet_v2|mobilenet_v1   architecture (default mobilenet_v2)
  --alpha A                          width multiplier α > 0 (default 1.0)
  --resolution R | HxW               input size (default 224)
  --classes K                        classifier outputs (default 1000)
  --input-channels C                 3 for RGB, 1 for grey (default 3)
  --depth-multiplier D               MobileNetV1 depthwise multiplier (default 1)
  --convention torchvision|keras     padding, BN epsilon and rounding rules
  --no-top                           no classifier: pooled features (or --pooling none: the feature map)
  --pooling avg|max|none             global pooling after the last conv
  --stem-stride 1|2                  MobileNetV2 stem stride (default 2; 1 suits 28×28 inputs)`;

export function architectureFlags(values: Values): { arch: string; options: ArchitectureOptions } {
  const arch = (values.arch as string | undefined) ?? 'mobilenet_v2';
  if (!isArchitecture(arch)) throw new UsageError(`--arch must be one of ${ARCHITECTURES.join(', ')}, got ${JSON.stringify(arch)}`);
  const options: ArchitectureOptions = {};
  const alpha = numberFlag(values, 'alpha', POSITIVE);
  if (alpha !== undefined) options.alpha = alpha;
  const resolution = values.resolution;
  if (resolution !== undefined) {
    const m = /^(\d+)(?:x(\d+))?$/.exec(String(resolution));
    if (!m) throw new UsageError(`--resolution must be a size like 224 or 192x256, got ${JSON.stringify(resolution)}`);
    options.resolution = m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
  }
  const classes = numberFlag(values, 'classes', POSITIVE_INTEGER);
  if (classes !== undefined) options.classes = classes;
  const channels = numberFlag(values, 'input-channels', POSITIVE_INTEGER);
  if (channels !== undefined) options.inputChannels = channels;
  const dm = numberFlag(values, 'depth-multiplier', POSITIVE_INTEGER);
  if (dm !== undefined) options.depthMultiplier = dm;
  const convention = stringFlag(values, 'convention', ['torchvision', 'keras'] as const);
  if (convention) options.convention = convention;
  if (values['no-top']) options.includeTop = false;
  const pooling = stringFlag(values, 'pooling', ['avg', 'max', 'none'] as const);
  if (pooling) options.pooling = pooling === 'none' ? null : pooling;
  const stemStride = numberFlag(values, 'stem-stride', { accepts: (v) => v === 1 || v === 2, what: '1 or 2' });
  if (stemStride !== undefined && arch !== 'mobilenet_v2') throw new UsageError(`--stem-stride applies to mobilenet_v2, not ${arch}`);
  if (stemStride !== undefined) options.stemStride = stemStride;
  return { arch, options };
}
