// `mobilenet classify`: decodes images (PNG, JPEG), applies the model file's preprocessing, and prints
// the top classes with their probabilities, using the class names stored in the model file.

import { UsageError } from '../errors.js';
import { softmax } from '../ops/activation.js';
import { readImage } from '../node/image.js';
import { Tensor } from '../tensor/tensor.js';
import { loadRunnableModel } from './model-files.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, POSITIVE_INTEGER } from './args.js';
import { CONVENTION_FLAGS, CONVENTION_HELP, conventionFlags } from './conventions.js';
import type { CommandIO } from './io.js';
import { printNotes } from './io.js';

export const CLASSIFY_HELP = `mobilenet classify [--model FILE] IMAGE… [--top K] [--json] [flags below]
Classifies PNG or JPEG images with a model (default: the bundled Fashion-MNIST model; a float model or an
int8 model file from \`mobilenet quantize\` alike, on the WebAssembly engine), resized and scaled as the model file says;
prints the top K classes (default 5, at most the model's classes) with probabilities. FILE may be any format
\`mobilenet convert\` reads; weights-only files (.safetensors, .pt/.pth, Keras weights .h5) are built from
the architecture flags (α and classes inferred from torchvision weights) and, unless the flags below say
otherwise, preprocessed as their origin suggests (torchvision: ImageNet mean/std; Keras: x/127.5 − 1), said in a note.
  --top K                            classes per image (default 5)
  --json                             {model, engine, results: [{file, top: [{class, index, probability}]}]}
${CONVENTION_HELP}
${ARCHITECTURE_HELP}`;

export async function classifyCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parse(argv, { ...ARCHITECTURE_FLAGS, ...CONVENTION_FLAGS, model: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' } }, 'classify', true);
  if (positionals.length === 0) throw new UsageError('give at least one image file (see mobilenet classify --help)');
  const top = numberFlag(values, 'top', POSITIVE_INTEGER) ?? 5;
  const { arch, options } = architectureFlags(values);
  const loaded = await loadRunnableModel(values.model as string | undefined, { ...options, arch }, { given: await conventionFlags(values) });
  const { preprocessing, classNames, source } = loaded;
  printNotes(io, loaded.notes);
  const [h, w, c] = loaded.inputShape;
  const images = await Promise.all(positionals.map((p) => readImage(p, { ...preprocessing, size: [h, w], channels: c as 1 | 3 })));
  const batch = new Tensor([images.length, h, w, c], new Float32Array(images.length * h * w * c));
  images.forEach((img, i) => batch.data.set(img.data, i * h * w * c));
  const started = performance.now();
  const runner = await loaded.start();
  printNotes(io, runner.notes);
  const logits = runner.predict(batch);
  await runner.dispose();
  const ms = performance.now() - started;
  const k = logits.shape[1];
  // imported models (Keras, TF.js, ONNX) often end in their own softmax: their outputs are probabilities already
  const probabilities = loaded.outputsProbabilities ? logits : softmax(logits);
  const results = positionals.map((file, i) => {
    const row = Array.from(probabilities.data.subarray(i * k, (i + 1) * k));
    const order = row.map((p, j) => [p, j] as const).sort((a, b) => b[0] - a[0]).slice(0, Math.min(top, k));
    return { file, top: order.map(([p, j]) => ({ class: classNames?.[j] ?? String(j), index: j, probability: p })) };
  });
  if (values.json) {
    io.out(JSON.stringify({ model: source, engine: runner.engine, results }));
    return;
  }
  for (const r of results) {
    io.out(r.file);
    for (const t of r.top) io.out(`  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.class}`);
  }
  io.err(`${positionals.length} image(s) in ${ms.toFixed(1)} ms with ${source} (${runner.engine})`);
}
