/**
 * src/transforms/adam.ts: scaleByAdam against a float64 re-implementation of torch's Adam after k steps
 * (bias correction, ε after it, AMSGrad's running maximum), hand values, state layout, saturation of a
 * huge gradient and allocations.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { assertClose, keysAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { scaleByAdam } from '../../src/transforms/adam.js';
import { FLOAT32_MAX } from '../../src/linalg/scale.js';

const metas: ParamMeta[] = [{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [3] }];
/** Gradients of step k: distinct per entry, shrinking after step 2 for some entries (so AMSGrad's max matters). */
const gradOf = (k: number): number[][] => [
  [1 + k, -2 / (1 + k * k), 0.5 * Math.cos(k), 3 * (k < 2 ? 1 : 0.1)],
  [Math.sin(k + 1), -0.01 * (k + 1), 4 / (k + 1)],
];

/** torch 1.13 `_single_tensor_adam` in float64, for one flat parameter. */
function adam64(steps: number, param: number, o: { beta1: number; beta2: number; epsilon: number; amsgrad: boolean }) {
  const n = gradOf(0)[param].length;
  const m = new Array<number>(n).fill(0);
  const v = new Array<number>(n).fill(0);
  const vMax = new Array<number>(n).fill(0);
  const outs: number[][] = [];
  for (let k = 0; k < steps; k++) {
    const g = gradOf(k)[param];
    const t = k + 1;
    outs.push(
      g.map((gi, i) => {
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
        vMax[i] = Math.max(vMax[i], v[i]);
        const denom = Math.sqrt(o.amsgrad ? vMax[i] : v[i]) / Math.sqrt(1 - o.beta2 ** t) + o.epsilon;
        return m[i] / (1 - o.beta1 ** t) / denom;
      }),
    );
  }
  return { outs, m, v, vMax };
}

describe('scaleByAdam', () => {
  before(() => useBackend('cpu'));

  it('state: { mu, nu } of zeros in parameter shapes; AMSGrad adds nuMax', () => {
    for (const amsgrad of [false, true]) {
      const s = scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad }).init(metas);
      assert.deepEqual(keysAt(s), amsgrad ? ['mu', 'nu', 'nuMax'] : ['mu', 'nu']);
      for (const slot of keysAt(s)) {
        const ts = tensorListAt(s, slot);
        assert.deepEqual(ts.map((x) => x.shape), [[2, 2], [3]]);
        assert.ok(ts.every((x) => Array.from(x.dataSync()).every((v) => v === 0)));
      }
      tf.dispose(tensorsOf(s));
    }
  });

  for (const o of [
    { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false },
    { beta1: 0.5, beta2: 0.9, epsilon: 1e-3, amsgrad: false },
    { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, amsgrad: true },
  ]) {
    it(`6 steps match float64 torch Adam (β₁ ${o.beta1}, β₂ ${o.beta2}, ε ${o.epsilon}, amsgrad ${o.amsgrad}), moments too`, () => {
      const steps = 6;
      const { outs, state } = updatesOver(scaleByAdam(o), metas, gradOf, steps);
      for (let p = 0; p < metas.length; p++) {
        const ref = adam64(steps, p, o);
        ref.outs.forEach((want, k) => assertClose(outs[k][p], want, 2e-6, `step ${k} param ${p}`));
        assertClose(tensorListAt(state, 'mu')[p].dataSync(), ref.m, 1e-6, 'mu');
        assertClose(tensorListAt(state, 'nu')[p].dataSync(), ref.v, 1e-6, 'nu');
        if (o.amsgrad) assertClose(tensorListAt(state, 'nuMax')[p].dataSync(), ref.vMax, 1e-6, 'nuMax');
      }
      tf.dispose(tensorsOf(state));
    });
  }

  it('AMSGrad differs from Adam once the gradient shrinks (the running max of v is used)', () => {
    const o = { beta1: 0.9, beta2: 0.5, epsilon: 1e-8 };
    const plain = updatesOver(scaleByAdam({ ...o, amsgrad: false }), metas, gradOf, 4);
    const ams = updatesOver(scaleByAdam({ ...o, amsgrad: true }), metas, gradOf, 4);
    // entry 3 of w: g = 3, 3, 0.3, 0.3 → with β₂ 0.5 v drops ~4× at step 3, so the AMSGrad step is much smaller
    assert.equal(ams.outs[0][0][3], plain.outs[0][0][3]);
    assert.ok(Math.abs(ams.outs[3][0][3]) < Math.abs(plain.outs[3][0][3]) * 0.9, `${ams.outs[3][0][3]} vs ${plain.outs[3][0][3]}`);
    tf.dispose([...tensorsOf(plain.state), ...tensorsOf(ams.state)]);
  });

  it('bias correction by hand: a constant gradient g gives g/(|g| + ε) at every step k (m̂ = g, v̂ = g²)', () => {
    const one: ParamMeta[] = [{ name: 'x', shape: [3] }];
    const g = [2, -0.5, 1e-8];
    const eps = 1e-8;
    const { outs, state } = updatesOver(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: eps, amsgrad: false }), one, () => [g], 10);
    const want = g.map((x) => x / (Math.abs(x) + eps)); // [≈1, ≈−1, 0.5]: ε is added after the correction
    outs.forEach((o, k) => assertClose(o[0], want, 1e-5, `step ${k}`));
    // uncorrected, step 1 would be (1−β₁)g/(√(1−β₂)|g| + ε) ≈ 3.16·sign(g): far from 1
    assert.ok(Math.abs(outs[0][0][0] - 1) < 1e-5);
    tf.dispose(tensorsOf(state));
  });

  it('a gradient of 1e20 saturates v at float32 max instead of Inf: finite output', () => {
    const one: ParamMeta[] = [{ name: 'x', shape: [2] }];
    const { outs, state } = updatesOver(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: true }), one, () => [[1e20, -1]], 2);
    assert.equal(tensorListAt(state, 'nu')[0].dataSync()[0], Math.fround(FLOAT32_MAX));
    for (const o of outs) assert.ok(o[0].every((v) => Number.isFinite(v)), Array.from(o[0]).join(', '));
    tf.dispose(tensorsOf(state));
  });

  it('allocates in a tidy only the outputs and the new moments (mu, nu[, nuMax]) per parameter', () => {
    for (const amsgrad of [false, true]) {
      const t = scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad });
      const s0 = t.init(metas);
      const params = metas.map((m) => tf.zeros([...m.shape]));
      const before = tf.memory().numTensors;
      const kept = tf.tidy(() => {
        const r = t.update([tf.ones([2, 2]), tf.ones([3])], s0, { step: 0, params, metas });
        return [...r.updates, ...tensorsOf(r.state)];
      });
      assert.equal(kept.length, amsgrad ? 8 : 6);
      assert.equal(tf.memory().numTensors - before, kept.length);
      tf.dispose([...kept, ...params, ...tensorsOf(s0)]);
    }
  });
});
