// Node edge for IDX data: reads MNIST-format files (gzipped or not) and finds a split's pair in a folder
// such as /usr/share/datasets/fashion-mnist (`train-…` and `t10k-…` files).

import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { decodeIdx, type IdxArray } from '../data/idx.js';
import { FASHION_MNIST_CLASSES, idxDataset, type IdxDataset, type IdxDatasetOptions } from '../data/idx-dataset.js';
import { ConfigError } from '../errors.js';
import { FileError, readBytes } from './files.js';

export async function readIdxFile(path: string): Promise<IdxArray> {
  return decodeIdx(await readBytes(path), path);
}

/** An IDX data set from an images file and a labels file. */
export async function readIdxDataset(imagesPath: string, labelsPath: string, options: IdxDatasetOptions = {}): Promise<IdxDataset> {
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  return idxDataset(images, labels, { ...options, sources: { images: imagesPath, labels: labelsPath, ...options.sources } });
}

export interface IdxFolderOptions extends IdxDatasetOptions {
  /** 'train' reads the train-… files, 'test' the t10k-… files (default 'train'). */
  split?: 'train' | 'test';
}

/** The images and labels files of a split in an MNIST-format folder: `{train,t10k}-{images,labels}-idx?-ubyte[.gz]`. */
export async function findIdxFiles(folder: string, split: 'train' | 'test' = 'train'): Promise<{ images: string; labels: string }> {
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (e) {
    throw new FileError(`cannot list ${folder}: ${e instanceof Error ? e.message : String(e)}`, folder, (e as NodeJS.ErrnoException).code, { cause: e });
  }
  const prefix = split === 'test' ? 't10k' : 'train';
  const find = (kind: 'images' | 'labels'): string => {
    const pattern = new RegExp(`^${prefix}-${kind}[-.]idx\\d-ubyte(\\.gz)?$`);
    const matches = names.filter((n) => pattern.test(n));
    if (matches.length === 0) throw new ConfigError(`${folder}: no ${prefix}-${kind}-idx?-ubyte[.gz] file for the ${split} split`);
    // both a .gz and a plain copy: prefer the plain one, it needs no inflating
    return join(folder, matches.find((n) => !n.endsWith('.gz')) ?? matches[0]);
  };
  return { images: find('images'), labels: find('labels') };
}

/**
 * The train or test split of an MNIST-format folder. Class names default to Fashion-MNIST's when the
 * folder's name says 'fashion' (as /usr/share/datasets/fashion-mnist does), to digits otherwise.
 */
export async function readIdxFolder(folder: string, options: IdxFolderOptions = {}): Promise<IdxDataset> {
  const { images, labels } = await findIdxFiles(folder, options.split);
  const classes = options.classes ?? (/fashion/i.test(basename(folder)) ? FASHION_MNIST_CLASSES : undefined);
  return readIdxDataset(images, labels, { ...options, classes });
}
