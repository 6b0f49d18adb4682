// COCO detection data from bytes (pure, browser-safe): an instances.json-style file parsed and checked (ids, boxes,
// categories mapped to a model's class slots 1..K), a split of it chosen, its images read through a file lookup.

import type { Box } from '../detect/types.js';
import { letterbox, letterboxImage, resizeMapping, type LetterboxOptions, type ResizeMapping } from '../detect/letterbox.js';
import { ConfigError, FormatError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { decodeImage, imageFormatOfName } from './image.js';
import { scalePixels, type PixelScaling } from './preprocess.js';
import { parseSplitList, VOC_PATHS, type VocLookup, type VocSplit } from './segmentation-data.js';

/** A category of the file and the model's class slot it maps to (1..K; slot 0 is the background). */
export interface CocoCategory {
  id: number;
  name: string;
  class: number;
}

/** One annotation, checked: a box inside its image with a positive size. */
export interface CocoObject {
  /** The annotation's id. */
  id: number;
  categoryId: number;
  /** The class slot of its category. */
  class: number;
  /** COCO's [x, y, width, height] in pixels of the image, x and y of the top-left corner. */
  bbox: [x: number, y: number, width: number, height: number];
  /** The same box as corners [ymin, xmin, ymax, xmax] in pixels, the detectors' order. */
  box: Box;
  /** The file's `area` (the object's pixels), or width·height when absent. */
  area: number;
  /** `iscrowd`: evaluation ignores detections that land on it instead of counting them as false positives. */
  crowd: boolean;
}

export interface CocoImage {
  id: number;
  /** As the file gives it: a path relative to the images' folder. */
  fileName: string;
  width: number;
  height: number;
  /** Its annotations, in file order. */
  objects: CocoObject[];
}

/**
 * How categories become class slots: `'order'` — by ascending id, 1..K (torchvision's and TF's contiguous
 * label maps); `'id'` — slot = category id (COCO's 91-slot layout); a list of slot names (index 0 the
 * background, as a model's class names) — by name, every category's name must be in it.
 */
export type CategoryMapping = 'order' | 'id' | readonly string[];

export interface CocoParseOptions {
  /** Default `'order'`. */
  classes?: CategoryMapping;
}

/** A parsed COCO detection file: its images with their objects, its categories and the class slots' names. */
export interface CocoDataset {
  /** Names the annotations file in errors. */
  source: string;
  /** In file order. */
  images: CocoImage[];
  /** By ascending id. */
  categories: CocoCategory[];
  /** Slot k's name; slot 0 'background' (or the given list's first name); a slot no category maps to is named by its number. */
  classNames: string[];
}

/** How far (pixels) a box may reach past its image's edge: annotation tools round, so files carry sub-pixel slop. */
const COCO_EDGE_TOLERANCE = 1;

/**
 * Parses and checks a COCO detection file. FormatErrors name the file and the image or annotation: duplicate
 * image, annotation or category ids (and duplicate file names), an annotation of an image or category that the
 * file does not list, a box with a zero or negative size or reaching past its image (by more than
 * COCO_EDGE_TOLERANCE pixels). A category whose name the `classes` list lacks is a ConfigError.
 */
export function parseCocoJson(json: Uint8Array | string, source: string, options: CocoParseOptions = {}): CocoDataset {
  let root: unknown;
  try {
    root = JSON.parse(typeof json === 'string' ? json : new TextDecoder().decode(json));
  } catch (e) {
    throw new FormatError(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const lists = root as { images?: unknown; annotations?: unknown; categories?: unknown };
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (typeof root !== 'object' || root === null || !Array.isArray(lists[key])) throw new FormatError(`${source}: not a COCO detection file (no "${key}" list)`);
  }
  const categories = parseCategories(lists.categories as unknown[], source, options.classes ?? 'order');
  const images = parseImages(lists.images as unknown[], source);
  const byId = new Map(images.map((image) => [image.id, image]));
  const classOf = new Map(categories.map((c) => [c.id, c.class]));
  const annotationIds = new Set<number>();
  for (const entry of lists.annotations as unknown[]) {
    const a = entry as { id?: unknown; image_id?: unknown; category_id?: unknown; bbox?: unknown; area?: unknown; iscrowd?: unknown };
    const id = a.id;
    if (!isInteger(id)) throw new FormatError(`${source}: an annotation has id ${JSON.stringify(id)}, not an integer`);
    const where = `${source}: annotation ${id}`;
    if (annotationIds.has(id)) throw new FormatError(`${where}: the id is used twice`);
    annotationIds.add(id);
    const image = isInteger(a.image_id) ? byId.get(a.image_id) : undefined;
    if (image === undefined) throw new FormatError(`${where} is of image ${JSON.stringify(a.image_id)}, which "images" does not list`);
    const at = `${where} (image ${image.id}, ${image.fileName})`;
    const slot = isInteger(a.category_id) ? classOf.get(a.category_id) : undefined;
    if (slot === undefined) throw new FormatError(`${at} has category ${JSON.stringify(a.category_id)}, which "categories" does not list (ids ${categories.map((c) => c.id).join(', ')})`);
    const bbox = checkBox(a.bbox, image, at);
    const area = a.area === undefined ? bbox[2] * bbox[3] : a.area;
    if (typeof area !== 'number' || !(area >= 0)) throw new FormatError(`${at} has area ${JSON.stringify(a.area)}, not a number ≥ 0`);
    if (!(a.iscrowd === undefined || a.iscrowd === 0 || a.iscrowd === 1 || typeof a.iscrowd === 'boolean')) throw new FormatError(`${at} has iscrowd ${JSON.stringify(a.iscrowd)}, not 0 or 1`);
    image.objects.push({ id, categoryId: a.category_id as number, class: slot, bbox, box: [bbox[1], bbox[0], bbox[1] + bbox[3], bbox[0] + bbox[2]], area, crowd: Boolean(a.iscrowd) });
  }
  return { source, images, categories, classNames: slotNames(categories, options.classes ?? 'order') };
}

function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function parseImages(entries: readonly unknown[], source: string): CocoImage[] {
  const images: CocoImage[] = [];
  const ids = new Map<number, string>();
  const names = new Map<string, number>();
  for (const entry of entries) {
    const { id, file_name: fileName, width, height } = entry as { id?: unknown; file_name?: unknown; width?: unknown; height?: unknown };
    if (!isInteger(id)) throw new FormatError(`${source}: an image has id ${JSON.stringify(id)}, not an integer`);
    if (typeof fileName !== 'string' || fileName === '') throw new FormatError(`${source}: image ${id} has no file_name`);
    if (!(isInteger(width) && isInteger(height) && width > 0 && height > 0)) {
      throw new FormatError(`${source}: image ${id} (${fileName}) has size ${JSON.stringify(width)}×${JSON.stringify(height)}, not positive integers`);
    }
    if (ids.has(id)) throw new FormatError(`${source}: image id ${id} is used twice (${ids.get(id)} and ${fileName})`);
    if (names.has(fileName)) throw new FormatError(`${source}: images ${names.get(fileName)} and ${id} are both ${fileName}`);
    ids.set(id, fileName);
    names.set(fileName, id);
    images.push({ id, fileName, width, height, objects: [] });
  }
  return images;
}

function parseCategories(entries: readonly unknown[], source: string, mapping: CategoryMapping): CocoCategory[] {
  const seen = new Set<number>();
  const parsed: Array<{ id: number; name: string }> = [];
  for (const entry of entries) {
    const { id, name } = entry as { id?: unknown; name?: unknown };
    if (!isInteger(id) || typeof name !== 'string') throw new FormatError(`${source}: category ${JSON.stringify(entry)} needs an integer id and a name`);
    if (seen.has(id)) throw new FormatError(`${source}: category id ${id} is used twice`);
    seen.add(id);
    parsed.push({ id, name });
  }
  if (parsed.length === 0) throw new FormatError(`${source}: no categories`);
  parsed.sort((a, b) => a.id - b.id);
  if (mapping === 'order') return parsed.map((c, k) => ({ ...c, class: k + 1 }));
  if (mapping === 'id') {
    const low = parsed.find((c) => c.id < 1);
    if (low) throw new ConfigError(`${source}: category ${low.id} (${low.name}) cannot be its own class slot (slot 0 is the background): map categories by order`);
    return parsed.map((c) => ({ ...c, class: c.id }));
  }
  return parsed.map((c) => {
    const slot = mapping.indexOf(c.name, 1);
    if (slot < 0) throw new ConfigError(`${source}: category ${c.id} (${c.name}) is not among the model's classes (${mapping.slice(1).join(', ')})`);
    return { ...c, class: slot };
  });
}

function slotNames(categories: readonly CocoCategory[], mapping: CategoryMapping): string[] {
  if (typeof mapping !== 'string') return [...mapping];
  const slots = Math.max(...categories.map((c) => c.class)) + 1;
  const names = Array.from({ length: slots }, (_, k) => (k === 0 ? 'background' : String(k)));
  for (const c of categories) names[c.class] = c.name;
  return names;
}

/** The bbox of an annotation, checked against its image. */
function checkBox(value: unknown, image: CocoImage, at: string): [number, number, number, number] {
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new FormatError(`${at} has bbox ${JSON.stringify(value)}, not four numbers [x, y, width, height]`);
  }
  const [x, y, width, height] = value as number[];
  if (!(width > 0 && height > 0)) throw new FormatError(`${at} has a box of size ${width}×${height}: width and height must be positive`);
  const t = COCO_EDGE_TOLERANCE;
  if (x < -t || y < -t || x + width > image.width + t || y + height > image.height + t) {
    throw new FormatError(`${at} has box [${value.join(', ')}] (x, y, width, height), outside the ${image.width}×${image.height} image`);
  }
  return [x, y, width, height];
}

/** Bytes of a file by its path relative to the data set's root, or undefined when absent (as for VOC folders). */
export type CocoLookup = VocLookup;

export interface CocoReadOptions extends CocoParseOptions {
  /** The annotations file, relative to the root; default annotations.json, else instances.json. */
  annotations?: string;
  /**
   * With a VOC split list beside the file (ImageSets/Segmentation/{train,val}.txt, as `mobilenet make-scenes`
   * writes), only the images it names (by file name without extension). Without one, every image.
   */
  split?: VocSplit;
  /** The first N images of the split only. */
  limit?: number;
}

/** A split of a COCO data set whose images can be read. */
export interface CocoData extends CocoDataset {
  /** Names the data set in errors. */
  root: string;
  /** What the reader assumed (no split list, so every image), one line each. */
  notes: string[];
  /** The image file's bytes, with the name errors use; a missing file is a ConfigError naming it and the image id. */
  read(image: CocoImage): Promise<{ source: string; bytes: Uint8Array }>;
}

/** Annotations files looked for when none is named, in order. */
export const COCO_ANNOTATIONS = [VOC_PATHS.annotations, 'instances.json'] as const;
/** Folders, under the root, where images are looked for (the file's folder itself first). */
const IMAGE_FOLDERS = ['', `${VOC_PATHS.images}/`, 'images/'] as const;

/**
 * Reads a COCO data set through `lookup` (a folder on disk, dropped files, …): the annotations file, the
 * split's images (see CocoReadOptions), and the folder the images are in (the root, JPEGImages/ or images/,
 * whichever holds the first image). `root` names the data set in errors.
 */
export async function readCocoSplit(lookup: CocoLookup, root: string, options: CocoReadOptions = {}): Promise<CocoData> {
  const candidates = options.annotations === undefined ? COCO_ANNOTATIONS : [options.annotations];
  let annotations: { path: string; bytes: Uint8Array } | undefined;
  for (const path of candidates) {
    const bytes = await lookup(path);
    if (bytes !== undefined) {
      annotations = { path, bytes };
      break;
    }
  }
  if (annotations === undefined) throw new ConfigError(`${root}: no ${candidates.join(' or ')}: not a COCO detection folder`);
  const dataset = parseCocoJson(annotations.bytes, `${root}/${annotations.path}`, options);
  const notes: string[] = [];
  let images = dataset.images;
  if (options.split !== undefined) {
    const listPath = VOC_PATHS.split(options.split);
    const list = await lookup(listPath);
    if (list === undefined) notes.push(`${root} has no ${listPath}: every image of ${annotations.path} is read`);
    else {
      const names = new Set(parseSplitList(new TextDecoder().decode(list)));
      images = images.filter((image) => names.has(stem(image.fileName)));
      if (images.length === 0) throw new ConfigError(`${root}: no image of ${annotations.path} is named in ${listPath}`);
    }
  }
  const limit = options.limit ?? images.length;
  if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`COCO data: limit must be a positive integer, got ${limit}`);
  images = images.slice(0, limit);
  if (images.length === 0) throw new ConfigError(`${root}: ${annotations.path} lists no images`);
  const folder = await imageFolder(lookup, images[0]);
  const read = async (image: CocoImage): Promise<{ source: string; bytes: Uint8Array }> => {
    const path = `${folder ?? ''}${image.fileName}`;
    const bytes = folder === undefined ? undefined : await lookup(path);
    if (bytes === undefined) throw new ConfigError(`${root}: image ${image.id}'s file ${image.fileName} is missing (looked in ${IMAGE_FOLDERS.map((f) => `${f || './'}`).join(', ')})`);
    return { source: `${root}/${path}`, bytes };
  };
  return { ...dataset, images, root, notes, read };
}

/** The folder prefix under which `image`'s file exists, undefined when none has it. */
async function imageFolder(lookup: CocoLookup, image: CocoImage): Promise<string | undefined> {
  for (const folder of IMAGE_FOLDERS) if ((await lookup(`${folder}${image.fileName}`)) !== undefined) return folder;
  return undefined;
}

/** A file name without its folders and extension: the name split lists use. */
function stem(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

export interface CocoBatchOptions {
  /** The model input's [height, width]. */
  size: readonly [height: number, width: number];
  /** 1 grey or 3 RGB (default 3). */
  channels?: 1 | 3;
  /** Default 'unit' (0..1). */
  pixels?: PixelScaling;
  /** Keep the aspect and pad (src/detect/letterbox.ts; true: centred, black) instead of stretching (default). */
  letterbox?: boolean | LetterboxOptions;
}

/** Images of a COCO split as one model input, with where each image sits in it. */
export interface CocoBatch {
  /** [N, height, width, channels] float32, scaled per `pixels`. */
  x: Tensor;
  images: CocoImage[];
  /** Image n's mapping between its pixels and the input (toSourceBox / toModelBox). */
  mappings: ResizeMapping[];
}

/**
 * Reads and decodes `images` of `data` into one batch at the model's input size, stretched or letterboxed.
 * An image whose decoded size is not the one the annotations give is a ShapeError naming the file and the image id.
 */
export async function decodeCocoBatch(data: CocoData, images: readonly CocoImage[], options: CocoBatchOptions): Promise<CocoBatch> {
  const [height, width] = options.size;
  const channels = options.channels ?? 3;
  const input = { width, height };
  const x = new Float32Array(images.length * height * width * channels);
  const mappings: ResizeMapping[] = [];
  for (const [n, image] of images.entries()) {
    const { source, bytes } = await data.read(image);
    const decoded = decodeImage(bytes, { channels, source, expect: imageFormatOfName(source) });
    const [h, w] = decoded.shape;
    if (h !== image.height || w !== image.width) throw new ShapeError(`${source} is ${w}×${h} but ${data.source} says image ${image.id} is ${image.width}×${image.height}: its boxes would not fit`);
    const fit = options.letterbox ?? false;
    const mapping = fit === false ? resizeMapping({ width: w, height: h }, input) : letterbox({ width: w, height: h }, input, fit === true ? {} : fit);
    x.set(scalePixels(letterboxImage(decoded.pixels, decoded.shape, mapping), channels, options.pixels ?? 'unit'), n * height * width * channels);
    mappings.push(mapping);
  }
  return { x: new Tensor([images.length, height, width, channels], x), images: [...images], mappings };
}
