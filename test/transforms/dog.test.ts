/**
 * DoG / L-DoG step sizes (src/transforms/dog.ts) as a transform, replayed against formll/dog's own
 * trajectories (test/fixtures/golden dog__* / ldog__*), and the properties of the spec
 * (../shared/specs/seed-methods.md B1): the first step's length, loss-scale invariance, monotone r̄ and
 * G, L-DoG = DoG on one tensor.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, loadGolden, normwiseDeviation, requireGolden, torchTensor } from '../support/golden.js';
import { chain, type GradientTransformation, type ParamMeta } from '../../src/core/transform.js';
import { disposeReplaced, runTransform as run, tidyStep } from '../support/transforms.js';
import { scaleByDistanceOverGradients, scaleByDowg } from '../../src/transforms/dog.js';
import { addDecayedWeights } from '../../src/transforms/decay.js';
import { scaleByLearningRate } from '../../src/transforms/stepsize.js';
import { constant } from '../../src/schedules/index.js';

/** DoG's recipe shape: L2 weight decay into the gradient, the step size, then −c. */
function dogChain(h: { reps_rel: number; lr: number; weight_decay: number; eps: number; init_eta?: number }, granularity: 'global' | 'perTensor'): GradientTransformation {
  const learningRate = constant(h.lr);
  return chain(
    addDecayedWeights(h.weight_decay),
    scaleByDistanceOverGradients({ granularity, repsRel: h.reps_rel, initEta: h.init_eta, epsilon: h.eps, learningRate }),
    scaleByLearningRate(learningRate),
  );
}

describe('DoG / L-DoG (transform)', () => {
  before(() => useBackend('cpu'));

  const cases = [...goldenCases('dog'), ...goldenCases('ldog')];
  it('finds the golden files (3 dog, 2 ldog)', (t) => {
    if (!requireGolden(t)) return;
    assert.equal(cases.length, 5, cases.join(', '));
  });

  for (const name of cases) {
    it(`replays ${name} within the golden tolerance (1e-5 of max |x| per tensor) for 5 steps`, (t) => {
      if (!requireGolden(t)) return;
      const g = loadGolden(name);
      const h = g.hyperparams as { reps_rel: number; lr: number; weight_decay: number; eps: number; init_eta?: number };
      const order = g.param_order!;
      const x0 = order.map((p) => torchTensor(g.params![p]));
      const transform = dogChain(h, name.startsWith('ldog') ? 'perTensor' : 'global');
      const before = tf.memory().numTensors;
      const { history, state } = run(transform, x0, (_p, step) => order.map((p) => torchTensor(g.steps![step].grads[p])), g.steps!.length);
      let worst = 0;
      history.forEach((params, step) => order.forEach((p, i) => (worst = Math.max(worst, normwiseDeviation(params[i], g.steps![step].params[p].data)))));
      t.diagnostic(`worst normwise deviation ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-5, `${name}: deviation ${worst}`);
      tf.dispose(state as tf.TensorContainer);
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      tf.dispose(x0);
    });
  }

  it('first step has length r_ε: x₀ = [1,2,3], f = ‖x‖², repsRel 1e-6 → η₀ = 6.336306e-7', () => {
    const x0 = tf.tensor1d([1, 2, 3]);
    const metas: ParamMeta[] = [{ name: 'x', shape: [3] }];
    const t = dogChain({ reps_rel: 1e-6, lr: 1, weight_decay: 0, eps: 1e-8 }, 'global');
    const state = t.init(metas);
    const g = tf.mul(x0, 2);
    const r = t.update([g], state, { step: 0, params: [x0], metas });
    const step = Array.from(r.updates[0].dataSync());
    const eta0 = 4.741657e-6 / Math.sqrt(56 + 1e-8);
    assert.ok(Math.abs(eta0 - 6.336306e-7) < 1e-12);
    step.forEach((d, i) => assert.ok(Math.abs(d + eta0 * 2 * [1, 2, 3][i]) < 1e-6 * eta0 * 6, `step[${i}] = ${d}`));
    assert.ok(Math.abs(Math.hypot(...step) - 4.741657e-6) < 1e-6 * 4.741657e-6, `‖x₁ − x₀‖ = ${Math.hypot(...step)}`);
    tf.dispose([x0, g, ...r.updates, state as tf.TensorContainer, r.state as tf.TensorContainer]);
  });

  for (const granularity of ['global', 'perTensor'] as const) {
    it(`${granularity}: multiplying the loss by 1000 leaves the trajectory unchanged`, () => {
      const x0 = [tf.tensor2d([[0.5, -1], [2, 0.3]]), tf.tensor1d([1, -2, 0.5])];
      // f = Σ (x − a)²·w over both tensors: a fixed quadratic, so the runs are comparable step by step
      const grad = (scale: number) => (p: tf.Tensor[]) => p.map((x) => tf.mul(tf.sub(x, 0.1), 2 * scale));
      const t1 = dogChain({ reps_rel: 1e-3, lr: 1, weight_decay: 0, eps: 1e-12 }, granularity);
      const t2 = dogChain({ reps_rel: 1e-3, lr: 1, weight_decay: 0, eps: 1e-12 }, granularity);
      const a = run(t1, x0, grad(1), 8);
      const b = run(t2, x0, grad(1000), 8);
      a.history.forEach((params, s) => params.forEach((v, i) => v.forEach((x, j) => assert.ok(Math.abs(x - b.history[s][i][j]) <= 1e-5 * Math.max(1, Math.abs(x)), `step ${s} p${i}[${j}] ${x} vs ${b.history[s][i][j]}`))));
      tf.dispose([...x0, a.state as tf.TensorContainer, b.state as tf.TensorContainer]);
    });
  }

  it('r̄ and G are nondecreasing, and r̄ becomes the largest distance travelled', () => {
    const x0 = [tf.tensor1d([3, -1, 2, 0.5])];
    const transform = scaleByDistanceOverGradients({ granularity: 'global', repsRel: 1e-2, epsilon: 1e-8, learningRate: constant(1) });
    const metas: ParamMeta[] = [{ name: 'p', shape: [4] }];
    let params: tf.Tensor[] = [tf.clone(x0[0])];
    let state = transform.init(metas);
    let lastR = -1;
    let lastG = -1;
    let farthest = 0;
    for (let step = 0; step < 20; step++) {
      // an oscillating gradient so that the distance from x₀ goes up and down
      const r = tidyStep(() => {
        const out = transform.update([tf.mul(tf.sub(params[0], step % 2 === 0 ? 1 : -1), 3)], state, { step, params, metas });
        return { next: [tf.sub(params[0], out.updates[0])], state: out.state };
      });
      const s = r.state as { rbar: tf.Scalar[]; rootSumSq: tf.Scalar[] };
      const rbar = s.rbar[0].dataSync()[0];
      const G = s.rootSumSq[0].dataSync()[0];
      assert.ok(rbar >= lastR && G >= lastG, `step ${step}: r̄ ${lastR} → ${rbar}, G ${lastG} → ${G}`);
      if (step > 0) assert.ok(rbar >= farthest * (1 - 1e-6), `r̄ ${rbar} < distance travelled ${farthest}`);
      lastR = rbar;
      lastG = G;
      farthest = Math.max(farthest, tf.tidy(() => tf.norm(tf.sub(r.next[0], x0[0]))).dataSync()[0]);
      tf.dispose(params);
      disposeReplaced(state, r.state);
      params = r.next;
      state = r.state;
    }
    tf.dispose([...params, ...x0, state as tf.TensorContainer]);
  });

  it('L-DoG equals DoG when there is a single parameter tensor', () => {
    const x0 = [tf.tensor2d([[0.5, -1, 4], [2, 0.3, -0.7]])];
    const grad = (p: tf.Tensor[]) => [tf.sin(tf.mul(p[0], 3))];
    const h = { reps_rel: 1e-2, lr: 1, weight_decay: 0.01, eps: 1e-8 };
    const a = run(dogChain(h, 'global'), x0, grad, 6);
    const b = run(dogChain(h, 'perTensor'), x0, grad, 6);
    assert.deepEqual(a.history, b.history);
    tf.dispose([...x0, a.state as tf.TensorContainer, b.state as tf.TensorContainer]);
  });

  it('initEta is the first step size itself, whatever the multiplier c', () => {
    const x0 = [tf.tensor1d([1, 2, 3])];
    const t = dogChain({ reps_rel: 1e-6, lr: 0.5, weight_decay: 0, eps: 1e-8, init_eta: 0.01 }, 'global');
    const { history, state } = run(t, x0, () => [tf.tensor1d([1, -1, 2])], 1);
    assert.deepEqual(Array.from(history[0][0]).map((v) => Number(v.toFixed(6))), [0.99, 2.01, 2.98]);
    tf.dispose([...x0, state as tf.TensorContainer]);
  });

  it("DoWG reproduces optax's doctest: f = ‖x‖² from [1, 2, 3] gives 13.925367, 13.872763, 13.775433, 13.596172, 13.268837", () => {
    const x0 = [tf.tensor1d([1, 2, 3])];
    const t = chain(scaleByDowg({ epsilon: 1e-4 }), scaleByLearningRate(constant(1)));
    const { history, state } = run(t, x0, (p) => [tf.mul(p[0], 2)], 5);
    const f = history.map((p) => p[0].reduce((a, x) => a + x * x, 0));
    [13.925367, 13.872763, 13.775433, 13.596172, 13.268837].forEach((want, i) => assert.ok(Math.abs(f[i] - want) < 2e-5, `step ${i + 1}: f = ${f[i]}, optax ${want}`));
    tf.dispose([...x0, state as tf.TensorContainer]);
  });
});
