/**
 * lookahead and accumulate (src/transforms/wrappers.ts): lookahead against its closed form on a
 * quadratic, and α = 1 equal to the inner chain; accumulate bit-identical to one step on the mean
 * gradient and to one step on the k-times-larger batch of a linear loss, zero updates in between, the
 * inner chain counting its own steps.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { runTransform, tensorsOf } from '../support/transforms.js';
import { chain } from '../../src/core/transform.js';
import { scaleByAdam } from '../../src/transforms/adam.js';
import { scaleByLearningRate } from '../../src/transforms/stepsize.js';
import { accumulate, lookahead } from '../../src/transforms/wrappers.js';
import { constant } from '../../src/schedules/index.js';

const sgd = (lr: number) => scaleByLearningRate(constant(lr));
const adam = () => chain(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false }), scaleByLearningRate(constant(0.1)));

describe('lookahead', () => {
  before(() => useBackend('cpu'));

  it('matches its closed form on f = ½x² (k = 2, α = 0.5): 0.9, 0.905, 0.8145, 0.819025, …', () => {
    const x0 = [tf.tensor1d([1, -2])];
    const { history, state } = runTransform(lookahead(sgd(0.1), { k: 2, alpha: 0.5 }), x0, (p) => [tf.clone(p[0])], 8);
    // float64 reference of the same algorithm
    let fast = 1;
    let slow = 1;
    const want: number[] = [];
    for (let t = 0; t < 8; t++) {
      fast = fast - 0.1 * fast;
      if ((t + 1) % 2 === 0) {
        slow = slow + 0.5 * (fast - slow);
        fast = slow;
      }
      want.push(fast);
    }
    assert.deepEqual(want.slice(0, 4).map((v) => Number(v.toFixed(6))), [0.9, 0.905, 0.8145, 0.819025]);
    history.forEach((p, t) => {
      assert.ok(Math.abs(p[0][0] - want[t]) < 1e-6, `step ${t}: ${p[0][0]} vs ${want[t]}`);
      assert.ok(Math.abs(p[0][1] + 2 * want[t]) < 2e-6, `step ${t}: ${p[0][1]} vs ${-2 * want[t]}`);
    });
    tf.dispose([...x0, ...tensorsOf(state)]);
  });

  it('with α = 1 it is the inner chain (Adam) itself, up to float32 rounding', () => {
    const x0 = [tf.tensor2d([[0.5, -1], [2, 0.3]])];
    const grad = (p: tf.Tensor[]) => [tf.sin(tf.mul(p[0], 2))];
    const a = runTransform(lookahead(adam(), { k: 3, alpha: 1 }), x0, grad, 9);
    const b = runTransform(adam(), x0, grad, 9);
    a.history.forEach((p, t) => p[0].forEach((v, j) => assert.ok(Math.abs(v - b.history[t][0][j]) < 1e-6, `step ${t} [${j}] ${v} vs ${b.history[t][0][j]}`)));
    tf.dispose([...x0, ...tensorsOf(a.state), ...tensorsOf(b.state)]);
  });
});

describe('accumulate', () => {
  before(() => useBackend('cpu'));

  // integer gradients: their sums and the division by 4 are exact in float32, so "bit-identical" is testable
  const grads = [
    [3, -1, 4, 1],
    [-5, 9, 2, -6],
    [5, 3, -5, 8],
    [9, -7, 9, 3],
    [2, 3, -8, 4],
    [6, -2, 6, 4],
    [3, 3, -8, 3],
    [2, 7, -9, 5],
  ];

  it('runs the inner chain (Adam, with bias correction) once every 4 calls on the mean gradient, bit-identically; zero updates in between', () => {
    const x0 = [tf.tensor1d([1, 2, 3, 4])];
    const acc = runTransform(accumulate(adam(), { every: 4 }), x0, (_p, t) => [tf.tensor1d(grads[t])], 8);
    const means = [0, 1].map((k) => grads.slice(4 * k, 4 * k + 4).reduce((s, g) => s.map((v, i) => v + g[i]), [0, 0, 0, 0]).map((v) => v / 4));
    const direct = runTransform(adam(), x0, (_p, t) => [tf.tensor1d(means[t])], 2);
    for (const t of [0, 1, 2]) assert.deepEqual(Array.from(acc.history[t][0]), [1, 2, 3, 4], `call ${t} moved the parameters`);
    assert.deepEqual(Array.from(acc.history[3][0]), Array.from(direct.history[0][0]));
    for (const t of [4, 5, 6]) assert.deepEqual(Array.from(acc.history[t][0]), Array.from(direct.history[0][0]), `call ${t} moved the parameters`);
    // the second inner step uses Adam's step-2 bias correction: equal to the direct run's second step
    assert.deepEqual(Array.from(acc.history[7][0]), Array.from(direct.history[1][0]));
    tf.dispose([...x0, ...tensorsOf(acc.state), ...tensorsOf(direct.state)]);
  });

  it('equals one step on the 4-times-larger batch of a linear loss (gradients by tf.grad), bit-identically', () => {
    // loss(w) = mean_i(w·x_i): 4 batches of 4 integer rows, against one batch of all 16
    const rows = Array.from({ length: 16 }, (_, i) => [((i * 7) % 11) - 5, ((i * 5) % 9) - 4, ((i * 3) % 7) - 3]);
    const lossGrad = (xs: number[][]) => (p: tf.Tensor[]) => [tf.grad((w: tf.Tensor) => tf.mean(tf.sum(tf.mul(tf.tensor2d(xs), w), 1)))(p[0])];
    const x0 = [tf.tensor1d([0.5, -0.25, 1])];
    const acc = runTransform(accumulate(sgd(0.5), { every: 4 }), x0, (p, t) => lossGrad(rows.slice(4 * t, 4 * t + 4))(p), 4);
    const big = runTransform(sgd(0.5), x0, lossGrad(rows), 1);
    assert.deepEqual(Array.from(acc.history[3][0]), Array.from(big.history[0][0]));
    assert.notDeepEqual(Array.from(big.history[0][0]), [0.5, -0.25, 1]);
    tf.dispose([...x0, ...tensorsOf(acc.state), ...tensorsOf(big.state)]);
  });
});
