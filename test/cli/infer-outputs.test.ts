// `mobilenet infer` on a model with several outputs: one NAME.npy per output in the --output folder, each equal to
// the op-by-op reference of the model saved (NCHW in, the rank-4 tap NCHW out); a .npy path is refused by name.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { toLayout } from '../../src/tensor/tensor.js';
import { assertClose, randomBatch, runCli } from '../support/helpers.js';
import { SSD_LIKE_INPUT, referenceOutputs, ssdLike } from '../support/ssd-like.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-infer-outputs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mobilenet infer --output DIR', () => {
  it('writes scores.npy, boxes.npy and tap.npy, each equal to the reference', async () => {
    const model = ssdLike();
    const x = randomBatch([2, ...SSD_LIKE_INPUT], 7);
    const expected = referenceOutputs(model, x);
    await writeFile(join(dir, 'ssd.safetensors'), encodeModelFile(model));
    await writeFile(join(dir, 'x.npy'), encodeNpy(toLayout(x, 'NHWC', 'NCHW')));
    const out = join(dir, 'outputs');
    const r = await runCli('infer', '--model', join(dir, 'ssd.safetensors'), '--input', join(dir, 'x.npy'), '--output', out);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual((await readdir(out)).sort(), ['boxes.npy', 'scores.npy', 'tap.npy']);
    for (const name of ['scores', 'boxes']) assertClose(decodeNpy(await readFile(join(out, `${name}.npy`))), expected[name], 1e-5, name);
    assertClose(decodeNpy(await readFile(join(out, 'tap.npy'))), toLayout(expected.tap, 'NHWC', 'NCHW'), 1e-5, 'tap (NCHW, as the input)');
    const refused = await runCli('infer', '--model', join(dir, 'ssd.safetensors'), '--input', join(dir, 'x.npy'), '--output', join(dir, 'y.npy'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /3 outputs \(scores, boxes, tap\): --output takes a folder/);
  });
});
