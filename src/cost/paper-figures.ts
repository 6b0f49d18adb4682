// Published cost figures, as printed: the TF-slim MobileNetV2 checkpoint table (1001 classes), MobileNetV1 paper Tables
// 6–7 (1000 classes), MobileNetV2 paper Tables 6 (SSDLite, 80 classes) and 7 (Mobile DeepLabv3, 21). `unit`: printed precision.

import type { Model } from '../graph/model.js';
import type { DeepLabHead } from '../models/deeplab-v3.js';
import type { OutputStride } from '../models/output-stride.js';
import type { Architecture } from '../models/registry.js';
import { buildModel } from '../models/registry.js';
import type { ParamCounts } from './model-cost.js';

export interface PublishedFigure {
  source: string;
  arch: Architecture;
  alpha: number;
  resolution: number;
  classes: number;
  /** Further builder options: DeepLab's output stride and head. */
  options?: { outputStride: OutputStride; head: DeepLabHead };
  /** Millions of multiply-adds, as printed (one unit of the last printed digit: `macsUnit`). */
  macsMillions: number;
  macsUnit: number;
  /** Millions of parameters, as printed (absent where the source gives none). */
  paramsMillions?: number;
  paramsUnit?: number;
  /** The count the printed parameters are: conv and dense weights (TF-slim, the default) or with BN γ, β (torchvision). */
  paramsRule?: 'weights' | 'trainable';
  /** Where our count (conv MACs only) does not reproduce the print: our figure, to the same precision, and why. */
  oursDiffers?: { macsMillions: number; why: string };
}

const slim = (alpha: number, resolution: number, macs: number, params?: number): PublishedFigure => ({
  source: 'TF-slim MobileNetV2 table',
  arch: 'mobilenet_v2',
  alpha,
  resolution,
  classes: 1001,
  macsMillions: macs,
  macsUnit: 1,
  ...(params === undefined ? {} : { paramsMillions: params, paramsUnit: 0.01 }),
});

const v1 = (table: string, alpha: number, resolution: number, macs: number, params: number): PublishedFigure => ({
  source: `MobileNetV1 paper ${table}`,
  arch: 'mobilenet_v1',
  alpha,
  resolution,
  classes: 1000,
  macsMillions: macs,
  macsUnit: 1,
  paramsMillions: params,
  paramsUnit: 0.1,
});

/** MobileNetV2 paper Table 7: Mobile DeepLabv3, α 1, 513×513, OS 16, PASCAL VOC's 21 classes; billions printed to 0.01. */
const deeplab = (head: DeepLabHead, macs: number, params: number, oursDiffers?: PublishedFigure['oursDiffers']): PublishedFigure => ({
  source: 'MobileNetV2 paper Table 7',
  arch: 'deeplabv3_mobilenet_v2',
  alpha: 1.0,
  resolution: 513,
  classes: 21,
  options: { outputStride: 16, head },
  macsMillions: macs,
  macsUnit: head === 'aspp' ? 100 : 10,
  paramsMillions: params,
  paramsUnit: 0.01,
  paramsRule: 'trainable',
  ...(oursDiffers ? { oursDiffers } : {}),
});

/** MobileNetV2 paper Table 6: SSDLite on MobileNetV2, 320×320, COCO's 80 classes (+ background); 0.8B MACs, 4.3M parameters. */
const ssdlite: PublishedFigure = {
  source: 'MobileNetV2 paper Table 6',
  arch: 'ssdlite_mobilenet_v2',
  alpha: 1.0,
  resolution: 320,
  classes: 80,
  macsMillions: 800,
  macsUnit: 100,
  paramsMillions: 4.3,
  paramsUnit: 0.1,
  paramsRule: 'trainable',
};

export const PUBLISHED_FIGURES: readonly PublishedFigure[] = [
  slim(1.4, 224, 582, 6.06),
  slim(1.3, 224, 509, 5.34),
  slim(1.0, 224, 300, 3.47),
  slim(1.0, 192, 221),
  slim(1.0, 160, 154),
  slim(1.0, 128, 99),
  slim(1.0, 96, 56),
  slim(0.75, 224, 209, 2.61),
  slim(0.5, 224, 97, 1.95),
  slim(0.35, 224, 59, 1.66),
  v1('Table 6', 1.0, 224, 569, 4.2),
  v1('Table 6', 0.75, 224, 325, 2.6),
  v1('Table 6', 0.5, 224, 149, 1.3),
  v1('Table 6', 0.25, 224, 41, 0.5),
  v1('Table 7', 1.0, 192, 418, 4.2),
  v1('Table 7', 1.0, 160, 290, 4.2),
  v1('Table 7', 1.0, 128, 186, 4.2),
  ssdlite,
  deeplab('mobile', 2750, 2.11),
  deeplab('aspp', 5800, 4.52, {
    macsMillions: 5360,
    why: 'conv multiply-adds by the golden README\'s counting rule give 5.36B; this layout does not reproduce the printed 5.8B',
  }),
];

/** The model a figure describes. */
export function figureModel(f: PublishedFigure): Model {
  return buildModel(f.arch, { alpha: f.alpha, resolution: f.resolution, classes: f.classes, ...f.options });
}

/** Our parameter count by the figure's rule. */
export function figureParams(f: PublishedFigure, params: ParamCounts): number {
  return f.paramsRule === 'trainable' ? params.trainable : params.weights;
}

/** `mobilenet_v2 1.4-224`, `deeplabv3_mobilenet_v2 1-513 OS 16 aspp`. */
export function figureLabel(f: PublishedFigure): string {
  return `${f.arch} ${f.alpha}-${f.resolution}${f.options ? ` OS ${f.options.outputStride} ${f.options.head}` : ''}`;
}

/** True when `value` agrees with a printed figure to its printed precision (within one unit of its last digit). */
export function agreesWithPrinted(value: number, printed: number, unit: number): boolean {
  return Math.abs(value - printed) < unit;
}
