// Row-streamed int8 chains (a qchain's [stem] [expand 1×1] → depthwise → project 1×1 (+ TFLite's ADD of the input)): chain.ts's
// rows and runner over the int8 GEMM, im2col-row and depthwise-row kernels, so the stem's and expansion's outputs never exist whole.

import type { ModuleBuilder } from '../assembler.js';
import type { WasmRuntime } from '../runtime.js';
import type { QConvStep } from '../../../graph/plan.js';
import { chainRoles } from '../../../graph/chain-stages.js';
import { type ChainOptions, type ChainRows, type ChainWeights, planChainRows } from './chain.js';
import { type Int8DepthwiseRowSpec, emitInt8DepthwiseRow, packInt8DepthwiseWeights } from './int8-depthwise.js';
import type { Int8ConvWeights } from './int8-epilogue.js';
import { type Int8Im2colSpec, emitInt8Im2colRows } from './int8-im2col.js';
import { type Int8GemmSpec, emitInt8Gemm, packInt8GemmWeights } from './int8-gemm.js';

/** An int8 chain's rows and its kernels' specs. */
export interface Int8ChainPlan extends ChainRows {
  /** The stem as window rows (`stemWindows`) and the GEMM over them. */
  stem: { windows: Int8Im2colSpec; gemm: Int8GemmSpec } | null;
  expand: Int8GemmSpec | null;
  depthwise: Int8DepthwiseRowSpec;
  project: Int8GemmSpec;
  /** The depthwise stage's input zero point: what the row standing for the vertical padding holds. */
  paddingValue: number;
}

/** Plans a chain of int8 stages: the rows, the kernels' names (`prefix` + stage) and specs. */
export function planInt8Chain(stages: readonly QConvStep[], options: ChainOptions = {}): Int8ChainPlan {
  const residual = stages[stages.length - 1].residual !== null;
  const roles = chainRoles(stages, residual);
  const rows = planChainRows(roles, residual, 1, { ...options, stemWindows: true });
  const s = roles.stem;
  const stem = s && {
    windows: { height: s.inShape[0], width: s.inShape[1], cin: s.inShape[2], kernel: [s.kernelShape[0], s.kernelShape[1]] as const, strides: s.conv.strides, padding: s.conv.padding, zeroPoint: s.inputZeroPoint },
    gemm: { cin: s.kernelShape[0] * s.kernelShape[1] * s.inShape[2], cout: s.outShape[2] },
  };
  const { width, channels } = rows.rows;
  const dw = roles.depthwise;
  const [kh, kw] = dw.kernelShape;
  const depthwise: Int8DepthwiseRowSpec = { width, channels, kernel: [kh, kw], stride: dw.conv.strides[1], dilation: dw.conv.dilations[1], padLeft: dw.conv.padding[2], padRight: dw.conv.padding[3] };
  const expand: Int8GemmSpec | null = roles.expand && { cin: roles.expand.inShape[2], cout: channels };
  return { ...rows, stem, expand, depthwise, project: { cin: channels, cout: rows.outShape[2], residual }, paddingValue: dw.inputZeroPoint };
}

/** Emits the chain's kernels into `mod` under `plan.names`. */
export function emitInt8ChainKernels(mod: ModuleBuilder, plan: Int8ChainPlan): void {
  if (plan.stem && plan.names.stem && plan.names.stemWindows) {
    emitInt8Im2colRows(mod, plan.names.stemWindows, plan.stem.windows);
    emitInt8Gemm(mod, plan.names.stem, plan.stem.gemm);
  }
  if (plan.expand && plan.names.expand) emitInt8Gemm(mod, plan.names.expand, plan.expand);
  emitInt8DepthwiseRow(mod, plan.names.depthwise, plan.depthwise);
  emitInt8Gemm(mod, plan.names.project, plan.project);
}

/** Copies bytes into the runtime's memory (64-byte aligned) and returns their pointer. */
export function uploadBytes(runtime: WasmRuntime, bytes: Uint8Array): number {
  const at = runtime.alloc(bytes.length, 64);
  new Uint8Array(runtime.memory.buffer, at, bytes.length).set(bytes);
  return at;
}

/** The weights of an int8 convolution as the packers take them. */
export const int8ConvWeights = (step: QConvStep): Int8ConvWeights => ({ kernel: step.kernel, bias: step.bias, inputZeroPoint: step.inputZeroPoint, requant: step.requant, add: step.add });

/** Packs the stages' weights (`stages` as `planInt8Chain` took them) and the padding row, for `kernels/chain.ts`'s runner. */
export function packInt8Chain(runtime: WasmRuntime, plan: Int8ChainPlan, stages: readonly QConvStep[]): ChainWeights {
  const start = runtime.used;
  const at = (fromEnd: number): QConvStep => stages[stages.length - fromEnd];
  const stem = plan.stem ? uploadBytes(runtime, packInt8GemmWeights(plan.stem.gemm, int8ConvWeights(stages[0]))) : 0;
  const expand = plan.expand ? uploadBytes(runtime, packInt8GemmWeights(plan.expand, int8ConvWeights(at(3)))) : 0;
  const depthwise = uploadBytes(runtime, packInt8DepthwiseWeights(plan.depthwise, int8ConvWeights(at(2))));
  const project = uploadBytes(runtime, packInt8GemmWeights(plan.project, int8ConvWeights(at(1))));
  // rows in the vertical padding hold the depthwise input's zero point: their x − zx is 0
  const zeroRow = uploadBytes(runtime, new Uint8Array(plan.zeroRowFloats).fill(plan.paddingValue & 0xff));
  return { plan, stem, expand, depthwise, project, zeroRow, bytes: runtime.used - start };
}
