// TF.js graph ops that compute shapes, folded while importing as the ONNX importer folds its own: Shape (the batch
// size, unknown until run time, held as NaN), StridedSlice and Pack of constants, and Cast (a no-op on float values).

import { Tensor, sizeOf } from '../../tensor/tensor.js';
import { sliceIndices } from '../graph-import/slice.js';
import type { TfjsImporter, Value } from './graph-importer.js';

/** The input's shape as a 1-D constant, [NaN (the batch), ...per-sample]. */
export function shapeOf(im: TfjsImporter): Value {
  const x = im.activationInput(0);
  return { kind: 'constant', tensor: new Tensor([x.symbol.shape.length + 1], Float32Array.from([NaN, ...x.symbol.shape])) };
}

/** StridedSlice of a 1-D constant (a shape): begin, end and strides with their begin, end and shrink-axis masks. */
export function stridedSlice(im: TfjsImporter): Value {
  const data = im.constantInput(0, 'input');
  const [begin, end, strides] = [1, 2, 3].map((k, i) => im.intsInput(k, ['begin', 'end', 'strides'][i]));
  for (const mask of ['ellipsis_mask', 'new_axis_mask']) if (im.attrInt(mask, 0) !== 0) throw im.unsupported(`${mask}: only plain slices of shapes are supported`);
  if (data.rank !== 1 || begin.length !== 1 || end.length !== 1 || strides.length !== 1) throw im.unsupported(`a slice of ${data.rank === 1 ? 'more than one axis' : `a rank-${data.rank} constant`}: only 1-D constants (shapes) are supported`);
  const size = data.shape[0];
  const step = strides[0];
  if (step === 0) throw im.invalid('stride 0');
  if (im.attrInt('shrink_axis_mask', 0) & 1) {
    const index = begin[0] < 0 ? begin[0] + size : begin[0];
    if (index < 0 || index >= size) throw im.invalid(`index ${begin[0]} is outside a shape of ${size}`);
    return { kind: 'constant', tensor: new Tensor([], Float32Array.of(data.data[index])) };
  }
  const from = im.attrInt('begin_mask', 0) & 1 ? (step > 0 ? 0 : size - 1) : begin[0];
  // past either end: beyond what any negative bound can reach
  const to = im.attrInt('end_mask', 0) & 1 ? (step > 0 ? size : -size - 1) : end[0];
  const kept = sliceIndices(size, from, to, step);
  return { kind: 'constant', tensor: new Tensor([kept.length], Float32Array.from(kept, (i) => data.data[i])) };
}

/** Pack (tf.stack) of constants of one shape along `axis` 0. */
export function pack(im: TfjsImporter): Value {
  const parts = im.node.inputs.map((_, k) => im.constantInput(k, `value ${k}`));
  if (im.attrInt('axis', 0) !== 0) throw im.unsupported('only packing along axis 0 is supported');
  if (parts.some((p) => p.shape.length !== parts[0].shape.length || p.shape.some((d, i) => d !== parts[0].shape[i]))) throw im.invalid('values of different shapes');
  const data = new Float32Array(parts.length * sizeOf(parts[0].shape));
  parts.forEach((p, k) => data.set(p.data, k * p.size));
  return { kind: 'constant', tensor: new Tensor([parts.length, ...parts[0].shape], data) };
}

/** Cast: float activations stay as they are; constants (shape arithmetic) keep their values, truncated to integers where DstT is one. */
export function cast(im: TfjsImporter): Value {
  const v = im.required(0);
  const to = im.attr('DstT')?.type ?? 'DT_FLOAT';
  if (v.kind === 'activation') {
    if (to !== 'DT_FLOAT') throw im.unsupported(`casting an activation to ${String(to)}; activations are float32`);
    return v;
  }
  return to === 'DT_FLOAT' ? v : { kind: 'constant', tensor: new Tensor(v.tensor.shape, v.tensor.data.map(Math.trunc)) };
}
