// Recognises an imported graph's raw detector outputs (class scores and box codes per anchor) and says, in one
// line, that decoding them needs anchors the file does not carry: the importers never make anchors up.

import { formatShape } from '../../tensor/tensor.js';

/** Per-anchor box codes: [A, 4], or [A, 1, 4] as TF's box predictors write them. */
const boxShaped = (shape: readonly number[]): boolean => shape.at(-1) === 4 && (shape.length === 2 || (shape.length === 3 && shape[1] === 1));

/**
 * A note for outputs that look like an SSD's raw `scores` [A, K] and `boxes` [A, 4] (same anchor count A), or
 * null where they do not: such a graph loads, but its boxes are codes against anchors that must be given.
 */
export function missingAnchorsNote(outputs: readonly { name: string; shape: readonly number[] }[]): string | null {
  const boxes = outputs.find((o) => boxShaped(o.shape));
  const scores = boxes && outputs.find((o) => o !== boxes && o.shape.length === 2 && o.shape[0] === boxes.shape[0]);
  if (!boxes || !scores) return null;
  return `outputs ${scores.name} ${formatShape(scores.shape)} and ${boxes.name} ${formatShape(boxes.shape)} are a detector's raw class scores and box codes for ${boxes.shape[0]} anchors; the file carries no anchors: give them to decode boxes (CLI: --anchors ssd-tf | ssd-torchvision | FILE.npy)`;
}
