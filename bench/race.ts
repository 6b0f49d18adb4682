// The benchmarks' race: each runtime in a fresh child process per round, thread count and batch, in alternating
// order; the children's samples gathered into medians (p10–p90), peak RSS, and each peer's speed relative to ours.

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { quantile } from '../src/cli/bench.js';

/** The machine, for the results' header. */
export const MACHINE = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;

export interface RaceSettings {
  runs: number;
  warmup: number;
  rounds: number;
  threadCounts: number[];
  /** Batch sizes, each passed to the child as --batch; absent, batch 1 and no --batch. */
  batches?: number[];
}

/** What one child process measured; it prints this as its last stdout line. */
export interface ChildResult<R extends string = string> {
  runtime: R;
  label: string;
  threads: number;
  batch?: number;
  samplesMs: number[];
  plannedActivationBytes: number | null;
  peakRssBytes: number;
}

export interface Row<R extends string = string> {
  runtime: R;
  label: string;
  threads: number;
  batch: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
  plannedActivationBytes: number | null;
  peakRssBytes: number;
}

export interface Ratio<R extends string = string> {
  threads: number;
  batch: number;
  /** The runtime measured against (ours, unless the race names another). */
  base: R;
  peer: R;
  /** peer's median / base's median: above 1, the base is faster. */
  speedup: number;
}

/**
 * In the parent: runs `script --child RUNTIME --threads T [--batch B] --runs R --warmup W [--save-output] ...extraArgs` for
 * each round, thread count, batch and runtime, each round starting with the next runtime. A runtime that fails (or
 * that `skip` leaves out for a thread count or batch) is said and left out.
 */
export function race<R extends string>(
  name: string,
  script: string,
  runtimes: readonly R[],
  s: RaceSettings,
  extraArgs: readonly string[] = [],
  skip: (runtime: R, threads: number, batch: number) => boolean = () => false,
): ChildResult<R>[] {
  const results: ChildResult<R>[] = [];
  const batches = s.batches ?? [1];
  const plan = (threads: number, batch: number): R[] => runtimes.filter((r) => !skip(r, threads, batch));
  const total = s.rounds * s.threadCounts.reduce((n, t) => n + batches.reduce((m, b) => m + plan(t, b).length, 0), 0);
  let started = 0;
  for (let round = 0; round < s.rounds; round++) {
    for (const threads of s.threadCounts) {
      for (const batch of batches) {
        const active = plan(threads, batch);
        // alternate: each round starts with the next runtime, so drifting load on a shared machine hits all alike
        const order = active.map((_, i) => active[(i + round) % active.length]!);
        for (const runtime of order) {
          const saveOutput = round === 0 && threads === s.threadCounts[0] && batch === batches[0];
          const args = ['--import', 'tsx', script, '--child', runtime, '--threads', String(threads), ...(s.batches ? ['--batch', String(batch)] : []), '--runs', String(s.runs), '--warmup', String(s.warmup), ...(saveOutput ? ['--save-output'] : []), ...extraArgs];
          console.error(`${name} ${++started}/${total}: ${runtime}, ${threads} thread(s), batch ${batch}`);
          try {
            const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
            results.push({ batch, ...(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult<R>) });
          } catch (e) {
            console.error(`${name}: ${runtime} on ${threads} thread(s), batch ${batch} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
          }
        }
      }
    }
  }
  return results;
}

/** Times `run` in a child: `warmup` untimed runs (the first one's result returned), then `runs` timed ones. */
export async function timeRuns<T>(run: () => Promise<T>, s: { runs: number; warmup: number }): Promise<{ first: T; samplesMs: number[] }> {
  // warm-up: WebAssembly engines reach their optimized code only after a few runs
  const first = await run();
  for (let w = 1; w < s.warmup; w++) await run();
  const samplesMs: number[] = [];
  for (let r = 0; r < s.runs; r++) {
    const started = performance.now();
    await run();
    samplesMs.push(performance.now() - started);
  }
  return { first, samplesMs };
}

/** Medians and spreads per runtime, thread count and batch, and each other runtime's median over `base`'s. */
export function summarize<R extends string>(results: readonly ChildResult<R>[], runtimes: readonly R[], threadCounts: readonly number[], base: R, batches: readonly number[] = [1]): { rows: Row<R>[]; ratios: Ratio<R>[] } {
  const rows: Row<R>[] = [];
  for (const batch of batches) {
    for (const threads of threadCounts) {
      for (const runtime of runtimes) {
        const mine = results.filter((r) => r.runtime === runtime && r.threads === threads && (r.batch ?? 1) === batch);
        if (mine.length === 0) continue;
        const s = mine.flatMap((r) => r.samplesMs).sort((a, b) => a - b);
        rows.push({
          runtime,
          label: mine[0]!.label,
          threads,
          batch,
          medianMs: quantile(s, 0.5),
          p10Ms: quantile(s, 0.1),
          p90Ms: quantile(s, 0.9),
          samples: s.length,
          plannedActivationBytes: mine[0]!.plannedActivationBytes,
          peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes)),
        });
      }
    }
  }
  return { rows, ratios: ratiosAgainst(rows, base, runtimes) };
}

/** For each thread count and batch where `base` ran: every other of `peers` that ran there, as its median over base's. */
export function ratiosAgainst<R extends string>(rows: readonly Row<R>[], base: R, peers: readonly R[]): Ratio<R>[] {
  return rows
    .filter((r) => r.runtime === base)
    .flatMap((b) =>
      peers
        .filter((p) => p !== base)
        .flatMap((peer) => {
          const p = rows.find((r) => r.runtime === peer && r.threads === b.threads && r.batch === b.batch);
          return p ? [{ threads: b.threads, batch: b.batch, base, peer, speedup: p.medianMs / b.medianMs }] : [];
        }),
    );
}

/**
 * The results table (median with p10–p90, memory, and an agreement column: `header`, each runtime's `text`) and a line per ratio,
 * as markdown; a batch column when any row's batch is not 1.
 */
export function raceMarkdown<R extends string>(rows: readonly Row<R>[], ratios: readonly Ratio<R>[], agreement: { header: string; text: (runtime: R) => string }, digits = 0): { table: string; lines: string[] } {
  const mb = (b: number | null): string => (b === null ? '—' : `${(b / 1e6).toFixed(1)} MB`);
  const ms = (v: number): string => v.toFixed(digits);
  const batched = rows.some((r) => r.batch !== 1);
  const table = [
    `| runtime | threads |${batched ? ' batch | images/s |' : ''} median ms (p10–p90) | samples | planned activations | peak RSS (process) | ${agreement.header} |`,
    `| --- | --- |${batched ? ' --- | --- |' : ''} --- | --- | --- | --- | --- |`,
    ...rows.map((r) => `| ${r.label} | ${r.threads} |${batched ? ` ${r.batch} | ${((1000 * r.batch) / r.medianMs).toFixed(1)} |` : ''} ${ms(r.medianMs)} (${ms(r.p10Ms)}–${ms(r.p90Ms)}) | ${r.samples} | ${mb(r.plannedActivationBytes)} | ${mb(r.peakRssBytes)} | ${agreement.text(r.runtime)} |`),
  ].join('\n');
  const lines = ratios.map((r) => `- ${r.threads} thread(s)${batched ? `, batch ${r.batch}` : ''}: ${r.base} is **${r.speedup.toFixed(2)}×** ${r.peer}'s speed (median latency).`);
  return { table, lines };
}
