/**
 * function-regression (bench/tasks/regression.ts): seeded data and parameters, standardized targets,
 * the tfjs loss and evaluation against a float64 forward pass, training with AdamW and Muon through
 * `createOptimizer`, and no tensor leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { createOptimizer } from '../../src/index.js';
import { BatchSampler } from '../../src/core/random.js';
import {
  evaluateSumOfSines,
  functionRegression,
  functionRegressionTask,
  generateRegressionData,
  sumOfSines,
  type RegressionSplit,
} from '../../src/bench/tasks/regression.js';
import type { ParamInit, TaskInstance } from '../../src/bench/tasks/types.js';

await useBackend('wasm');

/** A small version for fast tests: 8 → 32 → 32 → 1, 1024 train, 1500 validation (crosses a 1024 chunk). */
const small = functionRegressionTask({ hidden: [32, 32], trainCount: 1024, validationCount: 1500, testCount: 300 });

/** MSE of the tanh MLP in float64 on the first `n` rows of a split. */
function mse64(init: readonly ParamInit[], split: RegressionSplit, d: number, n: number): number {
  let sse = 0;
  for (let r = 0; r < n; r++) {
    let h: number[] = Array.from(split.x.subarray(r * d, (r + 1) * d));
    const layers = init.length / 2;
    for (let l = 0; l < layers; l++) {
      const [fanIn, fanOut] = init[2 * l].shape;
      const w = init[2 * l].values;
      const b = init[2 * l + 1].values;
      const z = new Array<number>(fanOut).fill(0);
      for (let j = 0; j < fanOut; j++) {
        let s = b[j];
        for (let i = 0; i < fanIn; i++) s += h[i] * w[i * fanOut + j];
        z[j] = l < layers - 1 ? Math.tanh(s) : s;
      }
      h = z;
    }
    sse += (h[0] - split.y[r]) ** 2;
  }
  return sse / n;
}

function makeVariables(init: readonly ParamInit[], tag: string): tf.Variable[] {
  // tf.variable shares the initial tensor's data; tidy disposes the initial tensor and keeps the variable.
  return tf.tidy(() => init.map((p, i) => tf.variable(tf.tensor(p.values, p.shape), true, `${tag}/${i}/${p.name}`)));
}

/** Trains `steps` steps; returns the validation MSE before and after. */
function train(task: TaskInstance, optimizerName: string, options: object, steps: number, tag: string): [number, number] {
  const init = task.initialParams(5);
  const vars = makeVariables(init, tag);
  const opt = createOptimizer(optimizerName, options);
  const before = task.evaluate(vars, 'validation').metric;
  const sampler = new BatchSampler(task.trainCount, 64, 9);
  for (let s = 0; s < steps; s++) {
    const batch = task.batch(sampler.next());
    const { value, grads } = tf.variableGrads(() => task.loss(vars, batch), vars);
    opt.applyGradients(grads);
    tf.dispose([value, ...Object.values(grads), ...batch.tensors]);
  }
  const after = task.evaluate(vars, 'validation').metric;
  opt.dispose();
  tf.dispose(vars);
  return [before, after];
}

describe('function-regression data', () => {
  it('is generated from the seed: same seed same data, another seed other data', () => {
    const a = generateRegressionData(3, { trainCount: 200, validationCount: 50, testCount: 40 });
    const b = generateRegressionData(3, { trainCount: 200, validationCount: 50, testCount: 40 });
    const c = generateRegressionData(4, { trainCount: 200, validationCount: 50, testCount: 40 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.test.y, b.test.y);
    assert.notDeepEqual(a.train.x, c.train.x);
    assert.notDeepEqual(a.target.frequencies, c.target.frequencies);
  });

  it('inputs lie in [-1, 1]^d; targets are f(x) standardized by the training split', () => {
    const data = generateRegressionData(1, { trainCount: 2000, validationCount: 300, testCount: 300 });
    const d = data.target.inputDim;
    assert.equal(d, 8);
    for (const v of data.train.x) assert.ok(v >= -1 && v < 1);
    let mean = 0;
    let sq = 0;
    for (const v of data.train.y) mean += v;
    mean /= data.train.count;
    for (const v of data.train.y) sq += (v - mean) ** 2;
    assert.ok(Math.abs(mean) < 1e-5, `train mean ${mean}`);
    assert.ok(Math.abs(sq / data.train.count - 1) < 1e-5, `train variance ${sq / data.train.count}`);
    for (const split of [data.validation, data.test]) {
      for (let r = 0; r < 5; r++) {
        const raw = evaluateSumOfSines(data.target, split.x, r * d);
        assert.ok(Math.abs((raw - data.yMean) / data.yStd - split.y[r]) < 1e-5);
      }
    }
    // The target is far from constant (not a degenerate draw): raw std of order 1/√2 for unit amplitudes.
    assert.ok(data.yStd > 0.3 && data.yStd < 1.5, `raw std ${data.yStd}`);
  });

  it('validates its options', () => {
    assert.throws(() => sumOfSines(1, { inputDim: 0 }), /inputDim must be an integer >= 1/);
    assert.throws(() => sumOfSines(1, { frequencyScale: -1 }), /frequencyScale must be > 0/);
    assert.throws(() => generateRegressionData(1, { trainCount: 0 }), /trainCount/);
  });
});

describe('function-regression task', () => {
  it('declares generated data, MSE metric, splits, and parameter roles', async () => {
    assert.equal(functionRegression.name, 'function-regression');
    assert.equal(functionRegression.needsData, false);
    const task = await functionRegression.load({ seed: 1 });
    assert.equal(task.source, 'generated');
    assert.deepEqual(task.splits, { train: 8192, validation: 1024, test: 2048 });
    assert.equal(task.trainCount, 8192);
    assert.equal(task.metric.name, 'mse');
    assert.equal(task.metric.higherIsBetter, false);
    const init = task.initialParams(2);
    assert.deepEqual(
      init.map((p) => [p.name, p.shape.join('x'), p.role]),
      [
        ['dense1/kernel', '8x128', 'hidden'],
        ['dense1/bias', '128', 'vector'],
        ['dense2/kernel', '128x128', 'hidden'],
        ['dense2/bias', '128', 'vector'],
        ['output/kernel', '128x1', 'head'],
        ['output/bias', '1', 'vector'],
      ],
    );
    // Parameters are seeded: same seed equal, another seed different.
    assert.deepEqual(task.initialParams(2), init);
    assert.notDeepEqual(task.initialParams(3)[0].values, init[0].values);
    task.dispose();
  });

  it('loss and evaluate agree with a float64 forward pass (evaluate across a chunk boundary)', async () => {
    const task = await small.load({ seed: 7 });
    const data = generateRegressionData(7, { trainCount: 1024, validationCount: 1500, testCount: 300 });
    const init = task.initialParams(1);
    const vars = makeVariables(init, 'agree');
    const before = tf.memory().numTensors;

    const idx = Uint32Array.from([0, 5, 17, 300, 1023]);
    const batch = task.batch(idx);
    // task.loss runs inside variableGrads' tidy in training; here it needs its own.
    const loss = tf.tidy(() => task.loss(vars, batch));
    const picked: RegressionSplit = {
      x: Float32Array.from(Array.from(idx).flatMap((i) => Array.from(data.train.x.subarray(i * 8, i * 8 + 8)))),
      y: Float32Array.from(Array.from(idx).map((i) => data.train.y[i])),
      count: idx.length,
    };
    const expectedLoss = mse64(init, picked, 8, idx.length);
    assert.ok(Math.abs(loss.dataSync()[0] - expectedLoss) < 1e-5 * Math.max(1, expectedLoss), `loss ${loss.dataSync()[0]} vs ${expectedLoss}`);
    tf.dispose([loss, ...batch.tensors]);

    const full = task.evaluate(vars, 'validation');
    const expected = mse64(init, data.validation, 8, 1500);
    assert.ok(Math.abs(full.metric - expected) < 1e-5 * expected, `validation ${full.metric} vs ${expected}`);
    assert.equal(full.loss, full.metric);
    const limited = task.evaluate(vars, 'test', 100);
    const expectedTest = mse64(init, data.test, 8, 100);
    assert.ok(Math.abs(limited.metric - expectedTest) < 1e-5 * expectedTest, `test ${limited.metric} vs ${expectedTest}`);

    assert.equal(tf.memory().numTensors, before, 'loss/batch/evaluate leaked tensors');
    tf.dispose(vars);
    task.dispose();
  });

  it('trains: AdamW and Muon (hidden kernels orthogonalized) lower the validation MSE, without leaks', async () => {
    const task = await small.load({ seed: 2 });
    const before = tf.memory().numTensors;
    const [a0, a1] = train(task, 'adamw', { learningRate: 1e-2 }, 80, 'adamw');
    const labels = task.initialParams(5).map((p) => (p.role === 'hidden' ? 'matrix' : 'adamw'));
    const [m0, m1] = train(task, 'muon', { learningRate: 0.02, adamwLearningRate: 3e-3, paramLabels: labels }, 80, 'muon');
    assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
    assert.equal(a0, m0, 'both optimizers start from the same parameters');
    assert.ok(a1 < 0.6 * a0, `adamw: ${a0} → ${a1}`);
    assert.ok(m1 < 0.6 * m0, `muon: ${m0} → ${m1}`);
    task.dispose();
  });
});
