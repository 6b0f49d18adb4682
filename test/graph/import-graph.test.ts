// No import circles among the source files: every relative import under src/ (type-only, re-exports and dynamic
// imports included) is followed, and any cycle fails with the files that form it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SOURCE_ROOT = fileURLToPath(new URL('../../src', import.meta.url));

/** Each source file's relative imports, resolved to files (`./x.js` names `x.ts` unless a real `x.js` exists). */
function importGraph(root: string): Map<string, string[]> {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|js)$/.test(f)).map((f) => join(root, f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const imported = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((i) => i.fileName);
    const targets = imported.filter((name) => name.startsWith('.')).map((name) => {
      const target = resolve(dirname(file), name);
      return existsSync(target) ? target : target.replace(/\.js$/, '.ts');
    });
    graph.set(file, targets);
  }
  return graph;
}

/** Every cycle a depth-first walk meets, each as the list of files around it (first file repeated at the end). */
function findCircles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const circles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') circles.push([...path.slice(path.indexOf(target)), target]);
      else if (!state.has(target) && graph.has(target)) visit(target);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return circles;
}

describe('import graph of src/', () => {
  const graph = importGraph(SOURCE_ROOT);

  it('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${relative(SOURCE_ROOT, file)} imports ${relative(SOURCE_ROOT, t)}`));
    assert.deepEqual(missing, []);
  });

  it('has no import circle', () => {
    const circles = findCircles(graph).map((c) => c.map((f) => relative(SOURCE_ROOT, f)).join(' -> '));
    assert.deepEqual(circles, []);
  });

  it('finds a circle when there is one (hand-made graph)', () => {
    const made = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []]]);
    assert.deepEqual(findCircles(made), [['a', 'b', 'c', 'a']]);
  });
});
