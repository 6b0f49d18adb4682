// Classify tab: the bundled Fashion-MNIST model answers a drawing, a dropped or sample image, or the camera's frames
// with top-5 bars and the time taken.

import { decodeModelFile } from '../src/io/model-file.js';
import modelUrl from '../models/fashion-mnist.safetensors?url';
import { bytesOf, cameraToggle, classifier, classify, elementInput, fileInput, onFiles, renderAnswer, renderError, renderSamples, showPreview, showSeen } from './predict.js';
import type { Classifier } from './predict.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

async function bundledModel(): Promise<Classifier> {
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const { model, classNames, preprocessing } = decodeModelFile(bytes, 'fashion-mnist.safetensors');
  return classifier(model, classNames, preprocessing);
}

function drawing(canvas: HTMLCanvasElement, done: () => void): void {
  const context = canvas.getContext('2d')!;
  const clear = (): void => {
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const next = at(e);
    Object.assign(context, { strokeStyle: '#fff', lineWidth: 22, lineCap: 'round', lineJoin: 'round' });
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(...next);
    context.stroke();
    last = next;
  });
  canvas.addEventListener('pointerup', () => {
    last = null;
    done();
  });
  $('draw-clear').addEventListener('click', clear);
}

/** Classifies camera frames, a few a second, while the camera runs. */
function camera(c: Classifier, result: HTMLElement): void {
  cameraToggle($<HTMLButtonElement>('camera'), $<HTMLVideoElement>('camera-video'), {
    everyMs: 250,
    started: () => showPreview($<HTMLImageElement>('classify-preview'), null),
    failed: (e) => renderError(result, e),
    frame: (video) => {
      const frame = elementInput(c, video);
      showSeen('classify', c, frame, true);
      renderAnswer(result, classify(c, frame.input));
      result.dataset.image = 'camera';
    },
  });
}

export async function show(): Promise<void> {
  const result = $('classify-result');
  const c = await bundledModel();
  const preview = $<HTMLImageElement>('classify-preview');
  const answerBytes = (bytes: Uint8Array, name: string): void => {
    showPreview(preview, { bytes, name });
    try {
      const image = fileInput(c, bytes, name);
      showSeen('classify', c, image, true);
      renderAnswer(result, classify(c, image.input));
      result.dataset.image = name;
    } catch (e) {
      showSeen('classify', c, null, false);
      renderError(result, e);
    }
  };
  drawing($('draw'), () => {
    showPreview(preview, null);
    // a drawing is white on black like the data set: what the model sees, without the note for photos
    const image = elementInput(c, $<HTMLCanvasElement>('draw'));
    showSeen('classify', c, image, false);
    renderAnswer(result, classify(c, image.input));
    result.dataset.image = 'drawing';
  });
  onFiles($('drop-image'), $('image-file'), (files) => void bytesOf(files[0]).then((b) => answerBytes(b, files[0].name)));
  renderSamples($('samples'), answerBytes);
  camera(c, result);
}
