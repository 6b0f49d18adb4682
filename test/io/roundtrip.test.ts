// Round trips through every format the library writes: the bundled Fashion-MNIST model → format → back through the
// loaders the CLI uses gives the original's predictions, accuracy, preprocessing and class names; so does each → our model file.

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { decodeModelFiles } from '../../src/browser/files.js';
import type { PreprocessOptions } from '../../src/data/preprocess.js';
import { FormatError } from '../../src/errors.js';
import type { Model } from '../../src/graph/model.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { guessPreprocessing } from '../../src/io/any-model.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { loadAnyModel, saveAnyModel, torchSidecarPath } from '../../src/node/any-model.js';
import type { AnyModel, SaveAnyModelOptions } from '../../src/node/any-model.js';
import { readIdxFolder } from '../../src/node/idx-files.js';
import { readTfjsModelFiles } from '../../src/node/tfjs-files.js';
import { enableWasmFeatures } from '../../src/node/wasm-features.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, GOLDEN, assertClose, randomBatch, runCli } from '../support/helpers.js';
import { loadTfjs, predictTfjs, ready } from '../support/tfjs-reference.js';
import { graphBeyondKeras } from '../fuzz/seeds.js';

enableWasmFeatures();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLED = join(ROOT, 'models', 'fashion-mnist.safetensors');
const DATA = join(ROOT, 'data', 'fashion-mnist');
const WASM = WasmEngine.supported();
/** The first N test images: all the engine needs a few seconds for; fewer on the plain-TS reference kernels. */
const N = WASM ? 1000 : 500;
/** Logits of a round trip against the original's: the same float32 weights, so equal up to summation order. */
const LOGIT_TOLERANCE = 1e-5;

/** Runs `model` on `x` in batches of 250, on the WebAssembly engine where SIMD validates. */
async function predict(model: Model, x: Tensor, layout: 'NHWC' | 'NCHW' = 'NHWC'): Promise<Tensor> {
  const engine = WASM ? await WasmEngine.create(model) : null;
  try {
    const [n, ...sample] = x.shape;
    const per = x.size / n;
    const parts: Tensor[] = [];
    for (let i = 0; i < n; i += 250) {
      const rows = Math.min(250, n - i);
      const batch = new Tensor([rows, ...sample], x.data.subarray(i * per, (i + rows) * per));
      parts.push(engine ? engine.predict(batch, { layout }) : model.predict(batch, { layout }));
    }
    const out = new Tensor([n, ...parts[0].shape.slice(1)]);
    let offset = 0;
    for (const p of parts) {
      out.data.set(p.data, offset);
      offset += p.size;
    }
    return out;
  } finally {
    await engine?.dispose();
  }
}

/** The first N test images as `preprocessing` makes them, and their labels. */
async function testImages(preprocessing: PreprocessOptions): Promise<{ x: Tensor; labels: number[] }> {
  const data = await readIdxFolder(DATA, { split: 'test', ...preprocessing });
  const [h, w, c] = data.shape;
  const x = new Tensor([N, h, w, c]);
  const labels: number[] = [];
  for (let i = 0; i < N; i++) {
    const { image, label } = data.getSync(i);
    x.data.set(image, i * image.length);
    labels.push(label);
  }
  return { x, labels };
}

function argmax(logits: Tensor): number[] {
  const [n, k] = logits.shape;
  return Array.from({ length: n }, (_, i) => {
    const row = logits.data.subarray(i * k, (i + 1) * k);
    return row.indexOf(Math.max(...row));
  });
}

const accuracy = (predicted: number[], labels: number[]): number => predicted.filter((p, i) => p === labels[i]).length / labels.length;

let dir = '';
let original: AnyModel;
let images: { x: Tensor; labels: number[] };
let expected: { logits: Tensor; top1: number[]; accuracy: number };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-roundtrip-'));
  original = await loadAnyModel(BUNDLED);
  images = await testImages(original.preprocessing!);
  const logits = await predict(original.model, images.x);
  const top1 = argmax(logits);
  expected = { logits, top1, accuracy: accuracy(top1, images.labels) };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A loaded model against the bundled one: same network, input, preprocessing, class names, logits, top-1 and accuracy. */
async function assertSameAsBundled(loaded: AnyModel, what: string): Promise<void> {
  assert.deepEqual(loaded.preprocessing, original.preprocessing, `${what}: preprocessing`);
  assert.deepEqual(loaded.classNames, original.classNames, `${what}: class names`);
  assert.deepEqual(loaded.model.inputShape, original.model.inputShape, `${what}: input shape`);
  assert.equal(loaded.model.metadata.architecture, 'mobilenet_v2', `${what}: rebuilt as our architecture`);
  assert.deepEqual(loaded.model.metadata.options, original.model.metadata.options, `${what}: builder options`);
  // the images as the loaded model's own preprocessing makes them
  const { x, labels } = await testImages(loaded.preprocessing!);
  const logits = await predict(loaded.model, x);
  assertClose(logits, expected.logits, LOGIT_TOLERANCE, `${what}: logits`);
  const top1 = argmax(logits);
  assert.deepEqual(top1, expected.top1, `${what}: top-1 on the first ${N} test images`);
  assert.equal(accuracy(top1, labels), expected.accuracy, `${what}: accuracy`);
}

const FORMATS: [what: string, file: string, options: SaveAnyModelOptions, format: AnyModel['format']][] = [
  ['our model file', 'fm.safetensors', {}, 'model-file'],
  ['plain safetensors, torchvision names', 'fm-plain.safetensors', { format: 'safetensors' }, 'safetensors'],
  ['plain safetensors, timm names', 'fm-timm.safetensors', { format: 'safetensors', naming: 'timm' }, 'safetensors'],
  ['ONNX', 'fm.onnx', {}, 'onnx'],
  ['TF.js layers model', 'fm-tfjs', {}, 'tfjs'],
  ['torch.save .pt with its sidecar JSON', 'fm.pt', {}, 'pytorch'],
  ['torch.save .pth, timm names', 'fm-timm.pth', { naming: 'timm' }, 'pytorch'],
];

describe('bundled model → each format → back: same predictions, accuracy, preprocessing and class names', () => {
  test('the reference: the bundled model on the first test images', () => {
    assert.ok(expected.accuracy > 0.9, `bundled model top-1 ${expected.accuracy}`);
    assert.deepEqual(original.preprocessing, { size: [28, 28], pixels: { mean: 0.5, std: 0.5 } });
    assert.equal(original.classNames?.[4], 'Coat');
  });

  for (const [what, file, options, format] of FORMATS) {
    test(`${what}: back as it was, and again through our model file`, async () => {
      const path = join(dir, file);
      const saved = await saveAnyModel(original.model, path, { ...options, classNames: original.classNames, preprocessing: original.preprocessing, extra: original.extra });
      if (format === 'pytorch') assert.deepEqual(saved.paths, [path, torchSidecarPath(path)]);
      const loaded = await loadAnyModel(path);
      assert.equal(loaded.format, format);
      assert.deepEqual(loaded.extra, original.extra, `${what}: extra entries`);
      await assertSameAsBundled(loaded, what);
      const modelFile = join(dir, `${file}.model.safetensors`);
      await saveAnyModel(loaded.model, modelFile, { classNames: loaded.classNames, preprocessing: loaded.preprocessing, extra: loaded.extra });
      const again = await loadAnyModel(modelFile);
      assert.equal(again.format, 'model-file');
      await assertSameAsBundled(again, `${what} → our model file`);
    });
  }

  test('mobilenet convert to every format and eval --limit 500 through main(): the bundled model\'s top-1', async () => {
    const top1 = (text: string): string => /top-1 ([\d.]+%)/.exec(text)?.[1] ?? `no top-1 in: ${text}`;
    const reference = await runCli('eval', '--data', DATA, '--limit', '500');
    assert.equal(reference.code, 0, reference.err);
    for (const [, file, options] of FORMATS) {
      const out = join(dir, `cli-${file}`);
      const args = ['convert', BUNDLED, out];
      if (options.format) args.push('--format', options.format);
      if (options.naming) args.push('--naming', options.naming);
      const converted = await runCli(...args);
      assert.equal(converted.code, 0, converted.err);
      const evaluated = await runCli('eval', '--model', out, '--data', DATA, '--limit', '500');
      assert.equal(evaluated.code, 0, evaluated.err);
      assert.equal(top1(evaluated.out), top1(reference.out), `${file}: eval top-1`);
      const back = await runCli('convert', out, join(dir, `cli-${file}.safetensors`));
      assert.equal(back.code, 0, `${file} → our model file: ${back.err}`);
    }
  });
});

describe('other readers of the same entries', () => {
  test('tfjs-layers itself runs our TF.js export to the bundled model\'s top-1, and reads our userDefinedMetadata', async () => {
    await ready();
    const folder = join(dir, 'for-tfjs');
    await saveAnyModel(original.model, folder, { classNames: original.classNames, preprocessing: original.preprocessing });
    const reference = await loadTfjs(await readTfjsModelFiles(join(folder, 'model.json')));
    const n = 16; // tfjs's CPU backend takes about 0.1 s an image here
    const x = new Tensor([n, ...original.model.inputShape], images.x.data.subarray(0, n * original.model.inputShape.reduce((a, b) => a * b)));
    const logits = predictTfjs(reference, x);
    assertClose(logits, new Tensor([n, 10], expected.logits.data.subarray(0, n * 10)), 1e-4, 'tfjs-layers logits');
    assert.deepEqual(argmax(logits), expected.top1.slice(0, n));
    const user = reference.getUserDefinedMetadata() as Record<string, unknown>;
    assert.deepEqual([user.architecture, user.classNames, user.preprocessing], ['mobilenet_v2', original.classNames, original.preprocessing]);
  });

  test('a page given fm.pt and its sidecar fm.pt.json (decodeModelFiles) reads them together', async () => {
    const path = join(dir, 'dropped.pt');
    await saveAnyModel(original.model, path, { classNames: original.classNames, preprocessing: original.preprocessing });
    const files = await Promise.all([torchSidecarPath(path), path].map(async (p) => ({ name: basename(p), bytes: new Uint8Array(await readFile(p)) })));
    const loaded = await decodeModelFiles(files);
    assert.equal(loaded.format, 'pytorch');
    await assertSameAsBundled(loaded, 'dropped .pt + sidecar');
  });

  test('a TF.js graph model whose userDefinedMetadata holds our entries gives its class names and preprocessing', async () => {
    const folder = join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2-mid');
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8')) as { userDefinedMetadata: Record<string, unknown> };
    const entries = { format: 'mobilenet-ts-export/1', classNames: ['a', 'b', 'c', 'd', 'e'], preprocessing: { size: [224, 224], pixels: 'unit' } };
    json.userDefinedMetadata = { ...json.userDefinedMetadata, ...entries };
    const copy = join(dir, 'graph');
    await cp(folder, copy, { recursive: true });
    await writeFile(join(copy, 'model.json'), JSON.stringify(json));
    const loaded = await loadAnyModel(copy);
    assert.equal(loaded.format, 'tfjs-graph');
    assert.deepEqual([loaded.classNames, loaded.preprocessing], [entries.classNames, entries.preprocessing]);
  });
});

describe('third-party graphs (no architecture of ours) → our model file → the same outputs', () => {
  const TINY = join(GOLDEN, 'models', 'mnv2_035_32_c10');
  for (const onnx of ['model.onnx', 'model_bnfolded.onnx']) {
    test(`PyTorch's ${onnx} → our model file, plain safetensors, .pt: each rebuilt from its metadata gives PyTorch's logits`, async () => {
      const imported = await loadAnyModel(join(TINY, onnx));
      assert.equal(imported.model.metadata.architecture, undefined, 'an imported graph');
      const x = decodeNpy(await readFile(join(TINY, 'input.npy')));
      const targets: [file: string, options: SaveAnyModelOptions, format: AnyModel['format']][] = [
        [`golden-${onnx}.safetensors`, {}, 'model-file'],
        [`golden-${onnx}-plain.safetensors`, { format: 'safetensors' }, 'safetensors'],
        [`golden-${onnx}.pt`, {}, 'pytorch'],
      ];
      for (const [file, options, format] of targets) {
        const path = join(dir, file);
        await saveAnyModel(imported.model, path, options);
        const loaded = await loadAnyModel(path);
        assert.equal(loaded.format, format);
        assertClose(await predict(loaded.model, x, 'NCHW'), decodeNpy(await readFile(join(TINY, 'output.npy'))), 1e-4, `${onnx} → ${file}`);
      }
    });
  }

  const sources: [what: string, path: string][] = [
    ['TF.js layers model (NSFWJS MobileNetV2)', join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2')],
    ['Keras H5 whole model (h5py)', join(FIXTURES, 'keras-h5', 'tiny-mobilenet-v2.h5py.h5')],
    ['TF.js graph model (NSFWJS TF-Hub MobileNetV2: constant Mul and Sub, fused convs)', join(FIXTURES, 'tfjs', 'nsfwjs-mobilenet-v2-mid')],
  ];
  for (const [what, path] of sources) {
    test(`${what} → our model file: the imported model's own outputs`, async () => {
      const imported = await loadAnyModel(path);
      const file = join(dir, `${imported.model.name}.safetensors`);
      await saveAnyModel(imported.model, file);
      const loaded = await loadAnyModel(file);
      assert.equal(loaded.format, 'model-file');
      const x = randomBatch([2, ...imported.model.inputShape], 11);
      assertClose(await predict(loaded.model, x), await predict(imported.model, x), 1e-6, what);
    });
  }
});

test('layers Keras has no class for (constant arithmetic, clip, hard sigmoid and swish) and concat, transpose: kept in our model file', () => {
  const model = graphBeyondKeras();
  const back = decodeModelFile(encodeModelFile(model), 'extended.safetensors').model;
  assert.deepEqual(back.layers.map((l) => l.kind), model.layers.map((l) => l.kind));
  const batch = randomBatch([2, 4, 5, 3], 3);
  assert.deepEqual(back.predict(batch).data, model.predict(batch).data);
});

describe('a guess at the preprocessing only where a file says nothing of it', () => {
  test('bare torchvision weights: ImageNet mean/std; Keras H5 weights: x/127.5 − 1; our export without one: no guess', async () => {
    const bare = join(dir, 'bare.safetensors');
    await writeFile(bare, encodeSafetensors(torchStateDict(original.model)));
    assert.deepEqual(guessPreprocessing(await loadAnyModel(bare))?.preprocessing, { pixels: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } });
    assert.deepEqual(guessPreprocessing({ format: 'keras-h5', metadata: {} })?.preprocessing, { pixels: 'symmetric' });
    for (const [file, format] of [['ours.safetensors', 'safetensors'], ['ours.pt', 'pytorch']] as const) {
      const path = join(dir, file);
      await saveAnyModel(original.model, path, { format });
      const loaded = await loadAnyModel(path);
      assert.equal(loaded.preprocessing, undefined, file);
      assert.equal(guessPreprocessing(loaded), undefined, file);
    }
  });
});

describe('metadata present but malformed: a FormatError naming the file and the entry', () => {
  async function bundledExport(file: string, options: SaveAnyModelOptions = {}): Promise<string> {
    const path = join(dir, file);
    await saveAnyModel(original.model, path, { ...options, classNames: original.classNames, preprocessing: original.preprocessing });
    return path;
  }

  test('plain safetensors: options not JSON, an unknown architecture, an input shape the options do not build', async () => {
    const path = await bundledExport('bad.safetensors', { format: 'safetensors' });
    const { tensors, metadata } = decodeSafetensors(await readFile(path));
    const cases: [Record<string, string>, RegExp][] = [
      [{ options: '{' }, /bad\.safetensors: metadata entry options is not valid JSON/],
      [{ architecture: 'resnet50' }, /bad\.safetensors: metadata entry architecture names an unknown architecture "resnet50"/],
      [{ inputShape: '[32, 32, 1]' }, /bad\.safetensors: metadata entry inputShape is \[32, 32, 1\], but the architecture and options it gives build an input of \[28, 28, 1\]/],
      [{ classNames: '"Coat"' }, /bad\.safetensors: metadata entry classNames must be a list of strings/],
    ];
    for (const [edit, message] of cases) {
      await writeFile(path, encodeSafetensors(tensors, { ...metadata, ...edit }));
      await assert.rejects(loadAnyModel(path), (e: Error) => e instanceof FormatError && message.test(e.message), JSON.stringify(edit));
    }
  });

  test('ONNX metadata_props: preprocessing that is not one', async () => {
    const path = join(dir, 'bad.onnx');
    const metadata = { format: 'mobilenet-ts-export/1', architecture: 'mobilenet_v2', preprocessing: '{"pixels":"bright"}' };
    await writeFile(path, encodeOnnx(original.model, { metadata }));
    await assert.rejects(loadAnyModel(path), (e: Error) => e instanceof FormatError && /bad\.onnx: metadata entry preprocessing pixels must be/.test(e.message));
  });

  test('a .pt sidecar that is not JSON, or not ours, is named; a .pt without one loads as before', async () => {
    const path = await bundledExport('bad.pt');
    const sidecar = torchSidecarPath(path);
    await writeFile(sidecar, '{"format": "mobilenet-ts-export/1", ');
    await assert.rejects(loadAnyModel(path), (e: Error) => e instanceof FormatError && e.message.startsWith(`${sidecar}: not valid JSON`));
    await writeFile(sidecar, '{"format": "something-else"}');
    await assert.rejects(loadAnyModel(path), (e: Error) => e instanceof FormatError && e.message.includes(`${sidecar}: metadata entry format is "something-else"`));
    await assert.rejects(loadAnyModel(sidecar), (e: Error) => e instanceof FormatError && e.message.includes(`not a model: load ${path}, which reads it`));
    await rm(sidecar);
    const plain = await loadAnyModel(path, { resolution: 28, stemStride: 1 });
    assert.equal(plain.preprocessing, undefined);
    assert.ok(plain.notes.some((n) => /inferred from the weight shapes: α = 0\.5/.test(n)), plain.notes.join('\n'));
  });
});
