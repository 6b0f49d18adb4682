// The Faster R-CNN box coder with scale factors (TF Object Detection API's FasterRcnnBoxCoder, torchvision's
// BoxCoder): box codes against anchors ↔ corner boxes, on typed arrays, whole batches at once.

import { ConfigError, ShapeError } from '../errors.js';
import type { BoxCodeOrder } from './types.js';

/** TF adds this to every size before dividing or taking a log, so zero-size boxes encode to finite codes. */
const EPSILON = 1e-8;

/** Scale factors in [y, x, h, w] order. */
export type ScaleFactors = readonly [y: number, x: number, h: number, w: number];

function checkCoder(values: ArrayLike<number>, anchors: Float32Array, scaleFactors: ScaleFactors, what: string): void {
  if (anchors.length === 0 || anchors.length % 4 !== 0) throw new ShapeError(`${what}: anchors must hold (ycenter, xcenter, h, w) rows, got ${anchors.length} values`);
  if (values.length % anchors.length !== 0) {
    throw new ShapeError(`${what}: ${values.length} values are not a whole batch of ${anchors.length / 4} anchors × 4`);
  }
  if (scaleFactors.length !== 4 || scaleFactors.some((s) => !(s > 0))) {
    throw new ConfigError(`${what}: scaleFactors must be four positive numbers [y, x, h, w], got [${scaleFactors.join(', ')}]`);
  }
}

/** Offsets of (y, x, h, w) inside one code row. */
function codeSlots(order: BoxCodeOrder): readonly [number, number, number, number] {
  return order === 'yxhw' ? [0, 1, 2, 3] : [1, 0, 3, 2];
}

/**
 * Decodes box codes [N·A·4] against anchors [A·4] (ycenter, xcenter, h, w) into corners [ymin, xmin, ymax, xmax]
 * (not clipped): center = t/scale · anchor size + anchor center, size = exp(t/scale) · anchor size.
 * `out` (same length as `codes`) receives them when given, e.g. a Float64Array for exact post-processing.
 */
export function decodeBoxes<T extends Float32Array | Float64Array = Float32Array>(codes: ArrayLike<number>, anchors: Float32Array, scaleFactors: ScaleFactors, codeOrder: BoxCodeOrder = 'yxhw', out?: T): T {
  checkCoder(codes, anchors, scaleFactors, 'decodeBoxes');
  const boxes = out ?? (new Float32Array(codes.length) as T);
  if (boxes.length !== codes.length) throw new ShapeError(`decodeBoxes: out holds ${boxes.length} values for ${codes.length} codes`);
  const [sy, sx, sh, sw] = scaleFactors;
  const [iy, ix, ih, iw] = codeSlots(codeOrder);
  for (let i = 0; i < codes.length; i += 4) {
    const a = i % anchors.length;
    const ha = anchors[a + 2];
    const wa = anchors[a + 3];
    const yc = (codes[i + iy] / sy) * ha + anchors[a];
    const xc = (codes[i + ix] / sx) * wa + anchors[a + 1];
    const h = Math.exp(codes[i + ih] / sh) * ha;
    const w = Math.exp(codes[i + iw] / sw) * wa;
    boxes[i] = yc - h / 2;
    boxes[i + 1] = xc - w / 2;
    boxes[i + 2] = yc + h / 2;
    boxes[i + 3] = xc + w / 2;
  }
  return boxes;
}

/**
 * Encodes corner boxes [N·A·4] (ymin, xmin, ymax, xmax) against anchors [A·4] into codes in `codeOrder`:
 * t_y = (y − y_a)/h_a · s_y, t_h = log(h/h_a) · s_h, … (TF's coder: sizes + 1e-8). The inverse of `decodeBoxes`.
 */
export function encodeBoxes(boxes: ArrayLike<number>, anchors: Float32Array, scaleFactors: ScaleFactors, codeOrder: BoxCodeOrder = 'yxhw'): Float32Array {
  checkCoder(boxes, anchors, scaleFactors, 'encodeBoxes');
  const codes = new Float32Array(boxes.length);
  const [sy, sx, sh, sw] = scaleFactors;
  const [iy, ix, ih, iw] = codeSlots(codeOrder);
  for (let i = 0; i < boxes.length; i += 4) {
    const a = i % anchors.length;
    const ha = anchors[a + 2] + EPSILON;
    const wa = anchors[a + 3] + EPSILON;
    const h = boxes[i + 2] - boxes[i] + EPSILON;
    const w = boxes[i + 3] - boxes[i + 1] + EPSILON;
    codes[i + iy] = ((boxes[i] + boxes[i + 2]) / 2 - anchors[a]) / ha * sy;
    codes[i + ix] = ((boxes[i + 1] + boxes[i + 3]) / 2 - anchors[a + 1]) / wa * sx;
    codes[i + ih] = Math.log(h / ha) * sh;
    codes[i + iw] = Math.log(w / wa) * sw;
  }
  return codes;
}

/** Corner rows (ymin, xmin, ymax, xmax) → center rows (ycenter, xcenter, h, w): anchors kept as corners (face-api's). */
export function cornersToCenters(corners: ArrayLike<number>): Float32Array {
  if (corners.length % 4 !== 0) throw new ShapeError(`cornersToCenters: ${corners.length} values are not rows of 4`);
  const out = new Float32Array(corners.length);
  for (let i = 0; i < corners.length; i += 4) {
    out[i] = (corners[i] + corners[i + 2]) / 2;
    out[i + 1] = (corners[i + 1] + corners[i + 3]) / 2;
    out[i + 2] = corners[i + 2] - corners[i];
    out[i + 3] = corners[i + 3] - corners[i + 1];
  }
  return out;
}
