/**
 * The main entry is browser-clean: esbuild bundles `src/index.ts` for the browser (TensorFlow.js left
 * external, as an app provides it) with no Node built-in anywhere in its import graph — the file system,
 * threads and native engines live behind `orthoptim/node`. The Node entry, bundled the same way, must
 * fail: that proves the check can see a Node built-in.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from '../support/golden.js';

async function bundleForBrowser(entry: string) {
  return build({
    entryPoints: [resolve(repoRoot, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    external: ['@tensorflow/*'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

describe('browser bundle of the main entry', () => {
  it('bundles with esbuild --platform=browser and imports no Node built-in', async () => {
    const result = await bundleForBrowser('src/index.ts');
    assert.deepEqual(result.errors, []);
    const imports = Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    const node = imports.filter((p) => builtins.has(p));
    assert.deepEqual(node, [], `Node built-ins reached from src/index.ts: ${node.join(', ')}`);
    const external = new Set(imports.filter((p) => !p.startsWith('src/') && !p.startsWith('.') && !p.startsWith('/')));
    for (const p of external) assert.match(p, /^@tensorflow\//, `unexpected external import ${p}`);
    const text = result.outputFiles[0].text;
    assert.ok(text.length > 50_000, 'the bundle holds the library');
    assert.doesNotMatch(text, /from ["']node:/);
  });

  it('fails for the Node-only entry (the check sees Node built-ins)', async () => {
    await assert.rejects(bundleForBrowser('src/node/index.ts'), (e: Error & { errors?: { text: string }[] }) => {
      assert.ok(e.errors?.some((x) => /node:|built into node/.test(x.text)), e.message);
      return true;
    });
  });
});
