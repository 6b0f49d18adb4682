// Path safety beyond the per-format tests: ONNX external data and TF.js shards reached through symlinked
// folders, device files and oversized files are refused with typed errors; malicious .pth pickles (os.system,
// eval, exec, __import__, REDUCE of any callable, BUILD) are refused and never run; a failed write names its target.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';

import { FormatError } from '../../src/errors.js';
import { ExternalDataError } from '../../src/io/onnx/errors.js';
import { onnxWithExternalWeights } from '../support/onnx-external.js';
import { UnsafePickleError } from '../../src/io/pth/pickle.js';
import { decodeTorchStateDict } from '../../src/io/pth/torch-checkpoint.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { FileError, writeFileAtomic } from '../../src/node/files.js';
import { readOnnxFile } from '../../src/node/onnx-files.js';
import { readTfjsModelFiles, writeTfjsModel } from '../../src/node/tfjs-files.js';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mobilenet-paths-'));
});
after(async () => rm(root, { recursive: true, force: true }));

describe('ONNX external data stays in the model folder', () => {
  it('refuses a location through a symlinked folder that leads outside, a device file and an oversized file', async () => {
    const folder = join(root, 'onnx');
    const outsideDir = join(root, 'onnx-outside');
    await mkdir(folder, { recursive: true });
    await mkdir(outsideDir, { recursive: true });
    const weights = new Uint8Array(new Float32Array([3, -2]).buffer);
    await writeFile(join(outsideDir, 'w.bin'), weights);
    await writeFile(join(folder, 'w.bin'), weights);
    await symlink(outsideDir, join(folder, 'data'));
    await symlink('/dev/zero', join(folder, 'zero.bin'));
    const model = async (name: string, location: string): Promise<string> => {
      await writeFile(join(folder, name), onnxWithExternalWeights(location));
      return join(folder, name);
    };
    assert.ok((await readOnnxFile(await model('ok.onnx', 'w.bin'))).model);
    await assert.rejects(readOnnxFile(await model('dir-link.onnx', 'data/w.bin')), (e: unknown) => e instanceof ExternalDataError && /outside the model's folder/.test((e as Error).message));
    await assert.rejects(readOnnxFile(await model('zero.onnx', 'zero.bin')), (e: unknown) => e instanceof ExternalDataError && /outside the model's folder/.test((e as Error).message));
    await assert.rejects(readOnnxFile(await model('dots.onnx', 'w.bin/../../onnx-outside/w.bin')), ExternalDataError);
    // 64 MiB (sparse) for a tensor of 8 bytes: not read into memory
    await writeFile(join(folder, 'huge.bin'), weights);
    await truncate(join(folder, 'huge.bin'), 64 * 1024 * 1024);
    await assert.rejects(readOnnxFile(await model('huge.onnx', 'huge.bin')), (e: unknown) => e instanceof ExternalDataError && /more than its tensors can use/.test((e as Error).message));
  });
});

describe('TF.js shards stay in the model folder', () => {
  it('refuses a shard through a symlinked folder that leads outside and a device file', async () => {
    const folder = join(root, 'tfjs');
    await writeTfjsModel(join(folder, 'model.json'), mobilenetV1({ alpha: 0.25, resolution: 32, classes: 3, seed: 1 }), { shardBytes: 1 << 30 });
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    const shard = json.weightsManifest[0]!.paths[0]!;
    const outsideDir = join(root, 'tfjs-outside');
    await mkdir(outsideDir);
    await writeFile(join(outsideDir, shard), await readFile(join(folder, shard)));
    await symlink(outsideDir, join(folder, 'sub'));
    await symlink('/dev/zero', join(folder, 'zero.bin'));
    for (const [path, message] of [
      [`sub/${shard}`, /outside the model's folder/],
      ['zero.bin', /outside the model's folder/],
      [`sub/../${shard}`, /climbs out/],
    ] as const) {
      const evil = structuredClone(json);
      evil.weightsManifest[0]!.paths[0] = path;
      await writeFile(join(folder, 'evil.json'), JSON.stringify(evil));
      await assert.rejects(readTfjsModelFiles(join(folder, 'evil.json')), (e: unknown) => e instanceof FormatError && message.test((e as Error).message), path);
    }
  });
});

// -------------------------------------------------------------------------------------------------
// Pickles: opcodes written by hand, as an attacker would.

const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];
const PROTO2 = [0x80, 0x02];
const STOP = 0x2e;
/** BINUNICODE: a 4-byte little-endian length, then UTF-8. */
const str = (s: string): number[] => [0x58, s.length, 0, 0, 0, ...ascii(s)];
const GLOBAL = (module: string, name: string): number[] => [0x63, ...ascii(`${module}\n${name}\n`)];
const TUPLE1 = 0x85;
const REDUCE = 0x52;
const STACK_GLOBAL = 0x93;
const BUILD = 0x62;
const EMPTY_DICT = 0x7d;

const command = (): string => 'touch /tmp/mobilenet-pwned';

function pth(pickle: number[]): Uint8Array {
  return zipSync({ 'archive/data.pkl': Uint8Array.from(pickle), 'archive/byteorder': new TextEncoder().encode('little') }, { level: 0 });
}

describe('.pth unpickling never runs anything', () => {
  it('refuses globals outside the state-dict allow-list, however they are named, and runs none of them', async () => {
    const canary = join(root, 'pwned');
    const command = `touch ${canary}`;
    const attacks: [string, number[], string][] = [
      ['GLOBAL os.system + REDUCE', [...PROTO2, ...GLOBAL('os', 'system'), ...str(command), TUPLE1, REDUCE, STOP], 'os.system'],
      ['GLOBAL posix.system', [...PROTO2, ...GLOBAL('posix', 'system'), ...str(command), TUPLE1, REDUCE, STOP], 'posix.system'],
      ['STACK_GLOBAL os.system', [0x80, 0x04, ...str('os'), ...str('system'), STACK_GLOBAL, ...str(command), TUPLE1, REDUCE, STOP], 'os.system'],
      ['builtins.eval', [...PROTO2, ...GLOBAL('builtins', 'eval'), ...str(`__import__('os').system('${command}')`), TUPLE1, REDUCE, STOP], 'builtins.eval'],
      ['builtins.exec', [...PROTO2, ...GLOBAL('builtins', 'exec'), ...str('import os'), TUPLE1, REDUCE, STOP], 'builtins.exec'],
      ['__builtin__.__import__', [...PROTO2, ...GLOBAL('__builtin__', '__import__'), ...str('os'), TUPLE1, REDUCE, STOP], '__builtin__.__import__'],
      ['builtins.getattr', [...PROTO2, ...GLOBAL('builtins', 'getattr'), STOP], 'builtins.getattr'],
      ['torch.load (pickle within a pickle)', [...PROTO2, ...GLOBAL('torch', 'load'), STOP], 'torch.load'],
      ['torch.storage._load_from_bytes', [...PROTO2, ...GLOBAL('torch.storage', '_load_from_bytes'), STOP], 'torch.storage._load_from_bytes'],
      ['an allowed module, another name', [...PROTO2, ...GLOBAL('collections', 'namedtuple'), STOP], 'collections.namedtuple'],
      ['a lookalike module', [...PROTO2, ...GLOBAL('torch._utils._rebuild_tensor_v2', 'system'), STOP], 'torch._utils._rebuild_tensor_v2.system'],
    ];
    for (const [name, pickle, global] of attacks) {
      assert.throws(() => decodeTorchStateDict(pth(pickle)), (e: unknown) => e instanceof UnsafePickleError && e.global === global, name);
    }
    assert.equal(existsSync(canary), false, 'nothing was executed');
  });

  it('allowed globals are data, not callables: REDUCE with hostile arguments is a FormatError, BUILD state is dropped', () => {
    const reduceRebuild = [...PROTO2, ...GLOBAL('torch._utils', '_rebuild_tensor_v2'), ...str('not a storage'), TUPLE1, REDUCE, STOP];
    assert.throws(() => decodeTorchStateDict(pth(reduceRebuild)), FormatError);
    // set-state would call __setstate__ in Python; here the state is dropped and the dict stays empty
    const buildState = [...PROTO2, ...GLOBAL('collections', 'OrderedDict'), 0x29, REDUCE, EMPTY_DICT, ...str('__setstate__'), ...str(command()), 0x73, BUILD, STOP];
    assert.throws(() => decodeTorchStateDict(pth(buildState)), (e: unknown) => e instanceof FormatError && /no tensors/.test((e as Error).message));
    const callStorage = [...PROTO2, ...GLOBAL('torch', 'FloatStorage'), ...str('x'), TUPLE1, REDUCE, STOP];
    assert.throws(() => decodeTorchStateDict(pth(callStorage)), FormatError);
  });
});

describe('a failed write names the file asked for', () => {
  it('not the temporary file it writes first', async () => {
    const target = join(root, 'no-such-folder', 'model.onnx');
    await assert.rejects(writeFileAtomic(target, new Uint8Array(4)), (e: unknown) => {
      assert.ok(e instanceof FileError);
      assert.equal(e.path, target);
      assert.equal(e.message, `cannot write ${target}: ENOENT: no such file or directory (does the folder ${join(root, 'no-such-folder')} exist?)`);
      return true;
    });
    // a folder where the file should be: the rename fails, and the message names the target alone
    await mkdir(join(root, 'taken'), { recursive: true });
    await assert.rejects(writeFileAtomic(join(root, 'taken'), new Uint8Array(4)), (e: unknown) => e instanceof FileError && e.message.startsWith(`cannot write ${join(root, 'taken')}: `) && !/\.tmp/.test(e.message));
  });
});
