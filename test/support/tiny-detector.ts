// A detector small enough to work by hand, for the detect API, CLI and page tests: an 8×8 RGB input (pixels 0..1),
// four anchors (one per 4×4 quadrant); class 1 scores the quadrant's red, class 2 its green; every box code is fixed.

import { Model } from '../../src/graph/model.js';
import type { DetectionHead } from '../../src/detect/types.js';
import { Conv2D } from '../../src/nn/conv.js';
import { input, Reshape } from '../../src/nn/core.js';
import { Tensor } from '../../src/tensor/tensor.js';

export const TINY_DETECTOR_CLASSES = ['background', 'redthing', 'greenthing'];

/** Anchors (ycenter, xcenter, h, w): each quadrant's centre, half the image high and wide; row-major quadrants. */
export const TINY_ANCHORS = Float32Array.from([0.25, 0.25, 0.5, 0.5, 0.25, 0.75, 0.5, 0.5, 0.75, 0.25, 0.5, 0.5, 0.75, 0.75, 0.5, 0.5]);

/** Every anchor's box code (ty, tx, th, tw): centre moved by +0.1·h down and −0.1·w left, height kept, width halved. */
export const TINY_CODES = [1, -1, 0, 5 * Math.log(0.5)];

/** The head as `metadata.detection` holds it: TF's box coder and sigmoid scores with a background slot. */
export function tinyDetectorHead(): DetectionHead {
  return { anchors: TINY_ANCHORS.slice(), scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } };
}

/**
 * Per quadrant (a 4×4 stride-4 convolution): logits background 0, class 1 = 1.25·Σ red − 5, class 2 = 1.25·Σ green − 5
 * (a red quadrant scores σ(15), half red σ(5), none σ(−5)); box codes TINY_CODES whatever the pixels (zero weights, biases).
 * Outputs `scores` [4, 3] and `boxes` [4, 4]; `metadata.detection` is set unless `head` is false.
 */
export function tinyDetector({ head = true }: { head?: boolean } = {}): Model {
  const x = input([8, 8, 3]);
  const quadrant = { kernelSize: 4, strides: 4, padding: 'valid' as const };
  const scores = new Reshape('scores', [4, 3]).apply(new Conv2D('class_logits', { ...quadrant, filters: 3 }).apply(x));
  const boxes = new Reshape('boxes', [4, 4]).apply(new Conv2D('box_codes', { ...quadrant, filters: 4 }).apply(x));
  const model = new Model(x, { scores, boxes }, { name: 'tiny_detector' });
  const kernel = new Float32Array(4 * 4 * 3 * 3); // [kh, kw, in, out]
  for (let tap = 0; tap < 16; tap++) {
    kernel[tap * 9 + 0 * 3 + 1] = 1.25; // red → class 1
    kernel[tap * 9 + 1 * 3 + 2] = 1.25; // green → class 2
  }
  model.setWeights(new Map([
    ['class_logits.kernel', new Tensor([4, 4, 3, 3], kernel)],
    ['class_logits.bias', new Tensor([3], Float32Array.from([0, -5, -5]))],
    ['box_codes.kernel', new Tensor([4, 4, 3, 4], new Float32Array(4 * 4 * 3 * 4))],
    ['box_codes.bias', new Tensor([4], Float32Array.from(TINY_CODES))],
  ]));
  if (head) model.metadata.detection = tinyDetectorHead();
  return model;
}

/** RGB pixels `width`×`height`, red where `red(x, y)`, else black. */
export function redWhere(width: number, height: number, red: (x: number, y: number) => boolean): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (red(x, y)) data[(y * width + x) * 3] = 255;
  return { data, width, height };
}
