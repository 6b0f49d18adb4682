// `mobilenet segment`: runs a segmenter (output [H, W, K]) on PNG/JPEG images and writes, per image, the label mask
// as an indexed palette PNG and the image with the mask blended over it, and prints per-class pixel fractions.

import { mkdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { WasmEngine } from '../backend/wasm/engine.js';
import { overlayMask, scoresModel, segment, segmentationClasses, segmentationLabelMap } from '../api/segment.js';
import type { Segmentation } from '../api/segment.js';
import { decodeImage, imageFormatOfName } from '../data/image.js';
import { encodeMaskPng } from '../data/mask-png.js';
import { UsageError } from '../errors.js';
import { readBytes, writeFileAtomic } from '../node/files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, POSITIVE_INTEGER, requiredFlag, stringFlag } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags } from './conventions.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';
import { loadModelOrDefault } from './model-files.js';

export const SEGMENT_HELP = `mobilenet segment --model FILE IMAGE… [--out DIR] [--json] [--opacity A] [flags below]
Segments PNG or JPEG images with a model whose output is class scores per pixel [N, H, W, K] (a DeepLab, or any
model file in a format \`mobilenet convert\` reads); the scores are resized back to each image's size before the
argmax. Per image writes NAME.mask.png (8-bit indexed PNG, one label per pixel, drawn in the model's palette) and
NAME.overlay.png (the image with the mask blended over it), atomically, and prints the classes' pixel fractions.
Class names and palette come from the model file; without names, a 21-class model is taken as PASCAL VOC's.
A model that ends in an ArgMax over its classes (TF.js DeepLab graphs) runs up to the scores before it.
  --out DIR                          where the PNGs go (made if missing; default: the current folder)
  --opacity A                        the mask's weight in the overlay, 0..1 (default 0.5)
  --json                             {model, engine, results: [{file, width, height, mask, overlay, classes: [{class, index, fraction}]}]}
  --backend wasm|reference           the WebAssembly engine (default, where SIMD validates) or the reference kernels
  --threads T                        the engine's worker threads (default 1)
${CONVENTION_HELP}
${ARCHITECTURE_HELP}`;

export async function segmentCommand(argv: string[], io: CommandIO): Promise<void> {
  const flags = { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, model: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, opacity: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' } } as const;
  const { values, positionals } = parse(argv, flags, 'segment', true);
  const modelFile = requiredFlag(values, 'model', 'segment', 'FILE');
  if (positionals.length === 0) throw new UsageError('give at least one image file (see mobilenet segment --help)');
  const opacity = numberFlag(values, 'opacity') ?? 0.5;
  if (!(opacity >= 0 && opacity <= 1)) throw new UsageError(`--opacity must be between 0 and 1, got ${values.opacity as string}`);
  const backend = stringFlag(values, 'backend', ['wasm', 'reference'] as const) ?? 'wasm';
  const threads = numberFlag(values, 'threads', POSITIVE_INTEGER) ?? 1;
  const out = (values.out as string | undefined) ?? '.';
  const outputs = positionals.map((file) => join(out, basename(file, extname(file))));
  const repeated = outputs.find((name, i) => outputs.indexOf(name) !== i);
  if (repeated !== undefined) throw new UsageError(`two images would both write ${repeated}.mask.png: give them different names`);

  const { arch, options } = architectureFlags(values);
  const given = await conventionFlags(values);
  const unnamedClasses = "PASCAL VOC's when there are 21, else 'background', 'class 1', …";
  const loaded = await loadModelOrDefault(modelFile, { ...options, arch }, { given, unnamedClasses });
  const { extra, preprocessing, classNames, notes } = loaded;
  const { model, note } = scoresModel(loaded.model);
  if (note) notes.push(note);
  const classes = segmentationClasses(model.outputShape, modelFile);
  const { labelMap } = segmentationLabelMap(classes, { classNames, extra }, modelFile);
  printNotes(io, notes);

  const started = performance.now();
  const runner = backend === 'wasm' && WasmEngine.supported() ? await WasmEngine.create(model, { threads }) : model;
  if (backend === 'wasm' && runner === model) io.err('note: WebAssembly SIMD is not available here; running on the reference kernels');
  const engine = runner instanceof WasmEngine ? `wasm, ${runner.threads} thread${runner.threads > 1 ? 's' : ''}` : 'reference';
  let segmentations: Segmentation[];
  try {
    await mkdir(out, { recursive: true });
    const images = await Promise.all(positionals.map(async (file) => ({ bytes: await readBytes(file), name: file })));
    segmentations = await segment(runner, images, { preprocessing, classNames: labelMap.classNames, palette: labelMap.palette });
    for (const [i, s] of segmentations.entries()) {
      const { bytes, name } = images[i];
      const decoded = decodeImage(bytes, { channels: 3, source: name, expect: imageFormatOfName(name) });
      const overlay = overlayMask({ data: decoded.pixels, width: s.width, height: s.height }, s.mask, s.palette, opacity);
      await writeFileAtomic(`${outputs[i]}.mask.png`, encodeMaskPng({ width: s.width, height: s.height, labels: s.mask }, s.palette));
      await writeFileAtomic(`${outputs[i]}.overlay.png`, encodePng({ width: s.width, height: s.height, data: overlay.data, channels: 3, depth: 8 }));
    }
  } finally {
    if (runner instanceof WasmEngine) await runner.dispose();
  }
  const ms = performance.now() - started;
  const results = segmentations.map((s, i) => ({
    file: positionals[i],
    width: s.width,
    height: s.height,
    mask: resolve(`${outputs[i]}.mask.png`),
    overlay: resolve(`${outputs[i]}.overlay.png`),
    classes: s.fractions
      .map((fraction, index) => ({ class: s.classNames[index], index, fraction }))
      .filter((c) => c.fraction > 0)
      .sort((a, b) => b.fraction - a.fraction || a.index - b.index),
  }));
  if (values.json) {
    io.out(JSON.stringify({ model: modelFile, engine, results }));
    return;
  }
  for (const r of results) {
    io.out(`${r.file} (${r.width}×${r.height}) → ${r.mask}, ${r.overlay}`);
    for (const c of r.classes) io.out(`  ${(100 * c.fraction).toFixed(2).padStart(6)}%  ${c.class}`);
  }
  io.err(`${positionals.length} image(s) in ${ms.toFixed(1)} ms with ${modelFile} (${engine})`);
}
