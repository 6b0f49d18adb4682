// The CLI tells the truth: quiet exit on a closed pipe, stray arguments and negative numbers, --version and help,
// one error prefix, what a model file lacks (and the flags that supply it), top-k for few classes, demo's engine.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { IMAGENET_CLASSES } from '../../src/data/imagenet-classes.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { GOLDEN, runCli as run } from '../support/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLED = join(ROOT, 'models/fashion-mnist.safetensors');
const DATA = join(ROOT, 'data/fashion-mnist');
const SAMPLES = join(DATA, 'samples');
const TINY_WEIGHTS = join(GOLDEN, 'models/mnv2_035_32_c10/weights.safetensors');

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-truth-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** Runs the real executable (from src/ through tsx) with its stdout closed before it writes: the reader of a pipe gone. */
function runWithClosedStdout(...argv: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, err }));
  });
}

describe('a closed pipe (mobilenet summary | head -1)', () => {
  for (const argv of [['summary'], ['inspect', BUNDLED], ['eval', '--data', DATA, '--limit', '20']]) {
    it(`${argv[0]} exits 0 without a stack trace`, async () => {
      const r = await runWithClosedStdout(...argv);
      assert.equal(r.code, 0, r.err);
      assert.doesNotMatch(r.err, /EPIPE|\n\s+at /);
    });
  }
});

describe('arguments', () => {
  it('a stray argument is an error naming it, with --arch suggested for an architecture', async () => {
    const r = await run('summary', 'mobilenet_v1');
    assert.equal(r.code, 2);
    assert.equal(r.err, 'mobilenet summary: UsageError: unexpected argument "mobilenet_v1": summary takes flags only; did you mean --arch mobilenet_v1? (see mobilenet summary --help)');
    for (const command of ['eval', 'bench', 'demo', 'infer', 'train', 'quantize']) {
      const stray = await run(command, 'oops');
      assert.equal(stray.code, 2, command);
      assert.match(stray.err, new RegExp(`^mobilenet ${command}: UsageError: unexpected argument "oops"`));
    }
  });

  it('negative numbers reach the flag check: one typed line', async () => {
    const alpha = await run('summary', '--alpha', '-1');
    assert.equal(alpha.code, 2);
    assert.equal(alpha.err, 'mobilenet summary: UsageError: --alpha must be a number > 0, got -1');
    const lr = await run('train', '--data', dir, '--out', dir, '--lr', '-0.1');
    assert.equal(lr.code, 2);
    assert.equal(lr.err.split('\n').length, 1);
    assert.match(lr.err, /--lr must be a number > 0, got -0\.1/);
  });

  it('parse errors are one line', async () => {
    const r = await run('eval', '--data');
    assert.equal(r.code, 2);
    assert.equal(r.err, "mobilenet eval: UsageError: Option '--data <value>' argument missing (see mobilenet eval --help)");
  });

  it('errors carry one "mobilenet <command>:" prefix', async () => {
    for (const [command, message] of [['eval', '--data DIR is required'], ['train', '--out DIR is required'], ['quantize', '--data DIR is required']]) {
      const r = await run(command);
      assert.equal(r.code, 2);
      assert.equal(r.err.split(`mobilenet ${command}:`).length, 2, r.err);
      assert.match(r.err, new RegExp(`^mobilenet ${command}: UsageError: ${message}`));
    }
  });
});

describe('--version and help', () => {
  it('--version and -v print package.json\'s version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) assert.deepEqual(await run(flag), { code: 0, out: version, err: '' });
  });

  it('--help lists the commands in one screen; each command\'s --help gives its flags', async () => {
    const top = await run('--help');
    assert.equal(top.code, 0);
    assert.ok(top.out.split('\n').length <= 25, top.out);
    for (const c of ['summary', 'infer', 'convert', 'inspect', 'train', 'eval', 'quantize', 'classify', 'bench', 'demo']) assert.match(top.out, new RegExp(`^  ${c} `, 'm'));
    assert.doesNotMatch(top.out, /--alpha/);
    const evalHelp = await run('eval', '--help');
    for (const flag of ['--model', '--data', '--limit', '--preprocess', '--mean', '--range', '--labels', '--stem-stride', '--alpha']) assert.match(evalHelp.out, new RegExp(`${flag}\\b`));
    assert.equal((await run('help', 'eval')).out, evalHelp.out);
    assert.match((await run('classify', '--help')).out, /--labels FILE\|imagenet/);
  });
});

describe('what a model file lacks', () => {
  let bare = '';
  before(async () => {
    // the bundled model without its preprocessing and class names
    bare = join(dir, 'bare.safetensors');
    await writeFile(bare, encodeModelFile(decodeModelFile(await readFile(BUNDLED)).model));
  });

  const top1 = (out: string): string => /top-1 ([\d.]+)%/.exec(out)?.[1] ?? `no top-1 in ${out}`;

  it('eval says so in one line, naming the flags; the flags give back the stored accuracy', async () => {
    const stored = await run('eval', '--data', DATA, '--limit', '200');
    assert.equal(stored.code, 0, stored.err);
    assert.doesNotMatch(stored.err, /stores no/);
    const guessed = await run('eval', '--model', bare, '--data', DATA, '--limit', '200');
    assert.equal(guessed.code, 0, guessed.err);
    const lines = guessed.err.split('\n').filter((l) => /stores no/.test(l));
    assert.equal(lines.length, 1, guessed.err);
    assert.match(lines[0], /stores no preprocessing \(pixels taken as 0\.\.1; set with --preprocess, --mean\/--std or --range\) and no class names \(.*set with --labels FILE\|imagenet\)/);
    // the bundled model takes (x/255 − 0.5)/0.5, which is x/127.5 − 1: the same images whichever way it is said
    await writeFile(join(dir, 'pre.json'), JSON.stringify({ pixels: { mean: 0.5, std: 0.5 } }));
    for (const flags of [['--mean', '0.5', '--std', '0.5'], ['--range', '-1..1'], ['--preprocess', 'keras'], ['--preprocess', join(dir, 'pre.json')]]) {
      const r = await run('eval', '--model', bare, '--data', DATA, '--limit', '200', ...flags);
      assert.equal(r.code, 0, r.err);
      assert.equal(top1(r.out), top1(stored.out), flags.join(' '));
      assert.doesNotMatch(r.err, /no preprocessing/);
    }
  });

  it('flags that replace what the file stores say so in one line', async () => {
    const labels = join(dir, 'labels.txt');
    await writeFile(labels, 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n');
    const r = await run('eval', '--data', DATA, '--limit', '20', '--range', '0..1', '--labels', labels);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^note: --range 0\.\.1 --labels .*labels\.txt: replacing the preprocessing \(pixels mean 0\.5 std 0\.5\) and the 10 class names that .*fashion-mnist\.safetensors stores$/m);
    assert.match(r.out, /^ 3 three /m);
    const json = join(dir, 'labels.json');
    await writeFile(json, JSON.stringify(['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9']));
    const c = await run('classify', '--model', bare, join(SAMPLES, '0000-ankle-boot.png'), '--labels', json, '--top', '1');
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /% {2}t\d$/m);
  });

  it('refuses labels of the wrong count and scaling of the wrong channels, naming the flag', async () => {
    const imagenet = await run('classify', '--model', bare, join(SAMPLES, '0000-ankle-boot.png'), '--labels', 'imagenet');
    assert.equal(imagenet.err, `mobilenet classify: UsageError: --labels imagenet: 1000 names, but ${bare} has 10 classes`);
    const channels = await run('eval', '--model', bare, '--data', DATA, '--preprocess', 'torchvision');
    assert.equal(channels.err, 'mobilenet eval: UsageError: --preprocess torchvision: pixel mean has 3 values for 1 channels (the model takes 1-channel images)');
    assert.match((await run('eval', '--data', DATA, '--mean', '0.5')).err, /--mean and --std go together/);
    assert.match((await run('eval', '--data', DATA, '--range', '0..2')).err, /--range must be one of 0\.\.1, -1\.\.1, 0\.\.255, got 0\.\.2/);
    assert.match((await run('eval', '--data', DATA, '--preprocess', 'torchvison')).err, /--preprocess must be one of torchvision, keras, tf or a FILE\.json, got torchvison/);
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ pixels: { mean: 0.5 } }));
    assert.match((await run('eval', '--data', DATA, '--preprocess', join(dir, 'bad.json'))).err, /ConfigError: .*bad\.json: pixels \{mean, std\} must hold numbers/);
  });

  it('a guess from the origin is said, with the flag to change it', async () => {
    const png = join(SAMPLES, '0000-ankle-boot.png');
    const r = await run('classify', '--model', TINY_WEIGHTS, '--resolution', '32', '--input-channels', '3', png);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^note: .*weights\.safetensors stores no preprocessing \(guessing ImageNet mean\/std, as torchvision's weights take; set with --preprocess, --mean\/--std or --range\) and no class names \(classes shown by number; set with --labels FILE\|imagenet\)$/m);
  });

  it('infer says its batch goes in as it is', async () => {
    const r = await run('infer', '--model', TINY_WEIGHTS, '--input', join(GOLDEN, 'models/mnv2_035_32_c10/input.npy'), '--output', join(dir, 'y.npy'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^note: .*input\.npy goes in as it is; .*weights\.safetensors: it stores no preprocessing$/m);
    const missing = join(dir, 'no-such-folder', 'y.npy');
    const failed = await run('infer', '--model', TINY_WEIGHTS, '--input', join(GOLDEN, 'models/mnv2_035_32_c10/input.npy'), '--output', missing);
    assert.equal(failed.err.split('\n').at(-1), `mobilenet infer: FileError: cannot write ${missing}: ENOENT: no such file or directory (does the folder ${join(dir, 'no-such-folder')} exist?)`);
  });
});

describe('--labels imagenet', () => {
  it('the 1000 ImageNet classes in index order, named on a 1000-class model\'s answers', async () => {
    // well-known indices of the ILSVRC-2012 class index
    assert.equal(IMAGENET_CLASSES.length, 1000);
    assert.deepEqual([0, 1, 207, 281, 409, 948, 999].map((i) => IMAGENET_CLASSES[i]), ['tench', 'goldfish', 'golden retriever', 'tabby', 'analog clock', 'Granny Smith', 'toilet tissue']);
    const model = join(dir, 'imagenet-sized.safetensors');
    await writeFile(model, encodeModelFile(mobilenetV1({ alpha: 0.25, resolution: 32, classes: 1000, seed: 4 })));
    const r = await run('classify', '--model', model, '--labels', 'imagenet', '--top', '3', '--json', join(SAMPLES, '0006-coat.png'));
    assert.equal(r.code, 0, r.err);
    const top = (JSON.parse(r.out) as { results: { top: { class: string; index: number }[] }[] }).results[0].top;
    assert.equal(top.length, 3);
    for (const t of top) assert.equal(t.class, IMAGENET_CLASSES[t.index]);
    assert.match(r.err, /stores no preprocessing \(pixels taken as 0\.\.1; set with --preprocess, --mean\/--std or --range\)$/m);
  });
});

describe('architecture flags for weights-only files', () => {
  it('--stem-stride 1 keeps the stem at full resolution (hand-worked MACs)', async () => {
    const r = await run('inspect', TINY_WEIGHTS, '--resolution', '32', '--stem-stride', '1', '--json');
    assert.equal(r.code, 0, r.err);
    const conv1 = (JSON.parse(r.out) as { layers: { name: string; outputShape: number[]; macs: number }[] }).layers.find((l) => l.name === 'Conv1');
    // 3×3×3 kernel, 16 filters, stride 1 on 32×32: 32·32·16 outputs × 27 MACs
    assert.deepEqual(conv1 && { shape: conv1.outputShape, macs: conv1.macs }, { shape: [32, 32, 16], macs: 32 * 32 * 16 * 27 });
    assert.match((await run('summary', '--arch', 'mobilenet_v1', '--stem-stride', '1')).err, /--stem-stride applies to mobilenet_v2, not mobilenet_v1/);
  });
});

describe('convert: what bare weights lack, given by flags', () => {
  it('--range and --labels go into OUT; without them OUT stores none, and says so', async () => {
    const labels = join(dir, 'ten.txt');
    const names = Array.from({ length: 10 }, (_, i) => `digit ${i}`);
    await writeFile(labels, names.join('\n'));
    const out = join(dir, 'tiny-given.safetensors');
    const given = await run('convert', TINY_WEIGHTS, out, '--resolution', '32', '--range', '-1..1', '--labels', labels);
    assert.equal(given.code, 0, given.err);
    const back = decodeModelFile(await readFile(out));
    assert.deepEqual(back.classNames, names);
    assert.deepEqual(back.preprocessing, { size: [32, 32], fit: 'bilinear', pixels: 'symmetric' });

    const bare = join(dir, 'tiny-bare.safetensors');
    const none = await run('convert', TINY_WEIGHTS, bare, '--resolution', '32');
    assert.equal(none.code, 0, none.err);
    assert.match(none.err, /stores no preprocessing \(.*tiny-bare\.safetensors stores none either; set with --preprocess/);
    const plain = decodeModelFile(await readFile(bare));
    assert.equal(plain.preprocessing, undefined);
    assert.equal(plain.classNames, undefined);
  });
});

describe('few classes', () => {
  let model = '';
  let data = '';
  before(async () => {
    model = join(dir, 'three.safetensors');
    const net = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 3, inputChannels: 1, seed: 3 });
    await writeFile(model, encodeModelFile(net, { classNames: ['apple', 'banana', 'cherry'], preprocessing: { size: [32, 32], pixels: 'unit' } }));
    // two images per class in an image folder
    data = join(dir, 'three-data');
    const samples = ['0000-ankle-boot.png', '0001-pullover.png', '0002-trouser.png', '0004-shirt.png', '0006-coat.png', '0000-ankle-boot.png'];
    for (const [i, name] of ['apple', 'banana', 'cherry'].entries()) {
      await mkdir(join(data, 'test', name), { recursive: true });
      for (const j of [0, 1]) await copyFile(join(SAMPLES, samples[2 * i + j]), join(data, 'test', name, `${j}.png`));
    }
  });

  it('classify prints at most the model\'s classes', async () => {
    const r = await run('classify', '--model', model, join(SAMPLES, '0001-pullover.png'));
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split('\n').slice(1);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((l) => l.trim().split(/\s+/)[1]).sort(), ['apple', 'banana', 'cherry']);
  });

  it('eval shows no top-5 and names the classes in its table', async () => {
    const r = await run('eval', '--model', model, '--data', data);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /top-5/);
    for (const [i, name] of ['apple', 'banana', 'cherry'].entries()) {
      const row = new RegExp(`^ ${i} ${name} +(\\d+) +(\\d+) +(\\d+) `, 'm').exec(r.out);
      assert.ok(row, r.out);
      assert.equal(Number(row[1]) + Number(row[2]) + Number(row[3]), 2); // two images of each class
    }
    const json = JSON.parse((await run('eval', '--model', model, '--data', data, '--json')).out) as { top5: number | null };
    assert.equal(json.top5, null);
  });
});

describe('demo', () => {
  it('times the engine users run, and does not claim to be npm start', async () => {
    const r = await run('demo', '--batch', '1');
    assert.equal(r.code, 0, r.err);
    const engine = WasmEngine.supported() ? 'wasm' : 'reference';
    assert.match(r.out, new RegExp(`^batch of 1 on the ${engine} engine: \\d+ ms`, 'm'));
    assert.doesNotMatch((await run('demo', '--help')).out + (await run('--help')).out.split('\n').find((l) => l.startsWith('  demo')), /npm start/);
  });
});
