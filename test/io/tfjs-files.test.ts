// The Node edge of TF.js models: model.json + shards written and read back, and shard paths that would
// leave the model's folder (absolute, `..`, URLs, symlinks pointing out) refused before anything is read.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { readTfjsModel, readTfjsModelFiles, writeTfjsModel } from '../../src/node/tfjs-files.js';
import { Tensor } from '../../src/tensor/tensor.js';

describe('TF.js model files', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tfjs-files-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('writes model.json and shards, reads them back bit for bit', async () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 32, classes: 3, convention: 'keras', seed: 2 });
    const written = await writeTfjsModel(join(root, 'v1', 'model.json'), model, { shardBytes: 50_000 });
    assert.ok(written.length > 2);
    assert.match(written[0], /group1-shard1of\d+\.bin$/);
    const back = (await readTfjsModel(join(root, 'v1', 'model.json'))).model;
    for (const [name, t] of model.weights()) assert.deepEqual(back.weights().get(name)!.data, t.data, name);
    const x = new Tensor([1, 32, 32, 3], new Float32Array(32 * 32 * 3).fill(0.5));
    assert.deepEqual(back.predict(x).data, model.predict(x).data);
  });

  test('shard paths outside the folder are refused', async () => {
    const folder = join(root, 'v1');
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
    await writeFile(join(root, 'outside.bin'), new Uint8Array(16));
    for (const path of ['../outside.bin', '/etc/passwd', 'a/../../outside.bin', 'C:/x.bin', 'https://example.com/x.bin', 'a\\..\\x.bin', './x.bin', '']) {
      const evil = structuredClone(json);
      evil.weightsManifest[0].paths[0] = path;
      await writeFile(join(folder, 'evil.json'), JSON.stringify(evil));
      await assert.rejects(readTfjsModelFiles(join(folder, 'evil.json')), (e: Error) => e instanceof FormatError && /must lie in the model's folder/.test(e.message), path);
    }
    await symlink(join(root, 'outside.bin'), join(folder, 'link.bin'));
    const linked = structuredClone(json);
    linked.weightsManifest[0].paths[0] = 'link.bin';
    await writeFile(join(folder, 'linked.json'), JSON.stringify(linked));
    await assert.rejects(readTfjsModelFiles(join(folder, 'linked.json')), (e: Error) => e instanceof FormatError && /outside the model's folder/.test(e.message));
  });

  test('a symlink that stays inside the folder is fine', async () => {
    const folder = join(root, 'v1');
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
    const first = json.weightsManifest[0].paths[0];
    await symlink(join(folder, first), join(folder, 'alias.bin'));
    json.weightsManifest[0].paths[0] = 'alias.bin';
    await writeFile(join(folder, 'alias.json'), JSON.stringify(json));
    const files = await readTfjsModelFiles(join(folder, 'alias.json'));
    assert.deepEqual(files.shards.get('alias.bin'), new Uint8Array(await readFile(join(folder, first))));
  });
});
