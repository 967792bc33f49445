/**
 * The issue-14 claim measurements at toy sizes (src/bench/experiments/iwrm.ts, bloopPareto.ts): the
 * documented fields, the facts that tie them to the methods (same initial loss for every method at a
 * seed; λ = 0 makes every surgery the plain main-loss step), named errors, and no tensor leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import '../../src/index.js';
import { runIwrm } from '../../src/bench/experiments/iwrm.js';
import { runBloopPareto } from '../../src/bench/experiments/bloopPareto.js';

await useBackend('wasm');

describe('claim experiments (issue 14)', () => {
  it('IWRM: both methods from the same start, losses finite and different after training, no leaks', async () => {
    const before = tf.memory().numTensors;
    const s = await runIwrm({ examples: 32, testExamples: 40, hidden: 16, batch: 8, epochs: 1, lrs: [0.01], seeds: 1 });
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    assert.equal(s.format, 'orthoptim-iwrm/1');
    assert.equal(s.steps, 4);
    assert.deepEqual(
      s.runs.map((r) => [r.method, r.lr, r.seed, r.trainLoss.length, r.testAccuracy.length]),
      [['upgrad', 0.01, 0, 2, 2], ['mean', 0.01, 0, 2, 2]],
    );
    const [u, m] = s.runs;
    assert.equal(u.trainLoss[0], m.trainLoss[0], 'the same seeded init for both methods');
    assert.equal(u.testAccuracy[0], m.testAccuracy[0]);
    for (const r of s.runs) {
      assert.ok(r.trainLoss.every(Number.isFinite) && r.msPerStep > 0, `${r.method}: ${JSON.stringify(r)}`);
      assert.ok(r.trainLoss[1] < r.trainLoss[0], `${r.method} lowered the training loss: ${r.trainLoss.join(' → ')}`);
    }
    assert.notEqual(u.trainLoss[1], m.trainLoss[1], 'UPGrad and the mean step differ');
  });

  it('Bloop Pareto: at λ = 0 every method is the main-loss step; λ > 0 moves the aux loss; no leaks', async () => {
    const options = { steps: 2, batch: 16, examples: 64, testExamples: 40, seeds: 1, methods: ['bloop', 'bloop-no-ema', 'mixed'] };
    const before = tf.memory().numTensors;
    const zero = await runBloopPareto({ ...options, lambdas: [0] });
    const some = await runBloopPareto({ ...options, lambdas: [1] });
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    assert.equal(zero.format, 'orthoptim-bloop-pareto/1');
    assert.deepEqual(zero.runs.map((r) => [r.method, r.lambda, r.seed]), [['bloop', 0, 0], ['bloop-no-ema', 0, 0], ['mixed', 0, 0]]);
    for (const r of [...zero.runs, ...some.runs]) {
      assert.ok([r.trainLoss, r.testLoss, r.auxLoss, r.testAccuracy].every(Number.isFinite), JSON.stringify(r));
    }
    const [a, b, c] = zero.runs;
    assert.ok(a.trainLoss === b.trainLoss && b.trainLoss === c.trainLoss && a.auxLoss === c.auxLoss, `λ = 0: ${JSON.stringify(zero.runs)}`);
    const mixed = some.runs.find((r) => r.method === 'mixed')!;
    assert.ok(mixed.auxLoss < c.auxLoss, `the aux gradient lowers the aux loss: ${mixed.auxLoss} vs ${c.auxLoss}`);
    await assert.rejects(runBloopPareto({ ...options, methods: ['nope'] }), /runBloopPareto: unknown method nope \(known: bloop, bloop-ema-0\.1, bloop-no-ema, pcgrad-no-ema/);
  });
});
