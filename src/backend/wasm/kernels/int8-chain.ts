// Row-streamed int8 inverted residuals (a qchain's [expand 1×1] → depthwise → project 1×1 (+ TFLite's ADD of the input)):
// kernels/chain.ts's rows and runner over the int8 GEMM and depthwise-row kernels, so the expanded tensor never exists whole.

import type { ModuleBuilder } from '../assembler.js';
import type { WasmRuntime } from '../runtime.js';
import type { QConvStep } from '../../../graph/plan.js';
import { chainRoles } from '../../../graph/chain-stages.js';
import { ConfigError } from '../../../errors.js';
import { type ChainOptions, type ChainRows, type ChainWeights, planChainRows } from './chain.js';
import { type Int8DepthwiseRowSpec, emitInt8DepthwiseRow, packInt8DepthwiseWeights } from './int8-depthwise.js';
import type { Int8ConvWeights } from './int8-epilogue.js';
import { type Int8GemmSpec, emitInt8Gemm, packInt8GemmWeights } from './int8-gemm.js';

/** An int8 chain's rows and its kernels' specs. */
export interface Int8ChainPlan extends ChainRows {
  expand: Int8GemmSpec | null;
  depthwise: Int8DepthwiseRowSpec;
  project: Int8GemmSpec;
  /** The depthwise stage's input zero point: what the row standing for the vertical padding holds. */
  paddingValue: number;
}

/** Plans a chain of int8 stages without a stem (the engine runs a stem on phases of its own, into the chain's input). */
export function planInt8Chain(stages: readonly QConvStep[], options: ChainOptions = {}): Int8ChainPlan {
  const residual = stages[stages.length - 1].residual !== null;
  const roles = chainRoles(stages, residual);
  if (roles.stem) throw new ConfigError('int8 chain: the stem runs before the streamed stages; plan the stages after it');
  const rows = planChainRows(roles, residual, 1, options);
  const { width, channels } = rows.rows;
  const dw = roles.depthwise;
  const [kh, kw] = dw.kernelShape;
  const depthwise: Int8DepthwiseRowSpec = { width, channels, kernel: [kh, kw], stride: dw.conv.strides[1], dilation: dw.conv.dilations[1], padLeft: dw.conv.padding[2], padRight: dw.conv.padding[3] };
  const expand: Int8GemmSpec | null = roles.expand && { cin: roles.expand.inShape[2], cout: channels };
  return { ...rows, expand, depthwise, project: { cin: channels, cout: rows.outShape[2], residual }, paddingValue: dw.inputZeroPoint };
}

/** Emits the chain's kernels into `mod` under `plan.names`. */
export function emitInt8ChainKernels(mod: ModuleBuilder, plan: Int8ChainPlan): void {
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
  const expand = plan.expand ? uploadBytes(runtime, packInt8GemmWeights(plan.expand, int8ConvWeights(at(3)))) : 0;
  const depthwise = uploadBytes(runtime, packInt8DepthwiseWeights(plan.depthwise, int8ConvWeights(at(2))));
  const project = uploadBytes(runtime, packInt8GemmWeights(plan.project, int8ConvWeights(at(1))));
  // rows in the vertical padding hold the depthwise input's zero point: their x − zx is 0
  const zeroRow = uploadBytes(runtime, new Uint8Array(plan.zeroRowFloats).fill(plan.paddingValue & 0xff));
  return { plan, stem: 0, expand, depthwise, project, zeroRow, bytes: runtime.used - start };
}
