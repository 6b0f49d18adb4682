// The `mobilenet` CLI in-process: summary JSON totals, infer against PyTorch's logits (NCHW and NHWC,
// α and classes inferred or given), help, and the usage errors with their exit code.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { toLayout } from '../../src/tensor/tensor.js';
import { GOLDEN, assertClose, runCli } from '../support/helpers.js';

const run = runCli;

const TINY = join(GOLDEN, 'models/mnv2_035_32_c10');
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mobilenet-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mobilenet summary', () => {
  it('--json gives the exact MobileNetV2 1.0-224 totals', async () => {
    const r = await run('summary', '--arch', 'mobilenet_v2', '--alpha', '1.0', '--resolution', '224', '--classes', '1000', '--json');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out);
    assert.equal(j.macs, 300_774_272);
    assert.deepEqual(j.params, { weights: 3_470_760, trainable: 3_504_872, total: 3_538_984 });
    assert.equal(typeof j.activationBytes, 'number');
    assert.ok(j.layers.length > 100 && j.layers.every((l: { name: string; macs: number }) => typeof l.name === 'string' && typeof l.macs === 'number'));
    // streamed blocks never hold an expanded tensor: below the issue's 3.5 MB; unfused must hold block_1's 112²×96 floats
    assert.ok(j.plannedArenaBytes.fused <= 3.5e6, `fused ${j.plannedArenaBytes.fused}`);
    assert.ok(j.plannedArenaBytes.unfused >= 4 * 112 * 112 * 96, `unfused ${j.plannedArenaBytes.unfused}`);
  });

  it('--json for MobileNetV1 1.0-224', async () => {
    const j = JSON.parse((await run('summary', '--arch', 'mobilenet_v1', '--json')).out);
    assert.equal(j.macs, 568_740_352);
    assert.equal(j.params.weights, 4_210_088);
  });

  it('prints a readable table with MACs', async () => {
    const r = await run('summary', '--alpha', '0.35', '--resolution', '96');
    assert.match(r.out, /block_16_project \(Conv2D\)/);
    assert.match(r.out, /Multiply-adds: +[\d,]+ per image/);
  });
});

describe('mobilenet infer', () => {
  it('matches PyTorch on the tiny golden model, α and classes inferred from the weights', async () => {
    const out = join(dir, 'y.npy');
    const r = await run('infer', '--model', join(TINY, 'weights.safetensors'), '--input', join(TINY, 'input.npy'), '--output', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /inferred from the weight shapes: α = 0\.35.*classes = 10/);
    assertClose(decodeNpy(await readFile(out)), decodeNpy(await readFile(join(TINY, 'output.npy'))), 1e-4, 'logits');
  });

  it('accepts NHWC input with --layout nhwc and explicit architecture flags', async () => {
    const x = toLayout(decodeNpy(await readFile(join(TINY, 'input.npy'))), 'NCHW', 'NHWC');
    await writeFile(join(dir, 'x_nhwc.npy'), encodeNpy(x));
    const out = join(dir, 'y2.npy');
    const r = await run('infer', '--model', join(TINY, 'weights.safetensors'), '--input', join(dir, 'x_nhwc.npy'), '--output', out, '--layout', 'nhwc', '--alpha', '0.35', '--classes', '10', '--input-channels', '3');
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /inferred/);
    assertClose(decodeNpy(await readFile(out)), decodeNpy(await readFile(join(TINY, 'output.npy'))), 1e-4, 'logits');
  });

  it('names the mismatched tensor when --classes disagrees with the weights', async () => {
    const r = await run('infer', '--model', join(TINY, 'weights.safetensors'), '--input', join(TINY, 'input.npy'), '--output', join(dir, 'no.npy'), '--classes', '7');
    assert.equal(r.code, 2);
    assert.match(r.err, /WeightsError: .*classifier\.1\.weight expected \[7, 1280\] got \[10, 1280\]/);
  });

  it('names missing tensors of a truncated state dict', async () => {
    const { tensors } = decodeSafetensors(await readFile(join(TINY, 'weights.safetensors')));
    tensors.delete('features.5.conv.1.1.running_var');
    await writeFile(join(dir, 'partial.safetensors'), encodeSafetensors(tensors));
    const r = await run('infer', '--model', join(dir, 'partial.safetensors'), '--input', join(TINY, 'input.npy'), '--output', join(dir, 'no.npy'));
    assert.equal(r.code, 2);
    assert.match(r.err, /missing 1: features\.5\.conv\.1\.1\.running_var/);
  });

  it('says where a truncated weight file ends', async () => {
    const bytes = await readFile(join(TINY, 'weights.safetensors'));
    await writeFile(join(dir, 'cut.safetensors'), bytes.subarray(0, 5000));
    const r = await run('infer', '--model', join(dir, 'cut.safetensors'), '--input', join(TINY, 'input.npy'), '--output', join(dir, 'no.npy'));
    assert.equal(r.code, 2);
    assert.match(r.err, /FormatError: .*cut\.safetensors/);
  });

  it('refuses a batch whose channels do not match the layout', async () => {
    const r = await run('infer', '--model', join(TINY, 'weights.safetensors'), '--input', join(TINY, 'input.npy'), '--output', join(dir, 'no.npy'), '--layout', 'nhwc');
    assert.equal(r.code, 2);
    assert.match(r.err, /input channels.*is --layout right\?/);
  });

  it('requires --model, --input and --output', async () => {
    const r = await run('infer', '--input', 'x.npy');
    assert.equal(r.code, 2);
    assert.match(r.err, /--model is required/);
  });
});

describe('mobilenet usage', () => {
  it('--help lists every command', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    for (const c of ['summary', 'infer', 'demo']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  });

  it('unknown commands, unknown flags and bad values exit 2 with a clear line', async () => {
    assert.match((await run('frobnicate')).err, /unknown command "frobnicate"/);
    for (const name of ['__proto__', 'constructor', 'toString']) assert.match((await run(name)).err, new RegExp(`unknown command "${name}"`)); // found by the fuzzer
    const flag = await run('summary', '--bogus');
    assert.equal(flag.code, 2);
    assert.match(flag.err, /UsageError: Unknown option '--bogus'/);
    assert.match((await run('summary', '--alpha', 'abc')).err, /--alpha must be a number > 0, got abc/);
    assert.match((await run('summary', '--alpha=-1')).err, /--alpha must be a number > 0/);
    assert.match((await run('summary', '--resolution', '16')).err, /ConfigError: .*too small.*at least 32×32/);
    assert.match((await run('summary', '--arch', 'resnet')).err, /--arch must be one of mobilenet_v2, mobilenet_v1/);
  });
});
