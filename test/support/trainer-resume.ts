// An exact-resume check for the trainer's loops: a run stopped by its checkpoint hook in epoch 2, after its first
// step, then resumed from that checkpoint into a model with other initial weights, must end bit-equal to the uninterrupted run.

import assert from 'node:assert/strict';

import type { Model } from '../../src/graph/model.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { Optimizer } from '../../src/train/optimizers.js';
import type { ResumePoint, TrainerOptions, TrainerState } from '../../src/train/trainer.js';

interface Snapshot extends ResumePoint {
  weights: Map<string, Tensor>;
}

class Interrupted extends Error {}

const copy = (m: Map<string, Tensor>): Map<string, Tensor> => new Map([...m].map(([k, t]) => [k, t.clone()]));
const withoutTimings = (state: TrainerState): unknown => state.history.map(({ seconds: _s, imagesPerSecond: _i, ...r }) => r);

/**
 * Runs `train` uninterrupted on `build()`, then stopped and resumed (into `build(99)`), and asserts the same weights
 * and history and `steps` steps in all. Returns the uninterrupted run's model.
 */
export async function assertExactResume(build: (seed?: number) => Model, train: (model: Model, options: TrainerOptions, resume?: ResumePoint) => Promise<TrainerState>, steps: number): Promise<Model> {
  const uninterrupted = build();
  const reference = await train(uninterrupted, {});

  const interrupted = build();
  let saved: Snapshot | null = null;
  const checkpoint = async (state: TrainerState, optimizer: Optimizer): Promise<void> => {
    saved = { state: structuredClone(state), optimizerState: copy(optimizer.state()), weights: copy(interrupted.weights()) };
    if (state.epoch === 1 && state.batch > 0) throw new Interrupted(`stopped at step ${state.step}`);
  };
  await assert.rejects(train(interrupted, { hooks: { checkpoint } }), Interrupted);
  const at = saved as Snapshot | null;
  assert.ok(at && at.state.epoch === 1 && at.state.batch === 1, 'stopped in epoch 2, after its first step');

  const resumed = build(99); // other initial weights: everything must come from the checkpoint
  resumed.setWeights(at.weights);
  const final = await train(resumed, {}, { state: at.state, optimizerState: at.optimizerState });
  for (const [name, t] of uninterrupted.weights()) assert.deepEqual(resumed.weights().get(name)!.data, t.data, `${name} differs from the uninterrupted run`);
  assert.deepEqual(withoutTimings(final), withoutTimings(reference));
  assert.equal(final.step, steps);
  return uninterrupted;
}
