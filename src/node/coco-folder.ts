// Node edge of detection data: a COCO folder on disk (annotations.json or instances.json, images beside it, in
// JPEGImages/ or images/; `mobilenet make-scenes` writes one), or an annotations file by path, read by src/data/coco-json.ts.

import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

import { readCocoSplit, type CocoData, type CocoReadOptions } from '../data/coco-json.js';
import { folderLookup } from './voc-folder.js';

/**
 * A split of the COCO data set at `path`: a folder (its annotations.json or instances.json), or a .json
 * annotations file whose images are beside it (or in JPEGImages/ or images/ beside it).
 */
export async function readCocoFolder(path: string, options: CocoReadOptions = {}): Promise<CocoData> {
  const isFile = await stat(path).then((s) => s.isFile(), () => false);
  if (isFile) return readCocoSplit(await folderLookup(dirname(path)), dirname(path), { ...options, annotations: options.annotations ?? basename(path) });
  return readCocoSplit(await folderLookup(path), path, options);
}
