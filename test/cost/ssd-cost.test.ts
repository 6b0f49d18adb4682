// The cost model on detectors: the golden SSDLite case's counts (case.json, PyTorch-made), the paper's SSDLite at 320×320
// with 80 classes (golden README: 4.34M params, 0.79B MACs), and `mobilenet summary --arch ssdlite_mobilenet_v2`.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN, runCli } from '../support/helpers.js';
import { modelCost } from '../../src/cost/model-cost.js';
import { ssdLite } from '../../src/models/ssd.js';

const CASE = JSON.parse(readFileSync(join(GOLDEN, 'apps/ssdlite_mnv2_a050_r160_k5_b2/case.json'), 'utf8')) as { params: number; macs: number; anchors: number };

describe('cost of SSDLite', () => {
  it('the golden SSDLite (α 0.5, 160×160, 5 classes): case.json params (conv weights, biases, BN γ, β) and conv MACs exactly', () => {
    const c = modelCost(ssdLite({ alpha: 0.5, resolution: 160, classes: 5 }));
    assert.equal(c.params.trainable, CASE.params);
    assert.equal(c.macs, CASE.macs);
  });

  it('the paper\'s SSDLite, α 1, 320×320, 80 classes + background: 4.34M params and 0.79B MACs as the golden README measures them', () => {
    const c = modelCost(ssdLite({ alpha: 1, resolution: 320, classes: 80 }));
    assert.equal((c.params.trainable / 1e6).toFixed(2), '4.34');
    assert.equal((c.macs / 1e9).toFixed(2), '0.79');
  });

  it('a separable extra block costs what its three convs do, worked by hand (α 0.5, D 512 on the 5×5×1280 map)', () => {
    const layers = modelCost(ssdLite({ alpha: 0.5, resolution: 160, classes: 5 })).layers;
    const macs = (name: string): number | undefined => layers.find((l) => l.name === name)?.macs;
    assert.equal(macs('extra_0_1x1'), 5 * 5 * 1280 * 128); // 1×1 to ⌊0.5·512/2⌋ = 128 on 5×5
    assert.equal(macs('extra_0_depthwise'), 3 * 3 * 9 * 128); // 3×3 stride 2, torch padding: 5×5 → 3×3
    assert.equal(macs('extra_0_pointwise'), 3 * 3 * 128 * 256); // 1×1 to ⌊0.5·512⌋ = 256
    assert.equal(macs('class_predictor_0'), 10 * 10 * 288 * 3 * 6); // A = 3 boxes × 6 slots on the 10×10 tap
  });
});

describe('mobilenet summary for detectors', () => {
  it('--arch ssdlite_mobilenet_v2 --json gives the golden case counts and the anchor count, not the anchors', async () => {
    const r = await runCli('summary', '--arch', 'ssdlite_mobilenet_v2', '--alpha', '0.5', '--resolution', '160', '--classes', '5', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { params: { trainable: number }; macs: number; options: { detection: Record<string, unknown> } };
    assert.deepEqual([j.params.trainable, j.macs], [CASE.params, CASE.macs]);
    assert.equal(j.options.detection.anchorCount, CASE.anchors);
    assert.equal(j.options.detection.anchors, undefined);
  });

  it('the table lists the heads and says the outputs; defaults are 300×300 and 90 classes', async () => {
    const r = await runCli('summary', '--arch', 'ssdlite_mobilenet_v2', '--alpha', '0.5', '--resolution', '160', '--classes', '5');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^class_predictor_0 \(Conv2D\) +\(N, 10, 10, 18\) +1×1 +5,202 +518,400$/m); // 288·18 + 18; 100·288·18
    assert.match(r.out, /^Multiply-adds: +57,648,800 per image$/m);
    assert.match(r.out, /^Detector: 540 anchors; outputs scores \(N, 540, 6\), boxes \(N, 540, 4\)$/m);
    const defaults = await runCli('summary', '--arch', 'ssdlite_mobilenet_v2');
    assert.match(defaults.out, /^Detector: 1917 anchors; outputs scores \(N, 1917, 91\), boxes \(N, 1917, 4\)$/m); // 19², 10², 5², 3², 2², 1² maps
  });

  it('flags that do not apply to a detector and bad values are refused by name', async () => {
    const noTop = await runCli('summary', '--arch', 'ssd_mobilenet_v1', '--no-top');
    assert.notEqual(noTop.code, 0);
    assert.match(noTop.err, /ssd_mobilenet_v1: options includeTop do not apply/);
    assert.match((await runCli('summary', '--arch', 'ssdlite_mobilenet_v2', '--classes', '0')).err, /--classes must be/);
    assert.match((await runCli('summary', '--arch', 'ssdlite_mobilenet_v2', '--head', 'aspp')).err, /--head applies to deeplabv3_mobilenet_v2, not ssdlite_mobilenet_v2/);
    assert.match((await runCli('summary', '--arch', 'ssdlite_mobilenet_v2', '--resolution', '16')).err, /too small.*32/);
    assert.match((await runCli('summary', '--arch', 'ssdlite_resnet')).err, /--arch must be one of .*ssdlite_mobilenet_v2/);
  });
});
