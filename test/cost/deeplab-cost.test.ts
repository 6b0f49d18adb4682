// The cost model on atrous networks: the golden DeepLab case's counts (case.json, PyTorch-made), MobileNetV2 at
// output stride 16 and a dilated depthwise conv worked by hand, and `mobilenet summary` showing rates and refusing bad flags.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, runCli } from '../support/helpers.js';
import { modelCost } from '../../src/cost/model-cost.js';
import { formatWindow } from '../../src/cost/format.js';
import { deeplabV3 } from '../../src/models/deeplab-v3.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { Model } from '../../src/graph/model.js';
import { input } from '../../src/nn/core.js';
import { DepthwiseConv2D } from '../../src/nn/conv.js';

const CASE = JSON.parse(readFileSync(join(GOLDEN, 'apps/deeplab_mnv2_a050_r129_k5_os16_b2/case.json'), 'utf8')) as { params: number; macs: number };

describe('cost of atrous networks', () => {
  it('the golden Mobile DeepLabv3 (α 0.5, 129×129, 5 classes, OS 16): case.json params and MACs exactly', () => {
    const c = modelCost(deeplabV3({ alpha: 0.5, outputStride: 16, classes: 5, resolution: 129 }));
    assert.equal(c.params.trainable, CASE.params);
    assert.equal(c.macs, CASE.macs);
    // Table 3 measure of the concatenation + projection: both 9×9×256 branches in, 9×9×256 out, 16-bit
    assert.equal(c.memory.operators.find((o) => o.name === 'concat_projection')?.bytes, 2 * (2 * 81 * 256 + 81 * 256));
  });

  it('a dilated depthwise conv costs what an undilated one does: 3×3 rate 2 on 9×10×4, torch padding', () => {
    const x = input([9, 10, 4]);
    const conv = new DepthwiseConv2D('dw', { kernelSize: 3, dilations: 2, padding: 'torch', useBias: false });
    const c = modelCost(new Model(x, conv.apply(x)));
    // padding 2 keeps 9×10; 4 channels × 9 taps per output pixel
    assert.deepEqual(c.layers[1].outputShape, [9, 10, 4]);
    assert.equal(c.macs, 9 * 10 * 4 * 9);
    assert.deepEqual(c.layers[1].window, { kernel: [3, 3], strides: [1, 1], rates: [2, 2] });
  });

  it('MobileNetV2 1.0-224 at output stride 16: the layers after block 12 run on 14×14 instead of 7×7', () => {
    // at 7×7, α 1: block_13 depthwise 576·9·49 and project 49·576·160; blocks 14, 15: expand and project 49·160·960,
    // depthwise 960·9·49; block 16: expand 49·160·960, depthwise 960·9·49, project 49·960·320; Conv_1 49·320·1280
    const at7 = 576 * 9 * 49 + 49 * 576 * 160 + 2 * (2 * 49 * 160 * 960 + 960 * 9 * 49) + 49 * 160 * 960 + 960 * 9 * 49 + 49 * 960 * 320 + 49 * 320 * 1280;
    assert.equal(modelCost(mobilenetV2({ outputStride: 16 })).macs, 300_774_272 + 3 * at7);
    assert.equal(modelCost(mobilenetV2({ outputStride: 32 })).macs, 300_774_272);
  });

  it('windows print as kernel, stride and rate', () => {
    assert.equal(formatWindow({ kernel: [3, 3], strides: [2, 2], rates: [1, 1] }), '3×3 s2 r1');
    assert.equal(formatWindow({ kernel: [3, 3], strides: [1, 1], rates: [4, 2] }), '3×3 r4×2');
    assert.equal(formatWindow({ kernel: [1, 1], strides: [1, 1], rates: [1, 1] }), '1×1');
    assert.equal(formatWindow(null), '');
  });
});

describe('mobilenet summary for DeepLab and output strides', () => {
  it('--arch deeplabv3_mobilenet_v2 --json gives the golden case counts', async () => {
    const r = await runCli('summary', '--arch', 'deeplabv3_mobilenet_v2', '--alpha', '0.5', '--resolution', '129', '--classes', '5', '--output-stride', '16', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { params: { trainable: number }; macs: number; layers: { name: string; window: unknown }[] };
    assert.deepEqual([j.params.trainable, j.macs], [CASE.params, CASE.macs]);
    assert.deepEqual(j.layers.find((l) => l.name === 'block_14_depthwise')?.window, { kernel: [3, 3], strides: [1, 1], rates: [2, 2] });
  });

  it('the table shows each depthwise rate; the ASPP head its atrous branches', async () => {
    const r = await runCli('summary', '--arch', 'deeplabv3_mobilenet_v2', '--alpha', '0.35', '--resolution', '65', '--classes', '3', '--output-stride', '8', '--head', 'aspp');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^block_6_depthwise \(DepthwiseConv2D\) .* 3×3 r1 /m);
    assert.match(r.out, /^block_7_depthwise \(DepthwiseConv2D\) .* 3×3 r2 /m);
    assert.match(r.out, /^block_16_depthwise \(DepthwiseConv2D\) .* 3×3 r4 /m);
    assert.match(r.out, /^aspp3 \(Conv2D\) .* 3×3 r36 /m, 'rate 18 doubled at OS 8');
    assert.match(r.out, /^logits_resize \(Resize\) +\(N, 65, 65, 3\)/m);
  });

  it('--output-stride for mobilenet_v2 and v1; bad values and --head elsewhere are usage errors', async () => {
    const v1 = JSON.parse((await runCli('summary', '--arch', 'mobilenet_v1', '--output-stride', '16', '--json')).out) as { layers: { name: string; outputShape: number[] }[] };
    assert.deepEqual(v1.layers.find((l) => l.name === 'conv_pw_13')?.outputShape, [14, 14, 1024]);
    const bad = await runCli('summary', '--output-stride', '12');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--output-stride must be 8, 16 or 32/);
    assert.match((await runCli('summary', '--head', 'aspp')).err, /--head applies to deeplabv3_mobilenet_v2, not mobilenet_v2/);
    assert.match((await runCli('summary', '--arch', 'deeplabv3_mobilenet_v2', '--head', 'lraspp')).err, /--head must be one of mobile, aspp/);
    assert.match((await runCli('summary', '--arch', 'deeplabv3_mobilenet_v2', '--resolution', '8')).err, /too small.*16/);
  });
});
