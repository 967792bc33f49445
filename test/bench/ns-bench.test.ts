/**
 * Smoke test of `bench/ns.ts` (`npm run bench:ns`): runs every section on tiny shapes with two repeats,
 * checks the JSON it writes, that the Newton–Schulz and Dion outputs it timed are the library's, the
 * quality section's float64 references and the papers' claim checks. Speed is measured by the benchmark
 * itself and never asserted here.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { newtonSchulz } from '../../src/index.js';
import {
  command,
  defaultConfig,
  naiveNewtonSchulz,
  parseArgs,
  renderReport,
  runBenchmark,
  type BenchConfig,
  type BenchResult,
} from '../../bench/ns.js';
import { repeatsFor } from '../../bench/timing.js';
import { median, stats } from '../../src/bench/stats.js';
import { makeInput } from '../../src/bench/inputs.js';
import { standardFlops } from '../../src/linalg/flops.js';
import { relFrobenius } from '../../src/bench/relativeError.js';
import { UsageError, formatUsage } from '../../src/cli/args.js';
import {
  checkClaims,
  dionBenchOptions,
  dionSetup,
  fullOrthoConfig,
  illConditioned64,
  orthoMethodIds,
  type OrthoShapeResult,
  type OrthoTiming,
  type QualityResult,
} from '../../bench/orthogonalizers.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import { orthogonalityError } from '../../src/linalg/diagnostics.js';
import { matrix64, singularValues64 } from '../../src/linalg/reference.js';
import { dionStep } from '../../src/transforms/dion.js';

const tiny: BenchConfig = {
  quick: true,
  out: null,
  ns: {
    shapes: [[32, 64]],
    warmup: 1,
    minRepeats: 2,
    maxRepeats: 2,
    budgetMs: 2000,
    naive: { maxMs: 5000, maxRepeats: 2, budgetShare: 0.3 },
    seed: 3,
  },
  ortho: {
    shapes: [
      [32, 64],
      [24, 24],
    ],
    warmup: 1,
    minRepeats: 2,
    maxRepeats: 2,
    budgetMs: 2000,
    heavyRoundMs: 20_000,
    maxRoundMs: 60_000,
    qualityShapes: [
      [8, 24],
      [12, 12],
    ],
    seed: 11,
  },
  step: { layers: [16, 32, 8], warmup: 1, steps: 2, seed: 5 },
};

const nsFlopsOf = (k: number, n: number, steps: number) => steps * (4 * k * k * n + 2 * k ** 3);
const dionFlopsOf = (m: number, n: number, p: number, r: number) => 8 * m * n * r + 8 * p * r * r + (4 / 3) * r ** 3;

function isStats(s: unknown, n: number): void {
  const o = s as { median: number; min: number; max: number; iqr: number; n: number; samples: number[] };
  assert.equal(o.n, n);
  assert.equal(o.samples.length, n);
  assert.ok(o.median > 0 && Number.isFinite(o.median), `median ${o.median}`);
  assert.ok(o.min > 0 && o.min <= o.median && o.median <= o.max);
  assert.ok(o.iqr >= 0);
}

describe('bench:ns (quick, tiny shape)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orthoptim-bench-'));
  const out = join(dir, 'sub', 'bench-ns.json');
  let result: BenchResult;
  let json: BenchResult;

  before(async () => {
    await useBackend('wasm');
    result = await runBenchmark({ ...tiny, out });
    json = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes JSON with the machine description', () => {
    assert.equal(json.schema, 'orthoptim/bench-ns@1');
    assert.equal(json.quick, true);
    const m = json.machine;
    assert.equal(typeof m.cpuModel, 'string');
    assert.ok(m.cores >= 1);
    assert.match(m.node, /^v\d+/);
    assert.equal(m.tfjsCore, tf.version_core);
    assert.equal(m.backend, 'wasm');
    assert.ok(!Number.isNaN(Date.parse(m.date)));
    assert.ok(json.wallMs > 0);
  });

  it('reports positive NS and matmul times, GFLOP/s and ratios for the shape', () => {
    assert.equal(json.ns.shapes.length, 1);
    const s = json.ns.shapes[0];
    assert.deepEqual(s.shape, [32, 64]);
    assert.equal(s.k, 32);
    assert.equal(s.n, 64);
    assert.equal(s.steps, 5);
    assert.equal(s.flops, 5 * (4 * 32 * 32 * 64 + 2 * 32 ** 3));
    assert.equal(s.repeats, 2);
    for (const key of ['ns', 'matmul', 'matmulCached', 'transpose', 'elementwise', 'normalize'] as const) isStats(s[key], 2);
    assert.ok(s.gflops.ns > 0 && s.gflops.matmul > 0);
    assert.ok(s.ratio.nsOverMatmul > 0 && s.ratio.perRoundMedian > 0 && s.ratio.ofMins > 0);
    assert.ok(Math.abs(s.ratio.nsOverMatmul - s.ns.median / s.matmul.median) < 1e-12);
    for (const key of ['matmul', 'packing', 'transpose', 'elementwise', 'normalize', 'other'] as const) {
      assert.equal(typeof s.breakdown[key], 'number');
    }
  });

  it('measures the textbook NS baseline, which agrees with newtonSchulz', () => {
    const naive = json.ns.shapes[0].naive;
    assert.equal(naive.status, 'measured');
    if (naive.status !== 'measured') return;
    isStats(naive.ms, naive.ms.n);
    assert.ok(naive.ratioToNs > 0 && naive.gflops > 0);
    assert.ok(naive.relDiffToNs < 1e-4, `naive vs newtonSchulz ${naive.relDiffToNs}`);
  });

  it('times the same output newtonSchulz gives on the fixed input', () => {
    const s = result.ns.shapes[0];
    const input = makeInput([32, 64], tiny.ns.seed);
    const ref = newtonSchulz(input);
    const data = ref.dataSync();
    let sq = 0;
    for (const v of data) sq += v * v;
    tf.dispose([input, ref]);
    assert.ok(Math.abs(s.check.outputFrobenius - Math.sqrt(sq)) <= 1e-5 * Math.sqrt(sq));
    assert.equal(s.check.outputSample.length, 8);
    s.check.outputSample.forEach((v, i) => assert.ok(Math.abs(v - data[i]) <= 1e-6, `sample ${i}: ${v} vs ${data[i]}`));
  });

  it('reports the optimizer step section', () => {
    const st = json.step!;
    assert.equal(st.totalParams, 16 * 32 + 32 + 32 * 8 + 8);
    assert.deepEqual(
      st.optimizers.map((o) => o.name),
      ['tf.train.adam()', 'orthoptim adamw()', "orthoptim adamw({nonFinite: 'ignore'})", 'orthoptim muon()'],
    );
    for (const o of st.optimizers) {
      isStats(o.msPerStep, 2);
      assert.ok(o.ratioToTfAdam > 0);
      assert.equal(o.leakedTensorsPerStep, 0, `${o.name} leaks tensors`);
    }
    assert.deepEqual(st.newtonSchulz.shapes, [[16, 32], [32, 8]]);
    isStats(st.newtonSchulz.msPerStep, 2);
    assert.ok(st.newtonSchulz.shareOfMuonStep > 0);
    assert.deepEqual(st.params.map((p) => p.muonLabel), ['muon', 'adamw', 'muon', 'adamw']);
  });

  it('times every orthogonalizer on every shape, with flops, GFLOP/s and ratios to Jordan', () => {
    const o = json.orthogonalizers!;
    assert.deepEqual(o.methods.map((m) => m.id), ['jordan', 'you', 'polarExpress5', 'turbo', 'root', 'dionQuarter', 'dionHalf']);
    assert.deepEqual(orthoMethodIds, o.methods.map((m) => m.id));
    assert.deepEqual(o.shapes.map((s) => s.shape), [[32, 64], [24, 24]]);
    for (const s of o.shapes) {
      assert.equal(s.status, 'measured');
      if (s.status !== 'measured') continue;
      assert.equal(s.repeats, 2);
      assert.equal(s.warmup, 'rounds');
      const [rows, cols] = s.shape;
      const k = Math.min(rows, cols);
      const n = Math.max(rows, cols);
      const by = (id: string) => s.methods.find((m) => m.id === id)!;
      for (const m of s.methods) {
        isStats(m.ms, 2);
        assert.ok(Math.abs(m.gflops - m.flops / (m.ms.median * 1e6)) < 1e-9 * m.gflops);
        assert.ok(Math.abs(m.ratioToJordan - m.ms.median / by('jordan').ms.median) < 1e-12);
        assert.ok(m.ratioOfMinsToJordan > 0);
        assert.ok(Number.isFinite(m.orthogonalityError) && m.orthogonalityError > 0, `${m.id} E_F ${m.orthogonalityError}`);
      }
      assert.equal(by('jordan').ratioToJordan, 1);
      for (const id of ['jordan', 'you', 'polarExpress5', 'root']) {
        assert.equal(by(id).steps, 5);
        assert.equal(by(id).flops, nsFlopsOf(k, n, 5));
        assert.equal(by(id).rank, null);
      }
      assert.equal(by('turbo').steps, 4);
      assert.equal(by('turbo').flops, nsFlopsOf(k, n, 4));
      assert.equal(by('root').table, 'jordan'); // ROOT's rows cover 2048-wide shapes only
      // [fanIn, fanOut] with fanOut ≥ fanIn: P spans fan-out (the longer side), Q fan-in.
      for (const [id, r] of [['dionQuarter', Math.ceil(k / 4)], ['dionHalf', Math.ceil(k / 2)]] as const) {
        assert.equal(by(id).rank, r);
        assert.equal(by(id).steps, 1);
        assert.equal(by(id).flops, dionFlopsOf(rows, cols, cols, r));
      }
    }
  });

  it('times the outputs the library gives (Jordan NS, one Dion step from the seeded Q)', () => {
    const s = result.orthogonalizers!.shapes[0] as Extract<OrthoShapeResult, { status: 'measured' }>;
    const seed = tiny.ortho!.seed;
    const input = tf.randomNormal([32, 64], 0, 1, 'float32', seed) as tf.Tensor2D;
    const ns = newtonSchulz(input) as tf.Tensor2D;
    const d = dionSetup([32, 64], 0.25);
    const dIndex = orthoMethodIds.indexOf('dionQuarter');
    const q = tf.randomNormal([d.qDim, d.rank], 0, 1, 'float32', seed + 1 + dIndex) as tf.Tensor2D;
    const dir = tf.tidy(() => dionStep(input, q, { ...dionBenchOptions, pSide: d.pSide }).direction);
    const byId = (id: string) => s.methods.find((m) => m.id === id)!;
    const eJ = orthogonalityError(ns);
    const eD = orthogonalityError(dir);
    tf.dispose([input, ns, q, dir]);
    assert.ok(Math.abs(byId('jordan').orthogonalityError - eJ) < 1e-6, `${byId('jordan').orthogonalityError} vs ${eJ}`);
    assert.ok(Math.abs(byId('dionQuarter').orthogonalityError - eD) < 1e-6, `${byId('dionQuarter').orthogonalityError} vs ${eD}`);
    // Jordan's 5 steps on a Gaussian 32×64: σ in about [0.68, 1.13] → E_F well inside (0.1, 0.5).
    assert.ok(eJ > 0.1 && eJ < 0.5, `Jordan E_F ${eJ}`);
  });

  it('measures quality on a Gaussian and an ill-conditioned input per quality shape', () => {
    const q = json.orthogonalizers!.quality;
    assert.deepEqual(
      q.map((r) => [r.input.shape, r.input.kind]),
      [[[8, 24], 'gaussian'], [[8, 24], 'illConditioned'], [[12, 12], 'gaussian'], [[12, 12], 'illConditioned']],
    );
    for (const r of q) {
      const k = Math.min(...r.input.shape);
      if (r.input.kind === 'illConditioned') {
        // σ_i = 1/i exactly, up to the float32 rounding of G.
        assert.ok(Math.abs(r.input.sigmaMax - 1) < 1e-5, `σ_max ${r.input.sigmaMax}`);
        assert.ok(Math.abs(r.input.sigmaMin * k - 1) < 1e-4, `σ_min ${r.input.sigmaMin}`);
      }
      assert.deepEqual(
        r.rows.map((row) => row.id),
        ['jordan', 'you', 'polarExpress5', 'turbo', 'rootRow2048', 'dionQuarter', 'dionHalf', 'dionQuarterIters8'],
      );
      for (const row of r.rows) {
        for (const v of [row.orthogonalityError, row.sigmaMin, row.sigmaMax, row.polarDistance]) assert.ok(Number.isFinite(v) && v >= 0);
        assert.ok(row.sigmaMin <= row.sigmaMax);
        if (!row.id.startsWith('dion')) {
          assert.equal(row.lowRank, null);
          assert.ok(row.sigmaMin > 0 && row.polarDistance < 0.6, `${row.id} on ${r.input.kind}: ${row.polarDistance}`);
          continue;
        }
        const lr = row.lowRank!;
        assert.equal(lr.rank, Math.ceil(k * (row.id === 'dionHalf' ? 0.5 : 0.25)));
        assert.equal(lr.polarDistanceFloor, Math.sqrt((k - lr.rank) / k));
        // No rank-r matrix is closer to UVᵀ than the floor; X has exactly r non-zero singular values.
        assert.ok(row.polarDistance >= lr.polarDistanceFloor - 1e-6, `${row.polarDistance} < floor ${lr.polarDistanceFloor}`);
        assert.ok(lr.sigmaMin > 1e-3 && lr.sigmaMin <= lr.sigmaMax && row.sigmaMin < 1e-3);
        assert.ok(lr.rankPolarDistance >= 0 && Number.isFinite(lr.rankPolarDistance));
      }
    }
  });

  it('checks the two claims on the measured shapes and quality inputs', () => {
    const [turbo, dion] = json.orthogonalizers!.claims;
    assert.equal(turbo.id, 'turboFaster');
    assert.equal(turbo.checks.length, 2 + 4);
    assert.equal(dion.id, 'dionQuarterCheaper');
    assert.deepEqual(dion.checks.map((c) => c.where), ['24×24 (r = 6)']);
    for (const c of [...turbo.checks, ...dion.checks]) assert.ok(Number.isFinite(c.value) && c.value > 0);
    assert.equal(dion.checks[0].holds, dion.checks[0].value >= 4);
    const w = json.orthogonalizers!.warnings;
    assert.ok(w.some((m) => m.includes("'root2048x2048' are unstable")), w.join('\n'));
  });

  it('renders the markdown report', () => {
    const text = renderReport(result);
    assert.match(text, /\| 32×64 +\| 32×64 +\| 2 +\|/);
    assert.match(text, /orthoptim muon\(\)/);
    assert.match(text, /## Every orthogonalizer on wasm/);
    assert.match(text, /\| 24×24 +\| \*\*Jordan ×5\*\* +\| 5 steps +\|/);
    assert.match(text, /\| 24×24 +\| Dion r = ¼ +\| r = 6 +\|/);
    assert.match(text, /\| 12×12 σ_i = 1\/i +\| Turbo AOL ×4 +\|/);
    assert.match(text, /\*\*dionQuarterCheaper\*\*/);
  });
});

describe('bench:ns helpers', () => {
  it('naiveNewtonSchulz handles tall inputs like newtonSchulz', async () => {
    await useBackend('wasm');
    const g = makeInput([48, 20], 9);
    const ns = resolveNewtonSchulz({});
    const a = naiveNewtonSchulz(g, ns);
    const b = newtonSchulz(g);
    assert.deepEqual(a.shape, [48, 20]);
    assert.ok(relFrobenius(a.dataSync(), b.dataSync()) < 1e-4);
    tf.dispose([g, a, b]);
  });

  it('counts flops as 5·(4k²n + 2k³) with k the smaller side', () => {
    assert.equal(standardFlops(768, 3072, 5), 40_768_634_880); // spec §13.1: 4.08e10
    assert.equal(standardFlops(3072, 768, 5), standardFlops(768, 3072, 5));
  });

  it('sizes repeats to the budget within [min, max] and takes medians', () => {
    assert.equal(repeatsFor(1000, 100, 3, 25), 10);
    assert.equal(repeatsFor(100, 100, 3, 25), 3);
    assert.equal(repeatsFor(1e9, 1, 3, 25), 25);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.equal(stats([1, 2, 3, 4, 5]).iqr, 2);
  });

  it('builds the ill-conditioned input with σ_i = 1/i (tall too)', () => {
    const sv = singularValues64(matrix64(30, 10, illConditioned64(30, 10, 4)));
    sv.forEach((s, i) => assert.ok(Math.abs(s - 1 / (i + 1)) < 1e-12, `σ_${i + 1} = ${s}`));
  });

  it('judges the claims: thresholds, the orthogonality condition, mixed verdicts', () => {
    const timing = (id: string, ms: number, err: number): OrthoTiming =>
      ({ id, label: id, steps: 5, rank: id.startsWith('dion') ? 4 : null, table: null, flops: 1e9, ms: stats([ms]), gflops: 1, ratioToJordan: 1, ratioOfMinsToJordan: 1, orthogonalityError: err }) as OrthoTiming;
    const shape = (s: readonly [number, number], turboMs: number, turboErr: number, dionMs: number): OrthoShapeResult => ({
      status: 'measured', shape: s, k: 16, n: 16, repeats: 1, warmup: 'rounds', warmupMs: 1, predictedRoundMs: null, wallMs: 1,
      methods: [timing('jordan', 100, 0.3), timing('turbo', turboMs, turboErr), timing('dionQuarter', dionMs, 0.9)],
    });
    const claims = checkClaims(
      [shape([16, 16], 80, 0.1, 20), shape([32, 32], 70, 0.5, 30), shape([16, 64], 90, 0.1, 5), { status: 'skipped', shape: [64, 64], reason: 'x', predictedRoundMs: 1 }],
      [] as QualityResult[],
    );
    const [turbo, dion] = claims;
    assert.deepEqual(turbo.checks.map((c) => c.holds), [true, false, false]); // 1.25× ok; error worse; 1.11× too slow
    assert.equal(turbo.verdict, 'partly reproduced');
    assert.deepEqual(dion.checks.map((c) => [c.where, c.holds]), [['16×16 (r = 4)', true], ['32×32 (r = 4)', false]]); // 5×, 3.3×
    assert.equal(dion.verdict, 'partly reproduced');
    assert.equal(checkClaims([], [])[0].verdict, 'not testable here');
  });

  it('parses flags through src/cli/args.ts; a bad flag is a UsageError naming it', () => {
    const run = (argv: string[], cwd?: string): BenchConfig => {
      const r = parseArgs(argv, cwd);
      if (r === 'help') throw new Error('expected a run');
      return r;
    };
    const usage = (argv: string[], pattern: RegExp) =>
      assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && e.command === command.name && pattern.test(e.message), argv.join(' '));
    const r = run(['--quick', '--shapes', '256x256,64x128', '--out=x/y.json'], '/tmp');
    assert.equal(r.quick, true);
    assert.deepEqual(r.ns.shapes, [[256, 256], [64, 128]]);
    assert.equal(r.out, '/tmp/x/y.json');
    assert.deepEqual(run([]), defaultConfig(false));
    usage(['--bogus'], /unknown flag --bogus/);
    usage(['--shape', '8x8'], /unknown flag --shape; did you mean --shapes\?/);
    usage(['--shapes', '12'], /--shapes: bad shape '12', expected ROWSxCOLS/);
    usage(['--shapes'], /--shapes needs a value/);
    usage(['--quick=yes'], /--quick is a switch/);
    usage(['--out='], /--out needs a path/);
    assert.equal(parseArgs(['--help']), 'help');
    assert.equal(parseArgs(['--bogus', '-h']), 'help');
    const o = run(['--ortho-shapes=64x64', '--quality-shapes', '16x32']);
    assert.deepEqual(o.ortho!.shapes, [[64, 64]]);
    assert.deepEqual(o.ortho!.qualityShapes, [[16, 32]]);
    assert.deepEqual(r.ortho!.shapes, [[256, 256]]);
    const full = run([]);
    assert.deepEqual(full.ortho, fullOrthoConfig);
    assert.deepEqual(full.ortho!.shapes.map((x) => x.join('x')), ['256x256', '1024x1024', '768x3072', '2048x2048']);
    assert.equal(run(['--no-ortho']).ortho, null);
    usage(['--ortho-shapes', '3x'], /--ortho-shapes: bad shape '3x'/);
    assert.match(formatUsage(command), /--quality-shapes RxC,\.\.\./);
  });
});
