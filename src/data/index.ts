// The data layer's public surface (pure, browser-safe): IDX and image decoding, preprocessing, Dataset and batches.
// File-system readers (image folders, IDX files on disk, single images) are in src/node.

export * from './dataset.js';
export { crc32, gunzip, isGzip } from './gzip.js';
export * from './idx.js';
export * from './idx-dataset.js';
export * from './image.js';
export * from './preprocess.js';
export * from './preprocess-presets.js';
