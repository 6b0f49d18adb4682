// TF.js weights manifests as model files: told from other JSON, and every manifest that is not face-api's
// SSD-MobileNetV1 (or lacks its .bin, or whose .bin is short) refused with a typed error naming the file.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { decodeAnyModel, detectModelFormat } from '../../src/io/any-model.js';
import { FileError } from '../../src/node/files.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import { faceApiModelFolder } from '../support/faceapi.js';

/** A manifest of one float32 weight per name, all in `w.bin`. */
function manifest(names: string[]): string {
  return JSON.stringify([{ paths: ['w.bin'], weights: names.map((name) => ({ name, shape: [2], dtype: 'float32' })) }]);
}

/** The names that tell face-api's SSD manifest (src/io/faceapi/ssd-mobilenetv1.ts). */
const FACEAPI_NAMES = ['Output/extra_dim', 'MobilenetV1/Conv2d_13_pointwise/weights', 'Prediction/BoxPredictor_5/ClassPredictor/weights'];

describe('TF.js weights manifests as models', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faceapi-manifest-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a JSON list is a weights manifest ('tfjs-weights'), a JSON object a model.json ('tfjs')", () => {
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    assert.equal(detectModelFormat(bytes(manifest(['a'])), 'x-weights_manifest.json'), 'tfjs-weights');
    assert.equal(detectModelFormat(bytes('\n  [ {"paths": []} ]'), 'manifest'), 'tfjs-weights');
    assert.equal(detectModelFormat(bytes('{"modelTopology": {}}'), 'model.json'), 'tfjs');
  });

  test("another manifest is a FormatError saying only face-api's SSD-MobileNetV1 is recognised", async () => {
    const path = join(dir, 'other-weights_manifest.json');
    await writeFile(path, manifest(['dense/kernel']));
    await writeFile(join(dir, 'w.bin'), new Uint8Array(8));
    await assert.rejects(loadAnyModel(path), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${path}: a TF.js weights manifest without a model topology, and not face-api's SSD-MobileNetV1`));
  });

  test("face-api's other detector (tiny_face_detector) is refused the same way", { skip: faceApiModelFolder() ? false : 'face-api is not installed' }, async () => {
    const path = join(faceApiModelFolder()!, 'tiny_face_detector_model-weights_manifest.json');
    await assert.rejects(loadAnyModel(path), (e: unknown) => e instanceof FormatError && /not face-api's SSD-MobileNetV1 \(it lacks Output\/extra_dim/.test(e.message));
  });

  test('a manifest that is not a list of groups, or not JSON, is a FormatError naming the file', async () => {
    const source = 'bad-weights_manifest.json';
    const decode = (text: string): Promise<unknown> => decodeAnyModel({ bytes: new TextEncoder().encode(text), source });
    await assert.rejects(decode('[{"weights": []}]'), (e: unknown) => e instanceof FormatError && e.message.includes(`${source}: weightsManifest group 0 must have paths and weights lists`));
    await assert.rejects(decode('[{"paths": ["w.bin"], "weights": [}'), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${source}: not valid JSON`));
  });

  test("face-api's names without their .bin: the core asks for it by name, Node's loader names the missing file", async () => {
    const text = manifest(FACEAPI_NAMES);
    await assert.rejects(decodeAnyModel({ bytes: new TextEncoder().encode(text), source: 'm.json' }), (e: unknown) => e instanceof FormatError && e.message === 'm.json: weights file "w.bin" was not given (give the .bin beside the manifest)');
    const folder = await mkdtemp(join(dir, 'no-bin-'));
    await writeFile(join(folder, 'm.json'), text);
    await assert.rejects(loadAnyModel(join(folder, 'm.json')), (e: unknown) => e instanceof FileError && e.message.includes(join(folder, 'w.bin')));
  });

  test('a .bin shorter than the manifest says is a FormatError with both sizes', async () => {
    const bytes = new TextEncoder().encode(manifest(FACEAPI_NAMES));
    const companion = async (): Promise<Uint8Array> => new Uint8Array(10);
    await assert.rejects(decodeAnyModel({ bytes, source: 'm.json', companion }), (e: unknown) => e instanceof FormatError && e.message.includes('m.json: weight group 0 needs 24 bytes, its shards (w.bin) hold 10'));
  });
});
