// Segmentation label maps: class names and the colours their masks are drawn in (PASCAL VOC's 21 classes and
// palette, the synthetic scenes' background + 10 Fashion-MNIST items), and the ignore label masks use for "void".

/** The label a mask uses for pixels no loss or metric counts (VOC's object borders and padding). */
export const IGNORE_LABEL = 255;

/** RGB per label, index = label; 256 entries so every byte of a mask has a colour. */
export type Palette = readonly (readonly [number, number, number])[];

/** A segmenter's classes and how to draw them. */
export interface LabelMap {
  classNames: readonly string[];
  palette: Palette;
}

/**
 * PASCAL VOC's colour map, as its devkit (`labelcolormap.m`) builds it: label i's three low bits go to the high
 * bits of red, green and blue, the next three one bit lower, and so on. Label 255 (void) is (224, 224, 192).
 */
export function vocPalette(): Palette {
  const palette: [number, number, number][] = [];
  for (let label = 0; label < 256; label++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let bit = 7, c = label; bit >= 0 && c > 0; bit--, c >>= 3) {
      r |= (c & 1) << bit;
      g |= ((c >> 1) & 1) << bit;
      b |= ((c >> 2) & 1) << bit;
    }
    palette.push([r, g, b]);
  }
  return palette;
}

/** PASCAL VOC 2012's 20 object classes after the background, in label order. */
export const VOC_CLASSES: readonly string[] = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** Fashion-MNIST's ten item names, label 1..10 in the synthetic scenes (0 is the background). */
export const FASHION_SCENE_CLASSES: readonly string[] = [
  'background', 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** The VOC label map: its 21 classes, drawn in the VOC palette. */
export function vocLabelMap(): LabelMap {
  return { classNames: VOC_CLASSES, palette: vocPalette() };
}

/**
 * A label map for `classes` labels: the given names (or "class k"), drawn in the VOC palette, which has a
 * distinct colour for every label 0..255.
 */
export function labelMapFor(classes: number, classNames?: readonly string[]): LabelMap {
  const names = classNames && classNames.length === classes ? classNames : Array.from({ length: classes }, (_, k) => (k === 0 ? 'background' : `class ${k}`));
  return { classNames: names, palette: vocPalette() };
}
