/**
 * Smoke test of `bench/ns.ts` (`npm run bench:ns`): runs both sections on a tiny shape with two repeats,
 * checks the JSON it writes and that the Newton–Schulz output it timed is `newtonSchulz`'s. Speed is
 * measured by the benchmark itself and never asserted here.
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
  defaultConfig,
  makeInput,
  naiveNewtonSchulz,
  nsFlops,
  parseArgs,
  relFrobenius,
  renderReport,
  runBenchmark,
  type BenchConfig,
  type BenchResult,
} from '../../bench/ns.js';
import { median, repeatsFor, stats } from '../../bench/timing.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';

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
  step: { layers: [16, 32, 8], warmup: 1, steps: 2, seed: 5 },
};

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

  it('renders the markdown report', () => {
    const text = renderReport(result);
    assert.match(text, /\| 32×64 \| 32×64 \| 2 \|/);
    assert.match(text, /orthoptim muon\(\)/);
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
    assert.equal(nsFlops([768, 3072], 5), 40_768_634_880); // spec §13.1: 4.08e10
    assert.equal(nsFlops([3072, 768], 5), nsFlops([768, 3072], 5));
  });

  it('sizes repeats to the budget within [min, max] and takes medians', () => {
    assert.equal(repeatsFor(1000, 100, 3, 25), 10);
    assert.equal(repeatsFor(100, 100, 3, 25), 3);
    assert.equal(repeatsFor(1e9, 1, 3, 25), 25);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.equal(stats([1, 2, 3, 4, 5]).iqr, 2);
  });

  it('parses flags; unknown flags are errors', () => {
    const r = parseArgs(['--quick', '--shapes', '256x256,64x128', '--out=x/y.json'], '/tmp');
    assert.equal(r.kind, 'run');
    if (r.kind !== 'run') return;
    assert.equal(r.config.quick, true);
    assert.deepEqual(r.config.ns.shapes, [[256, 256], [64, 128]]);
    assert.equal(r.config.out, '/tmp/x/y.json');
    assert.deepEqual(parseArgs([]).kind === 'run' && parseArgs([]), { kind: 'run', config: defaultConfig(false) });
    assert.equal(parseArgs(['--bogus']).kind, 'error');
    assert.equal(parseArgs(['--shapes', '12']).kind, 'error');
    assert.equal(parseArgs(['--shapes']).kind, 'error');
    assert.equal(parseArgs(['--help']).kind, 'help');
  });
});
