// What Classify and Your model share: a model behind the wasm engine (1 thread: one image is too little work
// to share), its answer as top-5 with logits and time, drawn as bars, and images (files or elements) as inputs.

import { modelRunner } from '../src/backend/model-runner.js';
import { imageData } from '../src/browser/image.js';
import type { ImageInput } from '../src/browser/image.js';
import { convertChannels, decodeImage } from '../src/data/image.js';
import { preprocessImage } from '../src/data/preprocess.js';
import type { ImageShape, PreprocessOptions } from '../src/data/preprocess.js';
import type { Model } from '../src/graph/model.js';
import type { PlannedModel } from '../src/graph/plan.js';
import { modelSignature } from '../src/io/any-model.js';
import { softmax } from '../src/ops/activation.js';
import { Tensor } from '../src/tensor/tensor.js';

export interface Classifier {
  /** Per-sample input shape [H, W, C]. */
  inputShape: readonly number[];
  /** How many classes the model answers (its output's last dimension). */
  classes: number;
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

/** A float model or a plan (an int8 model file) behind the engine that runs it (see modelRunner), one thread. */
export async function classifier(model: Model | PlannedModel, classNames?: string[], preprocessing?: PreprocessOptions): Promise<Classifier> {
  const { inputShape, outputShapes } = modelSignature(model);
  const classes = outputShapes[0][outputShapes[0].length - 1];
  const runner = await modelRunner(model, { threads: 1 });
  return { inputShape, classes, classNames, preprocessing, run: (x) => runner.predict(x), dispose: () => runner.dispose() };
}

/** The model's input options for an image: its size and channels, and the pixels as `preprocessing` says. */
function inputOptions(c: Classifier): PreprocessOptions & { size: [number, number]; channels: 1 | 3 } {
  const [h, w, channels] = c.inputShape;
  return { ...c.preprocessing, size: [h, w], channels: channels as 1 | 3 };
}

/** An image as the model gets it, and what a person should see of that. */
export interface Seen {
  /** The model's input [1, H, W, C]: fitted, converted to the model's channels, pixels scaled. */
  input: Tensor;
  /** The same fit and channels at raw 0..255: what the model sees, before the scaling. */
  view: Tensor;
  /** The image's own size and whether it has colour (some pixel whose R, G and B differ). */
  width: number;
  height: number;
  colour: boolean;
}

function hasColour(rgb: ArrayLike<number>): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i + 1] !== rgb[i + 2]) return true;
  return false;
}

function seen(c: Classifier, pixels: Float32Array, [height, width, channels]: ImageShape): Seen {
  const [h, w, modelChannels] = c.inputShape;
  const own = convertChannels(pixels, channels, modelChannels as 1 | 3);
  const shape = [height, width, modelChannels] as const;
  const options = inputOptions(c);
  return {
    input: new Tensor([1, h, w, modelChannels], preprocessImage(own, shape, options)),
    view: new Tensor([1, h, w, modelChannels], preprocessImage(own, shape, { ...options, pixels: 'raw' })),
    width,
    height,
    colour: channels === 3 && hasColour(pixels),
  };
}

/** An image file's bytes as the model's input: the same decoder and preprocessing as `mobilenet classify`. */
export function fileInput(c: Classifier, bytes: Uint8Array, name: string): Seen {
  const image = decodeImage(bytes, { source: name });
  return seen(c, image.pixels, image.shape);
}

/** An element, canvas, video frame or ImageData as the model's input (alpha dropped, as for files). */
export function elementInput(c: Classifier, source: ImageInput): Seen {
  const { data, width, height } = imageData(source);
  return seen(c, convertChannels(data, 4, 3), [height, width, 3]);
}

/** One line when a photo goes to a small grey model (Fashion-MNIST's kind): far from its data, say so. */
export function farFromData(c: Classifier, image: Seen): string | null {
  const [h, w, channels] = c.inputShape;
  if (channels !== 1 || !(image.colour || image.width > 2 * w || image.height > 2 * h)) return null;
  return `This ${image.width}×${image.height} ${image.colour ? 'colour ' : ''}image is far from the model's data: the model takes ${w}×${h} grey images (shown beside), so its answer here says little.`;
}

/**
 * Beside the image shown in `${prefix}-preview`: what the model sees in the canvas `${prefix}-input` (its size and
 * channels, drawn large and pixelated), a caption saying so, and for a photo (not a drawing) the note of farFromData.
 */
export function showSeen(prefix: string, c: Classifier, image: Seen | null, photo: boolean): void {
  const canvas = document.getElementById(`${prefix}-input`) as HTMLCanvasElement;
  const caption = document.getElementById(`${prefix}-input-caption`)!;
  const note = document.getElementById(`${prefix}-note`)!;
  canvas.hidden = caption.hidden = image === null;
  const far = image && photo ? farFromData(c, image) : null;
  note.hidden = far === null;
  note.textContent = far ?? '';
  if (!image) return;
  const [, h, w, channels] = image.view.shape;
  Object.assign(canvas, { width: w, height: h });
  const rgba = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    for (let k = 0; k < 3; k++) rgba.data[4 * i + k] = image.view.data[i * channels + (channels === 1 ? 0 : k)];
    rgba.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
  canvas.dataset.shape = JSON.stringify([h, w, channels]);
  caption.textContent = `what the model sees: ${w}×${h} ${channels === 1 ? 'grey' : 'colour'}`;
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
  // worded as `mobilenet classify` words its time
  const time = Object.assign(document.createElement('p'), { className: 'note', textContent: `1 image in ${answer.ms.toFixed(1)} ms` });
  container.replaceChildren(...rows, time);
  container.dataset.answer = JSON.stringify(answer);
  delete container.dataset.error;
}

export function renderError(container: HTMLElement, e: unknown): void {
  const p = Object.assign(document.createElement('p'), { className: 'error', textContent: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  container.replaceChildren(p);
  container.dataset.error = p.textContent ?? '';
  // an earlier answer no longer stands
  delete container.dataset.answer;
  delete container.dataset.image;
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

/**
 * Shows `button` where the page may ask for a camera; each click starts or stops it. While it runs, `frame` gets the
 * video every `everyMs` (after the last frame's work is done); `started` runs once the stream is granted.
 */
export function cameraToggle(button: HTMLButtonElement, video: HTMLVideoElement, o: { everyMs: number; frame(video: HTMLVideoElement): void | Promise<void>; started?(): void; failed(e: unknown): void }): void {
  if (!navigator.mediaDevices?.getUserMedia) return;
  button.hidden = false;
  let stream: MediaStream | null = null;
  button.addEventListener('click', async () => {
    if (stream) {
      stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.hidden = true;
      button.textContent = 'Use the camera';
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
      o.started?.();
    } catch (e) {
      o.failed(e);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    button.textContent = 'Stop the camera';
    const tick = async (): Promise<void> => {
      if (!stream) return;
      if (video.videoWidth > 0) await o.frame(video);
      setTimeout(() => void tick(), o.everyMs);
    };
    void tick();
  });
}
