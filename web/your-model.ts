// Your model tab: a model dropped in any format the library reads (with its shards or external data) is decoded
// in the page, described, and classifies a dropped or sample image.

import { decodeModelFiles } from '../src/browser/files.js';
import type { NamedBytes } from '../src/browser/files.js';
import type { PreprocessOptions } from '../src/data/preprocess.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../src/data/preprocess-presets.js';
import { modelCost } from '../src/cost/model-cost.js';
import type { AnyModel, LoadAnyModelOptions } from '../src/io/any-model.js';
import { bytesOf, classifier, classify, fileInput, onFiles, renderAnswer, renderError, renderSamples, showPreview } from './predict.js';
import type { Classifier } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let loaded: { any: AnyModel; classifier: Classifier } | null = null;
let lastImage: { bytes: Uint8Array; name: string } | null = null;

function pixels(any: AnyModel): PreprocessOptions | undefined {
  const choice = $<HTMLSelectElement>('model-pixels').value;
  if (choice === 'file') return any.preprocessing;
  if (choice === 'imagenet') return { pixels: { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } };
  return { pixels: choice as 'unit' | 'symmetric' };
}

function describe(any: AnyModel, source: string): void {
  const info = $('model-info');
  const cost = modelCost(any.model);
  const lines = [
    `${source}: ${any.format}, ${any.model.name}`,
    `input ${any.model.inputShape.join('×')} (H×W×C), output ${any.model.outputShape.join('×')}`,
    `${cost.params.weights.toLocaleString()} weights, ${cost.macs.toLocaleString()} multiply-adds per image`,
    any.classNames ? `classes: ${any.classNames.slice(0, 10).join(', ')}${any.classNames.length > 10 ? ', …' : ''}` : 'no class names in the file: classes shown by index',
    ...any.notes,
  ];
  info.replaceChildren(...lines.map((l) => Object.assign(document.createElement('p'), { textContent: l })));
  Object.assign(info.dataset, { format: any.format, inputShape: JSON.stringify(any.model.inputShape), macs: String(cost.macs) });
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
    const any = await decodeModelFiles(named, buildOptions());
    await loaded?.classifier.dispose();
    loaded = { any, classifier: await classifier(any.model, any.classNames, pixels(any)) };
    describe(any, named.map((f) => f.name).join(' + '));
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
    renderError(result, new Error('drop a model first'));
    return;
  }
  try {
    const c = loaded.classifier;
    c.preprocessing = pixels(loaded.any);
    renderAnswer(result, classify(c, fileInput(c, bytes, name)));
    result.dataset.image = name;
  } catch (e) {
    renderError(result, e);
  }
}

export function show(): void {
  onFiles($('drop-model'), $('model-file'), (files) => void Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: await bytesOf(f) }))).then(load));
  for (const id of ['model-arch', 'model-resolution']) $(id).addEventListener('change', () => lastFiles && void load(lastFiles));
  const picker = $<HTMLInputElement>('model-image');
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    if (file) void bytesOf(file).then((b) => answer(b, file.name));
  });
  $('model-pixels').addEventListener('change', () => lastImage && answer(lastImage.bytes, lastImage.name));
  renderSamples($('model-samples'), answer);
}
