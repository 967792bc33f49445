/**
 * scheduleFreeSgd and scheduleFreeAdamw (src/optimizers/scheduleFree.ts): a float64 re-derivation of
 * facebookresearch/schedule_free's reference optimizers (SGDScheduleFreeReference,
 * AdamWScheduleFreeReference) for several steps with warmup, r, weightLrPower and weight decay; the
 * y/z/x sequences (parameters at y, the average x swapped in by withAveragedWeights); optax's
 * schedule_free_sgd doctest on f = ‖x‖²; options; and the contract suite (leaks, NaN, checkpoints,
 * model.save).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { listOptimizers, type TransformOptimizer } from '../../src/index.js';
import { scheduleFreeAdamw, scheduleFreeSgd } from '../../src/tfjs/register.js';
import { withAveragedWeights } from '../../src/tfjs/averaging.js';

await useBackend('wasm');

optimizerContract('scheduleFreeSgd', () => scheduleFreeSgd({ learningRate: 0.5, warmupSteps: 5, weightDecay: 1e-4 }), {
  zeroGradientKeepsWeights: false,
});
optimizerContract('scheduleFreeAdamw', () => scheduleFreeAdamw({ learningRate: 0.01, warmupSteps: 5, weightDecay: 0.01 }), {
  zeroGradientKeepsWeights: false,
});
optimizerContract('scheduleFreeAdamw (no decay)', () => scheduleFreeAdamw({ learningRate: 0.01 }));

interface Reference {
  readonly base: 'sgd' | 'adam';
  readonly lr: number;
  readonly beta: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly r: number;
  readonly weightLrPower: number;
}

/**
 * The reference optimizers' step in float64, written from sgd_schedulefree_reference.py /
 * adamw_schedulefree_reference.py: returns y (the parameters) and x after each step.
 */
function reference64(o: Reference, x0: number[], grad: (y: number[], k: number) => number[], steps: number) {
  const z = [...x0];
  const x = [...x0];
  const y = [...x0];
  const v = x0.map(() => 0);
  let lrMax = -1;
  let weightSum = 0;
  const out: { y: number[]; x: number[] }[] = [];
  for (let k = 0; k < steps; k++) {
    const sched = k < o.warmupSteps ? (k + 1) / o.warmupSteps : 1;
    const lr = o.lr * sched * (o.base === 'adam' ? Math.sqrt(1 - o.beta2! ** (k + 1)) : 1);
    lrMax = Math.max(lr, lrMax);
    const weight = (k + 1) ** o.r * lrMax ** o.weightLrPower;
    weightSum += weight;
    const ckp1 = weightSum === 0 ? 0 : weight / weightSum;
    const g = grad([...y], k);
    for (let i = 0; i < x0.length; i++) {
      if (o.base === 'sgd') {
        const gi = g[i] + o.weightDecay * y[i];
        z[i] -= lr * gi;
      } else {
        z[i] -= lr * o.weightDecay * y[i];
        v[i] = o.beta2! * v[i] + (1 - o.beta2!) * g[i] * g[i];
        z[i] -= (lr * g[i]) / (Math.sqrt(v[i]) + o.eps!);
      }
      x[i] = (1 - ckp1) * x[i] + ckp1 * z[i];
      y[i] = o.beta * x[i] + (1 - o.beta) * z[i];
    }
    out.push({ y: [...y], x: [...x] });
  }
  return out;
}

let uid = 0;

/** Steps `opt` from x0 with `grad` at the parameters; returns the parameters (y) and withAveragedWeights' view (x) after each step. */
function run(opt: TransformOptimizer, x0: number[], grad: (y: number[], k: number) => number[], steps: number) {
  const v = tf.tidy(() => tf.variable(tf.tensor1d(x0), true, `scheduleFree${uid++}/w`));
  const out: { y: number[]; x: number[] }[] = [];
  for (let k = 0; k < steps; k++) {
    const g = tf.tensor1d(grad(Array.from(v.dataSync()), k));
    opt.applyGradients([{ name: v.name, tensor: g }]);
    g.dispose();
    out.push({ y: Array.from(v.dataSync()), x: withAveragedWeights(opt, () => Array.from(v.dataSync())) });
  }
  v.dispose();
  opt.dispose();
  return out;
}

function close(got: number[], want: number[], tol: number, label: string): void {
  got.forEach((g, i) => {
    const err = Math.abs(g - want[i]) / Math.max(1, Math.abs(want[i]));
    assert.ok(err < tol, `${label}[${i}]: ${g} vs ${want[i]} (${err.toExponential(2)})`);
  });
}

const x0 = Array.from(gaussian(6, 7));
/** A quadratic with a curvature per coordinate, plus a fixed pseudo-random term per step. */
const grad = (y: number[], k: number) => {
  const noise = gaussian(y.length, 100 + k);
  return y.map((v, i) => (0.5 + i) * v + 0.3 * noise[i]);
};

describe('schedule-free against a float64 re-derivation of the reference optimizers', () => {
  before(() => useBackend('cpu'));

  const cases: { name: string; make: () => TransformOptimizer; ref: Reference }[] = [
    {
      name: 'sgd, defaults but lr 0.1',
      make: () => scheduleFreeSgd({ learningRate: 0.1 }),
      ref: { base: 'sgd', lr: 0.1, beta: 0.9, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 },
    },
    {
      name: 'sgd, warmup 4, r 1, weightLrPower 1, weight decay 0.05, momentum 0.8',
      make: () => scheduleFreeSgd({ learningRate: 0.2, warmupSteps: 4, r: 1, weightLrPower: 1, weightDecay: 0.05, momentum: 0.8 }),
      ref: { base: 'sgd', lr: 0.2, beta: 0.8, weightDecay: 0.05, warmupSteps: 4, r: 1, weightLrPower: 1 },
    },
    {
      name: 'adamw, defaults but lr 0.05',
      make: () => scheduleFreeAdamw({ learningRate: 0.05 }),
      ref: { base: 'adam', lr: 0.05, beta: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 },
    },
    {
      name: 'adamw, warmup 3, r 0.5, weight decay 0.1, β = (0.95, 0.99)',
      make: () => scheduleFreeAdamw({ learningRate: 0.05, warmupSteps: 3, r: 0.5, weightDecay: 0.1, beta1: 0.95, beta2: 0.99 }),
      ref: { base: 'adam', lr: 0.05, beta: 0.95, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, warmupSteps: 3, r: 0.5, weightLrPower: 2 },
    },
  ];
  for (const { name, make, ref } of cases) {
    it(`${name}: y (the parameters) and x (the average) over 10 steps, within 2e-6`, () => {
      const got = run(make(), x0, grad, 10);
      const want = reference64(ref, x0, grad, 10);
      got.forEach((s, k) => {
        close(s.y, want[k].y, 2e-6, `step ${k} y`);
        close(s.x, want[k].x, 2e-6, `step ${k} x`);
      });
      // the sequences differ: evaluation really runs elsewhere than training
      assert.ok(Math.abs(got[9].x[0] - got[9].y[0]) > 1e-4);
    });
  }

  it("optax's schedule_free_sgd doctest on f = ‖x‖² from [1, 2, 3]: f(x) = 14, ~0, 0.996, 0.806, 0.241", () => {
    const f = (x: number[]) => x.reduce((s, v) => s + v * v, 0);
    const got = run(scheduleFreeSgd({}), [1, 2, 3], (y) => y.map((v) => 2 * v), 5).map((s) => f(s.x));
    const want = [14.0, 0, 0.996, 0.806, 0.241];
    got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) < (k === 1 ? 1e-10 : 5e-3 * want[k]), `step ${k}: f(x) = ${v} vs ${want[k]}`));
  });

  it('weights that overflow float32 (lr = 1e30: lr² = ∞; r = 1e30: 2ʳ = ∞) still give their limit, not NaN', () => {
    // r → ∞: the newest iterate takes all the weight, cₜ = 1, so x = z = y and the method is plain SGD
    const got = run(scheduleFreeSgd({ learningRate: 0.1, r: 1e30 }), [1, -2], () => [1, 1], 4);
    got.forEach((s, k) => {
      close(s.y, [1 - 0.1 * (k + 1), -2 - 0.1 * (k + 1)], 1e-6, `r = 1e30, step ${k} y`);
      close(s.x, s.y, 1e-6, `r = 1e30, step ${k} x`);
    });
    // a constant lr of 1e30 weighs every step alike: the float64 reference with lr 1 scaled by 1e30 (linear loss)
    const big = run(scheduleFreeAdamw({ learningRate: 1e30 }), [0, 0], (_y, k) => [1, k % 2 === 0 ? -1 : 2], 5);
    const unit = reference64({ base: 'adam', lr: 1, beta: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, warmupSteps: 0, r: 0, weightLrPower: 2 }, [0, 0], (_y, k) => [1, k % 2 === 0 ? -1 : 2], 5);
    big.forEach((s, k) => {
      close(s.y.map((v) => v / 1e30), unit[k].y, 1e-5, `lr = 1e30, step ${k} y`);
      close(s.x.map((v) => v / 1e30), unit[k].x, 1e-5, `lr = 1e30, step ${k} x`);
    });
  });

  it('adamw: a gradient of 1e20 saturates v at float32 max instead of Inf: state and weights stay finite', () => {
    const opt = scheduleFreeAdamw({ learningRate: 0.01 });
    const v = tf.tidy(() => tf.variable(tf.tensor1d([1, -1]), true, `scheduleFree${uid++}/w`));
    const history: number[][] = [];
    for (const g of [[1e20, -1e20], [1, 1], [1, 1]]) {
      const t = tf.tensor1d(g);
      opt.applyGradients([{ name: v.name, tensor: t }]);
      t.dispose();
      history.push(Array.from(v.dataSync()));
    }
    for (const slot of opt.stateSlots) assert.ok(slot.variable.dataSync().every(Number.isFinite), `state ${slot.path} not finite`);
    assert.ok(history.flat().every(Number.isFinite));
    v.dispose();
    opt.dispose();
  });

  it('x = z = y at the first step with lr 0 (no weight yet: the average stays at the start)', () => {
    const got = run(scheduleFreeSgd({ learningRate: 0 }), [1, -2], (y) => y, 3);
    for (const s of got) {
      assert.deepEqual(s.y, [1, -2]);
      assert.deepEqual(s.x, [1, -2]);
    }
  });
});

describe('schedule-free options', () => {
  it('are registered with the paper and the reference, and validated naming the option', () => {
    for (const name of ['scheduleFreeSgd', 'scheduleFreeAdamw']) {
      const info = listOptimizers().find((o) => o.name === name);
      assert.ok(info && info.paper.includes('Road Less Scheduled') && info.reference.startsWith('facebookresearch/schedule_free'), name);
      assert.ok(['warmupSteps', 'r', 'weightLrPower', 'weightDecay'].every((k) => info.options.includes(k)), name);
    }
    assert.throws(() => scheduleFreeSgd({ momentum: 0 }), { name: 'RangeError', message: 'scheduleFreeSgd: momentum must be in (0, 1), got 0' });
    assert.throws(() => scheduleFreeAdamw({ beta1: 1 }), { name: 'RangeError', message: 'scheduleFreeAdamw: beta1 must be in (0, 1), got 1' });
    assert.throws(() => scheduleFreeAdamw({ warmupSteps: 2.5 }), { name: 'RangeError', message: 'scheduleFreeAdamw: warmupSteps must be an integer in [0, inf), got 2.5' });
    assert.throws(() => scheduleFreeSgd({ weightLrPower: -1 }), { name: 'RangeError', message: 'scheduleFreeSgd: weightLrPower must be in [0, inf), got -1' });
    assert.throws(() => scheduleFreeSgd({ learningRate: 10, weightDecay: 0.5 }), /scheduleFreeSgd: learningRate × weightDecay must be at most 1/);
    const d = scheduleFreeAdamw().resolved;
    assert.deepEqual([d.learningRate, d.beta1, d.beta2, d.epsilon, d.weightDecay, d.warmupSteps, d.r, d.weightLrPower], [0.0025, 0.9, 0.999, 1e-8, 0, 0, 0, 2]);
    const s = scheduleFreeSgd().resolved;
    assert.deepEqual([s.learningRate, s.momentum, s.weightDecay, s.warmupSteps, s.r, s.weightLrPower], [1, 0.9, 0, 0, 0, 2]);
  });
});
