// The row kernels and the row-streamed inverted residual chain (MobileNetV2 §5.1) against the plain-TS
// reference ops on awkward shapes: width 1 and 2, odd sizes, channel tails, stride 2, both paddings, bands.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../../support/helpers.js';
import { WasmRuntime, type Kernel } from '../../../src/backend/wasm/runtime.js';
import { type Clamp, roundUp } from '../../../src/backend/wasm/kernels/common.js';
import { emitGemm, packGemmWeights, type GemmSpec } from '../../../src/backend/wasm/kernels/gemm.js';
import { convOutputSize, packConvWeights, type ConvSpec } from '../../../src/backend/wasm/kernels/conv.js';
import { depthwiseRowOutputWidth, emitConvRows, emitDepthwiseRow, packDepthwiseRowWeights, type DepthwiseRowSpec } from '../../../src/backend/wasm/kernels/rows.js';
import { buildChain, createChainRunner, emitChainKernels, packChain, planChain, type ChainSpec, type ChainStage } from '../../../src/backend/wasm/kernels/chain.js';
import { conv2d, conv2dOutputShape, type Conv2DParams } from '../../../src/ops/conv2d.js';
import { add } from '../../../src/ops/elementwise.js';
import { clip } from '../../../src/ops/activation.js';
import { resolvePadding, type Padding4, type PaddingMode } from '../../../src/ops/geometry.js';
import { Random } from '../../../src/tensor/random.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { SIMD_MODES } from '../../support/wasm-modes.js';

const TOL = 1e-5;
const RELU6: Clamp = [0, 6];

const rng = new Random(20240611);
function randomTensor(shape: number[], std = 1): Tensor {
  const t = new Tensor(shape);
  rng.fillNormal(t.data, std);
  return t;
}

function clamped(t: Tensor, clamp: Clamp | null | undefined): Tensor {
  return clamp ? clip(t, clamp[0], clamp[1]) : t;
}

const conv = (strides: number, padding: Padding4, groups = 1): Conv2DParams => ({ strides: [strides, strides], dilations: [1, 1], padding, groups });

/** Outputs sit between sentinel guard bands, so a kernel writing past its rows or channel tails fails. */
const GUARD = 16;
const SENTINEL = -7777.5;

class Memory {
  readonly rt = new WasmRuntime();

  output(floats: number): number {
    const p = this.rt.allocF32(floats + 2 * GUARD);
    this.rt.write(p, new Float32Array(floats + 2 * GUARD).fill(SENTINEL));
    return p + GUARD * 4;
  }

  /** The floats at `pointer` as a tensor, after checking the guard bands around them. */
  read(pointer: number, shape: readonly number[]): Tensor {
    const floats = shape.reduce((a, b) => a * b, 1);
    const all = this.rt.read(pointer - GUARD * 4, floats + 2 * GUARD);
    const touched = [...all.subarray(0, GUARD), ...all.subarray(GUARD + floats)].filter((v) => v !== SENTINEL).length;
    assert.equal(touched, 0, `kernel wrote ${touched} floats outside its output`);
    return new Tensor([...shape], all.slice(GUARD, GUARD + floats));
  }

  async kernels(relaxed: boolean, emit: (m: ReturnType<WasmRuntime['module']>) => void): Promise<Record<string, Kernel>> {
    const m = this.rt.module({ relaxedSimd: relaxed });
    emit(m);
    return this.rt.instantiate(m);
  }
}

interface DepthwiseRowCase {
  size: [number, number];
  channels: number;
  kernel?: [number, number];
  stride: number;
  padding: PaddingMode;
  clamp?: Clamp;
  group?: number;
  order?: DepthwiseRowSpec['order'];
}

/** Every output row of a depthwise conv from the row kernel, fed row pointers (zeros in the vertical padding). */
async function checkDepthwiseRows(relaxed: boolean, c: DepthwiseRowCase): Promise<void> {
  const mem = new Memory();
  const [height, width] = c.size;
  const [kh, kw] = c.kernel ?? [3, 3];
  const padding = resolvePadding(c.padding, height, width, { kernel: [kh, kw], strides: [c.stride, c.stride], dilations: [1, 1] });
  const x = randomTensor([1, height, width, c.channels]);
  const kernel = randomTensor([kh, kw, 1, c.channels], 0.5);
  const bias = rng.fillNormal(new Float32Array(c.channels), 1);
  const expected = clamped(conv2d(x, kernel, bias, conv(c.stride, padding, c.channels)), c.clamp);
  const [, oh, ow] = expected.shape;
  const spec: DepthwiseRowSpec = { width, channels: c.channels, kernel: [kh, kw], stride: c.stride, padLeft: padding[2], padRight: padding[3], clamp: c.clamp, group: c.group, order: c.order };
  assert.equal(depthwiseRowOutputWidth(spec), ow);
  const k = await mem.kernels(relaxed, (m) => emitDepthwiseRow(m, 'dw', spec));
  const rowBytes = width * c.channels * 4;
  const xp = mem.rt.upload(x.data);
  const zeros = mem.rt.upload(new Float32Array(width * c.channels));
  const w = mem.rt.upload(packDepthwiseRowWeights(spec, kernel.data, bias));
  const y = mem.output(expected.size);
  for (let oy = 0; oy < oh; oy++) {
    const rows = Array.from({ length: kh }, (_, ky) => {
      const r = oy * c.stride - padding[0] + ky;
      return r < 0 || r >= height ? zeros : xp + r * rowBytes;
    });
    k.dw(...rows, w, y + oy * ow * c.channels * 4);
  }
  assertClose(mem.read(y, expected.shape), expected, TOL, 'depthwise rows');
}

interface ConvRowsCase {
  size: [number, number];
  cin: number;
  cout: number;
  stride: number;
  padding: PaddingMode;
  kernel?: [number, number];
  clamp?: Clamp;
  blockVectors?: number;
  group?: number;
}

/** The stem conv computed over row ranges — the whole image, each single row, and three bands — against the reference rows. */
async function checkConvRows(relaxed: boolean, c: ConvRowsCase): Promise<void> {
  const mem = new Memory();
  const [height, width] = c.size;
  const kernelSize = c.kernel ?? [3, 3];
  const padding = resolvePadding(c.padding, height, width, { kernel: kernelSize, strides: [c.stride, c.stride], dilations: [1, 1] });
  const spec: ConvSpec = { height, width, cin: c.cin, cout: c.cout, kernel: kernelSize, strides: [c.stride, c.stride], padding, clamp: c.clamp, blockVectors: c.blockVectors, group: c.group };
  const x = randomTensor([2, height, width, c.cin]);
  const kernel = randomTensor([...kernelSize, c.cin, c.cout], 0.5);
  const bias = rng.fillNormal(new Float32Array(c.cout), 1);
  const expected = clamped(conv2d(x, kernel, bias, conv(c.stride, padding)), c.clamp);
  const [, oh, ow] = expected.shape;
  assert.deepEqual(convOutputSize(spec), [oh, ow]);
  const k = await mem.kernels(relaxed, (m) => emitConvRows(m, 'stem', spec));
  const xp = mem.rt.upload(x.data);
  const w = mem.rt.upload(packConvWeights(spec, kernel.data, bias));
  const rowFloats = ow * c.cout;
  const third = Math.ceil(oh / 3);
  const ranges: [number, number][] = [[0, oh], ...Array.from({ length: oh }, (_, r): [number, number] => [r, 1]), [0, third], [third, Math.min(third, oh - third)], [2 * third, Math.max(0, oh - 2 * third)]];
  for (const batch of [0, 1]) {
    for (const [first, count] of ranges) {
      if (count <= 0) continue;
      const y = mem.output(count * rowFloats);
      k.stem(xp + batch * height * width * c.cin * 4, w, y, first, count);
      const want = new Tensor([count, ow, c.cout], expected.data.slice((batch * oh + first) * rowFloats, (batch * oh + first + count) * rowFloats));
      assertClose(mem.read(y, want.shape), want, TOL, `stem rows [${first}, ${first + count}) of image ${batch}`);
    }
  }
}

interface ChainCase {
  batch?: number;
  /** The chain's input [H, W] (the stem's, with a stem). */
  size: [number, number];
  cin: number;
  /** Expanded channels; equal to the depthwise input with no expand stage. */
  hidden: number;
  cout: number;
  stride: number;
  padding: 'torch' | 'same';
  expand?: boolean;
  residual?: boolean;
  /** A 3×3 stride-2 stem from `stem.cin` channels to the chain's `cin`. */
  stem?: { cin: number; padding: 'torch' | 'same' };
  projectClamp?: Clamp;
  /** Output rows per step; the plan's default when left out. */
  rowsPerStep?: number;
}

function stage(inShape: [number, number, number], kernelShape: [number, number, number, number], params: Conv2DParams, clamp: Clamp | null): ChainStage {
  const [, oh, ow, oc] = conv2dOutputShape([1, ...inShape], kernelShape, null, params);
  const fanIn = kernelShape[0] * kernelShape[1] * kernelShape[2];
  return {
    kernel: rng.fillNormal(new Float32Array(kernelShape.reduce((a, b) => a * b, 1)), 1 / Math.sqrt(fanIn)),
    kernelShape,
    bias: rng.fillNormal(new Float32Array(kernelShape[3]), 0.5),
    conv: params,
    inShape,
    outShape: [oh, ow, oc],
    clamp,
  };
}

function pad(mode: 'torch' | 'same', shape: readonly number[], k: number, stride: number): Padding4 {
  return resolvePadding(mode, shape[0], shape[1], { kernel: [k, k], strides: [stride, stride], dilations: [1, 1] });
}

function chainOf(c: ChainCase): ChainSpec {
  const stages: ChainStage[] = [];
  let shape: [number, number, number] = [...c.size, c.stem ? c.stem.cin : c.cin];
  const push = (s: ChainStage): void => {
    stages.push(s);
    shape = [...s.outShape] as [number, number, number];
  };
  if (c.stem) push(stage(shape, [3, 3, c.stem.cin, c.cin], conv(2, pad(c.stem.padding, shape, 3, 2)), RELU6));
  if (c.expand ?? true) push(stage(shape, [1, 1, c.cin, c.hidden], conv(1, [0, 0, 0, 0]), RELU6));
  push(stage(shape, [3, 3, 1, c.hidden], conv(c.stride, pad(c.padding, shape, 3, c.stride), c.hidden), RELU6));
  push(stage(shape, [1, 1, c.hidden, c.cout], conv(1, [0, 0, 0, 0]), c.projectClamp ?? null));
  return { stages, residual: c.residual ?? false };
}

/** The chain as the reference ops compute it, whole tensor after whole tensor. */
function referenceChain(spec: ChainSpec, x: Tensor): Tensor {
  let y = x;
  spec.stages.forEach((s, i) => {
    y = conv2d(y, new Tensor([...s.kernelShape], s.kernel), s.bias, s.conv);
    if (spec.residual && i === spec.stages.length - 1) y = add(y, x);
    y = clamped(y, s.clamp);
  });
  return y;
}

/** The chain streamed (whole batch, then three bands per image) against the reference, with its row bookkeeping checked. */
async function checkChain(relaxed: boolean, c: ChainCase): Promise<void> {
  const mem = new Memory();
  const batch = c.batch ?? 1;
  const spec = chainOf(c);
  const x = randomTensor([batch, ...spec.stages[0].inShape]);
  const expected = referenceChain(spec, x);
  const { plan, weights, kernels, runner } = await buildChain(mem.rt, spec, { relaxedSimd: relaxed, rowsPerStep: c.rowsPerStep });
  const xp = mem.rt.upload(x.data);

  const y = mem.output(expected.size);
  runner.run(xp, y, batch);
  const streamed = mem.read(y, expected.shape);
  assertClose(streamed, expected, TOL, 'streamed chain');

  // bands that tile each image's output rows exactly once, from a second runner sharing the weights
  const [oh] = plan.outShape;
  const bandRunner = createChainRunner(mem.rt, kernels, weights);
  const banded = mem.output(expected.size);
  const third = Math.ceil(oh / 3);
  for (let b = 0; b < batch; b++) {
    for (let first = 0; first < oh; first += third) bandRunner.runRows(xp, banded, b, first, Math.min(third, oh - first));
  }
  assert.deepEqual(mem.read(banded, expected.shape).data, streamed.data, 'bands give the streamed result exactly');

  // each expanded (and stem) row is made exactly once per image, in order, when the whole image streams
  const [height, width] = spec.stages[spec.stages.length - 2].inShape;
  const made = { stem: [] as number[], expand: 0 };
  const counted = { ...kernels };
  const { stem, expand } = plan.names;
  if (stem) {
    counted[stem] = (x, w, y, first, count): void => {
      for (let r = first; r < first + count; r++) made.stem.push(r);
      kernels[stem](x, w, y, first, count);
    };
  }
  if (expand) {
    counted[expand] = (x, w, y, pixels, residual): void => {
      made.expand += pixels / width;
      kernels[expand](x, w, y, pixels, residual);
    };
  }
  createChainRunner(mem.rt, counted, weights).run(xp, mem.output(expected.size), batch);
  const needed = [...new Set(Array.from({ length: oh * 3 }, (_, i) => Math.floor(i / 3) * plan.rows.stride - plan.rows.padTop + (i % 3)).filter((r) => r >= 0 && r < height))];
  assert.equal(made.expand, expand ? needed.length * batch : 0, 'expanded rows');
  assert.deepEqual(made.stem, stem ? Array.from({ length: batch }, () => needed).flat() : [], 'stem rows');

  // the scratch: a ring of kh + (m − 1)·stride rows (at most the image's), as many stem rows (stem and expand), m depthwise output rows
  const [, w, ch] = spec.stages[spec.stages.length - 2].inShape;
  const m = plan.rowsPerStep;
  const ring = plan.stem || plan.expand ? Math.min(3 + (m - 1) * c.stride, height) : 0;
  const stemRows = plan.stem && plan.expand ? roundUp(ring * w * c.cin * 4, 64) : 0;
  assert.equal(plan.ringRows, ring);
  assert.equal(plan.scratchBytes, roundUp(ring * w * ch * 4, 64) + stemRows + roundUp(m * plan.outShape[1] * ch * 4, 64));
  assert.equal(runner.scratch % 64, 0);
}

for (const mode of SIMD_MODES) {
  describe(`wasm row kernels, ${mode.name}`, { skip: mode.skip }, () => {
    describe('depthwise row', () => {
      const cases: [string, DepthwiseRowCase][] = [
        ['3×3 s1 torch, 1-wide column, 5 channels', { size: [4, 1], channels: 5, stride: 1, padding: 'torch', clamp: RELU6 }],
        ['3×3 s1 torch, 2 wide, 30 channels', { size: [3, 2], channels: 30, stride: 1, padding: 'torch', clamp: RELU6 }],
        ['3×3 s2 torch, odd 7×9, 7 channels', { size: [7, 9], channels: 7, stride: 2, padding: 'torch' }],
        ['3×3 s2 same [0, 1, 0, 1], even 8×8, 30 channels', { size: [8, 8], channels: 30, stride: 2, padding: 'same', clamp: RELU6 }],
        ['3×3 s2 same, odd 9×7, 4 channels', { size: [9, 7], channels: 4, stride: 2, padding: 'same' }],
        ['3×3 s2 torch on a 1×1 input, 3 channels', { size: [1, 1], channels: 3, stride: 2, padding: 'torch' }],
        ['3×3 s1 in pixel order, 13 channels, 5×6', { size: [5, 6], channels: 13, stride: 1, padding: 'torch', order: 'pixels', clamp: RELU6 }],
        ['3×3 s2 in channel order, 30 channels, 1-wide column', { size: [5, 1], channels: 30, stride: 2, padding: 'torch', order: 'channels' }],
        ['3×3 s2 same in channel order, two pixels per step, 7 channels, 6×9', { size: [6, 9], channels: 7, stride: 2, padding: 'same', order: 'channels', group: 2 }],
        ['3×3 s1, three pixels per step, 9 channels, 4×11', { size: [4, 11], channels: 9, stride: 1, padding: 'torch', group: 3, clamp: RELU6 }],
        ['3×3 s1 in pixel order, two pixels per step, 6 channels, 3×8', { size: [3, 8], channels: 6, stride: 1, padding: 'torch', group: 2, order: 'pixels' }],
        ['3×3 s1, padding wider than the kernel [0, 0, 3, 3], 2 channels', { size: [3, 2], channels: 2, stride: 1, padding: [0, 0, 3, 3] }],
        ['5×5 s2 same (weights streamed, not held), 10 channels, 11×10', { size: [11, 10], channels: 10, stride: 2, padding: 'same', kernel: [5, 5], clamp: RELU6 }],
        ['5×3 s1, padding [2, 2, 1, 1], 6 channels', { size: [6, 5], channels: 6, stride: 1, padding: [2, 2, 1, 1], kernel: [5, 3] }],
        ['5×3 s1 in pixel order, padding [2, 2, 1, 1], 5 channels', { size: [6, 5], channels: 5, stride: 1, padding: [2, 2, 1, 1], kernel: [5, 3], order: 'pixels' }],
      ];
      for (const [title, c] of cases) it(title, () => checkDepthwiseRows(mode.relaxed, c));
    });

    describe('stem conv over row ranges', () => {
      const cases: [string, ConvRowsCase][] = [
        ['3×3 s2 torch, RGB → 32, odd 11×9', { size: [11, 9], cin: 3, cout: 32, stride: 2, padding: 'torch', clamp: RELU6 }],
        ['3×3 s2 same [0, 1, 0, 1], grey → 13, even 8×8', { size: [8, 8], cin: 1, cout: 13, stride: 2, padding: 'same', clamp: RELU6 }],
        ['3×3 s2 valid, RGB → 5, 9×7, 2 pixels per step', { size: [9, 7], cin: 3, cout: 5, stride: 2, padding: 'valid', group: 2 }],
        ['3×3 s1 torch, RGB → 17, 2-vector blocks, 3 pixels per step', { size: [5, 7], cin: 3, cout: 17, stride: 1, padding: 'torch', blockVectors: 2, group: 3 }],
        ['7×7 s2 same, RGB → 8, 13×11', { size: [13, 11], cin: 3, cout: 8, stride: 2, padding: 'same', kernel: [7, 7] }],
        ['3×3 s2 torch on a 2×1 image, grey → 3', { size: [2, 1], cin: 1, cout: 3, stride: 2, padding: 'torch' }],
      ];
      for (const [title, c] of cases) it(title, () => checkConvRows(mode.relaxed, c));
    });

    it('the 1×1 GEMM runs one row at a time: expand W pixels, project with a residual row', async () => {
      const mem = new Memory();
      const [height, width, cin, hidden] = [5, 7, 5, 30];
      const expandSpec: GemmSpec = { cin, cout: hidden, clamp: RELU6 };
      const projectSpec: GemmSpec = { cin: hidden, cout: cin, residual: true };
      const k = await mem.kernels(mode.relaxed, (m) => {
        emitGemm(m, 'expand', expandSpec);
        emitGemm(m, 'project', projectSpec);
      });
      const x = randomTensor([1, height, width, cin]);
      const we = randomTensor([1, 1, cin, hidden], 0.5);
      const wp = randomTensor([1, 1, hidden, cin], 0.2);
      const be = rng.fillNormal(new Float32Array(hidden), 1);
      const bp = rng.fillNormal(new Float32Array(cin), 1);
      const mid = clamped(conv2d(x, we, be, conv(1, [0, 0, 0, 0])), RELU6);
      const expected = add(conv2d(mid, wp, bp, conv(1, [0, 0, 0, 0])), x);
      const xp = mem.rt.upload(x.data);
      const pe = mem.rt.upload(packGemmWeights(expandSpec, we.data, be));
      const pp = mem.rt.upload(packGemmWeights(projectSpec, wp.data, bp));
      const row = mem.output(width * hidden);
      const y = mem.output(expected.size);
      for (let r = 0; r < height; r++) {
        k.expand(xp + r * width * cin * 4, pe, row, width, 0);
        assertClose(mem.read(row, [width, hidden]), new Tensor([width, hidden], mid.data.slice(r * width * hidden, (r + 1) * width * hidden)), TOL, `expanded row ${r}`);
        k.project(row, pp, y + r * width * cin * 4, width, xp + r * width * cin * 4);
      }
      assertClose(mem.read(y, expected.shape), expected, TOL, 'projected rows');
    });

    describe('streamed chain', () => {
      const cases: [string, ChainCase][] = [
        ['5×5, 5 → 30 → 5, stride 1 torch, residual, 2 rows per step', { size: [5, 5], cin: 5, hidden: 30, cout: 5, stride: 1, padding: 'torch', residual: true, rowsPerStep: 2 }],
        ['6×6, 5 → 30 → 7, stride 2 torch, batch 3, 1 row per step', { batch: 3, size: [6, 6], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'torch', rowsPerStep: 1 }],
        ['8×8, 5 → 30 → 7, stride 2 same [0, 1, 0, 1]', { size: [8, 8], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'same' }],
        ['odd 7×9, 8 → 48 → 12, stride 2 same, clamped projection, 3 rows per step', { size: [7, 9], cin: 8, hidden: 48, cout: 12, stride: 2, padding: 'same', projectClamp: RELU6, rowsPerStep: 3 }],
        ['7×1 column, 5 → 30 → 5, stride 1, residual, batch 3', { batch: 3, size: [7, 1], cin: 5, hidden: 30, cout: 5, stride: 1, padding: 'torch', residual: true }],
        ['5×2, 3 → 18 → 7, stride 2 torch', { size: [5, 2], cin: 3, hidden: 18, cout: 7, stride: 2, padding: 'torch' }],
        ['2×2, 7 → 42 → 7, stride 1, residual', { size: [2, 2], cin: 7, hidden: 42, cout: 7, stride: 1, padding: 'torch', residual: true }],
        ['1×1, 5 → 30 → 7, stride 2 torch', { size: [1, 1], cin: 5, hidden: 30, cout: 7, stride: 2, padding: 'torch' }],
        ['expansion 1: 9×7, 13 → 7, stride 1, 4 rows per step', { size: [9, 7], cin: 13, hidden: 13, cout: 7, stride: 1, padding: 'torch', expand: false, rowsPerStep: 4 }],
        ['expansion 1: 8×6, 7 → 7, stride 2 same, batch 3', { batch: 3, size: [8, 6], cin: 7, hidden: 7, cout: 7, stride: 2, padding: 'same', expand: false }],
        ['expansion 1: 6×5, 7 → 7, stride 1, residual', { size: [6, 5], cin: 7, hidden: 7, cout: 7, stride: 1, padding: 'torch', expand: false, residual: true }],
        ['stem RGB 11×9 → 8 (torch), expansion 1, → 5, batch 3', { batch: 3, size: [11, 9], stem: { cin: 3, padding: 'torch' }, cin: 8, hidden: 8, cout: 5, stride: 1, padding: 'torch', expand: false }],
        ['stem grey 10×12 → 6 (same), expand → 30, stride 2 → 7, 2 rows per step', { size: [10, 12], stem: { cin: 1, padding: 'same' }, cin: 6, hidden: 30, cout: 7, stride: 2, padding: 'torch', rowsPerStep: 2 }],
        ['stem RGB 9×9 → 8 (torch), expand → 24, stride 1 → 8, 1 row per step', { size: [9, 9], stem: { cin: 3, padding: 'torch' }, cin: 8, hidden: 24, cout: 8, stride: 1, padding: 'torch', rowsPerStep: 1 }],
        ['stem RGB 3×2 → 5 (torch), expand → 30, stride 1 → 7, batch 3', { batch: 3, size: [3, 2], stem: { cin: 3, padding: 'torch' }, cin: 5, hidden: 30, cout: 7, stride: 1, padding: 'torch' }],
        ['14×14, 16 → 96 → 16, stride 1, residual (a MobileNetV2 block)', { size: [14, 14], cin: 16, hidden: 96, cout: 16, stride: 1, padding: 'torch', residual: true }],
      ];
      for (const [title, c] of cases) it(title, () => checkChain(mode.relaxed, c));

      it('runners on separate instances of one module share packed weights (one per thread)', async () => {
        const mem = new Memory();
        const spec = chainOf({ batch: 2, size: [9, 8], cin: 6, hidden: 36, cout: 6, stride: 1, padding: 'torch', residual: true });
        const plan = planChain(spec, { prefix: 'block3', rowsPerStep: 2 });
        const m = mem.rt.module({ relaxedSimd: mode.relaxed });
        emitGemm(m, 'unrelated', { cin: 2, cout: 2 });
        emitChainKernels(m, plan);
        const weights = packChain(mem.rt, plan, spec);
        const [first, second] = [await mem.rt.instantiate(m), await mem.rt.instantiate(m)];
        const scratch = mem.rt.alloc(plan.scratchBytes, 64);
        const runners = [createChainRunner(mem.rt, first, weights), createChainRunner(mem.rt, second, weights, scratch)];
        assert.equal(runners[1].scratch, scratch);
        const x = randomTensor([2, 9, 8, 6]);
        const expected = referenceChain(spec, x);
        const xp = mem.rt.upload(x.data);
        const y = mem.output(expected.size);
        // interleaved bands, as two threads would run them
        for (const b of [0, 1]) {
          runners[0].runRows(xp, y, b, 0, 4);
          runners[1].runRows(xp, y, b, 4, 5);
        }
        assertClose(mem.read(y, expected.shape), expected, TOL, 'two runners');
      });
    });
  });
}

describe('chain planning', () => {
  const base = (): ChainSpec => chainOf({ size: [6, 6], cin: 4, hidden: 24, cout: 4, stride: 1, padding: 'torch', residual: true });

  it('refuses a dilated stem, a residual across shapes, and stages out of order', () => {
    const dilated = chainOf({ size: [9, 9], cin: 4, hidden: 8, cout: 4, stride: 1, padding: 'torch', stem: { cin: 3, padding: 'torch' } });
    const stem = dilated.stages[0];
    dilated.stages = [{ ...stem, conv: { ...stem.conv, dilations: [2, 2] } }, ...dilated.stages.slice(1)];
    assert.throws(() => planChain(dilated), /stem conv must be undilated/);
    const strided = chainOf({ size: [6, 6], cin: 4, hidden: 24, cout: 4, stride: 2, padding: 'torch' });
    assert.throws(() => planChain({ ...strided, residual: true }), /residual needs equal/);
    const b = base();
    assert.throws(() => planChain({ ...b, stages: [b.stages[1], b.stages[0], b.stages[2]] }), /depthwise/);
    assert.throws(() => planChain({ ...b, stages: [b.stages[2]] }), /2 to 4 stages/);
    const bad = base();
    assert.throws(() => planChain({ ...bad, stages: [bad.stages[0], { ...bad.stages[1], inShape: [6, 6, 23] }, bad.stages[2]] }));
  });

  it('plans the scratch a runner needs: three expanded rows and one depthwise row', () => {
    const plan = planChain(chainOf({ size: [56, 56], cin: 24, hidden: 144, cout: 24, stride: 1, padding: 'torch', residual: true }));
    assert.equal(plan.scratchBytes, 4 * 56 * 144 * 4);
    assert.deepEqual(plan.names, { stem: null, stemWindows: null, expand: 'chain_expand', depthwise: 'chain_depthwise', project: 'chain_project' });
  });
});
