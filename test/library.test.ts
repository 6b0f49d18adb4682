// The public entry point: the README's library example runs as written, and nothing in the core
// imports a Node built-in (so it bundles for browsers unchanged).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from '../src/index.js';
import { GOLDEN, assertClose } from './helpers.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

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
});
