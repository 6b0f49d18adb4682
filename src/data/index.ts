// The data layer's public surface (pure, browser-safe): IDX and image decoding, preprocessing, Dataset and batches.
// File-system readers (image folders, IDX files on disk, single images) are in src/node.

export * from './dataset.js';
export { crc32, gunzip, isGzip } from './gzip.js';
export * from './idx.js';
export * from './idx-dataset.js';
export * from './image.js';
export * from './preprocess.js';
export * from './preprocess-presets.js';
export { readVocSplit, decodeVocSamples, resizeNearestLabels } from './segmentation-data.js';
export type { SegmentationSet, SegmentationReadOptions, VocReadOptions, VocSample, VocLookup, VocSplit } from './segmentation-data.js';
export { parseCocoJson, readCocoSplit, decodeCocoBatch } from './coco-json.js';
export type { CocoBatch, CocoBatchOptions, CocoData, CocoDataset, CocoImage, CocoObject, CocoCategory, CategoryMapping, CocoParseOptions, CocoReadOptions, CocoLookup } from './coco-json.js';
export { generateScene, cocoAnnotations } from './scenes.js';
export type { Scene, SceneObject, SceneOptions, SceneSource, SceneRecord, CocoFile } from './scenes.js';
export { augmentSegmentation, augmentSegmentationBatch } from './segmentation-augment.js';
export type { SegmentationAugmentOptions, SegmentationSample, UniformSource } from './segmentation-augment.js';
export { augmentDetectionBatch, drawDetectionAugment, applyDetectionAugment } from './detection-augment.js';
export type { DetectionAugmentOptions, DetectionAugmentPlan, DetectionSample } from './detection-augment.js';
