// The reference backend: the plain-TypeScript kernels of src/ops, in Node and browsers alike.
// Every faster backend is tested against this one.

import type { Backend } from './backend.js';
import { activate, softmax } from '../ops/activation.js';
import { conv2d } from '../ops/conv2d.js';
import { dense } from '../ops/dense.js';
import { add } from '../ops/elementwise.js';
import { batchNorm } from '../ops/normalization.js';
import { zeroPad2d } from '../ops/pad.js';
import { avgPool2d, globalAvgPool, globalMaxPool, maxPool2d } from '../ops/pool.js';
import { resizeBilinear2d } from '../ops/resize.js';

export const referenceBackend: Backend = {
  name: 'reference',
  conv2d,
  batchNorm,
  activation: activate,
  add,
  zeroPad2d,
  globalAvgPool,
  globalMaxPool,
  avgPool2d,
  maxPool2d,
  dense,
  softmax,
  resizeBilinear: resizeBilinear2d,
};
