// What a model file may not say, taken from flags: how its input pixels are scaled (--preprocess, --mean/--std,
// --range) and its class names (--labels); and the one line that says what a file lacks and what is assumed instead.

import { IMAGENET_CLASSES } from '../data/imagenet-classes.js';
import type { PreprocessOptions } from '../data/preprocess.js';
import { checkPreprocessOptions, describePixels, scaledValue } from '../data/preprocess.js';
import { FRAMEWORK_PIXELS, RANGE_PIXELS } from '../data/preprocess-presets.js';
import { ConfigError, FormatError, UsageError } from '../errors.js';
import { readBytes } from '../node/files.js';
import { numberListFlag } from './args.js';
import type { OptionSpec, Values } from './args.js';

export const CONVENTION_FLAGS: OptionSpec = {
  preprocess: { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  range: { type: 'string' },
  labels: { type: 'string' },
};

export const CONVENTION_HELP = `  --preprocess torchvision|keras|tf|FILE.json
                                     input pixels: torchvision: ImageNet mean/std; keras, tf: x/127.5 − 1;
                                     FILE.json: {"size": [h, w], "fit": "bilinear"|"pad", "pixels": "unit"|{"mean", "std"}}
  --mean a,b,c --std a,b,c           pixels become (x/255 − mean)/std per channel (one value: every channel)
  --range 0..1|-1..1|0..255          pixels scaled linearly onto this range
  --labels FILE|imagenet             class names: FILE has one per line, or is a JSON list; imagenet: the 1000
                                     ImageNet classes
  These replace what the model file stores (said in one line); a file that stores none is said so, with the guess.`;

/** What flags say of a model's input and classes, with the flags as given (for the notes). */
export interface GivenConventions {
  preprocessing?: { options: PreprocessOptions; flags: string };
  classNames?: { names: string[]; flags: string };
}


/** Reads the convention flags (and the files they name). */
export async function conventionFlags(values: Values): Promise<GivenConventions> {
  const given: GivenConventions = {};
  const flags: string[] = [];
  let options: PreprocessOptions = {};
  const preprocess = values.preprocess as string | undefined;
  if (preprocess !== undefined) {
    if (!Object.hasOwn(FRAMEWORK_PIXELS, preprocess) && !preprocess.toLowerCase().endsWith('.json')) throw new UsageError(`--preprocess must be one of ${Object.keys(FRAMEWORK_PIXELS).join(', ')} or a FILE.json, got ${preprocess}`);
    options = Object.hasOwn(FRAMEWORK_PIXELS, preprocess) ? { pixels: FRAMEWORK_PIXELS[preprocess as keyof typeof FRAMEWORK_PIXELS] } : checkPreprocessOptions(await readJson(preprocess, '--preprocess'), preprocess);
    flags.push(`--preprocess ${preprocess}`);
  }
  const { mean, std, range } = values as Record<string, string | undefined>;
  if ((mean === undefined) !== (std === undefined)) throw new UsageError('--mean and --std go together');
  if (mean !== undefined && range !== undefined) throw new UsageError('give --mean/--std or --range, not both');
  if (mean !== undefined && std !== undefined) {
    const stds = numberListFlag(values, 'std')!;
    if (!stds.every((s) => s > 0)) throw new UsageError(`--std must be positive, got ${std}`);
    options = { ...options, pixels: { mean: numberListFlag(values, 'mean')!, std: stds } };
    flags.push(`--mean ${mean} --std ${std}`);
  }
  if (range !== undefined) {
    if (!Object.hasOwn(RANGE_PIXELS, range)) throw new UsageError(`--range must be one of ${Object.keys(RANGE_PIXELS).join(', ')}, got ${range}`);
    options = { ...options, pixels: RANGE_PIXELS[range as keyof typeof RANGE_PIXELS] };
    flags.push(`--range ${range}`);
  }
  if (flags.length > 0) given.preprocessing = { options, flags: flags.join(' ') };
  const labels = values.labels as string | undefined;
  if (labels !== undefined) given.classNames = { names: labels === 'imagenet' ? [...IMAGENET_CLASSES] : await readLabels(labels), flags: `--labels ${labels}` };
  return given;
}

async function readJson(path: string, flag: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(path));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${flag} ${path}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Class names from a file: a JSON list of strings, or one name per line (blank lines and surrounding spaces dropped). */
export async function readLabels(path: string): Promise<string[]> {
  const text = new TextDecoder().decode(await readBytes(path));
  if (text.trimStart().startsWith('[')) {
    const list = await readJson(path, '--labels');
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string')) throw new FormatError(`--labels ${path}: a JSON file must hold a list of strings`);
    return list;
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** What a file stores of its conventions. */
export interface StoredConventions {
  preprocessing?: PreprocessOptions;
  classNames?: string[];
}

export interface ResolveOptions {
  /** What the flags say; undefined where the command takes no such flags (the notes then name none). */
  given?: GivenConventions;
  /** Preprocessing the file's origin suggests, where it stores none, and why. */
  guess?: { preprocessing: PreprocessOptions; why: string };
  /** How classes are shown without names (default: by number). */
  unnamedClasses?: string;
  /** What becomes of a file without preprocessing or a guess (default: pixels taken as 0..1). */
  unscaledPixels?: string;
}

/**
 * The preprocessing and class names to use for a model from `source` with this input and output shape: the flags'
 * over what the file stores over a guess from its origin over pixels 0..1; notes, at most two lines: what the file
 * lacks and what is assumed instead (with the flag that sets it), and what the flags replace.
 */
export function resolveConventions(
  source: string,
  shapes: { inputShape: readonly number[]; outputShape: readonly number[] },
  stored: StoredConventions,
  o: ResolveOptions = {},
): { preprocessing: PreprocessOptions; classNames?: string[]; notes: string[] } {
  const [h, w, channels] = shapes.inputShape;
  const classes = shapes.outputShape[shapes.outputShape.length - 1];
  const { given } = o;
  const missing: string[] = [];
  const replaced: string[] = [];
  const hint = (flags: string): string => (given ? `; set with ${flags}` : '');

  let preprocessing: PreprocessOptions;
  const base = stored.preprocessing ?? o.guess?.preprocessing;
  if (given?.preprocessing) {
    preprocessing = { size: [h, w], fit: 'bilinear', ...base, ...given.preprocessing.options };
    if (stored.preprocessing) replaced.push(`the preprocessing (pixels ${describePixels(stored.preprocessing.pixels)})`);
  } else if (stored.preprocessing) preprocessing = stored.preprocessing;
  else {
    preprocessing = { size: [h, w], fit: 'bilinear', ...base };
    const assumed = o.guess ? `guessing ${o.guess.why}` : (o.unscaledPixels ?? 'pixels taken as 0..1');
    missing.push(`no preprocessing (${assumed}${hint('--preprocess, --mean/--std or --range')})`);
  }
  if (channels !== undefined) checkChannels(preprocessing, channels, given?.preprocessing?.flags ?? source);

  let classNames = stored.classNames;
  if (given?.classNames) {
    const { flags } = given.classNames;
    // a TF-slim ImageNet model has 1001 outputs, slot 0 the background
    const names = flags === '--labels imagenet' && classes === IMAGENET_CLASSES.length + 1 ? ['background', ...given.classNames.names] : given.classNames.names;
    if (names.length !== classes) throw new UsageError(`${flags}: ${names.length} names, but ${source} has ${classes} classes`);
    if (stored.classNames) replaced.push(`the ${stored.classNames.length} class names`);
    classNames = names;
  } else if (!stored.classNames) missing.push(`no class names (${o.unnamedClasses ?? 'classes shown by number'}${hint('--labels FILE|imagenet')})`);

  const notes: string[] = [];
  if (missing.length > 0) notes.push(`${source} stores ${missing.join(' and ')}`);
  if (replaced.length > 0) notes.push(`${[given?.preprocessing?.flags, given?.classNames?.flags].filter(Boolean).join(' ')}: replacing ${replaced.join(' and ')} that ${source} stores`);
  return { preprocessing, classNames, notes };
}

/** Per-channel mean and std must fit the model's channels: said before any image is read. */
function checkChannels(preprocessing: PreprocessOptions, channels: number, what: string): void {
  try {
    scaledValue(0, channels, preprocessing.pixels ?? 'unit');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${what}: ${e.message} (the model takes ${channels}-channel images)`);
    throw e;
  }
}
