import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareStats, evaluateClaims, logLogSlope, renderClaims, type ClaimRow } from '../../src/bench/claims.js';
import type { Aggregate, ComparisonSummary, NsTimingSummary, Stat } from '../../src/bench/results.js';
import type { DeepTanhSummary } from '../../src/bench/experiments/deepTanh.js';

const st = (mean: number, std = 0, n = 2): Stat => ({ mean, std, min: mean - std, max: mean + std, n });
const none: Stat = { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0 };

function aggregate(label: string, o: Partial<Aggregate>): Aggregate {
  return {
    label,
    optimizer: label,
    learningRate: 0.01,
    trainLoss: st(1),
    validationLoss: st(1),
    validationMetric: st(0.5),
    testLoss: st(1),
    testMetric: st(0.5),
    msPerStep: st(10),
    msPerStepOptimizer: st(5),
    stepsToTarget: none,
    secondsToTarget: none,
    sweep: null,
    ...o,
  };
}

function summary(task: string, aggregates: Aggregate[], metric = { name: 'accuracy', label: 'accuracy', higherIsBetter: true }): ComparisonSummary {
  return {
    task,
    model: 'a model',
    metric,
    steps: 100,
    batch: 32,
    seeds: [0, 1],
    sweep: null,
    fallback: null,
    target: { value: 0.5, rule: 'adamw', smoothing: 5 },
    aggregates,
  } as unknown as ComparisonSummary;
}

const byId = (rows: ClaimRow[], id: string): ClaimRow => rows.find((r) => r.id === id)!;

describe('claims', () => {
  it('compares with the seed spread', () => {
    assert.equal(compareStats(st(0.9, 0.01), st(0.8, 0.01), true), 'better');
    assert.equal(compareStats(st(0.9, 0.06), st(0.8, 0.06), true), 'tie');
    assert.equal(compareStats(st(0.9, 0.01), st(0.8, 0.01), false), 'worse');
    assert.equal(compareStats(st(0.9, 0.5, 1), st(0.8, 0.5, 1), true), 'better', 'one seed: any margin');
    assert.ok(Math.abs(logLogSlope([{ x: 1, y: 3 }, { x: 10, y: 30 }, { x: 100, y: 300 }]) - 1) < 1e-12);
  });

  it('says not testable without runs, and which runs it needs', () => {
    const rows = evaluateClaims({ comparisons: {} });
    assert.equal(rows.length, 6);
    for (const r of rows) {
      assert.equal(r.verdict, 'not testable here');
      assert.ok(r.why.length > 0);
    }
  });

  it('Muon faster than AdamW: reproduced when Muon reaches the target in fewer steps on every task', () => {
    const fast = summary('fashion-mnist-mlp', [
      aggregate('muon', { stepsToTarget: st(50, 5), secondsToTarget: st(20, 1) }),
      aggregate('adamw', { stepsToTarget: st(100, 5), secondsToTarget: st(5, 1) }),
    ]);
    const r = byId(evaluateClaims({ comparisons: { 'fashion-mnist-mlp': fast } }), 'muon-faster-than-adamw');
    assert.equal(r.verdict, 'reproduced');
    assert.match(r.ours, /2\.00× fewer steps/);
    assert.match(r.ours, /0\.25× in wall-clock/);
    assert.equal(r.headline, 'fashion-mnist-mlp: 2.00× fewer steps');
    const slow = summary('shakespeare-char', [aggregate('muon', { stepsToTarget: none }), aggregate('adamw', { stepsToTarget: st(100, 5) })]);
    const both = byId(evaluateClaims({ comparisons: { 'fashion-mnist-mlp': fast, 'shakespeare-char': slow } }), 'muon-faster-than-adamw');
    assert.equal(both.verdict, 'not reproduced');
    assert.match(both.why, /1 of 2 task/);
  });

  it('AdaGO beats Muon and Adam: metric direction per task, and ties are not wins', () => {
    const cifar = summary('cifar10-cnn', [
      aggregate('adaGO', { testMetric: st(0.6, 0.01) }),
      aggregate('muon', { testMetric: st(0.55, 0.01) }),
      aggregate('adam', { testMetric: st(0.5, 0.01) }),
    ]);
    const mse = { name: 'mse', label: 'MSE', higherIsBetter: false };
    const reg = summary('function-regression', [aggregate('adaGO', { testMetric: st(0.1, 0.01) }), aggregate('muon', { testMetric: st(0.2, 0.01) }), aggregate('adam', { testMetric: st(0.5, 0.01) })], mse);
    assert.equal(byId(evaluateClaims({ comparisons: { 'cifar10-cnn': cifar, 'function-regression': reg } }), 'adago-beats-muon-and-adam').verdict, 'reproduced');
    const tie = summary('function-regression', [aggregate('adaGO', { testMetric: st(0.1, 0.05) }), aggregate('muon', { testMetric: st(0.12, 0.05) }), aggregate('adam', { testMetric: st(0.5, 0.01) })], mse);
    const r = byId(evaluateClaims({ comparisons: { 'cifar10-cnn': cifar, 'function-regression': tie } }), 'adago-beats-muon-and-adam');
    assert.equal(r.verdict, 'not reproduced');
    assert.match(r.why, /ahead in 3 of 4 comparisons/);
  });

  it('ignores comparisons that ran a substitute task', () => {
    const fell = { ...summary('function-regression', [aggregate('muon', { stepsToTarget: st(5) }), aggregate('adamw', { stepsToTarget: st(50) })]), fallback: 'no data' };
    const r = byId(evaluateClaims({ comparisons: { 'shakespeare-char': fell } }), 'muon-faster-than-adamw');
    assert.equal(r.verdict, 'not testable here');
  });

  it('Turbo and AuON from the NS timing', () => {
    const row = (method: string, n: number, ms: number, error: number | null) => ({ method, rows: n, cols: n, ms, error });
    const ns = {
      format: 'orthoptim-ns/1',
      backend: 'wasm',
      engine: 'tfjs',
      rows: [
        row('jordan×5', 128, 20, 0.3), row('turbo×4', 128, 15, 0.2), row('auon', 128, 1, null),
        row('jordan×5', 256, 80, 0.3), row('turbo×4', 256, 60, 0.2), row('auon', 256, 4, null),
        row('jordan×5', 512, 500, 0.3), row('turbo×4', 512, 400, 0.25), row('auon', 512, 16, null),
      ],
    } as unknown as NsTimingSummary;
    const rows = evaluateClaims({ comparisons: {}, ns });
    assert.equal(byId(rows, 'turbo-one-fewer-iteration').verdict, 'reproduced');
    const auon = byId(rows, 'auon-linear-time');
    assert.equal(auon.verdict, 'reproduced');
    assert.match(auon.ours, /AuON 1\.00/);
    const slowAuon = { ...ns, rows: ns.rows.map((r) => (r.method === 'auon' ? { ...r, ms: r.ms * (r.rows / 128) ** 2 } : r)) };
    assert.equal(byId(evaluateClaims({ comparisons: {}, ns: slowAuon }), 'auon-linear-time').verdict, 'not reproduced');
  });

  it('deep-tanh: flat orthogonal slope and smaller fluctuations → reproduced', () => {
    const d = {
      settings: { widths: [64], depths: [8, 64], draws: 32, inputs: 4 },
      slopes: [
        { init: 'gaussian', width: 64, slope: 0.5 },
        { init: 'orthogonal', width: 64, slope: -0.003 },
      ],
      findings: [{ width: 64, depth: 64, ratio: 1000 }],
      trainingSummary: [],
    } as unknown as DeepTanhSummary;
    assert.equal(byId(evaluateClaims({ comparisons: {}, deepTanh: d }), 'orthogonal-init-flat-fluctuations').verdict, 'reproduced');
    const steep = { ...d, slopes: [d.slopes[0], { ...d.slopes[1], slope: 0.3 }] } as DeepTanhSummary;
    assert.equal(byId(evaluateClaims({ comparisons: {}, deepTanh: steep }), 'orthogonal-init-flat-fluctuations').verdict, 'not reproduced');
  });

  it('renders CLAIMS.md with the table, the steps-to-target table and each claim', () => {
    const s = summary('fashion-mnist-mlp', [aggregate('muon', { stepsToTarget: st(50, 5) }), aggregate('adamw', { stepsToTarget: st(100, 5) })]);
    const rows = evaluateClaims({ comparisons: { 'fashion-mnist-mlp': s } });
    const text = renderClaims(rows, { command: 'npm run bench:claims', machine: 'a CPU', backend: 'wasm', date: '2026-11-28', comparisons: [s] });
    assert.match(text, /^# Claims of the seed papers/);
    assert.match(text, /\| claim +\| paper +\| ours +\| verdict +\|/);
    assert.match(text, /\| Muon trains faster than AdamW +\| 1\.35× \(speedrun\), ~2× \(Moonlight\) +\| fashion-mnist-mlp: 2\.00× fewer steps +\| \*\*reproduced\*\* +\|/);
    assert.match(text, /\| fashion-mnist-mlp \| muon +\| +0\.5000 \| +50 ± 5 \|/);
    for (const r of rows) assert.ok(text.includes(`### ${r.claim}`));
  });
});
