// `mobilenet summary`: the per-layer cost table of an architecture, or its JSON.

import { modelCost } from '../cost/model-cost.js';
import { formatBytes, formatSummary } from '../cost/format.js';
import { lowerModel } from '../graph/lower.js';
import type { Model } from '../graph/model.js';
import { planChains, planMemory } from '../backend/wasm/memory-plan.js';
import { buildModel } from '../models/registry.js';
import { UsageError } from '../errors.js';
import { OUTPUT_STRIDES } from '../models/output-stride.js';
import type { OutputStride } from '../models/output-stride.js';
import { ARCHITECTURE_FLAGS, ARCHITECTURE_HELP, architectureFlags, numberFlag, parse, stringFlag } from './args.js';
import type { CommandIO } from './io.js';

export const SUMMARY_HELP = `mobilenet summary [architecture flags] [--output-stride 8|16|32] [--head mobile|aspp] [--json]
Per-layer output shapes, conv windows (kernel, stride, atrous rate), parameters and multiply-adds, with totals:
MACs, parameters counted three ways (weights: TF-slim; trainable: torchvision; total: Keras), activation memory,
and the wasm engine's planned arena with and without row-streamed blocks (JSON: plannedArenaBytes {fused, unfused}).
${ARCHITECTURE_HELP}
  --arch deeplabv3_mobilenet_v2      Mobile DeepLabv3 on MobileNetV2 (--classes default 21, PASCAL VOC)
  --output-stride 8|16|32            downsampling limited by atrous depthwise convs (DeepLab default 16)
  --head mobile|aspp                 DeepLab's head: image pooling + 1×1 (default), or plus 3×3 atrous branches
  --arch ssdlite_mobilenet_v2        SSDLite on MobileNetV2 (paper §6.2; also ssdlite_mobilenet_v1, ssd_mobilenet_v1,
                                     ssd_mobilenet_v2): --classes K objects besides background (default 90), --resolution
                                     default 300; outputs scores [anchors, K + 1] and boxes [anchors, 4]
  --json                             machine-readable output`;

export async function summaryCommand(argv: string[], io: CommandIO): Promise<void> {
  const { values } = parse(argv, { ...ARCHITECTURE_FLAGS, 'output-stride': { type: 'string' }, head: { type: 'string' }, json: { type: 'boolean' } }, 'summary');
  const { arch, options } = architectureFlags(values);
  const outputStride = numberFlag(values, 'output-stride', { accepts: (v) => (OUTPUT_STRIDES as readonly number[]).includes(v), what: '8, 16 or 32' });
  if (outputStride !== undefined) options.outputStride = outputStride as OutputStride;
  const head = stringFlag(values, 'head', ['mobile', 'aspp'] as const);
  if (head !== undefined && arch !== 'deeplabv3_mobilenet_v2') throw new UsageError(`--head applies to deeplabv3_mobilenet_v2, not ${arch}`);
  if (head !== undefined) options.head = head;
  const model = buildModel(arch, options);
  const cost = modelCost(model);
  const plannedArenaBytes = { fused: plannedBytes(model, true), unfused: plannedBytes(model, false) };
  const { detection, ...metadata } = model.metadata;
  // a detector's anchors are thousands of numbers: the summary gives their count
  const described = detection ? { ...metadata, detection: { ...detection, anchors: undefined, anchorCount: detection.anchors.length / 4 } } : metadata;
  if (values.json) io.out(JSON.stringify({ arch, options: described, ...cost, plannedArenaBytes }, null, 2));
  else {
    io.out(formatSummary(cost));
    if (detection) io.out(`Detector: ${detection.anchors.length / 4} anchors; outputs ${model.outputNames.map((name) => `${name} (N, ${model.outputShapes[name].join(', ')})`).join(', ')}`);
    io.out(`Planned arena (wasm engine, batch 1, float32): ${formatBytes(plannedArenaBytes.fused)} with row-streamed blocks, ${formatBytes(plannedArenaBytes.unfused)} without`);
  }
}

/** Activation memory the wasm engine plans for one image, BN folded, blocks streamed or not. */
function plannedBytes(model: Model, fuseBlocks: boolean): number {
  const plan = lowerModel(model, { fuseBlocks });
  return planMemory(plan, planChains(plan), 1).totalBytes;
}
