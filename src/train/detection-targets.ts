// SSD training targets: TF Object Detection API's argmax matcher (anchors against ground-truth boxes by IoU, every
// box forced onto its best anchor) and, per anchor, the class to learn (0: background) and the box codes to regress.

import { ConfigError, ShapeError } from '../errors.js';
import { encodeBoxes } from '../detect/box-coder.js';
import { boxAreas, iou } from '../detect/nms.js';
import type { DetectionHead } from '../detect/types.js';

/** The objects of one image: corner boxes [G·4] (ymin, xmin, ymax, xmax), normalized, and their classes 1..K. */
export interface GroundTruth {
  boxes: Float32Array;
  classes: Int32Array;
}

/** TF's `argmax_matcher` knobs (SSD configs: 0.5, 0.5, force match on). */
export interface MatchOptions {
  /** An anchor whose best IoU is ≥ this matches that box (0.5). */
  matchedThreshold?: number;
  /** Below this an anchor is background; from it up to `matchedThreshold` it is ignored by the loss (default: `matchedThreshold`, so none is ignored). */
  unmatchedThreshold?: number;
  /** Every box also takes the anchor it overlaps most, whatever the IoU (TF's `force_match_for_each_row`; true). */
  forceMatch?: boolean;
}

/** An anchor's match: the index of its box, or one of these. */
export const BACKGROUND = -1;
export const IGNORED = -2;

/** What an image's anchors learn: per anchor its class (0 background, −1 ignored) and its box codes (zeros where unmatched). */
export interface DetectionTargets {
  classes: Int32Array;
  boxCodes: Float32Array;
  /** The anchors matched to a box. */
  matches: number;
}

/** Anchors (ycenter, xcenter, h, w) as corner boxes (ymin, xmin, ymax, xmax), with room for `extra` more rows after them. */
export function anchorCorners(anchors: Float32Array, extra = 0): Float64Array {
  const corners = new Float64Array(anchors.length + 4 * extra);
  for (let i = 0; i < anchors.length; i += 4) {
    const [yc, xc, h, w] = [anchors[i], anchors[i + 1], anchors[i + 2], anchors[i + 3]];
    corners.set([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], i);
  }
  return corners;
}

function checkMatchOptions(options: MatchOptions): Required<MatchOptions> {
  const matchedThreshold = options.matchedThreshold ?? 0.5;
  const unmatchedThreshold = options.unmatchedThreshold ?? matchedThreshold;
  if (!(matchedThreshold >= 0 && matchedThreshold <= 1)) throw new ConfigError(`matcher: matchedThreshold must be in [0, 1], got ${matchedThreshold}`);
  if (!(unmatchedThreshold >= 0 && unmatchedThreshold <= matchedThreshold)) {
    throw new ConfigError(`matcher: unmatchedThreshold must be in [0, matchedThreshold = ${matchedThreshold}], got ${unmatchedThreshold}`);
  }
  return { matchedThreshold, unmatchedThreshold, forceMatch: options.forceMatch ?? true };
}

function checkGroundTruth(truth: GroundTruth, what: string): number {
  const count = truth.classes.length;
  if (truth.boxes.length !== count * 4) throw new ShapeError(`${what}: ${truth.boxes.length} box values for ${count} classes; expected ${count * 4} (ymin, xmin, ymax, xmax per box)`);
  for (let g = 0; g < count; g++) {
    const [ymin, xmin, ymax, xmax] = truth.boxes.subarray(g * 4, g * 4 + 4);
    if (!(ymax >= ymin && xmax >= xmin)) throw new ShapeError(`${what}: box ${g} [${ymin}, ${xmin}, ${ymax}, ${xmax}] has a negative size`);
  }
  return count;
}

/**
 * TF's ArgMaxMatcher: each anchor takes the box it overlaps most (the first on ties) when that IoU is ≥
 * `matchedThreshold`; below `unmatchedThreshold` it is BACKGROUND, in between IGNORED. With `forceMatch`, every box
 * then claims its own best anchor (the first on ties) whatever the IoU; where boxes claim the same anchor the first
 * box wins — TF's semantics, not torchvision's `allow_low_quality_matches` (which keeps every tied anchor and lets
 * each keep its own argmax box). A box that overlaps no anchor at all (IoU 0 everywhere) claims none.
 */
export function matchAnchors(anchors: Float32Array, truth: GroundTruth, options: MatchOptions = {}): Int32Array {
  const { matchedThreshold, unmatchedThreshold, forceMatch } = checkMatchOptions(options);
  const boxes = checkGroundTruth(truth, 'matchAnchors');
  const count = anchors.length / 4;
  // one box set, anchors then boxes, for nms.ts's IoU (TF's: a box without area overlaps nothing)
  const corners = anchorCorners(anchors, boxes);
  corners.set(truth.boxes, anchors.length);
  const set = { boxes: corners, areas: boxAreas(corners) };
  const matches = new Int32Array(count).fill(BACKGROUND);
  const bestAnchor = new Int32Array(boxes).fill(-1);
  const bestAnchorIou = new Float64Array(boxes);
  for (let a = 0; a < count; a++) {
    let best = -1;
    let bestIou = 0;
    for (let g = 0; g < boxes; g++) {
      const overlap = iou(set, a, count + g);
      if (best < 0 || overlap > bestIou) [best, bestIou] = [g, overlap];
      if (overlap > bestAnchorIou[g]) [bestAnchor[g], bestAnchorIou[g]] = [a, overlap];
    }
    if (best < 0) continue;
    matches[a] = bestIou >= matchedThreshold ? best : bestIou >= unmatchedThreshold ? IGNORED : BACKGROUND;
  }
  if (forceMatch) {
    // in reverse, so that where boxes claim the same anchor the first one's claim is the one left
    for (let g = boxes - 1; g >= 0; g--) if (bestAnchor[g] >= 0) matches[bestAnchor[g]] = g;
  }
  return matches;
}

/**
 * The targets of one image against `head`'s anchors: matched anchors learn their box's class and its box codes
 * (`encodeBoxes` with the head's scale factors and code order), unmatched ones background (0), ignored ones −1.
 */
export function detectionTargets(head: Pick<DetectionHead, 'anchors' | 'scaleFactors' | 'codeOrder'>, truth: GroundTruth, options: MatchOptions = {}): DetectionTargets {
  const matches = matchAnchors(head.anchors, truth, options);
  const count = matches.length;
  const classes = new Int32Array(count);
  const assigned = new Float32Array(count * 4);
  let matched = 0;
  for (let a = 0; a < count; a++) {
    const g = matches[a];
    if (g === IGNORED) classes[a] = -1;
    if (g < 0) continue;
    const label = truth.classes[g];
    if (!(Number.isInteger(label) && label >= 1)) throw new ShapeError(`detectionTargets: box ${g} has class ${label}; classes are 1..K (0 is the background)`);
    classes[a] = label;
    assigned.set(truth.boxes.subarray(g * 4, g * 4 + 4), a * 4);
    matched++;
  }
  const boxCodes = encodeBoxes(assigned, head.anchors, head.scaleFactors, head.codeOrder);
  for (let a = 0; a < count; a++) if (matches[a] < 0) boxCodes.fill(0, a * 4, a * 4 + 4);
  return { classes, boxCodes, matches: matched };
}
