import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import {
  RunInterrupted,
  runComparison,
  smooth,
  stepsToTarget,
  sweepFactors,
  type ComparisonOptions,
  useBackend as runnerUseBackend,
} from '../../src/bench/runner.js';
import { accelerateWasm, restoreWasmKernels } from '../../src/tfjs/wasmMatMul.js';
import { getTask, listTasks, loadTask, mnistMlpTask, syntheticTask } from '../../src/bench/tasks/index.js';
import type { TaskDefinition, TaskInstance } from '../../src/bench/tasks/types.js';
import type { ComparisonSummary, LogLine } from '../../src/bench/results.js';
import { BatchSampler } from '../../src/core/random.js';
import { stat } from '../../src/bench/stats.js';
import { comparisonTable, formatTable } from '../../src/bench/table.js';

/** A tiny teacher–student task: 32-d inputs, 4 classes, a 32-16-16-4 student. */
const tiny = syntheticTask({ name: 'tiny', inputSize: 32, numClasses: 4, hidden: [16, 16], teacherHidden: 8, trainCount: 256, testCount: 64 });

function tinyOptions(seed: number): ComparisonOptions {
  return { task: tiny, optimizers: [{ name: 'muon' }, { name: 'adamw' }], steps: 20, batch: 16, seeds: [seed], evalEvery: 10 };
}

/**
 * A quadratic whose best SGD learning rate is known: the d training examples are the basis vectors
 * eᵢ with targets tᵢ, the model is a vector w, the loss the batch mean of ½(xᵀw − y)². With the whole
 * set as the batch, the gradient is (w − t)/d, so plain SGD contracts the error by |1 − lr/d| per step:
 * lr = d is exact in one step, lr > 2d diverges.
 */
function quadraticTask(d: number, defaultLr: number): TaskDefinition {
  const target = Float32Array.from({ length: d }, (_, i) => Math.sin(i + 1));
  const makeBatch = (indices: ArrayLike<number>) => {
    const x = new Float32Array(indices.length * d);
    const y = new Float32Array(indices.length);
    for (let r = 0; r < indices.length; r++) {
      x[r * d + indices[r]] = 1;
      y[r] = target[indices[r]];
    }
    return { tensors: [tf.tensor2d(x, [indices.length, d]), tf.tensor1d(y)] };
  };
  const lossOf = (w: tf.Tensor, x: tf.Tensor, y: tf.Tensor): tf.Scalar =>
    tf.mean(tf.mul(0.5, tf.square(tf.sub(tf.squeeze(tf.matMul(x as tf.Tensor2D, tf.reshape(w, [d, 1])), [1]), y))));
  const instance: TaskInstance = {
    name: 'quadratic',
    source: 'generated',
    trainCount: d,
    splits: { train: d, validation: d, test: d },
    metric: { name: 'loss', label: 'loss', higherIsBetter: false },
    model: `w ∈ R^${d}`,
    initialParams: () => [{ name: 'w', shape: [d], values: new Float32Array(d), role: 'vector' }],
    batch: (indices) => makeBatch(indices),
    loss: (params, b) => lossOf(params[0], b.tensors[0], b.tensors[1]),
    evaluate(params) {
      const b = makeBatch(Array.from({ length: d }, (_, i) => i));
      const l = tf.tidy(() => lossOf(params[0], b.tensors[0], b.tensors[1]));
      const v = l.dataSync()[0];
      tf.dispose([l, ...b.tensors]);
      return { loss: v, metric: v };
    },
    dispose() {},
  };
  return {
    name: 'quadratic',
    summary: 'least squares on basis vectors',
    needsData: false,
    defaults: { steps: 4, batch: d, evalEvery: 0, learningRates: { sgd: defaultLr } },
    load: () => Promise.resolve(instance),
  };
}

let scratch: string;
before(async () => {
  await useBackend('wasm');
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-runner-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('runComparison', () => {
  it('is deterministic: the same seed gives identical losses and evaluations', async () => {
    const a = await runComparison(tinyOptions(3));
    const b = await runComparison(tinyOptions(3));
    assert.deepEqual(Object.keys(a.curves), ['muon-s3', 'adamw-s3']);
    for (const id of Object.keys(a.curves)) {
      assert.equal(a.curves[id].losses.length, 20);
      assert.deepEqual(a.curves[id].losses, b.curves[id].losses);
      assert.deepEqual(
        a.curves[id].evals.map((e) => [e.step, e.split, e.loss, e.metric]),
        b.curves[id].evals.map((e) => [e.step, e.split, e.loss, e.metric]),
      );
    }
    const c = await runComparison(tinyOptions(4));
    assert.notDeepEqual(c.curves['muon-s4'].losses, a.curves['muon-s3'].losses, 'another seed gives another run');
  });

  it('starts every optimizer from the same parameters on the same first batch', async () => {
    const instance = await tiny.load({ seed: 7 });
    assert.deepEqual(instance.initialParams(7), instance.initialParams(7));
    assert.notDeepEqual(instance.initialParams(7)[0].values, instance.initialParams(8)[0].values);
    const r = await runComparison({
      task: tiny,
      optimizers: [{ name: 'muon' }, { name: 'adamw' }, { name: 'sgd' }, { name: 'adam', options: { learningRate: 0.01 } }],
      steps: 3,
      batch: 16,
      seeds: [7],
    });
    const first = Object.values(r.curves).map((c) => c.losses[0]);
    assert.equal(first.length, 4);
    assert.ok(Number.isFinite(first[0]));
    for (const l of first) assert.equal(l, first[0]);
    assert.notEqual(r.curves['muon-s7'].losses[2], r.curves['adamw-s7'].losses[2], '…and the optimizers then differ');
  });

  it('summarizes runs over seeds, with metrics, timings, options, target and steps to it', async () => {
    const before = tf.memory().numTensors;
    const { summary: s, curves } = await runComparison({ ...tinyOptions(0), seeds: [0, 1] });
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.equal(s.format, 'orthoptim-bench/2');
    assert.equal(s.task, 'tiny');
    assert.equal(s.dataSource, 'synthetic');
    assert.equal(s.fallback, null);
    assert.equal(s.backend, 'wasm');
    assert.deepEqual(s.splits, { train: 224, validation: 32, test: 64 });
    assert.equal(s.parameters, 32 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4);
    assert.deepEqual(s.seeds, [0, 1]);
    assert.equal(s.runs.length, 4);
    for (const run of s.runs) {
      const c = curves[run.id];
      assert.deepEqual(c.evals.map((e) => `${e.step}:${e.split}`), ['10:validation', '20:validation', '20:test']);
      assert.ok(Math.abs(run.final.trainLoss - (c.losses[18] + c.losses[19]) / 2) < 1e-12, 'mean of the last 10 %');
      assert.equal(run.final.testMetric, c.evals[2].metric);
      assert.ok(run.final.testMetric >= 0 && run.final.testMetric <= 1);
      assert.ok(run.timing.msPerStepOptimizer > 0 && run.timing.msPerStepOptimizer <= run.timing.msPerStep);
      assert.equal(run.diverged, null);
    }
    const muon = s.runs[0].options;
    assert.equal(muon.learningRate, 0.02);
    // The output layer goes to the auxiliary AdamW (vectors go there anyway).
    assert.deepEqual(muon.exclude, [{ name: '^orthoptim-bench\\/logits\\/kernel$', flags: '', regex: true }]);
    assert.equal(s.runs[2].options.learningRate, 1e-3);
    // Aggregates: mean and sample std over the two seeds.
    const agg = s.aggregates.find((a) => a.label === 'adamw')!;
    const vals = s.runs.filter((r) => r.label === 'adamw').map((r) => r.final.testLoss);
    assert.ok(Math.abs(agg.testLoss.mean - (vals[0] + vals[1]) / 2) < 1e-12);
    assert.ok(Math.abs(agg.testLoss.std - Math.abs(vals[0] - vals[1]) / Math.SQRT2) < 1e-12);
    // Target: AdamW's final smoothed loss (mean over seeds); every run's steps-to-target matches its curve.
    assert.ok(s.target !== null);
    const w = s.target.smoothing;
    assert.equal(w, 1);
    const adamwFinal = s.runs.filter((r) => r.label === 'adamw').map((r) => curves[r.id].losses[19]);
    assert.ok(Math.abs(s.target.value - (adamwFinal[0] + adamwFinal[1]) / 2) < 1e-12);
    for (const run of s.runs) assert.equal(run.stepsToTarget, stepsToTarget(curves[run.id].losses, s.target.value, w));
    assert.match(comparisonTable(s), /\| muon +\| +0\.02 \|/);
  });

  it('sweeps learning rates and picks the best one where it is known', async () => {
    // Default 10/3 for d = 10; grid ×10^(−1 … 1): 0.33, 1.05, 3.33, 10.5, 33.3. Contraction per step
    // |1 − lr/10|: 0.97, 0.89, 0.67, 0.05, 2.3 (diverges) — the best is 10.5.
    const { summary } = await runComparison({
      task: quadraticTask(10, 10 / 3),
      optimizers: [{ name: 'sgd', options: { momentum: 0 } }],
      seeds: [0],
      sweep: { points: 5, steps: 3 },
      steps: 4,
    });
    const agg = summary.aggregates[0];
    assert.ok(agg.sweep !== null);
    assert.deepEqual(agg.sweep.map((p) => Number(p.learningRate.toPrecision(3))), [0.333, 1.05, 3.33, 10.5, 33.3]);
    assert.ok(Math.abs(agg.learningRate! - (10 / 3) * Math.sqrt(10)) < 1e-9, `chose ${agg.learningRate}`);
    const losses = agg.sweep.map((p) => p.validationLoss);
    assert.ok(losses[4] === null || losses[4] > losses[0]!, 'the largest rate diverges or is worst');
    for (let i = 0; i < 3; i++) assert.ok(losses[i]! > losses[i + 1]!, 'loss falls with the rate up to the best one');
    assert.equal(summary.runs[0].learningRate, agg.learningRate);
    assert.equal(summary.runs[0].options.learningRate, agg.learningRate);
    assert.deepEqual(summary.sweep, { grid: sweepFactors({ points: 5 }), steps: 3 });
  });

  it('writes JSON-lines logs and a summary, and resumes an interrupted comparison exactly', async () => {
    const options = { ...tinyOptions(5), steps: 20, checkpointEvery: 5 };
    const reference = await runComparison(options);
    const dir = join(scratch, 'resume', 'tiny');
    // 20 muon steps, then 13 adamw steps: adamw's last checkpoint is at step 10.
    await assert.rejects(runComparison({ ...options, outDir: dir, interruptAfter: 33 }), RunInterrupted);
    assert.ok(existsSync(join(dir, 'runs', 'muon-s5.json')), 'the finished run is recorded');
    assert.ok(existsSync(join(dir, 'checkpoints', 'adamw-s5', 'run.json')), 'the unfinished one has a checkpoint');
    assert.ok(!existsSync(join(dir, 'summary.json')));
    const events: string[] = [];
    const resumed = await runComparison({
      ...options,
      outDir: dir,
      onProgress: (e) => {
        if (e.type === 'runStart') events.push(`${e.id}@${e.fromStep}`);
        if (e.type === 'runEnd' && e.skipped) events.push(`${e.id} kept`);
      },
    });
    assert.deepEqual(events, ['muon-s5 kept', 'adamw-s5@10']);
    for (const id of ['muon-s5', 'adamw-s5']) {
      assert.deepEqual(resumed.curves[id].losses, reference.curves[id].losses, `${id}: bit-identical after resuming`);
      const log = readFileSync(join(dir, 'logs', `${id}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
      assert.deepEqual(log.filter((l) => l.type === 'step').map((l) => l.step), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(log.filter((l) => l.type === 'step').map((l) => l.loss), reference.curves[id].losses);
      const evals = log.filter((l) => l.type === 'eval');
      assert.deepEqual(evals.map((l) => l.metric), reference.curves[id].evals.map((e) => e.metric));
    }
    assert.equal(resumed.summary.runs.find((r) => r.id === 'adamw-s5')?.resumed, true);
    assert.ok(!existsSync(join(dir, 'checkpoints', 'adamw-s5')), 'the checkpoint is removed when the run finishes');
    const onDisk = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as ComparisonSummary;
    assert.equal(onDisk.format, 'orthoptim-bench/2');
    assert.deepEqual(onDisk.aggregates.map((a) => a.label), ['muon', 'adamw']);
    // Other settings in the same folder: refused, naming the difference.
    await assert.rejects(runComparison({ ...options, steps: 21, outDir: dir }), /holds runs made with other settings \(steps: 20 there, 21 now\)/);
    // Starting over is explicit.
    const fresh = await runComparison({ ...options, steps: 6, outDir: dir, resume: false });
    assert.equal(fresh.summary.runs[0].resumed, false);
  });

  it('records a diverging run instead of aborting the comparison', async () => {
    const { summary } = await runComparison({
      task: quadraticTask(10, 1),
      optimizers: [{ name: 'sgd', options: { momentum: 0, learningRate: 1e4 } }, { name: 'sgd', label: 'sgd-ok', options: { momentum: 0 } }],
      steps: 60,
    });
    assert.ok(summary.runs[0].diverged !== null && summary.runs[0].diverged <= 60);
    assert.ok(Number.isNaN(summary.runs[0].final.testLoss));
    assert.equal(summary.runs[1].diverged, null);
  });

  it('rejects bad arguments with messages that name them', async () => {
    await assert.rejects(runComparison({ ...tinyOptions(0), optimizers: [{ name: 'nope' }] }), /unknown optimizer 'nope' \(known: .*muon/);
    await assert.rejects(runComparison({ ...tinyOptions(0), task: 'nope' }), /unknown task 'nope' \(known: fashion-mnist-mlp/);
    await assert.rejects(runComparison({ ...tinyOptions(0), steps: 1.5 }), /steps must be an integer/);
    await assert.rejects(runComparison({ ...tinyOptions(0), batch: 1000 }), /larger than the training set/);
    await assert.rejects(runComparison({ ...tinyOptions(0), seeds: [1, 1] }), /seeds repeat/);
    await assert.rejects(
      runComparison({ ...tinyOptions(0), optimizers: [{ name: 'adamw' }, { name: 'adamw' }] }),
      /two entries are labelled 'adamw'/,
    );
    assert.throws(() => sweepFactors({ factors: [1, -2] }), /sweep factors must be positive/);
  });

  it('a setting refused after the task has loaded (steps, batch, evalEvery, a results folder of other settings) disposes the loaded data', async () => {
    let loads = 0;
    let disposed = 0;
    const counted: TaskDefinition = {
      ...tiny,
      async load(o) {
        const instance = await tiny.load(o);
        loads++;
        const dispose = instance.dispose.bind(instance);
        return Object.assign(instance, { dispose: () => void (disposed++, dispose()) });
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'orthoptim-runner-refused-'));
    try {
      await runComparison({ ...tinyOptions(0), task: counted, steps: 2, outDir: dir });
      assert.deepEqual([loads, disposed], [1, 1]);
      await assert.rejects(runComparison({ ...tinyOptions(0), task: counted, steps: 0 }), /steps must be an integer >= 1, got 0/);
      await assert.rejects(runComparison({ ...tinyOptions(0), task: counted, evalEvery: -1 }), /evalEvery must be an integer >= 0, got -1/);
      await assert.rejects(runComparison({ ...tinyOptions(0), task: counted, batch: 1000 }), /larger than the training set/);
      await assert.rejects(runComparison({ ...tinyOptions(0), task: counted, steps: 3, outDir: dir }), /holds runs made with other settings \(steps: 2 there, 3 now\)/);
      assert.deepEqual([loads, disposed], [5, 5], 'every loaded instance is disposed, refused or not');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The quadratic task's loss ½·mean((w − t)²) at w, in float64 (its targets are sin(i + 1)). */
function quadraticLoss(w: readonly number[]): number {
  return w.reduce((a, wi, i) => a + 0.5 * (wi - Math.sin(i + 1)) ** 2, 0) / w.length;
}

describe('runComparison: schedules, untuned entries, averaged weights', () => {
  it("evaluates a schedule-free run at its average x, trains at y, and puts y back after every evaluation", async () => {
    // Full-batch schedule-free SGD on the quadratic (gradient (y − t)/d), float64, from
    // facebookresearch/schedule_free's sgd_schedulefree_reference.py with r = 0, weightLrPower = 2 and a
    // constant rate: c_{k+1} = 1/(k+1); z ← z − γg; x ← (1 − c)x + c·z; y ← βx + (1 − β)z.
    const d = 10;
    const lr = 2;
    const beta = 0.9;
    const steps = 6;
    const t = Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    const z = new Array<number>(d).fill(0);
    const x = new Array<number>(d).fill(0);
    const y = new Array<number>(d).fill(0);
    const trainLosses: number[] = [];
    const atX: number[] = [];
    const atY: number[] = [];
    for (let k = 0; k < steps; k++) {
      trainLosses.push(quadraticLoss(y));
      const c = 1 / (k + 1);
      for (let i = 0; i < d; i++) {
        z[i] -= (lr * (y[i] - t[i])) / d;
        x[i] = (1 - c) * x[i] + c * z[i];
        y[i] = beta * x[i] + (1 - beta) * z[i];
      }
      atX.push(quadraticLoss(x));
      atY.push(quadraticLoss(y));
    }
    const { summary, curves } = await runComparison({
      task: quadraticTask(d, 1),
      optimizers: [{ name: 'scheduleFreeSgd', options: { learningRate: lr, momentum: beta } }],
      steps,
      evalEvery: 1,
    });
    const run = curves['scheduleFreeSgd-s0'];
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
    // Training losses are at y: they match the float64 y-trajectory only if every evaluation put y back.
    run.losses.forEach((l, k) => assert.ok(rel(l, trainLosses[k]) < 1e-5, `training loss ${k + 1}: ${l} vs ${trainLosses[k]}`));
    const validation = run.evals.filter((e) => e.split === 'validation');
    assert.deepEqual(validation.map((e) => e.step), [1, 2, 3, 4, 5, 6]);
    validation.forEach((e, k) => {
      assert.ok(rel(e.loss, atX[k]) < 1e-5, `validation at step ${k + 1} is at x: ${e.loss} vs ${atX[k]}`);
    });
    const final = summary.runs[0].final.validationLoss;
    assert.ok(rel(final, atX[steps - 1]) < 1e-5, `final validation loss ${final} is the loss at x, ${atX[steps - 1]}`);
    assert.ok(rel(atY[steps - 1], atX[steps - 1]) > 0.05, 'x and y are far enough apart for the check to tell them apart');
  });

  it("decays a 'cosine' entry's learning rate to 0 over the run, and keeps an untuned entry out of the sweep", async () => {
    // Plain SGD on the quadratic with lr_k = lr·½(1 + cos(πk/T)): w ← w − lr_k (w − t)/d, float64.
    const d = 10;
    const lr = 5;
    const steps = 5;
    const t = Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    const w = new Array<number>(d).fill(0);
    const want: number[] = [];
    for (let k = 0; k < steps; k++) {
      want.push(quadraticLoss(w));
      const lrK = lr * 0.5 * (1 + Math.cos((Math.PI * k) / steps));
      for (let i = 0; i < d; i++) w[i] -= (lrK * (w[i] - t[i])) / d;
    }
    const { summary, curves } = await runComparison({
      task: quadraticTask(d, lr),
      optimizers: [
        { name: 'sgd', label: 'sgd-cosine', options: { momentum: 0 }, schedule: 'cosine', tune: false },
        { name: 'sgd', options: { momentum: 0 } },
      ],
      steps,
      sweep: { factors: [1, 2], steps: 2 },
    });
    const got = curves['sgd-cosine-s0'].losses;
    got.forEach((l, k) => assert.ok(Math.abs(l - want[k]) <= 1e-5 * want[k], `step ${k + 1}: ${l} vs ${want[k]}`));
    const [cos, swept] = summary.aggregates;
    assert.equal(cos.sweep, null, 'the untuned entry is not swept');
    assert.equal(cos.learningRate, lr);
    assert.deepEqual(summary.runs[0].options.learningRate, { kind: 'cosine', init: lr, decaySteps: steps, floor: 0 });
    assert.deepEqual(swept.sweep?.map((p) => p.learningRate), [lr, 2 * lr], 'the other entry is swept');
  });
});

describe('runComparison: loss-aware optimizers', () => {
  it('hands each batch loss to alrSmag and polyakSgd: on the full-batch quadratic their losses follow float64 Polyak loops', async () => {
    // Gradient (w − t)/d and loss ½·mean((w − t)²): the Polyak step f/‖g‖² is d/2, which halves the error
    // (the loss falls 4× per step) — polyakSgd with the cap above d/2. alrSmag (β = 0.9, γ_max 0.1):
    // d ← βd + g, τ = min(0.1, f/‖d‖²), w ← w − τd, in float64.
    const d = 10;
    const steps = 5;
    const t = Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    const polyak: number[] = [];
    const smag: number[] = [];
    let w = new Array<number>(d).fill(0);
    for (let k = 0; k < steps; k++) {
      polyak.push(quadraticLoss(w));
      w = w.map((wi, i) => wi - 0.5 * (wi - t[i]));
    }
    w = new Array<number>(d).fill(0);
    let m = new Array<number>(d).fill(0);
    for (let k = 0; k < steps; k++) {
      const f = quadraticLoss(w);
      smag.push(f);
      m = m.map((mi, i) => 0.9 * mi + (w[i] - t[i]) / d);
      const tau = Math.min(0.1, f / m.reduce((a, v) => a + v * v, 0));
      w = w.map((wi, i) => wi - tau * m[i]);
    }
    const { curves } = await runComparison({
      task: quadraticTask(d, 1),
      optimizers: [{ name: 'polyakSgd', options: { maxLearningRate: 100 } }, { name: 'alrSmag' }],
      steps,
    });
    const close = (got: number[], want: number[], what: string) => {
      assert.equal(got.length, steps, what);
      got.forEach((l, k) => assert.ok(Math.abs(l - want[k]) <= 1e-5 * want[k], `${what} step ${k + 1}: ${l} vs ${want[k]}`));
    };
    close(curves['polyakSgd-s0'].losses, polyak, 'polyakSgd');
    close(curves['alrSmag-s0'].losses, smag, 'alrSmag');
    assert.ok(polyak[4] < polyak[0] / 200 && smag[4] < smag[0], 'both descend');
  });
});

describe('tasks', () => {
  it('registers the built-in tasks', () => {
    const names = listTasks().map((t) => t.name);
    for (const n of ['fashion-mnist-mlp', 'mnist-mlp', 'synthetic']) assert.ok(names.includes(n), n);
    assert.throws(() => getTask('cifar'), /unknown task 'cifar'/);
  });

  it('falls back to a task that needs no data when a dataset is missing, and says so', async () => {
    const missing = '/nonexistent/orthoptim-test-data';
    const saved = process.env.ORTHOPTIM_DATA_DIR;
    const savedCache = process.env.ORTHOPTIM_CACHE_DIR;
    process.env.ORTHOPTIM_DATA_DIR = missing;
    process.env.ORTHOPTIM_CACHE_DIR = missing;
    try {
      // mnist-mlp: no Debian package directory is searched for MNIST, so it is missing everywhere.
      const task = { ...mnistMlpTask('mnist-mlp', 'mnist', 'MNIST'), fallback: tiny };
      const loaded = await loadTask(task, { seed: 0, dataDir: missing, fallback: true });
      assert.equal(loaded.instance.source, 'synthetic');
      assert.equal(loaded.task.name, 'tiny');
      assert.equal(loaded.fallback?.requestedTask, 'mnist-mlp');
      assert.ok(loaded.fallback?.lookedIn.includes(missing));
      assert.match(loaded.fallback?.message ?? '', /^no data found for mnist-mlp \(looked in: .*\); running the embedded tiny task instead/);
      await assert.rejects(loadTask(task, { seed: 0, dataDir: missing, fallback: false }), { name: 'DataNotFoundError' });
      // The fallback is taken only when asked for.
      await assert.rejects(loadTask(task, { seed: 0, dataDir: missing }), { name: 'DataNotFoundError' });
    } finally {
      if (saved === undefined) delete process.env.ORTHOPTIM_DATA_DIR;
      else process.env.ORTHOPTIM_DATA_DIR = saved;
      if (savedCache === undefined) delete process.env.ORTHOPTIM_CACHE_DIR;
      else process.env.ORTHOPTIM_CACHE_DIR = savedCache;
    }
  });

  it('generates the same synthetic data from the same seed, with a seeded validation split and balanced classes', async () => {
    const a = await tiny.load({ seed: 1 });
    const b = await tiny.load({ seed: 1 });
    const c = await tiny.load({ seed: 2 });
    const first = (t: TaskInstance) => {
      const batch = t.batch(Uint32Array.from([0, 1, 2]));
      const out = batch.tensors.map((x) => Array.from(x.dataSync()));
      tf.dispose(batch.tensors);
      return out;
    };
    assert.deepEqual(first(a), first(b));
    assert.notDeepEqual(first(a), first(c));
    assert.deepEqual(a.splits, { train: 224, validation: 32, test: 64 });
    const all = a.batch(Uint32Array.from({ length: 224 }, (_, i) => i));
    const labels = Array.from(all.tensors[1].dataSync());
    tf.dispose(all.tensors as tf.Tensor[]);
    const counts = [0, 0, 0, 0];
    for (const l of labels) counts[l]++;
    for (const n of counts) assert.ok(n > 224 / 4 / 2 && n < (224 / 4) * 1.5, `classes roughly balanced: ${counts.join(', ')}`);
  });

  it('draws the same batches from the same seed, each example once per epoch', () => {
    const s1 = new BatchSampler(10, 3, 5);
    const s2 = new BatchSampler(10, 3, 5);
    const epoch: number[] = [];
    for (let i = 0; i < 3; i++) {
      const b = s1.next();
      assert.deepEqual(b, s2.next());
      epoch.push(...b);
    }
    assert.equal(new Set(epoch).size, 9);
    s1.next();
    assert.equal(s1.epoch, 1, 'an incomplete last batch starts a new epoch');
  });
});

describe('useBackend (the runner\'s and the CLI\'s backend choice)', () => {
  it('applies accelerateWasm on wasm: after it, accelerateWasm has nothing left to register', async () => {
    const before = tf.getBackend();
    restoreWasmKernels();
    try {
      await runnerUseBackend('wasm');
      assert.deepEqual(accelerateWasm(), []);
      restoreWasmKernels();
      await runnerUseBackend('wasm'); // already the backend: still applied
      assert.deepEqual(accelerateWasm(), []);
    } finally {
      await runnerUseBackend(before);
    }
  });
});

describe('statistics', () => {
  it('smooths with a trailing mean and finds the first step at the target', () => {
    assert.deepEqual(smooth([4, 2, 0, 2], 2), [4, 3, 1, 1]);
    assert.equal(stepsToTarget([4, 2, 0, 2], 1, 2), 3);
    assert.equal(stepsToTarget([4, 2, 0, 2], 0.5, 2), null);
    assert.deepEqual(stat([1, 3, null, NaN]), { mean: 2, std: Math.SQRT2, min: 1, max: 3, n: 2 });
    assert.equal(stat([]).n, 0);
  });
});

describe('tables', () => {
  it('pads markdown columns and aligns numbers right', () => {
    const t = formatTable([{ header: 'name' }, { header: 'value', align: 'right' }], [['muon', '1.5'], ['a|b', '10.25']]);
    assert.equal(t, ['| name | value |', '| :--- | ----: |', '| muon |   1.5 |', '| a\\|b | 10.25 |'].join('\n'));
  });

  it('summarizes a comparison, one row per optimizer, mean ± std over seeds', () => {
    const st = (mean: number, std: number, n = 2) => ({ mean, std, min: mean, max: mean, n });
    const t = comparisonTable({
      seeds: [0, 1],
      metric: { name: 'accuracy', label: 'accuracy', higherIsBetter: true },
      aggregates: [
        {
          label: 'muon',
          optimizer: 'muon',
          learningRate: 0.02,
          trainLoss: st(0.31234, 0.01),
          validationLoss: st(0.4, 0.02),
          validationMetric: st(0.8765, 0.001),
          testLoss: st(0.41, 0.02),
          testMetric: st(0.87, 0.002),
          msPerStep: st(12.34, 1),
          msPerStepOptimizer: st(5.67, 0.5),
          stepsToTarget: st(120, 10, 1),
          secondsToTarget: st(1, 0, 1),
          sweep: null,
        },
      ],
    });
    const lines = t.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /optimizer .* lr .* train loss .* val loss .* val accuracy .* test accuracy .* steps to target .* ms\/step .* optimizer ms\/step/);
    assert.match(lines[2], /muon .* 0\.02 .* 0\.3123 ± 0\.0100 .* 87\.65 ± 0\.10% .* 87\.00 ± 0\.20% .* 120 \(1\/2\) .* 12\.3 ± 1\.0 .* 5\.7 ± 0\.5 \|$/);
  });
});
