// The README's library examples as a TypeScript user writes them against the installed package: type-checked with
// skipLibCheck false, compiled and run by test/package/package.test.ts. Prints one JSON line about IMAGE.

import { WasmEngine, Tensor, formatSummary, mobilenetV2, modelCost } from 'mobilenet-ts';
import type { Prediction } from 'mobilenet-ts';
import { loadModel } from 'mobilenet-ts/node';

const image = process.argv[2];
if (image === undefined) throw new Error('usage: node classify.js IMAGE');

// a model built from the paper's table, on the reference kernels and on the WebAssembly engine
const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
const batch = new Tensor([2, 32, 32, 3], Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i)));
const logits = model.predict(batch);
const features = model.run(batch, ['block_13_expand_relu']).get('block_13_expand_relu')!;
const engine = await WasmEngine.create(model);
const fast = engine.predict(batch);
await engine.dispose();
const engineDifference = Math.max(...Array.from(fast.data, (v, i) => Math.abs(v - logits.data[i])));

// the bundled model through the high-level API
const classifier = await loadModel();
const top: Prediction[] = await classifier.classify(image, 3);
const embedding = await classifier.embed(image);
await classifier.dispose();

console.log(
  JSON.stringify({
    summary: formatSummary(modelCost(model)).split('\n').find((line) => line.startsWith('Multiply-adds')),
    features: features.shape,
    engineDifference,
    top,
    embedding: embedding.shape,
  }),
);
