// Peer runtimes for the benchmark: onnxruntime-node, onnxruntime-web (wasm) and TensorFlow.js layers
// (wasm and cpu backends) behind one interface, all on the same MobileNetV2 weights as our engine.
//
// The peers live in bench/peers/node_modules (a package of its own: `cd bench/peers && npm ci`), never in
// the library's dependencies. They are imported dynamically and typed by the small local interfaces below,
// so this file type-checks (bench/peers/tsconfig.json) and loads on a clone where they are not installed;
// a peer that is missing fails when it is created, with the install command in the message.
//
// Runs under the root's tsx (`node --import tsx bench/peers/check.ts`) or, built by `npm run build` here,
// under plain node (bench/peers/dist/bench/peers/*.js): tsx alone adds about 30 MB to a process's RSS.

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeNpy } from '../../src/io/npy.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';

export interface Peer {
  /** One of PEER_NAMES. */
  name: string;
  /** Threads the runtime computes with (intra-op threads for onnxruntime; 1 for TensorFlow.js). */
  threads: number;
  /** The runtime's package version, e.g. "1.30.0". */
  version: string;
  /** For tables: e.g. "onnxruntime-node 1.30.0 (native CPU), 2 threads". */
  label: string;
  /** Makes the input for `batch` images (the golden input repeated) and readies the runtime for it. */
  prepare(batch: number): Promise<void>;
  /** One forward pass on the prepared input: logits, [batch, classes] in row-major order. */
  run(): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export const PEER_NAMES = ['onnxruntime-node', 'onnxruntime-web', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export interface PeerSpec {
  name: PeerName;
  threads: number;
  /** Folder with input.npy, output.npy and weights.safetensors (torchvision names). */
  modelDir: string;
  /** The same module as ONNX (opset 13, input `input`, output `output`); see defaultOnnxPath. */
  onnxPath: string;
}

export interface CreatePeersOptions {
  modelDir: string;
  /** Thread counts for the runtimes that have threads (onnxruntime). TensorFlow.js peers get 1 whatever this says. */
  threads: number[];
  /** Defaults to defaultOnnxPath(modelDir). */
  onnxPath?: string;
  /** Which peers; all of PEER_NAMES by default. */
  peers?: readonly PeerName[];
  /**
   * Where each peer runs. 'auto' (default): onnxruntime-web in a worker thread of its own (its thread pool is
   * process-wide, fixed when its wasm module starts, so two thread counts cannot share a thread), the rest in
   * this thread. 'worker': every peer in its own worker thread. 'none': all in this thread (then at most one
   * onnxruntime-web thread count).
   */
  isolate?: 'auto' | 'worker' | 'none';
}

const here = dirname(fileURLToPath(import.meta.url));
/** Whether this module is the tsc build (bench/peers/dist/bench/peers/peers.js, run by plain node) rather than the source run by tsx. */
const compiled = import.meta.url.endsWith('.js');
/** bench/peers, where the peers' node_modules are: this file's folder, or three up from it in the build. */
export const peersDir = compiled ? resolve(here, '..', '..', '..') : here;
/** The repository root (bench/peers/../..). */
export const repoRoot = resolve(peersDir, '..', '..');
/** The full-size golden model: input, PyTorch output and weights, in the repo's test fixtures. */
export const defaultModelDir = join(repoRoot, 'test', 'fixtures', 'golden', 'models', 'mnv2_100_224');

/**
 * `<modelDir>/model.onnx` when it exists; otherwise the model of the same name in ../shared/golden/models beside the
 * repository (the fixtures in test/ leave the ONNX file out).
 */
export function defaultOnnxPath(modelDir: string): string {
  const local = join(modelDir, 'model.onnx');
  if (existsSync(local)) return local;
  return join(repoRoot, '..', 'shared', 'golden', 'models', basename(resolve(modelDir)), 'model.onnx');
}

// ---------------------------------------------------------------------------------------------------------------
// golden files and comparison

export interface Golden {
  /** NCHW input, [n, 3, H, W]. */
  input: Tensor;
  /** PyTorch logits, [n, classes]. */
  output: Tensor;
}

export function loadGolden(modelDir: string): Golden {
  const read = (file: string): Tensor => decodeNpy(new Uint8Array(readFileSync(join(modelDir, file))), join(modelDir, file));
  const input = read('input.npy');
  const output = read('output.npy');
  if (input.shape.length !== 4 || input.shape[1] !== 3) throw new Error(`${modelDir}/input.npy: expected [n, 3, H, W], got [${input.shape.join(', ')}]`);
  if (output.shape.length !== 2 || output.shape[0] !== input.shape[0]) {
    throw new Error(`${modelDir}/output.npy: expected [${input.shape[0]}, classes], got [${output.shape.join(', ')}]`);
  }
  return { input, output };
}

/** The golden input's images repeated (cyclically) to `batch` images, NCHW. */
export function tileBatch(input: Tensor, batch: number): Float32Array {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  const n = input.shape[0]!;
  const per = input.data.length / n;
  const out = new Float32Array(batch * per);
  for (let b = 0; b < batch; b++) out.set(input.data.subarray((b % n) * per, (b % n + 1) * per), b * per);
  return out;
}

/** NCHW → NHWC. */
export function nchwToNhwc(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (b * c + ch) * h * w;
      for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + ch] = data[src + i]!;
    }
  }
  return out;
}

/**
 * max |logits − reference| / max(1, max |reference|) over a batch of logits whose row b is compared with reference row
 * b mod n (the batch was made by tileBatch).
 */
export function maxRelativeError(logits: Float32Array, reference: Tensor): number {
  const [n, classes] = reference.shape as [number, number];
  if (logits.length % classes !== 0) throw new Error(`logits of length ${logits.length} are not rows of ${classes} classes`);
  let scale = 1;
  for (const v of reference.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < logits.length; i++) {
    const row = Math.floor(i / classes) % n;
    const d = Math.abs(logits[i]! - reference.data[row * classes + (i % classes)]!);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst / scale;
}

/**
 * This process's peak resident set in bytes. On Linux VmHWM from /proc/self/status: process.resourceUsage().maxRSS
 * is not safe in a child process there, because the kernel carries the parent's RSS at fork into the child's
 * maxRSS across exec (a child of a 400 MB bench reports at least ~400 MB). Elsewhere maxRSS (KiB) × 1024.
 */
export function peakRssBytes(): number {
  if (process.platform === 'linux') {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m !== null) return Number(m[1]) * 1024;
    } catch {
      // fall through
    }
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Quantile of sorted samples, nearest rank (as bench/run.ts does). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

// ---------------------------------------------------------------------------------------------------------------
// loading the peer packages

/** Imports a package installed in bench/peers/node_modules, with a hint when it is missing. */
async function importPeerPackage<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${specifier} is not installed: run \`cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm ci\``, { cause: error });
    }
    throw error;
  }
}

function packageVersion(name: string): string {
  const json = JSON.parse(readFileSync(join(peersDir, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')) as { version: string };
  return json.version;
}

// ---------------------------------------------------------------------------------------------------------------
// onnxruntime (node and web share the API)

export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(path: string | Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { wasm: { numThreads?: number; wasmPaths?: string; proxy?: boolean }; versions?: Record<string, string> };
}

function ortPeer(spec: PeerSpec, ort: OrtModule, session: OrtSession, version: string, label: string, golden: Golden): Peer {
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  const [, c, h, w] = golden.input.shape as [number, number, number, number];
  let feeds: Record<string, OrtTensor> | undefined;
  return {
    name: spec.name,
    threads: spec.threads,
    version,
    label,
    async prepare(batch) {
      feeds = { [input]: new ort.Tensor('float32', tileBatch(golden.input, batch), [batch, c, h, w]) };
      await session.run(feeds); // first run: allocation, kernel selection
    },
    async run() {
      if (feeds === undefined) throw new Error(`${label}: run() before prepare()`);
      const result = (await session.run(feeds))[output]!;
      return result.data as Float32Array;
    },
    async dispose() {
      await session.release();
    },
  };
}

/** An onnxruntime session (native CPU for onnxruntime-node, wasm SIMD for onnxruntime-web) on `threads` threads. */
export async function openOrtSession(name: 'onnxruntime-node' | 'onnxruntime-web', onnxPath: string, threads: number): Promise<{ ort: OrtModule; session: OrtSession; version: string; label: string }> {
  const ort = await importPeerPackage<OrtModule>(name);
  const version = packageVersion(name);
  if (name === 'onnxruntime-node') {
    const session = await ort.InferenceSession.create(onnxPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return { ort, session, version, label: `onnxruntime-node ${version} (native CPU), ${threadsText(threads)}` };
  }
  if (ortWebThreads !== undefined && ortWebThreads !== threads) {
    throw new Error(
      `onnxruntime-web already runs with ${ortWebThreads} threads in this thread; its pool is process-wide: ` +
        `create peers with isolate 'auto' or 'worker' to have ${threads} too`,
    );
  }
  // The .wasm and its Emscripten glue come from node_modules, never from a CDN.
  const dist = dirname(fileURLToPath(import.meta.resolve('onnxruntime-web')));
  ort.env.wasm.wasmPaths = `${pathToFileURL(dist).href}/`;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ortWebThreads = threads;
  const session = await ort.InferenceSession.create(onnxPath, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  return { ort, session, version, label: `onnxruntime-web ${version} (wasm SIMD), ${threadsText(threads)}` };
}

let ortWebThreads: number | undefined;

async function createOrtPeer(spec: PeerSpec & { name: 'onnxruntime-node' | 'onnxruntime-web' }, golden: Golden): Promise<Peer> {
  const { ort, session, version, label } = await openOrtSession(spec.name, spec.onnxPath, spec.threads);
  return ortPeer(spec, ort, session, version, label, golden);
}

const threadsText = (t: number): string => `${t} thread${t === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------------------------
// TensorFlow.js: torchvision's mobilenet_v2 as a tfjs-layers functional model

interface TfTensor {
  readonly shape: number[];
  data(): Promise<Float32Array>;
  dispose(): void;
}
interface TfCore {
  version_core: string;
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  enableProdMode(): void;
  tensor(values: Float32Array, shape: number[]): TfTensor;
  transpose(x: TfTensor, perm: number[]): TfTensor;
  tidy<T extends TfTensor>(fn: () => T): T;
  memory(): { numTensors: number; numBytes: number };
}
interface SymbolicTensor {
  readonly shape: (number | null)[];
}
interface TfLayer {
  readonly name: string;
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor;
  setWeights(weights: TfTensor[]): void;
}
type LayerArgs = Record<string, unknown>;
interface TfLayersModel {
  predict(x: TfTensor): TfTensor;
  countParams(): number;
  dispose(): void;
}
interface TfLayersModule {
  input(config: { shape: number[]; name?: string }): SymbolicTensor;
  model(config: { inputs: SymbolicTensor; outputs: SymbolicTensor; name?: string }): TfLayersModel;
  layers: {
    conv2d(args: LayerArgs): TfLayer;
    depthwiseConv2d(args: LayerArgs): TfLayer;
    batchNormalization(args: LayerArgs): TfLayer;
    reLU(args: LayerArgs): TfLayer;
    zeroPadding2d(args: LayerArgs): TfLayer;
    add(args: LayerArgs): TfLayer;
    globalAveragePooling2d(args: LayerArgs): TfLayer;
    dense(args: LayerArgs): TfLayer;
  };
}
interface TfWasmModule {
  setWasmPaths(prefix: string): void;
  version_wasm: string;
}

/** torchvision mobilenet_v2's inverted residual settings (t, c, n, s): the stride of each of the 17 blocks. */
const TORCHVISION_V2_BLOCK_STRIDES = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
  .flatMap(([, , n, s]) => Array.from({ length: n! }, (_, i) => (i === 0 ? s! : 1)));

/**
 * Builds torchvision's mobilenet_v2 (any width: channels are read from the weights) as a tfjs-layers functional
 * model, NHWC, with the weights loaded. Torch pads every 3×3 conv by 1 on each side: stride 1 is 'same', stride 2 is
 * an explicit ZeroPadding2D((1,1),(1,1)) then 'valid' (Keras 'same' would pad (0,1) on even sizes). BN epsilon 1e-5.
 */
export function buildTfjsMobileNetV2(tf: TfCore, tfl: TfLayersModule, weights: Map<string, Tensor>, height: number, width: number): TfLayersModel {
  const used = new Set<string>();
  const get = (name: string): Tensor => {
    const t = weights.get(name);
    if (t === undefined) throw new Error(`weights.safetensors has no ${name}`);
    used.add(name);
    return t;
  };
  /** The weight in tfjs layout: torch tensor transposed by `perm`. */
  const tfWeight = (name: string, perm?: number[]): TfTensor => {
    const t = get(name);
    return tf.tidy(() => {
      const x = tf.tensor(t.data, [...t.shape]);
      return perm === undefined ? x : tf.transpose(x, perm);
    });
  };
  const setWeights = (layer: TfLayer, tensors: TfTensor[]): void => {
    layer.setWeights(tensors);
    for (const t of tensors) t.dispose();
  };
  const id = (prefix: string): string => prefix.replaceAll('.', '_');

  /** Conv (OIHW) with torch padding; no bias, as torchvision's convs before a BN. */
  const conv = (x: SymbolicTensor, prefix: string, stride: number, depthwise: boolean): SymbolicTensor => {
    const w = get(`${prefix}.weight`);
    const [outC, , kh, kw] = w.shape as [number, number, number, number];
    let padding = 'same';
    if (kh > 1 && stride > 1) {
      x = tfl.layers.zeroPadding2d({ padding: [[(kh - 1) / 2, (kh - 1) / 2], [(kw - 1) / 2, (kw - 1) / 2]], name: `${id(prefix)}_pad` }).apply(x);
      padding = 'valid';
    }
    const common = { kernelSize: [kh, kw], strides: [stride, stride], padding, useBias: false, name: id(prefix) };
    const layer = depthwise ? tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: 1 }) : tfl.layers.conv2d({ ...common, filters: outC });
    const y = layer.apply(x);
    // OIHW → HWIO; depthwise [C, 1, kh, kw] → [kh, kw, C, 1]
    setWeights(layer, [tfWeight(`${prefix}.weight`, depthwise ? [2, 3, 0, 1] : [2, 3, 1, 0])]);
    return y;
  };
  const bn = (x: SymbolicTensor, prefix: string): SymbolicTensor => {
    const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-5, name: id(prefix) });
    const y = layer.apply(x);
    setWeights(layer, ['weight', 'bias', 'running_mean', 'running_var'].map((p) => tfWeight(`${prefix}.${p}`)));
    return y;
  };
  const relu6 = (x: SymbolicTensor, name: string): SymbolicTensor => tfl.layers.reLU({ maxValue: 6, name: `${id(name)}_relu6` }).apply(x);
  const convBnRelu6 = (x: SymbolicTensor, prefix: string, stride: number, depthwise: boolean): SymbolicTensor =>
    relu6(bn(conv(x, `${prefix}.0`, stride, depthwise), `${prefix}.1`), prefix);

  const input = tfl.input({ shape: [height, width, 3], name: 'input' });
  let x = convBnRelu6(input, 'features.0', 2, false);
  TORCHVISION_V2_BLOCK_STRIDES.forEach((stride, b) => {
    const p = `features.${b + 1}.conv`;
    const expanded = weights.has(`${p}.3.weight`);
    const inC = x.shape[3]!;
    let y = x;
    if (expanded) y = convBnRelu6(y, `${p}.0`, 1, false);
    y = convBnRelu6(y, `${p}.${expanded ? 1 : 0}`, stride, true);
    y = bn(conv(y, `${p}.${expanded ? 2 : 1}`, 1, false), `${p}.${expanded ? 3 : 2}`);
    if (stride === 1 && inC === y.shape[3]) y = tfl.layers.add({ name: `${id(p)}_add` }).apply([x, y]);
    x = y;
  });
  const last = TORCHVISION_V2_BLOCK_STRIDES.length + 1;
  x = convBnRelu6(x, `features.${last}`, 1, false);
  x = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(x);
  const fcWeight = get('classifier.1.weight');
  const dense = tfl.layers.dense({ units: fcWeight.shape[0], name: 'classifier_1' });
  const logits = dense.apply(x);
  setWeights(dense, [tfWeight('classifier.1.weight', [1, 0]), tfWeight('classifier.1.bias')]); // Linear [out, in] → [in, out]
  const unused = [...weights.keys()].filter((k) => !used.has(k) && !k.endsWith('num_batches_tracked'));
  if (unused.length > 0) throw new Error(`weights.safetensors has tensors the model does not use (not torchvision mobilenet_v2?): ${unused.slice(0, 5).join(', ')}`);
  return tfl.model({ inputs: input, outputs: logits, name: 'mobilenet_v2' });
}

async function createTfjs(spec: PeerSpec, golden: Golden): Promise<Peer> {
  const backend = spec.name === 'tfjs-wasm' ? 'wasm' : 'cpu';
  if (spec.threads !== 1) throw new Error(`${spec.name} runs on 1 thread in Node (tfjs-backend-wasm has no threads there), not ${spec.threads}`);
  const tf = await importPeerPackage<TfCore>('@tensorflow/tfjs-core');
  await importPeerPackage<unknown>('@tensorflow/tfjs-backend-cpu');
  const tfWasm = await importPeerPackage<TfWasmModule>('@tensorflow/tfjs-backend-wasm');
  const tfl = await importPeerPackage<TfLayersModule>('@tensorflow/tfjs-layers');
  tf.enableProdMode(); // no debug checks, no "install tfjs-node" banner
  // the .wasm files from node_modules (a path prefix: the Node loader reads it with fs)
  tfWasm.setWasmPaths(join(dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm'))), '/'));
  const use = async (): Promise<void> => {
    if (tf.getBackend() !== backend) {
      if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js backend ${backend} failed to start`);
    }
  };
  await use();
  await tf.ready();
  const [, c, h, w] = golden.input.shape as [number, number, number, number];
  const weights = decodeSafetensors(new Uint8Array(readFileSync(join(spec.modelDir, 'weights.safetensors'))), join(spec.modelDir, 'weights.safetensors')).tensors;
  const model = buildTfjsMobileNetV2(tf, tfl, weights, h, w);
  const version = packageVersion(`@tensorflow/tfjs-backend-${backend}`);
  const label = backend === 'wasm' ? `@tensorflow/tfjs-backend-wasm ${version} (XNNPACK), 1 thread` : `@tensorflow/tfjs-backend-cpu ${version}, 1 thread`;
  let input: TfTensor | undefined;
  const forward = async (): Promise<Float32Array> => {
    await use(); // another tfjs peer in this thread may have switched the global backend
    const y = tf.tidy(() => model.predict(input!));
    try {
      return await y.data();
    } finally {
      y.dispose();
    }
  };
  return {
    name: spec.name,
    threads: 1,
    version,
    label,
    async prepare(batch) {
      await use();
      input?.dispose();
      input = tf.tensor(nchwToNhwc(tileBatch(golden.input, batch), batch, c, h, w), [batch, h, w, c]);
      await forward(); // first run: kernel setup (XNNPACK operators are created on first use)
    },
    async run() {
      if (input === undefined) throw new Error(`${label}: run() before prepare()`);
      return forward();
    },
    async dispose() {
      input?.dispose();
      input = undefined;
      model.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// factories

/** One peer in this thread. */
export async function createPeer(spec: PeerSpec, golden: Golden = loadGolden(spec.modelDir)): Promise<Peer> {
  if (!Number.isInteger(spec.threads) || spec.threads < 1) throw new Error(`threads must be a positive integer, got ${spec.threads}`);
  switch (spec.name) {
    case 'onnxruntime-node':
    case 'onnxruntime-web':
      return createOrtPeer({ ...spec, name: spec.name }, golden);
    case 'tfjs-wasm':
    case 'tfjs-cpu':
      return createTfjs(spec, golden);
    default:
      throw new Error(`unknown peer ${String(spec.name)}: expected one of ${PEER_NAMES.join(', ')}`);
  }
}

/** Messages between createPeerInWorker and peer-worker.ts. */
export type WorkerCall = { op: 'prepare'; batch: number } | { op: 'run' } | { op: 'dispose' };
export type WorkerRequest = WorkerCall & { id: number };
export type WorkerReply =
  | { id: 0; op: 'ready'; version: string; label: string }
  | { id: number; op: 'done'; logits?: Float32Array }
  | { id: number; op: 'error'; message: string; stack?: string };

/**
 * One peer in a worker thread of its own (peer-worker.ts: through tsx's API when this runs under tsx, the tsc build
 * when this is the build). Timings taken around run() include one message each way (tens of microseconds; the logits
 * are copied back).
 */
export async function createPeerInWorker(spec: PeerSpec): Promise<Peer> {
  let worker: Worker;
  if (compiled) {
    worker = new Worker(new URL('./peer-worker.js', import.meta.url), { workerData: spec });
  } else {
    // a worker's entry point does not go through the --import tsx hooks: register them in the worker first
    const workerUrl = new URL('./peer-worker.ts', import.meta.url).href;
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl)}); })`;
    worker = new Worker(code, { eval: true, workerData: spec });
  }
  const pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const ready = new Promise<{ version: string; label: string }>((resolveReady, rejectReady) => {
    pending.set(0, {
      resolve: (r) => (r.op === 'ready' ? resolveReady(r) : rejectReady(new Error(`${spec.name}: worker did not start`))),
      reject: rejectReady,
    });
  });
  worker.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.op === 'error') p.reject(Object.assign(new Error(`${spec.name} (${spec.threads} threads, worker): ${reply.message}`), { stack: reply.stack }));
    else p.resolve(reply);
  });
  worker.on('error', (e: Error) => fail(e));
  worker.on('exit', (code) => fail(new Error(`${spec.name} worker exited (code ${code})`)));
  let nextId = 1;
  const call = (request: WorkerCall): Promise<WorkerReply> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<WorkerReply>((resolveCall, rejectCall) => {
      pending.set(id, { resolve: resolveCall, reject: rejectCall });
      worker.postMessage({ ...request, id });
    });
  };
  let info: { version: string; label: string };
  try {
    info = await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return {
    name: spec.name,
    threads: spec.threads,
    version: info.version,
    label: info.label,
    async prepare(batch) {
      await call({ op: 'prepare', batch });
    },
    async run() {
      const reply = await call({ op: 'run' });
      if (reply.op !== 'done' || reply.logits === undefined) throw new Error(`${spec.name}: worker sent no logits`);
      return reply.logits;
    },
    async dispose() {
      try {
        if (failure === undefined) await call({ op: 'dispose' });
      } finally {
        worker.removeAllListeners('exit');
        await worker.terminate();
      }
    },
  };
}

/**
 * Every peer, in PEER_NAMES order: onnxruntime-node and onnxruntime-web once per thread count, the TensorFlow.js
 * peers once with 1 thread. Call prepare(batch) before run().
 */
export async function createPeers(options: CreatePeersOptions): Promise<Peer[]> {
  const onnxPath = options.onnxPath ?? defaultOnnxPath(options.modelDir);
  const names = options.peers ?? PEER_NAMES;
  const isolate = options.isolate ?? 'auto';
  const golden = loadGolden(options.modelDir);
  const threads = [...new Set(options.threads)];
  if (threads.length === 0) throw new Error('createPeers: threads is empty');
  const peers: Peer[] = [];
  try {
    for (const name of PEER_NAMES.filter((n) => names.includes(n))) {
      for (const t of name.startsWith('onnxruntime') ? threads : [1]) {
        const spec: PeerSpec = { name, threads: t, modelDir: options.modelDir, onnxPath };
        const inWorker = isolate === 'worker' || (isolate === 'auto' && name === 'onnxruntime-web');
        peers.push(inWorker ? await createPeerInWorker(spec) : await createPeer(spec, golden));
      }
    }
  } catch (error) {
    await Promise.allSettled(peers.map((p) => p.dispose()));
    throw error;
  }
  return peers;
}

// ---------------------------------------------------------------------------------------------------------------
// one peer alone in a child process, for its peak RSS

export interface RunOneOptions {
  peer: PeerName;
  threads: number;
  batch: number;
  /** Timed runs after one warm-up run (prepare's). */
  runs: number;
  modelDir?: string;
  onnxPath?: string;
}

export interface RunOneResult {
  peer: PeerName;
  label: string;
  version: string;
  threads: number;
  batch: number;
  runs: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  imagesPerSecond: number;
  /** The child's peak resident set (peakRssBytes(): VmHWM on Linux), everything included: Node, tsx if run by it, the runtime. */
  peakRssBytes: number;
  /** The child's peak RSS before it loaded the runtime (Node + tsx + our npy/safetensors readers): subtract to compare runtimes alone. */
  baselineRssBytes: number;
  /** max |logits − PyTorch| / max(1, max|PyTorch|) over the last run. */
  maxError: number;
}

/** How the child runs: 'node' runs the tsc build (built by buildPeers), 'tsx' the TypeScript source under tsx (+~30 MB RSS). */
export type Runner = 'node' | 'tsx';

/** The command that runs one peer alone, e.g. `node --import tsx bench/peers/run-one.ts --peer NAME ... --json`. */
export function runOneCommand(options: RunOneOptions, runner: Runner = 'tsx'): string[] {
  const script = runner === 'node' ? [join(peersDir, 'dist', 'bench', 'peers', 'run-one.js')] : ['--import', 'tsx', join(peersDir, 'run-one.ts')];
  const args = [...script, '--peer', options.peer, '--threads', String(options.threads), '--batch', String(options.batch), '--runs', String(options.runs), '--json'];
  if (options.modelDir !== undefined) args.push('--model-dir', options.modelDir);
  if (options.onnxPath !== undefined) args.push('--onnx', options.onnxPath);
  return [process.execPath, ...args];
}

let built = false;
/** Compiles bench/peers (and the src/ files it imports) with the root's TypeScript into bench/peers/dist, once per process. */
export async function buildPeers(): Promise<void> {
  if (built) return;
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(peersDir, 'tsconfig.json')], { stdio: 'inherit' });
  built = true;
}

/**
 * Runs one peer alone in a child process (run-one) and returns its timings and peak RSS. runner 'node' (default)
 * builds bench/peers first (a few seconds, once per process) so that the child carries no tsx.
 */
export async function measurePeerRss(options: RunOneOptions, runner: Runner = 'node'): Promise<RunOneResult> {
  if (runner === 'node') await buildPeers();
  const { execFile } = await import('node:child_process');
  const [node, ...args] = runOneCommand(options, runner);
  return new Promise((resolveRun, rejectRun) => {
    execFile(node!, args, { cwd: repoRoot, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) {
        rejectRun(new Error(`run-one ${options.peer} failed: ${error.message}\n${stderr}`));
        return;
      }
      try {
        resolveRun(JSON.parse(stdout.trim().split('\n').at(-1)!) as RunOneResult);
      } catch (e) {
        rejectRun(new Error(`run-one ${options.peer}: no JSON on stdout: ${String(e)}\n${stdout}\n${stderr}`));
      }
    });
  });
}
