// timm state-dict names (mobilenetv2_* and mobilenetv1_*): the exact key list timm's EfficientNet builder makes, written
// out here from its arch_def, and the same weights under timm's and torchvision's (or our) names giving identical outputs.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WeightsError } from '../../src/errors.js';
import { detectNaming, loadWeights } from '../../src/io/named-weights.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { oursToTimmV1, torchvisionToTimmV2 } from '../../src/io/timm-names.js';
import { torchStateDict } from '../../src/io/torch-names.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import { Tensor, transpose } from '../../src/tensor/tensor.js';
import { randomBatch, randomiseBatchNorm, runCli } from '../support/helpers.js';
import { decodeTorchStateDict } from '../../src/io/pth/torch-checkpoint.js';

const BN = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'];

/**
 * timm's `mobilenetv2_100` state-dict keys, from `_gen_mobilenet_v2` (timm/models/efficientnet.py): arch_def
 * ds_r1 then ir_r2, ir_r3, ir_r4, ir_r3, ir_r3, ir_r1; DepthwiseSeparableConv = conv_dw, bn1, conv_pw, bn2;
 * InvertedResidual = conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3 (timm/models/_efficientnet_blocks.py); head conv_head, bn2, classifier.
 */
function timmV2Keys(): string[] {
  const keys = ['conv_stem.weight', ...BN.map((p) => `bn1.${p}`)];
  const module = (prefix: string, conv: string, bn: string): string[] => [`${prefix}.${conv}.weight`, ...BN.map((p) => `${prefix}.${bn}.${p}`)];
  keys.push(...module('blocks.0.0', 'conv_dw', 'bn1'), ...module('blocks.0.0', 'conv_pw', 'bn2'));
  [2, 3, 4, 3, 3, 1].forEach((repeats, s) => {
    for (let j = 0; j < repeats; j++) {
      const prefix = `blocks.${s + 1}.${j}`;
      keys.push(...module(prefix, 'conv_pw', 'bn1'), ...module(prefix, 'conv_dw', 'bn2'), ...module(prefix, 'conv_pwl', 'bn3'));
    }
  });
  keys.push('conv_head.weight', ...BN.map((p) => `bn2.${p}`), 'classifier.weight', 'classifier.bias');
  return keys;
}

/** torchvision MobileNetV2 name → timm name, written out by hand: features.k is the k-th block in timm's stage order. */
function torchvisionToTimmByHand(name: string): string {
  const blocks: string[] = ['blocks.0.0'];
  [2, 3, 4, 3, 3, 1].forEach((repeats, s) => {
    for (let j = 0; j < repeats; j++) blocks.push(`blocks.${s + 1}.${j}`);
  });
  const rename: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^features\.0\.0\.(.+)$/, (m) => `conv_stem.${m[1]}`],
    [/^features\.0\.1\.(.+)$/, (m) => `bn1.${m[1]}`],
    [/^features\.1\.conv\.0\.0\.(.+)$/, (m) => `blocks.0.0.conv_dw.${m[1]}`],
    [/^features\.1\.conv\.0\.1\.(.+)$/, (m) => `blocks.0.0.bn1.${m[1]}`],
    [/^features\.1\.conv\.1\.(.+)$/, (m) => `blocks.0.0.conv_pw.${m[1]}`],
    [/^features\.1\.conv\.2\.(.+)$/, (m) => `blocks.0.0.bn2.${m[1]}`],
    [/^features\.(\d+)\.conv\.0\.0\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.conv_pw.${m[2]}`],
    [/^features\.(\d+)\.conv\.0\.1\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.bn1.${m[2]}`],
    [/^features\.(\d+)\.conv\.1\.0\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.conv_dw.${m[2]}`],
    [/^features\.(\d+)\.conv\.1\.1\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.bn2.${m[2]}`],
    [/^features\.(\d+)\.conv\.2\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.conv_pwl.${m[2]}`],
    [/^features\.(\d+)\.conv\.3\.(.+)$/, (m) => `${blocks[Number(m[1]) - 1]}.bn3.${m[2]}`],
    [/^features\.18\.0\.(.+)$/, (m) => `conv_head.${m[1]}`],
    [/^features\.18\.1\.(.+)$/, (m) => `bn2.${m[1]}`],
    [/^classifier\.1\.(.+)$/, (m) => `classifier.${m[1]}`],
  ];
  for (const [pattern, to] of rename) {
    const m = pattern.exec(name);
    if (m) return to(m);
  }
  throw new Error(`no timm name for ${name}`);
}

/** A timm state dict as torch.save writes it: every BN with its num_batches_tracked counter. */
function withCounters(state: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map(state);
  for (const name of state.keys()) if (name.endsWith('.running_var')) out.set(name.replace(/running_var$/, 'num_batches_tracked'), new Tensor([], Float32Array.of(100)));
  return out;
}

function sameBits(a: Tensor, b: Tensor): boolean {
  return a.size === b.size && a.data.every((v, i) => Object.is(v, b.data[i]));
}

function withTempFile<T>(name: string, bytes: Uint8Array, run: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'timm-'));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return run(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('timm MobileNetV2 names', () => {
  const options = { alpha: 0.35, resolution: 32, classes: 10, seed: 3 };
  const source = mobilenetV2(options);
  randomiseBatchNorm(source, 9);
  const torchvision = torchStateDict(source);
  const timm = withCounters(new Map([...torchvision].map(([k, t]) => [torchvisionToTimmByHand(k), t])));
  const x = randomBatch([2, 32, 32, 3], 4);

  test("the keys are exactly timm's mobilenetv2 key list; torchvisionToTimmV2 gives the hand-written mapping", () => {
    assert.deepEqual([...timm.keys()].sort(), timmV2Keys().sort());
    const ours = torchvisionToTimmV2(torchvision);
    assert.deepEqual([...ours.keys()].sort(), [...torchvision.keys()].map(torchvisionToTimmByHand).sort());
    for (const [name, t] of torchvision) assert.equal(ours.get(torchvisionToTimmByHand(name)), t, name);
  });

  test('the same weights under timm names load (auto-detected) and give bit-identical outputs', () => {
    assert.equal(detectNaming(timm.keys()), 'timm');
    const target = mobilenetV2({ ...options, seed: 99 });
    assert.equal(loadWeights(target, timm), 'timm');
    assert.ok(sameBits(target.predict(x), source.predict(x)));
  });

  test('loadAnyModel reads a timm safetensors file, inferring α and classes', async () => {
    await withTempFile('mobilenetv2_035.safetensors', encodeSafetensors(timm), async (path) => {
      const loaded = await loadAnyModel(path, { resolution: 32 });
      assert.equal(loaded.metadata.naming, 'timm');
      assert.ok(loaded.notes.some((n) => /timm MobileNetV2/.test(n)) && loaded.notes.some((n) => /α = 0.35/.test(n) && /classes = 10/.test(n)), loaded.notes.join('\n'));
      assert.ok(sameBits(loaded.model.predict(x), source.predict(x)));
    });
  });

  test('mobilenet convert --naming timm writes timm names; they read back to the same model', async () => {
    await withTempFile('model.safetensors', encodeSafetensors(torchvision), async (path) => {
      const out = path.replace(/model\.safetensors$/, 'timm.pt');
      const { code, err } = await runCli('convert', path, out, '--naming', 'timm', '--resolution', '32');
      assert.equal(code, 0, err);
      const written = decodeTorchStateDict(readFileSync(out));
      assert.deepEqual([...written.keys()].sort(), timmV2Keys().filter((k) => !k.endsWith('num_batches_tracked')).sort());
      const loaded = await loadAnyModel(out, { resolution: 32 });
      assert.ok(sameBits(loaded.model.predict(x), source.predict(x)));
      const refused = await runCli('convert', path, out.replace(/pt$/, 'onnx'), '--naming', 'timm');
      assert.equal(refused.code, 2);
      assert.match(refused.err, /timm names apply to plain weights files/);
    });
  });

  test('keys of other timm models (squeeze-excitation) and missing tensors are WeightsErrors that name them', () => {
    const se = new Map(timm);
    se.set('blocks.1.0.se.conv_reduce.weight', new Tensor([2, 16, 1, 1]));
    assert.throws(() => loadWeights(mobilenetV2(options), se), (e: unknown) => e instanceof WeightsError && /blocks\.1\.0\.se\.conv_reduce\.weight/.test(e.message));
    const missing = new Map(timm);
    missing.delete('blocks.3.2.conv_dw.weight');
    assert.throws(() => loadWeights(mobilenetV2(options), missing), (e: unknown) => e instanceof WeightsError && /missing 1/.test(e.message));
  });
});

describe('timm MobileNetV1 names', () => {
  test('a timm mobilenetv1 state dict (OIHW, Linear) loads by loadAnyModel and matches our model bit for bit; oursToTimmV1 writes it', async () => {
    const source = mobilenetV1({ convention: 'torchvision', alpha: 0.25, resolution: 32, classes: 7, seed: 5 });
    randomiseBatchNorm(source, 2);
    // timm's _gen_mobilenet_v1: dsa_r1, r2, r2, r6, r2 stages; DepthwiseSeparableConv = conv_dw, bn1, conv_pw, bn2; no head conv
    const blocks: string[] = [];
    [1, 2, 2, 6, 2].forEach((repeats, s) => {
      for (let j = 0; j < repeats; j++) blocks.push(`blocks.${s}.${j}`);
    });
    const w = source.weights();
    const bn = (ours: string, timm: string): [string, Tensor][] => [['gamma', 'weight'], ['beta', 'bias'], ['moving_mean', 'running_mean'], ['moving_variance', 'running_var']].map(([o, t]) => [`${timm}.${t}`, w.get(`${ours}.${o}`)!]);
    const state = new Map<string, Tensor>([
      ['conv_stem.weight', transpose(w.get('conv1.kernel')!, [3, 2, 0, 1])],
      ...bn('conv1_bn', 'bn1'),
      ...blocks.flatMap((b, i): [string, Tensor][] => [
        [`${b}.conv_dw.weight`, transpose(w.get(`conv_dw_${i + 1}.depthwise_kernel`)!, [3, 2, 0, 1])],
        ...bn(`conv_dw_${i + 1}_bn`, `${b}.bn1`),
        [`${b}.conv_pw.weight`, transpose(w.get(`conv_pw_${i + 1}.kernel`)!, [3, 2, 0, 1])],
        ...bn(`conv_pw_${i + 1}_bn`, `${b}.bn2`),
      ]),
      ['classifier.weight', transpose(w.get('predictions.kernel')!, [1, 0])],
      ['classifier.bias', w.get('predictions.bias')!],
    ]);
    assert.deepEqual(state.get('conv_stem.weight')!.shape, [8, 3, 3, 3]);
    // and back: our weights under timm's names are exactly the hand-made state dict
    const exported = oursToTimmV1(w);
    assert.deepEqual([...exported.keys()].sort(), [...state.keys()].sort());
    for (const [k, t] of state) assert.ok(sameBits(exported.get(k)!, t), k);
    assert.deepEqual(state.get('blocks.3.5.conv_dw.weight')!.shape, [128, 1, 3, 3]);
    await withTempFile('mobilenetv1_025.safetensors', encodeSafetensors(withCounters(state)), async (path) => {
      const loaded = await loadAnyModel(path, { resolution: 32 });
      assert.equal(loaded.model.metadata.architecture, 'mobilenet_v1');
      const x = randomBatch([2, 32, 32, 3], 8);
      assert.ok(sameBits(loaded.model.predict(x), source.predict(x)));
    });
  });
});
