// Segmentation graphs in our model file (the graph entry, a Keras topology with our Resize and ArgMax classes): a
// DeepLab-like model of our layers and the golden DeepLab imported from ONNX come back with the same outputs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, FormatError } from '../../src/errors.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { decodeOnnx } from '../../src/io/onnx/import.js';
import { decodeNpy } from '../../src/io/npy.js';
import { encodeTfjsLayersModel } from '../../src/io/tfjs/layers-model.js';
import { kerasTopologyToModel } from '../../src/io/tfjs/keras-import.js';
import { modelToKerasTopology } from '../../src/io/tfjs/keras-export.js';
import { ArgMax } from '../../src/nn/argmax.js';
import { DepthwiseConv2D } from '../../src/nn/conv.js';
import { GlobalAveragePooling2D } from '../../src/nn/pooling.js';
import { Resize } from '../../src/nn/resize.js';
import { GOLDEN, assertClose, randomBatch } from '../support/helpers.js';
import { deeplabLike } from '../support/deeplab-like.js';

describe('our model file keeps segmentation graphs', () => {
  test('Resize (each convention), Concatenate, GAP kept 1×1, a rate-2 depthwise conv and ArgMax come back with the same outputs, bit for bit', () => {
    const x = randomBatch([2, 17, 15, 3], 41);
    for (const coordinates of ['align-corners', 'half-pixel', 'asymmetric'] as const) {
      for (const labels of [false, true]) {
        const model = deeplabLike(coordinates, labels);
        const { model: back } = decodeModelFile(encodeModelFile(model), 'deeplab-like.safetensors');
        assert.deepEqual(back.layers.filter((l) => l instanceof Resize).map((l) => (l as Resize).config()), model.layers.filter((l) => l instanceof Resize).map((l) => (l as Resize).config()));
        assert.deepEqual((back.getLayer('atrous') as DepthwiseConv2D).dilations, [2, 2]);
        assert.equal((back.getLayer('image_pool') as GlobalAveragePooling2D).keepDims, true);
        assert.equal(back.layers.at(-1) instanceof ArgMax, labels);
        assert.deepEqual([...back.predict(x).data], [...model.predict(x).data], `${coordinates}${labels ? ' with labels' : ''}`);
      }
    }
  });

  test('a scale-target Resize keeps its scale; bad Resize configs are FormatErrors naming the layer', () => {
    const model = deeplabLike('half-pixel', false);
    const topology = modelToKerasTopology(model, { extended: true }).topology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    const entry = topology.config.layers.find((l) => l.class_name === 'Resize' && l.config.name === 'upsample')!;
    entry.config.coordinates = 'tf_crop_and_resize';
    assert.throws(() => kerasTopologyToModel(topology), (e: unknown) => e instanceof FormatError && /layer "upsample" \(Resize\): coordinates must be one of half-pixel, align-corners, asymmetric/.test((e as Error).message));
    entry.config.coordinates = 'asymmetric';
    delete entry.config.size;
    entry.config.scale = [2, 2];
    assert.deepEqual(kerasTopologyToModel(topology).model.getLayer('upsample').config(), { scale: [2, 2], coordinates: 'asymmetric' });
  });

  test('TF.js layers export refuses Resize with a typed error naming it (no TF.js class means the same)', () => {
    assert.throws(() => encodeTfjsLayersModel(deeplabLike('half-pixel', false)), (e: unknown) => e instanceof ConfigError && /pool_resize \(Resize\) has no Keras\/TF\.js equivalent/.test((e as Error).message));
  });

  test('the golden DeepLab imported from ONNX, saved in our file and loaded back, still gives PyTorch\'s logits within 5e-5', () => {
    const dir = join(GOLDEN, 'apps', 'deeplab_mnv2_a050_r129_k5_os16_b2');
    const { model } = decodeOnnx(readFileSync(join(dir, 'model.onnx')));
    const { model: back } = decodeModelFile(encodeModelFile(model), 'deeplab.safetensors');
    const x = decodeNpy(readFileSync(join(dir, 'input.npy')), 'input.npy');
    assertClose(back.predict(x, { layout: 'NCHW' }), decodeNpy(readFileSync(join(dir, 'logits.npy')), 'logits.npy'), 5e-5, 'logits after the model file');
  });
});
