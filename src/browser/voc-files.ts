// Segmentation data from files a user drops or picks in a page: a VOC folder (paths from webkitRelativePath) or
// loose image + mask pairs, read on demand into a SegmentationSet by the pure reader in src/data.

import { readVocSplit, VOC_IMAGE_EXTENSIONS, VOC_PATHS, type SegmentationSet, type VocReadOptions } from '../data/segmentation-data.js';
import { FormatError } from '../errors.js';

/** A dropped or picked file: `webkitRelativePath` is its path inside a dropped folder ('' for loose files). */
type DroppedFile = File & { readonly webkitRelativePath?: string };

const VOC_FOLDERS = [VOC_PATHS.images, VOC_PATHS.masks, 'ImageSets'];

/**
 * Reads a segmentation split from dropped files. A folder drop (or files whose paths hold JPEGImages/,
 * SegmentationClass/ or ImageSets/) is read as a VOC folder, from its split list, or, without one, every
 * image that has a mask. Loose files pair NAME.jpg (or .jpeg) with the mask NAME.png. Files are read only
 * when needed.
 */
export async function readVocFiles(files: Iterable<File> | ArrayLike<File>, options: VocReadOptions = {}): Promise<SegmentationSet> {
  const all = Array.from(files as ArrayLike<DroppedFile>, (file) => ({ path: (file.webkitRelativePath || file.name).replace(/\\/g, '/'), file }));
  if (all.length === 0) throw new FormatError('no files given: drop a VOC folder, or images with their mask PNGs');
  const byPath = new Map<string, File>();
  const root = vocRoot(all.map((f) => f.path));
  if (root !== undefined) {
    for (const { path, file } of all) if (path.startsWith(root)) byPath.set(path.slice(root.length), file);
  } else {
    for (const [name, pair] of loosePairs(all)) {
      byPath.set(`${VOC_PATHS.images}/${name}${pair.extension.toLowerCase()}`, pair.image);
      byPath.set(`${VOC_PATHS.masks}/${name}.png`, pair.mask);
    }
  }
  const listPath = VOC_PATHS.split(options.split ?? 'train');
  const listed = byPath.get(listPath);
  const names = listed ? undefined : pairedNames(byPath);
  if (names !== undefined && names.length === 0) {
    throw new FormatError(`no image with a mask among ${all.length} files: drop a VOC folder (JPEGImages/, SegmentationClass/) or NAME.jpg with NAME.png`);
  }
  const lookup = async (path: string): Promise<Uint8Array | undefined> => {
    if (path === listPath && names) return new TextEncoder().encode(names.join('\n'));
    const file = byPath.get(path);
    return file && new Uint8Array(await file.arrayBuffer());
  };
  return readVocSplit(lookup, root === undefined ? 'dropped files' : root.replace(/\/$/, '') || 'dropped folder', options);
}

/** The path prefix (ending in '/', or '') before the first VOC folder in any path; undefined when none has one. */
function vocRoot(paths: readonly string[]): string | undefined {
  for (const path of paths) {
    const parts = path.split('/');
    const at = parts.findIndex((part, i) => i < parts.length - 1 && VOC_FOLDERS.includes(part));
    if (at >= 0) return parts.slice(0, at).map((p) => `${p}/`).join('');
  }
  return undefined;
}

/** Loose files by name: NAME.jpg / NAME.jpeg images whose mask NAME.png was dropped with them. */
function loosePairs(files: ReadonlyArray<{ path: string; file: File }>): Map<string, { image: File; mask: File; extension: string }> {
  const byName = new Map(files.map(({ path, file }) => [path.slice(path.lastIndexOf('/') + 1), file]));
  const pairs = new Map<string, { image: File; mask: File; extension: string }>();
  for (const [fileName, image] of byName) {
    const match = /^(.*)(\.jpe?g)$/i.exec(fileName);
    const mask = match ? byName.get(`${match[1]}.png`) : undefined;
    if (match && mask) pairs.set(match[1], { image, mask, extension: match[2] });
  }
  return pairs;
}

/** The names, sorted, that have both a mask and an image under their VOC paths. */
function pairedNames(byPath: ReadonlyMap<string, File>): string[] {
  const names: string[] = [];
  for (const path of byPath.keys()) {
    const match = new RegExp(`^${VOC_PATHS.masks}/(.+)\\.png$`).exec(path);
    if (match && VOC_IMAGE_EXTENSIONS.some((e) => byPath.has(`${VOC_PATHS.images}/${match[1]}${e}`))) names.push(match[1]);
  }
  return names.sort();
}
