// PyTorch .pth: fixtures from CPython's pickler with torch-shaped stubs (fixtures/pth/make_pth_fixtures.py: strided
// views, offsets, every dtype, nested checkpoints), malicious pickles refused, our writer's state dicts read back.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { zipSync } from 'fflate';
import { FormatError, WeightsError } from '../../src/errors.js';
import { UnsafePickleError } from '../../src/io/pth/pickle.js';
import { decodeTorchStateDict, encodeTorchStateDict, loadTorchCheckpoint, readTorchPickle } from '../../src/io/pth/torch-checkpoint.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../support/helpers.js';
import { randomInput } from '../support/tfjs-reference.js';

const PTH = join(FIXTURES, 'pth');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(PTH, name)));
const expected = JSON.parse(readFileSync(join(PTH, 'expected.json'), 'utf8')) as Record<string, Record<string, { shape: number[]; values: number[] }>>;

function assertMatches(tensors: Map<string, Tensor>, want: Record<string, { shape: number[]; values: number[] }>): void {
  assert.deepEqual([...tensors.keys()], Object.keys(want));
  for (const [name, { shape, values }] of Object.entries(want)) {
    const t = tensors.get(name)!;
    assert.deepEqual([...t.shape], shape, name);
    assert.deepEqual([...t.data], values.map(Math.fround), name);
  }
}

/** A torch.save-shaped zip around a hand-written pickle, zipped by fflate (not by our writer). */
function pthWith(pickle: number[] | Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = { 'archive/data.pkl': Uint8Array.from(pickle), 'archive/byteorder': new TextEncoder().encode('little') };
  for (const [key, data] of Object.entries(storages)) files[`archive/data/${key}`] = data;
  return zipSync(files, { level: 0 });
}

const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];
const unicode = (s: string): number[] => [0x58, s.length, 0, 0, 0, ...ascii(s)];

/** OrderedDict([('w', tensor(storage '0' FloatStorage numel, offset, size, stride))]) */
function tensorPickle(numel: number, offset: number, size: number[], stride: number[]): number[] {
  const tuple = (v: number[]): number[] => [0x28, ...v.flatMap((d) => [0x4b, d]), 0x74];
  return [
    0x80, 0x02, 0x63, ...ascii('collections\nOrderedDict\n'), 0x29, 0x52, 0x28, ...unicode('w'),
    0x63, ...ascii('torch._utils\n_rebuild_tensor_v2\n'), 0x28,
    0x28, ...unicode('storage'), 0x63, ...ascii('torch\nFloatStorage\n'), ...unicode('0'), ...unicode('cpu'), 0x4b, numel, 0x74, 0x51,
    0x4b, offset, ...tuple(size), ...tuple(stride), 0x89, 0x63, ...ascii('collections\nOrderedDict\n'), 0x29, 0x52, 0x74, 0x52,
    0x75, 0x2e,
  ];
}

describe('PyTorch .pth', () => {
  test('a state dict: strided and offset views, shared storages, float16, bfloat16, float64 and int64, in file order', () => {
    assertMatches(decodeTorchStateDict(fixture('state_dict.pth')), expected.state_dict);
  });

  test('protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE) under another archive name reads the same', () => {
    assertMatches(decodeTorchStateDict(fixture('state_dict_protocol4.pth')), expected.state_dict);
  });

  test('a training checkpoint: the state dict is found under state_dict, the other values read as plain data', () => {
    assertMatches(decodeTorchStateDict(fixture('checkpoint.pth')), expected.state_dict);
    const root = readTorchPickle(fixture('checkpoint.pth')) as Map<string, unknown>;
    assert.equal(root.get('epoch'), 3);
    assert.equal(root.get('best_acc1'), 0.75);
    assert.equal(root.get('arch'), 'mobilenet_v2');
    assert.equal(root.get('big'), 2 ** 40);
    assert.deepEqual(root.get('flags'), [true, null, [1, 2]]);
  });

  test('big-endian storages', () => {
    assertMatches(decodeTorchStateDict(fixture('big_endian.pth')), expected.big_endian);
  });

  test('pickles that name anything but the allowed globals, or use other opcodes, are refused without running', () => {
    assert.throws(() => readTorchPickle(fixture('evil_system.pth')), (e: Error) => e instanceof UnsafePickleError && e.global === 'posix.system' && /global posix\.system, which is not allowed/.test(e.message));
    assert.throws(() => readTorchPickle(fixture('evil_eval_protocol4.pth')), (e: Error) => e instanceof UnsafePickleError && e.global === 'builtins.eval');
    assert.throws(() => readTorchPickle(fixture('evil_inst.pth')), (e: Error) => e instanceof FormatError && /opcode 0x53 \(STRING\) is not supported/.test(e.message));
    assert.throws(() => readTorchPickle(pthWith([0x80, 0x02, 0x28, 0x69, ...ascii('os\nsystem\n'), 0x2e])), /opcode 0x69 \(INST\) is not supported/);
    assert.throws(() => readTorchPickle(fixture('evil_reduce_type.pth')), (e: Error) => e instanceof FormatError && /torch\.FloatStorage cannot be called/.test(e.message));
    assert.throws(() => readTorchPickle(pthWith([0x80, 0x02, 0xff, 0x2e])), /opcode 0xff \(unknown\)/);
    assert.throws(() => readTorchPickle(pthWith([0x80, 0x02, 0x63, ...ascii('subprocess\nPopen\n'), 0x2e])), (e: Error) => e instanceof UnsafePickleError && e.global === 'subprocess.Popen');
  });

  test('lying shapes, truncation and corruption give typed errors', () => {
    const storage = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    assert.deepEqual([...decodeTorchStateDict(pthWith(tensorPickle(3, 0, [3], [1]), { 0: storage })).get('w')!.data], [1, 2, 3]);
    assert.throws(() => decodeTorchStateDict(pthWith(tensorPickle(3, 1, [3], [1]), { 0: storage })), /reaches element 3 of storage 0, which has 3/);
    assert.throws(() => decodeTorchStateDict(pthWith(tensorPickle(3, 0, [2, 2], [2, 1]), { 0: storage })), /reaches element 3/);
    assert.throws(() => decodeTorchStateDict(pthWith(tensorPickle(200, 0, [3], [1]), { 0: storage })), /holds 12 bytes, FloatStorage × 200 needs 800/);
    assert.throws(() => decodeTorchStateDict(pthWith(tensorPickle(3, 0, [3], [1]))), /archive has no entry archive\/data\/0/);
    const good = fixture('state_dict.pth');
    assert.throws(() => decodeTorchStateDict(good.subarray(0, good.length - 30)), FormatError);
    const corrupt = good.slice();
    corrupt[200] ^= 0xff;
    assert.throws(() => decodeTorchStateDict(corrupt), (e: Error) => e instanceof FormatError);
    assert.throws(() => decodeTorchStateDict(pthWith(tensorPickle(3, 0, [3], [1]).slice(0, 60), { 0: storage })), /truncated/);
    assert.throws(() => decodeTorchStateDict(new Uint8Array([0x80, 0x02, 0x8a, 0x0a])), /legacy/);
    assert.throws(() => decodeTorchStateDict(new TextEncoder().encode('hello world, not a zip file at all')), FormatError);
  });

  test('our torch.save writer: a torchvision MobileNetV2 state dict loads back bit for bit', () => {
    const source = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 1 });
    const bytes = encodeTorchStateDict(torchStateDict(source), 'mobilenet_v2');
    const state = decodeTorchStateDict(bytes);
    assert.deepEqual([...state.keys()], [...torchStateDict(source).keys()]);
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10, seed: 2 });
    loadTorchCheckpoint(model, bytes);
    for (const [name, t] of source.weights()) assert.deepEqual(model.weights().get(name)!.data, t.data, name);
    const x = randomInput([1, 32, 32, 3], 3);
    assert.deepEqual(model.predict(x).data, source.predict(x).data);
    // names that do not fit the model are a WeightsError from loadTorchStateDict
    assert.throws(() => loadTorchCheckpoint(mobilenetV2({ alpha: 0.5, resolution: 32, classes: 10 }), bytes), WeightsError);
  });
});
