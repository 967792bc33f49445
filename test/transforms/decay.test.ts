/**
 * src/transforms/decay.ts: addDecayedWeights adds λ·W, λ = 0 passes the update through; placed after
 * the geometry it is decoupled weight decay (W·(1 − ηλ)ᵏ on a zero gradient), placed before Adam it is
 * L2 regularization (the decay goes through Adam's normalization) — both forms by hand.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { assertClose, runTransform, tensorsOf } from '../support/transforms.js';
import { chain, type ParamMeta } from '../../src/core/transform.js';
import { addDecayedWeights } from '../../src/transforms/decay.js';
import { scaleByAdam } from '../../src/transforms/adam.js';
import { scaleByLearningRate } from '../../src/transforms/stepsize.js';
import { constant } from '../../src/schedules/index.js';

const adam = () => scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false });

describe('addDecayedWeights', () => {
  before(() => useBackend('cpu'));

  it('u + λ·W per parameter, from the context params; stateless', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [2] }];
    const u = [tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([0, -1])];
    const p = [tf.tensor2d([[10, -20], [0.5, 0]]), tf.tensor1d([4, 8])];
    const t = addDecayedWeights(0.1);
    assert.equal(t.init(metas), null);
    const r = t.update(u, null, { step: 3, params: p, metas });
    assertClose(r.updates[0].dataSync(), [2, 0, 3.05, 4], 1e-6, 'w');
    assertClose(r.updates[1].dataSync(), [0.4, -0.2], 1e-6, 'b');
    assert.equal(r.state, null);
    tf.dispose([...u, ...p, ...r.updates]);
  });

  it('λ = 0 is the identity: the very same tensors come back, nothing allocated', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [3] }];
    const u = [tf.tensor1d([1, 2, 3])];
    const p = [tf.tensor1d([5, 5, 5])];
    const before = tf.memory().numTensors;
    const out = addDecayedWeights(0).update(u, null, { step: 0, params: p, metas }).updates;
    assert.equal(out[0], u[0]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([...u, ...p]);
  });

  it('decoupled (after Adam, before the learning rate): a zero gradient gives W·(1 − ηλ)ᵏ exactly', () => {
    const eta = 0.1;
    const lambda = 0.5;
    const t = chain(adam(), addDecayedWeights(lambda), scaleByLearningRate(constant(eta)));
    const w0 = [3, -1, 0.25];
    const { history, state } = runTransform(t, [tf.tensor1d(w0)], () => [tf.zeros([3])], 5);
    history.forEach((h, k) => assertClose(h[0], w0.map((w) => w * (1 - eta * lambda) ** (k + 1)), 1e-6, `step ${k}`));
    tf.dispose(tensorsOf(state));
  });

  it('L2 (before Adam): the decay gradient λW is normalized by Adam, so step 1 moves every entry by ≈ η·sign(W)', () => {
    const eta = 0.1;
    const lambda = 2;
    const t = chain(addDecayedWeights(lambda), adam(), scaleByLearningRate(constant(eta)));
    const w0 = [3, -1, 0.25];
    const { history, state } = runTransform(t, [tf.tensor1d(w0)], () => [tf.zeros([3])], 1);
    tf.dispose(tensorsOf(state));
    // step 1 of Adam on g = λW is g/(|g| + ε) ≈ sign(W): W₁ = W₀ − η·sign(W₀) (2.9), not W₀·(1 − ηλ) (2.4)
    assertClose(history[0][0], w0.map((w) => w - eta * Math.sign(w)), 1e-6, 'L2 step 1');
    assert.ok(Math.abs(history[0][0][0] - 3 * (1 - eta * lambda)) > 0.1);
  });

  it('the decay reads the params of the step (after a step the new W decays)', () => {
    const t = chain(addDecayedWeights(1), scaleByLearningRate(constant(0.5)));
    // g = 0: W ← W − 0.5·W = W/2 each step
    const { history } = runTransform(t, [tf.tensor1d([8])], () => [tf.zeros([1])], 3);
    assert.deepEqual(history.map((h) => h[0][0]), [4, 2, 1]);
  });
});
