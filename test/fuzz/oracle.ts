// The fuzz oracle: an input must end in success or one of our typed errors (MobileNetError), within a time
// bound, with no array allocation beyond a bound derived from the input's size. Allocations are counted by
// wrapping the global ArrayBuffer and typed-array constructors while a decode runs.

import { MobileNetError } from '../../src/errors.js';

const CONSTRUCTORS = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int8Array',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

let tracking = false;
let largest = 0;
let total = 0;

function bytesRequested(name: string, perElement: number, args: unknown[]): number {
  const [first] = args;
  if (typeof first === 'number') return name.endsWith('Buffer') ? first : first * perElement;
  if (first instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && first instanceof SharedArrayBuffer)) return 0; // a view: no new memory
  const length = (first as { length?: unknown } | null | undefined)?.length;
  return typeof length === 'number' ? length * perElement : 0;
}

let installed = false;

/** Wraps the global array constructors once per process so that allocations made while tracking are counted. */
export function installAllocationTracking(): void {
  if (installed) return;
  installed = true;
  const globals = globalThis as unknown as Record<string, unknown>;
  for (const name of CONSTRUCTORS) {
    const original = globals[name] as (new (...args: unknown[]) => object) & { BYTES_PER_ELEMENT?: number } | undefined;
    if (original === undefined) continue;
    const perElement = original.BYTES_PER_ELEMENT ?? 1;
    globals[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (tracking) {
          const bytes = bytesRequested(name, perElement, args);
          largest = Math.max(largest, bytes);
          total += bytes;
        }
        return Reflect.construct(target, args, newTarget === globals[name] ? target : newTarget) as object;
      },
    });
  }
}

/** All allocations of one decode together may come to this many times the single-allocation bound. */
const TOTAL_FACTOR = 4;

export interface FuzzTarget {
  /** Decodes one input; resolves on success, throws on bad input. */
  run(bytes: Uint8Array): unknown;
  /** The most bytes one decode may allocate for an input of `size` bytes. */
  allocationBound(size: number): number;
  /** Milliseconds one input may take. */
  timeLimitMs: number;
}

export type Outcome =
  | { kind: 'ok' | 'typed'; ms: number; largest: number; total: number; error?: string }
  | { kind: 'failure'; ms: number; largest: number; total: number; reason: string };

/** Runs one input through a target and judges the result. */
export async function judge(target: FuzzTarget, bytes: Uint8Array): Promise<Outcome> {
  installAllocationTracking();
  largest = 0;
  total = 0;
  tracking = true;
  const start = performance.now();
  let error: unknown;
  let threw = false;
  try {
    await target.run(bytes);
  } catch (e) {
    threw = true;
    error = e;
  } finally {
    tracking = false;
  }
  const ms = performance.now() - start;
  const stats = { ms, largest, total };
  const bound = target.allocationBound(bytes.length);
  if (threw && !(error instanceof MobileNetError)) {
    const e = error as Error | undefined;
    return { kind: 'failure', ...stats, reason: `untyped ${e?.constructor?.name ?? typeof error}: ${e?.message ?? String(error)}`.slice(0, 500) };
  }
  if (largest > bound) return { kind: 'failure', ...stats, reason: `allocated ${largest} bytes at once for a ${bytes.length}-byte input (bound ${bound})` };
  if (total > TOTAL_FACTOR * bound) return { kind: 'failure', ...stats, reason: `allocated ${total} bytes in all for a ${bytes.length}-byte input (bound ${TOTAL_FACTOR * bound})` };
  if (ms > target.timeLimitMs) return { kind: 'failure', ...stats, reason: `took ${ms.toFixed(0)} ms (limit ${target.timeLimitMs} ms)` };
  return threw ? { kind: 'typed', ...stats, error: `${(error as Error).name}: ${(error as Error).message}`.slice(0, 300) } : { kind: 'ok', ...stats };
}
