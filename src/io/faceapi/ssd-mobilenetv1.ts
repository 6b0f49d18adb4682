// face-api's SSD-MobileNetV1 face detector (`ssd_mobilenetv1_model-weights_manifest.json` + its .bin, @vladmandic/face-api):
// told by its weight names, dequantized, and loaded by a name map onto ssd({ backbone: 'mobilenet_v1', head: 'conv' }).

import type { PreprocessOptions } from '../../data/preprocess.js';
import { cornersToCenters } from '../../detect/box-coder.js';
import type { DetectionHead } from '../../detect/types.js';
import { FormatError } from '../../errors.js';
import type { Model } from '../../graph/model.js';
import { SSD_SCALE_FACTORS, ssd } from '../../models/ssd.js';
import { BatchNormalization } from '../../nn/normalization.js';
import { Tensor, formatShape, sameShape } from '../../tensor/tensor.js';
import { decodeWeights } from '../tfjs/weights-manifest.js';
import type { TfjsWeightGroup } from '../tfjs/weights-manifest.js';

/** The input face-api resizes every image to. */
export const FACEAPI_SSD_RESOLUTION = 512;

/** Slot 0 background, slot 1 face: the slots face-api reads (its predictors have a third, which it never reads). */
export const FACEAPI_SSD_CLASS_NAMES: readonly string[] = ['background', 'face'];

/**
 * face-api's `NetInput.toBatchTensor(512, false)` and `forwardInput`: the image padded with black to a square at
 * the top-left (`padToSquare`), resized by tfjs `resizeBilinear` (asymmetric coordinates), then x/127.5 − 1.
 */
export const FACEAPI_SSD_PREPROCESSING: PreprocessOptions = {
  size: [FACEAPI_SSD_RESOLUTION, FACEAPI_SSD_RESOLUTION],
  fit: 'letterbox',
  align: 'top-left',
  coordinates: 'asymmetric',
  pixels: 'symmetric',
};

/**
 * face-api's `locateFaces`: `minConfidence` 0.5 and `maxResults` 100 by default, NMS at IoU 0.5, no top-k before it.
 * face-api suppresses by the IoU of boxes before they are clipped to the image, TF's post-processing (ours) after:
 * the same faces unless a box crossing the image's edge overlaps a better one at an IoU near the threshold.
 */
export const FACEAPI_SSD_POSTPROCESS = { scoreThreshold: 0.5, iouThreshold: 0.5, maxPerClass: 100, maxDetections: 100, classAgnostic: false } as const;

/** The anchors tensor: [1, A, 4] as (ymin, xmin, ymax, xmax), normalized. */
const ANCHORS = 'Output/extra_dim';

/** Class slots per anchor in face-api's class predictors, and how many of them it reads (background, face). */
const STORED_SLOTS = 3;
const READ_SLOTS = FACEAPI_SSD_CLASS_NAMES.length;

/** Names only face-api's SSD manifest has: what tells it from other weights manifests. */
const SIGNATURE = [ANCHORS, 'MobilenetV1/Conv2d_13_pointwise/weights', 'Prediction/BoxPredictor_5/ClassPredictor/weights'];

/** The SSD maps: backbone taps Conv2d_11 and Conv2d_13, then the extras Prediction/Conv2d_1, _3, _5, _7 (pairs 0..3). */
const MAPS = 6;
const EXTRA_BLOCKS = 4;
const BACKBONE_BLOCKS = 13;

export function isFaceApiSsdManifest(groups: readonly TfjsWeightGroup[]): boolean {
  const names = new Set(groups.flatMap((g) => g.weights.map((w) => w.name)));
  return SIGNATURE.every((n) => names.has(n));
}

/** A FormatError naming `source` unless the manifest is face-api's SSD-MobileNetV1. */
export function checkFaceApiSsdManifest(groups: readonly TfjsWeightGroup[], source: string): void {
  if (isFaceApiSsdManifest(groups)) return;
  throw new FormatError(`${source}: a TF.js weights manifest without a model topology, and not face-api's SSD-MobileNetV1 (it lacks ${SIGNATURE.join(', ')}): that is the only one recognised; other TF.js models load from their model.json`);
}

export interface FaceApiSsd {
  /** `scores` [N, A, 2] (logits of background and face) and `boxes` [N, A, 4] (codes), `metadata.detection` set. */
  model: Model;
  classNames: string[];
  preprocessing: PreprocessOptions;
  /** Manifest entries the network does not use (constants of the TF graph it was converted from). */
  unused: string[];
}

/**
 * Builds face-api's detector from its manifest and shards (`shard(path)` gives the bytes of each path the manifest
 * names). A manifest of other weights is a FormatError naming `source`, and so is a weight of the wrong shape.
 */
export function faceApiSsdModel(groups: readonly TfjsWeightGroup[], shard: (path: string) => Uint8Array, source: string): FaceApiSsd {
  checkFaceApiSsdManifest(groups, source);
  const stored = decodeWeights([...groups], shard, source);
  const anchors = stored.get(ANCHORS)!;
  if (anchors.shape.length !== 3 || anchors.shape[0] !== 1 || anchors.shape[2] !== 4) throw new FormatError(`${source}: ${ANCHORS} must be [1, anchors, 4], got ${formatShape(anchors.shape)}`);
  const model = ssd({ backbone: 'mobilenet_v1', head: 'conv', resolution: FACEAPI_SSD_RESOLUTION, classes: READ_SLOTS - 1, padding: 'same', name: 'faceapi_ssd_mobilenetv1' });
  const names = new FaceApiNames(stored, model, source);
  model.setWeights(names.weights);
  const count = model.outputShapes.boxes[0];
  if (anchors.shape[1] !== count) throw new FormatError(`${source}: ${ANCHORS} holds ${anchors.shape[1]} anchors, the network predicts ${count}`);
  const detection: DetectionHead = {
    anchors: cornersToCenters(anchors.data),
    scaleFactors: [...SSD_SCALE_FACTORS],
    scoreConversion: 'sigmoid',
    background: true,
    outputs: { scores: 'scores', boxes: 'boxes' },
    defaults: { ...FACEAPI_SSD_POSTPROCESS, topK: count },
  };
  model.metadata = { ...model.metadata, detection };
  const unused = [...stored.keys()].filter((k) => k !== ANCHORS && !names.used.has(k));
  return { model, classNames: [...FACEAPI_SSD_CLASS_NAMES], preprocessing: { ...FACEAPI_SSD_PREPROCESSING }, unused };
}

/** face-api's weights under our layer names, and which of its names were read. */
class FaceApiNames {
  readonly weights = new Map<string, Tensor>();
  readonly used = new Set<string>();
  private readonly own: Map<string, Tensor>;

  constructor(
    private readonly stored: Map<string, Tensor>,
    private readonly model: Model,
    private readonly source: string,
  ) {
    this.own = model.weights();
    this.convWithOffset('MobilenetV1/Conv2d_0_pointwise', 'conv1', 'conv1_bn');
    for (let i = 1; i <= BACKBONE_BLOCKS; i++) {
      const dw = `MobilenetV1/Conv2d_${i}_depthwise`;
      const depthwise = this.take(`${dw}/depthwise_weights`);
      // TF's [kh, kw, C, 1] and our [kh, kw, 1, C] hold the same values in the same order (multiplier 1)
      this.put(`conv_dw_${i}.depthwise_kernel`, new Tensor([depthwise.shape[0], depthwise.shape[1], 1, depthwise.shape[2]], depthwise.data), `${dw}/depthwise_weights`);
      for (const [ours, theirs] of [['gamma', 'gamma'], ['beta', 'beta'], ['moving_mean', 'moving_mean'], ['moving_variance', 'moving_variance']]) {
        this.put(`conv_dw_${i}_bn.${ours}`, this.take(`${dw}/BatchNorm/${theirs}`), `${dw}/BatchNorm/${theirs}`);
      }
      this.convWithOffset(`MobilenetV1/Conv2d_${i}_pointwise`, `conv_pw_${i}`, `conv_pw_${i}_bn`);
    }
    for (let k = 0; k < EXTRA_BLOCKS; k++) {
      this.convWithOffset(`Prediction/Conv2d_${2 * k}_pointwise`, `extra_${k}_1x1`, `extra_${k}_1x1_BN`);
      this.convWithOffset(`Prediction/Conv2d_${2 * k + 1}_pointwise`, `extra_${k}_3x3`, `extra_${k}_3x3_BN`);
    }
    for (let m = 0; m < MAPS; m++) {
      const box = `Prediction/BoxPredictor_${m}/BoxEncodingPredictor`;
      this.put(`box_predictor_${m}.kernel`, this.take(`${box}/weights`), `${box}/weights`);
      this.put(`box_predictor_${m}.bias`, this.take(`${box}/biases`), `${box}/biases`);
      const cls = `Prediction/BoxPredictor_${m}/ClassPredictor`;
      this.put(`class_predictor_${m}.kernel`, readSlots(this.take(`${cls}/weights`), `${this.source}: ${cls}/weights`), `${cls}/weights`);
      this.put(`class_predictor_${m}.bias`, readSlots(this.take(`${cls}/biases`), `${this.source}: ${cls}/biases`), `${cls}/biases`);
    }
  }

  private take(name: string): Tensor {
    const t = this.stored.get(name);
    if (!t) throw new FormatError(`${this.source}: face-api's SSD weight ${name} is missing`);
    this.used.add(name);
    return t;
  }

  /** Checks the shape against our parameter's, naming both weights. */
  private put(ours: string, tensor: Tensor, theirs: string): void {
    const own = this.own.get(ours);
    if (!own) throw new FormatError(`${this.source}: ${theirs} has no counterpart ${ours} in ${this.model.name}`);
    if (!sameShape(own.shape, tensor.shape)) {
      throw new FormatError(`${this.source}: ${theirs} is ${formatShape(tensor.shape)}, ${ours} needs ${formatShape(own.shape)}`);
    }
    this.weights.set(ours, tensor);
  }

  /**
   * A conv whose batch norm face-api folded into a bias (`convolution_bn_offset`, no scale): our conv + BN carry it
   * as a BN that is the identity but for β (γ 1, mean 0, variance 1 − ε, so that √(variance + ε) = 1).
   */
  private convWithOffset(prefix: string, conv: string, bn: string): void {
    this.put(`${conv}.kernel`, this.take(`${prefix}/weights`), `${prefix}/weights`);
    const offset = this.take(`${prefix}/convolution_bn_offset`);
    const layer = this.model.getLayer(bn);
    if (!(layer instanceof BatchNormalization)) throw new FormatError(`${this.source}: ${this.model.name} has no batch norm ${bn} for ${prefix}/convolution_bn_offset`);
    const channels = offset.size;
    const where = `${prefix}/convolution_bn_offset`;
    this.put(`${bn}.beta`, offset, where);
    this.put(`${bn}.gamma`, new Tensor([channels], new Float32Array(channels).fill(1)), where);
    this.put(`${bn}.moving_mean`, new Tensor([channels], new Float32Array(channels)), where);
    this.put(`${bn}.moving_variance`, new Tensor([channels], new Float32Array(channels).fill(1 - layer.epsilon)), where);
  }
}

/**
 * A class predictor's kernel [1, 1, C, A·3] or bias [A·3] with the slots face-api reads (0 and 1 of each anchor's
 * three): its output channel a·3 + s becomes a·2 + s. A 1×1 conv's output channels are independent, so the scores
 * of those slots are unchanged.
 */
function readSlots(t: Tensor, where: string): Tensor {
  const outputs = t.shape[t.shape.length - 1];
  if (outputs % STORED_SLOTS !== 0) throw new FormatError(`${where}: ${formatShape(t.shape)} is not ${STORED_SLOTS} class slots per anchor`);
  const anchors = outputs / STORED_SLOTS;
  const rows = t.size / outputs;
  const data = new Float32Array(rows * anchors * READ_SLOTS);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < anchors; a++) {
      for (let s = 0; s < READ_SLOTS; s++) data[(r * anchors + a) * READ_SLOTS + s] = t.data[r * outputs + a * STORED_SLOTS + s];
    }
  }
  return new Tensor([...t.shape.slice(0, -1), anchors * READ_SLOTS], data);
}
