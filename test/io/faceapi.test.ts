// face-api's SSD-MobileNetV1 face detector loaded from its own weights manifest, against face-api itself (on TF.js's
// cpu backend) on real photos: its preprocessing, its raw boxes and scores before NMS, and its detections.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WasmEngine } from '../../src/backend/wasm/engine.js';
import { decodeImage } from '../../src/data/image.js';
import { letterboxCanvas, preprocessImage } from '../../src/data/preprocess.js';
import type { ImageShape } from '../../src/data/preprocess.js';
import { decodeBoxes } from '../../src/detect/box-coder.js';
import { postprocess } from '../../src/detect/postprocess.js';
import type { Detection, DetectionHead } from '../../src/detect/types.js';
import { decodeAnyModel } from '../../src/io/any-model.js';
import { encodeModelFile } from '../../src/io/model-file.js';
import { loadAnyModel } from '../../src/node/any-model.js';
import type { AnyModel } from '../../src/node/any-model.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FACEAPI_SSD_MANIFEST, faceApiModelFolder, loadFaceApi } from '../support/faceapi.js';
import type { FaceApi, FaceApiDetection } from '../support/faceapi.js';

const modelFolder = faceApiModelFolder();
const skip = modelFolder ? false : 'face-api is not installed (dev dependencies @vladmandic/face-api, @tensorflow/tfjs, @tensorflow/tfjs-backend-wasm)';

/** The three photos (test/fixtures/photos/README.md): no resize, padded below, padded right and resized. */
const PHOTOS = ['astronaut.jpg', 'astronaut-wide.jpg', 'grace_hopper.jpg'];
/** Low enough that face-api also reports a weak second face in grace_hopper.jpg, so order and count are tested. */
const MIN_CONFIDENCE = 0.1;

interface Photo {
  name: string;
  pixels: Float32Array;
  shape: ImageShape;
}

function photo(name: string): Photo {
  const image = decodeImage(new Uint8Array(readFileSync(new URL(`../fixtures/photos/${name}`, import.meta.url))), { channels: 3, source: name });
  return { name, pixels: image.pixels, shape: image.shape };
}

/** [ymin, xmin, ymax, xmax] in source pixels, from face-api's `{ x, y, width, height }`. */
function faceApiBox(box: FaceApiDetection['box']): number[] {
  return [box.y, box.x, box.y + box.height, box.x + box.width];
}

/** Our normalized box in the source image's pixels: the letterbox canvas's exact inverse. */
function sourceBox(box: Detection['box'], shape: ImageShape, size: readonly [number, number]): number[] {
  const { height, width, top, left } = letterboxCanvas(shape, size, 'top-left');
  return [box[0] * height - top, box[1] * width - left, box[2] * height - top, box[3] * width - left];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe("face-api's SSD-MobileNetV1 face detector against face-api", { skip }, () => {
  let api: FaceApi;
  let loaded: AnyModel;
  let head: DetectionHead;
  let engine: WasmEngine;
  const photos = PHOTOS.map(photo);

  before(async () => {
    api = await loadFaceApi('cpu');
    loaded = await loadAnyModel(join(modelFolder!, FACEAPI_SSD_MANIFEST));
    head = loaded.model.metadata.detection!;
    engine = await WasmEngine.create(loaded.model);
  });

  after(async () => {
    await engine?.dispose();
  });

  test('the manifest loads as a detector with face-api’s classes, preprocessing, head and anchors', () => {
    assert.equal(loaded.format, 'tfjs-weights');
    assert.deepEqual(loaded.classNames, ['background', 'face']);
    assert.deepEqual(loaded.preprocessing, { size: [512, 512], fit: 'letterbox', align: 'top-left', coordinates: 'asymmetric', pixels: 'symmetric' });
    assert.deepEqual(loaded.model.outputShapes, { scores: [5118, 2], boxes: [5118, 4] });
    assert.equal(head.scoreConversion, 'sigmoid');
    assert.equal(head.background, true);
    assert.deepEqual(head.scaleFactors, [10, 10, 5, 5]);
    assert.deepEqual(head.defaults, { scoreThreshold: 0.5, iouThreshold: 0.5, maxPerClass: 100, maxDetections: 100, classAgnostic: false, topK: 5118 });
    // what the network does not read: the shape constants of the TF graph face-api's weights were converted from
    const unused = loaded.metadata.unusedWeights as string[];
    assert.equal(unused.length, 17);
    for (const name of unused) assert.match(name, /^(Preprocessor|Postprocessor|concat_1)\/|^Prediction\/BoxPredictor_\d\/(stack|strided_slice)/);
    // face-api's getCenterCoordinatesAndSizesLayer on its own anchors tensor, in TF.js
    const corners = api.nets.ssdMobilenetv1.params!.output_layer.extra_dim;
    const [ymin, xmin, ymax, xmax] = api.tf.unstack(api.tf.reshape(corners, [-1, 4]), 1);
    const h = api.tf.sub(ymax, ymin);
    const w = api.tf.sub(xmax, xmin);
    const centers = api.tf.stack([api.tf.add(ymin, api.tf.div(h, 2)), api.tf.add(xmin, api.tf.div(w, 2)), h, w], 1).dataSync();
    assert.ok(maxAbsDiff(head.anchors, centers) <= 1e-7, 'anchors');
  });

  test('preprocessing equals face-api’s toBatchTensor(512) and x/127.5 − 1 on each photo', () => {
    for (const p of photos) {
      const theirs = api.tf.tidy(() => {
        const input = new api.NetInput([api.tf.tensor3d(Int32Array.from(p.pixels), [...p.shape], 'int32')]);
        return api.tf.sub(api.tf.div(input.toBatchTensor(512, false), 127.5), 1).dataSync();
      });
      const ours = preprocessImage(p.pixels, p.shape, loaded.preprocessing);
      assert.ok(maxAbsDiff(ours, theirs) <= 1e-5, `${p.name}: ${maxAbsDiff(ours, theirs)}`);
    }
  });

  test('raw outputs before NMS (grace_hopper.jpg, on the engine): decoded boxes and face scores equal face-api’s forward', (t) => {
    const p = photos[2];
    const { boxes: theirBoxes, scores: theirScores } = api.tf.tidy(() => {
      const input = new api.NetInput([api.tf.tensor3d(Int32Array.from(p.pixels), [...p.shape], 'int32')]);
      const out = api.nets.ssdMobilenetv1.forwardInput(input);
      return { boxes: out.boxes[0].dataSync(), scores: out.scores[0].dataSync() };
    });
    const input = new Tensor([1, 512, 512, 3], preprocessImage(p.pixels, p.shape, loaded.preprocessing));
    const outputs = engine.predictOutputs(input);
    const boxes = decodeBoxes(outputs.boxes.data, head.anchors, head.scaleFactors);
    const faces = new Float32Array(5118).map((_, a) => 1 / (1 + Math.exp(-outputs.scores.data[a * 2 + 1])));
    t.diagnostic(`max differences: boxes ${maxAbsDiff(boxes, theirBoxes).toExponential(1)}, scores ${maxAbsDiff(faces, theirScores).toExponential(1)}`);
    assert.ok(maxAbsDiff(boxes, theirBoxes) <= 1e-5, `boxes: ${maxAbsDiff(boxes, theirBoxes)}`);
    assert.ok(maxAbsDiff(faces, theirScores) <= 1e-5, `scores: ${maxAbsDiff(faces, theirScores)}`);
  });

  test('detections equal face-api’s detectAllFaces on each photo: count, order, scores within 1e-3, boxes within 0.5 px', async (t) => {
    for (const p of photos) {
      const image = api.tf.tensor3d(Int32Array.from(p.pixels), [...p.shape], 'int32');
      const theirs = await api.detectAllFaces(image, new api.SsdMobilenetv1Options({ minConfidence: MIN_CONFIDENCE, maxResults: 100 }));
      image.dispose();
      const input = new Tensor([1, 512, 512, 3], preprocessImage(p.pixels, p.shape, loaded.preprocessing));
      const outputs = engine.predictOutputs(input);
      const [ours] = postprocess(outputs.scores, outputs.boxes, head, { ...head.defaults, scoreThreshold: MIN_CONFIDENCE, labels: loaded.classNames });
      assert.ok(theirs.length >= 1, `${p.name}: face-api finds a face`);
      assert.equal(ours.length, theirs.length, `${p.name}: count`);
      theirs.forEach((face, i) => {
        assert.equal(ours[i].label, 'face');
        assert.ok(Math.abs(ours[i].score - face.score) <= 1e-3, `${p.name} #${i}: score ${ours[i].score} vs ${face.score}`);
        const box = sourceBox(ours[i].box, p.shape, [512, 512]);
        t.diagnostic(`${p.name} #${i}: score ${face.score.toFixed(4)}, differences: score ${Math.abs(ours[i].score - face.score).toExponential(1)}, box ${maxAbsDiff(box, faceApiBox(face.box)).toFixed(3)} px`);
        assert.ok(maxAbsDiff(box, faceApiBox(face.box)) <= 0.5, `${p.name} #${i}: box ${box.join(', ')} vs ${faceApiBox(face.box).join(', ')}`);
      });
    }
  });

  test('our model file keeps the detector: anchors bit for bit, head, classes, preprocessing, and the same outputs', async () => {
    const bytes = encodeModelFile(loaded.model, { classNames: loaded.classNames, preprocessing: loaded.preprocessing });
    const again = await decodeAnyModel({ bytes, source: 'faceapi.safetensors' });
    assert.equal(again.format, 'model-file');
    assert.deepEqual(again.classNames, loaded.classNames);
    assert.deepEqual(again.preprocessing, loaded.preprocessing);
    assert.deepEqual(again.model.metadata.detection, head);
    const p = photos[2];
    const input = new Tensor([1, 512, 512, 3], preprocessImage(p.pixels, p.shape, loaded.preprocessing));
    const before = engine.predictOutputs(input);
    const reloaded = await WasmEngine.create(again.model);
    try {
      const after = reloaded.predictOutputs(input);
      for (const name of ['scores', 'boxes']) assert.deepEqual(after[name].data, before[name].data, name);
    } finally {
      await reloaded.dispose();
    }
  });
});
