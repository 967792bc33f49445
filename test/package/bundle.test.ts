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
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { repoRoot } from '../support/golden.js';

/**
 * Size budget of the main entry, minified and gzipped (level 9), TensorFlow.js excluded: the size
 * measured when the budget was set (see BUNDLE_MEASURED) + 10 %. Raise it on purpose, in the same
 * commit as the code that needs it, and say why.
 *
 * History: 34,257 (issue 9, first measure); 39,652 (issue 10: option and schedule validation at
 * construction and per step, the power-of-two rescale in every norm, checkpoint manifest v2 schema
 * reader and digest, state binding — +5.4 KB of checks a user gets for every bad input).
 */
const BUNDLE_MEASURED = 39_652;
const BUNDLE_BUDGET = Math.round(BUNDLE_MEASURED * 1.1);

async function bundleForBrowser(entry: string, minify = false) {
  return build({
    minify,
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

  it(`stays within its size budget: ${BUNDLE_BUDGET} bytes minified + gzip (tfjs excluded)`, async (t) => {
    const result = await bundleForBrowser('src/index.ts', true);
    const bytes = result.outputFiles[0].contents;
    const gz = gzipSync(bytes, { level: 9 }).byteLength;
    t.diagnostic(`main entry: ${bytes.byteLength} bytes minified, ${gz} bytes gzip`);
    assert.ok(gz <= BUNDLE_BUDGET, `${gz} bytes gzip > budget ${BUNDLE_BUDGET}`);
  });

  it('fails for the Node-only entry (the check sees Node built-ins)', async () => {
    await assert.rejects(bundleForBrowser('src/node/index.ts'), (e: Error & { errors?: { text: string }[] }) => {
      assert.ok(e.errors?.some((x) => /node:|built into node/.test(x.text)), e.message);
      return true;
    });
  });
});
