// Classifies PNG or JPEG files with the bundled Fashion-MNIST model, as a user of the installed package would:
// `node examples/node-classify.mjs data/fashion-mnist/samples/*.png` (run by test/package/package.test.ts).

import { loadModel } from 'mobilenet-ts/node';

const images = process.argv.slice(2);
if (images.length === 0) {
  console.error('usage: node node-classify.mjs IMAGE…');
  process.exit(2);
}
const model = await loadModel(); // the bundled model; a path, URL or bytes load any other
for (const note of model.notes) console.error(note);
for (const image of images) {
  const top = await model.classify(image, 3);
  console.log(`${image}: ${top.map((p) => `${p.label} ${(100 * p.probability).toFixed(1)}%`).join(', ')}`);
}
await model.dispose();
