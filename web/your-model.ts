// Your model tab: a model dropped in any format the library reads (with its shards or external data), float or an int8
// model file, is decoded in the page, described, and classifies a dropped or sample image. What the file does not
// say (preprocessing, class names) is said in one line and chosen here as `mobilenet classify` takes it in flags.

import { decodeModelFiles } from '../src/browser/files.js';
import { ConfigError, FormatError } from '../src/errors.js';
import { modelSignature } from '../src/io/any-model.js';
import { Model } from '../src/graph/model.js';
import type { PlannedModel } from '../src/graph/plan.js';
import type { NamedBytes } from '../src/browser/files.js';
import { checkPreprocessOptions } from '../src/data/preprocess.js';
import type { PixelScaling, PreprocessOptions } from '../src/data/preprocess.js';
import { IMAGENET_CLASSES } from '../src/data/imagenet-classes.js';
import { FRAMEWORK_PIXELS, RANGE_PIXELS } from '../src/data/preprocess-presets.js';
import { modelCost } from '../src/cost/model-cost.js';
import type { AnyModel, LoadAnyModelOptions } from '../src/io/any-model.js';
import { bytesOf, classifier, classify, fileInput, onFiles, renderAnswer, renderError, renderSamples, showPreview, showSeen } from './predict.js';
import type { Classifier } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The model in use: its classifier, and the preprocessing and class names its file stores (the choices 'file'). */
let loaded: { preprocessing?: PreprocessOptions; classNames?: string[]; classifier: Classifier } | null = null;
let lastImage: { bytes: Uint8Array; name: string } | null = null;
/** Class names read from a labels file the user picked. */
let labelList: string[] | null = null;
/** Preprocessing read from a JSON file the user picked (as `--preprocess FILE.json` reads it). */
let preprocessFile: PreprocessOptions | null = null;

/** The pixel scaling of each choice of #model-preprocess but 'file', 'json' and 'custom': the CLI's --preprocess and --range. */
const PIXEL_CHOICES: Readonly<Record<string, PixelScaling>> = {
  ...FRAMEWORK_PIXELS,
  ...Object.fromEntries(Object.entries(RANGE_PIXELS).map(([range, pixels]) => [`range:${range}`, pixels])),
};

/** "0.5" or "0.485, 0.456, 0.406" as numbers; `positive` for a std. */
function numberList(text: string, what: string, positive: boolean): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (!values.length || values.some((v) => !Number.isFinite(v) || (positive && v <= 0))) throw new ConfigError(`${what} must be ${positive ? 'positive ' : ''}numbers separated by commas, got "${text}"`);
  return values;
}

/** The preprocessing chosen: as the CLI's flags, a choice replaces what it names of what the file stores. */
function pixels(fromFile: PreprocessOptions | undefined): PreprocessOptions | undefined {
  const choice = $<HTMLSelectElement>('model-preprocess').value;
  $('model-mean-std').hidden = choice !== 'custom';
  $('model-preprocess-file').hidden = choice !== 'json';
  if (choice === 'file') return fromFile;
  if (choice === 'json') {
    if (!preprocessFile) throw new ConfigError('pick a preprocessing file (as --preprocess FILE.json): {"size": [h, w], "fit": "bilinear" or "pad", "pixels": …}');
    return { ...fromFile, ...preprocessFile };
  }
  if (choice === 'custom') return { ...fromFile, pixels: { mean: numberList($<HTMLInputElement>('model-mean').value, 'mean', false), std: numberList($<HTMLInputElement>('model-std').value, 'std', true) } };
  return { ...fromFile, pixels: PIXEL_CHOICES[choice] };
}

/** A preprocessing file as `--preprocess FILE.json` reads it: {size?, fit?, pixels?}, checked, errors naming the file. */
function parsePreprocessing(text: string, source: string): PreprocessOptions {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return checkPreprocessOptions(value, source);
}

/** A labels file as `--labels FILE` reads it: a JSON list of strings, or one name per line. */
export function parseLabels(text: string, source: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const list: unknown = JSON.parse(trimmed);
    if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) throw new ConfigError(`${source}: a JSON labels file must be a list of strings`);
    return list;
  }
  return trimmed.split(/\r?\n/).map((line) => line.trim());
}

function labels(fromFile: string[] | undefined, classes: number): string[] | undefined {
  const choice = $<HTMLSelectElement>('model-labels').value;
  $('model-labels-file').hidden = choice !== 'list';
  if (choice === 'file') return fromFile;
  const list = choice === 'imagenet' ? IMAGENET_CLASSES : choice === 'list' ? labelList : null;
  if (!list) return undefined;
  const what = choice === 'imagenet' ? 'ImageNet has' : 'the labels file has';
  if (list.length !== classes) throw new ConfigError(`${what} ${list.length} names for a model of ${classes} classes`);
  return [...list];
}

/** One line naming what the file leaves out, and how each is chosen here (as the CLI's flags choose it). */
function sayMissing(preprocessing: PreprocessOptions | undefined, classNames: string[] | undefined): void {
  const line = $('model-missing');
  const missing = [preprocessing ? '' : 'its preprocessing (pixels scaled to 0..1 until you choose)', classNames ? '' : 'its class names (shown by index until you pick a labels file)'].filter(Boolean);
  line.hidden = missing.length === 0;
  line.textContent = missing.length ? `The file does not say ${missing.join(' or ')}: choose below, as mobilenet classify takes --preprocess, --mean/--std, --range and --labels.` : '';
  line.dataset.missing = JSON.stringify([preprocessing ? null : 'preprocessing', classNames ? null : 'labels'].filter(Boolean));
  $('model-preprocess').querySelector('option[value="file"]')!.textContent = preprocessing ? `as the file says: ${JSON.stringify(preprocessing.pixels ?? 'unit')}` : 'the file says nothing: 0..1';
  $('model-labels').querySelector('option[value="file"]')!.textContent = classNames ? 'as the file says' : 'the file says nothing: indices';
}

/** The first class names, when the file has them (when not, #model-missing says so). */
function classesLine(names: string[] | undefined): string[] {
  return names ? [`classes: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`] : [];
}

function describe(any: AnyModel<Model | PlannedModel>, source: string): void {
  const info = $('model-info');
  const { model } = any;
  const { inputShape, outputShapes } = modelSignature(model);
  const shapes = `input ${inputShape.join('×')} (H×W×C), output ${outputShapes[0].join('×')}`;
  let lines: string[];
  let facts: Record<string, string>;
  if (model instanceof Model) {
    const cost = modelCost(model);
    lines = [`${source}: ${any.format}, ${model.name}`, shapes, `${cost.params.weights.toLocaleString()} weights, ${cost.macs.toLocaleString()} multiply-adds per image`];
    facts = { format: any.format, macs: String(cost.macs) };
  } else {
    const int8 = model.plan.steps.filter((s) => model.plan.tensors[s.output].quant).length;
    lines = [`${source}: int8 model file (mobilenet quantize), ${String(any.metadata.architecture)}`, shapes, `a plan of ${model.plan.steps.length} steps, ${int8} of them in int8`];
    facts = { format: 'int8' };
  }
  lines.push(...classesLine(any.classNames), ...any.notes);
  info.replaceChildren(...lines.map((l) => Object.assign(document.createElement('p'), { textContent: l })));
  Object.assign(info.dataset, { ...facts, inputShape: JSON.stringify(inputShape) });
  delete info.dataset.error;
}

let lastFiles: NamedBytes[] | null = null;

/** Architecture and resolution for weights-only files (a resolution also rebuilds our model files). */
function buildOptions(): LoadAnyModelOptions {
  const resolution = Number($<HTMLInputElement>('model-resolution').value);
  return { arch: $<HTMLSelectElement>('model-arch').value, ...(resolution > 0 ? { resolution } : {}) };
}

async function load(named: NamedBytes[]): Promise<void> {
  const info = $('model-info');
  info.dataset.loading = 'true';
  lastFiles = named;
  try {
    await loaded?.classifier.dispose();
    loaded = null;
    const any = await decodeModelFiles(named, { ...buildOptions(), planned: true });
    loaded = { preprocessing: any.preprocessing, classNames: any.classNames, classifier: await classifier(any.model, any.classNames, any.preprocessing) };
    describe(any, named.map((f) => f.name).join(' + '));
    sayMissing(loaded.preprocessing, loaded.classNames);
    if (lastImage) answer(lastImage.bytes, lastImage.name);
  } catch (e) {
    renderError(info, e);
  } finally {
    info.dataset.loading = 'false';
  }
}

function answer(bytes: Uint8Array, name: string): void {
  lastImage = { bytes, name };
  showPreview($('model-preview'), lastImage);
  const result = $('model-result');
  if (!loaded) {
    renderError(result, new ConfigError('drop a model first'));
    return;
  }
  const c = loaded.classifier;
  try {
    c.preprocessing = pixels(loaded.preprocessing);
    c.classNames = labels(loaded.classNames, c.classes);
    const image = fileInput(c, bytes, name);
    showSeen('model', c, image, true);
    renderAnswer(result, classify(c, image.input));
    result.dataset.image = name;
  } catch (e) {
    showSeen('model', c, null, false);
    renderError(result, e);
  }
}

/** Reads each text file picked in the input `id` with `read`, then answers again; errors show in the result. */
function onTextFile(id: string, read: (text: string, name: string) => unknown, again: () => void): void {
  const picker = $<HTMLInputElement>(id);
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    if (!file) return;
    picker.value = ''; // so that picking the same file again, edited, reads it again
    void file.text().then((text) => {
      try {
        read(text, file.name);
        again();
      } catch (e) {
        renderError($('model-result'), e);
      }
    });
  });
}

export function show(): void {
  onFiles($('drop-model'), $('model-file'), (files) => void Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: await bytesOf(f) }))).then(load));
  for (const id of ['model-arch', 'model-resolution']) $(id).addEventListener('change', () => lastFiles && void load(lastFiles));
  const picker = $<HTMLInputElement>('model-image');
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    if (file) void bytesOf(file).then((b) => answer(b, file.name));
  });
  const again = (): void => void (lastImage && answer(lastImage.bytes, lastImage.name));
  for (const id of ['model-preprocess', 'model-mean', 'model-std', 'model-labels']) $(id).addEventListener('change', again);
  onTextFile('model-labels-file', (text, name) => (labelList = parseLabels(text, name)), again);
  onTextFile('model-preprocess-file', (text, name) => (preprocessFile = parsePreprocessing(text, name)), again);
  renderSamples($('model-samples'), answer);
}
