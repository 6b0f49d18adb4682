// Published cost figures, as printed: the TF-slim MobileNetV2 checkpoint table (1001 classes) and
// MobileNetV1 paper Tables 6–7 (1000 classes). `unit` is the printed precision (one unit of the last digit).

export interface PublishedFigure {
  source: string;
  arch: 'mobilenet_v1' | 'mobilenet_v2';
  alpha: number;
  resolution: number;
  classes: number;
  /** Millions of multiply-adds, as printed. */
  macsMillions: number;
  macsUnit: number;
  /** Millions of parameters, as printed (absent where the source gives none). */
  paramsMillions?: number;
  paramsUnit?: number;
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
];

/** True when `value` agrees with a printed figure to its printed precision (within one unit of its last digit). */
export function agreesWithPrinted(value: number, printed: number, unit: number): boolean {
  return Math.abs(value - printed) < unit;
}
