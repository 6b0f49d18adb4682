// The high-level API (loadModel → classify, embed, dispose): the committed sample images get their labels and the
// reference path's probabilities, embed is the reference's pooled layer, and every source kind, the loopback URL
// included, loads the same model; bad sources and images are typed errors.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { FetchError, MobileNetClassifier, loadModel as loadCore } from '../../src/index.js';
import { ConfigError, FormatError, ShapeError } from '../../src/errors.js';
import { decodeImage, decodeImageTensor, ImageFileError } from '../../src/data/image.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { softmax } from '../../src/ops/activation.js';
import { FileError } from '../../src/node/files.js';
import { bundledModelPath, loadModel } from '../../src/node/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../support/helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const MODEL = join(ROOT, 'models/fashion-mnist.safetensors');
const SAMPLES = join(ROOT, 'data/fashion-mnist/samples');
const FILES = readdirSync(SAMPLES).filter((f) => f.endsWith('.png')).sort();
const TOLERANCE = 1e-5;

/** The data set's class name for a sample file's name, `0019-t-shirt.png` → `T-shirt/top` (see data/fashion-mnist/README.md). */
function expectedLabel(file: string, classNames: string[]): string {
  const words = (text: string): string => text.toLowerCase().replace(/[^a-z]+/g, ' ').trim();
  const name = words(file.replace(/^\d+-|\.png$/g, ''));
  const label = classNames.find((c) => words(c) === name || words(c).startsWith(`${name} `));
  assert.ok(label, `no class for ${file}`);
  return label;
}

/** The reference path: the model file decoded by itself, the image through the stored preprocessing, model.predict. */
const reference = decodeModelFile(readFileSync(MODEL), MODEL);
function referenceInput(file: string): Tensor {
  const [h, w, c] = reference.model.inputShape;
  return decodeImageTensor(readFileSync(join(SAMPLES, file)), { ...reference.preprocessing, size: [h, w], channels: c as 1 | 3 });
}

describe('loadModel: classify, embed, dispose', () => {
  let model: Awaited<ReturnType<typeof loadModel>>;
  before(async () => {
    model = await loadModel();
  });
  after(async () => {
    await model.dispose();
  });

  it("classifies the committed sample images as labelled, with the reference path's probabilities", async () => {
    assert.deepEqual(model.notes, []);
    assert.equal(model.backend, 'wasm');
    for (const file of FILES) {
      const top = await model.classify(join(SAMPLES, file), 3);
      assert.equal(top.length, 3);
      assert.equal(top[0].label, expectedLabel(file, reference.classNames!), file);
      const probabilities = softmax(reference.model.predict(referenceInput(file))).data;
      for (const p of top) {
        assert.equal(p.label, reference.classNames![p.index]);
        assert.ok(Math.abs(p.probability - probabilities[p.index]) <= TOLERANCE, `${file}: ${p.label} ${p.probability} vs ${probabilities[p.index]}`);
      }
      const order = Array.from(probabilities, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, i]) => i);
      assert.deepEqual(top.map((p) => p.index), order, file);
    }
  });

  it("embed is the reference's pooled layer output", async () => {
    for (const file of FILES.slice(0, 3)) {
      const features = await model.embed(join(SAMPLES, file));
      const expected = reference.model.run(referenceInput(file), ['global_average_pooling2d']).get('global_average_pooling2d')!;
      assertClose(features, expected, TOLERANCE, `${file} features`);
    }
  });

  it('takes pixels (ImageData-like: grey, RGB, RGBA), bytes and preprocessed tensors as the same image', async () => {
    const file = FILES[0];
    const bytes = readFileSync(join(SAMPLES, file));
    const { pixels, shape } = decodeImage(bytes, { channels: 1 });
    const [height, width] = shape;
    const rgba = new Uint8ClampedArray(height * width * 4).map((_, i) => (i % 4 === 3 ? 255 : pixels[Math.floor(i / 4)]));
    const rgb = new Uint8Array(height * width * 3).map((_, i) => pixels[Math.floor(i / 3)]);
    const expected = referenceInput(file);
    for (const image of [bytes, { data: pixels, width, height }, { data: rgb, width, height }, { data: rgba, width, height }, expected, new Tensor(expected.shape.slice(1), expected.data)]) {
      assertClose(await model.input(image), expected, 0);
    }
    assert.deepEqual(await model.classify(expected, 2), await model.classify(join(SAMPLES, file), 2));
  });

  it('wrong images are typed errors naming what is wrong', async () => {
    await assert.rejects(model.classify(new Tensor([1, 32, 32, 1])), (e: unknown) => e instanceof ShapeError && /\[1, 32, 32, 1\] is not the model's input \[1, 28, 28, 1\]/.test(e.message));
    await assert.rejects(model.classify({ data: new Uint8Array(10), width: 3, height: 3 }), ShapeError);
    await assert.rejects(model.classify(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), ImageFileError);
    await assert.rejects(model.classify(join(SAMPLES, 'no-such.png')), FileError);
    await assert.rejects(model.classify(join(SAMPLES, FILES[0]), 0), ConfigError);
  });
});

describe('loadModel: sources', () => {
  const answer = async (m: Pick<MobileNetClassifier<Tensor>, 'classify' | 'dispose'>): Promise<number[]> => {
    const top = await m.classify(referenceInput(FILES[1]), 10);
    await m.dispose();
    return top.map((p) => p.probability);
  };
  const expected = Array.from(softmax(reference.model.predict(referenceInput(FILES[1]))).data).sort((a, b) => b - a);
  const same = (actual: number[], what: string): void => {
    assert.ok(actual.every((p, i) => Math.abs(p - expected[i]) <= TOLERANCE), `${what}: [${actual.join(', ')}]`);
  };

  it("bytes, an ArrayBuffer, a path, a file: URL, 'bundled' and nothing load the bundled model", async () => {
    const bytes = readFileSync(MODEL);
    assert.equal(bundledModelPath(), MODEL);
    same(await answer(await loadCore(new Uint8Array(bytes))), 'core, bytes');
    same(await answer(await loadCore(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))), 'core, ArrayBuffer');
    same(await answer(await loadModel(MODEL)), 'path');
    same(await answer(await loadModel(pathToFileURL(MODEL))), 'file: URL');
    same(await answer(await loadModel(pathToFileURL(MODEL).href)), 'file: URL string');
    same(await answer(await loadModel('bundled')), "'bundled'");
    same(await answer(await loadModel(bytes, { backend: 'reference' })), 'reference kernels');
  });

  it('a model file without class names or preprocessing says so in its notes and labels by index', async () => {
    const bare = encodeModelFile(reference.model);
    const m = await loadCore(bare);
    assert.deepEqual(m.labels.slice(0, 2), ['class 0', 'class 1']);
    assert.ok(m.notes.some((n) => /no class names stored in the model \(give options\.classNames\): labels are 'class 0' … 'class 9'/.test(n)), m.notes.join('\n'));
    assert.ok(m.notes.some((n) => /no preprocessing stored in the model \(give options\.preprocessing\): pixels scaled to 0\.\.1/.test(n)), m.notes.join('\n'));
    const top = await m.classify(readFileSync(join(SAMPLES, FILES[0])), 1);
    const unit = decodeImageTensor(readFileSync(join(SAMPLES, FILES[0])), { size: [28, 28], channels: 1, pixels: 'unit' });
    const probabilities = softmax(reference.model.predict(unit)).data;
    assert.equal(top[0].label, `class ${top[0].index}`);
    assert.ok(Math.abs(top[0].probability - Math.max(...probabilities)) <= TOLERANCE);
    await m.dispose();
    await assert.rejects(m.classify(unit), (e: unknown) => e instanceof ConfigError && /disposed/.test(e.message));
  });

  it('class names and preprocessing given as options stand in for what the file lacks', async () => {
    const bare = encodeModelFile(reference.model);
    const m = await loadCore(bare, { classNames: reference.classNames, preprocessing: reference.preprocessing });
    assert.deepEqual(m.notes, []);
    assert.deepEqual(m.labels, reference.classNames);
    same(await answer(m), 'bare model file with options');
    await assert.rejects(loadCore(bare, { classNames: ['a', 'b'] }), (e: unknown) => e instanceof ConfigError && /classNames has 2 names for the model's 10 outputs/.test(e.message));
  });

  it('bad sources are typed errors', async () => {
    await assert.rejects(loadCore(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])), FormatError);
    await assert.rejects(loadModel(join(ROOT, 'models/no-such-model.safetensors')), FileError);
    await assert.rejects(loadCore(MODEL), (e: unknown) => e instanceof ConfigError && /is not a URL.*mobilenet-ts\/node/.test(e.message));
    await assert.rejects(loadCore(), (e: unknown) => e instanceof ConfigError && /file: URLs.*mobilenet-ts\/node/.test(e.message));
    await assert.rejects(loadCore(42 as unknown as string), ConfigError);
  });

  describe('over HTTP (a loopback server)', () => {
    let server: Server;
    let base: string;
    const requests: string[] = [];
    before(async () => {
      const model = readFileSync(MODEL);
      server = createServer((request, response) => {
        requests.push(request.url ?? '');
        if (request.url === '/models/fm.safetensors') response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(model);
        else response.writeHead(404).end('not found');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('a URL is fetched, as a URL or a string, by the core and the Node edge', async () => {
      same(await answer(await loadCore(new URL('/models/fm.safetensors', base))), 'core, URL');
      same(await answer(await loadModel(`${base}/models/fm.safetensors`)), 'node, URL string');
      assert.deepEqual(requests, ['/models/fm.safetensors', '/models/fm.safetensors']);
    });

    it('an HTTP error or an unreachable host is a FetchError naming the URL', async () => {
      await assert.rejects(loadCore(`${base}/models/missing.onnx`), (e: unknown) => e instanceof FetchError && e.status === 404 && e.message.includes(`${base}/models/missing.onnx: HTTP 404`));
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await assert.rejects(loadCore(`http://127.0.0.1:${port}/model.safetensors`), (e: unknown) => e instanceof FetchError && e.status === null && /fetch failed/.test(e.message));
    });
  });
});
