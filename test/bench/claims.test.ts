import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  claimParts,
  compareStats,
  dominates,
  evaluateClaims,
  frontAt,
  levelWith,
  logLogSlope,
  mergeClaims,
  renderClaims,
  studyKey,
  type ClaimRow,
} from '../../src/bench/claims.js';
import type { Aggregate, ComparisonSummary, NsTimingSummary, Stat } from '../../src/bench/results.js';
import type { DeepTanhSummary } from '../../src/bench/experiments/deepTanh.js';
import type { ProjectionRow, ProjectionSummary } from '../../src/bench/experiments/projection.js';
import type { AdapterTable, StateBytesSummary } from '../../src/bench/claims.js';
import type { IwrmRun, IwrmSummary } from '../../src/bench/experiments/iwrm.js';
import type { BloopParetoRun, BloopParetoSummary } from '../../src/bench/experiments/bloopPareto.js';

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
    assert.equal(rows.length, 16);
    assert.deepEqual(rows.map((r) => r.id), Object.keys(claimParts), 'every claim declares the parts it reads');
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

  it('level-with: behind only beyond the seed spread and 1 % of the baseline', () => {
    // Spread 0.004 + 0.004 = 0.008 < 1 % of 0.9 = 0.009: the 1 % decides.
    assert.equal(levelWith(st(0.8915, 0.004), st(0.9, 0.004), true), 'tie', '0.0085 behind');
    assert.equal(levelWith(st(0.8905, 0.004), st(0.9, 0.004), true), 'worse', '0.0095 behind');
    // Spread 0.02 > 1 %: the spread decides.
    assert.equal(levelWith(st(0.885, 0.01), st(0.9, 0.01), true), 'tie');
    assert.equal(levelWith(st(0.925, 0.01), st(0.9, 0.01), true), 'better');
    // Lower is better (a loss): 2.05 vs 2.00 is 2.5 % behind.
    assert.equal(levelWith(st(2.05, 0.001), st(2, 0.001), false), 'worse');
    assert.equal(levelWith(st(2.01, 0.001), st(2, 0.001), false), 'tie');
    assert.equal(levelWith(none, st(2), false), 'worse', 'no runs is not level');
  });

  it('DoG close to tuned SGD, L-DoG approaching tuned Adam: read from the dog study, one check per task', () => {
    const mnist = summary('fashion-mnist-mlp', [
      aggregate('dog', { learningRate: null, testMetric: st(0.85, 0.003) }),
      aggregate('dog-avg', { learningRate: null, testMetric: st(0.86, 0.003) }),
      aggregate('ldog', { learningRate: null, testMetric: st(0.87, 0.002) }),
      aggregate('sgd', { learningRate: 0.15, testMetric: st(0.856, 0.002), sweep: [] }),
      aggregate('adam', { learningRate: 1e-3, testMetric: st(0.875, 0.002), sweep: [] }),
    ]);
    const cifar = summary('cifar10-cnn', [
      aggregate('dog', { learningRate: null, testMetric: st(0.4, 0.01) }),
      aggregate('ldog', { learningRate: null, testMetric: st(0.52, 0.01) }),
      aggregate('sgd', { testMetric: st(0.5, 0.01) }),
      aggregate('adam', { testMetric: st(0.53, 0.01) }),
    ]);
    // The main comparison of a task is not the study: alone it leaves the claims untestable.
    assert.equal(byId(evaluateClaims({ comparisons: { 'fashion-mnist-mlp': mnist } }), 'dog-close-to-tuned-sgd').verdict, 'not testable here');
    const rows = evaluateClaims({ comparisons: { [studyKey('dog', 'fashion-mnist-mlp')]: mnist, [studyKey('dog', 'cifar10-cnn')]: cifar } });
    const dog = byId(rows, 'dog-close-to-tuned-sgd');
    // fashion: 0.85 vs 0.856, 0.006 behind < max(0.005, 0.00856): level; cifar: 0.10 behind.
    assert.equal(dog.verdict, 'partly reproduced');
    assert.equal(dog.headline, 'fashion-mnist-mlp: 85.0 % vs 85.6 %; cifar10-cnn: 40.0 % vs 50.0 %');
    assert.match(dog.why, /level with SGD .* on fashion-mnist-mlp; it falls behind .* on cifar10-cnn$/);
    assert.match(dog.ours, /^fashion-mnist-mlp \(test accuracy\): dog 85\.00 ± 0\.30 % \(default lr; val loss 1\.0000 ± 0\.0000\), sgd 85\.60 ± 0\.20 % \(swept lr 0\.15;/);
    assert.match(dog.ours, /dog-avg 86\.00 ± 0\.30 %/, 'the averaged variant is shown beside');
    const ldog = byId(rows, 'ldog-approaches-tuned-adam');
    assert.equal(ldog.verdict, 'reproduced', 'fashion 0.5 points behind (level), cifar 1 point behind within the spread 0.02');
    const worse = summary('cifar10-cnn', [aggregate('ldog', { testMetric: st(0.3, 0.01) }), aggregate('adam', { testMetric: st(0.53, 0.01) })]);
    const both = evaluateClaims({ comparisons: { [studyKey('dog', 'fashion-mnist-mlp')]: { ...mnist, aggregates: mnist.aggregates.map((a) => (a.label === 'ldog' ? { ...a, testMetric: st(0.7) } : a)) }, [studyKey('dog', 'cifar10-cnn')]: worse } });
    assert.equal(byId(both, 'ldog-approaches-tuned-adam').verdict, 'not reproduced');
  });

  it('schedule-free needs no schedule: scheduleFreeAdamw vs adamw-cosine on each task, lower metric better for bpc', () => {
    const bpc = { name: 'bpc', label: 'bits per character', higherIsBetter: false };
    const lm = summary('shakespeare-char-small', [
      aggregate('scheduleFreeAdamw', { testMetric: st(3.02, 0.01) }),
      aggregate('adamw-cosine', { testMetric: st(3.1, 0.01) }),
      aggregate('adamw', { testMetric: st(3.2, 0.01) }),
    ], bpc);
    const r = byId(evaluateClaims({ comparisons: { [studyKey('schedule-free', 'shakespeare-char-small')]: lm } }), 'schedule-free-no-schedule');
    assert.equal(r.verdict, 'reproduced');
    assert.equal(r.headline, 'shakespeare-char-small: 3.02 vs 3.10');
    assert.match(r.why, /; not run: fashion-mnist-mlp$/);
    assert.match(r.ours, /adamw 3\.2000 ± 0\.0100 \(lr 0\.01; val loss 1\.0000 ± 0\.0000\)$/);
    const behind = { ...lm, aggregates: lm.aggregates.map((a) => (a.label === 'scheduleFreeAdamw' ? { ...a, testMetric: st(3.2, 0.01) } : a)) };
    assert.equal(byId(evaluateClaims({ comparisons: { [studyKey('schedule-free', 'shakespeare-char-small')]: behind } }), 'schedule-free-no-schedule').verdict, 'not reproduced');
  });

  it('ALR-SMAG β-sensitivity: the spread over β of the per-β mean validation loss, against heavy-ball SGD', () => {
    const at = (label: string, v: number | null) => aggregate(label, { validationLoss: v === null ? none : st(v, 0.01) });
    const s = summary('fashion-mnist-mlp', [
      at('alrSmag-b0', 0.5), at('alrSmag-b0.5', 0.52), at('alrSmag-b0.9', 0.51),
      at('sgd-b0', 0.6), at('sgd-b0.5', 0.5), at('sgd-b0.9', 0.45),
    ]);
    const key = studyKey('alr-smag', 'fashion-mnist-mlp');
    const r = byId(evaluateClaims({ comparisons: { [key]: s } }), 'alr-smag-momentum-insensitive');
    assert.equal(r.verdict, 'reproduced');
    assert.equal(r.headline, 'fashion-mnist-mlp: spread 0.0200 vs 0.1500');
    const flatSgd = { ...s, aggregates: [...s.aggregates.slice(0, 3), at('sgd-b0', 0.5), at('sgd-b0.5', 0.505), at('sgd-b0.9', 0.51)] };
    assert.equal(byId(evaluateClaims({ comparisons: { [key]: flatSgd } }), 'alr-smag-momentum-insensitive').verdict, 'not reproduced');
    // A β at which SGD diverged makes its spread unbounded.
    const diverged = { ...flatSgd, aggregates: [...flatSgd.aggregates.slice(0, 5), at('sgd-b0.99', null)] };
    const d = byId(evaluateClaims({ comparisons: { [key]: diverged } }), 'alr-smag-momentum-insensitive');
    assert.equal(d.verdict, 'reproduced');
    assert.match(d.headline, /vs ∞ \(1 β diverged\)$/);
  });

  it('DCT projection: within 10 % of the range finder on every matrix and rank, and faster than the SVD', () => {
    const at = (rank: number, dct: number, rf: number, o: Partial<ProjectionRow> = {}): ProjectionRow => ({
      step: 0, param: 'hidden1/kernel', rows: 784, cols: 512, rank, dctError: dct, rangeFinderError: rf, svdError: rf * 0.98,
      dctMs: 10, rangeFinderMs: 40, svdMs: 30000, ...o,
    });
    const p = (rows: ProjectionRow[]): ProjectionSummary => ({ format: 'orthoptim-projection/1', task: 'fashion-mnist-mlp', model: 'mlp', backend: 'wasm', setting: 'gradients', rows });
    const id = 'dct-matches-svd-projection';
    const good = byId(evaluateClaims({ comparisons: {}, projection: p([at(64, 0.105, 0.1), at(128, 0.05, 0.05)]) }), id);
    assert.equal(good.verdict, 'reproduced');
    assert.equal(good.headline, "n/8: error 1.05× the range finder's, 4.0× its speed; n/4: error 1.00× the range finder's, 4.0× its speed");
    assert.match(good.ours, /^rank n\/8 \(1 matrices\), mean relative error ‖G − GPPᵀ‖\/‖G‖: DCT 0\.1050, range finder 0\.1000, float64 SVD 0\.0980 \(optimum\); mean time DCT 10\.0 ms, range finder 40\.0 ms, SVD 30000 ms/);
    assert.match(good.why, /within 10 % on 2 of 2, faster than the float64 SVD on 2 of 2$/);
    // 0.111 > 1.1 × 0.1 on one matrix: not reproduced.
    const far = byId(evaluateClaims({ comparisons: {}, projection: p([at(64, 0.111, 0.1), at(128, 0.05, 0.05)]) }), id);
    assert.equal(far.verdict, 'not reproduced');
    assert.match(far.why, /within 10 % on 1 of 2/);
    // As accurate but slower than the SVD: not reproduced either.
    const slow = byId(evaluateClaims({ comparisons: {}, projection: p([at(64, 0.1, 0.1, { dctMs: 40000 })]) }), id);
    assert.equal(slow.verdict, 'not reproduced');
    assert.match(slow.why, /faster than the float64 SVD on 0 of 1$/);
    const missing = byId(evaluateClaims({ comparisons: {}, projection: null }), id);
    assert.equal(missing.verdict, 'not testable here');
    assert.match(missing.why, /needs the projection measurement/);
  });

  it('PSGD outperforms Adam: psgdKron (untuned) vs swept adam on the psgd study, test metric per task', () => {
    const id = 'psgd-beats-adam-defaults';
    const mlp = summary('fashion-mnist-mlp', [aggregate('psgdKron', { testMetric: st(0.85, 0.005) }), aggregate('adam', { testMetric: st(0.83, 0.005) })]);
    const cnn = summary('cifar10-cnn', [aggregate('psgdKron', { testMetric: st(0.5, 0.005) }), aggregate('adam', { testMetric: st(0.55, 0.005) })]);
    const one = byId(evaluateClaims({ comparisons: { [studyKey('psgd', 'fashion-mnist-mlp')]: mlp } }), id);
    assert.equal(one.verdict, 'reproduced');
    assert.equal(one.headline, 'psgd-fashion-mnist-mlp: 85.0 % vs 83.0 %');
    assert.match(one.why, /; not run: psgd-cifar10-cnn$/);
    const both = byId(evaluateClaims({ comparisons: { [studyKey('psgd', 'fashion-mnist-mlp')]: mlp, [studyKey('psgd', 'cifar10-cnn')]: cnn } }), id);
    assert.equal(both.verdict, 'not reproduced');
    assert.match(both.why, /ahead in 1 of 2 comparisons beyond the seed spread, behind in 1/);
    // The main comparisons of the tasks are not the study: not testable.
    const main = byId(evaluateClaims({ comparisons: { 'fashion-mnist-mlp': mlp } }), id);
    assert.equal(main.verdict, 'not testable here');
  });

  it('OSD vs GaLore: validation loss beyond the seed spread, at state bytes within 10 % of GaLore’s, gap to AdamW closed', () => {
    const id = 'osd-narrows-gap-same-memory';
    const key = studyKey('subspace', 'shakespeare-char-small');
    const s = summary('shakespeare-char-small', [
      aggregate('galore', { validationLoss: st(2.4, 0.01) }),
      aggregate('onlineSubspaceDescent', { validationLoss: st(2.3, 0.01) }),
      aggregate('adamw', { validationLoss: st(2.2, 0.01) }),
    ]);
    const mem = (osd: number): StateBytesSummary => ({
      format: 'orthoptim-state-bytes/1',
      task: 'shakespeare-char-small',
      rows: [
        { label: 'galore', options: { rankFraction: 0.25 }, stateBytes: 10240, hiddenStateBytes: 5120 },
        { label: 'onlineSubspaceDescent', options: { rankFraction: 0.25 }, stateBytes: osd, hiddenStateBytes: osd / 2 },
        { label: 'adamw', options: {}, stateBytes: 40960, hiddenStateBytes: 20480 },
      ],
    });
    const r = byId(evaluateClaims({ comparisons: { [key]: s }, subspaceMemory: mem(10752) }), id);
    assert.equal(r.verdict, 'reproduced');
    assert.match(r.ours, /OSD closes 50 % of GaLore's gap to AdamW/);
    assert.match(r.ours, /optimizer state: onlineSubspaceDescent 10\.5 KiB \(hidden matrices 5\.3 KiB\), galore 10\.0 KiB \(5\.0 KiB\), adamw 40\.0 KiB \(20\.0 KiB\) — OSD ÷ GaLore 1\.050/);
    assert.equal(r.headline, 'shakespeare-char-small: 2.300 vs 2.400 (adamw 2.200); state OSD ÷ GaLore 1.05');
    // More than 10 % more state: not at the same memory.
    const big = byId(evaluateClaims({ comparisons: { [key]: s }, subspaceMemory: mem(12288) }), id);
    assert.equal(big.verdict, 'not reproduced');
    assert.match(big.why, /more than 10 % above GaLore's/);
    // Level within the spread: not reproduced; without the memory part, said so.
    const tie = { ...s, aggregates: s.aggregates.map((a) => (a.label === 'onlineSubspaceDescent' ? { ...a, validationLoss: st(2.39, 0.01) } : a)) };
    const t = byId(evaluateClaims({ comparisons: { [key]: tie } }), id);
    assert.equal(t.verdict, 'not reproduced');
    assert.match(t.why, /on 0 of 1 task\(s\); state bytes not measured/);
    // AdamW level with GaLore within the spread: no gap, no percentage closed.
    const level = { ...s, aggregates: s.aggregates.map((a) => (a.label === 'adamw' ? { ...a, validationLoss: st(2.39, 0.02) } : a)) };
    const l = byId(evaluateClaims({ comparisons: { [key]: level }, subspaceMemory: mem(10752) }), id);
    assert.doesNotMatch(l.ours, /closes/);
    assert.match(l.ours, /AdamW is not ahead of GaLore beyond the seed spread here \(no gap to narrow\)/);
    assert.equal(l.verdict, 'reproduced', 'OSD still beats GaLore beyond the spread at the same memory');
    assert.equal(byId(evaluateClaims({ comparisons: {} }), id).verdict, 'not testable here');
  });

  it('IWRM: UPGrad vs the mean loss, each at its best rate by final training loss; test accuracy can make it partial', () => {
    const id = 'upgrad-iwrm-beats-mean';
    // Final training loss per seed (two seeds) by method and lr; test accuracy and ms/step per method.
    const run = (method: 'upgrad' | 'mean', lr: number, seed: number, loss: number, acc: number): IwrmRun => ({
      method,
      lr,
      seed,
      trainLoss: [2.3, 1, loss],
      testAccuracy: [0.1, 0.5, acc],
      msPerStep: method === 'upgrad' ? 50 : 2.5,
    });
    const make = (u: [number, number], uAcc: number, mAcc = 0.78): IwrmSummary => ({
      format: 'orthoptim-iwrm/1',
      setting: 'a setting',
      backend: 'wasm',
      examples: 1024,
      testExamples: 2000,
      batch: 16,
      epochs: 2,
      steps: 128,
      lrs: [0.1, 0.3],
      seeds: [0, 1],
      runs: [
        run('upgrad', 0.1, 0, u[0], uAcc),
        run('upgrad', 0.1, 1, u[1], uAcc),
        run('upgrad', 0.3, 0, 0.9, 0.7),
        run('upgrad', 0.3, 1, 0.92, 0.7),
        run('mean', 0.1, 0, 0.8, 0.7),
        run('mean', 0.1, 1, 0.82, 0.7),
        run('mean', 0.3, 0, 0.7, mAcc),
        run('mean', 0.3, 1, 0.72, mAcc),
      ],
    });
    const r = byId(evaluateClaims({ comparisons: {}, iwrm: make([0.5, 0.52], 0.8) }), id);
    assert.equal(r.verdict, 'reproduced');
    assert.equal(r.headline, 'train loss 0.510 vs 0.710; test 80.0 % vs 78.0 %');
    assert.match(r.ours, /^final training loss: upgrad 0\.5100 ± 0\.0141 \(lr 0\.1\), mean loss 0\.7100 ± 0\.0141 \(lr 0\.3\); /);
    // Paired by seed; the epochs' mean is (1 + final) / 2 here: upgrad 0.75, 0.76 vs mean 0.85, 0.86.
    assert.match(r.ours, /; by seed 0\.5000 vs 0\.7000, 0\.5200 vs 0\.7200 \(UPGrad lower on 2 of 2; mean of the epochs' training losses lower on 2 of 2\); /);
    assert.match(r.ours, /per step 50\.0 ± 0\.0 ms vs 2\.5 ± 0\.0 ms \(20× the cost/);
    assert.match(r.ours, /training loss by lr — upgrad lr 0\.1 0\.5100, lr 0\.3 0\.9100; mean loss lr 0\.1 0\.8100, lr 0\.3 0\.7100$/);
    assert.match(r.why, /lower beyond the seed spread; its test accuracy is higher beyond the spread; each step costs 20×/);
    // Lower training loss, lower test accuracy: partly.
    const partial = byId(evaluateClaims({ comparisons: {}, iwrm: make([0.5, 0.52], 0.7) }), id);
    assert.equal(partial.verdict, 'partly reproduced');
    assert.match(partial.why, /its test accuracy is lower beyond the spread/);
    // Training loss within the seed spread of the mean loss's: not reproduced, whatever the test accuracy.
    const level = byId(evaluateClaims({ comparisons: {}, iwrm: make([0.69, 0.73], 0.9) }), id);
    assert.equal(level.verdict, 'not reproduced');
    assert.match(level.why, /final training loss is level with the average-loss run's \(within the seed spread\)/);
    const missing = byId(evaluateClaims({ comparisons: {}, iwrm: null }), id);
    assert.equal(missing.verdict, 'not testable here');
    assert.match(missing.why, /needs the IWRM runs/);
  });

  it('Pareto dominance: no worse in both means, better in one beyond the seed spread (any margin with one seed)', () => {
    const pt = (main: number, aux: number, std = 0.001, n = 2) => ({ main: st(main, std, n), aux: st(aux, std, n) });
    assert.equal(dominates(pt(0.3, 3), pt(0.4, 3)), true);
    assert.equal(dominates(pt(0.4, 3), pt(0.3, 3)), false);
    assert.equal(dominates(pt(0.3, 3), pt(0.3, 3)), false, 'equal points do not dominate');
    assert.equal(dominates(pt(0.3, 2.9), pt(0.31, 3)), true, 'better in both');
    assert.equal(dominates(pt(0.3, 3.1), pt(0.4, 3)), false, 'worse in aux');
    assert.equal(dominates(pt(0.3, 3, 0.1), pt(0.35, 3, 0.1)), false, 'within the spread');
    assert.equal(dominates(pt(0.3, 3, 0.1, 1), pt(0.3001, 3, 0.1, 1)), true, 'one seed: any margin');
  });

  it('Pareto front: non-dominated points joined by lines, no extrapolation', () => {
    const front = [
      { main: 0.3, aux: 4 },
      { main: 0.35, aux: 3 },
      { main: 0.5, aux: 3.5 }, // dominated by (0.35, 3): left out
    ];
    assert.ok(Math.abs(frontAt(front, 3.5) - 0.325) < 1e-12, `${frontAt(front, 3.5)}`);
    assert.equal(frontAt(front, 4), 0.3);
    assert.equal(frontAt(front, 3), 0.35);
    assert.ok(Number.isNaN(frontAt(front, 2.9)), 'below the range');
    assert.ok(Number.isNaN(frontAt(front, 4.1)), 'above the range');
    assert.ok(Number.isNaN(frontAt([], 1)));
  });

  it('Bloop vs surgery without an EMA: per method, Bloop\'s front below some of its points and its front below none of Bloop\'s', () => {
    const id = 'bloop-beats-surgery-without-ema';
    const runs: BloopParetoRun[] = [];
    const add = (method: string, lambda: number, main: number, aux: number): void => {
      for (const [seed, d] of [[0, -0.001], [1, 0.001]] as const) {
        runs.push({ method, lambda, seed, trainLoss: main + d, testLoss: main + 0.05 + d, testAccuracy: 0.9, auxLoss: aux + d, msPerStep: 30 });
      }
    };
    add('bloop', 0.1, 0.3, 4);
    add('bloop', 1, 0.35, 3);
    add('bloop-no-ema', 0.1, 0.3, 4);
    add('bloop-no-ema', 1, 0.4, 3);
    add('pcgrad-no-ema', 0.1, 0.29, 4);
    add('pcgrad-no-ema', 1, 0.4, 3);
    add('mixed', 0.1, 0.3, 4.1);
    add('mixed', 1, 0.5, 3);
    const summaryOf = (rs: BloopParetoRun[], lambdas = [0.1, 1]): BloopParetoSummary => ({
      format: 'orthoptim-bloop-pareto/1',
      setting: 'a setting',
      backend: 'wasm',
      dataset: 'MNIST',
      steps: 100,
      batch: 256,
      lambdas,
      seeds: [0, 1],
      methods: { bloop: { ema: 0.01 }, 'bloop-no-ema': { ema: 1 }, 'pcgrad-no-ema': { ema: 1, variant: 'pcgrad' }, mixed: { ema: 1, variant: 'mixed' } },
      runs: rs,
    });
    const r = byId(evaluateClaims({ comparisons: {}, bloopPareto: summaryOf(runs) }), id);
    // bloop-no-ema: Bloop's front is below its λ = 1 point, level at λ = 0.1, and its front is above Bloop's. pcgrad's λ = 0.1 point is below Bloop's.
    assert.equal(r.verdict, 'partly reproduced');
    assert.equal(r.headline, "points below the other's front: Bloop 1/2 vs bloop-no-ema 0/2; Bloop 1/2 vs pcgrad-no-ema 1/2");
    assert.match(r.ours, /vs bloop-no-ema: Bloop's front is below 1, above 0, level with 1 of its 2 points \(0 outside Bloop's aux range\); its front is below 0 of Bloop's 2 points; point dominance: Bloop dominates 1, is dominated at 0/);
    assert.match(
      r.ours,
      /\| λ 1: bloop 0\.3500\/3\.000 \(test 90\.0 %\), bloop-no-ema 0\.4000\/3\.000 \(test 90\.0 %\), pcgrad-no-ema 0\.4000\/3\.000 \(test 90\.0 %\), mixed 0\.5000\/3\.000 \(test 90\.0 %\)$/,
    );
    assert.match(r.why, /Bloop's front lies below bloop-no-ema's somewhere and nowhere above it; pcgrad-no-ema's front lies below 1 of Bloop's points$/);
    assert.match(r.ours, /; Bloop's EMA \(ρ = 0\.01\) averages over about 100 steps of the 100 run \| /);
    // Another Bloop setting is shown against the same methods, and does not change the verdict.
    const withVariant = summaryOf([...runs, ...runs.filter((x) => x.method === 'bloop-no-ema').map((x) => ({ ...x, method: 'bloop-ema-0.1' }))]);
    withVariant.methods['bloop-ema-0.1'] = { ema: 0.1 };
    const v = byId(evaluateClaims({ comparisons: {}, bloopPareto: withVariant }), id);
    assert.equal(v.verdict, r.verdict);
    assert.match(v.ours, /shown, not judged — bloop-ema-0\.1 \(ρ = 0\.1\): vs bloop-no-ema its front is below 0 of 2 points, theirs below 0 of its 2, vs pcgrad-no-ema its front is below 0 of 2 points, theirs below 1 of its 2/);
    assert.equal(byId(evaluateClaims({ comparisons: {}, bloopPareto: summaryOf(runs.filter((x) => x.method !== 'pcgrad-no-ema')) }), id).verdict, 'reproduced');
    // A point between two of Bloop's λ is judged against the line between them (0.325 at aux 3.5), one beyond them not at all.
    const between = [...runs.filter((x) => x.method === 'bloop')];
    for (const seed of [0, 1]) {
      between.push({ method: 'bloop-no-ema', lambda: 0.3, seed, trainLoss: 0.33 + (seed - 0.5) * 0.002, testLoss: 0.4, testAccuracy: 0.9, auxLoss: 3.5, msPerStep: 30 });
      between.push({ method: 'bloop-no-ema', lambda: 3, seed, trainLoss: 0.6, testLoss: 0.7, testAccuracy: 0.9, auxLoss: 2.5, msPerStep: 30 });
    }
    const b = byId(evaluateClaims({ comparisons: {}, bloopPareto: summaryOf(between, [0.1, 0.3, 1, 3]) }), id);
    assert.match(b.ours, /Bloop's front is below 1, above 0, level with 0 of its 2 points \(1 outside Bloop's aux range\)/);
    assert.equal(b.verdict, 'reproduced');
    // Identical fronts: neither is below the other, not reproduced.
    const same = runs.filter((x) => x.method === 'bloop').flatMap((x) => [x, { ...x, method: 'bloop-no-ema' }]);
    const tie = byId(evaluateClaims({ comparisons: {}, bloopPareto: summaryOf(same) }), id);
    assert.equal(tie.verdict, 'not reproduced');
    assert.equal(tie.headline, "points below the other's front: Bloop 0/2 vs bloop-no-ema 0/2");
    assert.match(tie.why, /Bloop's front is nowhere below bloop-no-ema's points beyond the seed spread \(2 level, 0 outside its aux range\)$/);
    const noBloop = byId(evaluateClaims({ comparisons: {}, bloopPareto: summaryOf(runs.filter((x) => x.method !== 'bloop')) }), id);
    assert.equal(noBloop.verdict, 'not testable here');
  });

  it('orthogonal adapters vs full fine-tuning: level within the seed spread and 1 % with fewer parameters, per adapter', () => {
    const id = 'orthogonal-adapters-match-full-finetuning';
    const m = (method: string, label: string, trainable: number, testAccuracy: number) => ({ method, label, trainable, testAccuracy, lr: 0.01 });
    const table = (hra: [number, number], oft: [number, number]): AdapterTable => ({
      backend: 'wasm',
      config: { pretrainEpochs: 2, finetuneEpochs: 3, finetuneExamples: 2000, lrs: [0.001, 0.01] },
      runs: [0, 1].map((seed) => ({
        seed,
        data: 'source MNIST → target Fashion-MNIST',
        methods: [
          m('head', 'head only (frozen body)', 1290, 0.8),
          m('full', 'full fine-tuning', 234_501, [0.92, 0.91][seed]),
          m('lora', 'LoRA-style r = 8', 12_037, 0.9),
          m('hra', 'HRA r = 8', 8965, hra[seed]),
          m('oftv2', 'OFTv2 b = 16', 8445, oft[seed]),
        ],
      })),
    });
    const r = byId(evaluateClaims({ comparisons: {}, adapters: table([0.905, 0.895], [0.915, 0.913]) }), id);
    // Full 91.5 ± 0.71; HRA 90.0 ± 0.71 is 1.5 points behind (> spread 1.41 and > 1 % = 0.915): behind; OFTv2 0.1 behind: level.
    assert.equal(r.verdict, 'partly reproduced');
    assert.equal(r.headline, 'HRA 90.0 % at 3.8 %, OFTv2 91.4 % at 3.6 % vs full 91.5 %');
    assert.match(
      r.why,
      /^level with full fine-tuning \(within the seed spread and 1 %\): OFTv2 b = 16 \(0\.1 points below at 3\.6 % of the parameters\); behind full fine-tuning by more than the seed spread and 1 %: HRA r = 8 \(1\.5 points below at 3\.8 %/,
    );
    assert.match(
      r.ours,
      /full fine-tuning 91\.50 ± 0\.71 % \(234501, 100\.0 %\), HRA r = 8 90\.00 ± 0\.71 % \(8965, 3\.8 %\), OFTv2 b = 16 91\.40 ± 0\.14 % \(8445, 3\.6 %\), LoRA-style r = 8 90\.00 ± 0\.00 % \(12037, 5\.1 %\), head only/,
    );
    assert.equal(byId(evaluateClaims({ comparisons: {}, adapters: table([0.91, 0.92], [0.915, 0.913]) }), id).verdict, 'reproduced');
    assert.equal(byId(evaluateClaims({ comparisons: {}, adapters: table([0.8, 0.81], [0.8, 0.81]) }), id).verdict, 'not reproduced');
    const full = table([0.9, 0.9], [0.9, 0.9]);
    const noFull: AdapterTable = { ...full, runs: full.runs.map((x) => ({ ...x, methods: x.methods.filter((y) => y.method !== 'full') })) };
    assert.equal(byId(evaluateClaims({ comparisons: {}, adapters: noFull }), id).verdict, 'not testable here');
  });

  it('merges rows into a CLAIMS.md: other rows and sections kept byte for byte, a claim already there replaced in place', () => {
    const s = summary('fashion-mnist-mlp', [aggregate('muon', { stepsToTarget: st(50, 5) }), aggregate('adamw', { stepsToTarget: st(100, 5) })]);
    const all = evaluateClaims({ comparisons: { 'fashion-mnist-mlp': s } });
    const before = renderClaims(all.slice(0, 6), { command: 'npm run bench:claims', machine: 'a CPU', backend: 'wasm', date: '2026-11-28', comparisons: [s] });
    const run = { command: 'npm run bench:claims -- --claim x', machine: 'another CPU', backend: 'wasm', date: '2026-12-04' };
    assert.equal(mergeClaims(before, [], run), before, 'merging nothing changes nothing');
    const sf = summary('fashion-mnist-mlp', [aggregate('scheduleFreeAdamw', { testMetric: st(0.9, 0.001) }), aggregate('adamw-cosine', { testMetric: st(0.8, 0.001) })]);
    const added = byId(evaluateClaims({ comparisons: { [studyKey('schedule-free', 'fashion-mnist-mlp')]: sf } }), 'schedule-free-no-schedule');
    const merged = mergeClaims(before, [added], run);
    const oldLines = before.split('\n');
    const newLines = merged.split('\n');
    // Every old line is still there, in order; the new row's table line and section come in between.
    let j = 0;
    for (const line of newLines) if (j < oldLines.length && line === oldLines[j]) j++;
    assert.equal(j, oldLines.length, 'every line of the old file is kept, in order');
    assert.ok(newLines.includes('| Schedule-free AdamW needs no decay schedule                                                      | matches tuned cosine AdamW           | fashion-mnist-mlp: 90.0 % vs 80.0 %  | **reproduced**        |'));
    assert.ok(merged.includes('### Schedule-free AdamW needs no decay schedule\n\n- **Verdict: reproduced** — '));
    assert.ok(merged.includes('- Run: `npm run bench:claims -- --claim x` on 2026-12-04 — another CPU, TensorFlow.js wasm backend'));
    assert.ok(merged.indexOf('### Schedule-free') < merged.indexOf('## Rerun') && merged.indexOf('### AuON') < merged.indexOf('### Schedule-free'));
    assert.equal(mergeClaims(merged, [added], run), merged, 'merging the same row again changes nothing');
    // A row that is there already is replaced where it stands.
    const changed = { ...byId(all, 'muon-faster-than-adamw'), verdict: 'not reproduced' as const, why: 'changed' };
    const replaced = mergeClaims(merged, [changed], run);
    assert.equal(replaced.split('\n').filter((l) => l.startsWith('| Muon trains faster than AdamW')).length, 1);
    assert.ok(replaced.indexOf('- **Verdict: not reproduced** — changed.') < replaced.indexOf('### AdaGO'));
    assert.equal(replaced.match(/### Muon trains faster than AdamW/g)?.length, 1);
    assert.throws(() => mergeClaims('# something else\n', [added], run), /not a CLAIMS\.md as renderClaims writes it/);
  });

  it("merges into the repository's CLAIMS.md without changing it when there is nothing to merge", () => {
    const text = readFileSync(new URL('../../CLAIMS.md', import.meta.url), 'utf8');
    const run = { command: 'c', machine: 'm', backend: 'wasm', date: 'd' };
    assert.equal(mergeClaims(text, [], run), text);
  });

  it('bench/claims.ts --claim: unknown ids and a missing --claims FILE are usage errors, before anything runs', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const claims = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bench/claims.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const unknown = claims('--claim', 'dog-close-to-tuned-sgd,nope', '--claims', 'unused.md');
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /--claim: unknown claim nope \(known: muon-faster-than-adamw, .*orthogonal-adapters-match-full-finetuning\)/);
    const noFile = claims('--claim', 'dog-close-to-tuned-sgd');
    assert.equal(noFile.status, 2, noFile.stderr);
    assert.match(noFile.stderr, /--claim merges rows into a file: give it --claims FILE/);
  });
});
