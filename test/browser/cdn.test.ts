/**
 * The README's "In a browser without a bundler" page, run as written: its ```html block is served as a
 * page to Debian's Chromium, and every request to the CDN (cdn.jsdelivr.net) is answered locally —
 * tfjs's fesm builds from node_modules (their versions must be the README's), and orthoptim's `dist/`
 * modules from the library's source, each file transpiled alone (the module graph tsc emits: relative
 * `.js` imports, one bare import of @tensorflow/tfjs-core). Nothing is bundled, no other host is asked.
 * The number the page prints must equal the same three Muon steps computed here in Node on cpu.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { transform } from 'esbuild';
import * as tf from '@tensorflow/tfjs-core';
import { muon } from '../../src/index.js';
import { useBackend } from '../support/backend.js';
import { repoRoot } from '../support/golden.js';
import { chromiumSkip, launchChromium, serve } from './harness.js';

const readme = readFileSync(resolve(repoRoot, 'README.md'), 'utf8');
const html = /```html\n([\s\S]*?)```/.exec(readme)?.[1];
const CDN = 'https://cdn.jsdelivr.net/npm/';

function installedVersion(pkg: string): string {
  return (JSON.parse(readFileSync(resolve(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

const ownVersion = (JSON.parse(readFileSync(resolve(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** What a CDN request maps to here: a file of an installed tfjs package, or a source module of orthoptim. */
async function answer(url: string): Promise<{ body: string; type: string } | string> {
  if (!url.startsWith(CDN)) return `not a CDN address: ${url}`;
  const m = /^((?:@[^/]+\/)?[^/@]+)@([^/]+)\/(.+)$/.exec(url.slice(CDN.length));
  if (!m) return `no package@version/path in ${url}`;
  const [, pkg, version, path] = m;
  if (pkg === 'orthoptim') {
    if (version !== ownVersion) return `README asks for orthoptim@${version}, package.json is ${ownVersion}`;
    const src = resolve(repoRoot, 'src', path.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    if (!path.startsWith('dist/') || !existsSync(src)) return `no module for ${url}`;
    const out = await transform(readFileSync(src, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: src });
    return { body: out.code, type: 'text/javascript' };
  }
  if (!pkg.startsWith('@tensorflow/')) return `unexpected package ${pkg}`;
  const have = installedVersion(pkg);
  if (version !== have) return `README asks for ${pkg}@${version}, node_modules has ${have}`;
  const file = resolve(repoRoot, 'node_modules', pkg, path);
  if (!existsSync(file)) return `no file ${path} in ${pkg}`;
  return { body: readFileSync(file, 'utf8'), type: 'text/javascript' };
}

/** The README page's steps, here in Node on cpu: w[0] after three Muon steps. */
function expectedFirstWeight(): number {
  return tf.tidy(() => {
    const w = tf.variable(tf.randomNormal([16, 8], 0, 1, 'float32', 1), true, 'w_cdn_reference');
    const opt = muon({ learningRate: 0.02 });
    for (let i = 0; i < 3; i++) opt.applyGradients({ [w.name]: tf.randomNormal([16, 8], 0, 1, 'float32', 2 + i) });
    const v = w.dataSync()[0];
    opt.dispose();
    w.dispose();
    return v;
  });
}

const skip = chromiumSkip();

describe('the README page for browsers without a bundler (import map, CDN answered locally)', { skip }, () => {
  let server: Server | undefined;
  let origin = '';
  before(async () => {
    ({ server, origin } = await serve((p) => (p === '/' ? { type: 'text/html', body: html ?? '' } : undefined)));
  });
  after(() => server?.close());

  it('the README has the page', () => {
    assert.ok(html, 'README.md has an ```html block');
    assert.match(html, /<script type="importmap">/);
  });

  it('runs in Chromium on webgl and prints the numbers Node computes', async () => {
    await useBackend('cpu');
    const want = expectedFirstWeight();
    const chrome = await launchChromium();
    const problems: string[] = [];
    const asked: string[] = [];
    try {
      await chrome.context.route('**/*', async (route) => {
        const url = route.request().url();
        if (url.startsWith(origin)) return route.continue();
        asked.push(url);
        const a = await answer(url);
        if (typeof a === 'string') {
          problems.push(a);
          return route.abort();
        }
        return route.fulfill({ status: 200, contentType: a.type, body: a.body, headers: { 'access-control-allow-origin': '*' } });
      });
      const page = await chrome.context.newPage();
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await page.goto(`${origin}/`);
      // Strings run in the page (this file is type-checked without the DOM library).
      await page.waitForFunction("/^step \\d+, w\\[0\\] = /.test(document.body?.textContent ?? '')", undefined, { timeout: 60_000 });
      const text = await page.evaluate<string>("document.body.textContent ?? ''");
      const backend = await page.evaluate(async () => {
        const tfc = (await import('@tensorflow/tfjs-core' as string)) as { getBackend(): string };
        return tfc.getBackend();
      });
      assert.deepEqual(problems, []);
      assert.equal(backend, 'webgl');
      const m = /^step (\d+), w\[0\] = (-?[\d.]+)$/.exec(text);
      assert.ok(m, `page printed ${JSON.stringify(text)}`);
      assert.equal(Number(m[1]), 3);
      // webgl (SwiftShader, float32) vs cpu: Newton–Schulz differs by ~1e-5 of an update of size 0.02 (browser.test.ts).
      assert.ok(Math.abs(Number(m[2]) - want) <= 2e-6, `page w[0] ${m[2]} vs Node ${want.toFixed(6)}`);
      assert.ok(asked.some((u) => u.includes('/orthoptim@')), 'the page loaded orthoptim from the CDN address');
      assert.ok(asked.every((u) => u.startsWith(CDN)), `only the CDN was asked: ${asked.filter((u) => !u.startsWith(CDN)).join(', ')}`);
    } finally {
      await chrome.close();
    }
  });
});
