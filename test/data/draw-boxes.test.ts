// drawBoxes against pixels drawn by hand: the outline, the label tab and its 3×5 glyphs ("A 0.50" in white on VOC
// red), the tab inside the box at the image's top edge, thickness and font scale, clipping, and bad input.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { drawBoxes, rgbaOf } from '../../src/data/draw-boxes.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

const KEY: Record<string, string> = { '0,0,0': '.', '128,0,0': 'R', '255,255,255': 'W', '0,128,0': 'G' };

/** Rows y0..y1−1, columns x0..x1−1 of an opaque RGBA image as characters: '.' black, R VOC red, G VOC green, W white. */
function art(image: { data: ArrayLike<number>; width: number }, [x0, x1]: [number, number], [y0, y1]: [number, number]): string[] {
  const rows: string[] = [];
  for (let y = y0; y < y1; y++) {
    let row = '';
    for (let x = x0; x < x1; x++) {
      const at = (y * image.width + x) * 4;
      assert.equal(image.data[at + 3], 255, `alpha at (${x}, ${y})`);
      row += KEY[`${image.data[at]},${image.data[at + 1]},${image.data[at + 2]}`] ?? '?';
    }
    rows.push(row);
  }
  return rows;
}

function black(width: number, height: number): { data: Uint8Array; width: number; height: number } {
  return { data: new Uint8Array(width * height * 3), width, height };
}

describe('drawBoxes', () => {
  it('draws the outline in the class colour and "A 0.50" on a tab above it, pixel for pixel', () => {
    const image = rgbaOf(black(40, 20));
    drawBoxes(image, [{ class: 1, label: 'a', score: 0.5, box: [10, 5, 18, 15] }]);
    const R = 'R'.repeat(25);
    // the tab: 7 rows above the box's top (y 3..9), 6 glyphs of 3 columns with a column between, from x 6
    assert.deepEqual(art(image, [5, 30], [3, 10]), [
      R,
      'RRWRRRRRRWWWRRRRRWWWRWWWR',
      'RWRWRRRRRWRWRRRRRWRRRWRWR',
      'RWWWRRRRRWRWRRRRRWWWRWRWR',
      'RWRWRRRRRWRWRRRRRRRWRWRWR',
      'RWRWRRRRRWWWRRWRRWWWRWWWR',
      R,
    ]);
    // the outline: rows 10 and 17, columns 5 and 14; inside and around it untouched
    assert.deepEqual(art(image, [3, 17], [9, 20]), [
      '..RRRRRRRRRRRR',
      '..RRRRRRRRRR..',
      '..R........R..',
      '..R........R..',
      '..R........R..',
      '..R........R..',
      '..R........R..',
      '..R........R..',
      '..RRRRRRRRRR..',
      '..............',
      '..............',
    ]);
    assert.deepEqual(art(image, [0, 40], [0, 3]), ['.'.repeat(40), '.'.repeat(40), '.'.repeat(40)]);
  });

  it('puts the tab inside a box at the top edge, moves it left to fit, rounds edges, and clips what leaves the image', () => {
    const image = rgbaOf(black(12, 10));
    // class 2 is VOC green; the top edge rounds to 0, the left to 4; the rest lies outside the image
    drawBoxes(image, [{ class: 2, score: 1, box: [-0.4, 3.6, 20, 30] }], { labels: false });
    assert.deepEqual(art(image, [0, 12], [0, 10]), [
      '....GGGGGGGG',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
      '....G.......',
    ]);
    const labelled = rgbaOf(black(12, 10));
    drawBoxes(labelled, [{ class: 2, label: 'I', score: 1, box: [0, 0, 10, 12] }]);
    // "I 1.00" at the top inside the box: the tab spans y 0..6 and x 0..11 (25 columns, clipped at 12); VOC green is dark, so white ink
    assert.deepEqual(art(labelled, [0, 12], [0, 8]), [
      'GGGGGGGGGGGG',
      'GWWWGGGGGGWG',
      'GGWGGGGGGWWG',
      'GGWGGGGGGGWG',
      'GGWGGGGGGGWG',
      'GWWWGGGGGWWW',
      'GGGGGGGGGGGG',
      'G..........G',
    ]);
  });

  it('draws thicker outlines and larger glyphs on request, keeps RGBA alpha in rgbaOf, and takes a palette', () => {
    const image = rgbaOf(black(10, 10));
    drawBoxes(image, [{ class: 0, score: 0.3, box: [2, 2, 8, 8] }], { lineWidth: 2, labels: false, palette: [[128, 0, 0]] });
    assert.deepEqual(art(image, [0, 10], [0, 10]), [
      '..........',
      '..........',
      '..RRRRRR..',
      '..RRRRRR..',
      '..RR..RR..',
      '..RR..RR..',
      '..RRRRRR..',
      '..RRRRRR..',
      '..........',
      '..........',
    ]);
    const big = rgbaOf(black(60, 30));
    drawBoxes(big, [{ class: 1, label: '1', score: 0, box: [20, 0, 30, 60] }], { fontScale: 2 });
    // "1 0.00": the tab is 14 rows high (y 6..19); the 1's top row (.#.) is 2×2 pixels at x 4..5, y 8..9
    assert.deepEqual(art(big, [0, 8], [6, 12]), ['RRRRRRRR', 'RRRRRRRR', 'RRRRWWRR', 'RRRRWWRR', 'RRWWWWRR', 'RRWWWWRR']);
    const rgba = rgbaOf({ data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), width: 2, height: 1 });
    assert.deepEqual(Array.from(rgba.data), [1, 2, 3, 4, 5, 6, 7, 8]);
    const grey = rgbaOf({ data: Uint8Array.from([9, 200]), width: 2, height: 1 });
    assert.deepEqual(Array.from(grey.data), [9, 9, 9, 255, 200, 200, 200, 255]);
  });

  it('refuses pixels that are not RGBA, a bad line width or font scale, and a negative class', () => {
    assert.throws(() => drawBoxes({ data: new Uint8Array(12), width: 2, height: 2 }, []), ShapeError);
    assert.throws(() => rgbaOf({ data: new Uint8Array(5), width: 2, height: 1 }), ShapeError);
    const image = rgbaOf(black(4, 4));
    assert.throws(() => drawBoxes(image, [], { lineWidth: 0 }), /lineWidth must be a positive integer/);
    assert.throws(() => drawBoxes(image, [], { fontScale: 1.5 }), ConfigError);
    assert.throws(() => drawBoxes(image, [{ class: -1, score: 1, box: [0, 0, 1, 1] }]), /class must be a non-negative integer/);
  });
});
