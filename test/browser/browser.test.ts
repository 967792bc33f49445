/**
 * The library in a real browser: Debian's Chromium (driven by playwright-core, no browser download),
 * headless, with a fresh profile, opens a page bundled from the main entry (test/browser/page.ts) and
 * served on 127.0.0.1, and on each of TensorFlow.js's cpu, wasm and webgl backends (webgl runs on
 * SwiftShader, a software GPU, with float32 textures) replays a representative set of golden files and
 * runs the contract checks that matter there: leak-free steps, NaN rejected before any write, model.fit
 * lowering the loss, a serializeCheckpoint round trip, and model.save('indexeddb://…') + reload giving
 * identical next steps. Without Chromium the tests skip saying so (apt-get install chromium) — except
 * under CI=true, where .ci/run installs it and its absence fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenDir, repoRoot } from '../support/golden.js';
import { replayGolden } from '../support/replay.js';
import { goldenOptimizers } from '../support/goldenOptimizers.js';
import type { PageResult } from './page.js';
import { CHROMIUM, FLAGS, chromiumSkip } from './harness.js';

/** Every muon, turbo_muon, normuon, torch_adamw and muon_ns file, and one of each other method. */
export const browserGolden = [
  'muon__nesterov_nowd', 'muon__nesterov_wd', 'muon__nesterov_wd_g1e-3', 'muon__nesterov_wd_g1e3', 'muon__plain_nowd', 'muon__plain_wd',
  'turbo_muon__standard_wd', 'turbo_muon__turbo_nowd', 'turbo_muon__turbo_wd', 'turbo_muon__turbo_wd_g1e-3',
  'normuon__nesterov_nowd', 'normuon__nesterov_wd', 'normuon__nesterov_wd_g1e-3', 'normuon__plain_wd',
  'torch_adamw__amsgrad', 'torch_adamw__default', 'torch_adamw__default_g1e-3', 'torch_adamw__default_g1e3',
  'muon_ns__batched', 'muon_ns__col', 'muon_ns__large', 'muon_ns__nearzero', 'muon_ns__rankdef', 'muon_ns__row',
  'muon_ns__scaled1e3', 'muon_ns__square', 'muon_ns__tall', 'muon_ns__wide', 'muon_ns__wide_steps3',
  'muon_aux_adam__defaults', 'turbo_muon_aux_adam__turbo_wd', 'normuon_aux_adam__wd', 'adamuon__nesterov_wd',
  'auon__wd', 'hybrid_auon__wd', 'root__nesterov_wd', 'torch_adam__default', 'torch_sgd__momentum',
];

/**
 * Tolerances (normwise, the golden README's measure): optimizers 1e-5 and Newton–Schulz 1e-4 of
 * max|want|, on every backend. Measured in headless Chromium 156 (printed as diagnostics): worst
 * optimizer deviation 5.4e-7 on cpu, wasm and webgl alike, worst NS 3.8e-5 (cpu), 3.1e-5 (wasm),
 * 3.8e-5 (webgl) — webgl runs on SwiftShader with float32 textures (asserted: no float16 fallback), so
 * the README's bounds apply unchanged there too.
 */
const TOLERANCE: Record<string, { optimizer: number; ns: number }> = {
  cpu: { optimizer: 1e-5, ns: 1e-4 },
  wasm: { optimizer: 1e-5, ns: 1e-4 },
  webgl: { optimizer: 1e-5, ns: 1e-4 },
};

const skip = chromiumSkip();

describe('the golden mapping the browser page uses replays in Node (cpu)', () => {
  before(async () => useBackend('cpu'));
  it('every browser golden file within the README tolerance', (t) => {
    for (const name of browserGolden) {
      const method = name.split('__')[0];
      if (method === 'muon_ns') continue;
      const r = replayGolden(name, goldenOptimizers[method]);
      t.diagnostic(`${name}: ${r.maxDeviation.toExponential(2)}`);
      assert.ok(r.maxDeviation <= 1e-5, `${name}: ${r.maxDeviation}`);
    }
    assert.equal(tf.memory().numTensors, 0);
  });
});

describe('in Chromium', { skip }, () => {
  let work = '';
  let server: Server;
  let origin = '';
  let context: BrowserContext;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'orthoptim-browser-'));
    const bundle = await build({
      entryPoints: [resolve(repoRoot, 'test/browser/page.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const pageJs = bundle.outputFiles[0].contents;
    const wasmDir = resolve(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const send = (type: string, body: Uint8Array | string) => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      if (url.pathname === '/') return send('text/html', '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>orthoptim</title><script type="module" src="/page.js"></script>');
      if (url.pathname === '/page.js') return send('text/javascript', pageJs);
      const golden = /^\/golden\/([\w.-]+\.json)$/.exec(url.pathname);
      if (golden && existsSync(join(goldenDir, golden[1]))) return send('application/json', readFileSync(join(goldenDir, golden[1])));
      const wasm = /^\/wasm\/([\w.-]+\.wasm)$/.exec(url.pathname);
      if (wasm && existsSync(join(wasmDir, basename(wasm[1])))) return send('application/wasm', readFileSync(join(wasmDir, wasm[1])));
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM, args: FLAGS, headless: true });
  });

  after(async () => {
    await context?.close();
    await new Promise((ok) => server?.close(ok));
    rmSync(work, { recursive: true, force: true });
  });

  for (const backend of ['cpu', 'wasm', 'webgl'] as const) {
    it(`${backend}: golden replays within tolerance and the browser contract holds`, async (t) => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(origin);
      await page.waitForFunction(() => (globalThis as { orthoptimTest?: { ready: boolean } }).orthoptimTest?.ready === true);
      const result = (await page.evaluate(
        ([b, names]) => (globalThis as unknown as { orthoptimTest: { run(b: string, n: string[]): Promise<unknown> } }).orthoptimTest.run(b, names),
        [backend, browserGolden] as const,
      )) as PageResult;
      await page.close();
      t.diagnostic(`backend ${backend}: ${JSON.stringify(result.info)}`);
      if (backend === 'webgl') assert.equal(result.info.float32, true, 'webgl renders float32 textures (no float16 fallback)');
      const tol = TOLERANCE[backend];
      let worstOptimizer = 0;
      let worstNs = 0;
      for (const name of browserGolden) {
        const dev = result.golden[name];
        const ns = name.startsWith('muon_ns__');
        if (ns) worstNs = Math.max(worstNs, dev);
        else worstOptimizer = Math.max(worstOptimizer, dev);
        t.diagnostic(`${backend} ${name}: ${dev.toExponential(2)}`);
        assert.ok(dev <= (ns ? tol.ns : tol.optimizer), `${backend} ${name}: deviation ${dev} > ${ns ? tol.ns : tol.optimizer}`);
      }
      t.diagnostic(`${backend}: worst optimizer deviation ${worstOptimizer.toExponential(2)}, worst NS ${worstNs.toExponential(2)}`);
      const c = result.checks;
      assert.equal(c.leakedTensors, 0, 'a muon step leaks no tensor');
      assert.equal(c.nanError, 'NonFiniteGradientError');
      assert.equal(c.nanUnchanged, true, 'a NaN gradient writes nothing');
      assert.equal(c.checkpointStepDiff, 0, 'a restored checkpoint takes the same next step');
      assert.equal(c.checkpointStep, 5);
      assert.ok((c.fitLastLoss as number) < 0.8 * (c.fitFirstLoss as number), `model.fit loss ${c.fitFirstLoss} → ${c.fitLastLoss}`);
      assert.equal(c.reloadedOptimizer, 'orthoptim.Muon');
      assert.equal(c.reloadedStep, 16);
      assert.equal(c.reloadDiff, 0, 'indexeddb:// reload continues identically');
      assert.deepEqual(errors, [], 'no error on the page');
    });
  }

  it('webgpu: not offered by headless Chromium here (fails if that changes, to add the backend)', async (t) => {
    const page = await context.newPage();
    await page.goto(origin);
    const adapter = await page.evaluate(async () => {
      const gpu = (globalThis as unknown as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
      return gpu === undefined ? 'no navigator.gpu' : (await gpu.requestAdapter()) === null ? 'no adapter' : 'adapter';
    });
    await page.close();
    if (adapter !== 'adapter') {
      t.skip(`webgpu is not available in headless Chromium here (${adapter}; SwiftShader offers none)`);
      return;
    }
    assert.fail('Chromium offers a WebGPU adapter here: add @tensorflow/tfjs-backend-webgpu to the page and to the backends above');
  });
});
