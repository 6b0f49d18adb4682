// Entry of a wasm engine worker (a Node worker thread or a web module worker): instantiates the main thread's
// module against the shared memory, binds every step's work to its own row buffers, then serves dispatches forever.

import { WasmRuntime } from './runtime.js';
import type { Kernel } from './runtime.js';
import { POINTERS, POINTERS_PER_STEP, Slot, awaitChange, isNode, reportError } from './threads.js';
import type { WorkerInit, WorkerReply } from './threads.js';
import { bindWork } from './threads-work.js';
import type { PartRunner } from './threads-work.js';

/** Runs this thread's part of each dispatched step until the main thread sets `stop`. */
function serve(init: WorkerInit, runners: (PartRunner | null)[]): void {
  const { control, thread, threads } = init;
  const pointers = control.subarray(POINTERS);
  let seen = 0;
  for (;;) {
    seen = awaitChange(control, Slot.generation, seen, init.spinMs);
    if (Atomics.load(control, Slot.stop) !== 0) return;
    const step = Atomics.load(control, Slot.step);
    const parts = Atomics.load(control, Slot.parts);
    if (thread < parts) {
      try {
        const runner = runners[step];
        if (!runner) throw new Error(`step ${step} has no work for workers`);
        const p = step * POINTERS_PER_STEP;
        runner(pointers[p], pointers[p + 1], pointers[p + 2], Atomics.load(control, Slot.batch), thread, parts);
      } catch (e) {
        reportError(control, thread, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      }
    }
    // every worker acknowledges every dispatch, so the main thread never moves on while one still reads the block
    if (Atomics.add(control, Slot.done, 1) === threads - 2) Atomics.notify(control, Slot.done);
  }
}

async function start(init: WorkerInit, reply: (message: WorkerReply) => void): Promise<void> {
  let runners: (PartRunner | null)[];
  try {
    const runtime = new WasmRuntime({ memory: init.memory });
    const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
    const kernels = instance.exports as Record<string, Kernel>;
    runners = init.works.map((work) => work && bindWork(work, kernels, runtime, init.thread));
  } catch (e) {
    reply({ ready: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    return;
  }
  reply({ ready: true });
  serve(init, runners);
}

if (isNode()) {
  const { parentPort } = await import('node:worker_threads');
  const port = parentPort;
  if (port) port.once('message', (init: WorkerInit) => void start(init, (m) => port.postMessage(m)).finally(() => port.close()));
} else {
  const scope = globalThis as unknown as { addEventListener(type: 'message', listener: (e: MessageEvent<WorkerInit>) => void, options: { once: true }): void; postMessage(message: WorkerReply): void; close(): void };
  scope.addEventListener('message', (e) => void start(e.data, (m) => scope.postMessage(m)).finally(() => scope.close()), { once: true });
}
