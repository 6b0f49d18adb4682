// Segmentation masks as PNG bytes, VOC's way: one byte per pixel (the label) in an 8-bit indexed PNG whose
// palette draws each label; decoding takes the indices as labels and checks them against the class count.

import { decode as decodePngFile, encode as encodePngFile, type DecodedPng } from 'fast-png';
import { FormatError, ShapeError } from '../errors.js';
import { IGNORE_LABEL, vocPalette, type Palette } from './label-maps.js';

/** A label per pixel, row-major. */
export interface Mask {
  width: number;
  height: number;
  labels: Uint8Array;
}

/** An 8-bit indexed PNG of `mask`, drawn in `palette` (VOC's by default). */
export function encodeMaskPng(mask: Mask, palette: Palette = vocPalette()): Uint8Array {
  const { width, height, labels } = mask;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || labels.length !== width * height) {
    throw new ShapeError(`mask: ${labels.length} labels for ${width}×${height} pixels`);
  }
  return encodePngFile({ width, height, data: labels, depth: 8, channels: 1, palette: palette.map((c) => [c[0], c[1], c[2]]) });
}

/**
 * The labels of a mask PNG: an indexed PNG's indices (VOC's `SegmentationClass/`), or a grey 8-bit PNG's values.
 * With `classes`, a label ≥ classes that is not the ignore label (255) is a FormatError naming the pixel.
 */
export function decodeMaskPng(bytes: Uint8Array, source: string, classes?: number): Mask {
  let png: DecodedPng;
  try {
    png = decodePngFile(bytes, { checkCrc: true });
  } catch (e) {
    throw new FormatError(`${source}: not a readable PNG mask (${e instanceof Error ? e.message : String(e)})`);
  }
  const { width, height } = png;
  if (png.channels !== 1 || png.depth !== 8) {
    throw new FormatError(`${source}: a mask must be an 8-bit indexed or grey PNG, this one has ${png.channels} channel(s) of ${png.depth} bits`);
  }
  const labels = Uint8Array.from(png.data);
  if (classes !== undefined) checkLabels(labels, width, classes, source);
  return { width, height, labels };
}

/** Throws a FormatError at the first label that is neither below `classes` nor the ignore label. */
export function checkLabels(labels: Uint8Array, width: number, classes: number, source: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l >= classes && l !== IGNORE_LABEL) {
      throw new FormatError(`${source}: label ${l} at pixel (x ${i % width}, y ${Math.floor(i / width)}) is outside the ${classes} classes and is not the ignore label ${IGNORE_LABEL}`);
    }
  }
}
