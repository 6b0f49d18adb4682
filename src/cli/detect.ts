// `mobilenet detect`: runs a detector (outputs scores and boxes) on PNG/JPEG images or a preprocessed .npy batch and
// prints each image's detections (a table, or JSON), boxes in source pixels; --out writes the images with boxes drawn.

import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { detect, detectionHead } from '../api/detect.js';
import type { AnchorSource, DetectRunOptions, ImageDetections } from '../api/detect.js';
import { WasmEngine } from '../backend/wasm/engine.js';
import { readAnchors } from '../detect/anchors.js';
import { decodeImage, imageFormatOfName } from '../data/image.js';
import { drawBoxes, rgbaOf } from '../data/draw-boxes.js';
import { UsageError } from '../errors.js';
import { readBytes, readNpyFile, writeFileAtomic } from '../node/files.js';
import { toLayout } from '../tensor/tensor.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, POSITIVE_INTEGER, requiredFlag, stringFlag } from './args.js';
import type { NumberRule } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags } from './conventions.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';
import { loadModelOrDefault } from './model-files.js';

export const DETECT_HELP = `mobilenet detect --model FILE (IMAGE… | --input X.npy) [--anchors ssd-tf|ssd-torchvision|FILE.npy]
                 [--score 0.5] [--iou 0.6] [--max-per-class 100] [--max 100] [--class-agnostic] [--letterbox]
                 [--out DIR] [--json] [flags below]
Detects objects with a model whose outputs are class scores [N, anchors, classes (+1)] and box codes [N, anchors, 4]
(an SSD or SSDLite, in any format \`mobilenet convert\` reads), and prints per image each detection's class (the
output slot: 1..K when slot 0 is background), label, score and box [ymin, xmin, ymax, xmax] in the image's pixels.
Images are resized to the model's input (or letterboxed) and the boxes mapped back exactly; a preprocessed batch
(--input) goes in as it is, and its boxes are normalized to [0, 1], one entry per batch item.
  --input X.npy                      a preprocessed float32 batch instead of images (NCHW unless --layout nhwc)
  --layout nchw|nhwc                 X's layout (default nchw)
  --anchors ssd-tf|ssd-torchvision|FILE.npy
                                     for a model file that stores none (graphs imported from other formats):
                                     generated for SSD's six feature maps, ⌈input/16⌉ then halved (rounding up) five
                                     times, with TF's ssd_anchor_generator (3 boxes per cell on the first map, 6 on
                                     the others) or torchvision's DefaultBoxGenerator (6 per cell); or read from
                                     FILE.npy, [anchors, 4] as (ycenter, xcenter, h, w), normalized. Their count must
                                     be the outputs'.
  --score S                          keep scores ≥ S, in [0, 1] (default 0.5, or the detector's own)
  --iou T                            NMS suppresses boxes overlapping a better one by IoU > T, in [0, 1] (default 0.6,
                                     or the detector's own: face-api's 0.5)
  --max-per-class M, --max M         at most M detections per class, and per image (default 100 each)
  --class-agnostic                   one NMS over all classes (each anchor with its best class)
  --letterbox                        fit images whole, aspect kept, centred on black (default: stretched to the input)
  --out DIR                          also write NAME.detections.png per image, boxes and labels drawn (atomically)
  --json                             {images: [{source, width, height, detections: [{class, label, score, box}]}]}
  --backend wasm|reference           the WebAssembly engine (default, where SIMD validates) or the reference kernels
  --threads T                        the engine's worker threads (default 1)
${CONVENTION_HELP}
${ARCHITECTURE_HELP}`;

const UNIT_INTERVAL: NumberRule = { accepts: (v) => v >= 0 && v <= 1, what: 'a number in [0, 1]' };
const CAP: NumberRule = { accepts: (v) => Number.isInteger(v) && v >= 0, what: 'a non-negative integer' };

/** The --anchors flag: a generator's name, or a .npy file read as [anchors, 4] (its count is checked against the outputs). */
export async function anchorsFlag(value: string | undefined): Promise<AnchorSource | undefined> {
  if (value === undefined || value === 'ssd-tf' || value === 'ssd-torchvision') return value;
  if (extname(value).toLowerCase() !== '.npy') throw new UsageError(`--anchors must be ssd-tf, ssd-torchvision or a FILE.npy, got ${JSON.stringify(value)}`);
  return readAnchors(await readNpyFile(value), undefined, value);
}

export async function detectCommand(argv: string[], io: CommandIO): Promise<void> {
  const flags = {
    ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS,
    model: { type: 'string' }, input: { type: 'string' }, layout: { type: 'string' }, anchors: { type: 'string' },
    score: { type: 'string' }, iou: { type: 'string' }, 'max-per-class': { type: 'string' }, max: { type: 'string' },
    'class-agnostic': { type: 'boolean' }, letterbox: { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' },
    backend: { type: 'string' }, threads: { type: 'string' },
  } as const;
  const { values, positionals } = parse(argv, flags, 'detect', true);
  const modelFile = requiredFlag(values, 'model', 'detect', 'FILE');
  const batchFile = values.input as string | undefined;
  if ((batchFile === undefined) === (positionals.length === 0)) throw new UsageError('give image files or --input X.npy, not both or neither (see mobilenet detect --help)');
  const layout = stringFlag(values, 'layout', ['nchw', 'nhwc'] as const) ?? 'nchw';
  const out = values.out as string | undefined;
  if (out !== undefined && batchFile !== undefined) throw new UsageError('--out draws on image files; an --input batch is already preprocessed (give the images instead)');
  const outputs = positionals.map((file) => join(out ?? '.', `${basename(file, extname(file))}.detections.png`));
  const repeated = outputs.find((name, i) => outputs.indexOf(name) !== i);
  if (out !== undefined && repeated !== undefined) throw new UsageError(`two images would both write ${repeated}: give them different names`);
  // flags left out stay undefined: post-processing's defaults, or the detector's own (face-api's IoU 0.5), apply
  const options: DetectRunOptions = {
    scoreThreshold: numberFlag(values, 'score', UNIT_INTERVAL),
    iouThreshold: numberFlag(values, 'iou', UNIT_INTERVAL),
    maxPerClass: numberFlag(values, 'max-per-class', CAP),
    maxDetections: numberFlag(values, 'max', CAP),
    classAgnostic: values['class-agnostic'] === true ? true : undefined,
    letterbox: values.letterbox === true,
    anchors: await anchorsFlag(values.anchors as string | undefined),
  };
  const backend = stringFlag(values, 'backend', ['wasm', 'reference'] as const) ?? 'wasm';
  const threads = numberFlag(values, 'threads', POSITIVE_INTEGER) ?? 1;

  const { arch, options: archOptions } = architectureFlags(values);
  // --labels may name K classes or K + 1 slots (with background): detect's slotLabels judges, not a classifier's count check
  const { classNames: givenNames, ...given } = await conventionFlags(values);
  const loaded = await loadModelOrDefault(modelFile, { ...archOptions, arch }, {
    given,
    unscaledPixels: "pixels taken as −1..1, SSD's x/127.5 − 1",
    unnamedClasses: givenNames ? `named by ${givenNames.flags}` : "labels 'class k'",
  });
  const { model, notes } = loaded;
  // checked before anything runs, naming the file; the engine keeps no metadata, so the head goes with the images
  const [height, width] = model.inputShape;
  const head = detectionHead(model.metadata.detection, model.outputShapes, options, [height, width], `model ${model.name} (${modelFile})`);
  const batch = batchFile === undefined ? undefined : await readNpyFile(batchFile);
  if (batch !== undefined && batch.rank !== 4) throw new UsageError(`${batchFile}: expected a batch of images, rank 4 (${layout.toUpperCase()}), got shape [${batch.shape.join(', ')}]`);
  // RGB pixels, decoded once: detected in (converted to the model's channels), then drawn on
  const pictures = await Promise.all(positionals.map(async (file) => {
    const decoded = decodeImage(await readBytes(file), { channels: 3, source: file, expect: imageFormatOfName(file) });
    return { data: decoded.pixels, width: decoded.shape[1], height: decoded.shape[0] };
  }));
  const images = batch ? [layout === 'nchw' ? toLayout(batch, 'NCHW', 'NHWC') : batch] : pictures;

  const runner = backend === 'wasm' && WasmEngine.supported() ? await WasmEngine.create(model, { threads }) : model;
  if (backend === 'wasm' && runner === model) notes.push('WebAssembly SIMD is not available here; running on the reference kernels');
  const engine = runner instanceof WasmEngine ? `wasm, ${runner.threads} thread${runner.threads > 1 ? 's' : ''}` : 'reference';
  const started = performance.now();
  let results: ImageDetections[];
  try {
    results = await detect(runner, images, { ...options, preprocessing: loaded.preprocessing, classNames: givenNames?.names ?? loaded.classNames, anchors: undefined, head });
  } finally {
    if (runner instanceof WasmEngine) await runner.dispose();
  }
  const ms = performance.now() - started;
  printNotes(io, notes);
  const sources = batchFile === undefined ? positionals : results.map((_, n) => `${batchFile}[${n}]`);
  if (out !== undefined) {
    await mkdir(out, { recursive: true });
    for (const [i, result] of results.entries()) {
      const drawn = drawBoxes(rgbaOf(pictures[i]), result.detections);
      await writeFileAtomic(outputs[i], encodePng({ width: drawn.width, height: drawn.height, data: drawn.data, channels: 4, depth: 8 }));
    }
  }
  if (values.json) {
    const json = results.map((r, i) => ({
      source: sources[i],
      width: r.width,
      height: r.height,
      detections: r.detections.map((d) => ({ class: d.class, label: d.label, score: d.score, box: d.box })),
    }));
    io.out(JSON.stringify({ images: json }));
  } else {
    for (const [i, r] of results.entries()) {
      io.out(`${sources[i]} (${r.width}×${r.height}${r.units === 'normalized' ? ', boxes normalized' : ''}): ${r.detections.length} detection${r.detections.length === 1 ? '' : 's'}${out !== undefined ? ` → ${outputs[i]}` : ''}`);
      for (const d of r.detections) io.out(`  ${d.score.toFixed(3)}  ${(d.label ?? `class ${d.class}`).padEnd(16)} [${d.box.map((v) => v.toFixed(r.units === 'normalized' ? 4 : 1)).join(', ')}]`);
    }
  }
  io.err(`${results.length} image(s) in ${ms.toFixed(1)} ms with ${modelFile} (${engine})`);
}
