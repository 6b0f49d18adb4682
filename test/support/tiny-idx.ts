// A tiny MNIST-format data folder of seeded grey noise (gzipped IDX files), for training runs that must be
// fast and reproducible (crash safety, exact resume); labels cycle through the 10 classes.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeIdx } from '../../src/data/idx.js';
import { Random } from '../../src/tensor/random.js';

export async function writeTinyIdx(dir: string, o: { train: number; test: number; size: number }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const rng = new Random(42);
  for (const [prefix, count] of [['train', o.train], ['t10k', o.test]] as const) {
    const pixels = new Uint8Array(count * o.size * o.size).map(() => Math.floor(rng.uniform() * 256));
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    await writeFile(join(dir, `${prefix}-images-idx3-ubyte.gz`), encodeIdx({ dtype: 'uint8', shape: [count, o.size, o.size], data: pixels }, { gzip: true }));
    await writeFile(join(dir, `${prefix}-labels-idx1-ubyte.gz`), encodeIdx({ dtype: 'uint8', shape: [count], data: labels }, { gzip: true }));
  }
}
