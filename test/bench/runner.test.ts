import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { benchDefaults, runComparison, type ComparisonOptions } from '../../src/bench/runner.js';
import { BatchSampler, getTask, listTasks, loadTaskData, mnistMlpTask, syntheticTask } from '../../src/bench/tasks.js';
import { comparisonTable, formatTable } from '../../src/bench/table.js';

/** A tiny teacher–student task: 32-d inputs, 4 classes, a 32-16-16-4 student. */
const tiny = syntheticTask({ name: 'tiny', inputSize: 32, numClasses: 4, hidden: [16, 16], teacherHidden: 8, trainCount: 256, testCount: 64 });

function tinyOptions(seed: number): ComparisonOptions {
  return { task: tiny, optimizers: [{ name: 'muon' }, { name: 'adamw' }], steps: 20, batch: 16, seed, evalEvery: 10 };
}

before(async () => {
  await useBackend('wasm');
});

describe('runComparison', () => {
  it('is deterministic: the same seed gives identical per-step losses', async () => {
    const a = await runComparison(tinyOptions(3));
    const b = await runComparison(tinyOptions(3));
    assert.equal(a.runs.length, 2);
    for (let i = 0; i < a.runs.length; i++) {
      assert.equal(a.runs[i].losses.length, 20);
      assert.deepEqual(a.runs[i].losses, b.runs[i].losses);
      assert.deepEqual(a.runs[i].evals, b.runs[i].evals);
    }
    const c = await runComparison(tinyOptions(4));
    assert.notDeepEqual(c.runs[0].losses, a.runs[0].losses, 'another seed gives another run');
  });

  it('starts every optimizer from the same weights on the same first batch', async () => {
    const r = await runComparison({
      task: tiny,
      optimizers: [{ name: 'muon' }, { name: 'adamw' }, { name: 'sgd' }, { name: 'adam', options: { learningRate: 0.01 } }],
      steps: 3,
      batch: 16,
      seed: 7,
    });
    const first = r.runs.map((run) => run.losses[0]);
    assert.ok(Number.isFinite(first[0]));
    for (const l of first) assert.equal(l, first[0]);
    // …and the optimizers then differ.
    assert.notEqual(r.runs[0].losses[2], r.runs[1].losses[2]);
  });

  it('reports metrics, timings, options and the record of the run', async () => {
    const before = tf.memory().numTensors;
    const r = await runComparison(tinyOptions(0));
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.equal(r.format, 'orthoptim-bench/1');
    assert.equal(r.task, 'tiny');
    assert.equal(r.dataSource, 'synthetic');
    assert.equal(r.fallback, null);
    assert.equal(r.backend, 'wasm');
    assert.deepEqual(r.model.layers, [32, 16, 16, 4]);
    assert.equal(r.model.parameters, 32 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4);
    assert.ok(r.machine.cores >= 1 && r.machine.node.startsWith('v'));
    for (const run of r.runs) {
      assert.deepEqual(run.evals.map((e) => e.step), [10, 20]);
      const { trainLoss, testLoss, testAccuracy } = run.final;
      assert.ok(Number.isFinite(trainLoss) && Number.isFinite(testLoss));
      assert.ok(testAccuracy >= 0 && testAccuracy <= 1);
      // Mean of the last 10 % (2 steps).
      assert.ok(Math.abs(trainLoss - (run.losses[18] + run.losses[19]) / 2) < 1e-12);
      assert.ok(run.timing.msPerStep > 0 && run.timing.msPerStepOptimizer > 0);
      assert.ok(run.timing.msPerStepOptimizer <= run.timing.msPerStep);
    }
    const muon = r.runs[0].options;
    assert.equal(muon.learningRate, 0.02);
    assert.deepEqual(muon.exclude, [{ name: 'logits/kernel' }]);
    assert.equal(r.runs[1].options.learningRate, 1e-3);
  });

  it('falls back to the synthetic task when a dataset is missing, and records it', async () => {
    const missing = '/nonexistent/orthoptim-test-data';
    const saved = process.env.ORTHOPTIM_DATA_DIR;
    const savedCache = process.env.ORTHOPTIM_CACHE_DIR;
    process.env.ORTHOPTIM_DATA_DIR = missing;
    process.env.ORTHOPTIM_CACHE_DIR = missing;
    try {
      // mnist-mlp: no Debian package directory is searched for MNIST, so it is missing everywhere.
      const task = { ...mnistMlpTask('mnist-mlp', 'mnist', 'MNIST'), hidden: [8] };
      const loaded = await loadTaskData(task, { seed: 0, dataDir: missing });
      assert.equal(loaded.data.source, 'synthetic');
      assert.equal(loaded.task.name, 'synthetic');
      assert.deepEqual(loaded.task.hidden, [8]);
      assert.equal(loaded.fallback?.requestedTask, 'mnist-mlp');
      assert.ok(loaded.fallback?.lookedIn.includes(missing));
      assert.match(loaded.fallback?.message ?? '', /^no data found for mnist-mlp \(looked in: .*\); running the embedded synthetic task instead/);
      await assert.rejects(loadTaskData(task, { seed: 0, dataDir: missing, fallback: false }), { name: 'DataNotFoundError' });
    } finally {
      if (saved === undefined) delete process.env.ORTHOPTIM_DATA_DIR;
      else process.env.ORTHOPTIM_DATA_DIR = saved;
      if (savedCache === undefined) delete process.env.ORTHOPTIM_CACHE_DIR;
      else process.env.ORTHOPTIM_CACHE_DIR = savedCache;
    }
  });

  it('rejects bad arguments with messages that name them', async () => {
    await assert.rejects(runComparison({ ...tinyOptions(0), optimizers: [{ name: 'nope' }] }), /unknown optimizer 'nope' \(known: .*muon/);
    await assert.rejects(runComparison({ ...tinyOptions(0), task: 'nope' }), /unknown task 'nope' \(known: fashion-mnist-mlp/);
    await assert.rejects(runComparison({ ...tinyOptions(0), steps: 1.5 }), /steps must be an integer/);
    await assert.rejects(runComparison({ ...tinyOptions(0), batch: 1000 }), /larger than the training set/);
  });
});

describe('tasks', () => {
  it('registers the MNIST tasks and the synthetic one', () => {
    assert.deepEqual(listTasks().map((t) => t.name), ['fashion-mnist-mlp', 'mnist-mlp', 'synthetic']);
    assert.deepEqual(getTask('fashion-mnist-mlp').hidden, [512, 512]);
    assert.throws(() => getTask('cifar'), /unknown task 'cifar'/);
  });

  it('generates the same synthetic data from the same seed, with every class present', async () => {
    const a = await tiny.load({ seed: 1 });
    const b = await tiny.load({ seed: 1 });
    const c = await tiny.load({ seed: 2 });
    assert.deepEqual(a.train.labels, b.train.labels);
    assert.deepEqual(a.test.images, b.test.images);
    assert.notDeepEqual(a.train.images, c.train.images);
    assert.equal(a.train.images.length, 256 * 32);
    assert.equal(a.test.count, 64);
    const counts = [0, 0, 0, 0];
    for (const l of a.train.labels) counts[l]++;
    for (const n of counts) assert.ok(n > 256 / 4 / 2 && n < (256 / 4) * 1.5, `classes roughly balanced: ${counts.join(', ')}`);
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

describe('tables', () => {
  it('pads markdown columns and aligns numbers right', () => {
    const t = formatTable([{ header: 'name' }, { header: 'value', align: 'right' }], [['muon', '1.5'], ['a|b', '10.25']]);
    assert.equal(
      t,
      ['| name | value |', '| :--- | ----: |', '| muon |   1.5 |', '| a\\|b | 10.25 |'].join('\n'),
    );
  });

  it('summarizes a comparison, one row per optimizer', () => {
    const run = {
      optimizer: 'muon',
      final: { trainLoss: 0.31234, testLoss: 0.4, testAccuracy: 0.8765 },
      timing: { msPerStep: 12.34, msPerStepOptimizer: 5.67 },
    };
    const t = comparisonTable({ runs: [run] } as unknown as Parameters<typeof comparisonTable>[0]);
    const lines = t.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /optimizer .* train loss .* test acc .* test loss .* ms\/step .* optimizer ms\/step/);
    assert.match(lines[2], /muon .* 0\.3123 .* 87\.65% .* 0\.4000 .* 12\.3 .* 5\.7 \|$/);
  });
});

describe('benchDefaults', () => {
  it('gives the learning rates of the benchmark', () => {
    assert.deepEqual(benchDefaults('muon'), { learningRate: 0.02, exclude: ['logits/kernel'] });
    assert.deepEqual(benchDefaults('adamw'), { learningRate: 1e-3 });
    assert.deepEqual(benchDefaults('sgd'), { learningRate: 0.05, momentum: 0.9 });
    assert.deepEqual(benchDefaults('somethingElse'), {});
  });
});
