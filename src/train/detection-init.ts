// A new SSD head's starting point, as TF's SSD configs set it: the class predictors' biases at the prior the loss trains
// towards (background against each class, among the anchors it counts) and small predictor kernels (N(0, 0.03²)).

import { ConfigError } from '../errors.js';
import type { Model } from '../graph/model.js';
import { Random } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import type { DetectionLossOptions } from './detection-loss.js';

export interface DetectionHeadInit extends Pick<DetectionLossOptions, 'classification' | 'negativesPerPositive'> {
  /** Standard deviation of the predictors' kernels (0.03, TF's SSD box predictor initializer; 0: the outputs are the biases). */
  kernelStd?: number;
  /** Seeds the kernels' draw. */
  seed?: number;
}

/**
 * The logit of each slot (0 the background, then K classes) that scores the loss's prior: among the anchors the loss
 * counts (each positive and its `negativesPerPositive` mined negatives), a fraction r/(1 + r) is background and each
 * class 1/((1 + r)·K). Sigmoid: each slot's log-odds; softmax: each slot's log-probability.
 */
export function classPriorLogits(slots: number, options: Pick<DetectionHeadInit, 'classification' | 'negativesPerPositive'> = {}): Float32Array {
  const classes = slots - 1;
  if (!(Number.isInteger(classes) && classes >= 1)) throw new ConfigError(`classPriorLogits: a head scores the background and at least one class, got ${slots} slots`);
  const ratio = options.negativesPerPositive ?? 3;
  if (!(ratio > 0)) throw new ConfigError(`classPriorLogits: negativesPerPositive must be > 0, got ${ratio}`);
  const logit = options.classification === 'softmax' ? Math.log : (p: number) => Math.log(p / (1 - p));
  return Float32Array.from({ length: slots }, (_, k) => logit(k === 0 ? ratio / (1 + ratio) : 1 / ((1 + ratio) * classes)));
}

/**
 * Re-initialises `model`'s SSD predictors (`class_predictor_M` and `box_predictor_M`, the 1×1 convs with bias that
 * `ssdLite`/`ssd` name so): kernels drawn from N(0, kernelStd²), class biases the prior (`classPriorLogits`, per
 * anchor of a location), box biases 0. A random head starts about ten times above the prior's loss, and its first
 * steps, with gradients a hundred times larger, go to learning the prior while they shake the pretrained backbone.
 * Returns the names of the weights set.
 */
export function initDetectionHead(model: Model, options: DetectionHeadInit = {}): string[] {
  const head = model.metadata.detection;
  if (!head) throw new ConfigError(`initDetectionHead: model ${model.name} is not a detector (no detection head in its metadata)`);
  const slots = model.outputShapes[head.outputs.scores][1];
  const prior = classPriorLogits(slots, options);
  const random = new Random(options.seed ?? 0);
  const kernelStd = options.kernelStd ?? 0.03;
  const set = new Map<string, Tensor>();
  for (const [name, weight] of model.weights()) {
    const predictor = /^(class|box)_predictor_\d+\.(kernel|bias)$/.exec(name);
    if (!predictor) continue;
    const [, kind, param] = predictor;
    const value = new Tensor(weight.shape);
    if (param === 'kernel') random.fillNormal(value.data, kernelStd);
    else if (kind === 'class') for (let i = 0; i < value.data.length; i++) value.data[i] = prior[i % slots];
    set.set(name, value);
  }
  if (![...set.keys()].some((name) => name.startsWith('class_predictor_'))) {
    throw new ConfigError(`initDetectionHead: model ${model.name} has no class predictors named class_predictor_M (an ssdLite or ssd head)`);
  }
  model.setWeights(set, { strict: false });
  return [...set.keys()];
}
