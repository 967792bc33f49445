/**
 * Smoke test of `bench/engines.ts` (`npm run bench:engines`) and of its section in `bench/ns.ts`: every
 * section on tiny shapes with two repeats — the JSON fields, that the outputs it timed are
 * `newtonSchulz`'s for every engine, the flop counts, the one-MatMul ONNX model, the target checks and
 * the flags. Speed is measured by the benchmark itself and never asserted here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { engineSkip } from '../support/engines.js';
import { useBackend } from '../support/backend.js';
import '../../src/engines/node.js';
import { disposeEngines, listEngines, newtonSchulz, type EngineName } from '../../src/index.js';
import { loadOnnxRuntime } from '../../src/engines/onnxruntime.js';
import { enginesCommand, parseEnginesArgs, runEnginesBenchmark } from '../../bench/engines.js';
import {
  allEngines,
  defaultEnginesConfig,
  fullEngineSections,
  nsTargets,
  stepLayers,
  targetEngineSections,
  variantName,
  type EngineNsResult,
  type EngineSectionsConfig,
  type EnginesBenchConfig,
  type EnginesBenchResult,
} from '../../bench/engines/settings.js';
import { gramFlopsSpec, targetChecks } from '../../bench/engines/common.js';
import { gramFlops, standardFlops } from '../../src/linalg/flops.js';
import { matMulModel } from '../../src/engines/onnxGraph.js';
import { shapeVariants, workersBreakdown } from '../../bench/engines/ns.js';
import { renderEngineSections, renderEnginesReport } from '../../bench/engines/render.js';
import { UsageError } from '../../src/cli/args.js';
import { defaultConfig, parseArgs, renderReport, runBenchmark, type BenchResult } from '../../bench/ns.js';
import type { Stats } from '../../src/bench/stats.js';
import { makeInput } from '../../src/bench/inputs.js';
import { relativeError } from '../../src/bench/relativeError.js';

await useBackend('wasm');

const tiny: EngineSectionsConfig = {
  engines: allEngines,
  limit: { size: 64, warmup: 1, minRepeats: 2, maxRepeats: 2, budgetMs: 0, workerThreads: 2 },
  ns: { shapes: [[32, 64], [48, 40]], warmup: 1, minRepeats: 2, maxRepeats: 2, budgetMs: 0, seed: 5, turbo: ['tfjs', 'onnxruntime'], limitInRounds: true },
  gram: { shapes: [[16, 64], [24, 24]], warmup: 1, minRepeats: 2, maxRepeats: 2, budgetMs: 0, seed: 6, restarts: [2] },
  step: { layers: [16, 32, 32, 8], warmup: 2, minSteps: 2, maxSteps: 2, budgetMs: 0, seed: 7 },
};

const available = new Map(listEngines().map((e) => [e.name, e.available]));

function isStats(s: Stats | null, n: number): void {
  assert.ok(s !== null);
  assert.equal(s.n, n);
  assert.equal(s.samples.length, n);
  assert.ok(s.median > 0 && Number.isFinite(s.median), `median ${s.median}`);
  assert.ok(s.min <= s.median && s.median <= s.max && s.iqr >= 0);
}

describe('bench:engines (tiny shapes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orthoptim-bench-engines-'));
  const out = join(dir, 'sub', 'bench-engines.json');
  let result: EnginesBenchResult;
  let json: EnginesBenchResult;
  let tensorsBefore = 0;

  before(async () => {
    tensorsBefore = tf.memory().numTensors;
    result = await runEnginesBenchmark({ quick: true, out, sections: tiny });
    json = JSON.parse(readFileSync(out, 'utf8')) as EnginesBenchResult;
    rmSync(dir, { recursive: true, force: true });
  });
  after(() => disposeEngines());

  it('writes JSON with the machine, the load and which engines can run', () => {
    assert.equal(json.schema, 'orthoptim/bench-engines@1');
    assert.equal(json.quick, true);
    assert.equal(json.machine.backend, 'wasm');
    assert.equal(json.machine.loadAverage.length, 3);
    assert.equal(json.engines.backend, 'wasm');
    assert.equal(json.engines.loadAverage.start.length, 3);
    assert.equal(json.engines.loadAverage.end.length, 3);
    assert.deepEqual(json.engines.available.map((e) => e.name), ['tfjs', 'workers', 'onnxruntime']);
    assert.ok(json.wallMs > 0 && json.engines.wallMs > 0);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the benchmark leaves no tensors behind');
  });

  it('measures the matmul limit per engine and takes the best rate', () => {
    const l = json.engines.limit!;
    assert.equal(l.size, 64);
    assert.equal(l.flops, 2 * 64 ** 3);
    const expected = ['tfjs', ...(available.get('onnxruntime') ? ['onnxruntime', 'onnxruntime'] : []), 'workers'];
    assert.deepEqual(l.rows.map((r) => r.engine), expected);
    for (const r of l.rows) {
      isStats(r.ms, 2);
      assert.ok(Math.abs(r.gflops - l.flops / (r.ms.median * 1e6)) <= 1e-9 * r.gflops);
      assert.ok(Math.abs(r.xLimit - l.best!.gflops / r.gflops) <= 1e-12 * r.xLimit && r.xLimit >= 1);
      assert.equal(r.peakGflops, l.flops / (r.ms.min * 1e6));
    }
    assert.equal(l.rows.find((r) => r.engine === 'workers')!.threads, 2);
    assert.equal(l.best!.gflops, Math.max(...l.rows.map((r) => r.gflops)));
  });

  it('times NS per engine: flops, × of the limit (timed in the same rounds), first calls, no targets on tiny shapes', () => {
    const ns = json.engines.ns!;
    const limit = json.engines.limit!.best!.gflops;
    const l = json.engines.limit!;
    const peak = l.peak!.gflops;
    assert.equal(peak, Math.max(...l.rows.map((r) => l.flops / (r.ms.min * 1e6))));
    assert.deepEqual(ns.shapes.map((s) => s.shape), [[32, 64], [48, 40]]);
    for (const s of ns.shapes) {
      assert.equal(s.k, Math.min(...s.shape));
      assert.equal(s.n, Math.max(...s.shape));
      assert.equal(s.steps, 5);
      assert.equal(s.flops, 5 * (4 * s.k * s.k * s.n + 2 * s.k ** 3));
      assert.ok(Math.abs(s.idealMs - s.flops / (limit * 1e6)) <= 1e-12 * s.idealMs);
      assert.equal(s.repeats, 2);
      assert.deepEqual(s.rows.map((r) => r.name), ['tfjs', 'workers', 'onnxruntime', 'tfjs · turbo', 'onnxruntime · turbo']);
      assert.deepEqual(s.rows.map((r) => r.iteration), ['jordan', 'jordan', 'jordan', 'turbo', 'turbo']);
      for (const r of s.rows) {
        if (!available.get(r.engine)) {
          assert.equal(r.status, 'unavailable');
          continue;
        }
        assert.equal(r.status, 'measured');
        isStats(r.ms, 2);
        assert.ok(Math.abs(r.xLimit - r.ms!.median / s.idealMs) <= 1e-12 * r.xLimit);
        assert.ok(Math.abs(r.xLimitOfMins - r.ms!.min / (s.flops / (peak * 1e6))) <= 1e-12 * r.xLimitOfMins);
        // the limit's best method timed in the rows' own rounds
        assert.ok(s.limitInRoundsGflops! > 0 && Number.isFinite(s.limitInRoundsGflops));
        assert.ok(Math.abs(r.xLimitInRounds! - r.ms!.median / (s.flops / (s.limitInRoundsGflops! * 1e6))) <= 1e-9 * r.xLimitInRounds!);
        const own = Math.max(...json.engines.limit!.rows.filter((x) => x.engine === r.engine).map((x) => x.gflops));
        assert.ok(Math.abs(r.xOwnMatmul - r.ms!.median / (s.flops / (own * 1e6))) <= 1e-9 * r.xOwnMatmul);
        assert.ok(r.firstCallMs > 0);
        assert.equal(r.target, null);
        assert.equal(r.holds, null);
        assert.match(r.description, new RegExp(`^${r.engine} on backend wasm`));
        if (r.engine === 'tfjs') assert.equal(r.maxRelDiffToTfjs, 0);
        else assert.ok(r.maxRelDiffToTfjs <= 1e-5, `${r.engine} ${s.shape.join('×')}: ${r.maxRelDiffToTfjs}`);
      }
    }
    assert.deepEqual(json.engines.targets, []);
    assert.deepEqual(ns.startup.map((x) => x.engine), allEngines.filter((e) => available.get(e)));
    for (const x of ns.startup) assert.equal(x.startupMs, x.coldMs - x.warmMs);
  });

  it("timed newtonSchulz's output, for every engine and iteration (Turbo-Muon's: 4 steps, AOL)", () => {
    for (const s of result.engines.ns!.shapes) {
      for (const iteration of ['jordan', 'turbo'] as const) {
      const input = makeInput(s.shape, tiny.ns!.seed);
      const ref = newtonSchulz(input, { engine: 'tfjs', coefficients: iteration });
      const data = ref.dataSync();
      const maxRef = Array.from(data).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let sq = 0;
      for (const v of data) sq += v * v;
      tf.dispose([input, ref]);
      for (const r of s.rows.filter((x) => x.status === 'measured' && x.iteration === iteration)) {
        assert.equal(r.check.sample.length, 8);
        r.check.sample.forEach((v, i) =>
          assert.ok(Math.abs(v - data[i]) <= 1e-5 * maxRef, `${r.engine} ${s.shape.join('×')} [${i}]: ${v} vs ${data[i]}`),
        );
        assert.ok(Math.abs(r.check.frobenius - Math.sqrt(sq)) <= 1e-5 * Math.sqrt(sq));
      }
      }
    }
    // the two iterations differ (else the turbo rows could be timing Jordan's)
    const rows = result.engines.ns!.shapes[0].rows;
    const jordan = rows.find((r) => r.name === 'tfjs')!.check.frobenius;
    const turbo = rows.find((r) => r.name === 'tfjs · turbo')!.check.frobenius;
    assert.ok(Math.abs(jordan - turbo) > 1e-3 * jordan, `${jordan} vs ${turbo}`);
  });

  it('compares Gram NS with the standard form: flops, ratios, outputs', () => {
    const g = json.engines.gram!;
    assert.deepEqual(g.restarts, [2]);
    assert.equal(g.steps, 5);
    assert.deepEqual(g.shapes.map((s) => s.shape), [[16, 64], [24, 24]]);
    for (const s of g.shapes) {
      const { k, n } = s;
      assert.equal(s.repeats, 2);
      isStats(s.standard.ms, 2);
      isStats(s.gram.ms, 2);
      assert.equal(s.standard.flops, 20 * k * k * n + 10 * k ** 3);
      assert.equal(s.gram.flops, 8 * k * k * n + 28 * k ** 3);
      assert.equal(s.gram.flopsSpec, 8 * k * k * n + 32 * k ** 3);
      assert.equal(s.flopRatio, s.gram.flops / s.standard.flops);
      assert.ok(Math.abs(s.timeRatio - s.gram.ms.median / s.standard.ms.median) < 1e-12);
      assert.ok(s.maxRelDiff > 0 && s.maxRelDiff < 1e-4, `gram vs standard ${s.maxRelDiff}`);
      assert.ok(s.relFrobenius > 0 && s.relFrobenius <= s.maxRelDiff * Math.sqrt(k * n));
    }
    assert.ok(g.shapes[0].flopRatio < 1, 'wide: Gram saves flops');
    assert.ok(g.shapes[1].flopRatio > 1, 'square: Gram costs more');
  });

  it('times a muon and a turboMuon step per engine beside adamw', () => {
    const st = json.engines.step!;
    assert.deepEqual(st.layers, [16, 32, 32, 8]);
    assert.equal(st.totalParams, 16 * 32 + 32 + 32 * 32 + 32 + 32 * 8 + 8);
    assert.equal(st.nsFlopsPerStep, standardFlops(16, 32, 5) + standardFlops(32, 32, 5) + standardFlops(32, 8, 5));
    assert.equal(st.steps, 2);
    assert.deepEqual(st.rows.map((r) => r.name).sort(), [
      'adamw()',
      "muon({engine: 'onnxruntime'})",
      "muon({engine: 'tfjs'})",
      "muon({engine: 'workers'})",
      "turboMuon({engine: 'onnxruntime'})",
      "turboMuon({engine: 'tfjs'})",
      "turboMuon({engine: 'workers'})",
    ]);
    for (const r of st.rows) {
      if (r.status === 'unavailable') continue;
      isStats(r.msPerStep, 2);
      assert.ok(r.firstStepMs > 0);
      assert.equal(r.leakedTensorsPerStep, 0, `${r.name} leaks tensors`);
      if (r.engine !== null) assert.match(r.description, new RegExp(`^${r.engine} on backend wasm`));
      if (r.engine !== null) {
        const ideal = st.nsFlopsPerStep / (json.engines.limit!.best!.gflops * 1e6);
        assert.ok(Math.abs(r.xLimitNs - r.msPerStep!.median / ideal) <= 1e-12 * r.xLimitNs);
      } else assert.equal(r.xLimitNs, null); // NaN in JSON
    }
    assert.equal(st.rows.find((r) => r.name === 'adamw()')!.ratioToAdamw, 1);
  });

  it('renders the markdown tables', { skip: engineSkip('onnxruntime') }, () => {
    const text = renderEnginesReport(result);
    assert.match(text, /## Native Newton–Schulz engines on wasm/);
    assert.match(text, /\*\*limit = [\d.]+ GFLOP\/s\*\*/);
    assert.match(text, /\| 32×64 +\| 0\.00 +\| [^|]+ +\| onnxruntime +\| 2 +\|/);
    assert.match(text, /\| 16×64 +\| 2 +\|/);
    assert.match(text, /\| muon\(\{engine: 'workers'\}\) +\| workers on backend wasm +\|/);
  });
});

describe('bench:engines helpers', () => {
  it('counts flops: standard 20k²n + 10k³; Gram as implemented and as the spec counts it', () => {
    const k = 1024;
    const n = 4096;
    assert.equal(standardFlops(n, k, 5), 20 * k * k * n + 10 * k ** 3);
    assert.equal(gramFlops(k, n, 5, [2]), 8 * k * k * n + 28 * k ** 3);
    assert.equal(gramFlops(k, n, 5, []), 4 * k * k * n + 34 * k ** 3);
    assert.equal(gramFlops(k, n, 5, [2, 4]), 12 * k * k * n + 22 * k ** 3);
    assert.equal(gramFlops(k, n, 0, [2]), 2 * k * k * n);
    assert.equal(gramFlopsSpec([4096, 14336]), 8 * 4096 ** 2 * 14336 + 32 * 4096 ** 3); // §13.1: ≈ 4.1e12
  });

  it('builds a one-MatMul ONNX model that onnxruntime runs', async (t) => {
    const l = loadOnnxRuntime();
    if (!l.ok) {
      t.skip(l.reason);
      return;
    }
    const session = await l.ort.InferenceSession.create(matMulModel());
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2×3
    const b = Float32Array.from([1, 0, -1, 2, 0.5, 3]); // 3×2
    const y = await session.run({ A: new l.ort.Tensor('float32', a, [2, 3]), B: new l.ort.Tensor('float32', b, [3, 2]) });
    await session.release();
    assert.deepEqual(y.Y.dims, [2, 2]);
    assert.deepEqual(Array.from(y.Y.data as Float32Array), [1 * 1 + 2 * -1 + 3 * 0.5, 1 * 0 + 2 * 2 + 3 * 3, 4 - 5 + 3, 0 + 10 + 18]);
  });

  it('workersBreakdown: per-thread phase medians of a split matrix', async () => {
    // 384×384 has the default minShardElements (131 072 entries): split over both threads
    const data = Float32Array.from({ length: 384 * 384 }, (_, i) => Math.sin(i));
    const b = await workersBreakdown(data, [384, 384], 2);
    assert.equal(b.calls, 2);
    assert.ok(b.wallMs > 0);
    assert.equal(b.threads.length, 2);
    assert.equal(b.callingThread, true, 'threads 2 by default here: one worker, the calling thread last');
    for (const t of b.threads) assert.ok(t.gram > 0 && t.poly > 0 && t.update > 0 && t.transpose >= 0, JSON.stringify(t));
  });

  it('relDiffs: max relative and Frobenius', () => {
    const d = relativeError([1, 2, 4], [1, 2, 3]);
    assert.equal(d.maxRel, 1 / 3);
    assert.ok(Math.abs(d.frobenius - 1 / Math.sqrt(14)) < 1e-15);
  });

  it("checks issue 16's targets: held, missed, not measured; targets on shapes not run are left out", () => {
    type Row = EngineNsResult['shapes'][number]['rows'][number];
    const row = (engine: EngineName, iteration: 'jordan' | 'turbo', xLimit: number, ms: number | null = 100): Row =>
      ({ engine, iteration, name: engine, xLimit, xOwnMatmul: xLimit * 0.9, ms: ms === null ? null : { median: ms } }) as unknown as Row;
    const shapes = [
      // 1024×4096: onnxruntime 'auto' misses ≤ ×0.75 (0.8), Turbo holds ≤ ×0.6 (0.6 exactly: ≤)
      { shape: [1024, 4096], rows: [row('onnxruntime', 'jordan', 0.8, 900), row('onnxruntime', 'turbo', 0.6, 700), row('tfjs', 'jordan', 9)] },
      // 1024²: onnxruntime holds ≤ ×1.0; workers unavailable (no time) → not measured
      { shape: [1024, 1024], rows: [row('onnxruntime', 'jordan', 0.97, 300), row('workers', 'jordan', NaN, null)] },
      { shape: [256, 256], rows: [row('workers', 'jordan', 12)] },
    ] as unknown as EngineNsResult['shapes'];
    const checks = targetChecks({ shapes });
    assert.deepEqual(
      checks.map((c) => [c.engine, c.iteration, c.shape.join('x'), c.target, c.holds]),
      [
        ['onnxruntime', 'jordan', '1024x4096', 0.75, false],
        ['onnxruntime', 'jordan', '1024x1024', 1, true],
        ['onnxruntime', 'turbo', '1024x4096', 0.6, true],
        ['workers', 'jordan', '1024x1024', 5, null],
      ],
    );
    assert.deepEqual(checks.map((c) => c.xLimit), [0.8, 0.97, 0.6, NaN]);
    assert.deepEqual(checks.map((c) => c.ms), [900, 300, 700, NaN]);
    assert.ok(Math.abs(checks[0].xOwnMatmul - 0.72) < 1e-12);
    assert.equal(checks[3].label, 'workers (the calling thread computing a share)');
    assert.deepEqual(nsTargets.map((t) => [t.engine, t.iteration, t.shape.join('x'), t.max]), [
      ['onnxruntime', 'jordan', '1024x4096', 0.75],
      ['onnxruntime', 'jordan', '1024x1024', 1],
      ['onnxruntime', 'turbo', '1024x4096', 0.6],
      ['workers', 'jordan', '1024x1024', 5],
    ]);
    // a Turbo row missing from the run (turbo not configured) → not measured; an unrun shape → no check
    const onlySquare = [{ shape: [1024, 1024], rows: [row('onnxruntime', 'jordan', 1.2), row('workers', 'jordan', 4.9)] }] as unknown as EngineNsResult['shapes'];
    assert.deepEqual(targetChecks({ shapes: onlySquare }).map((c) => [c.engine, c.holds]), [['onnxruntime', false], ['workers', true]]);
    const noTurbo = [{ shape: [1024, 4096], rows: [row('onnxruntime', 'jordan', 0.7)] }] as unknown as EngineNsResult['shapes'];
    assert.deepEqual(targetChecks({ shapes: noTurbo }).map((c) => [c.iteration, c.holds]), [['jordan', true], ['turbo', null]]);
    assert.deepEqual(targetChecks(null), []);
    // the rendered table names each target held / missed / not measured
    const text = renderEngineSections({
      config: tiny, backend: 'wasm', available: [], loadAverage: { start: [0, 0, 0], end: [0, 0, 0] }, limit: null,
      ns: { shapes, startup: [], wallMs: 1 }, gram: null, step: null, targets: checks, wallMs: 1,
    } as unknown as Parameters<typeof renderEngineSections>[0]);
    assert.match(text, /\| onnxruntime, form 'auto' \(Gram where cheaper\) +\| 1024×4096 +\| [^|]+\| \*\*×0\.80\*\* +\| ≤ ×0\.75 +\| \*\*missed\*\* +\|/);
    assert.match(text, /\| Turbo-Muon \(4 steps, AOL\) on onnxruntime +\| 1024×4096 +\| [^|]+\| \*\*×0\.60\*\* +\| ≤ ×0\.6 +\| held +\|/);
    assert.match(text, /\| workers \(the calling thread computing a share\) +\| 1024×1024 +\| — +\| \*\*—\*\* +\| ≤ ×5 +\| not measured +\|/);
  });

  it('--targets-only runs the limit and exactly the target rows on their shapes', () => {
    const r = parseEnginesArgs(['--targets-only']);
    assert.ok(r !== 'help');
    assert.deepEqual(r.sections, targetEngineSections);
    const t = r.sections;
    assert.equal(t.gram, null);
    assert.equal(t.step, null);
    assert.deepEqual(t.limit!.engines, ['tfjs', 'workers', 'onnxruntime'], 'the limit over every engine, as in a full run');
    assert.equal(t.limit!.size, fullEngineSections.limit!.size);
    const names = (shape: [number, number]) => shapeVariants(shape, t.ns!, t.engines).map((v) => v.name);
    assert.deepEqual(names([1024, 4096]), ['onnxruntime', 'onnxruntime · turbo']);
    assert.deepEqual(names([1024, 1024]), ['workers', 'onnxruntime']);
    assert.deepEqual(t.ns!.shapes, [[1024, 1024], [1024, 4096]]);
    // a full run times every row on every shape, Turbo on onnxruntime included
    assert.deepEqual(shapeVariants([256, 256], fullEngineSections.ns!, allEngines).map((v) => v.name), ['tfjs', 'workers', 'onnxruntime', 'onnxruntime · turbo']);
    assert.equal(variantName('onnxruntime', 'turbo'), 'onnxruntime · turbo');
  });

  it('parses flags through src/cli/args.ts; defaults cover the issue shapes and the four-hidden-layer MLP', () => {
    const run = (argv: string[], cwd?: string): EnginesBenchConfig => {
      const r = parseEnginesArgs(argv, cwd);
      if (r === 'help') throw new Error('expected a run');
      return r;
    };
    assert.deepEqual(run([]), defaultEnginesConfig(false));
    const full = fullEngineSections;
    assert.equal(full.limit!.size, 2048);
    assert.deepEqual(full.ns!.shapes.map((s) => s.join('x')), ['256x256', '1024x1024', '768x3072', '1024x4096']);
    assert.deepEqual(full.gram!.shapes.map((s) => s.join('x')), ['256x4096', '512x4096', '1024x4096', '1024x1024']);
    assert.deepEqual(full.step!.layers, stepLayers);
    assert.equal(stepLayers.filter((w, i) => i > 0 && w === 1024 && stepLayers[i - 1] === 1024).length, 4);
    const r = run(['--quick', '--engines', 'onnxruntime,tfjs', '--shapes=64x64', '--no-gram', '--limit-size', '256', '--out', 'x.json'], '/tmp');
    assert.equal(r.quick, true);
    assert.deepEqual(r.sections.engines, ['tfjs', 'onnxruntime']);
    assert.deepEqual(r.sections.ns!.shapes, [[64, 64]]);
    assert.equal(r.sections.gram, null);
    assert.equal(r.sections.limit!.size, 256);
    assert.equal(r.out, '/tmp/x.json');
    const some = run(['--engines', 'tfjs,workers', '--limit-engines=tfjs,workers,onnxruntime', '--workers-profile', '3']);
    assert.deepEqual(some.sections.engines, ['tfjs', 'workers']);
    assert.deepEqual(some.sections.limit!.engines, ['tfjs', 'workers', 'onnxruntime']);
    assert.equal(some.sections.ns!.workersProfile, 3);
    assert.equal(r.sections.limit!.engines, undefined);
    assert.equal(r.sections.ns!.workersProfile, undefined);
    const none = run(['--no-limit', '--no-ns', '--no-step']);
    assert.ok(none.sections.limit === null && none.sections.ns === null && none.sections.step === null);
    const bad: [string[], RegExp][] = [
      [['--engines', 'gpu'], /--engines: unknown 'gpu' \(one of tfjs, workers, onnxruntime\)/],
      [['--engines', 'onnx'], /unknown 'onnx'.*did you mean onnxruntime\?/],
      [['--engines', ','], /--engines needs at least one item/],
      [['--limit-engines', 'gpu'], /--limit-engines: unknown 'gpu'/],
      [['--workers-profile', '-1'], /--workers-profile must be >= 0, got -1/],
      [['--workers-profile', '0x3'], /--workers-profile must be an integer/],
      [['--shapes', '3x'], /--shapes: bad shape '3x'/],
      [['--limit-size', '0'], /--limit-size must be >= 1, got 0/],
      [['--no-gram=1'], /--no-gram is a switch/],
      [['--bogus'], /unknown flag --bogus/],
    ];
    for (const [argv, pattern] of bad) {
      assert.throws(() => parseEnginesArgs(argv), (e: unknown) => e instanceof UsageError && e.command === enginesCommand.name && pattern.test(e.message), argv.join(' '));
    }
    assert.equal(parseEnginesArgs(['-h']), 'help');
  });

  it('bench:ns runs the engine section unless --no-engines', async () => {
    assert.deepEqual(defaultConfig(false).engines, fullEngineSections);
    const off = parseArgs(['--no-engines']);
    assert.ok(off !== 'help' && off.engines === null);
    assert.throws(() => parseArgs(['--no-engines=x']), /--no-engines is a switch/);
    const on = parseArgs(['--quick']);
    assert.ok(on !== 'help' && on.engines !== null);

    const dir = mkdtempSync(join(tmpdir(), 'orthoptim-bench-ns-engines-'));
    const out = join(dir, 'bench-ns.json');
    const base = defaultConfig(true);
    const result = await runBenchmark({
      ...base,
      out,
      ns: { ...base.ns, shapes: [[16, 16]], minRepeats: 1, maxRepeats: 1, budgetMs: 0 },
      ortho: null,
      step: null,
      engines: { engines: ['tfjs', 'onnxruntime'], limit: null, ns: { ...tiny.ns!, shapes: [[16, 24]] }, gram: null, step: null },
    });
    const written = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
    rmSync(dir, { recursive: true, force: true });
    const e = written.engines!;
    assert.deepEqual(e.ns!.shapes[0].rows.map((r) => r.name), ['tfjs', 'onnxruntime', 'tfjs · turbo', 'onnxruntime · turbo']);
    assert.ok(Number.isNaN(result.engines!.ns!.shapes[0].idealMs), 'no limit measured → no × of the limit');
    const text = renderReport(result);
    assert.match(text, /## Native Newton–Schulz engines on wasm/);
    assert.match(text, /native engines: /);
    assert.match(renderEngineSections(e), /\| 16×24 +\|/);
  });
});
