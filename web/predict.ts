// What Classify and Your model share: a model behind the wasm engine (1 thread: one image is too little work
// to share), its answer as top-5 with logits and time, drawn as bars, and images (files or elements) as inputs.

import { WasmEngine } from '../src/backend/wasm/engine.js';
import { imageTensor } from '../src/browser/image.js';
import type { ImageInput } from '../src/browser/image.js';
import { decodeImageTensor } from '../src/data/image.js';
import type { PreprocessOptions } from '../src/data/preprocess.js';
import type { Model } from '../src/graph/model.js';
import { softmax } from '../src/ops/activation.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { QuantizedModel } from '../src/quant/quantized-model.js';
import { WasmInt8Kernels } from '../src/quant/wasm-int8.js';

export interface Classifier {
  /** Per-sample input shape [H, W, C]. */
  inputShape: readonly number[];
  classNames?: string[];
  preprocessing?: PreprocessOptions;
  run(x: Tensor): Tensor;
  dispose(): Promise<void>;
}

export interface Answer {
  logits: number[];
  top: { index: number; label: string; probability: number }[];
  ms: number;
}

export async function classifier(model: Model, classNames?: string[], preprocessing?: PreprocessOptions): Promise<Classifier> {
  const { inputShape } = model;
  if (!WasmEngine.supported()) return { inputShape, classNames, preprocessing, run: (x) => model.predict(x), dispose: async () => {} };
  const engine = await WasmEngine.create(model, { threads: 1 });
  return { inputShape, classNames, preprocessing, run: (x) => engine.predict(x), dispose: () => engine.dispose() };
}

/** An int8 model (an int8 model file) on the WebAssembly int8 kernels where SIMD validates. */
export async function int8Classifier(quantized: QuantizedModel, classNames?: string[], preprocessing?: PreprocessOptions): Promise<Classifier> {
  const kernels = WasmInt8Kernels.supported() ? await WasmInt8Kernels.create(quantized) : null;
  return { inputShape: quantized.inputShape, classNames, preprocessing, run: (x) => quantized.predict(x, { kernels }), dispose: async () => {} };
}

/** The model's input options for an image: its size and channels, and the pixels as `preprocessing` says. */
function inputOptions(c: Classifier): PreprocessOptions & { size: [number, number]; channels: 1 | 3 } {
  const [h, w, channels] = c.inputShape;
  return { ...c.preprocessing, size: [h, w], channels: channels as 1 | 3 };
}

/** An image file's bytes as the model's input: the same decoder and preprocessing as `mobilenet classify`. */
export function fileInput(c: Classifier, bytes: Uint8Array, name: string): Tensor {
  return decodeImageTensor(bytes, { ...inputOptions(c), source: name });
}

/** An element, canvas, video frame or ImageData as the model's input. */
export function elementInput(c: Classifier, source: ImageInput): Tensor {
  return imageTensor(source, inputOptions(c));
}

export function classify(c: Classifier, x: Tensor, k = 5): Answer {
  const started = performance.now();
  const logits = c.run(x);
  const ms = performance.now() - started;
  const p = softmax(logits).data;
  const order = Array.from(p, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
  return { logits: Array.from(logits.data), top: order.map(([probability, index]) => ({ index, label: c.classNames?.[index] ?? String(index), probability })), ms };
}

/** Top-5 bars and the time, into `container`; the answer as JSON in its data-answer attribute. */
export function renderAnswer(container: HTMLElement, answer: Answer): void {
  const rows = answer.top.map((t) => {
    const row = document.createElement('div');
    row.className = 'bar';
    const label = Object.assign(document.createElement('span'), { textContent: t.label });
    const track = document.createElement('span');
    const fill = Object.assign(document.createElement('div'), { className: 'fill' });
    fill.style.width = `${(100 * t.probability).toFixed(1)}%`;
    track.append(fill);
    row.append(label, track, Object.assign(document.createElement('span'), { textContent: `${(100 * t.probability).toFixed(2)}%` }));
    return row;
  });
  const time = Object.assign(document.createElement('p'), { className: 'note', textContent: `${answer.ms.toFixed(1)} ms` });
  container.replaceChildren(...rows, time);
  container.dataset.answer = JSON.stringify(answer);
}

export function renderError(container: HTMLElement, e: unknown): void {
  const p = Object.assign(document.createElement('p'), { className: 'error', textContent: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  container.replaceChildren(p);
  container.dataset.error = p.textContent ?? '';
}

/** Sample images shipped with the page: the Fashion-MNIST test images in data/. */
export const SAMPLES: Record<string, string> = import.meta.glob<string>('../data/fashion-mnist/samples/*.png', { query: '?url', import: 'default', eager: true });

/** Sample thumbnails into `container`; `pick` gets the bytes and name of the one clicked. */
export function renderSamples(container: HTMLElement, pick: (bytes: Uint8Array, name: string) => void): void {
  for (const [path, url] of Object.entries(SAMPLES)) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const img = Object.assign(document.createElement('img'), { src: url, alt: name, title: name });
    img.dataset.sample = name;
    img.addEventListener('click', () => void fetch(url).then((r) => r.arrayBuffer()).then((b) => pick(new Uint8Array(b), name)));
    container.append(img);
  }
}

/** Calls `take` with the files dropped on `zone` or picked with `picker`. */
export function onFiles(zone: HTMLElement, picker: HTMLInputElement, take: (files: File[]) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer?.files.length) take(Array.from(e.dataTransfer.files));
  });
  picker.addEventListener('change', () => {
    if (picker.files?.length) take(Array.from(picker.files));
  });
}

export async function bytesOf(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

/** Shows an image file's bytes in the <img> `preview` (replacing the one shown before); hides it for null. */
export function showPreview(preview: HTMLImageElement, image: { bytes: Uint8Array; name: string } | null): void {
  if (preview.src.startsWith('blob:')) URL.revokeObjectURL(preview.src);
  preview.hidden = image === null;
  if (image) {
    preview.src = URL.createObjectURL(new Blob([image.bytes as Uint8Array<ArrayBuffer>]));
    preview.alt = image.name;
  } else preview.removeAttribute('src');
}
