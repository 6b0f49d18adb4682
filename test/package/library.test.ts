// The public entry point: the README's library example runs as written, and nothing in the core
// imports a Node built-in (so it bundles for browsers unchanged).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from '../../src/index.js';
import { build, createLogger } from 'vite';
import type { Rolldown } from 'vite';
import { GOLDEN, assertClose, randomBatch } from '../support/helpers.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('library entry point', () => {
  it("the README's example: build, load torchvision weights, predict, read an intermediate", () => {
    const model = lib.mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    lib.loadTorchStateDict(model, lib.decodeSafetensors(readFileSync(join(GOLDEN, 'models/mnv2_035_32_c10/weights.safetensors'))).tensors);
    const batch = lib.decodeNpy(readFileSync(join(GOLDEN, 'models/mnv2_035_32_c10/input.npy')));
    const logits = model.predict(batch, { layout: 'NCHW' });
    assertClose(logits, lib.decodeNpy(readFileSync(join(GOLDEN, 'models/mnv2_035_32_c10/output.npy'))), 5e-5);
    const features = model.run(batch, ['block_13_expand_relu'], { layout: 'NCHW' });
    assert.deepEqual([...features.get('block_13_expand_relu')!.shape], [2, 192, 2, 2]);
    assert.match(lib.formatSummary(lib.modelCost(model)), /Multiply-adds: +1,196,592/);
  });

  it("the README's block example composes", () => {
    const x = lib.input([56, 56, 24]);
    let y = lib.invertedResidual(x, { outputChannels: 24, stride: 1, expansion: 6, name: 'block_a' });
    y = lib.bottleneckBlock(y, { expand: 144, squeeze: 24, name: 'seed' });
    const net = new lib.Model(x, y);
    assert.deepEqual([...net.outputShape], [56, 56, 24]);
  });

  it('core modules import no Node built-ins (only src/node and src/cli may)', () => {
    const offenders = sources(SRC)
      .filter((f) => !/[/\\](node|cli)[/\\]/.test(f))
      .filter((f) => /from ['"](node:|fs|path|os|url|crypto|util)['"/]/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    assert.deepEqual(offenders, []);
  });

  it('the heavy readers are async at the entry and give what the modules give: an ONNX round trip keeps the predictions', async () => {
    const model = lib.mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    const x = randomBatch([2, 32, 32, 3], 3);
    const bytes = lib.encodeOnnx(model);
    assert.ok(bytes instanceof Promise, 'encodeOnnx at the entry returns a Promise');
    const { model: back, inputLayout } = await lib.decodeOnnx(await bytes, { source: 'round-trip.onnx' });
    assert.equal(inputLayout, 'NCHW');
    assertClose(back.predict(x), model.predict(x), 1e-5, 'ONNX round trip');
  });

  it('the library bundle loads protobufjs, jsfive and the other heavy readers on first use, with no bundler warning', async () => {
    const warnings: string[] = [];
    const logger = createLogger('warn');
    logger.warn = (message) => void warnings.push(message);
    const outDir = join(SRC, '..', 'test-artifacts', 'lazy-readers-bundle');
    const config = join(SRC, '..', 'vite.config.ts');
    const result = (await build({ configFile: config, mode: 'lib', logLevel: 'warn', customLogger: logger, build: { outDir, emptyOutDir: true } })) as Rolldown.RolldownOutput;
    assert.deepEqual(warnings, []);
    const chunks = new Map(result.output.flatMap((o) => (o.type === 'chunk' ? [[o.fileName, o] as const] : [])));
    const atStart = new Set<string>();
    const visit = (file: string): void => {
      if (atStart.has(file)) return;
      atStart.add(file);
      for (const next of chunks.get(file)?.imports ?? []) visit(next);
    };
    visit('mobilenet.js');
    const loaded = [...atStart].flatMap((f) => chunks.get(f)?.moduleIds ?? []).map((id) => relative(join(SRC, '..'), id));
    for (const heavy of ['node_modules/protobufjs', 'src/io/keras-h5/h5.ts', 'src/io/keras-h5/jsfive', 'src/io/onnx/import.ts', 'src/io/pth/torch-checkpoint.ts', 'src/io/tfjs/graph-model.ts', 'src/io/keras-h5/keras-archive.ts']) {
      assert.ok(!loaded.some((id) => id.startsWith(heavy)), `${heavy} is loaded at start`);
      assert.ok(result.output.some((o) => o.type === 'chunk' && o.moduleIds.some((id) => relative(join(SRC, '..'), id).startsWith(heavy))), `${heavy} is in no chunk`);
    }
  });
});
