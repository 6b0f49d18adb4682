// The page and the library in a real browser (Debian's chromium through playwright-core): Explore's totals against
// the cost model and the printed figures, Classify's, Your model's, Segment's and Detect's answers against the Node library's, the
// library bundle as a plain module script with threads, and the benchmark running. Screenshots go to test-artifacts/.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import type { Page } from 'playwright-core';

import { modelCost } from '../../src/cost/model-cost.js';
import { decodeImageTensor } from '../../src/data/image.js';
import type { PreprocessOptions } from '../../src/data/preprocess.js';
import type { Model } from '../../src/graph/model.js';
import { decodeAnyModel } from '../../src/io/any-model.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { encodeOnnx } from '../../src/io/onnx/export.js';
import { decodeInt8ModelFile, encodeInt8ModelFile } from '../../src/quant/int8-file.js';
import { QuantizedModel } from '../../src/quant/quantized-model.js';
import { runPlanOutputs } from '../../src/backend/plan-reference.js';
import { encodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import { encodeTorchStateDict } from '../../src/io/pth/torch-checkpoint.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { writeKerasH5 } from '../support/keras-h5-writer.js';
import type { KerasH5LayerSpec } from '../support/keras-h5-writer.js';
import { buildModel } from '../../src/models/registry.js';
import { replaceHead } from '../../src/train/finetune.js';
import { softmax } from '../../src/ops/activation.js';
import { buildLibrary, buildPage } from '../../web/harness/build.js';
import { chromiumPath, launchChromium } from '../../web/harness/chromium.js';
import type { Browser } from '../../web/harness/chromium.js';
import { serveStatic } from '../../web/harness/static-server.js';
import type { StaticServer } from '../../web/harness/static-server.js';
import { ORT_WEB } from '../../vite.config.js';
import { detect, loadModel, overlayMask, segment } from '../../src/index.js';
import { drawBoxes, rgbaOf } from '../../src/data/draw-boxes.js';
import { encodeNpy } from '../../src/io/npy.js';
import { TINY_ANCHORS, TINY_DETECTOR_CLASSES, redWhere, tinyDetector } from '../support/tiny-detector.js';
import { FACEAPI_SSD_MANIFEST, faceApiModelFolder } from '../support/faceapi.js';
import { loadModel as loadNodeModel } from '../../src/node/index.js';
import { TINY_PALETTE, paint, sceneImage, sceneLabels, tinySegmenterFile } from '../support/tiny-segmenter.js';
import { encodeMaskPng } from '../../src/data/mask-png.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ARTIFACTS = join(ROOT, 'test-artifacts');
const MODEL = join(ROOT, 'models/fashion-mnist.safetensors');
const SAMPLES = join(ROOT, 'data/fashion-mnist/samples');
const TOLERANCE = 1e-5;

const executable = chromiumPath();
const missing = 'chromium is not installed (apt-get install -y chromium; .ci/run installs it)';
if (!executable && process.env.CI === 'true') {
  test('browser tests need chromium', () => assert.fail(`${missing}: the browser tests cannot run under CI`));
}

interface Answer {
  logits: number[];
  top: { index: number; label: string; probability: number }[];
}

/** The Node library's answer for an image file: the same decoder and preprocessing, the reference backend. */
/** What Node answers for `image` with `model` (a float Model on the reference kernels, or an int8 model). */
function nodeAnswer(model: Pick<Model, 'inputShape'> & { predict(x: Tensor): Tensor }, image: Uint8Array, preprocessing: PreprocessOptions | undefined): { logits: number[]; top: number[] } {
  const [h, w, c] = model.inputShape;
  const logits = model.predict(decodeImageTensor(image, { ...preprocessing, size: [h, w], channels: c as 1 | 3 }));
  const p = softmax(logits).data;
  const top = Array.from(p, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, i]) => i);
  return { logits: Array.from(logits.data), top };
}

function assertSameAnswer(page: Answer, node: { logits: number[]; top: number[] }, what: string): void {
  assert.deepEqual(page.top.map((t) => t.index), node.top, `${what}: top-5 differs`);
  assert.equal(page.logits.length, node.logits.length, `${what}: logit count`);
  const worst = Math.max(...page.logits.map((v, i) => Math.abs(v - node.logits[i])));
  assert.ok(worst <= TOLERANCE, `${what}: max |logit difference| ${worst.toExponential(3)} > ${TOLERANCE}`);
}

/** `model` quantized to int8 (calibrated on three of the sample images) as an int8 model file. */
async function int8FileOf(model: Model, info: { classNames?: string[]; preprocessing?: PreprocessOptions }): Promise<Uint8Array> {
  const [h, w, c] = model.inputShape;
  const images = await Promise.all(['0000-ankle-boot.png', '0001-pullover.png', '0004-shirt.png'].map(async (f) => decodeImageTensor(await readFile(join(SAMPLES, f)), { ...info.preprocessing, size: [h, w], channels: c as 1 | 3 })));
  const batch = new Tensor([images.length, h, w, c], Float32Array.from(images.flatMap((t) => Array.from(t.data))));
  return encodeInt8ModelFile(model, QuantizedModel.quantize(model, [batch]), info);
}

/** `model` as Keras saves a whole model to H5: its Keras topology as model_config, each layer's weights in a group. */
async function kerasH5Of(model: Model): Promise<Uint8Array> {
  const { modelJson, shards } = encodeTfjsLayersModel(model);
  const data = new Float32Array(Uint8Array.from(Buffer.concat([...shards.values()])).buffer);
  const layers = new Map<string, KerasH5LayerSpec>();
  let at = 0;
  for (const w of modelJson.weightsManifest.flatMap((g) => g.weights)) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const layer = w.name.slice(0, w.name.lastIndexOf('/'));
    if (!layers.has(layer)) layers.set(layer, { name: layer, weights: [] });
    layers.get(layer)!.weights.push({ name: `${w.name}:0`, tensor: new Tensor(w.shape, data.slice(at, at + size)) });
    at += size;
  }
  const { class_name, config } = modelJson.modelTopology as { class_name: string; config: unknown };
  return writeKerasH5({ layers: [...layers.values()], modelConfig: { class_name, config }, kerasVersion: '2.13.1' });
}

async function answerOf(page: Page, selector: string, image: string): Promise<Answer> {
  await page.waitForSelector(`${selector}[data-image="${image}"]`, { timeout: 30_000 });
  const text = await page.locator(selector).getAttribute('data-answer');
  assert.ok(text, `${selector}: no answer (error: ${await page.locator(selector).getAttribute('data-error')})`);
  return JSON.parse(text) as Answer;
}

/** Drops files on `selector` as a user's drag and drop does: a drop event whose DataTransfer holds them. */
async function dropFiles(page: Page, selector: string, paths: readonly string[]): Promise<void> {
  const files = await Promise.all(paths.map(async (p) => ({ name: basename(p), base64: (await readFile(p)).toString('base64') })));
  const transfer = await page.evaluateHandle((list) => {
    const t = new DataTransfer();
    for (const f of list) t.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
    return t;
  }, files);
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

async function openTab(page: Page, server: StaticServer, tab: string, query = ''): Promise<void> {
  await page.goto(`${server.url}${query}#${tab}`);
  await page.waitForSelector(`#${tab}[data-ready="true"]`, { timeout: 60_000 });
}

describe('in the browser', { skip: executable ? false : `${missing}: skipped` }, () => {
  let work: string;
  let site: string;
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  /** Where the page may load from: our servers only. */
  const origins = new Set<string>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'mobilenet-browser-'));
    await mkdir(ARTIFACTS, { recursive: true });
    site = join(work, 'site');
    await buildPage(site);
    // the library bundle as a plain module script, beside a model and an image, under /bundle/
    await buildLibrary(join(site, 'bundle'));
    await copyFile(new URL('../../web/harness/bundle-check.html', import.meta.url), join(site, 'bundle/index.html'));
    await copyFile(MODEL, join(site, 'bundle/model.safetensors'));
    await copyFile(join(SAMPLES, '0000-ankle-boot.png'), join(site, 'bundle/sample.png'));
    server = await serveStatic(site);
    origins.add(new URL(server.url).origin);
    browser = await launchChromium(executable!);
    page = await browser.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    // the page works with no network: everything comes from our server (or is made in the page)
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (!['data:', 'blob:'].includes(url.protocol) && !origins.has(url.origin)) errors.push(`request outside the page's servers: ${r.url()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  });

  test('Explore: the totals follow α and equal the cost model and the printed figures', async () => {
    await openTab(page, server, 'explore');
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the page is cross-origin isolated');
    for (const [alpha, classes, printed] of [
      [0.75, 1000, null],
      [0.5, 1001, { macs: 97e6, params: 1.95e6 }],
    ] as const) {
      await page.fill('#explore-form [name="alpha"]', String(alpha));
      await page.fill('#explore-form [name="classes"]', String(classes));
      await page.locator('#explore-form [name="classes"]').dispatchEvent('change');
      await page.waitForFunction((a) => JSON.parse(document.getElementById('explore')!.dataset.choice ?? '{}').alpha === a, alpha);
      const shown = await page.locator('#explore-totals').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
      const cost = modelCost(buildModel('mobilenet_v2', { alpha, resolution: 224, classes }));
      assert.equal(Number(shown.macs), cost.macs, `α ${alpha}: MACs`);
      assert.equal(Number(shown.params), cost.params.weights, `α ${alpha}: parameters`);
      assert.equal(Number(shown.total), cost.params.total, `α ${alpha}: parameters with BN statistics`);
      assert.equal(Number(shown.peakBytes), cost.memory.peakBytes, `α ${alpha}: unfused peak`);
      assert.equal(Number(shown.fusedBytes), cost.memory.table3MaxBytes, `α ${alpha}: fused peak`);
      if (printed) {
        // TF-slim's table: MobileNetV2 0.5-224, 97M MACs and 1.95M parameters (1001 classes), to its printed precision
        assert.equal(Math.round(Number(shown.macs) / 1e6) * 1e6, printed.macs);
        assert.equal(Math.round(Number(shown.params) / 1e4) * 1e4, printed.params);
      }
    }
    await page.screenshot({ path: join(ARTIFACTS, 'explore.png'), fullPage: true });
  });

  test("Classify: the bundled model's answer for a test image equals Node's", async () => {
    await openTab(page, server, 'classify');
    const { model, preprocessing } = decodeModelFile(await readFile(MODEL), MODEL);
    for (const image of ['0000-ankle-boot.png', '0004-shirt.png']) {
      await page.locator(`#samples [data-sample="${image}"]`).click();
      assertSameAnswer(await answerOf(page, '#classify-result', image), nodeAnswer(model, await readFile(join(SAMPLES, image)), preprocessing), image);
    }
    // a drawing answers too (no reference: it is whatever was drawn)
    const box = (await page.locator('#draw').boundingBox())!;
    await page.mouse.move(box.x + 80, box.y + 60);
    await page.mouse.down();
    await page.mouse.move(box.x + 200, box.y + 220, { steps: 8 });
    await page.mouse.up();
    await page.waitForSelector('#classify-result[data-image="drawing"]');
    await page.screenshot({ path: join(ARTIFACTS, 'classify.png'), fullPage: true });
  });

  test("Classify: the camera's frames (chromium's fake camera) are answered", async () => {
    const camera = await launchChromium(executable!, ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    try {
      const cameraPage = await camera.context.newPage();
      await cameraPage.goto(`${server.url}#classify`);
      await cameraPage.waitForSelector('#classify[data-ready="true"]', { timeout: 60_000 });
      await cameraPage.locator('#camera').click();
      const answer = await answerOf(cameraPage, '#classify-result', 'camera');
      assert.equal(answer.top.length, 5);
      await cameraPage.screenshot({ path: join(ARTIFACTS, 'classify-camera.png'), fullPage: true });
      await cameraPage.locator('#camera').click();
    } finally {
      await camera.close();
    }
  });

  test("Your model: files in every format, picked or dropped, classify as Node's decoding of the same bytes does", async () => {
    await openTab(page, server, 'your-model');
    const { model, classNames, preprocessing } = decodeModelFile(await readFile(MODEL), MODEL);
    const write = async (name: string, bytes: Uint8Array): Promise<string> => {
      await writeFile(join(work, name), bytes);
      return join(work, name);
    };
    const { modelJson, shards } = encodeTfjsLayersModel(model, { userDefinedMetadata: { preprocessing: { pixels: { mean: 0.5, std: 0.5 } } } });
    const tfjs = [await write('model.json', new TextEncoder().encode(JSON.stringify(modelJson)))];
    for (const [name, bytes] of shards) tfjs.push(await write(name, bytes));
    const cases: [format: string, files: string[], how: 'picked' | 'dropped'][] = [
      ['model-file', [MODEL], 'dropped'],
      ['onnx', [await write('fashion.onnx', encodeOnnx(model))], 'picked'],
      ['tfjs', tfjs, 'dropped'],
      ['keras-h5', [await write('fashion.h5', await kerasH5Of(model))], 'picked'],
      // torchvision names, weights only: rebuilt as MobileNetV2 at 224×224 with α, classes and channels inferred
      // int8, calibrated on three sample images: run in the page on the WebAssembly int8 kernels
      ['int8', [await write('fashion-int8.safetensors', await int8FileOf(model, { classNames, preprocessing }))], 'picked'],
      ['pytorch', [await write('fashion.pth', encodeTorchStateDict(torchStateDict(model)))], 'dropped'],
    ];
    const image = '0002-trouser.png';
    const imageBytes = await readFile(join(SAMPLES, image));
    for (const [format, files, how] of cases) {
      await page.evaluate(() => delete document.getElementById('model-result')!.dataset.image);
      if (how === 'picked') await page.setInputFiles('#model-file', files);
      else await dropFiles(page, '#drop-model', files);
      await page.waitForSelector(`#model-info[data-format="${format}"]`, { timeout: 60_000 });
      await page.locator(`#model-samples [data-sample="${image}"]`).click();
      const folder = dirname(files[0]);
      const bytes = await readFile(files[0]);
      const reference =
        format === 'int8'
          ? (({ quantized, preprocessing }) => ({ model: { inputShape: quantized.inputShape, predict: (x: Tensor) => runPlanOutputs(quantized.plan, x)[0] }, preprocessing }))(decodeInt8ModelFile(bytes, files[0]))
          : await decodeAnyModel({ bytes, source: files[0], companion: async (p) => readFile(join(folder, p)) });
      assertSameAnswer(await answerOf(page, '#model-result', image), nodeAnswer(reference.model, imageBytes, reference.preprocessing), `${format} (${how})`);
      await page.screenshot({ path: join(ARTIFACTS, `your-model-${format}.png`), fullPage: true });
    }
    // the last (weights-only) model rebuilt at other resolutions: too small is refused with the reason; 64 as Node builds it
    await page.fill('#model-resolution', '28');
    await page.locator('#model-resolution').dispatchEvent('change');
    await page.waitForFunction(() => /resolution 28×28 is too small/.test(document.getElementById('model-info')!.dataset.error ?? ''));
    await page.evaluate(() => delete document.getElementById('model-result')!.dataset.image);
    await page.fill('#model-resolution', '64');
    await page.locator('#model-resolution').dispatchEvent('change');
    await page.waitForSelector('#model-info[data-input-shape="[64,64,1]"]', { timeout: 60_000 });
    const pth = cases[cases.length - 1][1][0];
    const at64 = await decodeAnyModel({ bytes: await readFile(pth), source: pth }, { resolution: 64 });
    assertSameAnswer(await answerOf(page, '#model-result', image), nodeAnswer(at64.model, imageBytes, undefined), 'pytorch at 64×64');
    await page.setInputFiles('#model-file', [await write('notes.txt', new TextEncoder().encode('GIF89a not a model'))]);
    await page.waitForFunction(() => /unknown model format/.test(document.getElementById('model-info')!.dataset.error ?? ''));
  });

  test('the library bundle loads as a plain module script: 2 threads when isolated, 1 otherwise, answers as Node does', async () => {
    const { model, preprocessing } = decodeModelFile(await readFile(MODEL), MODEL);
    const node = nodeAnswer(model, await readFile(join(SAMPLES, '0000-ankle-boot.png')), preprocessing);
    const plain = await serveStatic(site, { isolated: false });
    origins.add(new URL(plain.url).origin);
    try {
      for (const [url, isolated] of [[server.url, true], [plain.url, false]] as const) {
        await page.goto(`${url}bundle/`);
        const result = (await page.evaluate(() => (window as unknown as { check: Promise<unknown> }).check)) as {
          error?: string;
          isolated: boolean;
          threads: number;
          threadsNote: string | null;
          element: number[];
          file: number[];
          logits: number[];
        };
        assert.equal(result.error, undefined, result.error);
        assert.equal(result.isolated, isolated);
        if (isolated) assert.equal(result.threads, 2, `two threads in an isolated page: ${result.threadsNote}`);
        else {
          assert.equal(result.threads, 1);
          assert.match(result.threadsNote ?? '', /threads: 2 requested, 1 used: .*cross-origin isolat/);
        }
        // the <img> through a canvas gives the same input as the file through our PNG decoder
        assert.deepEqual(result.element, result.file);
        const worst = Math.max(...result.logits.map((v, i) => Math.abs(v - node.logits[i])));
        assert.ok(worst <= TOLERANCE, `bundle, ${result.threads} thread(s): max |logit difference| ${worst.toExponential(3)}`);
      }
    } finally {
      await plain.close();
    }
  });

  test('Benchmark: runs ours on 1 and all threads, and onnxruntime-web where bench/peers has it', async () => {
    await openTab(page, server, 'benchmark');
    await page.fill('#bench-form [name="runs"]', '2');
    await page.fill('#bench-form [name="warmup"]', '1');
    await page.locator('#bench-run').click();
    await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('bench-result')!.dataset.state ?? ''), undefined, { timeout: 90_000 });
    const state = await page.locator('#bench-result').getAttribute('data-state');
    assert.equal(state, 'done', (await page.locator('#bench-status').textContent()) ?? '');
    const rows = JSON.parse((await page.locator('#bench-result').getAttribute('data-rows'))!) as { runtime: string; threads: number; medianMs: number }[];
    const ours = rows.filter((r) => r.runtime === 'mobilenet-ts wasm').map((r) => r.threads);
    assert.deepEqual(ours, [1, 2]);
    const ort = rows.find((r) => r.runtime === 'onnxruntime-web wasm');
    const status = (await page.locator('#bench-status').getAttribute('data-ort')) ?? '';
    assert.ok(ort || /cd bench\/peers && npm ci/.test(status), 'onnxruntime-web ran, or the page says how to install it');
    for (const r of rows) assert.ok(r.medianMs > 0, `${r.runtime}: a time`);
    await page.screenshot({ path: join(ARTIFACTS, 'benchmark.png'), fullPage: true });
  });
  /** The RGBA pixels of the canvas `selector`, with its size. */
  const canvasPixels = (selector: string): Promise<{ width: number; height: number; rgba: number[] }> =>
    page.locator(selector).evaluate((canvas) => {
      const c = canvas as HTMLCanvasElement;
      return { width: c.width, height: c.height, rgba: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
    });
  test("Segment: a dropped segmenter and image give Node's mask, the overlay blended at the slider's opacity, a legend; a picked VOC folder its hand-worked IoUs", async () => {
    await openTab(page, server, 'segment');
    const modelFile = join(work, 'tiny-segmenter.safetensors');
    const imageFile = join(work, 'scene.png');
    await writeFile(modelFile, tinySegmenterFile());
    await writeFile(imageFile, encodePng({ ...sceneImage(), channels: 3, depth: 8 }));
    await dropFiles(page, '#drop-segmenter', [modelFile]);
    await page.waitForSelector('#segment-model-info[data-model="tiny_segmenter"]', { timeout: 60_000 });
    await dropFiles(page, '#drop-segment-image', [imageFile]);
    await page.waitForSelector('#segment-result[data-image="scene.png"]', { timeout: 30_000 });
    const shown = await page.locator('#segment-result').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
    const mask = Uint8Array.from(Buffer.from(shown.mask!, 'base64'));
    const loaded = await loadModel(await readFile(modelFile), { backend: 'reference' });
    const [node] = await segment(loaded, [await readFile(imageFile)]);
    await loaded.dispose();
    assert.deepEqual(mask, node.mask, "the page's mask is Node's");
    assert.deepEqual(mask, sceneLabels(), 'and the hand-worked one');
    assert.deepEqual(JSON.parse(shown.fractions!), node.fractions);
    const legend = await page.locator('#segment-result .legend-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.class));
    assert.deepEqual(legend, ['bright', 'red', 'background']);
    // at ½ as Node blends it; at 1 every pixel is its class's colour in the file's palette
    const half = await canvasPixels('#segment-overlay');
    assert.deepEqual([half.width, half.height], [16, 16]);
    assert.deepEqual(half.rgba.filter((_, i) => i % 4 !== 3), Array.from(overlayMask(sceneImage(), node.mask, node.palette, 0.5).data));
    await page.locator('#segment-opacity').evaluate((input) => {
      (input as HTMLInputElement).value = '100';
      input.dispatchEvent(new Event('input'));
    });
    await page.waitForSelector('#segment-overlay[data-opacity="1"]');
    const full = await canvasPixels('#segment-overlay');
    assert.deepEqual(full.rgba.filter((_, i) => i % 4 !== 3), Array.from(sceneLabels()).flatMap((label) => TINY_PALETTE[label]));
    await page.screenshot({ path: join(ARTIFACTS, 'segment.png'), fullPage: true });
    // scored on a picked VOC folder: two 8×8 scenes the model labels exactly as sceneLabels(8, 8); the first one's
    // truth calls the top row bright (4 red pixels wrong) and ignores pixel (0, 0), so by hand: background 32/32,
    // bright TP 47 of truth 51 and prediction 47 → 47/51, red TP 44 of truth 44 and prediction 48 → 44/48;
    // 123 of 127 counted pixels right
    const voc = join(work, 'voc');
    await Promise.all(['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'].map((d) => mkdir(join(voc, d), { recursive: true })));
    const small = paint(8, 8, (x, y) => (y >= 6 ? [0, 0, 0] : x < 4 ? [255, 255, 255] : [255, 0, 0]));
    const truthA = sceneLabels(8, 8).map((label, p) => (p === 0 ? 255 : p < 8 ? 1 : label));
    for (const [name, truth] of [['a', truthA], ['b', sceneLabels(8, 8)]] as const) {
      await writeFile(join(voc, 'JPEGImages', `${name}.png`), encodePng({ ...small, channels: 3, depth: 8 }));
      await writeFile(join(voc, 'SegmentationClass', `${name}.png`), encodeMaskPng({ width: 8, height: 8, labels: truth }));
    }
    await writeFile(join(voc, 'ImageSets', 'Segmentation', 'val.txt'), 'a\nb\n');
    await page.setInputFiles('#segment-voc-folder', voc);
    await page.waitForSelector('#segment-eval-result[data-state="done"]', { timeout: 60_000 });
    const scored = await page.locator('#segment-eval-result').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
    assert.equal(scored.images, '2');
    const iou = JSON.parse(scored.perClassIou!) as number[];
    [1, 47 / 51, 44 / 48].forEach((expected, k) => assert.ok(Math.abs(iou[k] - expected) < 1e-12, `IoU of class ${k}: ${iou[k]} vs ${expected}`));
    assert.ok(Math.abs(Number(scored.miou) - (1 + 47 / 51 + 44 / 48) / 3) < 1e-12);
    assert.ok(Math.abs(Number(scored.pixelAccuracy) - 123 / 127) < 1e-12);
    // a classifier is refused, saying why
    await dropFiles(page, '#drop-segmenter', [MODEL]);
    await page.waitForFunction(() => /cannot segment/.test(document.getElementById('segment-model-info')!.dataset.error ?? ''));
  });

  test("Detect: a dropped detector with its anchors .npy finds Node's detections, draws them as Node does; sliders and letterbox re-run; a video's and the camera's frames", async () => {
    await openTab(page, server, 'detect');
    const modelFile = join(work, 'tiny-detector.safetensors');
    const anchorsFile = join(work, 'tiny-anchors.npy');
    const imageFile = join(work, 'large.png');
    const image = redWhere(64, 32, (x) => x < 32);
    await writeFile(modelFile, encodeModelFile(tinyDetector({ head: false }), { classNames: TINY_DETECTOR_CLASSES.slice(1), preprocessing: { pixels: 'unit' } }));
    await writeFile(anchorsFile, encodeNpy(new Tensor([4, 4], TINY_ANCHORS)));
    await writeFile(imageFile, encodePng({ ...image, channels: 3, depth: 8 }));
    await dropFiles(page, '#drop-detector', [modelFile, anchorsFile]);
    await page.waitForSelector('#detect-model-info[data-model="tiny_detector"]', { timeout: 60_000 });
    await dropFiles(page, '#drop-detect-image', [imageFile]);
    await page.waitForSelector('#detect-result[data-image="large.png"]', { timeout: 30_000 });
    const shownOf = async (): Promise<{ class: number; label: string; score: number; box: number[] }[]> => JSON.parse((await page.locator('#detect-result').getAttribute('data-detections'))!);
    const loaded = await loadModel(await readFile(modelFile), { backend: 'reference', detectionAnchors: TINY_ANCHORS });
    const [node] = await detect(loaded, await readFile(imageFile));
    const [letterboxed] = await detect(loaded, await readFile(imageFile), { letterbox: true });
    await loaded.dispose();
    const plain = (found: typeof node): unknown[] => found.detections.map((d) => ({ class: d.class, label: d.label, score: d.score, box: d.box }));
    assert.deepEqual(await shownOf(), plain(node), "the page's detections are Node's");
    // and the hand-worked ones: the left quadrants, anchor boxes moved by (+0.05, −0.05) and half as wide, ×(32, 64)
    assert.deepEqual(node.detections.map((d) => [d.label, d.box.map((v) => Math.round(v * 10) / 10)]), [['redthing', [1.6, 4.8, 17.6, 20.8]], ['redthing', [17.6, 4.8, 32, 20.8]]]);
    const canvas = await canvasPixels('#detect-canvas');
    assert.deepEqual([canvas.width, canvas.height], [64, 32]);
    assert.deepEqual(canvas.rgba, Array.from(drawBoxes(rgbaOf(image), node.detections).data), 'drawn as drawBoxes draws them in Node');
    await page.screenshot({ path: join(ARTIFACTS, 'detect.png'), fullPage: true });
    const slide = (id: string, value: string): Promise<void> => page.locator(id).evaluate((input, v) => {
      (input as HTMLInputElement).value = v;
      input.dispatchEvent(new Event('input'));
    }, value);
    // σ(15) < 1: a score threshold of 1 keeps nothing; back at 0.5, letterboxed: σ(5) and the letterbox's boxes
    await slide('#detect-score', '100');
    await page.waitForFunction(() => document.getElementById('detect-result')!.dataset.detections === '[]');
    await slide('#detect-score', '50');
    await page.locator('#detect-letterbox').check();
    await page.waitForFunction(() => JSON.parse(document.getElementById('detect-result')!.dataset.detections ?? '[]')[0]?.score < 0.999);
    assert.deepEqual(await shownOf(), plain(letterboxed));
    // a video file (recorded here from a canvas: 64×32, the left half red) is detected in frame by frame as it plays
    await page.evaluate(async () => {
      const canvas = Object.assign(document.createElement('canvas'), { width: 64, height: 32 });
      const context = canvas.getContext('2d')!;
      const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: 'video/webm' });
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start();
      for (let i = 0; i < 10; i++) {
        context.fillStyle = '#000';
        context.fillRect(0, 0, 64, 32);
        context.fillStyle = '#f00';
        context.fillRect(0, 0, 32, 32);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      recorder.stop();
      await stopped;
      const transfer = new DataTransfer();
      transfer.items.add(new File(chunks, 'clip.webm', { type: 'video/webm' }));
      const picker = document.getElementById('detect-video-file') as HTMLInputElement;
      picker.files = transfer.files;
      picker.dispatchEvent(new Event('change'));
    });
    await page.waitForSelector('#detect-result[data-image="clip.webm"]', { timeout: 30_000 });
    const fromVideo = await page.locator('#detect-result').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
    assert.deepEqual([fromVideo.width, fromVideo.height], ['64', '32']);
    // the codec blurs the red edge a little: the two left quadrants are still found (letterboxed, as the box is ticked)
    assert.deepEqual((JSON.parse(fromVideo.detections!) as { label: string }[]).map((d) => d.label), ['redthing', 'redthing']);
    await page.locator('#detect-video').evaluate((v) => (v as HTMLVideoElement).pause());
    // a classifier is refused, saying why
    await dropFiles(page, '#drop-detector', [MODEL]);
    await page.waitForFunction(() => /does not detect/.test(document.getElementById('detect-model-info')!.dataset.error ?? ''));
    // live: chromium's fake camera's frames, detected at the frame's own size
    const camera = await launchChromium(executable!, ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    try {
      const cameraPage = await camera.context.newPage();
      await openTab(cameraPage, server, 'detect');
      await dropFiles(cameraPage, '#drop-detector', [modelFile, anchorsFile]);
      await cameraPage.waitForSelector('#detect-model-info[data-model="tiny_detector"]', { timeout: 60_000 });
      await cameraPage.locator('#detect-camera').click();
      await cameraPage.waitForSelector('#detect-result[data-image="camera"]', { timeout: 30_000 });
      const frame = await cameraPage.locator('#detect-camera-video').evaluate((v) => [(v as HTMLVideoElement).videoWidth, (v as HTMLVideoElement).videoHeight]);
      const shown = await cameraPage.locator('#detect-result').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
      assert.deepEqual([Number(shown.width), Number(shown.height)], frame);
      assert.ok(Array.isArray(JSON.parse(shown.detections!)), shown.error);
      await cameraPage.locator('#detect-camera').click();
    } finally {
      await camera.close();
    }
  });

  test("Detect: the golden SSDLite's ONNX, which has no anchors, refused until TF's generated anchors are picked; then Node's detections", async () => {
    await openTab(page, server, 'detect');
    const onnx = join(ROOT, 'test/fixtures/golden/apps/ssdlite_mnv2_a050_r160_k5_b2/model.onnx');
    const imageFile = join(work, 'large.png');
    await dropFiles(page, '#drop-detector', [onnx]);
    await page.waitForFunction(() => /no detection head/.test(document.getElementById('detect-model-info')!.dataset.error ?? ''));
    await page.selectOption('#detect-anchors', 'ssd-tf');
    await page.waitForFunction(() => /540 anchors/.test(document.getElementById('detect-model-info')!.textContent ?? ''));
    await page.locator('#detect-score').evaluate((input) => {
      (input as HTMLInputElement).value = '10';
      input.dispatchEvent(new Event('input'));
    });
    await page.evaluate(() => delete document.getElementById('detect-result')!.dataset.image);
    await dropFiles(page, '#drop-detect-image', [imageFile]);
    await page.waitForSelector('#detect-result[data-image="large.png"]', { timeout: 30_000 });
    const shown = JSON.parse((await page.locator('#detect-result').getAttribute('data-detections'))!) as { class: number; score: number; box: number[] }[];
    const loaded = await loadNodeModel(onnx, { backend: 'reference', detectionAnchors: 'ssd-tf' });
    const [node] = await detect(loaded, imageFile, { scoreThreshold: 0.1, letterbox: await page.locator('#detect-letterbox').isChecked() });
    await loaded.dispose();
    assert.equal(shown.length, node.detections.length);
    shown.forEach((d, i) => {
      const n = node.detections[i];
      assert.equal(d.class, n.class);
      assert.ok(Math.abs(d.score - n.score) < 1e-4, `score ${d.score} vs ${n.score}`);
      d.box.forEach((v, k) => assert.ok(Math.abs(v - n.box[k]) < 1e-3, `box ${d.box} vs ${n.box}`));
    });
  });

  test("Detect: face-api's manifest and .bin dropped together find Node's faces in a photo, at face-api's thresholds", { skip: faceApiModelFolder() ? false : 'face-api is not installed (dev dependency @vladmandic/face-api)' }, async () => {
    await openTab(page, server, 'detect');
    await page.locator('#detect-letterbox').uncheck(); // the tab keeps its state from the test before
    const manifest = join(faceApiModelFolder()!, FACEAPI_SSD_MANIFEST);
    const photo = join(ROOT, 'test/fixtures/photos/grace_hopper.jpg');
    await dropFiles(page, '#drop-detector', [manifest, manifest.replace('-weights_manifest.json', '.bin')]);
    await page.waitForSelector('#detect-model-info[data-model="faceapi_ssd_mobilenetv1"]', { timeout: 60_000 });
    assert.deepEqual(await page.evaluate(() => ['detect-score', 'detect-iou'].map((id) => (document.getElementById(id) as HTMLInputElement).value)), ['50', '50'], "the sliders at face-api's own thresholds");
    await dropFiles(page, '#drop-detect-image', [photo]);
    await page.waitForSelector('#detect-result[data-image="grace_hopper.jpg"]', { timeout: 60_000 });
    const shown = JSON.parse((await page.locator('#detect-result').getAttribute('data-detections'))!) as { class: number; label: string; score: number; box: number[] }[];
    const loaded = await loadNodeModel(manifest, { backend: 'reference' });
    const [node] = await detect(loaded, photo);
    await loaded.dispose();
    assert.ok(node.detections.length >= 1);
    assert.equal(shown.length, node.detections.length);
    shown.forEach((d, i) => {
      const n = node.detections[i];
      assert.deepEqual([d.class, d.label], [n.class, n.label]);
      assert.ok(Math.abs(d.score - n.score) < 1e-4, `score ${d.score} vs ${n.score}`);
      d.box.forEach((v, k) => assert.ok(Math.abs(v - n.box[k]) < 1e-2, `box ${d.box} vs ${n.box}`));
    });
    await page.screenshot({ path: join(ARTIFACTS, 'detect-faceapi.png'), fullPage: true });
  });

  describe('the page says what it cannot run, shows what the model sees, and asks for what a file leaves out', () => {
    /** Changes one control of Your model, then has the page answer the sample `image` again. */
    const answerAfter = async (image: string, change: () => Promise<unknown>): Promise<Answer> => {
      await page.evaluate(() => delete document.getElementById('model-result')!.dataset.image);
      await change();
      if (!(await page.locator('#model-result[data-image]').count())) await page.locator(`#model-samples [data-sample="${image}"]`).click();
      return answerOf(page, '#model-result', image);
    };

    test('Benchmark: only the runtimes this page can run are ticked; a missing one is unticked with its reason; units as the CLI words them', async () => {
      await openTab(page, server, 'benchmark');
      const box = (name: string) => page.locator(`#bench-form [name="${name}"]`);
      assert.equal(await box('ours').isChecked(), true, 'mobilenet-ts ticked (chromium validates WebAssembly SIMD)');
      if (existsSync(ORT_WEB)) {
        assert.equal(await box('ort').isChecked(), true, 'onnxruntime-web installed in bench/peers: ticked');
        assert.equal(await page.locator('#bench-unavailable').isHidden(), true);
      } else {
        assert.equal(await box('ort').isChecked(), false, 'onnxruntime-web not installed: not ticked');
        assert.equal(await box('ort').isDisabled(), true, 'onnxruntime-web not installed: cannot be ticked');
        assert.match((await page.locator('#bench-unavailable').textContent()) ?? '', /^Not available here: onnxruntime-web is not installed: run `cd bench\/peers && npm ci`/);
      }
      await page.fill('#bench-form [name="runs"]', '1');
      await page.fill('#bench-form [name="warmup"]', '0');
      await box('ort').setChecked(false, { force: true });
      await page.locator('#bench-run').click();
      await page.waitForSelector('#bench-result[data-state="done"]', { timeout: 90_000 });
      // `mobilenet bench` prints "latency median … ms" and "throughput … images/s" for a batch
      const headers = await page.locator('#bench-result th').allTextContents();
      for (const words of ['batch', 'latency median (ms)', 'throughput (images/s)']) assert.ok(headers.includes(words), `header "${words}" in ${headers.join(' | ')}`);
    });

    test("Classify: beside a data-set image, what the model sees is that image's own 28×28 grey pixels, and no note", async () => {
      await openTab(page, server, 'classify');
      const image = '0001-pullover.png';
      await page.locator(`#samples [data-sample="${image}"]`).click();
      await answerOf(page, '#classify-result', image);
      // the reference: the PNG's own pixels (28×28 grey, the model's input size: no resize)
      const png = decodePng(await readFile(join(SAMPLES, image)));
      assert.deepEqual([png.width, png.height, png.channels], [28, 28, 1]);
      const shown = await canvasPixels('#classify-input');
      assert.deepEqual([shown.width, shown.height], [28, 28]);
      for (let i = 0; i < 28 * 28; i++) {
        assert.deepEqual(shown.rgba.slice(4 * i, 4 * i + 4), [png.data[i], png.data[i], png.data[i], 255], `pixel ${i}`);
      }
      assert.equal(await page.locator('#classify-input-caption').textContent(), 'what the model sees: 28×28 grey');
      assert.equal(await page.locator('#classify-preview').isVisible(), true, 'the image itself is shown too');
      assert.equal(await page.locator('#classify-note').isHidden(), true, 'a data-set image gets no note');
      assert.match((await page.locator('#classify-result').textContent()) ?? '', /1 image in \d+\.\d ms/, 'the time as `mobilenet classify` words it');
    });

    test('Classify: a colour photo is shown beside what the model gets (28×28 grey) with a one-line note that it is far from the data', async () => {
      await openTab(page, server, 'classify');
      // one colour, (200, 40, 90), everywhere: grey by PIL's luma (19595·200 + 38470·40 + 7471·90 + 2¹⁵) >> 16 = 94
      const photo = join(work, 'photo.png');
      await writeFile(photo, encodePng({ width: 64, height: 48, channels: 3, data: Uint8Array.from({ length: 64 * 48 * 3 }, (_, i) => [200, 40, 90][i % 3]) }));
      await page.setInputFiles('#image-file', photo);
      await answerOf(page, '#classify-result', 'photo.png');
      const shown = await canvasPixels('#classify-input');
      assert.deepEqual([shown.width, shown.height], [28, 28]);
      assert.ok(shown.rgba.every((v, i) => v === (i % 4 === 3 ? 255 : 94)), 'every pixel the grey 94');
      assert.equal(await page.locator('#classify-preview').isVisible(), true, 'the colour photo itself is shown');
      const note = (await page.locator('#classify-note').textContent()) ?? '';
      assert.match(note, /^This 64×48 colour image is far from the model's data: the model takes 28×28 grey images/);
      assert.equal(note.split('\n').length, 1);
      await page.screenshot({ path: join(ARTIFACTS, 'classify-photo.png'), fullPage: true });
    });

    test("Your model: a file that says neither preprocessing nor labels says so in one line; the CLI's choices apply", async () => {
      // a fresh load (a new query, not only a new hash): no model, resolution or choice left from another test
      await openTab(page, server, 'your-model', '?fresh');
      const { model } = decodeModelFile(await readFile(MODEL), MODEL);
      const pth = join(work, 'weights-only.pth');
      await writeFile(pth, encodeTorchStateDict(torchStateDict(model)));
      await page.setInputFiles('#model-file', [pth]);
      await page.waitForSelector('#model-info[data-format="pytorch"]', { timeout: 60_000 });
      const missing = page.locator('#model-missing');
      assert.deepEqual(JSON.parse((await missing.getAttribute('data-missing')) ?? '[]'), ['preprocessing', 'labels']);
      assert.match((await missing.textContent()) ?? '', /^The file does not say its preprocessing .* or its class names .*--preprocess, --mean\/--std, --range and --labels\.$/);
      const reference = await decodeAnyModel({ bytes: await readFile(pth), source: pth });
      const image = '0013-dress.png';
      const imageBytes = await readFile(join(SAMPLES, image));
      const answerWith = (change: () => Promise<unknown>): Promise<Answer> => answerAfter(image, change);
      // torchvision's ImageNet mean/std has 3 values: this grey model refuses it, as the CLI does, with the reason
      await page.selectOption('#model-preprocess', 'torchvision');
      await page.locator(`#model-samples [data-sample="${image}"]`).click();
      await page.waitForFunction(() => /pixel mean has 3 values for 1 channels/.test(document.getElementById('model-result')!.dataset.error ?? ''));
      // the pixel scaling of each choice, written out as Keras and the ranges define them
      const choices: [string, PreprocessOptions['pixels']][] = [
        ['keras', 'symmetric'],
        ['range:-1..1', 'symmetric'],
        ['range:0..255', 'raw'],
      ];
      for (const [choice, pixels] of choices) {
        const answer = await answerWith(() => page.selectOption('#model-preprocess', choice));
        assertSameAnswer(answer, nodeAnswer(reference.model, imageBytes, { pixels }), `--preprocess/--range ${choice}`);
        assert.deepEqual(answer.top.map((t) => t.label), answer.top.map((t) => String(t.index)), 'no labels: class indices');
      }
      await page.selectOption('#model-preprocess', 'custom');
      await page.fill('#model-mean', '0.25');
      const custom = await answerWith(() => page.fill('#model-std', '0.5').then(() => page.locator('#model-std').dispatchEvent('change')));
      assertSameAnswer(custom, nodeAnswer(reference.model, imageBytes, { pixels: { mean: 0.25, std: 0.5 } }), '--mean 0.25 --std 0.5');
      // labels from a file, one name per line (as `--labels FILE`); a list of the wrong length is refused
      const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
      const labelsFile = join(work, 'labels.txt');
      await writeFile(labelsFile, `${names.join('\n')}\n`);
      await page.selectOption('#model-labels', 'list');
      const labelled = await answerWith(() => page.setInputFiles('#model-labels-file', labelsFile));
      assert.deepEqual(labelled.top.map((t) => t.label), labelled.top.map((t) => names[t.index]));
      await page.screenshot({ path: join(ARTIFACTS, 'your-model-choices.png'), fullPage: true });
      const shortList = join(work, 'labels.json');
      await writeFile(shortList, '["a", "b", "c"]');
      await page.setInputFiles('#model-labels-file', shortList);
      await page.waitForFunction(() => /the labels file has 3 names for a model of 10 classes/.test(document.getElementById('model-result')!.dataset.error ?? ''));
    });

    test("Your model: ImageNet's labels and a preprocessing file, as --labels imagenet and --preprocess FILE.json", async () => {
      await openTab(page, server, 'your-model', '?imagenet');
      // the bundled model's features under a 1000-class head, weights only: small hashed weights spread the logits
      // over about ±0.1 (their rounding stays well inside the tolerance), and class 1's bias of 1 puts it first
      const weights = torchStateDict(replaceHead(decodeModelFile(await readFile(MODEL), MODEL).model, 1000));
      const head = weights.get('classifier.1.weight')!.data;
      head.forEach((_, i) => (head[i] = ((Math.sin(i * 12.9898) * 43758.5453) % 1) / 100));
      weights.get('classifier.1.bias')!.data[1] = 1;
      const pth = join(work, 'imagenet-head.pth');
      await writeFile(pth, encodeTorchStateDict(weights));
      await page.fill('#model-resolution', '32');
      await page.setInputFiles('#model-file', [pth]);
      await page.waitForSelector('#model-info[data-input-shape="[32,32,1]"]', { timeout: 60_000 });
      const image = '0013-dress.png';
      const named = await answerAfter(image, () => page.selectOption('#model-labels', 'imagenet'));
      // Keras' imagenet_class_index.json: class 1 is n01443537 "goldfish"
      assert.deepEqual([named.top[0].index, named.top[0].label], [1, 'goldfish']);
      // a preprocessing file: its fit (pad: the 28×28 image centred on a 32×32 zero canvas) and pixels apply
      const prepared = { size: [32, 32], fit: 'pad', pixels: { mean: 0.25, std: 0.5 } } as const;
      await page.selectOption('#model-preprocess', 'json');
      await page.waitForFunction(() => /pick a preprocessing file/.test(document.getElementById('model-result')!.dataset.error ?? ''));
      const file = join(work, 'preprocess.json');
      await writeFile(file, JSON.stringify(prepared));
      const answer = await answerAfter(image, () => page.setInputFiles('#model-preprocess-file', file));
      const reference = await decodeAnyModel({ bytes: await readFile(pth), source: pth }, { resolution: 32 });
      const imageBytes = await readFile(join(SAMPLES, image));
      assertSameAnswer(answer, nodeAnswer(reference.model, imageBytes, prepared), '--preprocess FILE.json');
      const resized = nodeAnswer(reference.model, imageBytes, { ...prepared, fit: 'bilinear' });
      assert.ok(Math.max(...answer.logits.map((v, i) => Math.abs(v - resized.logits[i]))) > 1e-3, "the file's fit applies: a bilinear resize answers otherwise");
      // a file that is not a preprocessing is refused, naming the file and what is wrong
      await writeFile(join(work, 'bad.json'), JSON.stringify({ pixels: { mean: 0.5, std: 0 } }));
      await page.setInputFiles('#model-preprocess-file', join(work, 'bad.json'));
      await page.waitForFunction(() => /bad\.json: pixel std must be positive/.test(document.getElementById('model-result')!.dataset.error ?? ''));
      // ImageNet's names do not fit a 10-class model
      await page.selectOption('#model-preprocess', 'file');
      await page.setInputFiles('#model-file', [MODEL]);
      await page.waitForFunction(() => /ImageNet has 1000 names for a model of 10 classes/.test(document.getElementById('model-result')!.dataset.error ?? ''));
    });
  });
});

describe('examples/browser.html', { skip: executable ? false : `${missing}: skipped` }, () => {
  test("classifies its image with the bundle's loadModel as Node's reference path does", async () => {
    // the package's layout: dist/bundle/, models/, examples/, and the sample image the page shows
    const site = await mkdtemp(join(tmpdir(), 'mobilenet-example-'));
    let server: StaticServer | undefined;
    let browser: Browser | undefined;
    try {
      await buildLibrary(join(site, 'dist/bundle'));
      const sample = join(site, 'data/fashion-mnist/samples');
      await Promise.all([mkdir(join(site, 'models')), mkdir(join(site, 'examples')), mkdir(sample, { recursive: true })]);
      await copyFile(MODEL, join(site, 'models/fashion-mnist.safetensors'));
      await copyFile(new URL('../../examples/browser.html', import.meta.url), join(site, 'examples/browser.html'));
      await copyFile(join(SAMPLES, '0000-ankle-boot.png'), join(sample, '0000-ankle-boot.png'));
      server = await serveStatic(site, { isolated: false });
      browser = await launchChromium(executable!);
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}examples/browser.html`);
      const result = (await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result)) as {
        error?: string;
        top: { label: string; index: number; probability: number }[];
        notes: string[];
      };
      assert.equal(result.error, undefined, result.error);
      assert.deepEqual(errors, []);
      const { model, preprocessing, classNames } = decodeModelFile(await readFile(MODEL), MODEL);
      const node = nodeAnswer(model, await readFile(join(SAMPLES, '0000-ankle-boot.png')), preprocessing);
      const probabilities = softmax(new Tensor([1, node.logits.length], Float32Array.from(node.logits))).data;
      assert.deepEqual(result.top.map((p) => p.index), node.top.slice(0, 3));
      assert.deepEqual(result.top.map((p) => p.label), node.top.slice(0, 3).map((i) => classNames![i]));
      for (const p of result.top) assert.ok(Math.abs(p.probability - probabilities[p.index]) <= TOLERANCE, `${p.label}: ${p.probability} vs ${probabilities[p.index]}`);
      assert.deepEqual(result.notes, []);
      assert.match(await page.locator('#top li').first().innerText(), /^Ankle boot: \d+\.\d%$/);
    } finally {
      await browser?.close();
      await server?.close();
      await rm(site, { recursive: true, force: true });
    }
  });
});
