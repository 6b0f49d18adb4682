// The package as a user installs it: `npm pack`, the tarball unpacked into a fresh strict TypeScript project,
// type-checked with skipLibCheck false, and the examples run against it, offline.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { decodeImageTensor } from '../../src/data/image.js';
import { decodeModelFile } from '../../src/io/model-file.js';
import { softmax } from '../../src/ops/activation.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const SAMPLES = join(ROOT, 'data/fashion-mnist/samples');
const MODEL = join(ROOT, 'models/fashion-mnist.safetensors');

/** The newest modification time of the files under `folder`, in ms. */
async function newest(folder: string): Promise<number> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  const times = await Promise.all(entries.filter((e) => e.isFile()).map(async (e) => (await stat(join(e.parentPath, e.name))).mtimeMs));
  return Math.max(...times);
}

/** A TypeScript file that uses the browser entry's types (DOM images, the bundle's loadModel), for the type check only. */
const BROWSER_CHECK = `import { imageTensor, loadModel } from 'mobilenet-ts/browser';
import type { BrowserImageSource } from 'mobilenet-ts/browser';
import { WasmEngine, decodeAnyModel } from 'mobilenet-ts';

export async function inPage(img: HTMLImageElement, canvas: HTMLCanvasElement, bytes: Uint8Array): Promise<string> {
  const { model, preprocessing } = await decodeAnyModel({ bytes, source: 'model.onnx' });
  const engine = await WasmEngine.create(model, { threads: navigator.hardwareConcurrency });
  const logits = engine.predict(imageTensor(img, { ...preprocessing, channels: 1 }));
  await engine.dispose();
  const classifier = await loadModel(new URL('./model.json', location.href));
  const image: BrowserImageSource = canvas;
  const [best] = await classifier.classify(image, 1);
  return \`\${best.label} \${logits.shape.join('×')}\`;
}
`;

describe('the installed package', () => {
  let work: string;
  let app: string;
  let files: string[];

  before(async () => {
    // `npm pack` runs prepare, the build: here only where dist/ is missing or older than what it is built from
    const inputs = await Promise.all([newest(join(ROOT, 'src')), ...['package.json', 'tsconfig.json', 'vite.config.ts'].map(async (f) => (await stat(join(ROOT, f))).mtimeMs)]);
    const built = await stat(join(ROOT, 'dist/bundle/mobilenet.js')).then((s) => s.mtimeMs, () => 0);
    if (built < Math.max(...inputs)) await run('npm', ['run', 'build'], { cwd: ROOT });
    work = await mkdtemp(join(tmpdir(), 'mobilenet-package-'));
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = packed.files.map((f) => f.path);
    // installed by hand: `npm install --offline` would need the registry's package documents, which npm ci does not
    // cache; the dependencies come from this checkout, as npm would have installed them
    app = join(work, 'app');
    const installed = join(app, 'node_modules/mobilenet-ts');
    await mkdir(installed, { recursive: true });
    await mkdir(join(app, 'node_modules/@types'), { recursive: true });
    await run('tar', ['-xzf', join(work, packed.filename), '-C', installed, '--strip-components=1']);
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of [...Object.keys(manifest.dependencies), '@types/node']) await symlink(join(ROOT, 'node_modules', name), join(app, 'node_modules', name), 'dir');
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    await copyFile(join(ROOT, 'examples/classify.ts'), join(app, 'classify.ts'));
    await copyFile(join(ROOT, 'examples/node-classify.mjs'), join(app, 'node-classify.mjs'));
    await writeFile(join(app, 'browser-check.ts'), BROWSER_CHECK);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the licence, the bundled model, the browser bundle and source maps that carry their sources', async () => {
    for (const path of ['LICENSE', 'README.md', 'models/fashion-mnist.safetensors', 'dist/index.d.ts', 'dist/bundle/mobilenet.js', 'dist/cli/main.js']) assert.ok(files.includes(path), `${path} is not in the package`);
    assert.ok(!files.some((f) => f.startsWith('src/') && f.endsWith('.ts')), 'TypeScript sources are shipped');
    assert.match(await readFile(join(app, 'node_modules/mobilenet-ts/LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the mobilenet-ts authors/);
    const maps = files.filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 0);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(await readFile(join(app, 'node_modules/mobilenet-ts', map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      assert.ok(sourcesContent?.length === sources.length && sourcesContent.every((s) => typeof s === 'string'), `${map} does not carry its sources`);
    }
  });

  it('type-checks in a strict project with skipLibCheck false (the README examples, the Node and browser entries)', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((e: { stdout: string }) => e);
    assert.equal(result.stdout, '', 'tsc reports errors');
  });

  it('runs the examples: the TypeScript one compiled, the Node script, and the bundled model by its export path', async () => {
    const sample = join(SAMPLES, '0006-coat.png');
    const reference = decodeModelFile(await readFile(MODEL), MODEL);
    const [h, w, c] = reference.model.inputShape;
    const probabilities = softmax(reference.model.predict(decodeImageTensor(await readFile(sample), { ...reference.preprocessing, size: [h, w], channels: c as 1 | 3 }))).data;

    const typescript = JSON.parse((await run(process.execPath, ['out/classify.js', sample], { cwd: app })).stdout) as {
      summary: string;
      features: number[];
      engineDifference: number;
      top: { label: string; index: number; probability: number }[];
      embedding: number[];
    };
    assert.match(typescript.summary, /^Multiply-adds: +1,196,592 per image$/);
    assert.deepEqual(typescript.features, [2, 2, 2, 192]);
    assert.ok(typescript.engineDifference < 1e-4, `engine vs reference kernels: ${typescript.engineDifference}`);
    assert.equal(typescript.top[0].label, 'Coat');
    for (const p of typescript.top) assert.ok(Math.abs(p.probability - probabilities[p.index]) < 1e-5, `${p.label}: ${p.probability} vs ${probabilities[p.index]}`);
    assert.deepEqual(typescript.embedding, [1, 1280]);

    const images = ['0000-ankle-boot.png', '0002-trouser.png', '0013-dress.png'].map((f) => join(SAMPLES, f));
    const { stdout } = await run(process.execPath, ['node-classify.mjs', ...images], { cwd: app });
    assert.deepEqual(stdout.trim().split('\n').map((line) => line.replace(/ [\d.]+%.*$/, '')), images.map((f, i) => `${f}: ${['Ankle boot', 'Trouser', 'Dress'][i]}`));

    const resolved = await run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('mobilenet-ts/models/fashion-mnist.safetensors'))"], { cwd: app });
    assert.equal(resolved.stdout.trim(), `file://${join(app, 'node_modules/mobilenet-ts/models/fashion-mnist.safetensors')}`);
  });
});
