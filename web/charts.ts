// Plain SVG charts for the page: grouped bars (per layer, or per case) and lines over an x axis, with axes,
// labels and a legend, sized to their data; no chart library.

const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#2563eb', '#f97316', '#16a34a', '#9333ea'];

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** 1234567 → "1.23M": short numbers for axes. */
export function short(value: number): string {
  const abs = Math.abs(value);
  for (const [unit, size] of [['G', 1e9], ['M', 1e6], ['k', 1e3]] as const) if (abs >= size) return `${+(value / size).toPrecision(3)}${unit}`;
  return `${+value.toPrecision(3)}`;
}

export interface Series {
  name: string;
  values: number[];
}

interface Frame {
  svg: SVGSVGElement;
  plot: { left: number; top: number; width: number; height: number };
  y: (v: number) => number;
}

/** Axes, grid and legend; `bottom` leaves room under the plot for the x labels and the legend. */
function frame(width: number, height: number, bottom: number, max: number, yLabel: string, series: Series[]): Frame {
  const plot = { left: 56, top: 24, width: width - 66, height: height - bottom };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  const top = max > 0 ? max : 1;
  const y = (v: number): number => plot.top + plot.height * (1 - v / top);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(el('line', { x1: plot.left, x2: plot.left + plot.width, y1: y(v), y2: y(v), stroke: '#eee' }));
    svg.append(el('text', { x: plot.left - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10 }, short(v)));
  }
  svg.append(el('text', { x: 4, y: 12, 'font-size': 11 }, yLabel));
  series.forEach((s, i) => {
    const x = plot.left + 8 + i * Math.min(150, (width - plot.left) / series.length);
    svg.append(el('rect', { x, y: height - 14, width: 10, height: 10, fill: COLOURS[i % COLOURS.length] }));
    svg.append(el('text', { x: x + 14, y: height - 5, 'font-size': 11 }, s.name));
  });
  return { svg, plot, y };
}

/** Bars per category, one per series side by side; `labels` under each category (thinned where crowded). */
export function barChart(labels: string[], series: Series[], yLabel: string, options: { width?: number; height?: number; titles?: string[] } = {}): SVGSVGElement {
  const width = options.width ?? Math.max(360, Math.min(1400, 40 + labels.length * 14 * series.length));
  const height = options.height ?? 340;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const longest = Math.max(0, ...labels.map((l) => l.length));
  const rotate = longest > 6;
  const { svg, plot, y } = frame(width, height, rotate ? 44 + Math.min(110, 5 * longest) : 50, max, yLabel, series);
  const slot = plot.width / Math.max(1, labels.length);
  const bar = Math.max(1, (slot * 0.8) / series.length);
  const every = Math.ceil(labels.length / Math.max(1, Math.floor(plot.width / 14)));
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i];
      const rect = el('rect', { x: plot.left + i * slot + slot * 0.1 + j * bar, y: y(v), width: bar, height: plot.top + plot.height - y(v), fill: COLOURS[j % COLOURS.length] });
      rect.append(el('title', {}, `${options.titles?.[i] ?? label} — ${s.name}: ${v.toLocaleString()}`));
      svg.append(rect);
    });
    if (i % every === 0) {
      const x = plot.left + (i + 0.5) * slot;
      const yText = plot.top + plot.height + (rotate ? 8 : 14);
      svg.append(el('text', rotate ? { x, y: yText, 'font-size': 9, 'text-anchor': 'end', transform: `rotate(-60 ${x} ${yText})` } : { x, y: yText, 'font-size': 10, 'text-anchor': 'middle' }, label));
    }
  });
  return svg;
}

/** Lines over x values placed evenly (the cases as given, e.g. doubling channel counts), one per series. */
export function lineChart(xs: number[], series: Series[], xLabel: string, yLabel: string, options: { width?: number; height?: number } = {}): SVGSVGElement {
  const width = options.width ?? 420;
  const height = options.height ?? 280;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const { svg, plot, y } = frame(width, height, 76, max, yLabel, series);
  const at = (i: number): number => plot.left + 10 + (xs.length > 1 ? ((plot.width - 20) * i) / (xs.length - 1) : 0);
  xs.forEach((v, i) => svg.append(el('text', { x: at(i), y: plot.top + plot.height + 14, 'font-size': 10, 'text-anchor': 'middle' }, short(v))));
  svg.append(el('text', { x: plot.left + plot.width / 2, y: plot.top + plot.height + 32, 'font-size': 11, 'text-anchor': 'middle' }, xLabel));
  series.forEach((s, j) => {
    const points = s.values.map((v, i) => `${at(i)},${y(v)}`).join(' ');
    svg.append(el('polyline', { points, fill: 'none', stroke: COLOURS[j % COLOURS.length], 'stroke-width': 2 }));
    s.values.forEach((v, i) => {
      const dot = el('circle', { cx: at(i), cy: y(v), r: 3, fill: COLOURS[j % COLOURS.length] });
      dot.append(el('title', {}, `${s.name} at ${xs[i]}: ${v.toLocaleString()}`));
      svg.append(dot);
    });
  });
  return svg;
}

/** Replaces the content of `container` with `nodes`. */
export function place(container: HTMLElement, ...nodes: Node[]): void {
  container.replaceChildren(...nodes);
}
