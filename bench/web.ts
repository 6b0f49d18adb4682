// `npm run bench:web`: the page's benchmark in headless chromium: MobileNetV2 1.0-224 at batch 1, our wasm engine on
// 1 and all threads against onnxruntime-web's wasm backend on 1 and all threads (one page load per ORT thread count,
// since ORT fixes it at start). Prints a table and writes web-results.json to a temporary folder, or over the committed
// bench/web-results.json with `--write` (`--out FILE` picks the file). Take numbers on a quiet machine.

import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';

import { buildPage } from '../web/harness/build.js';
import { chromiumPath, launchChromium } from '../web/harness/chromium.js';
import { serveStatic } from '../web/harness/static-server.js';
import type { BenchRow } from '../web/benchmark.js';
import { resultsFolder, writeResults } from './results-files.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' }, out: { type: 'string' }, write: { type: 'boolean' } } });
const out = values.out ?? join(await resultsFolder(values.write ?? false), 'web-results.json');
const runs = Number(values.runs);
const warmup = Number(values.warmup);
if (!(Number.isInteger(runs) && runs >= 1 && Number.isInteger(warmup) && warmup >= 0)) throw new Error('--runs must be a positive integer and --warmup a whole number');
const executable = chromiumPath();
if (!executable) throw new Error('chromium is not installed: apt-get install -y chromium');

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Runs the page's benchmark once with the given parts; returns its rows, or throws with the page's status. */
async function runPage(page: Page, url: string, ours: boolean, ort: boolean): Promise<{ rows: BenchRow[]; status: string; ortMissing: string | null }> {
  await page.goto(url);
  await page.waitForSelector('#benchmark[data-ready="true"]', { timeout: 60_000 });
  await page.fill('#bench-form [name="runs"]', String(runs));
  await page.fill('#bench-form [name="warmup"]', String(warmup));
  // a runtime the page cannot run is unticked and disabled, with the reason in #bench-unavailable
  for (const [name, wanted] of [['ours', ours], ['ort', ort]] as const) {
    const box = page.locator(`#bench-form [name="${name}"]`);
    if (await box.isEnabled()) await box.setChecked(wanted);
  }
  await page.locator('#bench-run').click();
  await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('bench-result')!.dataset.state ?? ''), undefined, { timeout: 0 });
  const status = (await page.locator('#bench-status').textContent()) ?? '';
  if ((await page.locator('#bench-result').getAttribute('data-state')) !== 'done') throw new Error(`the page's benchmark failed: ${status}`);
  const rows = JSON.parse((await page.locator('#bench-result').getAttribute('data-rows')) ?? '[]') as BenchRow[];
  return { rows, status, ortMissing: await page.locator('#bench-status').getAttribute('data-ort') };
}

const site = join(root, 'dist-web');
log('building the page (vite build → dist-web/)');
await buildPage(site);
const server = await serveStatic(site);
const browser = await launchChromium(executable);
try {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  const environment = await page.evaluate(() => ({ userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency, crossOriginIsolated }));
  const all = environment.crossOriginIsolated ? environment.hardwareConcurrency : 1;
  log(`chromium: ${environment.userAgent}; ${environment.hardwareConcurrency} threads; cross-origin isolated: ${environment.crossOriginIsolated}`);
  log(`mobilenet-ts on 1 and ${all} thread(s), onnxruntime-web on 1 thread: ${runs} runs after ${warmup} warm-up`);
  const first = await runPage(page, `${server.url}?ortThreads=1#benchmark`, true, true);
  const rows = [...first.rows];
  if (first.ortMissing) log(`onnxruntime-web skipped: ${first.ortMissing}`);
  else if (all > 1) {
    log(`onnxruntime-web on ${all} threads (a fresh page load)`);
    rows.push(...(await runPage(page, `${server.url}?ortThreads=${all}#benchmark`, false, true)).rows);
  }
  const find = (runtime: string, threads: number): BenchRow | undefined => rows.find((r) => r.runtime === runtime && r.threads === threads);
  const speedups = [1, all].filter((t, i, a) => a.indexOf(t) === i).flatMap((threads) => {
    const ours = find('mobilenet-ts wasm', threads);
    const ort = find('onnxruntime-web wasm', threads);
    return ours && ort ? [{ threads, oursMs: ours.medianMs, ortMs: ort.medianMs, speedup: ort.medianMs / ours.medianMs }] : [];
  });
  const result = { model: 'MobileNetV2 1.0-224, batch 1, random weights', date: new Date().toISOString(), runs, warmup, ...environment, rows, speedups, ortMissing: first.ortMissing };
  console.log('runtime                 threads  latency median ms   min ms  images/s');
  for (const r of rows) console.log(`${r.runtime.padEnd(22)} ${String(r.threads).padStart(8)} ${r.medianMs.toFixed(2).padStart(18)} ${r.minMs.toFixed(2).padStart(8)} ${r.imagesPerSecond.toFixed(1).padStart(9)}`);
  for (const s of speedups) console.log(`${s.threads} thread(s): mobilenet-ts is ${s.speedup.toFixed(2)}× onnxruntime-web's speed (median)`);
  await writeResults(dirname(out), { [basename(out)]: `${JSON.stringify(result, null, 2)}\n` });
} finally {
  await browser.close();
  await server.close();
}
