/**
 * AMSGrad's reason to exist (Reddi, Kale, Kumar, "On the Convergence of Adam and Beyond", ICLR 2018,
 * §3): the online convex problem f_t(x) = C·x when t ≡ 1 (mod 3), −x otherwise, on x ∈ [−1, 1]
 * (projected after each step), with C > 2 — the minimizer of the average loss (C − 2)·x/3 is x = −1.
 * With β₁ = 0 and β₂ = 1/(1 + C²) Adam's second moment forgets the rare large gradient within one
 * period, so the two small steps outweigh the large one and x drifts to +1, the worst point; AMSGrad's
 * running maximum keeps the large gradient's scale and x goes to −1. Our constants: C = 3 (β₂ = 0.1),
 * learning rate 0.01 (constant), 3,000 steps from x = 0; a float64 simulation of the same recurrences
 * ends at Adam +1, AMSGrad −0.993.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { adam } from '../../src/tfjs/register.js';

const C = 3;
const STEPS = 3000;

function train(amsgrad: boolean): { final: number; meanLoss: number } {
  const x = tf.variable(tf.scalar(0), true, `amsgradCounterexample/${amsgrad}`);
  const opt = adam({ learningRate: 0.01, beta1: 0, beta2: 1 / (1 + C * C), epsilon: 1e-8, amsgrad });
  let lossSum = 0;
  let lossCount = 0;
  try {
    for (let t = 1; t <= STEPS; t++) {
      const slope = t % 3 === 1 ? C : -1;
      if (t > STEPS - 300) {
        lossSum += slope * x.dataSync()[0];
        lossCount++;
      }
      const g = tf.scalar(slope);
      opt.applyGradients({ [x.name]: g });
      g.dispose();
      tf.tidy(() => x.assign(tf.clipByValue(x, -1, 1)));
    }
    return { final: x.dataSync()[0], meanLoss: lossSum / lossCount };
  } finally {
    opt.dispose();
    x.dispose();
  }
}

describe('AMSGrad vs Adam on Reddi et al.’s counterexample', () => {
  before(() => useBackend('cpu'));

  it('Adam converges to the worst point x = +1; AMSGrad to the minimizer x = −1', () => {
    const a = train(false);
    const m = train(true);
    assert.ok(a.final >= 0.99, `Adam ends at ${a.final}`);
    assert.ok(m.final <= -0.95, `AMSGrad ends at ${m.final}`);
    // the average loss over the last 100 periods: (C − 2)/3·x, positive for Adam, negative for AMSGrad
    assert.ok(a.meanLoss > 0.3, `Adam's mean loss ${a.meanLoss}`);
    assert.ok(m.meanLoss < -0.3, `AMSGrad's mean loss ${m.meanLoss}`);
  });
});
