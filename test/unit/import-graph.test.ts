/**
 * The import graph of the source, read with the TypeScript compiler's own import scanner (type-only
 * imports and re-exports included, as a reader follows them): no cycles, and model/ (the pure
 * schemas and rules the workflow bundle also uses) imports nothing outside model/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '../..');
const skip = new Set(['node_modules', 'test', 'bench', 'coverage', 'dist']);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('.') || skip.has(e.name) ? [] : sources(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The project files a file imports (relative specifiers only: packages and node: modules are leaves). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => {
      const base = path.resolve(path.dirname(file), spec.replace(/\.js$/, ''));
      const found = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      assert.ok(found, `${path.relative(root, file)} imports ${spec}, which does not resolve to a .ts file`);
      return found;
    });
}

const graph = new Map(sources(root).map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(root, f);

/** Every cycle a depth-first walk meets, as `a → b → a`. */
function findCycles(g: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const stack: string[] = [];
  function visit(f: string): void {
    state.set(f, 'open');
    stack.push(f);
    for (const next of g.get(f) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  }
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  return cycles;
}

test('the import graph has no cycle (type-only imports included)', () => {
  assert.ok(graph.size > 50, `only ${graph.size} source files found`);
  assert.deepEqual(findCycles(graph), []);
});

test('the checker sees type-only imports, re-exports and dynamic imports, and finds a cycle when there is one', () => {
  const { importedFiles } = ts.preProcessFile("import type { A } from './a';\nexport { b } from './b';\nconst c = await import('./c');", true, true);
  assert.deepEqual(importedFiles.map((f) => f.fileName), ['./a', './b', './c']);
  const at = (n: string) => path.join(root, n);
  const cyclic = new Map([[at('x.ts'), [at('y.ts')]], [at('y.ts'), [at('z.ts')]], [at('z.ts'), [at('x.ts')]]]);
  assert.deepEqual(findCycles(cyclic), ['x.ts → y.ts → z.ts → x.ts']);
  assert.deepEqual(findCycles(new Map([[at('x.ts'), [at('y.ts')]], [at('y.ts'), []]])), []);
});

test('model/ imports nothing outside model/ (storage, db, api, media, activities, workflows)', () => {
  const modelDir = path.join(root, 'model') + path.sep;
  const outside = [...graph].flatMap(([f, deps]) => (f.startsWith(modelDir) ? deps.filter((d) => !d.startsWith(modelDir)).map((d) => `${rel(f)} → ${rel(d)}`) : []));
  assert.ok([...graph.keys()].some((f) => f.startsWith(modelDir)), 'model/ has files');
  assert.deepEqual(outside, []);
});
