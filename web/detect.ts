// Detect tab: a dropped detector (any format; anchors from its file, a .npy dropped with it, or generated) finds
// objects in a dropped image, the camera's frames or a video's, boxes and labels drawn live; score and IoU sliders.

import type { ImageDetections } from '../src/api/detect.js';
import { MobileNetClassifier } from '../src/api/load-model.js';
import type { ImageDataLike, ImageSource } from '../src/api/load-model.js';
import { decodeModelFiles } from '../src/browser/files.js';
import type { NamedBytes } from '../src/browser/files.js';
import { imageData } from '../src/browser/image.js';
import { drawBoxes, rgbaOf } from '../src/data/draw-boxes.js';
import { decodeImage, imageFormatOfName } from '../src/data/image.js';
import { vocPalette } from '../src/data/label-maps.js';
import { readAnchors } from '../src/detect/anchors.js';
import { DEFAULT_POSTPROCESS } from '../src/detect/postprocess.js';
import { ConfigError } from '../src/errors.js';
import { decodeNpy } from '../src/io/npy.js';
import { bytesOf, cameraToggle, onFiles, renderError } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let detector: MobileNetClassifier | null = null;
/** The model files last dropped, loaded again when the anchors picked change. */
let modelFiles: File[] = [];
/** The image last detected in, redone when a slider moves. */
let lastImage: { name: string; pixels: ImageDataLike } | null = null;
/** One detection at a time: frames, slider moves and new images wait for the one running. */
let queue: Promise<void> = Promise.resolve();

/**
 * The anchors the user gave beside the model: a dropped .npy ([anchors, 4]) in any case; else, for a file that keeps
 * none (`stored` false), the generator picked; else none.
 */
function anchorsOf(npy: NamedBytes | undefined, stored: boolean): Float32Array | 'ssd-tf' | 'ssd-torchvision' | undefined {
  if (npy) return readAnchors(decodeNpy(npy.bytes, npy.name), undefined, npy.name);
  const picked = $<HTMLSelectElement>('detect-anchors').value;
  return !stored && (picked === 'ssd-tf' || picked === 'ssd-torchvision') ? picked : undefined;
}

async function load(files: File[]): Promise<void> {
  modelFiles = files;
  const info = $('detect-model-info');
  info.dataset.loading = 'true';
  try {
    const named = await Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: await bytesOf(f) })));
    const isNpy = (f: NamedBytes): boolean => f.name.toLowerCase().endsWith('.npy');
    await detector?.dispose();
    detector = null;
    const any = await decodeModelFiles(named.filter((f) => !isNpy(f)));
    const detectionAnchors = anchorsOf(named.find(isNpy), any.model.metadata.detection !== undefined);
    const loaded = await MobileNetClassifier.create(any, { detectionAnchors }, (image: ImageSource) => image);
    const { model, detection } = loaded;
    if (detection === null) {
      await loaded.dispose();
      throw new ConfigError(`${model.name} outputs ${model.outputShape.join('×')}, not class scores and boxes per anchor: it does not detect (use the Classify or Segment tab)`);
    }
    detector = loaded;
    // the sliders start at the detector's own thresholds (face-api's IoU 0.5), else post-processing's defaults
    const { scoreThreshold, iouThreshold } = { ...DEFAULT_POSTPROCESS, ...detection.defaults };
    $<HTMLInputElement>('detect-score').value = String(Math.round(scoreThreshold * 100));
    $<HTMLInputElement>('detect-iou').value = String(Math.round(iouThreshold * 100));
    postprocessing();
    const outputs = model.outputNames.map((n) => `${n} ${model.outputShapes[n].join('×')}`).join(', ');
    const lines = [`${named.map((f) => f.name).join(' + ')}: ${any.format}, ${model.name}`, `input ${model.inputShape.join('×')} (H×W×C), outputs ${outputs}, ${detection.anchors.length / 4} anchors`, ...loaded.notes];
    info.replaceChildren(...lines.map((l) => Object.assign(document.createElement('p'), { textContent: l })));
    info.dataset.model = model.name;
    delete info.dataset.error;
    if (lastImage) await detectIn(lastImage.name, lastImage.pixels);
  } catch (e) {
    renderError(info, e);
  } finally {
    info.dataset.loading = 'false';
  }
}

/** The sliders' and the checkbox's post-processing options. */
function postprocessing(): { scoreThreshold: number; iouThreshold: number; letterbox: boolean } {
  const score = Number($<HTMLInputElement>('detect-score').value) / 100;
  const iou = Number($<HTMLInputElement>('detect-iou').value) / 100;
  $('detect-score-value').textContent = score.toFixed(2);
  $('detect-iou-value').textContent = iou.toFixed(2);
  return { scoreThreshold: score, iouThreshold: iou, letterbox: $<HTMLInputElement>('detect-letterbox').checked };
}

/** Detects in `pixels` after whatever runs now, draws the boxes and lists the detections. */
function detectIn(name: string, pixels: ImageDataLike): Promise<void> {
  lastImage = { name, pixels };
  queue = queue.then(async () => {
    const result = $('detect-result');
    try {
      if (!detector) throw new ConfigError('drop a model that detects first');
      const started = performance.now();
      const [found] = await detector.detect(pixels, postprocessing());
      draw(pixels, found);
      list(found, performance.now() - started);
      const detections = found.detections.map((d) => ({ class: d.class, label: d.label, score: d.score, box: d.box }));
      Object.assign(result.dataset, { image: name, width: String(found.width), height: String(found.height), detections: JSON.stringify(detections) });
      delete result.dataset.error;
    } catch (e) {
      renderError(result, e);
    }
  });
  return queue;
}

/** The image with its boxes and labels, drawn by the library's drawBoxes (the pixels `mobilenet detect --out` writes). */
function draw(pixels: ImageDataLike, found: ImageDetections): void {
  const drawn = drawBoxes(rgbaOf(pixels), found.detections);
  const canvas = $<HTMLCanvasElement>('detect-canvas');
  Object.assign(canvas, { width: drawn.width, height: drawn.height, hidden: false });
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(drawn.data), drawn.width, drawn.height), 0, 0);
}

/** The detections, best first: colour, label, score and box. */
function list(found: ImageDetections, ms: number): void {
  const palette = vocPalette();
  const rows = found.detections.map((d) => {
    const row = document.createElement('div');
    row.className = 'legend-row';
    const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
    swatch.style.background = `rgb(${palette[d.class % palette.length].join(', ')})`;
    const box = `[${d.box.map((v) => v.toFixed(1)).join(', ')}]`;
    row.append(swatch, Object.assign(document.createElement('span'), { textContent: `${d.label ?? `class ${d.class}`} ${box}` }), Object.assign(document.createElement('span'), { textContent: d.score.toFixed(3) }));
    row.dataset.class = String(d.class);
    return row;
  });
  const time = Object.assign(document.createElement('p'), { className: 'note', textContent: `${found.detections.length} detection${found.detections.length === 1 ? '' : 's'} in ${found.width}×${found.height}, ${ms.toFixed(1)} ms` });
  $('detect-result').replaceChildren(...rows, time);
}

/** An image file's RGB pixels, by the library's own decoder (as Node decodes it). */
function filePixels(bytes: Uint8Array, name: string): ImageDataLike {
  const decoded = decodeImage(bytes, { channels: 3, source: name, expect: imageFormatOfName(name) });
  return { data: decoded.pixels, width: decoded.shape[1], height: decoded.shape[0] };
}

/** Plays a picked video file, detecting in its frames one after another while it plays. */
function playVideo(file: File): void {
  const video = $<HTMLVideoElement>('detect-video');
  if (video.src.startsWith('blob:')) URL.revokeObjectURL(video.src);
  video.src = URL.createObjectURL(file);
  video.hidden = false;
  const tick = async (): Promise<void> => {
    if (video.paused || video.ended || !video.src) return;
    if (video.videoWidth > 0) await detectIn(file.name, imageData(video));
    setTimeout(() => void tick(), 0);
  };
  video.onplay = () => void tick();
  void video.play().catch((e: unknown) => renderError($('detect-result'), e));
}

export function show(): void {
  onFiles($('drop-detector'), $('detector-file'), (files) => void load(files));
  onFiles($('drop-detect-image'), $('detect-image-file'), (files) => {
    void bytesOf(files[0]).then((bytes) => {
      try {
        return detectIn(files[0].name, filePixels(bytes, files[0].name));
      } catch (e) {
        renderError($('detect-result'), e);
      }
    });
  });
  $('detect-anchors').addEventListener('change', () => {
    if (modelFiles.length > 0) void load(modelFiles);
  });
  const picker = $<HTMLInputElement>('detect-video-file');
  picker.addEventListener('change', () => {
    if (picker.files?.length) playVideo(picker.files[0]);
  });
  for (const id of ['detect-score', 'detect-iou', 'detect-letterbox']) {
    $(id).addEventListener('input', () => {
      postprocessing();
      if (lastImage) void detectIn(lastImage.name, lastImage.pixels);
    });
  }
  cameraToggle($<HTMLButtonElement>('detect-camera'), $<HTMLVideoElement>('detect-camera-video'), {
    everyMs: 100,
    failed: (e) => renderError($('detect-result'), e),
    frame: (video) => detectIn('camera', imageData(video)),
  });
}
