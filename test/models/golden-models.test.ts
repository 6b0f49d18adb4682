// Whole torchvision MobileNetV2s (PyTorch-made): the tiny α 0.35 / 32 px / 10-class model and each of its
// intermediates, and the full-size α 1.0 / 224 px / 1000-class model, through the reference backend.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goldenCase, goldenTensors, assertClose } from '../support/helpers.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { loadTorchStateDict } from '../../src/io/torch-names.js';
import { toLayout } from '../../src/tensor/tensor.js';

describe('golden MobileNetV2 models (torchvision 0.14)', () => {
  it('α 0.35, 32×32, 10 classes, batch 2: logits and every intermediate', () => {
    const c = goldenCase('models/mnv2_035_32_c10');
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    loadTorchStateDict(model, c.weights);
    const inter = goldenTensors('models/mnv2_035_32_c10/intermediates.safetensors');
    // torchvision's features[i] ends at our layer: stem relu, each block's add or project BN, out_relu
    const ends = model.layers.filter((l) => /^(Conv1_relu|expanded_conv_project_BN|block_\d+_(add|project_BN)|out_relu)$/.test(l.name)).map((l) => l.name);
    const blockEnds = ends.filter((n, i) => !(n.endsWith('project_BN') && ends[i + 1]?.startsWith(n.replace('project_BN', 'add'))));
    assert.equal(blockEnds.length, 19, 'features.0 … features.18');
    const outs = model.run(c.input, [...blockEnds, 'global_average_pooling2d', 'predictions'], { layout: 'NCHW' });
    blockEnds.forEach((name, i) => assertClose(outs.get(name)!, inter.get(`features.${i}`)!, 5e-5, `features.${i} (${name})`));
    assertClose(outs.get('global_average_pooling2d')!, inter.get('pooled')!, 5e-5, 'pooled');
    assertClose(outs.get('predictions')!, c.output, 5e-5, 'logits');
    assertClose(model.predict(toLayout(c.input, 'NCHW', 'NHWC')), c.output, 5e-5, 'logits from an NHWC batch');
  });

  it('α 1.0, 224×224, 1000 classes: the full-size network', () => {
    const c = goldenCase('models/mnv2_100_224');
    const model = mobilenetV2();
    loadTorchStateDict(model, c.weights);
    assertClose(model.predict(c.input, { layout: 'NCHW' }), c.output, 1e-4, 'logits');
  });
});
