// Detection data from files a user drops or picks in a page: a COCO folder (paths from webkitRelativePath) or an
// annotations JSON with loose images, read on demand by the pure reader in src/data/coco-json.ts.

import { COCO_ANNOTATIONS, readCocoSplit, type CocoData, type CocoReadOptions } from '../data/coco-json.js';
import { FormatError } from '../errors.js';

/** A dropped or picked file: `webkitRelativePath` is its path inside a dropped folder ('' for loose files). */
type DroppedFile = File & { readonly webkitRelativePath?: string };

/**
 * Reads a COCO split from dropped files: the annotations file is annotations.json, else instances.json, else
 * the only .json dropped; images are found by their file_name under its folder (or JPEGImages/, images/), and
 * loose files by name alone. Files are read only when needed.
 */
export async function readCocoFiles(files: Iterable<File> | ArrayLike<File>, options: Omit<CocoReadOptions, 'annotations'> = {}): Promise<CocoData> {
  const all = Array.from(files as ArrayLike<DroppedFile>, (file) => ({ path: (file.webkitRelativePath || file.name).replace(/\\/g, '/'), file }));
  const json = annotationsFile(all.map((f) => f.path));
  const slash = json.lastIndexOf('/');
  const root = json.slice(0, slash + 1);
  const byPath = new Map(all.filter((f) => f.path.startsWith(root)).map(({ path, file }) => [path.slice(root.length), file]));
  const byName = new Map<string, File | null>();
  for (const { path, file } of all) {
    const name = baseName(path);
    byName.set(name, byName.has(name) ? null : file); // a name dropped twice cannot stand for a file_name
  }
  const lookup = async (path: string): Promise<Uint8Array | undefined> => {
    const file = byPath.get(path) ?? byName.get(baseName(path));
    return file ? new Uint8Array(await file.arrayBuffer()) : undefined;
  };
  return readCocoSplit(lookup, root.replace(/\/$/, '') || 'dropped files', { ...options, annotations: json.slice(slash + 1) });
}

/** The dropped annotations file's path: annotations.json, instances.json, instances_*.json, else the only .json. */
function annotationsFile(paths: readonly string[]): string {
  const known = [...COCO_ANNOTATIONS.map((name) => (p: string) => baseName(p) === name), (p: string) => /^instances.*\.json$/i.test(baseName(p))];
  for (const matches of known) {
    const found = paths.find(matches);
    if (found !== undefined) return found;
  }
  const json = paths.filter((p) => p.toLowerCase().endsWith('.json'));
  if (json.length === 1) return json[0];
  throw new FormatError(json.length === 0 ? `no COCO annotations among ${paths.length} dropped files: drop annotations.json (or instances.json) with the images` : `${json.length} JSON files dropped (${json.join(', ')}): drop one annotations file`);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
