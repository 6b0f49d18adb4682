// docs/api.md against the package's real exports: every export of mobilenet-ts, mobilenet-ts/node and
// mobilenet-ts/browser is listed exactly once, under a task, with its entry point and a purpose; nothing else is.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = new URL('../..', import.meta.url).pathname;
const ENTRIES: Record<string, string> = { 'mobilenet-ts': 'src/index.ts', 'mobilenet-ts/node': 'src/node/index.ts', 'mobilenet-ts/browser': 'src/browser/index.ts' };

/** `entry name` of every export (values and types), as TypeScript resolves the entry points. */
function exportsOfEntries(): string[] {
  const files = Object.values(ENTRIES).map((f) => ROOT + f);
  const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  return Object.entries(ENTRIES).flatMap(([entry, file]) => {
    const module = checker.getSymbolAtLocation(program.getSourceFile(ROOT + file)!)!;
    return checker.getExportsOfModule(module).map((e) => `${entry} ${e.name}`);
  });
}

test('docs/api.md lists every export once, under a task heading, with its entry point and a one-line purpose', async () => {
  const text = await readFile(ROOT + 'docs/api.md', 'utf8');
  const listed = new Map<string, number>();
  let heading = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) heading = line.slice(3);
    const row = /^\| `([\w$]+)` \| (class|function|type|constant) \| (.+?) \| (.*) \|$/.exec(line);
    if (!row) continue;
    const [, name, , from, purpose] = row;
    assert.ok(heading && heading !== 'Contents', `${name}: listed outside a task heading`);
    assert.ok(purpose.trim().length > 10, `${name}: no purpose`);
    for (const entry of from.split(', ').map((e) => e.replaceAll('`', ''))) {
      assert.ok(entry in ENTRIES, `${name}: unknown entry point ${entry}`);
      listed.set(`${entry} ${name}`, (listed.get(`${entry} ${name}`) ?? 0) + 1);
    }
  }
  const exported = exportsOfEntries();
  const missing = exported.filter((e) => !listed.has(e));
  assert.deepEqual(missing, [], `exports missing from docs/api.md (add a row under their task): ${missing.join(', ')}`);
  const extra = [...listed.keys()].filter((e) => !exported.includes(e));
  assert.deepEqual(extra, [], `docs/api.md lists what is not exported: ${extra.join(', ')}`);
  const twice = [...listed].filter(([, n]) => n > 1).map(([e]) => e);
  assert.deepEqual(twice, [], `listed more than once: ${twice.join(', ')}`);
});
