// `mobilenet convert`, `infer` and `inspect` across formats: the golden torchvision weights converted to our model
// file, ONNX and TF.js all reproduce PyTorch's logits; inspect counts torchvision's MACs; unknown files are named.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../../src/io/npy.js';
import { UnknownFormatError, loadAnyModel } from '../../src/node/any-model.js';
import { GOLDEN, assertClose, runCli } from '../support/helpers.js';

const run = runCli;

const TINY = join(GOLDEN, 'models/mnv2_035_32_c10');
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-formats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mobilenet convert → infer', () => {
  const targets: [string, string, string][] = [
    ['our model file', 'tiny.safetensors', 'model-file'],
    ['ONNX', 'tiny.onnx', 'onnx'],
    ['TF.js (folder)', 'tiny-tfjs', 'tfjs'],
    ['plain torchvision safetensors', 'tiny-plain.safetensors', 'safetensors'],
  ];
  for (const [what, name, format] of targets) {
    it(`${what}: converted golden weights reproduce PyTorch's logits`, async () => {
      const out = join(dir, name);
      const args = ['convert', join(TINY, 'weights.safetensors'), out, '--resolution', '32'];
      if (format === 'safetensors') args.push('--format', 'safetensors');
      const c = await run(...args);
      assert.equal(c.code, 0, c.err);
      assert.match(c.err, /inferred from the weight shapes: α = 0\.35.*classes = 10/);
      assert.match(c.out, new RegExp(`\\(${format}\\)`));
      const y = join(dir, `${name}.y.npy`);
      const r = await run('infer', '--model', out, '--input', join(TINY, 'input.npy'), '--output', y);
      assert.equal(r.code, 0, r.err);
      assertClose(decodeNpy(await readFile(y)), decodeNpy(await readFile(join(TINY, 'output.npy'))), 1e-4, `${what} logits`);
      assert.equal((await loadAnyModel(out)).format, format);
    });
  }

  it('the golden ONNX file itself runs through infer', async () => {
    const y = join(dir, 'onnx-golden.y.npy');
    const r = await run('infer', '--model', join(TINY, 'model.onnx'), '--input', join(TINY, 'input.npy'), '--output', y);
    assert.equal(r.code, 0, r.err);
    assertClose(decodeNpy(await readFile(y)), decodeNpy(await readFile(join(TINY, 'output.npy'))), 1e-4, 'onnx logits');
  });
});

describe('mobilenet inspect', () => {
  it('--json on the golden model.onnx gives torchvision\'s MAC count (counts.json)', async () => {
    const counts = JSON.parse(await readFile(join(TINY, 'counts.json'), 'utf8')) as { macs_total: number };
    assert.equal(counts.macs_total, 1_196_592);
    const r = await run('inspect', join(TINY, 'model.onnx'), '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.format, 'onnx');
    assert.equal(j.macs, counts.macs_total);
    assert.deepEqual(j.outputShape, [10]);
    assert.equal(typeof j.metadata.opsetVersion, 'number');
    assert.ok(j.layers.length > 50);
  });

  it('prints a table for weights-only files, with the format', async () => {
    const r = await run('inspect', join(TINY, 'weights.safetensors'), '--resolution', '32');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /format: safetensors/);
    assert.match(r.out, /Multiply-adds: +1,196,592 per image/);
  });
});

describe('unknown formats', () => {
  it('a typed error that shows the first bytes', async () => {
    const path = join(dir, 'mystery.bin');
    await writeFile(path, new TextEncoder().encode('GIF89a not a model'));
    await assert.rejects(loadAnyModel(path), (e: unknown) => e instanceof UnknownFormatError && /unknown model format: first bytes 47 49 46 38 39 61/.test(e.message) && /GIF89a/.test(e.message));
    const r = await run('inspect', path);
    assert.equal(r.code, 2);
    assert.match(r.err, /UnknownFormatError: .*mystery\.bin: unknown model format: first bytes 47 49 46/);
  });

  it('convert refuses a wrong number of paths and an unknown --format', async () => {
    assert.match((await run('convert', 'a.onnx')).err, /give an input and an output path/);
    assert.match((await run('convert', 'a.onnx', 'b.x', '--format', 'gif')).err, /--format must be one of/);
  });

  it('--help lists convert and inspect', async () => {
    const r = await run('--help');
    for (const c of ['convert', 'inspect']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  });
});
