// Segmentation metrics accumulated batch by batch: the pixel confusion matrix (ignored pixels skipped), per-class
// IoU, mean IoU by PASCAL VOC's convention, pixel accuracy, and the mean cross-entropy over counted pixels.

import { argmaxLabels } from '../ops/argmax.js';
import { IGNORE_LABEL } from '../data/label-maps.js';
import { ShapeError } from '../errors.js';
import { formatShape } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import { logSumExpAt } from './loss.js';
import { checkLabel } from './segmentation-loss.js';

export interface SegmentationEvaluation {
  /**
   * Mean IoU over the classes whose union is not empty (that appear in the ground truth or the predictions):
   * PASCAL VOC's convention, also torchvision's reference scripts'. 0 when no pixel counted.
   */
  miou: number;
  /** TP / (TP + FP + FN) per class; null for a class that appears in neither the ground truth nor the predictions. */
  perClassIou: (number | null)[];
  /** Correctly labelled pixels / counted pixels. */
  pixelAccuracy: number;
  /** Unweighted mean cross-entropy over counted pixels (0 when only predictions were given). */
  loss: number;
  /** Images and counted (not ignored) pixels seen. */
  images: number;
  pixels: number;
  /** confusion[true][predicted], in pixels. */
  confusion: number[][];
}

export class SegmentationMetrics {
  private readonly confusion: Float64Array;
  private lossSum = 0;
  private pixels = 0;
  private images = 0;

  constructor(
    readonly classes: number,
    readonly ignoreLabel = IGNORE_LABEL,
  ) {
    this.confusion = new Float64Array(classes * classes);
  }

  /** Adds predicted labels against true labels, pixel by pixel, for `images` images of h×w. */
  addPredictions(predicted: ArrayLike<number>, labels: ArrayLike<number>, size: readonly [height: number, width: number]): void {
    const [h, w] = size;
    if (predicted.length !== labels.length || labels.length % (h * w) !== 0) {
      throw new ShapeError(`SegmentationMetrics: ${predicted.length} predictions and ${labels.length} labels for ${h}×${w} images; both must be N·${h}·${w}`);
    }
    const k = this.classes;
    for (let p = 0; p < labels.length; p++) {
      const label = labels[p];
      checkLabel(label, p, k, this.ignoreLabel, 'SegmentationMetrics: mask', h, w);
      if (label === this.ignoreLabel) continue;
      checkLabel(predicted[p], p, k, -1, 'SegmentationMetrics: prediction', h, w);
      this.confusion[label * k + predicted[p]]++;
      this.pixels++;
    }
    this.images += labels.length / (h * w);
  }

  /** Adds a batch of logits [N, H, W, K] against its masks (N·H·W labels): the argmax per pixel, and the loss. */
  addLogits(logits: Tensor, labels: ArrayLike<number>): void {
    const [n, h, w, k] = logits.shape;
    if (logits.rank !== 4 || k !== this.classes) throw new ShapeError(`SegmentationMetrics: logits must be [N, H, W, ${this.classes}], got ${formatShape(logits.shape)}`);
    if (labels.length !== n * h * w) throw new ShapeError(`SegmentationMetrics: ${labels.length} mask labels for logits ${formatShape(logits.shape)}, which need N·H·W = ${n * h * w}`);
    const z = logits.data;
    this.addPredictions(argmaxLabels(z, labels.length, k), labels, [h, w]);
    for (let p = 0; p < labels.length; p++) if (labels[p] !== this.ignoreLabel) this.lossSum += logSumExpAt(z, p * k, k) - z[p * k + labels[p]];
  }

  result(): SegmentationEvaluation {
    const k = this.classes;
    const confusion = Array.from({ length: k }, (_, t) => Array.from(this.confusion.subarray(t * k, (t + 1) * k)));
    let correct = 0;
    const perClassIou = confusion.map((row, c) => {
      const truePositives = row[c];
      correct += truePositives;
      const inTruth = row.reduce((a, b) => a + b, 0);
      let predictedAs = 0;
      for (let t = 0; t < k; t++) predictedAs += confusion[t][c];
      const union = inTruth + predictedAs - truePositives;
      return union === 0 ? null : truePositives / union;
    });
    const present = perClassIou.filter((v): v is number => v !== null);
    return {
      miou: present.length === 0 ? 0 : present.reduce((a, b) => a + b, 0) / present.length,
      perClassIou,
      pixelAccuracy: this.pixels === 0 ? 0 : correct / this.pixels,
      loss: this.pixels === 0 ? 0 : this.lossSum / this.pixels,
      images: this.images,
      pixels: this.pixels,
      confusion,
    };
  }
}
