// SSD and SSDLite detectors on MobileNets (MobileNetV2 paper §6.2, TF Object Detection API's `ssd(lite)_mobilenet_*`):
// two backbone taps, four extra blocks, a class and a box predictor per map, outputs `scores` and `boxes` over every anchor.

import { ConfigError } from '../errors.js';
import { convBN } from '../blocks/conv-bn.js';
import type { NormOptions } from '../blocks/conv-bn.js';
import { ssdAnchors, ssdAnchorsPerLocation } from '../detect/anchors.js';
import type { SsdAnchorOptions } from '../detect/anchors.js';
import type { DetectionHead } from '../detect/types.js';
import { Model } from '../graph/model.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import { Conv2D } from '../nn/conv.js';
import { Reshape, input } from '../nn/core.js';
import { Concatenate } from '../nn/extra.js';
import type { Layer } from '../nn/layer.js';
import { MOBILENET_V1_BLOCKS, mobilenetV1Body, resolveV1Body } from './mobilenet-v1.js';
import { MOBILENET_V2_BLOCKS, mobilenetV2Body, mobilenetV2LastConv, resolveBody } from './mobilenet-v2.js';
import type { CommonModelOptions, ResolvedCommon } from './options.js';
import { commonMetadata, resolveCommon } from './options.js';

export type SsdBackbone = 'mobilenet_v2' | 'mobilenet_v1';

/** `separable`: SSDLite (3×3 depthwise + 1×1 everywhere after the backbone); `conv`: SSD's regular 3×3 extras and 1×1 predictors. */
export type SsdHead = 'separable' | 'conv';

/** TF's anchor generator settings; the feature maps come from the network. */
export type SsdAnchorSettings = Omit<SsdAnchorOptions, 'featureMaps'>;

type SharedOptions = Pick<CommonModelOptions, 'alpha' | 'inputChannels' | 'convention' | 'bnEpsilon' | 'bnMomentum' | 'name' | 'seed'>;

/** The options an architecture name leaves open (`ssdlite_mobilenet_v2` fixes the backbone and the head). */
export interface SsdArchitectureOptions extends SharedOptions {
  /** Input size, one number or [height, width]; default 300, TF's COCO configs'. */
  resolution?: number | readonly [number, number];
  /** Object classes K, without background (the outputs have K + 1 slots, slot 0 background); default 90 (TF's COCO label map). */
  classes?: number;
  /** `torch` pads 1 on every side (the golden SSDLite); `same` is TF SAME (face-api). Default from the convention. */
  padding?: 'torch' | 'same';
  /** The anchor generator's settings (scales, aspect ratios, …); TF's `ssd_anchor_generator` defaults. */
  anchors?: SsdAnchorSettings;
}

export interface SsdOptions extends SsdArchitectureOptions {
  /** Default `mobilenet_v2`. */
  backbone?: SsdBackbone;
  /** `ssd()` default `conv`; `ssdLite()` is `separable`. */
  head?: SsdHead;
}

/** Base depths D of the four extra blocks after the two taps (TF's `layer_depth`): each maps to max(16, ⌊α·D⌋) channels. */
export const SSD_EXTRA_DEPTHS: readonly number[] = [512, 256, 256, 128];

/** TF's `min_depth` of the extra layers. */
export const SSD_MIN_DEPTH = 16;

/** BatchNorm ε of the extra layers and predictors (TF's SSD configs), whatever the backbone's convention. */
export const SSD_BN_EPSILON = 1e-3;

/** The Faster R-CNN box coder's scale factors [y, x, h, w] of TF's SSD configs. */
export const SSD_SCALE_FACTORS: DetectionHead['scaleFactors'] = [10, 10, 5, 5];

/** The architecture name of a backbone and head: `ssdlite_mobilenet_v2`, `ssd_mobilenet_v1`, … */
export function ssdArchitecture(backbone: SsdBackbone, head: SsdHead): string {
  return `${head === 'separable' ? 'ssdlite' : 'ssd'}_${backbone}`;
}

/** SSDLite (MobileNetV2 paper §6.2): separable extras and predictors; the golden case is `ssdLite({ alpha: 0.5, resolution: 160, classes: 5 })`. */
export function ssdLite(options: Omit<SsdOptions, 'head'> = {}): Model {
  return ssd({ ...options, head: 'separable' });
}

export function ssd(options: SsdOptions = {}): Model {
  const { backbone = 'mobilenet_v2', head = 'conv', ...rest } = options;
  if (backbone !== 'mobilenet_v2' && backbone !== 'mobilenet_v1') throw new ConfigError(`ssd: backbone must be 'mobilenet_v2' or 'mobilenet_v1', got ${JSON.stringify(backbone)}`);
  if (head !== 'separable' && head !== 'conv') throw new ConfigError(`ssd: head must be 'separable' or 'conv', got ${JSON.stringify(head)}`);
  const arch = ssdArchitecture(backbone, head);
  const c = resolveCommon(
    { ...rest, resolution: rest.resolution ?? 300, classes: rest.classes ?? 90, padding: undefined, includeTop: false, pooling: null },
    arch,
    backbone === 'mobilenet_v2' ? 'torchvision' : 'keras',
  );
  const padding = rest.padding ?? (c.convention === 'keras' ? 'same' : 'torch');
  if (padding !== 'torch' && padding !== 'same') throw new ConfigError(`${arch}: padding must be 'torch' or 'same', got ${JSON.stringify(padding)}`);
  const anchorSettings = checkAnchorSettings(rest.anchors, arch);

  const x = input([c.height, c.width, c.inputChannels], 'input');
  const [tap, top] = backboneMaps(x, backbone, padding, c, arch);
  const norm = { bnEpsilon: SSD_BN_EPSILON, bnMomentum: c.bnMomentum };
  const maps = [tap, top];
  SSD_EXTRA_DEPTHS.forEach((depth, k) => maps.push(extraBlock(maps[maps.length - 1], k, depth, { alpha: c.alpha, head, padding, norm })));

  const anchorOptions: SsdAnchorOptions = { imageSize: [c.height, c.width], ...anchorSettings, featureMaps: maps.map((t) => [t.shape[0], t.shape[1]] as const) };
  const perLocation = ssdAnchorsPerLocation(anchorOptions);
  const predictor = (kind: 'class' | 'box', slots: number): SymbolicTensor[] =>
    maps.map((map, m) => predictorHead(map, m, kind, perLocation[m], slots, { head, padding, norm }));
  const joined = (name: string, heads: SymbolicTensor[]): SymbolicTensor => inBlock(new Concatenate(name, 0, heads.length), 'predictions').apply(heads);
  const scores = joined('scores', predictor('class', c.classes + 1));
  const boxes = joined('boxes', predictor('box', 4));

  const model = new Model(x, { scores, boxes }, { name: rest.name ?? `${arch}_${c.alpha}_${c.height}`, seed: rest.seed });
  const detection: DetectionHead = {
    anchors: ssdAnchors(anchorOptions),
    scaleFactors: [...SSD_SCALE_FACTORS],
    scoreConversion: 'sigmoid',
    background: true,
    outputs: { scores: 'scores', boxes: 'boxes' },
  };
  model.metadata = { ...commonMetadata(arch, c, rest), classes: c.classes, padding, detection };
  return model;
}

function checkAnchorSettings(settings: SsdAnchorSettings | undefined, arch: string): SsdAnchorSettings {
  if (settings === undefined) return {};
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new ConfigError(`${arch}: anchors must be an object of anchor generator settings, got ${JSON.stringify(settings)}`);
  if ('featureMaps' in settings) throw new ConfigError(`${arch}: anchors.featureMaps is not an option: the network's feature maps set it`);
  return settings;
}

/**
 * The backbone's two maps: stride 16 and stride 32. MobileNetV2: the expansion output of the last stride-2
 * bottleneck (slim's `layer_15/expansion_output`, torchvision's `features.14.conv.0`) and the 1×1 conv to 1280
 * (`layer_19`); MobileNetV1: `Conv2d_11_pointwise` and `Conv2d_13_pointwise`.
 */
function backboneMaps(x: SymbolicTensor, backbone: SsdBackbone, padding: 'torch' | 'same', c: ResolvedCommon, arch: string): [SymbolicTensor, SymbolicTensor] {
  if (backbone === 'mobilenet_v2') {
    const body = resolveBody({ alpha: c.alpha, padding }, c, arch);
    const top = mobilenetV2LastConv(mobilenetV2Body(x, body), body);
    const lastStride2 = MOBILENET_V2_BLOCKS.flatMap(([, , n, s]) => Array.from({ length: n }, (_, i) => (i === 0 ? s : 1))).lastIndexOf(2);
    return [upstream(top, `block_${lastStride2}_expand_relu`), top];
  }
  const top = mobilenetV1Body(x, resolveV1Body({ alpha: c.alpha, padding }, c, arch));
  // blocks are numbered from 1, so the 0-based index of the last stride-2 block is the number of the block before it
  const beforeLastStride2 = MOBILENET_V1_BLOCKS.map(([, s]) => s).lastIndexOf(2);
  return [upstream(top, `conv_pw_${beforeLastStride2}_relu`), top];
}

/** The tensor made by the layer named `name` somewhere upstream of `output`. */
function upstream(output: SymbolicTensor, name: string): SymbolicTensor {
  const seen = new Set<SymbolicTensor>();
  const stack = [output];
  while (stack.length) {
    const t = stack.pop()!;
    if (t.node?.layer.name === name) return t;
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push(...(t.node?.inputs ?? []));
  }
  throw new ConfigError(`ssd: the backbone has no layer ${JSON.stringify(name)} to tap`);
}

interface HeadSettings {
  head: SsdHead;
  padding: 'torch' | 'same';
  norm: NormOptions;
}

/**
 * Extra block k on `x`: a 1×1 conv to max(16, ⌊α·D/2⌋) channels, then to max(16, ⌊α·D⌋) at stride 2 by a 3×3
 * depthwise + 1×1 conv (SSDLite) or one 3×3 conv (SSD); every conv with BN and ReLU6. torch names `extras.k.*`.
 */
function extraBlock(x: SymbolicTensor, k: number, baseDepth: number, s: HeadSettings & { alpha: number }): SymbolicTensor {
  const depth = (d: number): number => Math.max(SSD_MIN_DEPTH, Math.floor(s.alpha * d));
  const name = `extra_${k}`;
  const unit = (y: SymbolicTensor, part: string, torch: string, spec: { filters?: number; kernelSize: number; strides?: number }): SymbolicTensor =>
    convBN(y, {
      ...s.norm,
      ...spec,
      padding: spec.kernelSize === 1 ? 'valid' : s.padding,
      activation: 'relu6',
      names: { conv: `${name}_${part}`, bn: `${name}_${part}_BN`, activation: `${name}_${part}_relu` },
      block: name,
      torch: { conv: `extras.${k}.${torch}.0`, bn: `extras.${k}.${torch}.1` },
    });
  const y = unit(x, '1x1', '0', { filters: depth(baseDepth / 2), kernelSize: 1 });
  if (s.head === 'conv') return unit(y, '3x3', '1', { filters: depth(baseDepth), kernelSize: 3, strides: 2 });
  return unit(unit(y, 'depthwise', '1', { kernelSize: 3, strides: 2 }), 'pointwise', '2', { filters: depth(baseDepth), kernelSize: 1 });
}

/**
 * Map m's class or box predictor: (SSDLite) a 3×3 depthwise + BN + ReLU6, then a 1×1 conv with bias to `filters`
 * = anchors per location × slots, reshaped NHWC to [H·W·A, slots] (anchors ordered y, x, box spec).
 * Names `class_predictor_m` / `box_predictor_m`; torch names `cls.m.*` / `box.m.*`.
 */
function predictorHead(x: SymbolicTensor, m: number, kind: 'class' | 'box', anchorsPerLocation: number, slots: number, s: HeadSettings): SymbolicTensor {
  const name = `${kind}_predictor_${m}`;
  const torch = `${kind === 'class' ? 'cls' : 'box'}.${m}`;
  let y = x;
  if (s.head === 'separable') {
    y = convBN(y, {
      ...s.norm,
      kernelSize: 3,
      padding: s.padding,
      activation: 'relu6',
      names: { conv: `${name}_depthwise`, bn: `${name}_depthwise_BN`, activation: `${name}_depthwise_relu` },
      block: name,
      torch: { conv: `${torch}.0.0`, bn: `${torch}.0.1` },
    });
  }
  const conv = inBlock(new Conv2D(name, { filters: anchorsPerLocation * slots, kernelSize: 1, useBias: true }), name);
  conv.torchName = s.head === 'separable' ? `${torch}.1` : torch;
  y = conv.apply(y);
  const [height, width] = y.shape;
  return inBlock(new Reshape(`${name}_reshape`, [height * width * anchorsPerLocation, slots]), name).apply(y);
}

const inBlock = <L extends Layer>(layer: L, block: string): L => Object.assign(layer, { block });
