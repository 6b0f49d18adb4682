// Browser edge of the high-level API: loadModel's classifier also takes what a page has as an image, an <img>,
// <canvas>, OffscreenCanvas, ImageBitmap or <video> frame, read through a canvas at its intrinsic size.

import { MobileNetClassifier, decodeModelSource, decodeOptions } from '../api/load-model.js';
import type { ImageSource, LoadModelOptions, ModelSource } from '../api/load-model.js';
import { imageData } from './image.js';
import type { ImageInput } from './image.js';

/** An image in a page: what the core takes, or an element, canvas, bitmap or video frame. */
export type BrowserImageSource = ImageSource | ImageInput;

/** The DOM classes whose pixels are read through a canvas (ImageData is pixels already). */
const DRAWABLE = ['HTMLImageElement', 'HTMLCanvasElement', 'OffscreenCanvas', 'ImageBitmap', 'HTMLVideoElement'] as const;

function isDrawable(image: BrowserImageSource): image is Exclude<ImageInput, ImageData> {
  return DRAWABLE.some((name) => {
    const type = (globalThis as Record<string, unknown>)[name];
    return typeof type === 'function' && image instanceof type;
  });
}

/**
 * Loads a model for classifying and embedding images in a page: a URL (relative to the page; TF.js shards and
 * ONNX external data fetched beside it), bytes (a dropped File's), or nothing (or 'bundled') for the bundled
 * Fashion-MNIST model beside the package's dist/. Images may also be elements, canvases, bitmaps and video frames.
 */
export async function loadModel(source?: ModelSource, options: LoadModelOptions = {}): Promise<MobileNetClassifier<BrowserImageSource>> {
  const loaded = await decodeModelSource(source, decodeOptions(options));
  return MobileNetClassifier.create(loaded, options, (image: BrowserImageSource): ImageSource => (isDrawable(image) ? imageData(image) : image));
}
