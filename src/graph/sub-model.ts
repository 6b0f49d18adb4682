// A part of a model as a model of its own: from the input up to one of its tensors, with the same layers and
// weights (the engine runs whole models, so features or pre-argmax scores need one).

import { Tensor } from '../tensor/tensor.js';
import { Model } from './model.js';
import type { SymbolicTensor } from './symbolic.js';

/** The model from its input up to `output`, one of its tensors: the same layers and weights, as a Model of its own. */
export function modelUpTo(model: Model, output: SymbolicTensor, name: string): Model {
  // a new Model re-initialises its layers' weights: keep copies and put them back (the layers are shared)
  const kept = new Map([...model.weights()].map(([key, t]) => [key, new Tensor(t.shape, t.data.slice())]));
  const part = new Model(model.input, output, { name });
  part.setWeights(new Map([...kept].filter(([key]) => part.hasLayer(key.slice(0, key.lastIndexOf('.'))))));
  return part;
}
