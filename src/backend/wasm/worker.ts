// Entry of a wasm engine worker (a Node worker thread or a web module worker): instantiates the main thread's
// module against the shared memory, binds every step's work to its own row buffers, then serves dispatches until
// stopped, stepping out to its event loop only to take work loaded after start.

import { WasmRuntime } from './runtime.js';
import type { Kernel } from './runtime.js';
import { LOAD_STEP, Slot, awaitChange, isNode, reportError } from './threads.js';
import type { WorkerInit, WorkerLoad, WorkerReply } from './threads.js';
import { bindWork } from './threads-work.js';
import type { PartRunner } from './threads-work.js';

/** What a worker holds between dispatches: its start message, its memory and the bound work of every step. */
interface WorkerState {
  init: WorkerInit;
  runtime: WasmRuntime;
  runners: (PartRunner | null)[];
  /** The last generation served. */
  seen: number;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Acknowledges the current dispatch: the last worker to do so wakes the main thread. */
function acknowledge(init: WorkerInit): void {
  if (Atomics.add(init.control, Slot.done, 1) === init.threads - 2) Atomics.notify(init.control, Slot.done);
}

/**
 * Runs this thread's part of each dispatched step. Returns 'stop' when the main thread stops the pool, and
 * 'load' (unacknowledged) when it sent work to load: the message waits in this worker's event loop.
 */
function serve(state: WorkerState): 'stop' | 'load' {
  const { init, runners } = state;
  const { control, thread } = init;
  for (;;) {
    state.seen = awaitChange(control, Slot.generation, state.seen, init.spinMs);
    if (Atomics.load(control, Slot.stop) !== 0) return 'stop';
    const step = Atomics.load(control, Slot.step);
    if (step === LOAD_STEP) return 'load';
    const parts = Atomics.load(control, Slot.parts);
    if (thread < parts) {
      try {
        const runner = runners[step];
        if (!runner) throw new Error(`step ${step} has no work for workers`);
        runner(Atomics.load(control, Slot.input), Atomics.load(control, Slot.output), Atomics.load(control, Slot.residual), Atomics.load(control, Slot.batch), thread, parts);
      } catch (e) {
        reportError(control, thread, describe(e));
      }
    }
    // every worker acknowledges every dispatch, so the main thread never moves on while one still reads the block
    acknowledge(init);
  }
}

async function start(init: WorkerInit): Promise<WorkerState> {
  const runtime = new WasmRuntime({ memory: init.memory });
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports as Record<string, Kernel>;
  return { init, runtime, runners: init.works.map((work) => work && bindWork(work, kernels, runtime, init.thread)), seen: 0 };
}

/** Binds a load's steps to a new instance of its module (synchronous: the main thread waits for the acknowledgement). */
function load(state: WorkerState, message: WorkerLoad): void {
  try {
    const instance = new WebAssembly.Instance(message.module, { env: { memory: state.init.memory } });
    const kernels = instance.exports as Record<string, Kernel>;
    state.runners.push(...message.works.map((work) => bindWork(work, kernels, state.runtime, state.init.thread)));
  } catch (e) {
    // steps stay numbered as on the main thread; running one reports the failure again
    state.runners.push(...message.works.map(() => null));
    reportError(state.init.control, state.init.thread, describe(e));
  }
  acknowledge(state.init);
}

/**
 * The worker's messages: first its start (answered with a reply), then loads, each taken when a LOAD dispatch
 * sent `serve` back here. Serving resumes after each; `close` ends the worker when the pool stops.
 */
function listen(reply: (message: WorkerReply) => void, close: () => void): (message: WorkerInit | WorkerLoad) => void {
  let state: WorkerState | null = null;
  const resume = (s: WorkerState): void => {
    if (serve(s) === 'stop') close();
  };
  return (message) => {
    if (state === null) {
      start(message as WorkerInit).then(
        (s) => {
          state = s;
          reply({ ready: true });
          resume(s);
        },
        (e: unknown) => {
          reply({ ready: false, error: describe(e) });
          close();
        },
      );
      return;
    }
    load(state, message as WorkerLoad);
    resume(state);
  };
}

if (isNode()) {
  const { parentPort } = await import('node:worker_threads');
  const port = parentPort;
  if (port) {
    const onMessage = listen((m) => port.postMessage(m), () => port.close());
    port.on('message', onMessage);
  }
} else {
  const scope = globalThis as unknown as { addEventListener(type: 'message', listener: (e: MessageEvent<WorkerInit | WorkerLoad>) => void): void; postMessage(message: WorkerReply): void; close(): void };
  const onMessage = listen((m) => scope.postMessage(m), () => scope.close());
  scope.addEventListener('message', (e) => onMessage(e.data));
}
