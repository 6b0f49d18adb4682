// Lowers a Model to an execution Plan once, at load: BatchNorm folded into the preceding conv or dense,
// ReLU/ReLU6 and residual adds fused into their epilogues, zero padding merged into convs, views dropped,
// and (optionally) each inverted residual, with the stem before the first one, fused into a row-streamed chain.

import type { Model } from '../graph/model.js';
import type { SymbolicTensor } from '../graph/symbolic.js';
import { ActivationLayer, Softmax } from '../nn/activation.js';
import { ConvLayer } from '../nn/conv.js';
import { Add, Dense, Dropout, InputLayer, Reshape, ZeroPadding2D } from '../nn/core.js';
import { Clip } from '../nn/extra.js';
import { BatchNormalization } from '../nn/normalization.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../nn/pooling.js';
import type { Layer } from '../nn/layer.js';
import { batchNormAffine } from '../ops/normalization.js';
import { sizeOf } from '../tensor/tensor.js';
import type { Clamp, ConvStep, DenseStep, Plan, PlanTensor, Step } from './plan.js';

export interface LowerOptions {
  /** Fuse inverted residual blocks (and the stem into the first) into row-streamed chains. Default true. */
  fuseBlocks?: boolean;
}

const CLAMPS: Record<string, Clamp | null> = { linear: null, relu: [0, Infinity], relu6: [0, 6] };

export function lowerModel(model: Model, options: LowerOptions = {}): Plan {
  const tensors: PlanTensor[] = [];
  const ids = new Map<SymbolicTensor, number>();
  const producer = new Map<number, Step>();
  const steps: Step[] = [];
  const readers = new Map<SymbolicTensor, number>();
  for (const node of model.nodes) for (const t of node.inputs) readers.set(t, (readers.get(t) ?? 0) + 1);
  readers.set(model.output, (readers.get(model.output) ?? 0) + 1);

  const newTensor = (shape: readonly number[], name: string): number => {
    tensors.push({ id: tensors.length, shape: [...shape], size: sizeOf(shape), name });
    return tensors.length - 1;
  };
  const emit = (step: Step): void => {
    steps.push(step);
    producer.set(step.output, step);
  };
  /** The step that produced `t`, if `t` is read only by the layer being lowered and may be rewritten. */
  const soleProducer = (t: SymbolicTensor): Step | undefined => (readers.get(t) === 1 ? producer.get(ids.get(t)!) : undefined);
  const relabel = (step: Step, layer: Layer, out: SymbolicTensor): void => {
    step.layers.push(layer.name);
    tensors[step.output].name = layer.name;
    ids.set(out, step.output);
  };

  for (const node of model.nodes) {
    const layer = node.layer;
    const out = node.output;
    const [x, other] = node.inputs;
    if (layer instanceof InputLayer) {
      ids.set(out, newTensor(out.shape, layer.name));
      continue;
    }
    if (layer instanceof Dropout || layer instanceof Reshape || (layer instanceof ActivationLayer && layer.activation === 'linear')) {
      ids.set(out, ids.get(x)!); // a view: same memory, NHWC order kept
      continue;
    }
    if (layer instanceof GlobalAveragePooling2D || layer instanceof GlobalMaxPooling2D) {
      const output = newTensor(out.shape, layer.name);
      emit({ op: layer instanceof GlobalAveragePooling2D ? 'globalAvgPool' : 'globalMaxPool', layers: [layer.name], inputs: [ids.get(x)!], output });
      ids.set(out, output);
      continue;
    }
    if (layer instanceof ConvLayer) {
      const kernel = layer.kernel;
      let input = ids.get(x)!;
      let conv = layer.conv;
      let inShape = [...x.shape] as [number, number, number];
      const layers = [layer.name];
      const pad = soleProducer(x);
      if (pad?.op === 'pad') {
        // ZeroPadding2D + valid conv (Keras's stride-2 idiom) = one conv with the padding added
        const p = conv.padding;
        conv = { ...conv, padding: [p[0] + pad.padding[0], p[1] + pad.padding[1], p[2] + pad.padding[2], p[3] + pad.padding[3]] };
        input = pad.inputs[0];
        inShape = tensors[input].shape as [number, number, number];
        steps.splice(steps.indexOf(pad), 1);
        layers.unshift(...pad.layers);
      }
      const cOut = kernel.shape[3];
      const output = newTensor(out.shape, layer.name);
      emit({
        op: 'conv',
        layers,
        inputs: [input],
        output,
        kernel: kernel.data.slice(),
        kernelShape: [...kernel.shape] as [number, number, number, number],
        bias: layer.bias ? layer.bias.slice() : new Float32Array(cOut),
        conv,
        inShape,
        outShape: [...out.shape] as [number, number, number],
        clamp: CLAMPS[layer.activation],
        residual: null,
      });
      ids.set(out, output);
      continue;
    }
    if (layer instanceof Dense) {
      const output = newTensor(out.shape, layer.name);
      emit({ op: 'dense', layers: [layer.name], inputs: [ids.get(x)!], output, kernel: layer.param('kernel').data.slice(), bias: layer.useBias ? layer.param('bias').data.slice() : new Float32Array(layer.units), units: layer.units, clamp: CLAMPS[layer.activation] });
      ids.set(out, output);
      continue;
    }
    if (layer instanceof BatchNormalization) {
      const { scale, shift } = batchNormAffine({ gamma: layer.param('gamma').data, beta: layer.param('beta').data, mean: layer.param('moving_mean').data, variance: layer.param('moving_variance').data, epsilon: layer.epsilon });
      const prev = soleProducer(x);
      if ((prev?.op === 'conv' || prev?.op === 'dense') && prev.clamp === null && (prev.op === 'dense' || prev.residual === null)) {
        foldAffine(prev, scale, shift);
        relabel(prev, layer, out);
      } else {
        const output = newTensor(out.shape, layer.name);
        emit({ op: 'affine', layers: [layer.name], inputs: [ids.get(x)!], output, scale, shift });
        ids.set(out, output);
      }
      continue;
    }
    if (layer instanceof ActivationLayer || layer instanceof Clip) {
      const clamp = layer instanceof Clip ? ([layer.lo, layer.hi] as const) : CLAMPS[layer.activation]!;
      const prev = soleProducer(x);
      if ((prev?.op === 'conv' || prev?.op === 'dense') && prev.clamp === null) {
        prev.clamp = clamp;
        relabel(prev, layer, out);
      } else {
        const output = newTensor(out.shape, layer.name);
        emit({ op: 'clamp', layers: [layer.name], inputs: [ids.get(x)!], output, clamp });
        ids.set(out, output);
      }
      continue;
    }
    if (layer instanceof Add) {
      const a = ids.get(x)!;
      const b = ids.get(other)!;
      // fuse into the conv that produced one operand, if the other already exists when that conv runs
      const target = [
        [other, a],
        [x, b],
      ].map(([t, rest]) => ({ step: soleProducer(t as SymbolicTensor), rest: rest as number })).find(({ step, rest }) => step?.op === 'conv' && step.clamp === null && step.residual === null && availableBefore(rest, step, producer, steps));
      if (target?.step?.op === 'conv') {
        target.step.residual = target.rest;
        target.step.inputs.push(target.rest);
        relabel(target.step, layer, out);
      } else {
        const output = newTensor(out.shape, layer.name);
        emit({ op: 'add', layers: [layer.name], inputs: [a, b], output });
        ids.set(out, output);
      }
      continue;
    }
    if (layer instanceof ZeroPadding2D) {
      const output = newTensor(out.shape, layer.name);
      emit({ op: 'pad', layers: [layer.name], inputs: [ids.get(x)!], output, padding: layer.padding });
      ids.set(out, output);
      continue;
    }
    if (layer instanceof AveragePooling2D || layer instanceof MaxPooling2D) {
      const output = newTensor(out.shape, layer.name);
      const pool = (layer as unknown as { pool: { kernel: readonly number[]; padding: readonly number[] } }).pool;
      // one unpadded window over the whole image (Keras/TF heads: AveragePooling2D(7) on 7×7) is a global pool
      const whole = pool.kernel[0] === x.shape[0] && pool.kernel[1] === x.shape[1] && pool.padding.every((p) => p === 0);
      const average = layer instanceof AveragePooling2D;
      if (whole) emit({ op: average ? 'globalAvgPool' : 'globalMaxPool', layers: [layer.name], inputs: [ids.get(x)!], output });
      else emit({ op: average ? 'avgPool' : 'maxPool', layers: [layer.name], inputs: [ids.get(x)!], output, pool: pool as never });
      ids.set(out, output);
      continue;
    }
    // over the last axis as planned: a view (Flatten, Reshape) keeps its source's planned shape, so otherwise run the layer itself
    if (layer instanceof Softmax && tensors[ids.get(x)!].shape.at(-1) === x.shape.at(-1)) {
      const output = newTensor(out.shape, layer.name);
      emit({ op: 'softmax', layers: [layer.name], inputs: [ids.get(x)!], output });
      ids.set(out, output);
      continue;
    }
    // no engine step of its own: the layer runs itself on the reference kernels
    const output = newTensor(out.shape, layer.name);
    emit({ op: 'layer', layers: [layer.name], inputs: node.inputs.map((t) => ids.get(t)!), output, layer });
    ids.set(out, output);
  }
  const plan: Plan = { tensors, steps, input: ids.get(model.input)!, output: ids.get(model.output)! };
  return options.fuseBlocks === false ? plan : fuseChains(plan);
}

/** Scales output channel c of a conv or dense kernel (last axis) by scale[c]; bias ← bias·scale + shift. */
function foldAffine(step: ConvStep | DenseStep, scale: Float32Array, shift: Float32Array): void {
  const c = scale.length;
  for (let i = 0; i < step.kernel.length; i++) step.kernel[i] *= scale[i % c];
  for (let i = 0; i < c; i++) step.bias[i] = step.bias[i] * scale[i] + shift[i];
}

function availableBefore(tensor: number, step: Step, producer: Map<number, Step>, steps: Step[]): boolean {
  const made = producer.get(tensor);
  return made === undefined || steps.indexOf(made) < steps.indexOf(step);
}

const isPointwise = (s: Step): s is ConvStep => s.op === 'conv' && s.kernelShape[0] === 1 && s.kernelShape[1] === 1 && s.conv.groups === 1 && s.conv.strides[0] === 1 && s.conv.strides[1] === 1;
const isDepthwise = (s: Step): s is ConvStep => s.op === 'conv' && s.kernelShape[2] === 1 && s.conv.groups === s.inShape[2] && s.conv.groups > 1;
const isStandard = (s: Step): s is ConvStep => s.op === 'conv' && s.conv.groups === 1 && s.kernelShape[0] > 1;

/**
 * Finds [expand 1×1]? → depthwise → project 1×1 sequences whose intermediates have one reader and whose
 * residual (if any) is the chain's input, and merges each into a ChainStep; a standard conv reading the
 * plan input and feeding only a residual-free chain joins it as its first stage (the paper's stem trick).
 */
function fuseChains(plan: Plan): Plan {
  const readers = new Map<number, number>();
  for (const s of plan.steps) for (const t of s.inputs) readers.set(t, (readers.get(t) ?? 0) + 1);
  readers.set(plan.output, (readers.get(plan.output) ?? 0) + 1);
  const feeds = (a: Step, b: Step): boolean => b.inputs[0] === a.output && readers.get(a.output) === 1;
  const steps: Step[] = [];
  for (let i = 0; i < plan.steps.length; i++) {
    const s = plan.steps;
    let stages: ConvStep[] | null = null;
    if (isPointwise(s[i]) && s[i + 1] && isDepthwise(s[i + 1]) && s[i + 2] && isPointwise(s[i + 2]) && feeds(s[i], s[i + 1]) && feeds(s[i + 1], s[i + 2])) stages = [s[i], s[i + 1], s[i + 2]] as ConvStep[];
    else if (isDepthwise(s[i]) && s[i + 1] && isPointwise(s[i + 1]) && feeds(s[i], s[i + 1])) stages = [s[i], s[i + 1]] as ConvStep[];
    const last = stages?.[stages.length - 1];
    if (!stages || !last || stages.slice(0, -1).some((st) => st.residual !== null) || (last.residual !== null && last.residual !== stages[0].inputs[0])) {
      steps.push(s[i]);
      continue;
    }
    const before = steps[steps.length - 1];
    if (before && isStandard(before) && before.inputs[0] === plan.input && before.residual === null && last.residual === null && feeds(before, stages[0])) {
      steps.pop();
      stages.unshift(before);
    }
    steps.push({ op: 'chain', layers: stages.flatMap((st) => st.layers), inputs: [...stages[0].inputs.slice(0, 1), ...(last.residual === null ? [] : [last.residual])], output: last.output, stages });
    i += stages.length - (stages[0] === before ? 2 : 1);
  }
  return { ...plan, steps };
}
