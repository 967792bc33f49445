/**
 * The playground (web/) in real Chromium: the site is built by Vite exactly as `npm run web:build`
 * builds it (into a temp directory) and served on 127.0.0.1; headless Chromium opens it. Checked: the
 * page loads with no console error and says which backend runs; the Newton–Schulz view's final singular
 * values for Jordan ×5 on a Gaussian matrix lie in [0.68, 1.14]; the race runs 50 steps and every
 * optimizer's test loss falls, without leaking tensors; Muon's hidden-layer updates have a far higher
 * stable rank than AdamW's; a URL parameter sets the state and a control writes the URL; the tabs answer
 * the arrow keys; at phone width nothing overflows sideways. Screenshots of each view go to results/web/.
 * Without Chromium, or without Vite (its bundler's native binding is optional), the tests skip saying so,
 * except under CI=true (harness.ts's chromiumSkip, support/engines.ts's optionalSkip).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { writeAtomic } from '../../src/node/fileSystem.js';
import { repoRoot } from '../support/golden.js';
import { optionalSkip, packageMissing } from '../support/engines.js';
import { chromiumSkip, launchChromium } from './harness.js';
import { buildAndServeSite, type Site } from './site.js';

// Vite builds the site; its bundler's native binding is an optional dependency (skip rule of test/support/engines.ts)
const skip = chromiumSkip() || optionalSkip(await packageMissing('vite'));
const shots = resolve(repoRoot, 'results/web');

/** What the page's `globalThis.playground` hands the tests (see web/src/main.ts). */
interface Hook {
  ready: boolean;
  settings: Record<string, unknown>;
  backend: { requested: string; running: string; note: string } | null;
  ns: { busy: boolean; error: string | null; result: NsResult | null };
  race: { race: RaceLike | null; steps(n: number): Promise<void> };
  raceView: { boundaryStep: number };
  spectra: { summary(): { racer: string; layer: string; step: number; stableRank: number; size: number }[] };
  numTensors(): number;
  show(view: string): void;
}
interface NsResult {
  matrix: string;
  backend: string;
  inputSigmas: number[];
  tables: { name: string; steps: number; sigmas: number[][]; orthogonalityError: number[]; polarDistance: number[]; msPerIteration: number; error?: string }[];
}
interface RaceLike {
  step: number;
  racers: { name: string; error?: string; evals: { step: number; loss: number; accuracy: number }[]; batchLoss: [number, number][] }[];
}
/** The page's globals the tests touch (the test tsconfig has no DOM lib). */
type Win = typeof globalThis & {
  playground: Hook;
  document: { documentElement: { scrollWidth: number }; getElementById(id: string): { hidden: boolean } | null };
};

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await writeAtomic(resolve(shots, name), await page.screenshot({ fullPage: true }));
}

describe('the playground in Chromium', { skip }, () => {
  let site: Site;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  before(async () => {
    site = await buildAndServeSite();
    browser = await launchChromium({ width: 1280, height: 800 });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  /** Opens the site with `query`, collecting page errors and console errors, and waits for it to start. */
  async function open(query: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${site.origin}/${query}`);
    await page.waitForFunction(() => (globalThis as Win).playground?.ready === true, undefined, { timeout: 30_000 });
    return { page, errors };
  }

  async function nsResult(page: Page): Promise<NsResult> {
    await page.waitForFunction(() => {
      const ns = (globalThis as Win).playground.ns;
      return !ns.busy && (ns.result !== null || ns.error !== null);
    }, undefined, { timeout: 30_000 });
    const { result, error } = await page.evaluate(() => ({ result: (globalThis as Win).playground.ns.result, error: (globalThis as Win).playground.ns.error }));
    assert.equal(error, null, 'the Newton–Schulz view computed without error');
    return result!;
  }

  it('loads with no console error on webgl (SwiftShader) and Jordan ×5 takes a Gaussian matrix into [0.68, 1.14]', async (t) => {
    const { page, errors } = await open('');
    const backend = await page.evaluate(() => (globalThis as Win).playground.backend);
    t.diagnostic(`backend: ${JSON.stringify(backend)}`);
    assert.equal(backend?.running, 'webgl');
    assert.equal(await page.textContent('#backend-status [data-running]'), 'webgl', 'the header says which backend runs');
    const r = await nsResult(page);
    assert.match(r.matrix, /^Gaussian 64×128$/);
    assert.equal(r.backend, 'webgl');
    const jordan = r.tables.find((x) => x.name === 'jordan')!;
    assert.equal(jordan.steps, 5);
    assert.equal(jordan.sigmas.length, 6, 'singular values after 0…5 iterations');
    const first = jordan.sigmas[0];
    const last = jordan.sigmas[5];
    assert.equal(last.length, 64);
    t.diagnostic(`Jordan ×5: σ after 0 steps in [${Math.min(...first)}, ${Math.max(...first)}], after 5 in [${Math.min(...last)}, ${Math.max(...last)}]`);
    // The input (normalized) starts well outside the band, so landing in it is Newton–Schulz's doing.
    assert.ok(Math.min(...first) < 0.1, `normalized input σ_min ${Math.min(...first)}`);
    assert.ok(Math.min(...last) >= 0.68 && Math.max(...last) <= 1.14, `Jordan ×5 final σ in [${Math.min(...last)}, ${Math.max(...last)}]`);
    for (const table of r.tables) {
      assert.equal(table.error, undefined, `${table.name}: ${table.error}`);
      const e = table.orthogonalityError;
      const p = table.polarDistance;
      t.diagnostic(`${table.name}: orthogonality error ${e[0].toFixed(3)} → ${e[e.length - 1].toFixed(4)}, polar distance ${p[0].toFixed(3)} → ${p[p.length - 1].toFixed(4)}, ${table.msPerIteration.toFixed(2)} ms/iteration`);
      assert.ok(e[e.length - 1] < 0.5 * e[0], `${table.name}: orthogonality error ${e[0]} → ${e[e.length - 1]}`);
      assert.ok(p[p.length - 1] < 0.5 * p[0], `${table.name}: distance to the polar factor ${p[0]} → ${p[p.length - 1]}`);
      assert.ok(table.msPerIteration > 0, `${table.name}: time per iteration measured`);
    }
    await screenshot(page, 'ns.png');
    assert.deepEqual(errors, [], 'no error on the page');
    await page.close();
  });

  it('the race runs 50 steps, every optimizer’s loss falls, nothing leaks; Muon’s updates have a higher stable rank than AdamW’s', async (t) => {
    const { page, errors } = await open('?view=race&backend=cpu');
    const started = Date.now();
    await page.evaluate(() => (globalThis as Win).playground.race.steps(50));
    t.diagnostic(`50 steps of 6 racers on cpu: ${Date.now() - started} ms`);
    const race = await page.evaluate(() => {
      const r = (globalThis as Win).playground.race.race!;
      return { step: r.step, racers: r.racers.map((x) => ({ name: x.name, error: x.error, evals: x.evals, batchLoss: x.batchLoss })) };
    });
    assert.equal(race.step, 50);
    assert.deepEqual(race.racers.map((r) => r.name).sort(), ['adaMuon', 'adamw', 'muon', 'norMuon', 'sgd', 'turboMuon']);
    for (const r of race.racers) {
      assert.equal(r.error, undefined, `${r.name}: ${r.error}`);
      const e0 = r.evals[0];
      const e50 = r.evals[r.evals.length - 1];
      assert.equal(e0.step, 0);
      assert.equal(e50.step, 50);
      const mean = (a: [number, number][]) => a.reduce((s, p) => s + p[1], 0) / a.length;
      const early = mean(r.batchLoss.slice(0, 10));
      const late = mean(r.batchLoss.slice(40, 50));
      t.diagnostic(`${r.name}: test loss ${e0.loss.toFixed(4)} → ${e50.loss.toFixed(4)}, batch loss (mean of 10) ${early.toFixed(4)} → ${late.toFixed(4)}, accuracy ${e0.accuracy} → ${e50.accuracy}`);
      assert.ok(e50.loss < e0.loss - 0.05, `${r.name}: test loss ${e0.loss} → ${e50.loss}`);
      assert.ok(late < early, `${r.name}: batch loss ${early} → ${late}`);
    }
    const before10 = await page.evaluate(() => (globalThis as Win).playground.numTensors());
    await page.evaluate(() => (globalThis as Win).playground.race.steps(10));
    assert.equal(await page.evaluate(() => (globalThis as Win).playground.numTensors()), before10, 'ten more steps leave no tensor behind');
    await page.waitForFunction(() => (globalThis as Win).playground.raceView.boundaryStep === 60, undefined, { timeout: 10_000 });
    await screenshot(page, 'race.png');

    await page.evaluate(() => (globalThis as Win).playground.show('spectra'));
    await page.waitForSelector('#view-spectra [data-layer="hidden2/kernel"] svg');
    const spectra = await page.evaluate(() => (globalThis as Win).playground.spectra.summary());
    t.diagnostic(`spectra: ${JSON.stringify(spectra)}`);
    const rank = (racer: string) => spectra.find((s) => s.racer === racer && s.layer === 'hidden2/kernel')!;
    assert.equal(rank('muon').step, 60);
    assert.equal(rank('muon').size, 32);
    assert.ok(rank('muon').stableRank > 3 * rank('adamw').stableRank, `stable rank of ΔW: Muon ${rank('muon').stableRank}, AdamW ${rank('adamw').stableRank}`);
    await screenshot(page, 'spectra.png');
    assert.deepEqual(errors, [], 'no error on the page');
    await page.close();
  });

  it('the embedded Fashion-MNIST subset loads in the page (gzip IDX, DecompressionStream) and the race learns it', async (t) => {
    const { page, errors } = await open('?view=race&data=fashion&backend=cpu&racers=muon,adamw');
    const started = Date.now();
    await page.evaluate(() => (globalThis as Win).playground.race.steps(30));
    t.diagnostic(`load + 30 steps of muon, adamw on cpu: ${Date.now() - started} ms`);
    const race = await page.evaluate(() => {
      const r = (globalThis as Win).playground.race.race! as RaceLike & { data: { label: string; note?: string; train: { count: number }; test: { count: number } } };
      return { label: r.data.label, note: r.data.note, train: r.data.train.count, test: r.data.test.count, racers: r.racers.map((x) => ({ name: x.name, error: x.error, evals: x.evals })) };
    });
    t.diagnostic(JSON.stringify(race.racers.map((r) => [r.name, r.evals[0], r.evals[r.evals.length - 1]])));
    assert.equal(race.note, undefined, 'no synthetic stand-in');
    assert.equal(race.train, 10000);
    assert.equal(race.test, 2000);
    assert.match(race.label, /^Fashion-MNIST subset/);
    for (const r of race.racers) {
      assert.equal(r.error, undefined);
      const [e0, e30] = [r.evals[0], r.evals[r.evals.length - 1]];
      assert.equal(e30.step, 30);
      assert.ok(e30.loss < 0.7 * e0.loss && e30.accuracy > 0.5, `${r.name}: test loss ${e0.loss} → ${e30.loss}, accuracy ${e30.accuracy}`);
    }
    await screenshot(page, 'race-fashion.png');
    assert.deepEqual(errors, [], 'no error on the page');
    await page.close();
  });

  it('a URL parameter sets the state; a control and the arrow keys write it back; bad values are named', async () => {
    const { page, errors } = await open('?matrix=lowRank&rows=32&cols=48&tables=jordan,you&backend=cpu');
    const r = await nsResult(page);
    assert.match(r.matrix, /^low-rank 32×48 \(rank 4/);
    assert.deepEqual(r.tables.map((x) => x.name), ['jordan', 'you']);
    assert.equal(r.inputSigmas.length, 32);
    assert.equal(await page.inputValue('#ns-matrix'), 'lowRank');
    assert.equal(await page.inputValue('#ns-rows'), '32');
    assert.equal(r.backend, 'cpu');

    await page.selectOption('#ns-matrix', 'illConditioned');
    await page.waitForFunction(() => (globalThis as Win).playground.ns.result?.matrix.startsWith('ill-conditioned') === true);
    assert.equal(new URL(page.url()).searchParams.get('matrix'), 'illConditioned');
    const ill = await nsResult(page);
    assert.ok(Math.min(...ill.inputSigmas) / Math.max(...ill.inputSigmas) < 2e-4, 'the ill-conditioned input has κ ≈ 1e4');

    await page.focus('#tab-ns');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => (globalThis as Win).document.getElementById('view-race')?.hidden === false);
    assert.equal(new URL(page.url()).searchParams.get('view'), 'race');
    assert.deepEqual(errors, [], 'no error on the page');
    await page.close();

    // The live gradient of the race's last hidden layer, and the backend picker switching to wasm.
    const grad = await open('?matrix=gradient&tables=jordan&backend=cpu');
    const g = await nsResult(grad.page);
    assert.match(g.matrix, /^gradient of hidden2\/kernel at race step 1 \(SGD, 32×32\)$/);
    assert.equal(g.inputSigmas.length, 32);
    await grad.page.selectOption('#backend', 'wasm');
    await grad.page.waitForFunction(() => (globalThis as Win).playground.backend?.running === 'wasm');
    await grad.page.waitForFunction(() => (globalThis as Win).playground.ns.result?.backend === 'wasm' && !(globalThis as Win).playground.ns.busy);
    assert.equal(new URL(grad.page.url()).searchParams.get('backend'), 'wasm');
    assert.equal(await grad.page.textContent('#backend-status [data-running]'), 'wasm');
    const onWasm = await nsResult(grad.page);
    assert.equal(onWasm.tables[0].error, undefined);
    assert.deepEqual(grad.errors, [], 'no error on the page');
    await grad.page.close();

    // Your own rows: a bad one is named in the table, the others still run.
    const custom = await open('?tables=jordan,custom&custom=3,-4;1,2,3&backend=cpu');
    const c = await nsResult(custom.page);
    assert.match(c.tables.find((x) => x.name === 'custom')?.error ?? '', /custom coefficients: row 1 must be three numbers "a,b,c", got "3,-4"/);
    assert.equal(c.tables.find((x) => x.name === 'jordan')?.error, undefined);
    await custom.page.close();

    const bad = await open('?rows=9999&view=bogus&racers=muon,nope');
    const text = await bad.page.textContent('#rejected');
    assert.match(text ?? '', /rows=9999.*view=bogus|view=bogus.*rows=9999/);
    assert.match(text ?? '', /racers=muon,nope/);
    const settings = await bad.page.evaluate(() => (globalThis as Win).playground.settings);
    assert.equal(settings.rows, 64);
    assert.equal(settings.view, 'ns');
    assert.deepEqual(settings.racers, ['muon']);
    await bad.page.close();
  });

  it('at phone width (390 px) no view overflows sideways', async () => {
    const { page, errors } = await open('?backend=cpu');
    await page.setViewportSize({ width: 390, height: 844 });
    await nsResult(page);
    for (const view of ['ns', 'race', 'spectra']) {
      await page.evaluate((v) => (globalThis as Win).playground.show(v), view);
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => (globalThis as Win).document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${view}: page is ${width} px wide at a 390 px viewport`);
      if (view !== 'spectra') await screenshot(page, `${view}-phone.png`);
    }
    assert.deepEqual(errors, [], 'no error on the page');
    await page.close();
  });
});
