// `mobilenet-ts/browser`: the browser-only edge: image elements, canvases, video frames and ImageData as tensors,
// and models from files the user drops or picks (with their TF.js shards or ONNX external data).

export { imageData, imageTensor } from './image.js';
export type { ImageInput, ImageInputOptions } from './image.js';
export { decodeModelFiles, mainModelFile } from './files.js';
export type { NamedBytes } from './files.js';
export { readVocFiles } from './voc-files.js';
export { readCocoFiles } from './coco-files.js';
export { loadModel } from './load-model.js';
export type { BrowserImageSource } from './load-model.js';
