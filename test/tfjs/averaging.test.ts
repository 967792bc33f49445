/**
 * Evaluation on the average (src/tfjs/averaging.ts): withAveragedWeights / swapInAveragedWeights put
 * the average of `averaged` or schedule-free's x into the parameters and the exact training weights
 * back (also on a throw or a rejected promise); hasAveragedWeights; model.evaluate on the average in a model.fit workflow;
 * the average carried through getWeights/setWeights and a directory checkpoint; the outermost average
 * of nested wrappers; the errors.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { blobs, mlp, weightValues } from '../support/models.js';
import { createOptimizer, type TransformOptimizer } from '../../src/index.js';
import { averagedOptimizer, scheduleFreeAdamw, sgd } from '../../src/tfjs/register.js';
import { hasAveragedWeights, swapInAveragedWeights, withAveragedWeights } from '../../src/tfjs/averaging.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';

let uid = 0;
const variable = (values: number[]) => tf.tidy(() => tf.variable(tf.tensor1d(values), true, `averaging${uid++}/w`));

/** Steps `opt` on `v` with the gradient `grad(current value, step)`; returns the value after each step. */
function run(opt: TransformOptimizer, v: tf.Variable, steps: number, grad: (x: Float32Array, t: number) => number[]): Float32Array[] {
  const out: Float32Array[] = [];
  for (let t = 0; t < steps; t++) {
    const g = tf.tensor1d(grad(v.dataSync() as Float32Array, t));
    opt.applyGradients([{ name: v.name, tensor: g }]);
    g.dispose();
    out.push(v.dataSync().slice() as Float32Array);
  }
  return out;
}

describe('withAveragedWeights / swapInAveragedWeights', () => {
  before(() => useBackend('cpu'));

  it('puts the average in for fn and the exact training weights back, also when fn throws or its promise rejects', async () => {
    const v = variable([1, 2, 3]);
    const opt = averagedOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.1 }, gamma: 0 });
    const iterates = run(opt, v, 2, () => [1, -1, 2]);
    const mean = [0, 1, 2].map((j) => (iterates[0][j] + iterates[1][j]) / 2);
    const training = v.dataSync().slice();
    const inside = withAveragedWeights(opt, () => Array.from(v.dataSync()));
    inside.forEach((x, j) => assert.ok(Math.abs(x - mean[j]) < 1e-6));
    assert.deepEqual(v.dataSync(), training);
    assert.throws(() => withAveragedWeights(opt, () => {
      throw new Error('boom');
    }), /boom/);
    assert.deepEqual(v.dataSync(), training);
    await assert.rejects(withAveragedWeights(opt, () => Promise.reject(new Error('later'))), /later/);
    assert.deepEqual(v.dataSync(), training);
    // the average stays in until the promise settles
    const seen = await withAveragedWeights(opt, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return Array.from(v.dataSync());
    });
    assert.deepEqual(seen, inside);
    assert.deepEqual(v.dataSync(), training);
    const count = tf.memory().numTensors;
    const swapOut = swapInAveragedWeights(opt);
    swapOut();
    swapOut();
    assert.equal(tf.memory().numTensors, count, 'the saved copy is disposed once');
    v.dispose();
    opt.dispose();
  });

  it('changes nothing before the first step; refuses an optimizer that keeps no average', () => {
    const v = variable([1, 2]);
    const opt = averagedOptimizer();
    assert.deepEqual(withAveragedWeights(opt, () => Array.from(v.dataSync())), [1, 2]);
    const plain = sgd();
    run(plain, v, 1, () => [1, 1]);
    assert.throws(() => withAveragedWeights(plain, () => 0), {
      name: 'TypeError',
      message: /swapInAveragedWeights: sgd keeps no averaged weights/,
    });
    v.dispose();
    opt.dispose();
    plain.dispose();
  });
});

describe('hasAveragedWeights', () => {
  before(() => useBackend('cpu'));

  it('is true for averaged, schedule-free and wrappers around them, false otherwise, before and after the first step, leaking nothing', () => {
    const cases: [string, object, boolean][] = [
      ['averaged', {}, true],
      ['scheduleFreeSgd', {}, true],
      ['scheduleFreeAdamw', {}, true],
      ['lookahead', { inner: 'scheduleFreeAdamw' }, true],
      ['lookahead', {}, false],
      ['adamw', {}, false],
      ['muon', {}, false],
      ['dog', {}, false],
    ];
    const check = (opt: TransformOptimizer, label: string, want: boolean) => {
      const count = tf.memory().numTensors;
      assert.equal(hasAveragedWeights(opt), want, label);
      assert.equal(tf.memory().numTensors, count, `${label}: leaked`);
    };
    for (const [name, options, want] of cases) {
      const opt = createOptimizer(name, options);
      check(opt, `${name} ${JSON.stringify(options)} before a step`, want);
      const v = variable([1, 2]);
      run(opt, v, 1, () => [1, -1]);
      check(opt, `${name} ${JSON.stringify(options)} after a step`, want);
      v.dispose();
      opt.dispose();
    }
  });
});

describe('averaged weights in a training workflow', () => {
  before(() => useBackend('cpu'));

  it('model.fit trains at the iterates, model.evaluate inside withAveragedWeights runs at the average', async () => {
    const { x, y } = blobs(5);
    const model = mlp(5);
    const opt = averagedOptimizer({ inner: 'adamw', innerOptions: { learningRate: 0.02 }, average: 'ema', decay: 0.5 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    await model.fit(x, y, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
    const training = weightValues(model);
    const evaluate = () => (model.evaluate(x, y) as tf.Scalar).dataSync()[0];
    const atIterate = evaluate();
    const [atAverage, averaged] = withAveragedWeights(opt, () => [evaluate(), weightValues(model)] as const);
    // the weights inside are the ones in the optimizer's state (slot order: average/0, average/1, …)
    const slots = opt.stateSlots.filter((s) => /^average\/\d+$/.test(s.path));
    assert.equal(slots.length, training.length);
    slots.forEach((s, i) => assert.deepEqual(averaged[i], s.variable.dataSync()));
    assert.notEqual(atAverage, atIterate);
    assert.deepEqual(weightValues(model), training);
    assert.equal(evaluate(), atIterate);
    model.dispose();
    opt.dispose();
    tf.dispose([x, y]);
  });

  it('the average is state: setWeights and a directory checkpoint resume it exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orthoptim-averaging-'));
    try {
      const grad = (_x: Float32Array, t: number) => [Math.sin(t), Math.cos(t), 1];
      const make = () => averagedOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.1, momentum: 0.9 }, gamma: 8 });
      const [a, b, c] = [variable([1, 2, 3]), variable([1, 2, 3]), variable([1, 2, 3])];
      const oa = make();
      run(oa, a, 5, grad);
      const ob = make();
      await ob.setWeights(await oa.getWeights());
      await saveCheckpoint(oa, join(dir, 'ck'));
      const oc = make();
      await loadCheckpoint(oc, join(dir, 'ck'));
      b.assign(a);
      c.assign(a);
      for (const [o, v] of [[oa, a], [ob, b], [oc, c]] as const) run(o, v, 3, (x, t) => grad(x, t + 5));
      const want = withAveragedWeights(oa, () => Array.from(a.dataSync()));
      assert.deepEqual(withAveragedWeights(ob, () => Array.from(b.dataSync())), want);
      assert.deepEqual(withAveragedWeights(oc, () => Array.from(c.dataSync())), want);
      assert.notDeepEqual(want, Array.from(a.dataSync()));
      [oa, ob, oc].forEach((o) => o.dispose());
      tf.dispose([a, b, c]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restored state that waits for its first step is refused with what to do', async () => {
    const v = variable([1, 2]);
    const oa = averagedOptimizer({ inner: 'sgd' });
    run(oa, v, 2, () => [1, 1]);
    const ob = averagedOptimizer({ inner: 'sgd' });
    await ob.setWeights(await oa.getWeights());
    const before = Array.from(v.dataSync());
    assert.throws(() => swapInAveragedWeights(ob), /swapInAveragedWeights: averaged's state was restored and waits for the first step/);
    assert.deepEqual(Array.from(v.dataSync()), before);
    v.dispose();
    oa.dispose();
    ob.dispose();
  });

  it('with an average inside an average (averaged over scheduleFreeAdamw) the outermost one is used', () => {
    const v = variable([0.5, -0.5]);
    const opt = averagedOptimizer({ inner: scheduleFreeAdamw({ learningRate: 0.1 }), gamma: 0 });
    run(opt, v, 4, (x) => Array.from(x, (e) => 2 * e));
    const outer = opt.stateSlots.filter((s) => /^average\/\d+$/.test(s.path)).map((s) => Array.from(s.variable.dataSync()));
    const inner = opt.stateSlots.filter((s) => /^inner\/x\/\d+$/.test(s.path)).map((s) => Array.from(s.variable.dataSync()));
    assert.equal(outer.length, 1);
    assert.equal(inner.length, 1);
    assert.notDeepEqual(outer[0], inner[0]);
    assert.deepEqual(withAveragedWeights(opt, () => Array.from(v.dataSync())), outer[0]);
    v.dispose();
    opt.dispose();
  });
});
