// `mobilenet-ts/node`: the Node-only edge: reading model and tensor files, writing them atomically.

export * from './files.js';
export { enableWasmFeatures } from './wasm-features.js';
export { peakRssBytes } from './memory.js';
export { readImage } from './image.js';
export { imageFolderDataset } from './image-folder.js';
export { readIdxFile, readIdxDataset, readIdxFolder } from './idx-files.js';
export { readVocFolder } from './voc-folder.js';
export { readCocoFolder } from './coco-folder.js';
export { openDataset, runTraining, readCheckpoint, detectionSet } from './training-run.js';
export { readTfjsModel, readTfjsGraphModel, readTfjsModelFiles, writeTfjsModel, checkShardPath } from './tfjs-files.js';
export { readOnnxFile, writeOnnxFile } from './onnx-files.js';
export { loadAnyModel, saveAnyModel, detectModelFormat, saveFormatFor, UnknownFormatError, MODEL_FORMATS, SAVE_FORMATS } from './any-model.js';
export type { AnyModel, LoadAnyModelOptions, ModelFormat, SaveFormat, SaveAnyModelOptions, SavedModel } from './any-model.js';
export { loadModel, bundledModelPath } from './load-model.js';
export type { NodeImageSource } from './load-model.js';
