// ONNX Resize (and its opset-9 forerunner Upsample) in linear mode onto our bilinear Resize layer: the ONNX
// coordinate transformations mapped to our three conventions, `sizes` or `scales`, the batch and channel axes kept.

import { Resize } from '../../nn/resize.js';
import type { ResizeCoordinates } from '../../ops/resize.js';
import { IMAGE } from './importer.js';
import type { OnnxImporter, Value } from './importer.js';

/** ONNX coordinate_transformation_mode → ours, for linear mode; pytorch_half_pixel is half_pixel wherever the output has more than one pixel. */
const COORDINATES: Readonly<Record<string, ResizeCoordinates>> = {
  half_pixel: 'half-pixel',
  pytorch_half_pixel: 'half-pixel',
  align_corners: 'align-corners',
  asymmetric: 'asymmetric',
};

/** The value of a per-axis input (sizes, scales) or null where the node leaves it out or gives it empty (opset 11–12). */
function perAxis(im: OnnxImporter, k: number, what: string): number[] | null {
  if (!im.input(k)) return null;
  const t = im.constantInput(k, what);
  return t.data.length === 0 ? null : [...t.data];
}

export function resize(im: OnnxImporter, upsample = false): Value {
  const x = im.imageInput(0);
  const mode = im.attrString('mode', 'nearest');
  if (mode !== 'linear') throw im.unsupported(`mode ${JSON.stringify(mode)}: only linear (bilinear) resizing is supported`);
  const transform = upsample ? 'asymmetric' : im.attrString('coordinate_transformation_mode', 'half_pixel');
  if (!(transform in COORDINATES)) throw im.unsupported(`coordinate_transformation_mode ${JSON.stringify(transform)}: linear resizing supports ${Object.keys(COORDINATES).join(', ')}`);
  if (im.attrInt('antialias', 0) !== 0) throw im.unsupported('antialias=1');
  const policy = im.attrString('keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') throw im.unsupported(`keep_aspect_ratio_policy ${JSON.stringify(policy)}: only stretch is supported`);
  // before opset 11: X, scales; from 11 on: X, roi, scales, sizes (one of the two); from 18 on, `axes` picks the axes they cover
  const scales = upsample ? (im.opset >= 9 ? perAxis(im, 1, 'scales') : im.attrFloats('scales', null)) : perAxis(im, im.opset >= 11 ? 2 : 1, 'scales');
  const sizes = !upsample && im.opset >= 11 ? perAxis(im, 3, 'sizes') : null;
  if ((scales === null) === (sizes === null)) throw im.invalid('exactly one of scales and sizes must be given');
  const given = (sizes ?? scales)!;
  const axes = (im.attrInts('axes', null) ?? [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a));
  if (axes.length !== given.length || axes.some((a) => a < 0 || a > 3)) throw im.invalid(`${sizes ? 'sizes' : 'scales'} [${given.join(', ')}] do not fit axes [${axes.join(', ')}] of a rank-4 input`);
  const [c, h, w] = x.shape;
  const full = [NaN, c, h, w];
  const target = [1, 2, 3].map((axis) => {
    const k = axes.indexOf(axis);
    if (k < 0) return full[axis];
    const v = given[k];
    if (sizes) {
      if (Number.isNaN(v)) throw im.unsupported(`sizes [${given.join(', ')}]: the size of axis ${axis} depends on the batch size, known only at run time`);
      return v;
    }
    return Math.floor(full[axis] * v);
  });
  // the batch axis: a size the shape arithmetic left open (the batch size), the file's fixed batch, or scale 1
  const batch = axes.indexOf(0);
  if (batch >= 0 && !(sizes ? Number.isNaN(given[batch]) || given[batch] === im.staticBatch : given[batch] === 1)) throw im.unsupported(`${sizes ? 'sizes' : 'scales'} [${given.join(', ')}] would resize the batch axis`);
  if (target[0] !== c) throw im.unsupported(`${sizes ? 'sizes' : 'scales'} [${given.join(', ')}] would resize the channel axis (${c} channels)`);
  const [oh, ow] = [target[1], target[2]];
  if (![oh, ow].every((n) => Number.isInteger(n) && n >= 1)) throw im.invalid(`cannot resize [N, ${x.shape.join(', ')}] to [${oh}, ${ow}]`);
  const coordinates = COORDINATES[transform];
  if (transform === 'pytorch_half_pixel' && ((oh === 1 && h > 1) || (ow === 1 && w > 1))) throw im.unsupported('pytorch_half_pixel to an output of one pixel (it samples pixel 0, not the centre)');
  // our layer places pixels by the sizes' ratio; ONNX by the given scale, which differs where the scale does not divide evenly
  if (scales && coordinates !== 'align-corners') {
    const off = [2, 3].find((axis) => Math.fround(target[axis - 1] / full[axis]) !== Math.fround(given[axes.indexOf(axis)] ?? 1));
    if (off !== undefined) throw im.unsupported(`scale ${+given[axes.indexOf(off)].toPrecision(7)} on axis ${off} of size ${full[off]}: the output size ${target[off - 1]} is not that multiple, and the pixels would be placed by the scale`);
  }
  if (oh === h && ow === w) return x;
  const name = im.layerName();
  const y = im.apply(new Resize(name, { size: [oh, ow] }, coordinates), [im.inLayout(x, IMAGE, name)]);
  return im.activation(y, [c, oh, ow], IMAGE);
}
