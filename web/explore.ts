// Explore tab: the cost model live: pick V1/V2, α, input size and classes; per-layer chart and table of MACs,
// parameters and activation memory, totals beside the papers' printed figures, and the papers' comparisons as charts.

import { residualVsInverted, separableVsStandard } from '../src/cost/compare.js';
import { modelCost } from '../src/cost/model-cost.js';
import type { ModelCost } from '../src/cost/model-cost.js';
import { PUBLISHED_FIGURES } from '../src/cost/paper-figures.js';
import { buildModel } from '../src/models/registry.js';
import type { Model } from '../src/graph/model.js';
import { sizeOf } from '../src/tensor/tensor.js';
import { barChart, lineChart, place, short } from './charts.js';
import type { Series } from './charts.js';

interface Choice {
  arch: 'mobilenet_v1' | 'mobilenet_v2';
  alpha: number;
  resolution: number;
  classes: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function readForm(form: HTMLFormElement): Choice {
  const data = new FormData(form);
  return { arch: data.get('arch') as Choice['arch'], alpha: Number(data.get('alpha')), resolution: Number(data.get('resolution')), classes: Number(data.get('classes')) };
}

function costOf(choice: Choice): { model: Model; cost: ModelCost } {
  const model = buildModel(choice.arch, { alpha: choice.alpha, resolution: choice.resolution, classes: choice.classes });
  return { model, cost: modelCost(model) };
}

/** Per conv/dense layer: 16-bit bytes of its input and output, the pair layer-by-layer execution must hold. */
function layerPairs(model: Model): Map<string, number> {
  return new Map(model.nodes.filter((n) => n.inputs.length > 0).map((n) => [n.layer.name, 2 * (sizeOf(n.inputs[0].shape) + sizeOf(n.output.shape))]));
}

function table(rows: (string | number)[][], head: string[]): HTMLTableElement {
  const t = document.createElement('table');
  t.innerHTML = `<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`;
  const body = t.createTBody();
  for (const r of rows) body.insertRow().append(...r.map((v) => Object.assign(document.createElement('td'), { textContent: typeof v === 'number' ? v.toLocaleString() : v })));
  return t;
}

function renderTotals(choice: Choice, cost: ModelCost): void {
  const totals = $('explore-totals');
  const printed = PUBLISHED_FIGURES.filter((f) => f.arch === choice.arch && f.alpha === choice.alpha && f.resolution === choice.resolution);
  const rows: (string | number)[][] = [
    ['Multiply-adds', cost.macs, `${short(cost.macs)}`],
    ['Parameters (conv and dense weights and biases)', cost.params.weights, short(cost.params.weights)],
    ['Parameters with BN γ, β (torchvision)', cost.params.trainable, short(cost.params.trainable)],
    ['Parameters with BN statistics (Keras)', cost.params.total, short(cost.params.total)],
    [`Peak activation memory, unfused (every layer output, float32; at ${cost.memory.peakAt})`, cost.memory.peakBytes, `${short(cost.memory.peakBytes)}B`],
    ['Peak activation memory, fused blocks (Table 3 measure, 16-bit)', cost.memory.table3MaxBytes, `${short(cost.memory.table3MaxBytes)}B`],
  ];
  for (const f of printed) {
    rows.push([`${f.source} (${f.classes} classes): multiply-adds`, f.macsMillions * 1e6, `${f.macsMillions}M`]);
    if (f.paramsMillions !== undefined) rows.push([`${f.source} (${f.classes} classes): parameters`, f.paramsMillions * 1e6, `${f.paramsMillions}M`]);
  }
  const figures = printed.length === 0 ? 'No printed figure for this α and size.' : printed.some((f) => f.classes !== choice.classes) ? `The printed figures count ${printed[0].classes} classes; set classes to ${printed[0].classes} to compare exactly.` : '';
  const t = table(rows, ['', 'exact', '']);
  const note = Object.assign(document.createElement('p'), { className: 'note', textContent: figures });
  const perResolution = table(cost.memory.table3.map((r) => [r.resolution, r.operator, r.bytes]), ['resolution', 'largest operator (fused)', 'bytes (16-bit)']);
  totals.replaceChildren(t, note, perResolution);
  Object.assign(totals.dataset, {
    macs: String(cost.macs),
    params: String(cost.params.weights),
    trainable: String(cost.params.trainable),
    total: String(cost.params.total),
    peakBytes: String(cost.memory.peakBytes),
    fusedBytes: String(cost.memory.table3MaxBytes),
  });
}

function renderLayers(model: Model, cost: ModelCost): void {
  const layers = cost.layers.filter((l) => l.costKind !== 'other');
  const pairs = layerPairs(model);
  const metric = ($('explore-metric') as HTMLSelectElement).value;
  const labels = layers.map((l) => l.name);
  const titles = layers.map((l) => `${l.name} (${l.kind}, ${l.outputShape.join('×')})`);
  const series =
    metric === 'macs'
      ? [{ name: 'multiply-adds', values: layers.map((l) => l.macs) }]
      : metric === 'params'
        ? [{ name: 'weights', values: layers.map((l) => l.params.weights) }]
        : [
            { name: 'input + output, 16-bit', values: layers.map((l) => pairs.get(l.name) ?? 0) },
            { name: 'output, float32', values: layers.map((l) => l.activationBytes) },
          ];
  place($('explore-chart'), barChart(labels, series, metric === 'memory' ? 'bytes' : metric === 'macs' ? 'MACs' : 'parameters', { titles }));
  const rows = cost.layers.map((l) => [l.name, l.kind, l.outputShape.join('×'), l.macs, l.params.weights, l.params.total, l.activationBytes]);
  place($('explore-table'), table(rows, ['layer', 'kind', 'output', 'MACs', 'weights', 'params (Keras)', 'output bytes (f32)']));
}

function renderComparisons(choice: Choice): void {
  const channels = [32, 64, 128, 256, 512, 1024];
  const sep = channels.map((c) => separableVsStandard(3, c, c, 14));
  place($('compare-separable'), lineChart(channels, [{ name: 'standard', values: sep.map((s) => s.standardMacs) }, { name: 'depthwise separable', values: sep.map((s) => s.separableMacs) }], 'channels M = N', 'MACs'));
  const narrow = [8, 16, 24, 32, 48, 64];
  const blocks = narrow.map((n) => residualVsInverted(6 * n, n, 14));
  const blockLines = (what: 'macs' | 'params'): Series[] =>
    (['residual', 'inverted'] as const).map((kind) => ({ name: kind === 'residual' ? 'residual' : 'inverted residual', values: blocks.map((b) => (what === 'macs' ? b[kind].macs : b[kind].params.weights)) }));
  const xLabel = 'narrow channels (wide = 6 × narrow)';
  place($('compare-blocks'), lineChart(narrow, blockLines('macs'), xLabel, 'MACs', { width: 320 }), lineChart(narrow, blockLines('params'), xLabel, 'parameters', { width: 320 }));
  const both = (['mobilenet_v1', 'mobilenet_v2'] as const).map((arch) => ({ arch, cost: costOf({ ...choice, arch }).cost }));
  const versions = (label: string, value: (c: ModelCost) => number): SVGSVGElement =>
    barChart(['V1', 'V2'], [{ name: label, values: both.map((b) => value(b.cost)) }], label, { width: 200, height: 220 });
  place($('compare-versions'), versions('MACs', (c) => c.macs), versions('parameters', (c) => c.params.weights), versions('fused memory (B)', (c) => c.memory.table3MaxBytes));
}

function update(): void {
  const form = $<HTMLFormElement>('explore-form');
  const error = $('explore-error');
  const panel = $('explore');
  panel.dataset.busy = 'true';
  try {
    const choice = readForm(form);
    const { model, cost } = costOf(choice);
    renderTotals(choice, cost);
    renderLayers(model, cost);
    renderComparisons(choice);
    error.hidden = true;
    panel.dataset.choice = JSON.stringify(choice);
  } catch (e) {
    error.textContent = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    error.hidden = false;
  } finally {
    panel.dataset.busy = 'false';
  }
}

export function show(): void {
  $('explore-form').addEventListener('change', update);
  $('explore-metric').addEventListener('change', update);
  update();
}
