// The training curves as a self-contained SVG: loss (train and test) on the left axis, accuracy on
// the right, one point per epoch. Plain text out, so it renders in browsers and in the README.

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  trainTop1?: number;
  testTop1: number;
}

const W = 720;
const H = 360;
const M = { left: 56, right: 56, top: 28, bottom: 40 };

/** What the accuracy curves measure (a classifier's top-1 by default; a segmenter's pixel accuracy and mIoU). */
export interface AccuracyNames {
  train: string;
  test: string;
  axis: string;
}

const TOP1: AccuracyNames = { train: 'train top-1', test: 'test top-1', axis: 'top-1 accuracy' };

export function trainingCurvesSvg(points: readonly EpochPoint[], title: string, names: AccuracyNames = TOP1): string {
  const epochs = points.map((p) => p.epoch);
  const maxEpoch = Math.max(1, ...epochs);
  const losses = points.flatMap((p) => [p.trainLoss, p.testLoss]).filter(Number.isFinite);
  const maxLoss = Math.max(1e-9, ...losses) * 1.05;
  const x = (e: number): number => M.left + ((W - M.left - M.right) * e) / maxEpoch;
  const yLoss = (v: number): number => H - M.bottom - ((H - M.top - M.bottom) * v) / maxLoss;
  const yAcc = (v: number): number => H - M.bottom - (H - M.top - M.bottom) * v;
  const path = (get: (p: EpochPoint) => number | undefined, y: (v: number) => number): string =>
    points
      .filter((p) => Number.isFinite(get(p)))
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.epoch).toFixed(1)},${y(get(p)!).toFixed(1)}`)
      .join(' ');
  const series: [string, string, (p: EpochPoint) => number | undefined, (v: number) => number, string][] = [
    ['train loss', '#1f77b4', (p) => p.trainLoss, yLoss, ''],
    ['test loss', '#ff7f0e', (p) => p.testLoss, yLoss, ''],
    [names.train, '#2ca02c', (p) => p.trainTop1, yAcc, ' stroke-dasharray="4 3"'],
    [names.test, '#d62728', (p) => p.testTop1, yAcc, ' stroke-dasharray="4 3"'],
  ];
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const xTicks = Array.from(new Set([0, ...epochs.filter((_, i) => i % Math.ceil(epochs.length / 10) === 0), maxEpoch]));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#888"/>`,
    ...ticks.map((t) => `<text x="${M.left - 6}" y="${yLoss(t * maxLoss / 1.05) + 4}" text-anchor="end">${(t * maxLoss / 1.05).toFixed(2)}</text>`),
    ...ticks.map((t) => `<text x="${W - M.right + 6}" y="${yAcc(t) + 4}">${(100 * t).toFixed(0)}%</text><line x1="${M.left}" y1="${yAcc(t)}" x2="${W - M.right}" y2="${yAcc(t)}" stroke="#eee"/>`),
    ...xTicks.map((e) => `<text x="${x(e)}" y="${H - M.bottom + 16}" text-anchor="middle">${e}</text>`),
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">epoch</text>`,
    `<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">loss</text>`,
    `<text x="${W - 10}" y="${H / 2}" transform="rotate(90 ${W - 10} ${H / 2})" text-anchor="middle">${escapeXml(names.axis)}</text>`,
    ...series.map(([, color, get, y, dash]) => `<path d="${path(get, y)}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`),
    ...series.map(([name, color], i) => `<rect x="${M.left + 10 + i * 120}" y="${M.top}" width="12" height="3" fill="${color}"/><text x="${M.left + 26 + i * 120}" y="${M.top + 5}">${name}</text>`),
    '</svg>',
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
