/**
 * Cautious masking (src/transforms/cautious.ts): hand-derived values, the never-uphill property on
 * random inputs, the inner state carried, and cautious weight decay's mask.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { stateless, type GradientTransformation, type ParamMeta } from '../../src/core/transform.js';
import { addCautiousDecayedWeights, cautious } from '../../src/transforms/cautious.js';
import { emaMomentum } from '../../src/transforms/momentum.js';

const metas: ParamMeta[] = [{ name: 'w', shape: [4] }];
const fixed = (u: number[]) => stateless(() => tf.tensor1d(u));

function close(got: ArrayLike<number>, want: number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)), `[${i}] ${got[i]} vs ${w}`));
}

describe('cautious', () => {
  before(() => useBackend('cpu'));

  it('keeps the coordinates where u·g > 0 and rescales by n/(Σφ + ε): ε = 1 (the paper) and ε = 1e-8 (optax)', () => {
    const g = tf.tensor1d([1, -2, 3, -4]);
    const p = tf.zeros([4]);
    // u·g = 1, −4, −9, 16 → φ = [1, 0, 0, 1], n = 4
    for (const [epsilon, scale] of [[1, 4 / 3], [1e-8, 2]] as const) {
      const t = cautious(fixed([1, 2, -3, -4]), { epsilon });
      const r = t.update([g], t.init(metas), { step: 0, params: [p], metas });
      close(r.updates[0].dataSync(), [1 * scale, 0, 0, -4 * scale]);
      tf.dispose(r.updates);
    }
    // the default is the paper's ε = 1
    const r = cautious(fixed([1, 2, -3, -4])).update([g], null, { step: 0, params: [p], metas });
    close(r.updates[0].dataSync(), [4 / 3, 0, 0, -16 / 3]);
    tf.dispose([g, p, ...r.updates]);
  });

  it('never points uphill: ⟨output, g⟩ ≥ 0 on random directions, and all-agreeing directions pass unchanged (ε → 0)', () => {
    const p = tf.zeros([64]);
    const m: ParamMeta[] = [{ name: 'w', shape: [64] }];
    for (let seed = 0; seed < 10; seed++) {
      const g = tf.randomNormal([64], 0, 1, 'float32', seed);
      const u = tf.randomNormal([64], 0, 1, 'float32', seed + 100);
      const r = cautious(stateless(() => u)).update([g], null, { step: 0, params: [p], metas: m });
      const inner = tf.sum(tf.mul(r.updates[0], g)).dataSync()[0];
      const before = tf.sum(tf.mul(u, g)).dataSync()[0];
      assert.ok(inner >= 0, `seed ${seed}: ⟨ũ, g⟩ = ${inner} (⟨u, g⟩ = ${before})`);
      const same = cautious(stateless(() => tf.mul(g, 3)), { epsilon: 1e-12 }).update([g], null, { step: 0, params: [p], metas: m });
      close(same.updates[0].dataSync(), Array.from(tf.mul(g, 3).dataSync()), 1e-6);
      tf.dispose([g, u, ...r.updates, ...same.updates]);
    }
    p.dispose();
  });

  it('carries the inner transform state (EMA momentum) and leaves no tensor behind', () => {
    const p = tf.zeros([4]);
    const g1 = tf.tensor1d([1, 1, 1, 1]);
    const g2 = tf.tensor1d([-3, 1, 1, -1]);
    const before = tf.memory().numTensors;
    const two = (t: GradientTransformation) =>
      tf.tidy(() => {
        const a = t.update([g1], t.init(metas), { step: 0, params: [p], metas });
        const b = t.update([g2], a.state, { step: 1, params: [p], metas });
        return { u: b.updates[0], mu: (b.state as { mu: tf.Tensor[] }).mu[0] };
      });
    const masked = two(cautious(emaMomentum({ beta: 0.5, nesterov: false }), { epsilon: 1e-8 }));
    const plain = two(emaMomentum({ beta: 0.5, nesterov: false }));
    // the EMA itself is not masked: mu = 0.5·(0.5·g1) + 0.5·g2
    close(masked.mu.dataSync(), [-1.25, 0.75, 0.75, -0.25]);
    close(plain.mu.dataSync(), [-1.25, 0.75, 0.75, -0.25]);
    // u = mu agrees with g2 on every coordinate here (u·g2 = 3.75, 0.75, 0.75, 0.25 > 0): passed unchanged
    close(masked.u.dataSync(), [-1.25, 0.75, 0.75, -0.25]);
    tf.dispose([masked.u, masked.mu, plain.u, plain.mu]);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([p, g1, g2]);
  });
});

describe('addCautiousDecayedWeights', () => {
  before(() => useBackend('cpu'));

  it('adds λ·W only where the update and the weight share a sign (u·W ≥ 0)', () => {
    const u = tf.tensor1d([1, -1, 1, 0]);
    const p = tf.tensor1d([2, 3, -1, -5]);
    // u·W = 2, −3, −1, 0 → decay on coordinates 0 and 3
    const r = addCautiousDecayedWeights(0.1).update([u], null, { step: 0, params: [p], metas });
    close(r.updates[0].dataSync(), [1.2, -1, 1, -0.5]);
    const none = addCautiousDecayedWeights(0).update([u], null, { step: 0, params: [p], metas });
    close(none.updates[0].dataSync(), [1, -1, 1, 0]);
    tf.dispose([u, p, ...r.updates, ...none.updates]);
  });
});
