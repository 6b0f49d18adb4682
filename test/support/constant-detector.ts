// A detector whose raw outputs are chosen by hand (zero kernels, the outputs in the biases: the same for every
// image), a COCO folder written from a list of images and boxes, and a hand-worked case made of both.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { encode as encodePng } from 'fast-png';
import type { DetectionHead } from '../../src/detect/types.js';
import { Model } from '../../src/graph/model.js';
import { Conv2D } from '../../src/nn/conv.js';
import { Reshape, input } from '../../src/nn/core.js';

/**
 * An [height, width, 3] → { scores [A, slots], boxes [A, 4] } model: each output is a conv as large as the input
 * with zero kernels, so its biases are the outputs whatever the image. `logits[a]` are anchor a's score
 * logits, `codes[a]` its box codes (ty, tx, th, tw; default zeros: the boxes are the anchors).
 */
export function constantDetector(size: readonly [height: number, width: number], logits: readonly (readonly number[])[], anchors: readonly (readonly number[])[], codes?: readonly (readonly number[])[]): { model: Model; head: DetectionHead } {
  const count = logits.length;
  const slots = logits[0].length;
  const x = input([size[0], size[1], 3]);
  const scores = new Reshape('scores_reshape', [count, slots]).apply(new Conv2D('scores_conv', { filters: count * slots, kernelSize: [size[0], size[1]] }).apply(x));
  const boxes = new Reshape('boxes_reshape', [count, 4]).apply(new Conv2D('boxes_conv', { filters: count * 4, kernelSize: [size[0], size[1]] }).apply(x));
  const model = new Model(x, { scores, boxes }, { name: 'constant_detector' });
  const weights = model.weights();
  for (const name of ['scores_conv.kernel', 'boxes_conv.kernel']) weights.get(name)!.data.fill(0);
  weights.get('scores_conv.bias')!.data.set(logits.flat());
  weights.get('boxes_conv.bias')!.data.set(codes ? codes.flat() : new Array<number>(count * 4).fill(0));
  const head: DetectionHead = { anchors: Float32Array.from(anchors.flat()), scaleFactors: [10, 10, 5, 5], scoreConversion: 'sigmoid', background: true, outputs: { scores: 'scores', boxes: 'boxes' } };
  return { model, head };
}

export interface CocoFolderImage {
  fileName: string;
  width: number;
  height: number;
  /** [category id, x, y, width, height] per object. */
  objects: ReadonlyArray<readonly [number, number, number, number, number]>;
}

/** A COCO folder: grey PNGs in JPEGImages/ and annotations.json with `categories` (ids 1.. by default) and the images' objects. */
export async function writeCocoFolder(dir: string, images: readonly CocoFolderImage[], categories: readonly string[]): Promise<void> {
  await mkdir(join(dir, 'JPEGImages'), { recursive: true });
  const annotations = images.flatMap((image, i) => image.objects.map(([category, ...bbox]) => ({ image_id: i + 1, category_id: category, bbox, iscrowd: 0 })));
  const coco = {
    images: images.map((image, i) => ({ id: i + 1, file_name: image.fileName, width: image.width, height: image.height })),
    annotations: annotations.map((a, i) => ({ id: i + 1, ...a })),
    categories: categories.map((name, k) => ({ id: k + 1, name })),
  };
  await writeFile(join(dir, 'annotations.json'), JSON.stringify(coco));
  for (const image of images) {
    const data = new Uint8Array(image.width * image.height).fill(128);
    await writeFile(join(dir, 'JPEGImages', image.fileName), encodePng({ width: image.width, height: image.height, data, channels: 1, depth: 8 }));
  }
}

/**
 * A 32×32 detector that finds, in every image, class 1 on anchor 0 (centre (.375, .25), size .5: the model box
 * [.125, 0, .625, .5]) with score σ(2) and class 2 on anchor 1 (the box [.5, .5, 1, 1]) with score σ(1); the
 * other logits are −10 (below the 0.01 evaluation threshold). The images are 64 wide and 32 high.
 * Stretched (x × 2, y × 1): class 1's box is [4, 0, 20, 32] in pixels, class 2's [16, 32, 32, 64].
 * Letterboxed, centred (padded to a 64×64 canvas, the image at row 16, then halved: the image is 32×16 at row 8
 * of the input): class 1's box is [0, 0, 24, 32] (clipped from −8), class 2's [16, 32, 32, 64] (clipped from 48).
 * Truth, both images: class 1 at [0, 0, 24, 32] (x, y, w, h = 0, 0, 32, 24); image 1: class 2 at [16, 32, 32, 64];
 * image 2: class 2 at [16, 0, 32, 32], which the detection (IoU 0) misses.
 * Class 1, stretched: IoU 512 / 768 = 2/3 in both images: two TPs at IoU .5–.65 (AP 1), two FPs at .7–.95 (AP 0):
 *   AP 4/10, AP50 1, AP75 0, VOC 1. Letterboxed: IoU 1, AP 1 everywhere.
 * Class 2: TP (image 1), FP (image 2, the same score: image order) of 2 objects → recall 1/2, precision 1 then
 *   1/2: the points 0..0.5 (51) read 1, AP = 51/101 at every threshold; VOC 1/2.
 */
export const DETECTOR_CASE = {
  size: [32, 32] as const,
  logits: [[0, 2, -10], [0, -10, 1]],
  anchors: [[0.375, 0.25, 0.5, 0.5], [0.75, 0.75, 0.5, 0.5]],
  images: [
    { fileName: 'one.png', width: 64, height: 32, objects: [[1, 0, 0, 32, 24], [2, 32, 16, 32, 16]] as const },
    { fileName: 'two.png', width: 64, height: 32, objects: [[1, 0, 0, 32, 24], [2, 0, 16, 32, 16]] as const },
  ],
  categories: ['one', 'two'],
  stretched: { map: (0.4 + 51 / 101) / 2, ap50: (1 + 51 / 101) / 2, ap75: 51 / 101 / 2, vocAp50: 0.75 },
  letterboxed: { map: (1 + 51 / 101) / 2, ap50: (1 + 51 / 101) / 2, ap75: (1 + 51 / 101) / 2, vocAp50: 0.75 },
};
