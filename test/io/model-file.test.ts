// Our model file (safetensors + architecture, options, class names, preprocessing in the metadata):
// a saved model rebuilds bit-exactly, and files that are not ours, or do not fit, fail clearly.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN } from '../support/helpers.js';
import { decodeModelFile, encodeModelFile } from '../../src/io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { mobilenetV2 } from '../../src/models/mobilenet-v2.js';
import { mobilenetV1 } from '../../src/models/mobilenet-v1.js';
import { FormatError, WeightsError } from '../../src/errors.js';
import { Random } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

describe('model file', () => {
  it('a custom MobileNetV2 (grey, stem stride 1, own table) round-trips bit-exactly with class names and preprocessing', () => {
    const model = mobilenetV2({ alpha: 0.5, resolution: 28, inputChannels: 1, classes: 4, stemStride: 1, blocks: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]], seed: 3 });
    for (const t of model.weights().values()) new Random(7).fillUniform(t.data, 0.5, 1.5); // not the default initialisation
    const bytes = encodeModelFile(model, { classNames: ['a', 'b', 'c', 'd'], preprocessing: { size: [28, 28], pixels: { mean: 0.286, std: 0.353 } } });
    const loaded = decodeModelFile(bytes, 'm.safetensors');
    assert.deepEqual(loaded.classNames, ['a', 'b', 'c', 'd']);
    assert.deepEqual(loaded.preprocessing, { size: [28, 28], pixels: { mean: 0.286, std: 0.353 } });
    const x = new Tensor([2, 28, 28, 1], new Random(1).fillUniform(new Float32Array(2 * 28 * 28), 0, 1));
    assert.deepEqual(loaded.model.predict(x).data, model.predict(x).data);
  });

  it('MobileNetV1 with Keras padding and depth multiplier round-trips', () => {
    const model = mobilenetV1({ alpha: 0.25, resolution: 64, classes: 3, depthMultiplier: 2 });
    const loaded = decodeModelFile(encodeModelFile(model)).model;
    assert.deepEqual(loaded.metadata, model.metadata);
    assert.deepEqual([...loaded.weights().keys()], [...model.weights().keys()]);
  });

  it('a plain weight file (torchvision names, no metadata) is refused with a clear FormatError', () => {
    const bytes = readFileSync(join(GOLDEN, 'models/mnv2_035_32_c10/weights.safetensors'));
    assert.throws(() => decodeModelFile(bytes, 'weights.safetensors'), (e: unknown) => e instanceof FormatError && /not a mobilenet-ts model file/.test(e.message));
  });

  it('weights that do not fit the declared architecture name the tensors', () => {
    const model = mobilenetV2({ alpha: 0.35, resolution: 32, classes: 10 });
    const { tensors, metadata } = decodeSafetensors(encodeModelFile(model));
    tensors.delete('predictions.bias');
    assert.throws(() => decodeModelFile(encodeSafetensors(tensors, metadata)), (e: unknown) => e instanceof WeightsError && /missing 1: predictions\.bias/.test(e.message));
    assert.throws(() => decodeModelFile(encodeSafetensors(tensors, { ...metadata, options: '{' })), (e: unknown) => e instanceof FormatError && /options is not valid JSON/.test(e.message));
  });
});
