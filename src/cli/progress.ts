// Progress for long work (benchmarks, training, conversion): a cli-progress bar with rate and ETA when
// stderr is a terminal, plain lines at most every few seconds when it is not (logs, CI).

import cliProgress from 'cli-progress';
import type { CommandIO } from './io.js';

export interface Progress {
  /** Advances by `n` units. */
  tick(n?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** What one unit is, e.g. 'runs', 'images'. */
  unit: string;
  /** Seconds between plain lines when not a terminal. */
  plainEvery?: number;
  /** Units already done before this run (a resumed epoch): shown, but not counted in the rate or the ETA. */
  start?: number;
}

export function createProgress(io: CommandIO, o: ProgressOptions): Progress {
  const started = performance.now();
  const start = o.start ?? 0;
  let done = start;
  const rate = (): string => {
    const seconds = (performance.now() - started) / 1000;
    const perSecond = (done - start) / seconds;
    return seconds > 0 ? perSecond.toFixed(perSecond >= 10 ? 0 : 2) : '–';
  };
  if (io.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${o.label} [{bar}] {value}/{total} ${o.unit} | {rate} ${o.unit}/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(o.total, start, { rate: '–' });
    return {
      tick(n = 1) {
        done += n;
        bar.update(done, { rate: rate() });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let lastLine = started;
  const every = (o.plainEvery ?? 5) * 1000;
  return {
    tick(n = 1) {
      done += n;
      const now = performance.now();
      if (now - lastLine >= every || done === o.total) {
        lastLine = now;
        const eta = done > start ? ((now - started) / (done - start)) * (o.total - done) / 1000 : NaN;
        io.err(`${o.label}: ${done}/${o.total} ${o.unit}, ${rate()} ${o.unit}/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}`);
      }
    },
    stop() {},
  };
}
