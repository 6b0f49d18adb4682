// timm state-dict names for MobileNetV2 (`mobilenetv2_*`) and MobileNetV1 (`mobilenetv1_*`), timm's EfficientNet
// layout: conv_stem, bn1, blocks.<stage>.<block>.{conv_pw,bn1,conv_dw,bn2,conv_pwl,bn3}, conv_head, bn2, classifier.

import { WeightsError } from '../errors.js';
import { lookupTable } from '../lookup-table.js';
import { MOBILENET_V2_BLOCKS } from '../models/mobilenet-v2.js';
import { MOBILENET_V1_BLOCKS } from '../models/mobilenet-v1.js';
import { transpose } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';

export type TimmArchitecture = 'mobilenet_v2' | 'mobilenet_v1';

/** A timm state dict has a `conv_stem` and numbered `blocks`. */
export function isTimmNaming(names: Iterable<string>): boolean {
  let stem = false;
  let blocks = false;
  for (const name of names) {
    if (name === 'conv_stem.weight') stem = true;
    else if (/^blocks\.\d+\.\d+\./.test(name)) blocks = true;
  }
  return stem && blocks;
}

/** MobileNetV2 has inverted residuals (`conv_pwl`); MobileNetV1 only depthwise-separable blocks. */
export function timmArchitecture(names: Iterable<string>): TimmArchitecture {
  for (const name of names) if (name.includes('.conv_pwl.')) return 'mobilenet_v2';
  return 'mobilenet_v1';
}

const BN = lookupTable<string>({ weight: 'weight', bias: 'bias', running_mean: 'running_mean', running_var: 'running_var', num_batches_tracked: 'num_batches_tracked' });

/** The blocks of a timm state dict in order: `${stage}.${index}` → position from 1. */
function blockOrder(names: string[]): Map<string, number> {
  const ids = new Set<string>();
  for (const name of names) {
    const m = /^blocks\.(\d+)\.(\d+)\./.exec(name);
    if (m) ids.add(`${m[1]}.${m[2]}`);
  }
  const sorted = [...ids].sort((a, b) => {
    const [sa, ba] = a.split('.').map(Number);
    const [sb, bb] = b.split('.').map(Number);
    return sa - sb || ba - bb;
  });
  return new Map(sorted.map((id, i) => [id, i + 1]));
}

/** timm's module inside a MobileNetV2 block → torchvision's, for the first (t = 1, depthwise-separable) block and the others. */
const V2_SEPARABLE = lookupTable<string>({ conv_dw: 'conv.0.0', bn1: 'conv.0.1', conv_pw: 'conv.1', bn2: 'conv.2' });
const V2_INVERTED = lookupTable<string>({ conv_pw: 'conv.0.0', bn1: 'conv.0.1', conv_dw: 'conv.1.0', bn2: 'conv.1.1', conv_pwl: 'conv.2', bn3: 'conv.3' });

function unknown(names: string[], what: string): WeightsError {
  return new WeightsError(`timm state dict: ${names.length} tensor(s) have no place in ${what} (squeeze-excitation, another architecture?): ${names.slice(0, 6).join(', ')}`, [], names);
}

/**
 * Renames a timm MobileNetV2 state dict to torchvision's names (layouts are the same: OIHW convs, [out, in] Linear).
 * Blocks are numbered in order, so any stage layout maps; an unknown key is a WeightsError naming it.
 */
export function timmToTorchvisionV2(state: Map<string, Tensor>): Map<string, Tensor> {
  const names = [...state.keys()];
  const order = blockOrder(names);
  const last = order.size + 1;
  const out = new Map<string, Tensor>();
  const stray: string[] = [];
  const separable = new Set([...order.keys()].filter((id) => !names.some((n) => n.startsWith(`blocks.${id}.conv_pwl.`))));
  for (const [name, tensor] of state) {
    const parts = name.split('.');
    let torch: string | undefined;
    if (parts[0] === 'blocks' && parts.length === 5) {
      const id = `${parts[1]}.${parts[2]}`;
      const module = (separable.has(id) ? V2_SEPARABLE : V2_INVERTED)[parts[3]];
      if (module) torch = `features.${order.get(id)}.${module}.${parts[4]}`;
    } else if (parts.length === 2) {
      const [module, param] = parts;
      const top = lookupTable<string>({ conv_stem: 'features.0.0', bn1: 'features.0.1', conv_head: `features.${last}.0`, bn2: `features.${last}.1`, classifier: 'classifier.1' });
      if (top[module] && (module.startsWith('conv') ? param === 'weight' : module === 'classifier' ? param === 'weight' || param === 'bias' : param in BN)) torch = `${top[module]}.${param}`;
    }
    if (torch === undefined) stray.push(name);
    else out.set(torch, tensor);
  }
  if (stray.length) throw unknown(stray, 'a MobileNetV2');
  return out;
}

/** Renames a torchvision MobileNetV2 state dict (our model's `torchStateDict`) to timm's names, stages as in the paper's table. */
export function torchvisionToTimmV2(state: Map<string, Tensor>): Map<string, Tensor> {
  const position: [number, number][] = [];
  MOBILENET_V2_BLOCKS.forEach(([, , n], stage) => {
    for (let j = 0; j < n; j++) position.push([stage, j]);
  });
  const last = position.length + 1;
  const inverse = (table: Record<string, string>): Map<string, string> => new Map(Object.entries(table).map(([timm, tv]) => [tv, timm]));
  const separable = inverse(V2_SEPARABLE);
  const inverted = inverse(V2_INVERTED);
  const out = new Map<string, Tensor>();
  const stray: string[] = [];
  for (const [name, tensor] of state) {
    const param = name.slice(name.lastIndexOf('.') + 1);
    const module = name.slice(0, name.lastIndexOf('.'));
    let timm: string | undefined;
    const m = /^features\.(\d+)\.(.+)$/.exec(module);
    if (module === 'features.0.0') timm = 'conv_stem';
    else if (module === 'features.0.1') timm = 'bn1';
    else if (module === `features.${last}.0`) timm = 'conv_head';
    else if (module === `features.${last}.1`) timm = 'bn2';
    else if (module === 'classifier.1') timm = 'classifier';
    else if (m && Number(m[1]) >= 1 && Number(m[1]) <= position.length) {
      const [stage, j] = position[Number(m[1]) - 1];
      const inner = (stage === 0 ? separable : inverted).get(m[2]);
      if (inner) timm = `blocks.${stage}.${j}.${inner}`;
    }
    if (timm === undefined) stray.push(name);
    else out.set(`${timm}.${param}`, tensor);
  }
  if (stray.length) throw new WeightsError(`not a torchvision MobileNetV2 state dict of the standard layout: ${stray.slice(0, 6).join(', ')}`, [], stray);
  return out;
}

/** torch BN names → ours. */
const BN_OURS = lookupTable<string>({ weight: 'gamma', bias: 'beta', running_mean: 'moving_mean', running_var: 'moving_variance' });

/** timm's MobileNetV1 blocks, `blocks.<stage>.<index>`, in order: stages start where the stride is 2 (dsa_r1, r2, r2, r6, r2). */
function timmV1Blocks(): string[] {
  const blocks: string[] = [];
  let stage = -1;
  let index = 0;
  MOBILENET_V1_BLOCKS.forEach(([, stride], i) => {
    if (i === 0 || stride === 2) [stage, index] = [stage + 1, 0];
    blocks.push(`blocks.${stage}.${index++}`);
  });
  return blocks;
}

/**
 * Renames a timm MobileNetV1 state dict to our layer names and layouts (`conv1`, `conv_dw_1`, `conv_pw_1`, … as
 * `mobilenetV1` builds them; OIHW → HWIO, Linear → Dense). `num_batches_tracked` is dropped.
 */
export function timmToOursV1(state: Map<string, Tensor>): Map<string, Tensor> {
  const order = blockOrder([...state.keys()]);
  if (order.size !== MOBILENET_V1_BLOCKS.length) throw new WeightsError(`timm MobileNetV1 state dict has ${order.size} blocks, MobileNetV1 has ${MOBILENET_V1_BLOCKS.length}`);
  const out = new Map<string, Tensor>();
  const stray: string[] = [];
  const conv = (t: Tensor): Tensor => transpose(t, [2, 3, 1, 0]);
  for (const [name, tensor] of state) {
    if (name.endsWith('.num_batches_tracked')) continue;
    const parts = name.split('.');
    const param = parts.at(-1)!;
    let ours: [string, Tensor] | undefined;
    if (parts[0] === 'blocks' && parts.length === 5) {
      const id = order.get(`${parts[1]}.${parts[2]}`)!;
      const module = parts[3];
      if (module === 'conv_dw' && param === 'weight') ours = [`conv_dw_${id}.depthwise_kernel`, conv(tensor)];
      else if (module === 'conv_pw' && param === 'weight') ours = [`conv_pw_${id}.kernel`, conv(tensor)];
      else if ((module === 'bn1' || module === 'bn2') && BN_OURS[param]) ours = [`conv_${module === 'bn1' ? 'dw' : 'pw'}_${id}_bn.${BN_OURS[param]}`, tensor];
    } else if (name === 'conv_stem.weight') ours = ['conv1.kernel', conv(tensor)];
    else if (parts.length === 2 && parts[0] === 'bn1' && BN_OURS[param]) ours = [`conv1_bn.${BN_OURS[param]}`, tensor];
    else if (name === 'classifier.weight') ours = ['predictions.kernel', transpose(tensor, [1, 0])];
    else if (name === 'classifier.bias') ours = ['predictions.bias', tensor];
    if (ours === undefined) stray.push(name);
    else out.set(ours[0], ours[1]);
  }
  if (stray.length) throw unknown(stray, 'a MobileNetV1');
  return out;
}

/** Our MobileNetV1's weights (`model.weights()`) under timm's names and PyTorch layouts, as `mobilenetv1_*` saves them. */
export function oursToTimmV1(weights: Map<string, Tensor>): Map<string, Tensor> {
  const toTorch = (t: Tensor): Tensor => transpose(t, [3, 2, 0, 1]);
  const need = (name: string): Tensor => {
    const t = weights.get(name);
    if (!t) throw new WeightsError(`no ${name}: not a MobileNetV1 of ours`, [name]);
    return t;
  };
  const bn = (ours: string, timm: string, out: Map<string, Tensor>): void => {
    for (const [torch, mine] of Object.entries(BN_OURS)) out.set(`${timm}.${torch}`, need(`${ours}.${mine}`));
  };
  const out = new Map<string, Tensor>([['conv_stem.weight', toTorch(need('conv1.kernel'))]]);
  bn('conv1_bn', 'bn1', out);
  timmV1Blocks().forEach((block, i) => {
    out.set(`${block}.conv_dw.weight`, toTorch(need(`conv_dw_${i + 1}.depthwise_kernel`)));
    bn(`conv_dw_${i + 1}_bn`, `${block}.bn1`, out);
    out.set(`${block}.conv_pw.weight`, toTorch(need(`conv_pw_${i + 1}.kernel`)));
    bn(`conv_pw_${i + 1}_bn`, `${block}.bn2`, out);
  });
  if (weights.has('predictions.kernel')) {
    out.set('classifier.weight', transpose(need('predictions.kernel'), [1, 0]));
    out.set('classifier.bias', need('predictions.bias'));
  }
  return out;
}
