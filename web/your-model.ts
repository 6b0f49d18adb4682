// Your model tab: a model dropped in any format the library reads (with its shards or external data), or an int8
// model file, is decoded in the page, described, and classifies a dropped or sample image.

import { decodeModelFiles, mainModelFile } from '../src/browser/files.js';
import { extensionOf } from '../src/io/any-model.js';
import { INT8_FILE_FORMAT } from '../src/io/model-file.js';
import { decodeSafetensorsMetadata } from '../src/io/safetensors.js';
import { decodeInt8ModelFile } from '../src/quant/int8-file.js';
import type { LoadedInt8Model } from '../src/quant/int8-file.js';
import type { NamedBytes } from '../src/browser/files.js';
import type { PreprocessOptions } from '../src/data/preprocess.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../src/data/preprocess-presets.js';
import { modelCost } from '../src/cost/model-cost.js';
import type { AnyModel, LoadAnyModelOptions } from '../src/io/any-model.js';
import { bytesOf, classifier, classify, fileInput, int8Classifier, onFiles, renderAnswer, renderError, renderSamples, showPreview } from './predict.js';
import type { Classifier } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The model in use: its classifier, and the preprocessing its file stores (for the pixel scaling choice 'file'). */
let loaded: { preprocessing?: PreprocessOptions; classifier: Classifier } | null = null;
let lastImage: { bytes: Uint8Array; name: string } | null = null;

function pixels(fromFile: PreprocessOptions | undefined): PreprocessOptions | undefined {
  const choice = $<HTMLSelectElement>('model-pixels').value;
  if (choice === 'file') return fromFile;
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

function describeInt8(file: LoadedInt8Model, source: string): void {
  const info = $('model-info');
  const q = file.quantized;
  const lines = [
    `${source}: int8 model file (mobilenet quantize), ${file.architecture}`,
    `input ${q.inputShape.join('×')} (H×W×C), output ${q.outputShape.join('×')}`,
    `${q.weightBytes().toLocaleString()} bytes of weights; ${q.int8ConvSteps.length} int8 convolutions; float32 steps: ${q.floatLayers().join(', ') || 'none'}`,
    file.classNames ? `classes: ${file.classNames.slice(0, 10).join(', ')}${file.classNames.length > 10 ? ', …' : ''}` : 'no class names in the file: classes shown by index',
  ];
  info.replaceChildren(...lines.map((l) => Object.assign(document.createElement('p'), { textContent: l })));
  Object.assign(info.dataset, { format: 'int8', inputShape: JSON.stringify(q.inputShape) });
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
    const main = mainModelFile(named);
    await loaded?.classifier.dispose();
    loaded = null;
    if (extensionOf(main.name) === '.safetensors' && decodeSafetensorsMetadata(main.bytes, main.name).format === INT8_FILE_FORMAT) {
      const file = decodeInt8ModelFile(main.bytes, main.name);
      loaded = { preprocessing: file.preprocessing, classifier: await int8Classifier(file.quantized, file.classNames, pixels(file.preprocessing)) };
      describeInt8(file, main.name);
    } else {
      const any = await decodeModelFiles(named, buildOptions());
      loaded = { preprocessing: any.preprocessing, classifier: await classifier(any.model, any.classNames, pixels(any.preprocessing)) };
      describe(any, named.map((f) => f.name).join(' + '));
    }
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
    c.preprocessing = pixels(loaded.preprocessing);
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
