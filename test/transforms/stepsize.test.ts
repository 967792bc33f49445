/**
 * src/transforms/stepsize.ts: scaleByLearningRate (−η(step), the schedule read at ctx.step), scale,
 * and adaGradNormStep against a float64 re-implementation of AdaGO's step size (v² accumulation, the
 * clamp γ on ‖G‖, the floor ε/η, η = 0), its state layout with a stateful inner direction, and
 * allocations.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { assertClose, keysAt, nodeAt, tensorAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import { identity, type ParamMeta } from '../../src/core/transform.js';
import { adaGradNormStep, scale, scaleByLearningRate } from '../../src/transforms/stepsize.js';
import { emaMomentum } from '../../src/transforms/momentum.js';
import { constant, linear } from '../../src/schedules/index.js';

const metas: ParamMeta[] = [{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [3] }];

describe('scaleByLearningRate and scale', () => {
  before(() => useBackend('cpu'));

  it('multiplies by −η(step) with the schedule evaluated at the steps already applied', () => {
    const lr = linear({ init: 1, end: 0, steps: 4 }); // 1, 0.75, 0.5, 0.25, 0
    const { outs, state } = updatesOver(scaleByLearningRate(lr), metas, () => [[1, 2, 3, 4], [-1, 0, 8]], 5);
    assert.equal(state, null);
    outs.forEach((o, k) => {
      const eta = 1 - k / 4;
      assertClose(o[0], [1, 2, 3, 4].map((g) => -eta * g), 1e-7, `w step ${k}`);
      assertClose(o[1], [-1, 0, 8].map((g) => -eta * g), 1e-7, `b step ${k}`);
    });
  });

  it('scale(f) multiplies by f (no sign flip)', () => {
    const { outs } = updatesOver(scale(-2.5), metas, () => [[1, 2, 3, 4], [0.5, 0, -1]], 1);
    assertClose(outs[0][0], [-2.5, -5, -7.5, -10]);
    assertClose(outs[0][1], [-1.25, 0, 2.5]);
    const { outs: o2 } = updatesOver(scale(0.1), metas, () => [[1, 2, 3, 4], [10, 0, -1]], 1);
    assertClose(o2[0][1], [1, 0, -0.1]);
  });
});

/** AdaGO's step in float64: per parameter v² += min(‖G‖, γ)², α/η = max(floor, min(‖G‖, γ)/v). */
function adago64(grads: number[][][], o: { eta: (k: number) => number; gamma: number; epsilon: number; v0: number }) {
  const v2 = grads[0].map(() => o.v0 * o.v0);
  return grads.map((gs, k) =>
    gs.map((g, i) => {
      const c = Math.min(Math.hypot(...g), o.gamma);
      v2[i] += c * c;
      const eta = o.eta(k);
      const floor = eta > 0 ? o.epsilon / eta : o.epsilon;
      return Math.max(c / Math.sqrt(v2[i]), floor);
    }),
  );
}

describe('adaGradNormStep', () => {
  before(() => useBackend('cpu'));

  const gradOf = (k: number): number[][] => [
    [3 * (k + 1), -4, 0.5 * k, 1],
    [Math.sin(k), 0.1, -0.2 * k],
  ];

  it('state: { v2: [v₀² scalar per parameter], direction: <inner state> }', () => {
    const t = adaGradNormStep(emaMomentum({ beta: 0.9, nesterov: false }), { learningRate: constant(0.1), gamma: 10, epsilon: 5e-4, v0: 1e-3 });
    const s = t.init(metas);
    assert.deepEqual(keysAt(s), ['v2', 'direction']);
    const v2 = tensorListAt(s, 'v2');
    assert.deepEqual(v2.map((x) => x.shape), [[], []]);
    assertClose(v2.map((x) => x.dataSync()[0]), [1e-6, 1e-6], 1e-6);
    assert.deepEqual(keysAt(s, 'direction'), ['mu']);
    assert.deepEqual(tensorListAt(s, 'direction', 'mu').map((x) => x.shape), [[2, 2], [3]]);
    tf.dispose(tensorsOf(s));
  });

  it('6 steps with an identity direction: out = max(ε/η, min(‖G‖, γ)/v)·G, v² summed (float64), the clamp active', () => {
    // ‖G_w‖ = √(9(k+1)² + 17 + ¼k²) passes γ = 10 from k = 2 on; ‖G_b‖ stays below it
    const o = { eta: (k: number) => 0.1 * (1 + k), gamma: 10, epsilon: 5e-4, v0: 1e-6 };
    const lr = linear({ init: 0.1, end: 0.7, steps: 6 });
    const steps = 6;
    const { outs, state } = updatesOver(adaGradNormStep(identity(), { learningRate: lr, gamma: o.gamma, epsilon: o.epsilon, v0: o.v0 }), metas, gradOf, steps);
    const grads = Array.from({ length: steps }, (_, k) => gradOf(k));
    const alpha = adago64(grads, o);
    outs.forEach((step, k) => step.forEach((u, i) => assertClose(u, grads[k][i].map((g) => alpha[k][i] * g), 2e-6, `step ${k} param ${i}`)));
    // v² after the last step: v₀² + Σ min(‖G‖, γ)²
    grads[0].forEach((_, i) => {
      const want = o.v0 ** 2 + grads.reduce((s, gs) => s + Math.min(Math.hypot(...gs[i]), o.gamma) ** 2, 0);
      assertClose(tensorAt(state, 'v2', i).dataSync(), [want], 1e-6, `v2[${i}]`);
    });
    assert.equal(nodeAt(state, 'direction'), null);
    tf.dispose(tensorsOf(state));
  });

  it('hand values: the first step is ≈ 1·G (v = ‖G‖), the clamp gives γ/‖·‖ on a huge G, the floor ε/η binds for a tiny G', () => {
    const one: ParamMeta[] = [{ name: 'x', shape: [2] }];
    const run = (g: number[], opts: { gamma: number; v0: number; eta: number }) =>
      updatesOver(adaGradNormStep(identity(), { learningRate: constant(opts.eta), gamma: opts.gamma, epsilon: 5e-4, v0: opts.v0 }), one, () => [g], 2);
    // ‖G‖ = 5 < γ: step 1 α/η = 5/√(v₀² + 25) ≈ 1; step 2 = 5/√50 = 1/√2
    let r = run([3, 4], { gamma: 10, v0: 1e-6, eta: 0.1 });
    assertClose(r.outs[0][0], [3, 4], 1e-6);
    assertClose(r.outs[1][0], [3 / Math.SQRT2, 4 / Math.SQRT2], 1e-6);
    tf.dispose(tensorsOf(r.state));
    // ‖G‖ = 500 > γ = 10: c = 10, step 1 α/η = 10/√(v₀² + 100) ≈ 1 — the clamp keeps the norm of G out of α
    r = run([300, 400], { gamma: 10, v0: 1e-6, eta: 0.1 });
    assertClose(r.outs[0][0], [300, 400], 1e-6);
    assertClose(r.outs[1][0], [300 / Math.SQRT2, 400 / Math.SQRT2], 1e-6);
    tf.dispose(tensorsOf(r.state));
    // v₀ = 1e3 ≫ ‖G‖ = 5e-3: c/v ≈ 5e-6 < ε/η = 5e-4/0.01 = 0.05 → α/η = 0.05
    // (compared as α/η = out/G: the outputs are ~1e-4, below assertClose's absolute floor)
    const ratio = (out: Float32Array, g: number[]) => Array.from(out, (v, i) => v / g[i]);
    r = run([3e-3, 4e-3], { gamma: 10, v0: 1e3, eta: 0.01 });
    assertClose(ratio(r.outs[0][0], [3e-3, 4e-3]), [0.05, 0.05], 1e-7);
    tf.dispose(tensorsOf(r.state));
    // η = 0: the floor is ε itself (α/η would be infinite)
    r = run([3e-3, 4e-3], { gamma: 10, v0: 1e3, eta: 0 });
    assertClose(ratio(r.outs[0][0], [3e-3, 4e-3]), [5e-4, 5e-4], 1e-9);
    tf.dispose(tensorsOf(r.state));
  });

  it('the norm is of the incoming G, the direction the inner transform makes of it (momentum here)', () => {
    const one: ParamMeta[] = [{ name: 'x', shape: [2] }];
    const t = adaGradNormStep(emaMomentum({ beta: 0.5, nesterov: false }), { learningRate: constant(1), gamma: 100, epsilon: 1e-9, v0: 1e-9 });
    const { outs, state } = updatesOver(t, one, (k) => [k === 0 ? [3, 4] : [6, 8]], 2);
    // step 1: D = 0.5·G = [1.5, 2], α = 5/5 = 1; step 2: D = 0.5·[1.5, 2] + 0.5·[6, 8] = [3.75, 5], α = 10/√125
    assertClose(outs[0][0], [1.5, 2], 1e-6);
    const a2 = 10 / Math.sqrt(125);
    assertClose(outs[1][0], [3.75 * a2, 5 * a2], 1e-6);
    assertClose(tensorListAt(state, 'direction', 'mu')[0].dataSync(), [3.75, 5], 1e-6);
    tf.dispose(tensorsOf(state));
  });

  it('allocates in a tidy only the outputs, the new v² scalars and the inner state', () => {
    const t = adaGradNormStep(identity(), { learningRate: constant(0.1), gamma: 10, epsilon: 5e-4, v0: 1e-6 });
    const s0 = t.init(metas);
    const params = metas.map((m) => tf.zeros([...m.shape]));
    const before = tf.memory().numTensors;
    const kept = tf.tidy(() => {
      const r = t.update([tf.ones([2, 2]), tf.ones([3])], s0, { step: 0, params, metas });
      return [...r.updates, ...tensorsOf(r.state)];
    });
    assert.equal(kept.length, 4);
    assert.equal(tf.memory().numTensors - before, 4);
    tf.dispose([...kept, ...params, ...tensorsOf(s0)]);
  });
});
