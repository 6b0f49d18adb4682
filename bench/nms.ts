// Micro-benchmark of detection post-processing: SSD300-sized outputs (1,917 anchors × 91 slots, TF's anchors)
// through `postprocess` in the usual settings; prints the median time per image. Run: node --import tsx bench/nms.ts

import { ssdAnchors } from '../src/detect/anchors.js';
import { postprocess } from '../src/detect/postprocess.js';
import type { DetectionHead, PostprocessOptions } from '../src/detect/types.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';

const SLOTS = 91; // COCO: 90 classes + background
const anchors = ssdAnchors({ featureMaps: [[19, 19], [10, 10], [5, 5], [3, 3], [2, 2], [1, 1]] });
const anchorCount = anchors.length / 4;
const head: DetectionHead = { anchors, scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } };

/** Outputs like a trained detector's: most logits far below zero, a few objects that light up clusters of anchors. */
function syntheticOutputs(seed: number): { scores: Tensor; boxes: Tensor } {
  const random = new Random(seed);
  const scores = new Tensor([1, anchorCount, SLOTS]);
  const boxes = new Tensor([1, anchorCount, 4]);
  for (let i = 0; i < scores.size; i++) scores.data[i] = -6 + 2 * random.normal();
  for (let i = 0; i < boxes.size; i++) boxes.data[i] = 0.5 * random.normal();
  for (let object = 0; object < 20; object++) {
    const slot = 1 + Math.floor(random.uniform() * (SLOTS - 1));
    const center = Math.floor(random.uniform() * anchorCount);
    for (let a = Math.max(0, center - 30); a < Math.min(anchorCount, center + 30); a++) scores.data[a * SLOTS + slot] = 2 * random.normal();
  }
  return { scores, boxes };
}

const SETTINGS: [string, Partial<PostprocessOptions>][] = [
  ['score ≥ 0.5, IoU 0.6 (CLI default)', {}],
  ['score ≥ 0.01, top 400 per class, IoU 0.45, 200 in all (torchvision SSD)', { scoreThreshold: 0.01, topK: 400, iouThreshold: 0.45, maxDetections: 200 }],
  ['score ≥ 0.3, class-agnostic', { scoreThreshold: 0.3, classAgnostic: true }],
  ['softmax scores, score ≥ 0.3', { scoreThreshold: 0.3 }],
];

const runs = 50;
const inputs = Array.from({ length: 5 }, (_, seed) => syntheticOutputs(seed + 1));
console.log(`postprocess, ${anchorCount} anchors × ${SLOTS} slots, median of ${runs} runs`);
for (const [name, options] of SETTINGS) {
  const runHead = name.startsWith('softmax') ? { ...head, scoreConversion: 'softmax' as const } : head;
  const times: number[] = [];
  let found = 0;
  for (let r = 0; r < runs; r++) {
    const { scores, boxes } = inputs[r % inputs.length];
    const start = performance.now();
    found = postprocess(scores, boxes, runHead, options)[0].length;
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(72)} ${times[runs >> 1].toFixed(2).padStart(7)} ms  (${found} detections)`);
}
