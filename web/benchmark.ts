// Benchmark tab: MobileNetV2 1.0-224 at batch 1 in this browser: our wasm engine on 1 thread and on all threads,
// and onnxruntime-web's wasm backend on our ONNX export of the same graph (loaded only here, and only if installed):
// only what this page can run is ticked, and what it cannot is said with the reason.

import { WasmEngine } from '../src/backend/wasm/engine.js';
import { encodeOnnx } from '../src/io/onnx/export.js';
import { mobilenetV2 } from '../src/models/mobilenet-v2.js';
import type { Model } from '../src/graph/model.js';
import { Random } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export interface BenchRow {
  runtime: string;
  threads: number;
  /** Milliseconds per run, sorted. */
  times: number[];
  medianMs: number;
  minMs: number;
  imagesPerSecond: number;
  note?: string;
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function summarise(runtime: string, threads: number, times: number[], note?: string): BenchRow {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { runtime, threads, times: sorted, medianMs: median, minMs: sorted[0], imagesPerSecond: 1000 / median, ...(note ? { note } : {}) };
}

/** Times `run` `runs` times after `warmup` untimed runs, yielding to the page between runs. */
async function timeRuns(run: () => unknown | Promise<unknown>, runs: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    await tick();
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return times;
}

async function ours(model: Model, input: Tensor, threads: number, runs: number, warmup: number): Promise<BenchRow> {
  const engine = await WasmEngine.create(model, { threads });
  try {
    const times = await timeRuns(() => engine.predict(input), runs, warmup);
    return summarise('mobilenet-ts wasm', engine.threads, times, engine.threadsNote ?? undefined);
  } finally {
    await engine.dispose();
  }
}

/** onnxruntime-web fixes its thread count when it starts: `?ortThreads=N` in the URL picks it (default: all). */
export function ortThreads(): number {
  const asked = Number(new URLSearchParams(location.search).get('ortThreads'));
  return Number.isInteger(asked) && asked >= 1 ? asked : crossOriginIsolated ? navigator.hardwareConcurrency : 1;
}

async function onnxRuntimeWeb(model: Model, input: Tensor, runs: number, warmup: number): Promise<BenchRow | string> {
  const ort = await import('virtual:ort-web');
  if ('missing' in ort && ort.missing) return ort.missing;
  const threads = ortThreads();
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(encodeOnnx(model), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  try {
    const [h, w, c] = model.inputShape;
    const nchw = new Float32Array(c * h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) nchw[(k * h + y) * w + x] = input.data[(y * w + x) * c + k];
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', nchw, [1, c, h, w]) };
    const times = await timeRuns(() => session.run(feeds), runs, warmup);
    return summarise('onnxruntime-web wasm', threads, times, 'threads fixed at start: reload with ?ortThreads=N for another count');
  } finally {
    await session.release();
  }
}

/** The table in `mobilenet bench`'s words: latency in ms per run of batch 1 (so per image), throughput in images/s. */
function render(rows: BenchRow[]): void {
  const t = document.createElement('table');
  t.innerHTML = '<thead><tr><th>runtime</th><th>threads</th><th>batch</th><th>latency median (ms)</th><th>latency min (ms)</th><th>throughput (images/s)</th><th></th></tr></thead>';
  const body = t.createTBody();
  for (const r of rows) {
    body.insertRow().append(
      ...[r.runtime, r.threads, 1, r.medianMs.toFixed(2), r.minMs.toFixed(2), r.imagesPerSecond.toFixed(1), r.note ?? ''].map((v) => Object.assign(document.createElement('td'), { textContent: String(v) })),
    );
  }
  $('bench-result').replaceChildren(t);
}

/** Runs the whole benchmark; the rows also land in #bench-result's data-rows (JSON) for scripts. */
export async function runBenchmark(runs: number, warmup: number, withOurs: boolean, withOrt: boolean): Promise<BenchRow[]> {
  const status = $('bench-status');
  const result = $('bench-result');
  result.dataset.state = 'running';
  const rows: BenchRow[] = [];
  try {
    status.textContent = 'building MobileNetV2 1.0-224 (random weights)…';
    await tick();
    const model = mobilenetV2({ alpha: 1, resolution: 224, classes: 1000 });
    const random = new Random(1);
    const input = new Tensor([1, 224, 224, 3], Float32Array.from({ length: 224 * 224 * 3 }, () => 2 * random.uniform() - 1));
    const all = crossOriginIsolated ? navigator.hardwareConcurrency : 1;
    for (const threads of !withOurs ? [] : all > 1 ? [1, all] : [1]) {
      status.textContent = `mobilenet-ts, ${threads} thread(s)…`;
      rows.push(await ours(model, input, threads, runs, warmup));
      render(rows);
    }
    if (withOrt) {
      status.textContent = 'onnxruntime-web…';
      const row = await onnxRuntimeWeb(model, input, runs, warmup);
      if (typeof row === 'string') status.dataset.ort = row;
      else rows.push(row);
      render(rows);
    }
    status.textContent = `done: ${runs} runs after ${warmup} warm-up, batch 1${withOrt && status.dataset.ort ? ` (${status.dataset.ort})` : ''}`;
    result.dataset.state = 'done';
  } catch (e) {
    status.textContent = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    result.dataset.state = 'failed';
  }
  result.dataset.rows = JSON.stringify(rows);
  return rows;
}

/**
 * Ticks each runtime this page can run and leaves the others unticked and disabled, saying why in #bench-unavailable;
 * onnxruntime-web's reason also goes to #bench-status's data-ort for scripts.
 */
async function offerRuntimes(form: HTMLFormElement): Promise<void> {
  const box = (name: string): HTMLInputElement => form.elements.namedItem(name) as HTMLInputElement;
  const ort = await import('virtual:ort-web');
  const reasons = new Map<string, string | undefined>([
    ['ours', WasmEngine.supported() ? undefined : 'mobilenet-ts: this browser does not validate WebAssembly SIMD, which the engine needs'],
    ['ort', 'missing' in ort ? ort.missing : undefined],
  ]);
  for (const [name, reason] of reasons) Object.assign(box(name), { checked: reason === undefined, disabled: reason !== undefined });
  const why = [...reasons.values()].filter((r) => r !== undefined);
  const line = $('bench-unavailable');
  line.textContent = why.length ? `Not available here: ${why.join('; ')}.` : '';
  line.hidden = why.length === 0;
  const ortReason = reasons.get('ort');
  if (ortReason) $('bench-status').dataset.ort = ortReason;
}

export async function show(): Promise<void> {
  const form = $<HTMLFormElement>('bench-form');
  await offerRuntimes(form);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    void runBenchmark(Number(data.get('runs')), Number(data.get('warmup')), data.get('ours') === 'on', data.get('ort') === 'on');
  });
}
