// An image-folder data set (one sub-folder per class, like torchvision's ImageFolder): files are listed
// and checked by magic bytes up front, then read, decoded and resized only when an example is asked for.

import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { Dataset, Example } from '../data/dataset.js';
import { checkIndex } from '../data/dataset.js';
import { checkImageMagic, decodeImage, imageFormatOfName, ImageFileError, type ImageFormat } from '../data/image.js';
import { preprocessImage, type ImageShape, type PixelScaling, type Fit } from '../data/preprocess.js';
import { ConfigError } from '../errors.js';
import { FileError, readBytes } from './files.js';

export interface ImageFolderOptions {
  /** Target [height, width] every image is fitted to. */
  size: readonly [height: number, width: number];
  /** 1 grey or 3 RGB (default 3). */
  channels?: 1 | 3;
  /** Default 'bilinear'. */
  fit?: Fit;
  /** Default 'unit' (0..1). */
  pixels?: PixelScaling;
  /** Class names in label order (e.g. a model's); default the sub-folder names, sorted. Folders not named here are an error. */
  classes?: readonly string[];
  /** A corrupt, mislabeled or unreadable file: 'stop' throws (default), 'skip' leaves it out and calls onSkip. */
  onError?: 'stop' | 'skip';
  /** Told about each skipped file; default prints a warning with console.warn. */
  onSkip?: (error: ImageFileError | FileError) => void;
  /**
   * What is checked when the folder is opened: 'magic' (default) reads each file's first bytes, so a
   * mislabeled or non-image file is found at once; 'decode' decodes every file once (and keeps nothing),
   * so in skip mode every index afterwards is a readable image.
   */
  verify?: 'magic' | 'decode';
  /** Largest width × height accepted per image (default 50 million). */
  maxPixels?: number;
  /** Files checked at once while opening (default 16). */
  concurrency?: number;
}

export interface ImageFile {
  path: string;
  label: number;
  format: ImageFormat;
}

export interface ImageFolderDataset extends Dataset {
  readonly root: string;
  /** The images in index order: classes in order, files sorted by path within each. */
  readonly files: readonly ImageFile[];
  /** Files left out in skip mode, with why (grows if a file fails to decode later). */
  readonly skipped: ReadonlyArray<{ path: string; error: ImageFileError | FileError }>;
}

/** Names that are never images or classes: hidden files and folders (.DS_Store, .git, …). */
const isHidden = (name: string): boolean => name.startsWith('.');

/**
 * Opens `root` as an image-folder data set. JPEG and PNG files (by extension, any case) are its images;
 * other files are ignored. With onError 'skip', a file that fails only when its example is fetched (its
 * data is corrupt past the header) is reported once and the example is taken from the next readable
 * file, so batches keep their size; use verify 'decode' to find such files when opening instead.
 */
export async function imageFolderDataset(root: string, options: ImageFolderOptions): Promise<ImageFolderDataset> {
  const channels = options.channels ?? 3;
  const [height, width] = options.size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || (channels !== 1 && channels !== 3)) {
    throw new ConfigError(`image folder: size must be positive integers and channels 1 or 3, got size [${options.size.join(', ')}], channels ${channels}`);
  }
  const onError = options.onError ?? 'stop';
  const onSkip = options.onSkip ?? ((error) => console.warn(`skipped: ${error.message}`));
  const folders = (await listEntries(root)).filter((e) => e.isDirectory && !isHidden(e.name)).map((e) => e.name);
  folders.sort();
  const classes = options.classes ? [...options.classes] : folders;
  for (const folder of folders) {
    if (!classes.includes(folder)) throw new ConfigError(`${join(root, folder)}: folder is not one of the classes ${JSON.stringify(classes)}`);
  }
  const candidates: Array<{ path: string; label: number; format: ImageFormat }> = [];
  for (const folder of folders) {
    const label = classes.indexOf(folder);
    for (const path of await listFiles(join(root, folder))) {
      const format = imageFormatOfName(path);
      if (format !== undefined) candidates.push({ path, label, format });
    }
  }
  candidates.sort((a, b) => a.label - b.label || compare(a.path, b.path));

  const skipped: Array<{ path: string; error: ImageFileError | FileError }> = [];
  const skip = (path: string, error: unknown): void => {
    if (onError === 'stop' || !(error instanceof ImageFileError || error instanceof FileError)) throw error;
    skipped.push({ path, error });
    onSkip(error);
  };
  const decodeOptions = (file: ImageFile) => ({ channels, source: file.path, expect: file.format, maxPixels: options.maxPixels });
  // every file is checked before any is reported, so the error thrown (or the order of warnings) is
  // the first in index order, not whichever read finished first
  const problems = await mapLimited(candidates, options.concurrency ?? 16, async (file): Promise<unknown> => {
    try {
      if (options.verify === 'decode') decodeImage(await readBytes(file.path), decodeOptions(file));
      else checkImageMagic(await readHead(file.path, 8), file.path, file.format);
      return undefined;
    } catch (e) {
      return e;
    }
  });
  candidates.forEach((file, i) => {
    if (problems[i] !== undefined) skip(file.path, problems[i]);
  });
  const files = candidates.filter((_, i) => problems[i] === undefined);
  if (files.length === 0) {
    throw new ConfigError(`${root}: no readable PNG or JPEG images in sub-folders${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
  }

  const shape: ImageShape = Object.freeze([height, width, channels]) as ImageShape;
  const failed = new Set<number>();
  const decodeFile = async (index: number): Promise<Example> => {
    const file = files[index];
    const image = decodeImage(await readBytes(file.path), decodeOptions(file));
    return { image: preprocessImage(image.pixels, image.shape, options), label: file.label };
  };
  const dataset: ImageFolderDataset = {
    root,
    files,
    skipped,
    size: files.length,
    classes: Object.freeze(classes),
    shape,
    label: (index) => {
      checkIndex(dataset, index);
      return files[index].label;
    },
    get: async (index) => {
      checkIndex(dataset, index);
      let lastError: unknown;
      for (let step = 0; step < files.length; step++) {
        const candidate = (index + step) % files.length;
        if (failed.has(candidate)) continue;
        try {
          return await decodeFile(candidate);
        } catch (e) {
          lastError = e;
          skip(files[candidate].path, e);
          failed.add(candidate);
        }
      }
      throw lastError;
    },
  };
  return dataset;
}

interface Entry {
  name: string;
  isDirectory: boolean;
  isFile: boolean;
}

async function listEntries(folder: string): Promise<Entry[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (e) {
    throw new FileError(`cannot list ${folder}: ${e instanceof Error ? e.message : String(e)}`, folder, (e as NodeJS.ErrnoException).code, { cause: e });
  }
  return Promise.all(
    entries.map(async (entry) => {
      if (!entry.isSymbolicLink()) return { name: entry.name, isDirectory: entry.isDirectory(), isFile: entry.isFile() };
      // follow links, so a folder of links into another data set works; a dangling link is neither
      const target = await stat(join(folder, entry.name)).catch(() => undefined);
      return { name: entry.name, isDirectory: target?.isDirectory() ?? false, isFile: target?.isFile() ?? false };
    }),
  );
}

/** Every non-hidden file under `folder`, recursively, as paths. */
async function listFiles(folder: string): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await listEntries(folder)) {
    if (isHidden(entry.name)) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory) paths.push(...(await listFiles(path)));
    else if (entry.isFile) paths.push(path);
  }
  return paths;
}

/** The first `count` bytes of a file (fewer if it is shorter). */
async function readHead(path: string, count: number): Promise<Uint8Array> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = new Uint8Array(count);
      const { bytesRead } = await handle.read(buffer, 0, count, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new FileError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, path, (e as NodeJS.ErrnoException).code, { cause: e });
  }
}

/** Code-unit order, the same on every platform and locale (like Python's sorted()). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
