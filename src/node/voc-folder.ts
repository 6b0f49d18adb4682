// Node edge of segmentation data: a PASCAL VOC-style folder on disk (as `mobilenet make-scenes` writes) read
// into a SegmentationSet by the pure reader in src/data/segmentation-data.ts.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { readVocSplit, type SegmentationSet, type VocLookup, type VocReadOptions } from '../data/segmentation-data.js';
import { ConfigError } from '../errors.js';
import { FileError } from './files.js';

/** One split of the VOC folder `dir` (ImageSets/Segmentation/{train,val}.txt, JPEGImages/, SegmentationClass/). */
export async function readVocFolder(dir: string, options: VocReadOptions = {}): Promise<SegmentationSet> {
  return readVocSplit(await folderLookup(dir), dir, options);
}

/** Files of the folder `dir` by relative path (undefined when absent); a ConfigError when `dir` is not a folder. */
export async function folderLookup(dir: string): Promise<VocLookup> {
  const isFolder = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isFolder) throw new ConfigError(`data folder ${dir} does not exist or is not a folder`);
  return async (path) => {
    const full = join(dir, path);
    try {
      const buffer = await readFile(full);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new FileError(`cannot read ${full}: ${e instanceof Error ? e.message : String(e)}`, full, code, { cause: e });
    }
  };
}
