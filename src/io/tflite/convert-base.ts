// What the float and int8 importers share: the graph being converted, who reads each tensor, errors that name the
// operator, a PAD folded into the convolution that alone reads it, and TFLite's geometry and layouts in ours.

import { FormatError } from '../../errors.js';
import type { Conv2DParams } from '../../ops/conv2d.js';
import type { Padding4 } from '../../ops/geometry.js';
import { resolvePadding } from '../../ops/geometry.js';
import type { ConvOptions, PoolOptions, TfliteGraph, TfliteOperator, TfliteTensor } from './read.js';
import { constantInt32s } from './read.js';

/** The graph input as the importer found it: NCHW where a leading TRANSPOSE to NHWC stood (the plan then starts after it). */
export type InputLayout = 'NHWC' | 'NCHW';

/** The explicit padding of a PAD's paddings constant [[0, 0], [top, bottom], [left, right], [0, 0]]. */
export function spatialPadding(values: Int32Array, where: string): Padding4 {
  if (values.length !== 8 || values[0] !== 0 || values[1] !== 0 || values[6] !== 0 || values[7] !== 0 || values.some((v) => v < 0)) {
    throw new FormatError(`${where}: paddings [${values.join(', ')}] pad more than height and width (or negatively)`);
  }
  return [values[2], values[3], values[4], values[5]];
}

/** Conv geometry from a TFLite conv's options on an input [H, W, C]: padding resolved, plus any PAD folded before it. */
export function convGeometry(o: ConvOptions | PoolOptions, kernel: [number, number], inH: number, inW: number, groups: number, extra: Padding4 = [0, 0, 0, 0]): Conv2DParams {
  const dilations: [number, number] = 'dilationH' in o ? [o.dilationH, o.dilationW] : [1, 1];
  const strides: [number, number] = [o.strideH, o.strideW];
  const padded = [inH + extra[0] + extra[1], inW + extra[2] + extra[3]];
  const own = resolvePadding(o.padding === 'SAME' ? 'same' : 'valid', padded[0], padded[1], { kernel, strides, dilations });
  return { strides, dilations, padding: [own[0] + extra[0], own[1] + extra[1], own[2] + extra[2], own[3] + extra[3]], groups };
}

/** A [rows, cols] matrix of values transposed: OHWI filters ([O, kh·kw·I]) to HWIO and back, [out, in] weights to [in, out]. */
export function transposeMatrix<T extends Int8Array | Float32Array>(w: T, rows: number, cols: number): T {
  const out = new (w.constructor as new (n: number) => T)(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** A converter of one graph, operator by operator. */
export abstract class GraphConverter {
  /** PAD outputs taken into the convolution that alone reads them: the pad's input and amounts. */
  protected readonly foldedPads = new Map<number, { input: number; padding: Padding4 }>();
  private readonly readers = new Map<number, TfliteOperator[]>();

  constructor(
    protected readonly graph: TfliteGraph,
    protected readonly source: string,
  ) {
    for (const op of graph.operators) for (const t of op.inputs) this.readers.set(t, [...(this.readers.get(t) ?? []), op]);
  }

  where(op: TfliteOperator): string {
    return `${this.source}: operator ${op.index} (${op.op})`;
  }

  tensor(t: number): TfliteTensor {
    return this.graph.tensors[t];
  }

  /**
   * A PAD's amounts, and whether it folds into the convolution that alone reads it (TFLite pads with the zero point,
   * real 0, which a padded convolution adds nothing for): then it is recorded and needs no layer or step of its own.
   */
  protected padOf(op: TfliteOperator): { padding: Padding4; folded: boolean } {
    const padding = spatialPadding(constantInt32s(this.tensor(op.inputs[1]), this.source), this.where(op));
    const readers = this.readers.get(op.outputs[0]) ?? [];
    const reader = readers.length === 1 ? readers[0] : undefined;
    const folded = reader !== undefined && (reader.op === 'CONV_2D' || reader.op === 'DEPTHWISE_CONV_2D') && reader.inputs[0] === op.outputs[0] && !this.graph.outputs.includes(op.outputs[0]);
    if (folded) this.foldedPads.set(op.outputs[0], { input: op.inputs[0], padding });
    return { padding, folded };
  }
}
