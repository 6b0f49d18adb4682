// `mobilenet make-scenes`: writes a reproducible synthetic segmentation data set in VOC layout (images, palette
// masks, split list) plus COCO boxes, from Fashion-MNIST items; the scenes themselves come from src/data/scenes.ts.

import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { encode as encodePng } from 'fast-png';
import { FASHION_SCENE_CLASSES } from '../data/label-maps.js';
import { encodeMaskPng } from '../data/mask-png.js';
import { cocoAnnotations, generateScene, sceneRecords, type CocoFile, type SceneRecord } from '../data/scenes.js';
import { VOC_PATHS } from '../data/segmentation-data.js';
import { ConfigError, FormatError } from '../errors.js';
import { FileError, readBytes, writeFileAtomic } from '../node/files.js';
import { findIdxFiles, readIdxFile } from '../node/idx-files.js';
import { numberFlag, NON_NEGATIVE_INTEGER, parse, POSITIVE_INTEGER, requiredFlag, stringFlag } from './args.js';
import type { CommandIO } from './io.js';
import { createProgress } from './progress.js';

export const MAKE_SCENES_HELP = `mobilenet make-scenes --out DIR [--images N] [--size S] [--seed S] [--split train|test] [--data DIR]
Writes N synthetic scenes (a synthetic benchmark, not real-world data): Fashion-MNIST items at random scales,
places and tints, overlapping, on noise, gradient, stripe and check backgrounds; labels 0 background, 1..10 the
Fashion-MNIST class + 1. Same flags, same bytes. Layout (PASCAL VOC): JPEGImages/NAME.png (PNG, lossless),
SegmentationClass/NAME.png (palette masks), ImageSets/Segmentation/train.txt (test scenes: val.txt), and
annotations.json (COCO boxes of the visible items, every split written to DIR). Names: train-00000, test-00000, …
  --out DIR                          the data set's folder (made if missing; both splits can share it)
  --images N                         how many scenes (default 1000)
  --size S                           scene side in pixels (default 128)
  --seed S                           seed, a non-negative integer (default 0)
  --split train|test                 items from Fashion-MNIST's train or test split (default train)
  --data DIR                         Fashion-MNIST IDX files (default: data/fashion-mnist beside the package,
                                     then /usr/share/datasets/fashion-mnist, whichever has the split)`;

/** Where Fashion-MNIST is looked for when --data is not given, in order. */
function defaultDataFolders(): string[] {
  return [join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
}

/** Test scenes draw from another stream than train scenes of the same seed, so their backgrounds differ too. */
const TEST_STREAM = 0x5eed7e57;
/** Scenes whose files are written (and synced) together. */
const WRITE_BATCH = 64;

export async function makeScenesCommand(argv: string[], io: CommandIO): Promise<void> {
  const spec = { out: { type: 'string' }, images: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' }, split: { type: 'string' }, data: { type: 'string' } } as const;
  const { values } = parse(argv, spec, 'make-scenes');
  const out = requiredFlag(values, 'out', 'make-scenes', 'DIR');
  const count = numberFlag(values, 'images', POSITIVE_INTEGER) ?? 1000;
  const size = numberFlag(values, 'size', POSITIVE_INTEGER) ?? 128;
  const seed = numberFlag(values, 'seed', NON_NEGATIVE_INTEGER) ?? 0;
  const split = stringFlag(values, 'split', ['train', 'test'] as const) ?? 'train';
  const files = await findItems(typeof values.data === 'string' ? [values.data] : defaultDataFolders(), split);
  const [images, labels] = await Promise.all([readIdxFile(files.images), readIdxFile(files.labels)]);
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || labels.shape[0] !== images.shape[0]) {
    throw new FormatError(`${files.images}: expected uint8 images [N, H, W] with as many labels in ${files.labels}, got ${images.dtype} [${images.shape.join(', ')}] and ${labels.shape[0]} labels`);
  }
  const source = { images: images.data as Uint8Array, labels: labels.data, height: images.shape[1], width: images.shape[2] };

  for (const folder of [VOC_PATHS.images, VOC_PATHS.masks, dirname(VOC_PATHS.split('train'))]) await mkdir(join(out, folder), { recursive: true });
  const progress = createProgress(io, { label: `make-scenes (${split})`, total: count, unit: 'scenes' });
  const names: string[] = [];
  const records: SceneRecord[] = [];
  const counts = new Float64Array(FASHION_SCENE_CLASSES.length);
  const sceneSeed = split === 'test' ? (seed ^ TEST_STREAM) >>> 0 : seed;
  try {
    for (let start = 0; start < count; start += WRITE_BATCH) {
      const writes: Promise<void>[] = [];
      for (let index = start; index < Math.min(count, start + WRITE_BATCH); index++) {
        const scene = generateScene(source, index, { size, seed: sceneSeed });
        const name = `${split}-${String(index).padStart(5, '0')}`;
        writes.push(
          writeFileAtomic(join(out, VOC_PATHS.images, `${name}.png`), encodePng({ width: size, height: size, data: scene.pixels, channels: 3, depth: 8 })),
          writeFileAtomic(join(out, VOC_PATHS.masks, `${name}.png`), encodeMaskPng({ width: size, height: size, labels: scene.mask })),
        );
        names.push(name);
        records.push({ fileName: `${name}.png`, width: size, height: size, objects: scene.objects });
        for (const label of scene.mask) counts[label]++;
      }
      await Promise.all(writes);
      progress.tick(writes.length / 2);
    }
  } finally {
    progress.stop();
  }
  const list = VOC_PATHS.split(split === 'test' ? 'val' : 'train');
  await writeFileAtomic(join(out, list), new TextEncoder().encode(`${names.join('\n')}\n`));
  const annotationsPath = join(out, VOC_PATHS.annotations);
  const others = (await readCoco(annotationsPath)).filter((r) => !r.fileName.startsWith(`${split}-`));
  const coco = cocoAnnotations([...others, ...records]);
  await writeFileAtomic(annotationsPath, new TextEncoder().encode(`${JSON.stringify(coco)}\n`));

  const total = count * size * size;
  const fractions = [...counts].map((c, label) => `${label} ${((100 * c) / total).toFixed(1)}%`).join(', ');
  io.out(`${count} ${split} scenes of ${size}×${size} (seed ${seed}, items from ${files.images}) in ${out}: ${VOC_PATHS.images}/, ${VOC_PATHS.masks}/, ${list}, ${VOC_PATHS.annotations} (${coco.images.length} images, ${coco.annotations.length} boxes)`);
  io.out(`pixels per label: ${fractions}`);
}

/** The split's IDX files in the first folder that has them. */
async function findItems(folders: readonly string[], split: 'train' | 'test'): Promise<{ images: string; labels: string }> {
  const reasons: string[] = [];
  for (const folder of folders) {
    try {
      return await findIdxFiles(folder, split);
    } catch (e) {
      reasons.push(e instanceof Error ? e.message : String(e));
    }
  }
  throw new ConfigError(`no Fashion-MNIST ${split} split found (${reasons.join('; ')}): give --data DIR (the Debian package dataset-fashion-mnist installs /usr/share/datasets/fashion-mnist)`);
}

/** The records of an existing annotations.json (another split's scenes), none when there is no file. */
async function readCoco(path: string): Promise<SceneRecord[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readBytes(path);
  } catch (e) {
    if (e instanceof FileError && e.code === 'ENOENT') return [];
    throw e;
  }
  let coco: CocoFile;
  try {
    coco = JSON.parse(new TextDecoder().decode(bytes)) as CocoFile;
  } catch (e) {
    throw new FormatError(`${path}: not JSON (${e instanceof Error ? e.message : String(e)}): remove it or write to another --out`);
  }
  if (!Array.isArray(coco.images) || !Array.isArray(coco.annotations)) throw new FormatError(`${path}: not a COCO file (no images and annotations lists): remove it or write to another --out`);
  return sceneRecords(coco);
}
