/**
 * Wrappers over any optimizer (src/optimizers/wrappers.ts) and evaluation on the average
 * (src/tfjs/averaging.ts): the contract suite for lookahead, accumulate, cautious and averaged over
 * several inner optimizers; accumulate bit-identical to one step on the k-times-larger batch of a
 * linear loss; lookahead's closed form; the averages against their closed forms (polynomial decay
 * with γ = 0 the running mean, γ = 8 as a product of weights, the debiased EMA as a normalized sum);
 * the inner optimizer as a name or an instance; errors naming wrapper, option and
 * inner optimizer; configs with schedules inside innerOptions surviving JSON.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { createOptimizer, listOptimizers, optimizerFromConfig, warmupCosine, type TransformOptimizer } from '../../src/index.js';
import { accumulateOptimizer, adamw, averagedOptimizer, cautiousOptimizer, lookaheadOptimizer, sgd } from '../../src/tfjs/register.js';
import { withAveragedWeights } from '../../src/tfjs/averaging.js';

await useBackend('wasm');

optimizerContract('lookahead(adamw)', () => lookaheadOptimizer({ inner: 'adamw', innerOptions: { learningRate: 0.01 }, k: 3, alpha: 0.5 }), {
  zeroGradientKeepsWeights: false,
});
optimizerContract('lookahead(muon)', () =>
  lookaheadOptimizer({ inner: 'muon', innerOptions: { learningRate: 0.05, adamwLearningRate: 0.01, exclude: ['dense_Dense3'] }, k: 4, alpha: 0.8 }),
);
optimizerContract('accumulate(adam)', () => accumulateOptimizer({ inner: 'adam', innerOptions: { learningRate: 0.02 }, every: 2 }));
optimizerContract('cautious(sgd, momentum)', () => cautiousOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.1, momentum: 0.9 } }));
optimizerContract('averaged(dog)', () => averagedOptimizer({ inner: 'dog', innerOptions: { repsRel: 1e-3 }, average: 'polynomial', gamma: 8 }));
optimizerContract('averaged(adamw, ema)', () => averagedOptimizer({ inner: adamw({ learningRate: 0.01, weightDecay: 0 }), average: 'ema', decay: 0.9 }));

let uid = 0;
const variable = (values: number[]) => tf.tidy(() => tf.variable(tf.tensor1d(values), true, `wrappers${uid++}/w`));

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

describe('wrappers are registered optimizers', () => {
  it('listOptimizers names lookahead, accumulate, cautious and averaged with their paper, reference and options', () => {
    for (const [name, own] of [['lookahead', ['k', 'alpha']], ['accumulate', ['every']], ['cautious', ['epsilon']], ['averaged', ['average', 'gamma', 'decay']]] as const) {
      const info = listOptimizers().find((o) => o.name === name);
      assert.ok(info, name);
      assert.deepEqual(info.options, ['inner', 'innerOptions', ...own], name);
      assert.ok(info.paper.length > 10 && info.reference.includes(':'), name);
    }
  });
});

describe('accumulate over an optimizer', () => {
  before(() => useBackend('cpu'));

  it('four minimize calls on quarter batches of a linear loss are bit-identical to one sgd step on the whole batch', () => {
    // loss(w) = mean_i(x_i·w) over integer rows: gradients, their sums and the division by 4 are exact
    const rows = Array.from({ length: 16 }, (_, i) => [((i * 7) % 11) - 5, ((i * 5) % 9) - 4, ((i * 3) % 7) - 3]);
    const loss = (w: tf.Variable, xs: number[][]) => () => tf.mean(tf.sum(tf.mul(tf.tensor2d(xs), w), 1)) as tf.Scalar;
    const wa = variable([0.5, -0.25, 1]);
    const wb = variable([0.5, -0.25, 1]);
    const acc = accumulateOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.5 }, every: 4 });
    const big = sgd({ learningRate: 0.5 });
    for (let t = 0; t < 4; t++) {
      acc.minimize(loss(wa, rows.slice(4 * t, 4 * t + 4)), false, [wa]);
      if (t < 3) assert.deepEqual(Array.from(wa.dataSync()), [0.5, -0.25, 1], `call ${t} moved the weights`);
    }
    big.minimize(loss(wb, rows), false, [wb]);
    assert.deepEqual(Array.from(wa.dataSync()), Array.from(wb.dataSync()));
    assert.notDeepEqual(Array.from(wb.dataSync()), [0.5, -0.25, 1]);
    assert.equal(acc.step, 4);
    tf.dispose([wa, wb]);
    acc.dispose();
    big.dispose();
  });
});

describe('lookahead over an optimizer', () => {
  before(() => useBackend('cpu'));

  it('matches the closed form on f = ½x² with sgd(0.1), k = 2, α = 0.5: 0.9, 0.905, 0.8145, 0.819025, …', () => {
    const v = variable([1, -2]);
    const got = run(lookaheadOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.1 }, k: 2, alpha: 0.5 }), v, 8, (x) => Array.from(x));
    let fast = 1;
    let slow = 1;
    got.forEach((x, t) => {
      fast *= 0.9;
      if ((t + 1) % 2 === 0) fast = slow = slow + 0.5 * (fast - slow);
      assert.ok(Math.abs(x[0] - fast) < 1e-6 && Math.abs(x[1] + 2 * fast) < 2e-6, `step ${t}: ${x[0]}, ${x[1]} vs ${fast}`);
    });
    assert.deepEqual(got.slice(0, 4).map((x) => Number(x[0].toFixed(6))), [0.9, 0.905, 0.8145, 0.819025]);
    v.dispose();
  });

  it('wrapping an optimizer instance is wrapping its name and options', () => {
    const [a, b] = [variable([1, 2, -3]), variable([1, 2, -3])];
    const byName = lookaheadOptimizer({ inner: 'adamw', innerOptions: { learningRate: 0.05, beta1: 0.8 }, k: 3 });
    const byInstance = lookaheadOptimizer({ inner: adamw({ learningRate: 0.05, beta1: 0.8 }), k: 3 });
    const grad = (x: Float32Array) => Array.from(x, (v) => Math.sin(2 * v));
    assert.deepEqual(run(byName, a, 7, grad), run(byInstance, b, 7, grad));
    assert.deepEqual(byInstance.getConfig(), byName.getConfig());
    tf.dispose([a, b]);
    byName.dispose();
    byInstance.dispose();
  });
});

describe('cautious over an optimizer', () => {
  before(() => useBackend('cpu'));

  it('drops the coordinates where sgd-momentum disagrees with the gradient and rescales by n/(Σφ + ε)', () => {
    const v = variable([0, 0, 0, 0]);
    const grads = [[1, 1, 1, 1], [-1, 1, -0.5, 2]];
    const got = run(cautiousOptimizer({ inner: 'sgd', innerOptions: { learningRate: 1, momentum: 0.9 } }), v, 2, (_x, t) => grads[t]);
    // step 1: buf = g₁, all agree: −buf·4/(4 + 1)
    assert.deepEqual(Array.from(got[0]), [-0.8, -0.8, -0.8, -0.8].map(Math.fround));
    // step 2: buf = 0.9·g₁ + g₂ = [−0.1, 1.9, 0.4, 2.9]; buf ⊙ g₂ < 0 at [2]: dropped, the rest ×4/(3 + 1)
    const want = [-0.8 + 0.1, -0.8 - 1.9, -0.8, -0.8 - 2.9];
    got[1].forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `[${i}] ${x} vs ${want[i]}`));
    v.dispose();
  });

  it('with epsilon 0 and every coordinate agreeing it is the inner optimizer itself', () => {
    const [a, b] = [variable([1, -2, 3]), variable([1, -2, 3])];
    const grad = (x: Float32Array) => Array.from(x);
    const c = run(cautiousOptimizer({ inner: 'adam', innerOptions: { learningRate: 0.1 }, epsilon: 0 }), a, 4, grad);
    const plain = run(createOptimizer('adam', { learningRate: 0.1 }), b, 4, grad);
    assert.deepEqual(c, plain);
    tf.dispose([a, b]);
  });
});

describe('averaged: the average against its closed form', () => {
  before(() => useBackend('cpu'));

  /** Iterates of sgd(0.1) on fixed pseudo-random gradients, and the average the optimizer keeps, after `steps`. */
  function iteratesAndAverage(options: object, steps: number) {
    const v = variable([0.3, -1.2, 2.5]);
    const opt = averagedOptimizer({ inner: 'sgd', innerOptions: { learningRate: 0.1 }, ...options });
    const iterates = run(opt, v, steps, (_x, t) => Array.from(gaussian(3, 50 + t)));
    const average = withAveragedWeights(opt, () => v.dataSync().slice());
    assert.deepEqual(v.dataSync(), iterates[steps - 1], 'the training weights are back');
    v.dispose();
    opt.dispose();
    return { iterates, average };
  }

  it('polynomial decay with γ = 0 is the running mean of the iterates', () => {
    const { iterates, average } = iteratesAndAverage({ average: 'polynomial', gamma: 0 }, 7);
    for (let j = 0; j < 3; j++) {
      const mean = iterates.reduce((s, x) => s + x[j], 0) / 7;
      assert.ok(Math.abs(average[j] - mean) < 1e-6, `[${j}] ${average[j]} vs ${mean}`);
    }
  });

  it('polynomial decay with γ = 8: x̄ₜ = Σᵢ cᵢ·Πⱼ₌ᵢ₊₁..ₜ(1 − cⱼ)·xᵢ, cᵢ = 9/(i + 8), the first weight 1', () => {
    const t = 6;
    const { iterates, average } = iteratesAndAverage({}, t);
    const c = (i: number) => 9 / (i + 8);
    assert.equal(c(1), 1);
    for (let j = 0; j < 3; j++) {
      let want = 0;
      for (let i = 1; i <= t; i++) {
        let w = c(i);
        for (let k = i + 1; k <= t; k++) w *= 1 - c(k);
        want += w * iterates[i - 1][j];
      }
      assert.ok(Math.abs(average[j] - want) < 1e-6, `[${j}] ${average[j]} vs ${want}`);
    }
    // a real average: not the last iterate
    assert.ok(Math.abs(average[0] - iterates[t - 1][0]) > 1e-3);
  });

  it('the debiased EMA: x̄ₜ = Σᵢ (1−d)·dᵗ⁻ⁱ·xᵢ / (1 − dᵗ), so one step gives x₁ itself', () => {
    const d = 0.7;
    const one = iteratesAndAverage({ average: 'ema', decay: d }, 1);
    assert.deepEqual(Array.from(one.average), Array.from(one.iterates[0]));
    const t = 5;
    const { iterates, average } = iteratesAndAverage({ average: 'ema', decay: d }, t);
    for (let j = 0; j < 3; j++) {
      let want = 0;
      for (let i = 1; i <= t; i++) want += (1 - d) * d ** (t - i) * iterates[i - 1][j];
      want /= 1 - d ** t;
      assert.ok(Math.abs(average[j] - want) < 1e-6, `[${j}] ${average[j]} vs ${want}`);
    }
  });
});

describe('wrapper options and configs', () => {
  it('errors name the wrapper, the option and the inner optimizer', () => {
    assert.throws(() => lookaheadOptimizer({ inner: 'nope' }), {
      name: 'RangeError',
      message: /^lookahead: inner must be the name of a registered optimizer or an orthoptim optimizer \(known: sgd, adam, adamw,.*\), got 'nope'$/,
    });
    assert.throws(() => lookaheadOptimizer({ innerOptions: { beta1: 1.5 } }), {
      name: 'RangeError',
      message: 'lookahead: innerOptions: adamw: beta1 must be in [0, 1), got 1.5',
    });
    assert.throws(() => accumulateOptimizer({ inner: 'sgd', innerOptions: { momentun: 0.9 } }), {
      name: 'RangeError',
      message: /^accumulate: innerOptions: sgd: unknown option 'momentun' \(known: learningRate, momentum,/,
    });
    assert.throws(() => accumulateOptimizer({ inner: 'sgd', innerOptions: 3 as never }), {
      name: 'RangeError',
      message: "accumulate: innerOptions must be an object of sgd's options, got 3",
    });
    assert.throws(() => lookaheadOptimizer({ inner: adamw(), innerOptions: {} }), /lookahead: innerOptions must not be given with an optimizer as inner/);
    assert.throws(() => lookaheadOptimizer({ inner: adamw({ clipGlobalNorm: 1 }) }), /lookahead: the inner adamw has nonFinite\/clipGlobalNorm\/engine set; give them to lookahead instead/);
    assert.throws(() => lookaheadOptimizer({ k: 0 }), { name: 'RangeError', message: 'lookahead: k must be an integer in [1, inf), got 0' });
    assert.throws(() => lookaheadOptimizer({ alpha: 0 }), { name: 'RangeError', message: 'lookahead: alpha must be in (0, 1], got 0' });
    assert.throws(() => accumulateOptimizer({ every: 1.5 }), { name: 'RangeError', message: 'accumulate: every must be an integer in [1, inf), got 1.5' });
    assert.throws(() => averagedOptimizer({ average: 'mean' as never }), { name: 'RangeError', message: "averaged: average must be one of 'polynomial', 'ema', got 'mean'" });
  });

  it('a schedule inside innerOptions and a wrapper inside a wrapper survive JSON and optimizerFromConfig', () => {
    const opt = createOptimizer('lookahead', {
      inner: 'accumulate',
      innerOptions: { inner: 'adamw', innerOptions: { learningRate: warmupCosine({ peak: 1e-3, warmupSteps: 10, decaySteps: 100 }) }, every: 3 },
      k: 4,
    });
    const config = JSON.parse(JSON.stringify(opt.getConfig())) as Record<string, unknown>;
    assert.equal(config.inner, 'accumulate');
    assert.equal((config.innerOptions as Record<string, unknown>).inner, 'adamw');
    const back = optimizerFromConfig('lookahead', config);
    assert.deepEqual(back.getConfig(), opt.getConfig());
    // and it trains the same
    const [a, b] = [variable([1, -1]), variable([1, -1])];
    const grad = (x: Float32Array) => Array.from(x, (v) => v - 0.5);
    assert.deepEqual(run(opt, a, 12, grad), run(back, b, 12, grad));
    tf.dispose([a, b]);
    opt.dispose();
    back.dispose();
  });
});
