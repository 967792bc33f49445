/**
 * src/transforms/root.ts: quantilePosition (float32 index as torch.tensor(q·(n−1)), its RangeErrors),
 * absQuantile against a float64 sort-and-lerp, clipAtQuantile as the clip of U to [−τ, τ], and ROOT's
 * auxiliary Adam (ε on the uncorrected √v) against float64 over several steps, with state layout.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { assertClose, keysAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { absQuantile, clipAtQuantile, quantilePosition, scaleByAdamUncorrectedEpsilon } from '../../src/transforms/root.js';

/** The q-quantile of |x| in float64: sorted ascending, lerp between the floor/ceil order statistics. */
function quantile64(x: ArrayLike<number>, q: number): number {
  const s = Array.from(x, Math.abs).sort((a, b) => a - b);
  const { lower, upper, weight } = quantilePosition(s.length, q);
  return s[lower] + weight * (s[upper] - s[lower]);
}

describe('quantilePosition', () => {
  it('index q·(n−1) in float32, floor/ceil neighbours and the float32 weight', () => {
    assert.deepEqual(quantilePosition(11, 0.9), { lower: 9, upper: 9, weight: 0 });
    assert.deepEqual(quantilePosition(1, 0.5), { lower: 0, upper: 0, weight: 0 });
    const p = quantilePosition(5, 0.9); // 3.6 → float32 3.5999999
    assert.equal(p.lower, 3);
    assert.equal(p.upper, 4);
    assert.equal(p.weight, Math.fround(Math.fround(3.6) - 3));
    assert.ok(Math.abs(p.weight - 0.6) < 1e-6 && p.weight !== 0.6);
    // n = 2²² + 1: q·(n−1) = 3774873.6 rounds to 3774873.5 in float32
    const big = quantilePosition(2 ** 22 + 1, 0.9);
    assert.deepEqual([big.lower, big.upper, big.weight], [3774873, 3774874, 0.5]);
    assert.deepEqual(quantilePosition(4, 0), { lower: 0, upper: 0, weight: 0 });
    assert.deepEqual(quantilePosition(4, 1), { lower: 3, upper: 3, weight: 0 });
  });

  it('refuses n that is not a positive integer and q outside [0, 1], naming the value', () => {
    assert.throws(() => quantilePosition(0, 0.5), (e: Error) => e instanceof RangeError && /n must be a positive integer, got 0/.test(e.message));
    assert.throws(() => quantilePosition(2.5, 0.5), RangeError);
    assert.throws(() => quantilePosition(4, 1.1), (e: Error) => e instanceof RangeError && /q must be in \[0, 1\], got 1.1/.test(e.message));
    assert.throws(() => quantilePosition(4, NaN), RangeError);
  });
});

describe('absQuantile and clipAtQuantile', () => {
  before(() => useBackend('cpu'));

  it('absQuantile equals the float64 quantile of |x| for several sizes, shapes and q (both lerp branches)', () => {
    for (const [shape, q] of [[[7], 0.9], [[4, 5], 0.9], [[3, 3, 2, 2], 0.3], [[10, 10], 0.55], [[1], 0.9], [[6, 2], 0]] as [number[], number][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = gaussian(n, n + Math.round(q * 100));
      const x = tf.tensor(v, shape);
      const got = absQuantile(x, q);
      assert.deepEqual(got.shape, []);
      assertClose(got.dataSync(), [quantile64(v, q)], 1e-6, `[${shape.join(', ')}] q ${q}`);
      tf.dispose([x, got]);
    }
  });

  it('hand value: |[1, −2, 3, −4, 5]| at q = 0.9 → index 3.6: 4 + 0.6·(5 − 4) = 4.6', () => {
    const x = tf.tensor1d([1, -2, 3, -4, 5]);
    const q = absQuantile(x, 0.9);
    assertClose(q.dataSync(), [4.6], 1e-6);
    tf.dispose([x, q]);
  });

  it('clipAtQuantile clips U to [−τ, τ] with τ = quantile + offset; entries inside pass bit for bit', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [5, 4] }, { name: 'b', shape: [5] }];
    const w = gaussian(20, 3);
    const b = [1, -2, 3, -4, 5];
    for (const [quantile, offset] of [[0.9, 1e-9], [0.5, 0.1]]) {
      const { outs, state } = updatesOver(clipAtQuantile({ quantile, offset }), metas, () => [w, b], 1);
      assert.equal(state, null);
      [w, b].forEach((u, i) => {
        const tau = quantile64(u, quantile) + offset;
        const got = outs[0][i];
        Array.from(u).forEach((x, j) => {
          if (Math.abs(x) <= tau * (1 - 1e-6)) assert.equal(got[j], Math.fround(x), `inside [${j}]`);
          else assertClose([got[j]], [Math.sign(x) * Math.min(Math.abs(x), tau)], 1e-6, `clipped [${j}]`);
        });
      });
    }
    // the hand case: τ = 4.6 + 0.1: only the 5 is clipped
    const { outs } = updatesOver(clipAtQuantile({ quantile: 0.9, offset: 0.1 }), [metas[1]], () => [b], 1);
    assertClose(outs[0][0], [1, -2, 3, -4, 4.7], 1e-6);
  });

  it('an all-zero U stays zero (τ = offset), and a zero-size parameter passes', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [3, 3] }, { name: 'e', shape: [0, 4] }];
    const { outs } = updatesOver(clipAtQuantile({ quantile: 0.9, offset: 1e-9 }), metas, () => [new Float32Array(9), new Float32Array(0)], 1);
    assert.deepEqual(Array.from(outs[0][0]), new Array<number>(9).fill(0));
    assert.equal(outs[0][1].length, 0);
  });
});

describe('scaleByAdamUncorrectedEpsilon (ROOT auxiliary Adam)', () => {
  before(() => useBackend('cpu'));

  const metas: ParamMeta[] = [{ name: 'w', shape: [2, 3] }];
  const gradOf = (k: number): number[][] => [[1 + k, -0.5, 2 * Math.cos(k), 1e-4 * (k + 1), -3 / (k + 1), 0.25]];

  it('state { mu, nu } of zeros; 5 steps match float64 √(1−β₂ᵗ)/(1−β₁ᵗ)·m/(ε + √v)', () => {
    const o = { beta1: 0.9, beta2: 0.95, epsilon: 1e-3 };
    const t = scaleByAdamUncorrectedEpsilon(o);
    const s0 = t.init(metas);
    assert.deepEqual(keysAt(s0), ['mu', 'nu']);
    assert.deepEqual(tensorListAt(s0, 'mu').map((x) => x.shape), [[2, 3]]);
    tf.dispose(tensorsOf(s0));
    const steps = 5;
    const { outs, state } = updatesOver(t, metas, gradOf, steps);
    const m = new Array<number>(6).fill(0);
    const v = new Array<number>(6).fill(0);
    for (let k = 0; k < steps; k++) {
      const tt = k + 1;
      const want = gradOf(k)[0].map((g, i) => {
        m[i] += (1 - o.beta1) * (g - m[i]);
        v[i] += (1 - o.beta2) * (g * g - v[i]);
        return ((Math.sqrt(1 - o.beta2 ** tt) / (1 - o.beta1 ** tt)) * m[i]) / (o.epsilon + Math.sqrt(v[i]));
      });
      assertClose(outs[k][0], want, 2e-6, `step ${k}`);
      // the same as torch's Adam with the effective ε/√(1−β₂ᵗ)
      const mh = m.map((x) => x / (1 - o.beta1 ** tt));
      const vh = v.map((x) => x / (1 - o.beta2 ** tt));
      assertClose(outs[k][0], mh.map((x, i) => x / (Math.sqrt(vh[i]) + o.epsilon / Math.sqrt(1 - o.beta2 ** tt))), 2e-6, `step ${k} torch form`);
    }
    assertClose(tensorListAt(state, 'mu')[0].dataSync(), m, 1e-6, 'mu');
    assertClose(tensorListAt(state, 'nu')[0].dataSync(), v, 1e-6, 'nu');
    tf.dispose(tensorsOf(state));
  });

  it('differs from torch Adam (ε after the correction) at step 1 by the factor in ε: g/(|g| + ε/√(1−β₂))', () => {
    const one: ParamMeta[] = [{ name: 'x', shape: [1] }];
    const o = { beta1: 0.9, beta2: 0.99, epsilon: 0.01 };
    const { outs, state } = updatesOver(scaleByAdamUncorrectedEpsilon(o), one, () => [[0.1]], 1);
    // effective ε = 0.01/√0.01 = 0.1: 0.1/(0.1 + 0.1) = 0.5, where torch Adam gives 0.1/0.11
    assertClose(outs[0][0], [0.5], 1e-6);
    tf.dispose(tensorsOf(state));
  });
});
