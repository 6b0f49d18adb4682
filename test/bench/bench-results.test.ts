// The bench scripts' output: a run writes to a temporary folder unless --write asks for bench/, and says which peers
// it would install before `npm ci` in bench/peers.

import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { BENCH_DIR, peerList, resultsFolder, writeResults } from '../../bench/results-files.js';

test('without --write the results go to a fresh folder outside bench/, and land there whole', async () => {
  const folder = await resultsFolder(false);
  try {
    assert.ok(relative(BENCH_DIR, folder).startsWith('..'), `${folder} is outside ${BENCH_DIR}`);
    await writeResults(folder, { 'results.md': '# table\n', 'results.json': '{"rows":[]}\n' });
    assert.equal(await readFile(join(folder, 'results.md'), 'utf8'), '# table\n');
    assert.deepEqual(JSON.parse(await readFile(join(folder, 'results.json'), 'utf8')), { rows: [] });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  assert.equal(await resultsFolder(true), BENCH_DIR);
});

test('the peers to be installed are named with their versions, as bench/peers/package.json pins them', async () => {
  const manifest = JSON.parse(await readFile(join(BENCH_DIR, 'peers', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const listed = peerList(manifest).split(', ');
  assert.ok(listed.includes('onnxruntime-web@1.30.0'), listed.join(', '));
  assert.equal(listed.length, Object.keys(manifest.dependencies).length);
});
