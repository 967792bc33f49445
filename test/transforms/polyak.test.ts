/**
 * Polyak step sizes (src/transforms/polyak.ts) and their recipes alrSmag / polyakSgd as pure transforms,
 * against the spec's properties (../shared/specs/seed-methods.md B2): β = 0 on f = ‖x‖² halves x each
 * step (f = 14 → 3.5 → 0.875 → 0.21875, optax's `polyak_sgd` doctest); loss-scale invariance while the
 * cap is inactive; τ ≤ γ_max always; τ = 0 at f = f_lb; and ALR-SMAG (β = 0.9, weight decay) against a
 * float64 loop of fabian-sp/step-back's `AlrSmag.step` for 5 steps. Also: the loss reaches transforms
 * through chain, partition and the wrappers, which declare `needsLoss`.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, disposeReplaced, tensorsOf, tidyStep } from '../support/transforms.js';
import {
  chain,
  identity,
  LossRequiredError,
  partition,
  type GradientTransformation,
  type ParamMeta,
  type StateTree,
} from '../../src/core/transform.js';
import { polyakMomentumStepSize, polyakStepSize, squaredGlobalNorm } from '../../src/transforms/polyak.js';
import { accumulate, averageIterates, lookahead, polynomialDecayWeight } from '../../src/transforms/wrappers.js';
import { cautious } from '../../src/transforms/cautious.js';
import { adaGradNormStep, scaleByLearningRate } from '../../src/transforms/stepsize.js';
import { alrSmagTransform, polyakSgdTransform } from '../../src/optimizers/polyak.js';
import { constant, linear } from '../../src/schedules/index.js';

/** A loss and its gradient at float32 parameters (row-major values per parameter). */
type Objective = (params: Float32Array[]) => { loss: number; grads: Float32Array[] };

/**
 * Runs `t` as the optimizer adapter does, with the loss in the context: each step in a tidy, params +=
 * updates, the replaced state disposed. `objective` gives the loss and gradients at the current params
 * (scaled by `lossScale`). Returns the params after each step and the losses seen.
 */
function runWithLoss(t: GradientTransformation, x0: Float32Array[], shapes: number[][], objective: Objective, steps: number, lossScale = 1) {
  const metas: ParamMeta[] = shapes.map((shape, i) => ({ name: `p${i}`, shape }));
  let params = x0.map((x, i) => tf.tensor(x, shapes[i]));
  let state: StateTree = t.init(metas);
  const history: Float32Array[][] = [];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { loss, grads } = objective(params.map((p) => p.dataSync() as Float32Array));
    losses.push(loss);
    const r = tidyStep(() => {
      const g = grads.map((v, i) => tf.mul(tf.tensor(v, shapes[i]), lossScale));
      const out = t.update(g, state, { step, params, metas, loss: tf.mul(tf.scalar(loss), lossScale) as tf.Scalar });
      return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
    });
    tf.dispose(params);
    disposeReplaced(state, r.state);
    params = r.next;
    state = r.state;
    history.push(params.map((p) => p.dataSync() as Float32Array));
  }
  tf.dispose(params);
  tf.dispose(tensorsOf(state));
  return { history, losses };
}

/** f = ‖x‖², ∇f = 2x (in float32, as the tensors hold it). */
const squaredNorm: Objective = ([x]) => ({
  loss: x.reduce((s, v) => s + v * v, 0),
  grads: [Float32Array.from(x, (v) => 2 * v)],
});

/** One update of `t` at params `params` for gradients `grads` and loss `loss`, as float64 arrays. */
function oneUpdate(t: GradientTransformation, shapes: number[][], grads: number[][], loss: number | undefined, params?: number[][]): number[][] {
  const metas: ParamMeta[] = shapes.map((shape, i) => ({ name: `p${i}`, shape }));
  const state = t.init(metas);
  const out = tf.tidy(() => {
    const p = shapes.map((s, i) => (params ? tf.tensor(params[i], s) : tf.zeros(s)));
    const r = t.update(grads.map((g, i) => tf.tensor(g, shapes[i])), state, loss === undefined ? { step: 0, params: p, metas } : { step: 0, params: p, metas, loss });
    return r.updates.map((u) => Array.from(u.dataSync()));
  });
  tf.dispose(tensorsOf(state));
  return out;
}

describe('Polyak step sizes (transforms)', () => {
  before(() => useBackend('cpu'));

  it('β = 0 on f = ‖x‖² from [1, 2, 3] halves x each step: f = 14 → 3.5 → 0.875 → 0.21875 → 0.0546875 (alrSmag, polyakSgd)', () => {
    for (const [what, t] of [
      ['alrSmag β = 0, γ_max = 0.25', alrSmagTransform({ momentum: 0, learningRate: 0.25 })],
      ['alrSmag β = 0, γ_max = 10', alrSmagTransform({ momentum: 0, learningRate: 10 })],
      ['polyakSgd (optax defaults)', polyakSgdTransform()],
    ] as const) {
      const before = tf.memory().numTensors;
      const { history, losses } = runWithLoss(t, [Float32Array.of(1, 2, 3)], [[3]], squaredNorm, 5);
      // τ = f/‖2x‖² = 1/4 exactly; the values are powers of two times [1, 2, 3], exact in float32
      assert.deepEqual(losses, [14, 3.5, 0.875, 0.21875, 0.0546875], what);
      history.forEach((x, k) => assert.deepEqual(Array.from(x[0]), [1, 2, 3].map((v) => v / 2 ** (k + 1)), `${what} step ${k}`));
      assert.equal(tf.memory().numTensors, before, `${what}: tensors left behind`);
    }
  });

  it('the default γ_max = 0.1 of alrSmag caps τ below 1/4 on f = ‖x‖²: x ← 0.8·x (β = 0)', () => {
    const { history } = runWithLoss(alrSmagTransform({ momentum: 0 }), [Float32Array.of(1, 2, 3)], [[3]], squaredNorm, 2);
    assertClose(history[0][0], [0.8, 1.6, 2.4], 1e-7, 'step 1');
    assertClose(history[1][0], [0.64, 1.28, 1.92], 1e-7, 'step 2');
  });

  it('ALR-SMAG with β = 0.9, λ = 0.05, c = 1.5, f_lb = 0.1 matches a float64 loop of AlrSmag.step for 5 steps (cap active and inactive)', () => {
    const shapes = [[2, 3], [3]];
    const w = [[1, 2, 0.5, 1.5, 3, 0.8], [2.5, 1, 0.4]];
    const target = [[0.3, -0.2, 0.1, 0.5, -0.4, 0.2], [0.1, -0.3, 0.6]];
    const offset = 0.4;
    // f = ½Σ wᵢ(θᵢ − tᵢ)² + offset, ∇f = w⊙(θ − t)
    const f64 = (theta: number[][]) => ({
      loss: theta.reduce((s, th, p) => s + th.reduce((a, v, i) => a + 0.5 * w[p][i] * (v - target[p][i]) ** 2, 0), 0) + offset,
      grads: theta.map((th, p) => th.map((v, i) => w[p][i] * (v - target[p][i]))),
    });
    const objective: Objective = (params) => {
      const r = f64(params.map((x) => Array.from(x)));
      return { loss: r.loss, grads: r.grads.map((g) => Float32Array.from(g)) };
    };
    const x0 = [Float32Array.from(gaussian(6, 5)), Float32Array.from(gaussian(3, 6))];
    const h = { lr: 0.1, beta: 0.9, lb: 0.1, c: 1.5, weight_decay: 0.05 };
    // the reference's step in float64: d ← βd + g; τ = min(lr, (f − lb)/(c‖d‖²)); θ ← θ(1 − λτ) − τd
    let theta = x0.map((x) => Array.from(x));
    let d = theta.map((th) => th.map(() => 0));
    const want: number[][][] = [];
    const capped: boolean[] = [];
    for (let k = 0; k < 5; k++) {
      const { loss, grads } = f64(theta);
      d = d.map((dp, p) => dp.map((v, i) => h.beta * v + grads[p][i]));
      const norm2 = d.flat().reduce((s, v) => s + v * v, 0);
      const raw = (loss - h.lb) / (h.c * norm2);
      capped.push(raw > h.lr);
      const tau = Math.min(h.lr, raw);
      theta = theta.map((th, p) => th.map((v, i) => v * (1 - h.weight_decay * tau) - tau * d[p][i]));
      want.push(theta);
    }
    assert.ok(capped.includes(true) && capped.includes(false), `the problem must exercise both branches, got ${capped.join(', ')}`);
    const t = alrSmagTransform({ learningRate: h.lr, momentum: h.beta, lowerBound: h.lb, c: h.c, weightDecay: h.weight_decay });
    const { history } = runWithLoss(t, x0, shapes, objective, 5);
    history.forEach((params, k) => params.forEach((x, p) => assertClose(x, want[k][p], 2e-6, `step ${k + 1} param ${p}`)));
  });

  it('loss-scale invariance: f, f_lb and the gradients times a = 2¹⁰ or 2⁻⁶ give the same trajectory while the cap is inactive (bit for bit)', () => {
    const shapes = [[3, 2], [2]];
    const x0 = [Float32Array.from(gaussian(6, 11)), Float32Array.from(gaussian(2, 12))];
    // f = Σ θᵢ⁴/4 + 1: not quadratic, so τ changes from step to step
    const objective: Objective = (params) => ({
      loss: params.reduce((s, x) => s + x.reduce((a, v) => a + v ** 4 / 4, 0), 0) + 1,
      grads: params.map((x) => Float32Array.from(x, (v) => v ** 3)),
    });
    const cases: [string, (a: number) => GradientTransformation][] = [
      ['alrSmag β = 0.9', (a) => alrSmagTransform({ learningRate: 1e6, momentum: 0.9, lowerBound: 0.5 * a })],
      ['polyakSgd', (a) => polyakSgdTransform({ maxLearningRate: 1e6, fMin: 0.5 * a })],
    ];
    for (const [what, make] of cases) {
      const base = runWithLoss(make(1), x0, shapes, objective, 5).history;
      for (const a of [2 ** 10, 2 ** -6]) {
        const scaled = runWithLoss(make(a), x0, shapes, objective, 5, a).history;
        base.forEach((params, k) => params.forEach((x, p) => assert.deepEqual(scaled[k][p], x, `${what}, a = ${a}, step ${k + 1}`)));
      }
      // with the cap active (γ_max below the Polyak step) the scaled run moves differently
      const cappedBase = runWithLoss(alrSmagTransform({ learningRate: 1e-3, momentum: 0.9, lowerBound: 0.5 }), x0, shapes, objective, 2).history;
      const cappedScaled = runWithLoss(alrSmagTransform({ learningRate: 1e-3, momentum: 0.9, lowerBound: 0.5 * 1024 }), x0, shapes, objective, 2, 1024).history;
      assert.notDeepEqual(cappedScaled[1][0], cappedBase[1][0]);
    }
  });

  it('τ ≤ γ_max and τ ≥ 0 always, and τ = min(γ_max, (f − f_lb)/(c‖d‖²)) in float64 (400 draws, tiny to huge gradients and losses)', () => {
    const shapes = [[4, 3], [5]];
    let seed = 100;
    let cappedSeen = 0;
    for (let k = 0; k < 400; k++) {
      const gScale = 10 ** (((k * 7) % 25) - 12);
      const loss = 10 ** (((k * 3) % 13) - 6) * (k % 5 === 0 ? -1 : 1);
      const grads = shapes.map((s) => Array.from(gaussian(s.reduce((a, b) => a * b, 1), seed++), (v) => Math.fround(v * gScale)));
      const gammaMax = [0.1, 1, 1e3][k % 3];
      const c = [1, 0.5, 4][k % 3];
      const lb = k % 7 === 0 ? Math.fround(loss) : 0;
      const t = polyakMomentumStepSize({ maxLearningRate: constant(gammaMax), lowerBound: lb, c, weightDecay: 0 });
      const out = oneUpdate(t, shapes, grads, loss);
      const g = grads.flat();
      const o = out.flat();
      const norm2 = g.reduce((s, v) => s + v * v, 0);
      const tau = o.reduce((s, v, i) => s + v * g[i], 0) / norm2;
      const raw = (Math.fround(loss) - lb) / (c * norm2);
      const want = Math.fround(loss) - lb <= 0 ? 0 : Math.min(gammaMax, raw);
      if (want === gammaMax) cappedSeen++;
      assert.ok(tau >= 0 && tau <= gammaMax * (1 + 1e-6), `draw ${k}: τ = ${tau}, γ_max ${gammaMax}`);
      assert.ok(Math.abs(tau - want) <= 1e-5 * want, `draw ${k}: τ = ${tau}, want ${want} (f ${loss}, ‖g‖² ${norm2})`);
    }
    assert.ok(cappedSeen > 50 && cappedSeen < 350, `both branches drawn (${cappedSeen} capped)`);
  });

  it('τ = 0 at f = f_lb and below: a zero update, weight decay included; with d = 0 and f > f_lb the update is 0 and finite', () => {
    const shapes = [[2, 2]];
    const g = [[0.5, -1, 2, 0.25]];
    const params = [[1, 2, 3, 4]];
    const t = polyakMomentumStepSize({ maxLearningRate: constant(0.1), lowerBound: 0.7, c: 1, weightDecay: 0.3 });
    const zero = (u: number[][]) => u.every((x) => x.every((v) => v === 0));
    for (const loss of [0.7, 0.2, -5]) assert.ok(zero(oneUpdate(t, shapes, g, loss, params)), `f = ${loss}`);
    // d = 0, f > f_lb: τ = γ_max (the reference's min(lr, inf)), so only the weight decay moves θ: τλθ
    assertClose(oneUpdate(t, shapes, [[0, 0, 0, 0]], 1, params)[0], [1, 2, 3, 4].map((v) => 0.1 * 0.3 * v), 1e-7, 'd = 0');
    // optax's guard: ‖g‖² + ε ≤ 2⁻⁵² gives step 0 (also at f = f*)
    const sps = polyakStepSize({ maxLearningRate: constant(1), fMin: 0, epsilon: 0, variant: 'sps' });
    assert.ok(zero(oneUpdate(sps, shapes, [[0, 0, 0, 0]], 3)));
    assert.ok(zero(oneUpdate(sps, shapes, [[1e-9, 0, 0, 0]], 3)), 'below the guard');
    assert.ok(!zero(oneUpdate(sps, shapes, [[1e-7, 0, 0, 0]], 3)), 'above the guard');
    assert.ok(zero(oneUpdate(sps, shapes, g, 0)), 'f = f*');
  });

  it("optax's two variants: 'sps' takes a negative step below f*, 'spsPlus' none; ε and the cap enter as in scale_by_polyak", () => {
    const shapes = [[4]];
    const g = [[1, 2, -2, 0]]; // ‖g‖² = 9
    const make = (variant: 'sps' | 'spsPlus', epsilon = 0, cap = 1) =>
      polyakStepSize({ maxLearningRate: constant(cap), fMin: 1, epsilon, variant });
    // f = 0.1 < f* = 1: step (0.1 − 1)/9 = −0.1
    assertClose(oneUpdate(make('sps'), shapes, g, 0.1)[0], [1, 2, -2, 0].map((v) => -0.1 * v), 1e-6, 'sps below f*');
    assert.ok(oneUpdate(make('spsPlus'), shapes, g, 0.1)[0].every((v) => v === 0), 'spsPlus below f*');
    // f = 10: (10 − 1)/(9 + 3) = 0.75 with ε = 3; capped at 0.5
    assertClose(oneUpdate(make('sps', 3), shapes, g, 10)[0], [0.75, 1.5, -1.5, 0], 1e-7, 'ε');
    assertClose(oneUpdate(make('spsPlus', 3, 0.5), shapes, g, 10)[0], [0.5, 1, -1, 0], 1e-7, 'cap');
    assert.equal(squaredGlobalNorm([tf.tensor(g[0]), tf.zeros([0, 3])]).dataSync()[0], 9);
  });

  it('γ_max may be a schedule: τ ≤ γ_max(step) at every step', () => {
    const t = alrSmagTransform({ learningRate: linear({ init: 0.2, end: 0.05, steps: 3 }), momentum: 0 });
    // f = ‖x‖²: the Polyak step is 1/4 > γ_max(k), so τ = γ_max(k) and x ← (1 − 2γ_max(k))·x
    const { history } = runWithLoss(t, [Float32Array.of(1, 2, 3)], [[3]], squaredNorm, 4);
    const factors = [0.2, 0.15, 0.1, 0.05].map((gm) => 1 - 2 * gm);
    let x = [1, 2, 3];
    history.forEach((got, k) => {
      x = x.map((v) => v * factors[k]);
      assertClose(got[0], x, 1e-6, `step ${k}`);
    });
  });

  it('a step without a loss throws LossRequiredError; chain, partition and the wrappers declare needsLoss and pass the loss on', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [2] }, { name: 'b', shape: [2] }];
    const step = polyakSgdTransform();
    // cautious and adaGradNormStep wrap a direction (descent when subtracted): the bare Polyak step
    const direction = polyakStepSize({ maxLearningRate: constant(1), fMin: 0, epsilon: 0, variant: 'sps' });
    const params = [tf.tensor1d([1, 2]), tf.tensor1d([3, 4])];
    const grads = [tf.tensor1d([1, 0]), tf.tensor1d([0, 1])];
    assert.throws(() => tf.tidy(() => void step.update(grads, step.init(metas), { step: 0, params, metas })), (e: unknown) =>
      e instanceof LossRequiredError && e.message.includes('needs the loss') && e.message.includes('applyGradients(grads, { loss })'),
    );
    const wrapped: [string, GradientTransformation][] = [
      ['chain', chain(identity(), step)],
      ['partition', partition({ polyak: step, rest: identity() }, (m) => (m.name === 'a' ? 'polyak' : 'rest'))],
      ['lookahead', lookahead(step, { k: 2, alpha: 0.5 })],
      ['averageIterates', averageIterates(step, polynomialDecayWeight(0))],
      ['cautious', cautious(direction)],
      ['adaGradNormStep', adaGradNormStep(direction, { learningRate: constant(1), gamma: 10, epsilon: 0, v0: 1 })],
      ['accumulate', accumulate(step, { every: 1 })],
    ];
    for (const [what, t] of wrapped) {
      assert.equal(t.needsLoss, true, what);
      const state = t.init(metas);
      // the loss reaches the Polyak step: (f − 0)/‖g‖² = 2/1 capped at 1 → the update is −g (partition: for 'a' only)
      const out = tf.tidy(() => t.update(grads, state, { step: 0, params, metas, loss: 2 }).updates.map((u) => Array.from(u.dataSync())));
      assert.ok(out[0][0] !== 0, `${what}: the loss did not reach the step (${JSON.stringify(out)})`);
      tf.dispose(tensorsOf(state));
    }
    for (const t of [chain(identity(), scaleByLearningRate(constant(1))), partition({ x: identity() }, () => 'x'), lookahead(identity(), { k: 2, alpha: 0.5 })]) {
      assert.equal(t.needsLoss, false);
    }
    tf.dispose([...params, ...grads]);
  });

  it('partition: a Polyak step routed to some parameters sees the loss and the norm of its own parameters only', () => {
    const metas: ParamMeta[] = [{ name: 'a', shape: [2] }, { name: 'b', shape: [2] }];
    const t = partition({ polyak: chain(polyakSgdTransform({ maxLearningRate: 10 })), rest: identity() }, (m) => (m.name === 'a' ? 'polyak' : 'rest'));
    const out = tf.tidy(() =>
      t.update([tf.tensor1d([3, 4]), tf.tensor1d([100, 100])], t.init(metas), { step: 0, params: [tf.zeros([2]), tf.zeros([2])], metas, loss: 5 })
        .updates.map((u) => Array.from(u.dataSync())),
    );
    // step 5/25 = 0.2 from ‖g_a‖² = 25 (b's gradient is not in the norm)
    assertClose(out[0], [-0.6, -0.8], 1e-7, 'a');
    assert.deepEqual(out[1], [100, 100]);
  });

  it('accumulate gives a loss-aware inner chain the mean loss of its group: one step on the larger batch', () => {
    const metas: ParamMeta[] = [{ name: 'x', shape: [3] }];
    const inner = polyakSgdTransform({ maxLearningRate: 10 });
    const acc = accumulate(inner, { every: 2 });
    let state = acc.init(metas);
    const params = [tf.tensor1d([0, 0, 0])];
    const g = [[1, 2, 2], [3, 0, 2]];
    const losses = [4, 8];
    let last: number[] = [];
    for (let k = 0; k < 2; k++) {
      const r = tf.tidy(() => {
        const out = acc.update([tf.tensor1d(g[k])], state, { step: k, params, metas, loss: tf.scalar(losses[k]) });
        last = Array.from(out.updates[0].dataSync());
        return out.state as unknown as tf.TensorContainer;
      }) as unknown as StateTree;
      disposeReplaced(state, r);
      state = r;
    }
    // mean g = [2, 1, 2] (‖·‖² = 9), mean loss 6: step 6/9, update −(2/3)·[2, 1, 2]
    assertClose(last, [-4 / 3, -2 / 3, -4 / 3], 1e-6, 'accumulated step');
    assert.equal(tensorsOf(state).length, 2, 'state: the gradient sum and the loss sum');
    tf.dispose([...params, ...tensorsOf(state)]);
  });
});
