/**
 * The import graph of `src/` (issue 11 item 2): no cycles between files, and every import points down
 * the layer order core → linalg → transforms → optimizers → tfjs → bench/report → cli.
 *
 * Placement of the folders the order does not name: `schedules/` and `nn/` sit beside `linalg/` (they
 * import only `core/`); `engines/` sits above `tfjs/` (the engine implementations import the seam in
 * `linalg/engine.ts`, and nothing below them imports them: Newton–Schulz gets the engine through the
 * seam's registry); `node/` (the Node-only entry) sits with `bench/`. `src/index.ts` and the entry files
 * at the top of `src/` (`index.ts`, the public library entry) rank between `tfjs/` and `bench/`: bench and
 * cli use the library through its public API. The cycle check follows runtime edges only: an
 * `import type` statement is erased, so a worker module's types imported by its host (while the worker
 * imports the host's constants) is no cycle at run time; type-only imports still count for layering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve('src');
const RANK: Record<string, number> = {
  core: 0,
  schedules: 1,
  nn: 1,
  linalg: 1,
  transforms: 2,
  optimizers: 3,
  tfjs: 4,
  engines: 5,
  bench: 6,
  node: 6,
  report: 6,
  cli: 7,
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(p));
    else if (entry.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative specifiers of static imports/re-exports and dynamic `import('…')`, type-only included. */
export function relativeImports(text: string, runtimeOnly = false): string[] {
  if (runtimeOnly) text = text.replace(/^(?:import|export)\s+type\s[^;]*;/gm, '');
  const specs: string[] = [];
  const re = /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\s*\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s*['"](\.[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

function resolveTs(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  const hit = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  if (hit === undefined) throw new Error(`${path.relative(SRC, from)} imports '${spec}', which resolves to no file`);
  return hit;
}

function rankOf(file: string): number {
  const layer = layerOf(file);
  return layer === undefined ? ENTRY_RANK : RANK[layer]!;
}

function layerOf(file: string): string | undefined {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
}

const graph = new Map<string, string[]>();
const runtimeGraph = new Map<string, string[]>();
for (const file of sourceFiles(SRC)) {
  const text = fs.readFileSync(file, 'utf8');
  graph.set(file, relativeImports(text).map((s) => resolveTs(file, s)));
  runtimeGraph.set(file, relativeImports(text, true).map((s) => resolveTs(file, s)));
}
/** Rank of the entry files directly in `src/` (index.ts): above tfjs/, below bench/. */
const ENTRY_RANK = 5.5;

test('the walker finds the import forms used in src/', () => {
  assert.deepEqual(
    relativeImports(`import { a } from './a.js';\nimport type { B } from '../b/b.js';\nexport * from './c.js';\nimport './side.js';\nconst m = await import('./d.js');\nimport x from 'pkg';`),
    ['./a.js', '../b/b.js', './c.js', './side.js', './d.js'],
  );
  assert.deepEqual(relativeImports(`import type { B } from './b.js';\nimport { a } from './a.js';`, true), ['./a.js']);
  assert.ok(graph.size > 50, `walked ${graph.size} files`);
  const ns = graph.get(path.join(SRC, 'linalg', 'newtonSchulz.ts'));
  assert.ok(ns !== undefined && ns.includes(path.join(SRC, 'linalg', 'engine.ts')));
});

test('every folder of src/ has a layer', () => {
  const unplaced = [...new Set([...graph.keys()].map(layerOf).filter((l): l is string => l !== undefined && !(l in RANK)))];
  assert.deepEqual(unplaced, [], `place these folders in RANK: ${unplaced.join(', ')}`);
});

test('no import points up the layer order', () => {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      if (rankOf(dep) > rankOf(file)) {
        upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, dep)}`);
      }
    }
  }
  assert.deepEqual(upward, []);
});

test('the file import graph of src/ has no cycle', () => {
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 1);
    stack.push(file);
    for (const dep of runtimeGraph.get(file) ?? []) {
      if (state.get(dep) === 1) {
        cycles.push([...stack.slice(stack.indexOf(dep)), dep].map((f) => path.relative(SRC, f)).join(' -> '));
      } else if (state.get(dep) === undefined) visit(dep);
    }
    stack.pop();
    state.set(file, 2);
  };
  for (const file of runtimeGraph.keys()) if (state.get(file) === undefined) visit(file);
  assert.deepEqual(cycles, []);
});
