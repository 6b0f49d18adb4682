// Threads for the wasm engine: persistent workers over one shared memory, and the control block they are
// dispatched through (generation counter, step, batch, pointers, completion counter) — no message per step; work
// added after start (the training backends' kernels, compiled per shape on first use) comes as one message per module.

import { MobileNetError } from '../../errors.js';
import type { PartRunner, Work } from './threads-work.js';

/** A worker failed to start or a step failed inside one: the message says which and why. */
export class ThreadError extends MobileNetError {}

/** Int32 slots of the control block. */
export const Slot = {
  /** Bumped by the main thread for each dispatch; workers wait for it to change. */
  generation: 0,
  step: 1,
  batch: 2,
  /** Parts the step is split into; threads at or beyond it only acknowledge. */
  parts: 3,
  /** Workers that finished the current dispatch; the last one notifies. */
  done: 4,
  /** Workers asleep in Atomics.wait, so that the main thread notifies only when someone sleeps. */
  sleepers: 5,
  stop: 6,
  /** 1 + the thread whose step failed (0: none), and the length of its message in the text area. */
  error: 7,
  errorLength: 8,
  /** Input, output and residual byte pointers of the current dispatch. */
  input: 9,
  output: 10,
  residual: 11,
} as const;

/** The `step` of a dispatch that sends workers back to their event loop to take a `WorkerLoad` message. */
export const LOAD_STEP = -1;

const HEADER_INTS = 16;
const ERROR_TEXT_BYTES = 1024;
/** First Int32 of the pointer table: input, output and residual byte pointers of each step, for the current arena (copied into the header per dispatch). */
export const POINTERS = HEADER_INTS + ERROR_TEXT_BYTES / 4;
export const POINTERS_PER_STEP = 3;

/**
 * How long a waiting thread spins before it sleeps, in ms. Steps follow each other within microseconds and
 * take 0.1–0.9 ms each (MobileNetV2 at batch 1), while a futex wake-up costs 50–150 µs here (a VM): workers
 * spin through the gaps between steps and between back-to-back batches, the main thread through a step's
 * imbalance. Not longer, and not at all with more threads than cores: a spinning thread that shares a core
 * with one still working delays it by its whole spin (a 0.23 ms step took 1.5 ms behind a 2 ms spin).
 */
const SPIN_MS = 0.5;

/** Cores this process may use, where the platform says; null where it does not. */
async function cores(): Promise<number | null> {
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (fromNavigator) return fromNavigator;
  if (!isNode()) return null;
  const os = await import('node:os');
  return os.availableParallelism?.() ?? os.cpus().length;
}

export function createControl(steps: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (POINTERS + POINTERS_PER_STEP * steps)));
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not: it must spin). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until `control[slot]` differs from `seen` and returns it: spins for `spinMs`, then sleeps (counted
 * in `sleepers`, so that the main thread notifies only when someone sleeps). Infinity: spin only.
 */
export function awaitChange(control: Int32Array, slot: number, seen: number, spinMs: number): number {
  const deadline = performance.now() + spinMs;
  for (let i = 1; ; i++) {
    const value = Atomics.load(control, slot);
    if (value !== seen) return value;
    if ((i & 255) === 0 && performance.now() > deadline) break;
  }
  for (;;) {
    Atomics.add(control, Slot.sleepers, 1);
    Atomics.wait(control, slot, seen);
    Atomics.sub(control, Slot.sleepers, 1);
    const value = Atomics.load(control, slot);
    if (value !== seen) return value;
  }
}

/** Waits until `control[slot]` equals `target` (it only grows towards it): spins for `spinMs`, then sleeps. */
function awaitValue(control: Int32Array, slot: number, target: number, spinMs: number): void {
  const deadline = performance.now() + spinMs;
  for (let i = 1; ; i++) {
    if (Atomics.load(control, slot) === target) return;
    if ((i & 255) === 0 && performance.now() > deadline) break;
  }
  for (let value = Atomics.load(control, slot); value !== target; value = Atomics.load(control, slot)) Atomics.wait(control, slot, value);
}

/** Records a failed step for the main thread to throw; the first failure wins. */
export function reportError(control: Int32Array, thread: number, message: string): void {
  if (Atomics.compareExchange(control, Slot.error, 0, thread + 1) !== 0) return;
  const bytes = new TextEncoder().encode(message).slice(0, ERROR_TEXT_BYTES);
  new Uint8Array(control.buffer, HEADER_INTS * 4, ERROR_TEXT_BYTES).set(bytes);
  Atomics.store(control, Slot.errorLength, bytes.length);
}

function takeError(control: Int32Array): string | null {
  const thread = Atomics.load(control, Slot.error);
  if (thread === 0) return null;
  // copied out of the shared buffer: TextDecoder refuses views of shared memory
  const bytes = new Uint8Array(control.buffer, HEADER_INTS * 4, Atomics.load(control, Slot.errorLength)).slice();
  Atomics.store(control, Slot.error, 0);
  return `thread ${thread - 1}: ${new TextDecoder().decode(bytes)}`;
}

/** What a worker gets once, at start: everything it needs to rebuild the steps without packing anything. */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  /** The module the main thread compiled; workers instantiate it against the shared memory. */
  module: WebAssembly.Module;
  control: Int32Array;
  thread: number;
  threads: number;
  /** How long the worker spins for the next dispatch before it sleeps. */
  spinMs: number;
  /** Per step: the work every thread runs, or null for steps the main thread runs alone. */
  works: (Work | null)[];
}

/** Work added after start: steps numbered on from the last, bound to the kernels of their own module. */
export interface WorkerLoad {
  module: WebAssembly.Module;
  works: Work[];
}

export type WorkerReply = { ready: true } | { ready: false; error: string };

/** The little a pool needs of a Node or web worker. */
interface WorkerHandle {
  post(message: WorkerInit | WorkerLoad): void;
  /** The first reply, or a ThreadError if the worker dies first. */
  reply(): Promise<WorkerReply>;
  /** Lets the process exit while the worker lives (Node); a no-op on the web. */
  unref(): void;
  terminate(): Promise<void>;
}

export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Why workers cannot run here, or null when they can. */
export function threadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') {
    return 'SharedArrayBuffer is unavailable (a browser page needs cross-origin isolation: COOP and COEP headers)';
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return 'this page is not cross-origin isolated, so memory cannot be shared with workers';
  if (!isNode() && typeof Worker === 'undefined') return 'this context has no Worker';
  return null;
}

/**
 * The Node worker's module beside this one: the .ts source under tsx (tests), the .js file in the built package.
 * Hidden from bundlers (`@vite-ignore`), which would otherwise copy these files as assets into a web build.
 */
function workerEntry(): URL {
  return import.meta.url.endsWith('.ts') ? new URL(/* @vite-ignore */ './worker.ts', import.meta.url) : new URL(/* @vite-ignore */ './worker.js', import.meta.url);
}

async function spawnNode(entry: URL): Promise<WorkerHandle> {
  const { Worker } = await import('node:worker_threads');
  let worker;
  if (entry.pathname.endsWith('.ts')) {
    // Node 20 does not pass tsx's loader hooks on to workers (not even with --import tsx in execArgv):
    // a plain-JS bootstrap registers them inside the worker, then loads the .ts entry
    let tsx: string | null = null;
    try {
      tsx = import.meta.resolve('tsx/esm/api');
    } catch {
      tsx = null; // another TypeScript runner: hope it reaches workers by itself
    }
    worker = tsx ? new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true }) : new Worker(entry);
  } else {
    worker = new Worker(entry);
  }
  const w = worker;
  return {
    post: (message) => w.postMessage(message),
    reply: () =>
      new Promise((resolve, reject) => {
        const fail = (e: unknown): void => reject(new ThreadError(`worker failed to start: ${e instanceof Error ? e.message : String(e)}`));
        w.once('message', resolve);
        w.once('error', fail);
        w.once('exit', (code) => fail(`exited with code ${code}`));
      }),
    unref: () => {
      w.removeAllListeners();
      // an error after start is reported through the control block; this only keeps it from killing the process
      w.on('error', () => {});
      w.unref();
    },
    terminate: async () => {
      await w.terminate();
    },
  };
}

/**
 * A module worker. The URL is written out in the call, not passed in, so that bundlers (Vite, webpack, esbuild
 * plugins) see `new Worker(new URL(…, import.meta.url))`, bundle the worker and rewrite the URL; unbundled, the
 * built package's worker.js beside this file is loaded as it is.
 */
function spawnWeb(): WorkerHandle {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return {
    post: (message) => w.postMessage(message),
    reply: () =>
      new Promise((resolve, reject) => {
        w.addEventListener('message', (e: MessageEvent<WorkerReply>) => resolve(e.data), { once: true });
        w.addEventListener('error', (e) => reject(new ThreadError(`worker failed to start: ${e.message}`)), { once: true });
      }),
    unref: () => {},
    terminate: async () => w.terminate(),
  };
}

/**
 * `threads − 1` workers plus the main thread. The main thread dispatches a step by writing it into the
 * control block and bumping the generation, runs part 0 itself, then waits for the workers' acknowledgements.
 */
export class ThreadPool {
  /** Input, output and residual byte pointers per step: the engine writes them when it plans an arena. */
  readonly pointers: Int32Array;
  private disposed = false;
  /** Steps so far: those given at start, then those added by `load`. */
  private stepCount: number;

  private constructor(
    readonly threads: number,
    private readonly control: Int32Array,
    private readonly workers: WorkerHandle[],
    /** How long this thread spins for the workers before it sleeps; Infinity where it may not sleep. */
    private readonly spinMs: number,
    steps: number,
  ) {
    this.pointers = control.subarray(POINTERS);
    this.stepCount = steps;
  }

  /** Starts `threads − 1` workers and waits until each has instantiated the module and bound its steps. */
  static async start(threads: number, memory: WebAssembly.Memory, module: WebAssembly.Module, works: (Work | null)[]): Promise<ThreadPool> {
    const control = createControl(works.length);
    const available = await cores();
    const spinMs = available !== null && threads > available ? 0 : SPIN_MS;
    const workers = await Promise.all(Array.from({ length: threads - 1 }, () => (isNode() ? spawnNode(workerEntry()) : spawnWeb())));
    try {
      const replies = await Promise.all(
        workers.map((w, i) => {
          const reply = w.reply();
          w.post({ memory, module, control, thread: i + 1, threads, spinMs, works });
          return reply;
        }),
      );
      const failed = replies.find((r): r is Extract<WorkerReply, { ready: false }> => !r.ready);
      if (failed) throw new ThreadError(`worker failed to start: ${failed.error}`);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) w.unref();
    return new ThreadPool(threads, control, workers, canBlock() ? spinMs : Infinity, works.length);
  }

  /**
   * Runs `step` for `batch` images in `parts` parts: part 0 with `own` on this thread, parts 1… on the
   * workers, all on the step's pointers in `pointers`.
   */
  run(step: number, batch: number, parts: number, own: PartRunner): void {
    const p = step * POINTERS_PER_STEP;
    this.runAt(step, this.pointers[p], this.pointers[p + 1], this.pointers[p + 2], batch, parts, own);
  }

  /** As `run`, on the pointers given (work whose tensors move from call to call). */
  runAt(step: number, input: number, output: number, residual: number, batch: number, parts: number, own: PartRunner): void {
    if (this.disposed) throw new ThreadError('the thread pool was disposed');
    if (!Number.isInteger(step) || step < 0 || step >= this.stepCount) throw new ThreadError(`no step ${step} (${this.stepCount} steps)`);
    const c = this.control;
    Atomics.store(c, Slot.input, input);
    Atomics.store(c, Slot.output, output);
    Atomics.store(c, Slot.residual, residual);
    let failure: unknown = null;
    this.dispatch(step, batch, parts, () => {
      try {
        own(input, output, residual, batch, 0, parts);
      } catch (e) {
        failure = e; // thrown once the workers are done: they must not write while the caller moves on
      }
    });
    if (failure !== null) throw failure;
    const error = takeError(c);
    if (error !== null) throw new ThreadError(`step ${step}: ${error}`);
  }

  /**
   * Adds steps whose work binds to `module`'s kernels (instantiated by every worker against the shared memory)
   * and returns the first one's number. Synchronous: one message per worker, which takes it between dispatches.
   */
  load(module: WebAssembly.Module, works: Work[]): number {
    if (this.disposed) throw new ThreadError('the thread pool was disposed');
    for (const w of this.workers) w.post({ module, works });
    this.dispatch(LOAD_STEP, 0, this.threads, () => {});
    // numbered whether or not every worker could bind them, as the workers number them
    const first = this.stepCount;
    this.stepCount += works.length;
    const error = takeError(this.control);
    if (error !== null) throw new ThreadError(`loading ${works.length} steps: ${error}`);
    return first;
  }

  /** Publishes a dispatch, runs `own` on this thread, and waits until every worker acknowledged it. */
  private dispatch(step: number, batch: number, parts: number, own: () => void): void {
    const c = this.control;
    Atomics.store(c, Slot.step, step);
    Atomics.store(c, Slot.batch, batch);
    Atomics.store(c, Slot.parts, parts);
    Atomics.store(c, Slot.done, 0);
    Atomics.add(c, Slot.generation, 1);
    if (Atomics.load(c, Slot.sleepers) > 0) Atomics.notify(c, Slot.generation);
    own();
    awaitValue(c, Slot.done, this.threads - 1, this.spinMs);
  }

  /** Stops and terminates the workers. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.control, Slot.stop, 1);
    Atomics.add(this.control, Slot.generation, 1);
    Atomics.notify(this.control, Slot.generation);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
