// Detections drawn onto RGBA pixels: each box's outline in its class's VOC colour and a label ("person 0.87") on
// a filled tab, written with a built-in 3×5 bitmap font so that Node, workers and pages draw the same pixels.

import { ConfigError, ShapeError } from '../errors.js';
import { vocPalette } from './label-maps.js';
import type { Palette } from './label-maps.js';

/** RGBA pixels, 4 values per pixel, row after row (ImageData's layout); drawn on in place. */
export interface RgbaImage {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** What is drawn for one detection: `box` in pixels of the image, [ymin, xmin, ymax, xmax], edges (not pixel centres). */
export interface DrawnDetection {
  class: number;
  label?: string;
  score: number;
  box: readonly [number, number, number, number];
}

export interface DrawBoxesOptions {
  /** RGB per class index (`class` picks the entry, modulo its length); default VOC's, whose class k is VOC label k's colour. */
  palette?: Palette;
  /** Outline thickness in pixels, drawn inward (default: 1, or 2 on images of 400 pixels or more on the short side). */
  lineWidth?: number;
  /** Font scale: each glyph is 3·scale × 5·scale pixels (default: 1, or 2 on images of 400 pixels or more). */
  fontScale?: number;
  /** Whether to write the labels (default true). */
  labels?: boolean;
}

const GLYPH_WIDTH = 3;
const GLYPH_HEIGHT = 5;

/**
 * The font: per character five rows, each an octal digit whose bits 4, 2, 1 are the row's left, middle and right
 * pixels. Lower case letters draw as capitals; any other character as '?'.
 */
const FONT: Readonly<Record<string, string>> = {
  '0': '75557', '1': '26227', '2': '71747', '3': '71317', '4': '55711', '5': '74717', '6': '74757', '7': '71122', '8': '75757', '9': '75717',
  A: '25755', B: '65656', C: '34443', D: '65556', E: '74647', F: '74644', G: '34553', H: '55755', I: '72227', J: '11152',
  K: '55655', L: '44447', M: '57755', N: '65555', O: '25552', P: '65644', Q: '25563', R: '65655', S: '34216', T: '72222',
  U: '55557', V: '55552', W: '55775', X: '55255', Y: '55222', Z: '71247',
  ' ': '00000', '.': '00002', ',': '00024', '-': '00700', _: '00007', ':': '02020', '%': '51245', '/': '11244',
  '(': '24442', ')': '42224', '?': '71202', "'": '22000', '+': '02720', '=': '07070',
};

/** Whether pixel (column, row) of `character`'s 3×5 glyph is ink. */
function glyphPixel(character: string, column: number, row: number): boolean {
  const rows = FONT[character.toUpperCase()] ?? FONT['?'];
  return ((Number(rows[row]) >> (GLYPH_WIDTH - 1 - column)) & 1) === 1;
}

/** The text drawn for a detection: its label (or `class k`) and its score to two decimals. */
export function detectionCaption(detection: DrawnDetection): string {
  return `${detection.label ?? `class ${detection.class}`} ${detection.score.toFixed(2)}`;
}

/** `image`'s pixels as a new RGBA image: grey and RGB get alpha 255, RGBA is copied. */
export function rgbaOf(image: { data: ArrayLike<number>; width: number; height: number }): RgbaImage {
  const { width, height, data } = image;
  const pixels = width * height;
  const from = data.length / pixels;
  if (![1, 3, 4].includes(from)) throw new ShapeError(`rgbaOf: ${data.length} values for ${width}×${height} pixels: expected 1, 3 or 4 per pixel`);
  const out = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = data[p * from + (from === 1 ? 0 : c)];
    out[p * 4 + 3] = from === 4 ? data[p * 4 + 3] : 255;
  }
  return { data: out, width, height };
}

/**
 * Draws each detection onto `image` (in place, which it returns): the box's outline, `lineWidth` pixels inward from
 * its edges rounded to whole pixels and clipped to the image, in its class's colour; above it (inside when there is
 * no room) a tab of that colour with the caption in black or white, whichever stands out. Later detections draw over
 * earlier ones.
 */
export function drawBoxes(image: RgbaImage, detections: readonly DrawnDetection[], options: DrawBoxesOptions = {}): RgbaImage {
  const { width, height, data } = image;
  if (data.length !== width * height * 4) throw new ShapeError(`drawBoxes: ${data.length} values for ${width}×${height} RGBA pixels (expected ${width * height * 4})`);
  const large = Math.min(width, height) >= 400;
  const lineWidth = options.lineWidth ?? (large ? 2 : 1);
  const scale = options.fontScale ?? (large ? 2 : 1);
  if (!Number.isInteger(lineWidth) || lineWidth < 1) throw new ConfigError(`drawBoxes: lineWidth must be a positive integer, got ${lineWidth}`);
  if (!Number.isInteger(scale) || scale < 1) throw new ConfigError(`drawBoxes: fontScale must be a positive integer, got ${scale}`);
  const palette = options.palette ?? vocPalette();
  const fill = (x0: number, y0: number, x1: number, y1: number, colour: readonly number[]): void => {
    for (let y = Math.max(0, y0); y < Math.min(height, y1); y++) {
      for (let x = Math.max(0, x0); x < Math.min(width, x1); x++) data.set([colour[0], colour[1], colour[2], 255], (y * width + x) * 4);
    }
  };
  for (const detection of detections) {
    if (!Number.isInteger(detection.class) || detection.class < 0) throw new ConfigError(`drawBoxes: class must be a non-negative integer, got ${detection.class}`);
    const colour = palette[detection.class % palette.length];
    const [top, left, bottom, right] = detection.box.map(Math.round);
    fill(left, top, right, top + lineWidth, colour);
    fill(left, bottom - lineWidth, right, bottom, colour);
    fill(left, top, left + lineWidth, bottom, colour);
    fill(right - lineWidth, top, right, bottom, colour);
    if (options.labels === false) continue;
    const caption = detectionCaption(detection);
    const tabHeight = (GLYPH_HEIGHT + 2) * scale;
    const tabTop = top - tabHeight >= 0 ? top - tabHeight : Math.max(0, top);
    const tabLeft = Math.max(0, Math.min(left, width - (caption.length * (GLYPH_WIDTH + 1) + 1) * scale));
    fill(tabLeft, tabTop, tabLeft + (caption.length * (GLYPH_WIDTH + 1) + 1) * scale, tabTop + tabHeight, colour);
    // ITU-R BT.601 luma: dark text on light colours
    const ink = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] >= 128 ? [0, 0, 0] : [255, 255, 255];
    [...caption].forEach((character, i) => {
      const x0 = tabLeft + (1 + i * (GLYPH_WIDTH + 1)) * scale;
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let column = 0; column < GLYPH_WIDTH; column++) {
          if (glyphPixel(character, column, row)) fill(x0 + column * scale, tabTop + (1 + row) * scale, x0 + (column + 1) * scale, tabTop + (2 + row) * scale, ink);
        }
      }
    });
  }
  return image;
}
