// Segment tab: a dropped model whose output is class scores per pixel [H, W, K] labels a dropped, picked or sample
// image, or the camera's frames: the mask blended over the image (opacity slider) and a legend of the classes present;
// and scores itself on a dropped VOC folder (mIoU, per-class IoU, pixel accuracy).

import { MobileNetClassifier } from '../src/api/load-model.js';
import type { ImageDataLike, ImageSource } from '../src/api/load-model.js';
import { overlayMask } from '../src/api/segment.js';
import type { Segmentation } from '../src/api/segment.js';
import { decodeModelFiles } from '../src/browser/files.js';
import { imageData } from '../src/browser/image.js';
import { readVocFiles } from '../src/browser/voc-files.js';
import { decodeImage, imageFormatOfName } from '../src/data/image.js';
import { ConfigError } from '../src/errors.js';
import { Tensor } from '../src/tensor/tensor.js';
import { SegmentationMetrics } from '../src/train/segmentation-metrics.js';
import { bytesOf, cameraToggle, onFiles, renderError, renderSamples } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Masks of up to this many pixels are kept in the result's data-mask (base64), for the page's tests. */
const MASK_IN_DATASET = 1 << 20;

let segmenter: MobileNetClassifier | null = null;
/** The image last segmented (RGB pixels) and its segmentation, redrawn when the opacity changes. */
let last: { name: string; pixels: ImageDataLike; segmentation: Segmentation } | null = null;
let lastImage: { name: string; pixels: ImageDataLike } | null = null;

async function load(files: File[]): Promise<void> {
  const info = $('segment-model-info');
  info.dataset.loading = 'true';
  try {
    const named = await Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: await bytesOf(f) })));
    await segmenter?.dispose();
    segmenter = null;
    const any = await decodeModelFiles(named);
    segmenter = await MobileNetClassifier.create(any, {}, (image: ImageSource) => image);
    const { inputShape, outputShape } = segmenter.model;
    const lines = [`${named.map((f) => f.name).join(' + ')}: ${any.format}, ${segmenter.model.name}`, `input ${inputShape.join('×')} (H×W×C), output ${outputShape.join('×')}`, ...segmenter.notes];
    if (segmenter.labelMap === null) throw new ConfigError(`${segmenter.model.name} outputs ${outputShape.join('×')}, not class scores per pixel H×W×K: it classifies (use the Your model tab), it cannot segment`);
    info.replaceChildren(...lines.map((l) => Object.assign(document.createElement('p'), { textContent: l })));
    info.dataset.model = segmenter.model.name;
    delete info.dataset.error;
    if (lastImage) await run(lastImage.name, lastImage.pixels);
  } catch (e) {
    renderError(info, e);
  } finally {
    info.dataset.loading = 'false';
  }
}

/** An image file's RGB pixels, by the library's own decoder (as Node decodes it). */
function filePixels(bytes: Uint8Array, name: string): ImageDataLike {
  const decoded = decodeImage(bytes, { channels: 3, source: name, expect: imageFormatOfName(name) });
  return { data: decoded.pixels, width: decoded.shape[1], height: decoded.shape[0] };
}

async function run(name: string, pixels: ImageDataLike): Promise<void> {
  lastImage = { name, pixels };
  const result = $('segment-result');
  if (!segmenter) {
    renderError(result, new ConfigError('drop a model that segments first'));
    return;
  }
  try {
    const started = performance.now();
    const segmentation = await segmenter.segment(pixels);
    last = { name, pixels, segmentation };
    draw();
    legend(segmentation, performance.now() - started);
    const { mask, width, height } = segmentation;
    Object.assign(result.dataset, { image: name, width: String(width), height: String(height), fractions: JSON.stringify(segmentation.fractions) });
    if (mask.length <= MASK_IN_DATASET) result.dataset.mask = btoa(String.fromCharCode(...mask));
    delete result.dataset.error;
  } catch (e) {
    renderError(result, e);
  }
}

/** The overlay at the slider's opacity. */
function draw(): void {
  if (!last) return;
  const opacity = Number($<HTMLInputElement>('segment-opacity').value) / 100;
  const { pixels, segmentation } = last;
  const overlay = overlayMask(pixels, segmentation.mask, segmentation.palette, opacity);
  const rgba = new Uint8ClampedArray(overlay.width * overlay.height * 4);
  for (let p = 0; p < overlay.width * overlay.height; p++) {
    rgba.set(overlay.data.subarray(p * overlay.channels, p * overlay.channels + 3), p * 4);
    rgba[p * 4 + 3] = overlay.channels === 4 ? overlay.data[p * 4 + 3] : 255;
  }
  const canvas = $<HTMLCanvasElement>('segment-overlay');
  Object.assign(canvas, { width: overlay.width, height: overlay.height, hidden: false });
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, overlay.width, overlay.height), 0, 0);
  canvas.dataset.opacity = String(opacity);
  $('segment-opacity-value').textContent = `${Math.round(opacity * 100)}%`;
}

/** The classes present, most pixels first: colour, name, share of the pixels. */
function legend(s: Segmentation, ms: number): void {
  const rows = s.fractions
    .map((fraction, index) => ({ fraction, index }))
    .filter((c) => c.fraction > 0)
    .sort((a, b) => b.fraction - a.fraction || a.index - b.index)
    .map(({ fraction, index }) => {
      const row = document.createElement('div');
      row.className = 'legend-row';
      const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
      swatch.style.background = `rgb(${s.palette[index].join(', ')})`;
      row.append(swatch, Object.assign(document.createElement('span'), { textContent: s.classNames[index] }), Object.assign(document.createElement('span'), { textContent: `${(100 * fraction).toFixed(1)}%` }));
      row.dataset.class = s.classNames[index];
      return row;
    });
  const time = Object.assign(document.createElement('p'), { className: 'note', textContent: `${s.width}×${s.height}, ${ms.toFixed(1)} ms` });
  $('segment-result').replaceChildren(...rows, time);
}

/**
 * Scores the loaded segmenter on dropped files: a VOC folder's val split (or every image with a mask), each image
 * and mask taken at the model's input size (bilinear and nearest), with the model's own preprocessing.
 */
async function evaluate(files: File[]): Promise<void> {
  const out = $('segment-eval-result');
  out.dataset.state = 'running';
  out.replaceChildren(Object.assign(document.createElement('p'), { className: 'note', textContent: `reading ${files.length} files…` }));
  try {
    if (!segmenter?.labelMap) throw new ConfigError('drop a model that segments first');
    const [h, w, c] = segmenter.model.inputShape;
    const { classNames } = segmenter.labelMap;
    const set = await readVocFiles(files, { split: 'val', size: [h, w], channels: c === 1 ? 1 : 3, pixels: segmenter.preprocessing.pixels, classNames });
    const metrics = new SegmentationMetrics(classNames.length);
    const images = set.images.shape[0];
    const started = performance.now();
    for (let i = 0; i < images; i++) {
      const x = new Tensor([1, h, w, c], set.images.data.subarray(i * h * w * c, (i + 1) * h * w * c));
      const { mask } = await segmenter.segment(x);
      metrics.addPredictions(mask, set.masks.subarray(i * h * w, (i + 1) * h * w), [h, w]);
    }
    const r = metrics.result();
    const rows = r.perClassIou.map((iou, k) => {
      const row = document.createElement('div');
      row.className = 'legend-row';
      row.append(Object.assign(document.createElement('span'), { textContent: classNames[k] }), Object.assign(document.createElement('span'), { textContent: iou === null ? 'absent' : `${(100 * iou).toFixed(1)}%` }));
      return row;
    });
    const summary = `${images} images at ${h}×${w}: mIoU ${(100 * r.miou).toFixed(2)}%, pixel accuracy ${(100 * r.pixelAccuracy).toFixed(2)}% (${((performance.now() - started) / images).toFixed(1)} ms per image)`;
    out.replaceChildren(Object.assign(document.createElement('p'), { textContent: summary }), ...rows);
    Object.assign(out.dataset, { images: String(images), miou: String(r.miou), pixelAccuracy: String(r.pixelAccuracy), perClassIou: JSON.stringify(r.perClassIou) });
    out.dataset.state = 'done';
    delete out.dataset.error;
  } catch (e) {
    renderError(out, e);
    out.dataset.state = 'failed';
  }
}

export function show(): void {
  onFiles($('drop-segmenter'), $('segmenter-file'), (files) => void load(files));
  const fromFile = (bytes: Uint8Array, name: string): void => {
    try {
      void run(name, filePixels(bytes, name));
    } catch (e) {
      renderError($('segment-result'), e);
    }
  };
  onFiles($('drop-segment-image'), $('segment-image-file'), (files) => void bytesOf(files[0]).then((b) => fromFile(b, files[0].name)));
  renderSamples($('segment-samples'), fromFile);
  $('segment-opacity').addEventListener('input', draw);
  onFiles($('drop-segment-voc'), $('segment-voc-folder'), (files) => void evaluate(files));
  // camera frames, a couple a second
  cameraToggle($<HTMLButtonElement>('segment-camera'), $<HTMLVideoElement>('segment-camera-video'), {
    everyMs: 500,
    failed: (e) => renderError($('segment-result'), e),
    frame: (video) => run('camera', imageData(video)),
  });
}
